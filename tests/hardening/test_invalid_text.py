"""Media whose header or tag text is not UTF-8 is refused at ingest: nothing is stored that playback can't serve."""

from __future__ import annotations

import pytest
import requests

from kvsmock import put_media
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample

START = 1_700_000_000


def _media(fragment_tags=None) -> bytes:
    encoded = encode_sample(3.0, 1.0, 25, 320, 240, "h264", False)
    return write_mkv(encoded.tracks, encoded.packets, start_ms=START * 1000, fragment_tags=fragment_tags)


def _put(kv, media: bytes, name: str) -> list[dict]:
    kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session())


@pytest.fixture(params=["in_process", "server"])
def kv(request):
    return request.getfixturevalue("kvs" if request.param == "in_process" else "kvs_server")


@pytest.mark.parametrize("element", [b"M\x80\x87kvsmock", b"WA\x87kvsmock"], ids=["MuxingApp", "WritingApp"])
def test_header_text_that_is_not_utf8_is_refused(kv, element):
    media = _media()
    at = media.index(element) + 3
    broken = media[:at] + b"kvs\x80ock" + media[at + 7 :]
    acks = _put(kv, broken, "bad-header")
    assert [a["EventType"] for a in acks] == ["ERROR"]
    assert (acks[0]["ErrorId"], acks[0]["ErrorCode"]) == (4006, "INVALID_MKV_DATA")
    assert kv.archived_media("bad-header").list_fragments(StreamName="bad-header")["Fragments"] == []


def test_a_later_tag_that_is_not_utf8_keeps_what_was_persisted_servable(kv):
    media = _media(fragment_tags=lambda i: [("ENCODER", "kvsmock") if i < 1 else ("ENCOXER", "kvsmock")])
    at = media.index(b"ENCOXER") + 4
    broken = media[:at] + b"\x80" + media[at + 1 :]
    acks = _put(kv, broken, "bad-tag")
    kinds = [a["EventType"] for a in acks]
    # Known-size Clusters are complete at their last byte: the second fragment was persisted before
    # the Tags after it arrived; the upload ends there and the third fragment is never stored.
    assert kinds.count("PERSISTED") == 2 and kinds[-1] == "ERROR", acks
    assert acks[-1]["ErrorId"] == 4006
    archive = kv.archived_media("bad-tag", "GET_CLIP")
    fragments = archive.list_fragments(StreamName="bad-tag")["Fragments"]
    assert len(fragments) == 2
    clip = archive.get_clip(
        StreamName="bad-tag",
        ClipFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": START - 1, "EndTimestamp": START + 10},
        },
    )["Payload"].read()
    assert clip[4:8] == b"ftyp"
    hls = kv.archived_media("bad-tag", "GET_HLS_STREAMING_SESSION_URL").get_hls_streaming_session_url(
        StreamName="bad-tag",
        PlaybackMode="ON_DEMAND",
        HLSFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": START - 1, "EndTimestamp": START + 10},
        },
    )["HLSStreamingSessionURL"]
    init = hls.replace("getHLSMasterPlaylist.m3u8", "getMP4InitFragment.mp4") + "&TrackNumber=1"
    assert requests.get(init, timeout=10).status_code == 200

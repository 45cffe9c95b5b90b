"""PutMedia in, GetMedia / ListFragments / GetMediaForFragmentList out, in both modes."""

import io

import av
import pytest
from botocore.exceptions import ClientError

from kvsmock import put_media, read_fragments, sample_mkv
from kvsmock.media import ebml
from kvsmock.media.ebml.writing import tags_element as producer_tags
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample

MEDIA = sample_mkv(duration_s=6, fragment_s=2, start=0)  # RELATIVE timecodes
START = 1_700_000_000


def _put(kv, name, media=MEDIA, **kw):
    kw.setdefault("timecode_type", "RELATIVE")
    kw.setdefault("producer_start_timestamp", START)
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(), **kw)


def ack_types(acks: list[dict]) -> list[str]:
    """The ACK event types in order, IDLE left out: the server sends one whenever 2 s pass without another
    ACK (a slow machine), and it carries nothing about the fragments."""
    return [a["EventType"] for a in acks if a["EventType"] != "IDLE"]


def _frames_in(media: bytes):
    return [f.data for frag in read_fragments(media) for f in frag.frames]


def test_put_media_acks_and_get_media_round_trip(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    acks = [a for a in _put(kv, "cam") if a["EventType"] != "IDLE"]
    assert ack_types(acks) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 3
    numbers = [a["FragmentNumber"] for a in acks[::3]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert all(len(n) == 47 and n.isdigit() for n in numbers)
    assert [a["FragmentTimecode"] for a in acks[::3]] == [0, 2000, 4000]
    # each fragment's three ACKs name the same fragment
    assert all(len({(a["FragmentNumber"], a["FragmentTimecode"]) for a in acks[i : i + 3]}) == 1 for i in (0, 3, 6))

    out = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
    assert out["ContentType"] == "video/webm"
    payload = out["Payload"].read()
    fragments = list(read_fragments(payload))
    assert [f.fragment_number for f in fragments] == numbers
    assert [f.producer_timestamp for f in fragments] == [START, START + 2, START + 4]
    for f in fragments:
        assert f.continuation_token == f.fragment_number
        assert f.millis_behind_now is not None and f.millis_behind_now >= 0
        assert f.server_timestamp is not None
    # Every frame comes back byte for byte, and FFmpeg decodes them all.
    assert [fr.data for f in fragments for fr in f.frames] == _frames_in(MEDIA)
    with av.open(io.BytesIO(payload)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 150


def test_get_media_selectors(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    numbers = [a["FragmentNumber"] for a in _put(kv, "cam") if a["EventType"] == "PERSISTED"]
    media = kv.media("cam")

    def read(selector):
        payload = media.get_media(StreamName="cam", StartSelector=selector)["Payload"].read()
        return [f.fragment_number for f in read_fragments(payload)]

    assert read({"StartSelectorType": "NOW"}) == numbers[-1:]
    assert read({"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": numbers[0]}) == numbers[1:]
    assert read({"StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": numbers[1]}) == numbers[2:]
    assert read({"StartSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": START + 2.5}) == numbers[1:]
    with pytest.raises(ClientError) as err:
        read({"StartSelectorType": "FRAGMENT_NUMBER"})
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_list_fragments_and_get_media_for_fragment_list(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    numbers = [a["FragmentNumber"] for a in _put(kv, "cam") if a["EventType"] == "PERSISTED"]
    archive = kv.archived_media("cam")
    selector = {
        "FragmentSelectorType": "PRODUCER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": START + 1, "EndTimestamp": START + 4},
    }
    listed = archive.list_fragments(StreamName="cam", FragmentSelector=selector)["Fragments"]
    assert sorted(f["FragmentNumber"] for f in listed) == numbers[1:]  # starts at 2 s and 4 s: inclusive
    assert all(f["FragmentLengthInMilliseconds"] == 2000 and f["FragmentSizeInBytes"] > 0 for f in listed)

    pages = list(archive.get_paginator("list_fragments").paginate(StreamName="cam", PaginationConfig={"PageSize": 1}))
    assert sorted(f["FragmentNumber"] for p in pages for f in p["Fragments"]) == numbers

    payload = archive.get_media_for_fragment_list(StreamName="cam", Fragments=[numbers[2], numbers[0]])["Payload"].read()
    assert [f.fragment_number for f in read_fragments(payload)] == [numbers[2], numbers[0]]
    with pytest.raises(ClientError) as err:
        archive.get_media_for_fragment_list(StreamName="cam", Fragments=["9" * 47])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_tags_after_a_known_size_cluster_are_stored_with_it(kv):
    """A known-size Cluster is acknowledged at its last byte; producer Tags after it still belong to it."""
    encoded = encode_sample(4, 2, 25, 160, 120, "h264", False)
    media = write_mkv(encoded.tracks, encoded.packets, fragment_tags=lambda i: [("SCENE", f"s{i}"), ("CAM", "front")])
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    acks = _put(kv, "cam", media=media)
    assert ack_types(acks) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
    numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
    payload = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    got = list(read_fragments(payload))
    assert [(f.tags.get("SCENE"), f.tags.get("CAM")) for f in got] == [("s0", "front"), ("s1", "front")]
    listed = kv.archived_media("cam").get_media_for_fragment_list(StreamName="cam", Fragments=numbers)["Payload"].read()
    assert [f.tags.get("SCENE") for f in read_fragments(listed)] == ["s0", "s1"]
    # FragmentSizeInBytes counts the Cluster and the Tags that came after it
    listed = kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    sizes = [f["FragmentSizeInBytes"] for f in sorted(listed, key=lambda f: f["FragmentNumber"])]
    cluster_sizes = []
    pos = media.index(b"\x1f\x43\xb6\x75")
    while pos < len(media):
        element_id, size, header_len = ebml.read_element_header(media, pos)
        if element_id == ebml.CLUSTER:
            cluster_sizes.append(header_len + size)
        pos += header_len + size
    tag_bytes = [len(producer_tags([("SCENE", f"s{i}")]) + producer_tags([("CAM", "front")])) for i in range(2)]
    assert sizes == [c + t for c, t in zip(cluster_sizes, tag_bytes, strict=True)]


def test_put_media_error_keeps_acknowledged_fragments(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    # A body holding a second EBML header after three good clusters: the
    # service answers ERROR 4006 (INVALID_MKV_DATA) for it, and the three
    # fragments acknowledged before it stay stored and readable.
    acks = _put(kv, "cam", media=MEDIA + MEDIA[: len(MEDIA) // 2])
    assert ack_types(acks) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 3 + ["ERROR"]
    assert acks[-1]["ErrorId"] == 4006 and acks[-1]["ErrorCode"] == "INVALID_MKV_DATA"
    persisted = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
    payload = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    fragments = list(read_fragments(payload))
    assert [f.fragment_number for f in fragments] == persisted
    assert [fr.data for f in fragments for fr in f.frames] == _frames_in(MEDIA)


def test_put_media_http_errors(kv):
    with pytest.raises(ClientError) as err:
        _put(kv, "missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_retention_zero_sends_no_persisted(kv):
    kv.kinesisvideo.create_stream(StreamName="live", DataRetentionInHours=0)
    acks = _put(kv, "live")
    assert ack_types(acks) == ["BUFFERING", "RECEIVED"] * 3
    archive = kv.archived_media("live")
    assert archive.list_fragments(StreamName="live")["Fragments"] == []


def test_kvs_stream_fixture(kvs, kvs_stream):
    assert [a["EventType"] for a in kvs_stream.acks].count("PERSISTED") == 3
    payload = kvs.media(kvs_stream.name).get_media(
        StreamARN=kvs_stream.arn, StartSelector={"StartSelectorType": "EARLIEST"}
    )["Payload"].read()
    assert len(list(read_fragments(payload))) == 3

"""``kvsmock.client.put_media_acks``, the streaming PutMedia client under ``kvsmock put-media``."""

from __future__ import annotations

import json
import threading

import pytest

from helpers.producers import split_at_clusters
from kvsmock import put_media, sample_mkv
from kvsmock.client import AckDecoder, parse_acks, put_media_acks


def test_ack_decoder_takes_any_cut():
    events = [{"EventType": "BUFFERING", "FragmentTimecode": 0, "FragmentNumber": "1"},
              {"EventType": "ERROR", "FragmentTimecode": 0, "ErrorId": 4006, "ErrorCode": "INVALID_MKV_DATA",
               "Note": "\u00e9\u00e8"}]
    body = (json.dumps(events[0]) + "\n" + json.dumps(events[1], ensure_ascii=False) + "\r\n").encode()
    decoder, got = AckDecoder(), []
    for i in range(len(body)):
        got += decoder.feed(body[i : i + 1])  # a cut inside an event or a UTF-8 character waits for the rest
    decoder.close()
    assert got == events == parse_acks(body.decode())
    truncated = AckDecoder()
    truncated.feed(body[:-5])
    with pytest.raises(json.JSONDecodeError):
        truncated.close()


def test_acks_arrive_while_the_upload_goes_on(kvs_server):
    """Against the server the second fragment is not even produced before the first one's PERSISTED arrives."""
    kvs_server.kinesisvideo.create_stream(StreamName="live", DataRetentionInHours=1)
    header, fragments = split_at_clusters(sample_mkv(duration_s=4, fragment_s=2))
    first_persisted = threading.Event()

    def producer():
        yield header + fragments[0]
        assert first_persisted.wait(timeout=30), "no ACK came while the upload was open"
        yield fragments[1]

    events = []
    for event in put_media_acks("live", media=producer(), endpoint_url=kvs_server.endpoint_url,
                                session=kvs_server.session()):
        events.append(event)
        if event["EventType"] == "PERSISTED":
            first_persisted.set()
    assert [e["EventType"] for e in events if e["EventType"] != "IDLE"] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2


def test_a_media_source_that_fails_ends_the_upload_with_its_error(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="broken", DataRetentionInHours=1)
    header, fragments = split_at_clusters(sample_mkv(duration_s=4, fragment_s=2))

    def producer():
        yield header + fragments[0]
        raise OSError("the camera went away")

    with pytest.raises(OSError, match="the camera went away"):
        list(put_media_acks("broken", media=producer(), endpoint_url=kvs_server.endpoint_url,
                            session=kvs_server.session()))


def test_in_process_gives_the_same_events_as_put_media(kvs):
    kvs.kinesisvideo.create_stream(StreamName="mem", DataRetentionInHours=1)
    events = list(put_media_acks("mem", media=sample_mkv(duration_s=4, fragment_s=2), region_name=kvs.region_name))
    assert [e["EventType"] for e in events] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
    again = put_media("mem", media=sample_mkv(duration_s=4, fragment_s=2), region_name=kvs.region_name)
    assert [e["EventType"] for e in again] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2

"""Live behaviour of the server: ACKs stream during the upload, GetMedia tails, limits, IDLE ACKs.

A producer here is a raw socket writing the chunked PutMedia body by hand and
parsing the chunked ACK response incrementally, as the C producer SDK does.
"""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest_plugin import KvsServer
from helpers.live_reader import LiveReader
from helpers.producers import START, RawPutMedia, fragment_media, has_ack, split_at_clusters
from kvsmock import put_media, sample_mkv
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample

def ack_types(events: list[dict]) -> list[str]:
    """The ACK event types in order, IDLE left out: the server sends one whenever 2 s pass without another
    ACK (a slow machine), and it carries nothing about the fragments."""
    return [e["EventType"] for e in events if e["EventType"] != "IDLE"]


def _get_media(server: KvsServer, stream: str, selector: str = "EARLIEST", timeout: float = 30):
    return requests.post(
        f"{server.endpoint_url}/getMedia",
        json={"StreamName": stream, "StartSelector": {"StartSelectorType": selector}},
        stream=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def patient_server():
    """A server whose caught-up GetMedia waits 30 s for new fragments."""
    server = KvsServer(extra_args=["--get-media-idle-timeout", "30"])
    yield server
    server.stop()


# ---------------------------------------------------------------- (a)
def test_producer_waits_for_acks_of_each_fragment(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(5))
    assert len(fragments) == 5
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(header)
        for index, fragment in enumerate(fragments):
            timecode = index * 1000
            # The fragment goes out in two pieces; the ACKs for it must come
            # back before the producer sends a single byte of the next one.
            conn.send(fragment[:100])
            conn.read_until(has_ack("BUFFERING", timecode))
            assert conn.status == 200
            assert not has_ack("RECEIVED", timecode)(conn.events)
            conn.send(fragment[100:])
            conn.read_until(has_ack("PERSISTED", timecode))
        numbers = [e["FragmentNumber"] for e in conn.events if e["EventType"] == "PERSISTED"]
        assert ack_types(conn.events) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 5
        assert numbers == sorted(numbers) and len(set(numbers)) == 5
        conn.finish()
        conn.read_until(lambda events: False if not conn.closed else True)
    finally:
        conn.close()
    assert len(ack_types(conn.events)) == 15  # nothing more after the body ended
    listed = kvs_server.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    assert sorted(f["FragmentNumber"] for f in listed) == numbers


def test_known_size_clusters_are_acknowledged_at_their_last_byte(kvs_server):
    """Without the END_OF_FRAGMENT marker a known-size Cluster is whole at its own last byte."""
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(3, end_of_fragment_tags=False))
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(header)
        for index, fragment in enumerate(fragments):
            conn.send(fragment[:-1])
            conn.read_until(has_ack("BUFFERING", index * 1000))
            assert not has_ack("RECEIVED", index * 1000)(conn.events)
            conn.send(fragment[-1:])  # nothing of the next fragment is sent before its ACKs arrive
            conn.read_until(has_ack("PERSISTED", index * 1000))
        conn.finish()
    finally:
        conn.close()


def test_unknown_size_clusters_are_acknowledged_when_the_next_one_starts(kvs_server):
    """An unknown-size Cluster without the marker can only be known to end when the next one begins."""
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    encoded = encode_sample(3, 1, 25, 320, 240, "h264", False)
    media = write_mkv(encoded.tracks, encoded.packets, end_of_fragment_tags=False, unknown_size_clusters=True)
    starts = [i for i in range(len(media)) if media.startswith(b"\x1f\x43\xb6\x75\xff", i)]
    assert len(starts) == 3
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(media[: starts[1]])
        conn.read_until(has_ack("BUFFERING", 0))
        assert not has_ack("RECEIVED", 0)(conn.events)
        conn.send(media[starts[1] : starts[2]])
        conn.read_until(has_ack("PERSISTED", 0))
        conn.read_until(has_ack("BUFFERING", 1000))
        assert not has_ack("RECEIVED", 1000)(conn.events)
        conn.send(media[starts[2] :])
        conn.finish()
        conn.read_until(has_ack("PERSISTED", 2000))
    finally:
        conn.close()


# ---------------------------------------------------------------- (b)
@pytest.mark.parametrize("selector", ["NOW", "EARLIEST"])
def test_live_get_media_follows_the_upload(kvs_server, selector):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(5))
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        response = _get_media(kvs_server, "cam", selector)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "video/webm"
        reader = LiveReader(response)
        reader.start()
        reader.wait_for(1)
        for index, fragment in enumerate(fragments[1:], start=1):
            time.sleep(0.3)  # a paused producer
            sent = time.monotonic()
            conn.send(fragment)
            conn.read_until(has_ack("PERSISTED", index * 1000))
            reader.wait_for(index + 1)  # the reader has it while the upload is still open
            assert reader.times[index] >= sent
        assert reader.ended_at is None  # caught up, but the producer is still connected
        conn.finish()
        conn.read_until(lambda events: conn.closed)
        producer_gone = time.monotonic()
        reader.join(timeout=10)
        assert not reader.is_alive() and reader.error is None
        # Caught up with no producer connected, it ended after about the idle timeout (1 s).
        assert 0.8 <= reader.ended_at - producer_gone < 5.0
    finally:
        conn.close()
    persisted = [e["FragmentNumber"] for e in conn.events if e["EventType"] == "PERSISTED"]
    assert [f.fragment_number for f in reader.fragments] == persisted
    assert [f.producer_timestamp for f in reader.fragments] == [1_700_000_000 + i for i in range(5)]
    assert all(f.continuation_token == f.fragment_number for f in reader.fragments)


def test_get_media_on_an_empty_stream_ends_after_the_idle_timeout(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    started = time.monotonic()
    response = _get_media(kvs_server, "cam", "NOW")
    assert response.status_code == 200 and response.content == b""
    assert 0.8 <= time.monotonic() - started < 3.0


# ---------------------------------------------------------------- (c)
def test_deleting_the_stream_ends_a_tailing_get_media(patient_server):
    patient_server.reset()
    control = patient_server.kinesisvideo
    arn = control.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2, start=0), endpoint_url=patient_server.endpoint_url,
              session=patient_server.session(), timecode_type="RELATIVE")
    reader = LiveReader(_get_media(patient_server, "cam", "EARLIEST", timeout=60))
    reader.start()
    reader.wait_for(1)
    time.sleep(0.3)
    assert reader.is_alive()  # tailing: the server waits up to 30 s for more
    deleted = time.monotonic()
    control.delete_stream(StreamARN=arn)
    reader.join(timeout=5)
    assert not reader.is_alive(), "GetMedia kept tailing a deleted stream"
    assert reader.ended_at - deleted < 3.0
    assert reader.error is None and len(reader.fragments) == 1


# ---------------------------------------------------------------- (d)
def test_second_put_media_on_a_stream_is_throttled(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    kvs_server.kinesisvideo.create_stream(StreamName="other", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(2))
    media = sample_mkv(duration_s=2, fragment_s=2)
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        with pytest.raises(ClientError) as err:
            put_media("cam", media=media, endpoint_url=kvs_server.endpoint_url, session=kvs_server.session())
        assert err.value.response["Error"]["Code"] == "ConnectionLimitExceededException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # Another stream is not affected, and the first connection carries on.
        acks = put_media("other", media=media, endpoint_url=kvs_server.endpoint_url, session=kvs_server.session())
        assert acks[-1]["EventType"] == "PERSISTED"
        conn.send(fragments[1])
        conn.finish()
        conn.read_until(has_ack("PERSISTED", 1000))
        conn.read_until(lambda events: conn.closed)
    finally:
        conn.close()
    # Once the first connection is done (its response has ended) the stream takes a new one.
    acks = put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2, start=0), endpoint_url=kvs_server.endpoint_url,
                     session=kvs_server.session(), timecode_type="RELATIVE", producer_start_timestamp=1_800_000_000)
    assert ack_types(acks) == ["BUFFERING", "RECEIVED", "PERSISTED"]


def test_fourth_concurrent_get_media_is_throttled(patient_server):
    patient_server.reset()
    patient_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2), endpoint_url=patient_server.endpoint_url,
              session=patient_server.session())
    open_responses = []
    try:
        for _ in range(3):
            response = _get_media(patient_server, "cam", "NOW")
            assert response.status_code == 200
            open_responses.append(response)
        fourth = patient_server.media("cam")
        with pytest.raises(ClientError) as err:
            fourth.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
        assert err.value.response["Error"]["Code"] == "ConnectionLimitExceededException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        for response in open_responses:
            response.close()


# ---------------------------------------------------------------- (e)
def test_quiet_put_media_connection_gets_idle_acks(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(2))
    conn = RawPutMedia(kvs_server.port, "cam")
    try:
        conn.send(header)
        sent = time.monotonic()
        conn.read_until(lambda events: any(e["EventType"] == "IDLE" for e in events), timeout=4.0)
        idle = conn.events[conn.events.index({"EventType": "IDLE"})]
        assert idle == {"EventType": "IDLE"}
        assert conn.arrivals[0] - sent >= 1.5
        # The connection is still usable afterwards.
        conn.send(b"".join(fragments))
        conn.finish()
        conn.read_until(lambda events: conn.closed)
    finally:
        conn.close()
    assert ack_types(conn.events) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2

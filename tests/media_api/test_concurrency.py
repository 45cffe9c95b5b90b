"""Two producers on two streams and three live consumers at once, against the server."""

from __future__ import annotations

import threading
import time

import requests

from kvsmock import put_media
from kvsmock.media import FragmentReader, ebml, read_fragments
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample


def _media(width: int, height: int, seconds: int) -> bytes:
    encoded = encode_sample(seconds, 1, 25, width, height, "h264", False)
    return write_mkv(encoded.tracks, encoded.packets, end_of_fragment_tags=True)


def _cluster_pieces(media: bytes) -> list[bytes]:
    """The upload cut at every Cluster start (so each piece after the first ends a fragment)."""
    pos = 0
    element_id, size, header_len = ebml.read_element_header(media, pos)
    pos += header_len + size
    pos += ebml.read_element_header(media, pos)[2]  # the Segment header
    cuts = []
    while pos < len(media):
        element_id, size, header_len = ebml.read_element_header(media, pos)
        if element_id == ebml.CLUSTER:
            cuts.append(pos)
        pos += header_len + size
    bounds = [0] + cuts[1:] + [len(media)]
    return [media[a:b] for a, b in zip(bounds, bounds[1:])]


def _wait_for_fragments(archive, name: str, count: int, timeout: float = 30.0) -> None:
    """Wait until ListFragments shows ``count`` fragments of the stream (PERSISTED and listed)."""
    deadline = time.monotonic() + timeout
    while len(archive.list_fragments(StreamName=name)["Fragments"]) < count:
        assert time.monotonic() < deadline, f"{name} never listed {count} fragment(s)"
        time.sleep(0.05)


def test_two_producers_three_consumers(kvs_server):
    """Both uploads are live while all three consumers read: each consumer gets every fragment of its stream.

    A caught-up GetMedia keeps tailing only while a PutMedia connection is open on its stream
    (it ends --get-media-idle-timeout = 1 s after catching up when none is). So the order of
    events is made explicit rather than left to thread timing: each producer sends its first
    fragment and then holds its connection open until all three consumers are reading; the
    consumers start once both streams have that first fragment stored.
    """
    control = kvs_server.kinesisvideo
    streams = {"alpha": _media(320, 240, 6), "beta": _media(160, 120, 5)}
    for name in streams:
        control.create_stream(StreamName=name, DataRetentionInHours=1)
    acks: dict[str, list] = {}
    received: dict[int, list] = {}
    errors: list[BaseException] = []
    consumers = [("alpha", 0), ("alpha", 1), ("beta", 2)]
    reading = threading.Semaphore(0)  # released by each consumer once its GetMedia has answered 200
    all_reading = threading.Event()
    failed = threading.Event()

    def produce(name: str) -> None:
        def paced():
            pieces = _cluster_pieces(streams[name])
            yield pieces[0]  # the header and the first fragment
            # The connection stays open (so the readers keep tailing) until every consumer is reading.
            if not all_reading.wait(timeout=30):
                raise RuntimeError("the consumers never started")
            for piece in pieces[1:]:
                time.sleep(0.15)  # a live producer: the rest arrives while the consumers tail
                yield piece

        try:
            acks[name] = put_media(
                name, media=paced(), endpoint_url=kvs_server.endpoint_url, session=kvs_server.session(),
                timecode_type="RELATIVE", producer_start_timestamp=1_700_000_000,
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            failed.set()

    def consume(name: str, slot: int) -> None:
        try:
            response = requests.post(
                f"{kvs_server.endpoint_url}/getMedia",
                json={"StreamName": name, "StartSelector": {"StartSelectorType": "EARLIEST"}},
                stream=True, timeout=30,
            )
            assert response.status_code == 200, response.text
            reading.release()
            reader, out = FragmentReader(), []
            for piece in response.iter_content(chunk_size=None):
                out += reader.feed(piece)
            out += reader.close()
            received[slot] = out
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            failed.set()

    producers = [threading.Thread(target=produce, args=(n,), daemon=True) for n in streams]
    for t in producers:
        t.start()
    archive = {name: kvs_server.archived_media(name) for name in streams}
    for name in streams:  # each producer's connection is open and its first fragment stored
        _wait_for_fragments(archive[name], name, 1)
    readers = [threading.Thread(target=consume, args=c, daemon=True) for c in consumers]
    for t in readers:
        t.start()
    deadline = time.monotonic() + 30
    for _ in consumers:
        while not reading.acquire(timeout=0.1):
            assert not failed.is_set(), errors
            assert time.monotonic() < deadline, "the consumers' GetMedia never answered"
    all_reading.set()
    for t in producers + readers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in producers + readers)
    assert not errors, errors

    expected = {}
    for name, media in streams.items():
        events = acks[name]
        # IDLE ACKs (sent after 2 s without another ACK, e.g. while the producer waits) say nothing of fragments.
        assert [e["EventType"] for e in events if e["EventType"] != "IDLE"] == (
            ["BUFFERING", "RECEIVED", "PERSISTED"] * len(_cluster_pieces(media))
        )
        expected[name] = (
            [e["FragmentNumber"] for e in events if e["EventType"] == "PERSISTED"],
            [[fr.data for fr in f.frames] for f in read_fragments(media)],
        )
    for name, slot in consumers:
        fragments = received[slot]
        numbers = [f.fragment_number for f in fragments]
        assert all(a < b for a, b in zip(numbers, numbers[1:])), "fragment numbers not strictly increasing"
        assert numbers == expected[name][0], f"consumer {slot} on {name}: lost or extra fragments"
        assert [[fr.data for fr in f.frames] for f in fragments] == expected[name][1]
        assert not any(f.truncated or f.is_error for f in fragments)
    # The two streams number their fragments independently and never share one.
    assert not set(expected["alpha"][0]) & set(expected["beta"][0])

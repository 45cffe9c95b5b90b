"""Two producers on two streams and three live consumers at once, against the server."""

from __future__ import annotations

import threading
import time

import requests

from kvsmock import put_media
from kvsmock.media import FragmentReader, ebml, read_fragments
from kvsmock.media.mkvwriter import write_mkv
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


def test_two_producers_three_consumers(kvs_server):
    control = kvs_server.kinesisvideo
    streams = {"alpha": _media(320, 240, 6), "beta": _media(160, 120, 5)}
    for name in streams:
        control.create_stream(StreamName=name, DataRetentionInHours=1)
    acks: dict[str, list] = {}
    received: dict[int, list] = {}
    errors: list[BaseException] = []
    consumers = [("alpha", 0), ("alpha", 1), ("beta", 2)]
    started = threading.Barrier(len(streams) + len(consumers))

    def produce(name: str) -> None:
        def paced():
            for piece in _cluster_pieces(streams[name]):
                yield piece
                time.sleep(0.15)

        try:
            started.wait()
            acks[name] = put_media(
                name, media=paced(), endpoint_url=kvs_server.endpoint_url, session=kvs_server.session(),
                timecode_type="RELATIVE", producer_start_timestamp=1_700_000_000,
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def consume(name: str, slot: int) -> None:
        try:
            started.wait()
            response = requests.post(
                f"{kvs_server.endpoint_url}/getMedia",
                json={"StreamName": name, "StartSelector": {"StartSelectorType": "EARLIEST"}},
                stream=True, timeout=30,
            )
            assert response.status_code == 200, response.text
            reader, out = FragmentReader(), []
            for piece in response.iter_content(chunk_size=None):
                out += reader.feed(piece)
            out += reader.close()
            received[slot] = out
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(n,)) for n in streams]
    threads += [threading.Thread(target=consume, args=c) for c in consumers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors

    expected = {}
    for name, media in streams.items():
        events = acks[name]
        assert [e["EventType"] for e in events] == ["BUFFERING", "RECEIVED", "PERSISTED"] * len(_cluster_pieces(media))
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

"""read_fragments on live sources: each fragment comes out as soon as its last byte has arrived.

A GetMedia response arrives over time. The reader must hand out a fragment
once its chunk is whole (at the trailing KVS Tags), without waiting for the
next chunk or for a full read buffer: a botocore ``StreamingBody.read(n)``
blocks until n bytes have come, so it must not be what the reader waits on.
"""

from __future__ import annotations

import threading

import pytest
from botocore.response import StreamingBody

from kvsmock.media import read_fragments
from kvsmock.media.get_media.chunks import fragment_chunk_pieces
from kvsmock.media.get_media.reader import FragmentReader
from kvsmock.media.matroska import write_mkv
from kvsmock.media.put_media import FragmentComplete, Fragmenter, HeaderParsed

FIRST_NUMBER = 91343852333181432392682062607743920146159169392


def _chunks(body: bytes) -> list[bytes]:
    """GetMedia chunks (with trailing MILLIS_BEHIND_NOW / CONTINUATION_TOKEN Tags) of a producer body."""
    fragmenter = Fragmenter()
    events = fragmenter.feed(body) + fragmenter.close()
    header = next(e for e in events if isinstance(e, HeaderParsed))
    fragments = [e.fragment for e in events if isinstance(e, FragmentComplete)]
    out = []
    for i, fragment in enumerate(fragments):
        number = str(FIRST_NUMBER + i)
        out.append(
            b"".join(
                fragment_chunk_pieces(
                    header.ebml_header,
                    header.header_bytes,
                    fragment,
                    fragment_number=number,
                    server_timestamp=1_700_000_010 + i,
                    producer_timestamp=fragment.timecode / 1000,
                    millis_behind_now=1000 * (len(fragments) - i),
                    continuation_token=number,
                )
            )
        )
    return out


@pytest.fixture(scope="module", params=["known_size", "sdk_style"])
def chunks(request, av_media) -> list[bytes]:
    """Four chunks; clusters of known size, or unknown-size clusters followed by producer Tags (C SDK layout)."""
    if request.param == "known_size":
        body = write_mkv(av_media.tracks, av_media.packets)
    else:
        body = write_mkv(
            av_media.tracks,
            av_media.packets,
            unknown_size_clusters=True,
            size_width=8,
            fragment_tags=lambda i: [("CAMERA", f"cam-{i}")],
            end_of_fragment_tags=True,
        )
    out = _chunks(body)
    assert len(out) == 4
    return out


def test_a_chunk_is_whole_at_its_last_byte(chunks):
    reader = FragmentReader()
    for i, chunk in enumerate(chunks):
        assert reader.feed(chunk[:-1]) == []  # the trailing Tags are not complete yet
        (fragment,) = reader.feed(chunk[-1:])  # its last byte: out at once, nothing of the next chunk needed
        assert fragment.fragment_number == fragment.continuation_token == str(FIRST_NUMBER + i)
        assert fragment.frames and not fragment.truncated
    assert reader.close() == []


# ------------------------------------------------------------ sources that block
class _Pipe:
    """Bytes arriving over time, read like a urllib3 response: ``read(n)`` waits for n bytes (or the end),
    ``read1(n)`` returns what has arrived (at least one byte, or b"" at the end)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ended = False
        self._cond = threading.Condition()

    def write(self, data: bytes) -> None:
        with self._cond:
            self._data += data
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _take(self, n: int) -> bytes:
        out = bytes(self._data[:n])
        del self._data[:n]
        return out

    def read(self, n: int | None = None) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._ended or (n is not None and len(self._data) >= n))
            return self._take(len(self._data) if n is None else n)

    def read1(self, n: int = -1) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._ended or self._data)
            return self._take(len(self._data) if n is None or n < 0 else n)


class _ShortReads:
    """Only ``read(n)``: returns what has arrived (at most n), blocking while nothing has."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    def read(self, n: int) -> bytes:
        return self._pipe.read1(n)


class _BufferedLike:
    """``read(n)`` that waits for n bytes, and ``read1(n)`` (as io.BufferedReader and urllib3 have)."""

    def __init__(self, pipe: _Pipe) -> None:
        self.read = pipe.read
        self.read1 = pipe.read1


SOURCES = {
    "streaming_body": lambda pipe: StreamingBody(pipe, None),  # botocore's Payload over a urllib3-like response
    "short_reads": _ShortReads,
    "read1": _BufferedLike,
}


class _Consumer(threading.Thread):
    def __init__(self, source) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.fragments: list = []
        self.arrived = [threading.Event() for _ in range(8)]
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for fragment in read_fragments(self.source):
                self.fragments.append(fragment)
                self.arrived[len(self.fragments) - 1].set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.done.set()


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_live_source_yields_each_fragment_before_more_bytes_come(chunks, kind):
    pipe = _Pipe()
    consumer = _Consumer(SOURCES[kind](pipe))
    consumer.start()
    try:
        for i, chunk in enumerate(chunks):
            pipe.write(chunk)  # then nothing more until the reader has yielded this fragment
            assert consumer.arrived[i].wait(10), f"fragment {i} not yielded from a {kind} source"
            assert len(consumer.fragments) == i + 1 and not consumer.done.is_set()
    finally:
        pipe.end()
    assert consumer.done.wait(10) and consumer.error is None
    assert [f.fragment_number for f in consumer.fragments] == [str(FIRST_NUMBER + i) for i in range(4)]
    assert consumer.fragments == list(read_fragments(b"".join(chunks)))


def test_first_fragment_comes_out_while_the_source_blocks(chunks):
    """A source that hands out the first chunk, then blocks until an Event is set."""
    release = threading.Event()

    class Blocking:
        def __init__(self) -> None:
            self._parts = [chunks[0], b"".join(chunks[1:])]

        def read(self, n: int) -> bytes:
            if not self._parts:
                return b""
            if len(self._parts) == 1:
                assert release.wait(10)
            return self._parts.pop(0)

    consumer = _Consumer(Blocking())
    consumer.start()
    assert consumer.arrived[0].wait(10)
    assert not release.is_set() and len(consumer.fragments) == 1
    release.set()
    assert consumer.done.wait(10) and consumer.error is None
    assert len(consumer.fragments) == 4


def test_streaming_body_keeps_its_byte_count(chunks):
    data = b"".join(chunks)
    pipe = _Pipe()
    pipe.write(data)
    pipe.end()
    body = StreamingBody(pipe, len(data))
    assert len(list(read_fragments(body))) == 4
    assert body.read() == b""  # at the end, and its Content-Length check agrees with what was read

"""GetMedia chunks: exact layout, readable by our reader and by PyAV, and the full round trip."""

from __future__ import annotations

import io
from decimal import Decimal

import av
import pytest

from kvsmock.media import ebml, read_fragments
from kvsmock.media.ebml.walker import EBMLWalker, Kind, Schema
from kvsmock.media.ebml.walker_events import ElementStart
from kvsmock.media.get_media.chunks import chunk_pieces, error_chunk_pieces, format_timestamp, fragment_chunk_pieces
from kvsmock.media.matroska import write_mkv
from kvsmock.media.matroska.tags import parse_tags
from kvsmock.media.put_media import FragmentComplete, Fragmenter, HeaderParsed

START_MS = 1_700_000_000_000


def ingest(body: bytes):
    fragmenter = Fragmenter()
    events = fragmenter.feed(body) + fragmenter.close()
    header = next(e for e in events if isinstance(e, HeaderParsed))
    return header, [e.fragment for e in events if isinstance(e, FragmentComplete)]


def chunks_for(header, fragments, *, trailing=True) -> list[bytes]:
    out = []
    for i, fragment in enumerate(fragments):
        number = f"{91343852333181432392682062607743920146159169392 + i}"
        extra = {"millis_behind_now": 1000 * (len(fragments) - i), "continuation_token": number} if trailing else {}
        pieces = fragment_chunk_pieces(
            header.ebml_header,
            header.header_bytes,
            fragment,
            fragment_number=number,
            server_timestamp=START_MS / 1000 + 10 + i,
            producer_timestamp=fragment.timecode / 1000,
            **extra,
        )
        assert all(isinstance(p, bytes) and p for p in pieces)
        out.append(b"".join(pieces))
    return out


def top_level(data: bytes) -> list[tuple[int, int]]:
    """(depth, id) of the EBML headers, Segments and Segment children, in order."""
    from kvsmock.media.matroska.schema import BLOCK_HEADERS as SCHEMA

    walker = EBMLWalker(SCHEMA)
    walker.feed(data)
    walker.close()
    out = []
    while (event := walker.next_event()) is not None:
        if event.depth <= 1 and event.__class__.__name__ != "ElementEnd":
            out.append((event.depth, event.id))
    return out


@pytest.fixture(scope="module")
def sdk_media(av_media):
    body = write_mkv(
        av_media.tracks,
        av_media.packets,
        start_ms=START_MS,
        unknown_size_clusters=True,
        size_width=8,
        fragment_tags=lambda i: [("CAMERA", f"cam-{i}")],
        end_of_fragment_tags=True,
    )
    header, fragments = ingest(body)
    return body, header, fragments


def test_format_timestamp():
    assert format_timestamp(1511852109.126) == "1511852109.126"
    assert format_timestamp(0) == "0.000"
    assert format_timestamp(5) == "5.000"
    assert format_timestamp(Decimal("1.0005")) == "1.001"
    assert format_timestamp(1700000000.1) == "1700000000.100"


def test_chunk_layout_follows_the_spec(sdk_media):
    _, header, fragments = sdk_media
    chunk = chunks_for(header, fragments)[0]
    assert chunk.startswith(header.ebml_header + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header.header_bytes)
    assert top_level(chunk) == [
        (0, ebml.EBML),
        (0, ebml.SEGMENT),
        (1, ebml.INFO),
        (1, ebml.TRACKS),
        (1, ebml.TAGS),  # FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP
        (1, ebml.CLUSTER),
        (1, ebml.TAGS),  # the producer's CAMERA tag
        (1, ebml.TAGS),  # the producer's END_OF_FRAGMENT marker
        (1, ebml.TAGS),  # MILLIS_BEHIND_NOW, CONTINUATION_TOKEN
    ]
    assert fragments[0].cluster_bytes in chunk


def test_chunks_parse_with_the_reader(sdk_media):
    _, header, fragments = sdk_media
    stream = b"".join(chunks_for(header, fragments))
    got = list(read_fragments(stream))
    assert len(got) == len(fragments) == 4
    for i, (read, fragment) in enumerate(zip(got, fragments, strict=True)):
        assert read.fragment_number == f"{91343852333181432392682062607743920146159169392 + i}"
        assert read.continuation_token == read.fragment_number
        assert read.server_timestamp == pytest.approx(START_MS / 1000 + 10 + i)
        assert read.producer_timestamp == fragment.timecode / 1000
        assert read.millis_behind_now == 1000 * (4 - i)
        assert read.tags["CAMERA"] == f"cam-{i}"
        assert read.cluster_timecode == fragment.timecode
        assert len(read.frames) == fragment.frame_count
        assert [t.codec_id for t in read.tracks] == ["V_MPEG4/ISO/AVC", "A_AAC"]


def test_a_chunk_decodes_in_pyav(sdk_media):
    _, header, fragments = sdk_media
    chunk = chunks_for(header, fragments)[1]
    with av.open(io.BytesIO(chunk)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        decoded = {"video": 0, "audio": 0}
        for frame in container.decode(*container.streams):
            decoded["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
    assert decoded["video"] == fragments[1].frames_per_track[1] == 25
    assert decoded["audio"] == fragments[1].frames_per_track[2]


def test_round_trip_frames_in_equal_frames_out(sdk_media, av_media):
    _, header, fragments = sdk_media
    out = [f for read in read_fragments(b"".join(chunks_for(header, fragments))) for f in read.frames]
    expected = sorted(av_media.packets, key=lambda p: (p.time_ms, p.track != 1))
    assert len(out) == len(expected)
    assert [(f.track_number, f.timecode_ms, f.data) for f in out] == [
        (p.track, p.time_ms + START_MS, p.data) for p in expected
    ]
    assert all(f.keyframe for f in out if f.track_number == 2)
    assert [f.keyframe for f in out if f.track_number == 1] == [p.keyframe for p in expected if p.track == 1]


def test_chunk_without_trailing_tags(sdk_media):
    _, header, fragments = sdk_media
    (read,) = read_fragments(chunks_for(header, fragments[:1], trailing=False)[0])
    assert read.millis_behind_now is None and read.continuation_token is None
    assert read.fragment_number and len(read.frames) == fragments[0].frame_count


def test_error_chunk(sdk_media):
    _, header, fragments = sdk_media
    error = b"".join(error_chunk_pieces("91343852333181432392682062607743920146159169999", 4000, "Requested fragment not found"))
    stream = chunks_for(header, fragments[:1])[0] + error
    ok, failed = read_fragments(stream)
    assert not ok.is_error
    assert failed.is_error and failed.error_id == 4000
    assert failed.error_code == "Requested fragment not found"
    assert failed.fragment_number.endswith("9999") and failed.server_timestamp is None
    with_header = b"".join(
        error_chunk_pieces("1", 5000, "Internal error", ebml_header_bytes=header.ebml_header, header_bytes=header.header_bytes)
    )
    (record,) = read_fragments(with_header)
    assert record.error_id == 5000 and record.tracks


def test_rebuilding_a_real_chunk_is_byte_identical(reference):
    data = reference("output_get_media.mkv")
    second_chunk = data.index(b"\x1a\x45\xdf\xa3", 1)
    original = data[:second_chunk]
    elements = []
    walker = EBMLWalker(Schema({ebml.SEGMENT: Kind.MASTER}, {ebml.SEGMENT: frozenset({ebml.EBML, ebml.SEGMENT})}))
    walker.feed(original)
    walker.close()
    while (event := walker.next_event()) is not None:
        if event.depth in (0, 1) and event.__class__.__name__ in ("ElementSkipped", "ElementStart"):
            elements.append(event)
    ebml_header = original[: elements[0].end]
    kvs_tags = [e for e in elements if e.id == ebml.TAGS and b"AWS_KINESISVIDEO" in original[e.offset : e.end]]
    cluster = next(e for e in elements if e.id == ebml.CLUSTER)
    segment_data = elements[0].end + 12
    tags = dict(parse_tags(memoryview(original)[kvs_tags[0].offset + 8 : kvs_tags[0].end]))
    tags.update(parse_tags(memoryview(original)[kvs_tags[1].offset + 8 : kvs_tags[1].end]))
    rebuilt = chunk_pieces(
        ebml_header,
        original[segment_data : kvs_tags[0].offset],
        original[cluster.offset : cluster.end],
        fragment_number=tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"],
        server_timestamp=float(tags["AWS_KINESISVIDEO_SERVER_TIMESTAMP"]),
        producer_timestamp=float(tags["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"]),
        millis_behind_now=int(tags["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"]),
        continuation_token=tags["AWS_KINESISVIDEO_CONTINUATION_TOKEN"],
    )
    assert b"".join(rebuilt) == original


def test_c_producer_body_round_trips_through_chunks(reference):
    body = reference("producer-c-putmedia-body.mkv")
    header, fragments = ingest(body)
    source_frames = [f for read in read_fragments(body) for f in read.frames]
    out = [f for read in read_fragments(b"".join(chunks_for(header, fragments))) for f in read.frames]
    assert [(f.track_number, f.timecode_ms, f.keyframe, f.data) for f in out] == [
        (f.track_number, f.timecode_ms, f.keyframe, f.data) for f in source_frames
    ]
    with av.open(io.BytesIO(chunks_for(header, fragments)[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) == 45

"""EBML primitives: VINTs, IDs, the element writer and the KVS tag writer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvsmock.media import ebml
from kvsmock.media.ebml.walker import EBMLWalker, Kind, Schema
from kvsmock.media.ebml.walker_events import ElementStart
from kvsmock.media.matroska.tags import parse_tags


@pytest.mark.parametrize("width", range(1, 9))
def test_vint_round_trip_at_every_width(width):
    largest = (1 << (7 * width)) - 2  # all ones is the unknown marker
    for value in (0, 1, largest // 2, largest):
        encoded = ebml.encode_vint(value, width)
        assert len(encoded) == width
        assert ebml.read_vint(encoded) == (value, width)
        assert ebml.read_vint(b"\xaa" + encoded + b"\x00", 1) == (value, width)


@pytest.mark.parametrize("width", range(1, 9))
def test_unknown_size_marker_at_every_width(width):
    marker = ebml.encode_size(None, width)
    assert len(marker) == width
    assert ebml.read_vint(marker) == (None, width)
    assert ebml.unknown_size_header(ebml.CLUSTER, width)[4:] == marker


def test_minimal_width_avoids_the_unknown_marker():
    assert ebml.encode_vint(126) == b"\xfe"
    assert ebml.encode_vint(127) == b"\x40\x7f"  # 0xFF would mean "unknown"
    assert ebml.encode_size(None) == b"\x01\xff\xff\xff\xff\xff\xff\xff"
    with pytest.raises(ValueError):
        ebml.encode_vint(127, 1)


@given(st.integers(min_value=0, max_value=(1 << 56) - 2))
def test_vint_round_trip_any_value(value):
    encoded = ebml.encode_vint(value)
    assert ebml.read_vint(encoded) == (value, len(encoded))
    for cut in range(len(encoded)):
        assert ebml.read_vint(encoded[:cut]) is None  # incomplete, not wrong


def test_invalid_and_incomplete_vints():
    with pytest.raises(ebml.EBMLError):
        ebml.read_vint(b"\x00\x01")
    with pytest.raises(ebml.EBMLError):
        ebml.read_id(b"\x08\x00\x00\x00\x00")  # 5-byte ID: beyond EBMLMaxIDLength
    with pytest.raises(ebml.EBMLError):
        ebml.read_id(b"\xff")
    assert ebml.read_id(b"\x1a\x45") is None
    assert ebml.read_id(b"\x1a\x45\xdf\xa3") == (ebml.EBML, 4)
    assert ebml.read_element_header(b"\x1f\x43\xb6\x75\xff") == (ebml.CLUSTER, None, 5)
    assert ebml.read_element_header(ebml.UNKNOWN_SIZE_SEGMENT_HEADER) == (ebml.SEGMENT, None, 12)


def test_element_writers():
    assert ebml.encode_id(ebml.SEGMENT) == bytes.fromhex("18538067")
    assert ebml.encode_id(ebml.VOID) == b"\xec"
    assert ebml.uint_element(ebml.TIMECODE, 0) == b"\xe7\x81\x00"
    assert ebml.uint_element(ebml.TIMECODE, 1795301054872, width=8)[:2] == b"\xe7\x88"
    assert ebml.element(ebml.VOID, b"\x00" * 3, size_width=4) == b"\xec\x10\x00\x00\x03\x00\x00\x00"
    assert ebml.string_element(ebml.DOC_TYPE, "matroska") == b"\x42\x82\x88matroska"
    assert ebml.decode_float(ebml.float_element(ebml.DURATION, 1234.5)[3:]) == 1234.5
    assert ebml.decode_int(ebml.int_element(ebml.REFERENCE_BLOCK, -40)[2:]) == -40
    assert ebml.decode_string(b"matroska\x00") == "matroska"
    assert ebml.UNKNOWN_SIZE_SEGMENT_HEADER == bytes.fromhex("18538067 01 FF FF FF FF FF FF FF".replace(" ", ""))
    header = ebml.ebml_header()
    (element_id, start, end), = list(ebml.iter_elements(header))
    assert element_id == ebml.EBML and end == len(header)


def test_iter_elements_rejects_overflow():
    payload = ebml.element(ebml.TAG_NAME, b"abc")
    with pytest.raises(ebml.EBMLError):
        list(ebml.iter_elements(payload[:-1]))


def test_kvs_tags_layout_matches_the_spec_example():
    block = ebml.kvs_tags(
        [
            ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", "91343852333181432392682062607743920146159169392"),
            ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", "1511852109.126"),
            ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", "1511852108.513"),
        ]
    )
    expected_start = bytes.fromhex(
        "1254C367100000EB" "7373100000E5" "67C81000005B" "45A3100000" "20"
    ) + b"AWS_KINESISVIDEO_FRAGMENT_NUMBER" + bytes.fromhex("44871000002F")
    assert block.startswith(expected_start)
    assert len(block) == 8 + 0xEB


def _top_level_tags(data: bytes) -> list[bytes]:
    """Every Tags element directly under a Segment, as bytes."""
    walker = EBMLWalker(
        Schema({ebml.SEGMENT: Kind.MASTER}, {ebml.SEGMENT: frozenset({ebml.EBML, ebml.SEGMENT})})
    )
    walker.feed(data)
    walker.close()
    found = []
    while (event := walker.next_event()) is not None:
        if event.id == ebml.TAGS and event.depth == 1 and not isinstance(event, ElementStart):
            found.append(data[event.offset : event.end])
    return found


def test_kvs_tags_is_byte_identical_to_real_getmedia_output(reference):
    data = reference("output_get_media.mkv")
    kvs_blocks = [t for t in _top_level_tags(data) if b"AWS_KINESISVIDEO" in t]
    assert len(kvs_blocks) == 10  # a leading and a trailing block per chunk
    for original in kvs_blocks:
        pairs = parse_tags(memoryview(original)[8:])
        assert ebml.kvs_tags(pairs) == original


def test_byte_queue_hands_out_ranges_as_the_chunks_they_arrived_in():
    from kvsmock.media.ebml.byte_queue import ByteQueue

    queue = ByteQueue()
    chunks = [b"abcd", b"efgh", b"ijkl"]
    for chunk in chunks:
        queue.append(chunk)
    whole = b"".join(chunks)
    for start in range(len(whole)):
        for end in range(start, len(whole) + 1):
            views = queue.views(start, end)
            assert b"".join(views) == whole[start:end] == queue.get(start, end)
    middle = queue.views(2, 10)
    assert middle[1] is chunks[1]  # a chunk taken whole is not copied
    assert [bytes(v) for v in middle] == [b"cd", b"efgh", b"ij"] and middle[0].obj is chunks[0]
    with pytest.raises(ValueError):
        queue.views(0, 13)

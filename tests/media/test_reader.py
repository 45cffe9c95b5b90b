"""The consumer-side parser on real GetMedia captures and on crafted input."""

from __future__ import annotations

import io

import pytest

from kvsmock.media import ebml, read_fragments
from kvsmock.media.get_media.reader import FragmentReader
from kvsmock.media.matroska.tags import (
    CONTINUATION_TOKEN,
    FRAGMENT_NUMBER,
    MILLIS_BEHIND_NOW,
    PRODUCER_TIMESTAMP,
    SERVER_TIMESTAMP,
)

KVS_TAGS = {FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP, MILLIS_BEHIND_NOW, CONTINUATION_TOKEN}


class Trickle:
    """A StreamingBody stand-in that hands out at most ``n`` bytes per read."""

    def __init__(self, data: bytes, n: int):
        self._file = io.BytesIO(data)
        self._n = n

    def read(self, amt: int = -1) -> bytes:
        return self._file.read(min(amt, self._n))


def test_output_get_media(reference):
    got = list(read_fragments(reference("output_get_media.mkv")))
    assert len(got) == 5
    for fragment in got:
        assert KVS_TAGS <= fragment.tags.keys()
        assert len(fragment.fragment_number) == 47
        assert fragment.continuation_token == fragment.fragment_number
        assert len(fragment.frames) == 60 and fragment.frames[0].keyframe
        assert fragment.tracks[0].codec_id == "V_MPEG4/ISO/AVC"
        assert fragment.tracks[0].width == 640 and fragment.tracks[0].height == 360
        assert not fragment.is_error and not fragment.truncated
    first = got[0]
    assert first.fragment_number == "91343852333181432392682062607743920146159169392"
    assert first.server_timestamp == 1511852109.126
    assert first.producer_timestamp == 1511852108.513
    assert first.millis_behind_now == 15858
    assert first.tags["MAJOR_BRAND"] == "M4V "  # producer tags are there too
    assert [f.producer_timestamp for f in got] == sorted(f.producer_timestamp for f in got)
    # absolute frame times: cluster timecode + block timecode
    assert first.frames[1].timecode_ms - first.frames[0].timecode_ms > 0
    assert first.frames[0].timecode_ms == first.cluster_timecode


def test_non_increasing_timecode_capture_ends_without_trailing_tags(reference):
    got = list(read_fragments(reference("output-get-media-non-increasing-timecode.mkv")))
    assert len(got) == 12
    assert all(KVS_TAGS <= f.tags.keys() for f in got[:11])
    assert got[-1].fragment_number and got[-1].continuation_token is None
    assert got[-1].truncated  # the capture stops inside the last frame


def test_mixed_tags_capture_exposes_producer_tags(reference):
    got = list(read_fragments(reference("test_mixed_tags.mkv")))
    assert len(got) == 10
    for fragment in got:
        for i in range(5):
            assert fragment.tags[f"testTag_{i}"] == f"testTag_{i}_Value"
        assert KVS_TAGS <= fragment.tags.keys()
        assert fragment.tracks[0].codec_id == "V_MS/VFW/FOURCC"  # NUL padding stripped
    assert got[0].producer_timestamp == 0.0 and got[1].producer_timestamp == 5.0


@pytest.mark.parametrize(
    "name, count",
    [
        ("output_get_media_sparse_fragments.mkv", 3),
        ("output_get_media_sparse_fragments_merged.mkv", 3),
        ("kinesis_video_renderer_example_output.mkv", 8),
        ("output-get-media-equal-timecode.mkv", 2),
        ("empty-mkv-with-tags.mkv", 1),
        ("test_tags_empty_cluster.mkv", 1),
        ("vogels_330.mkv", 9),
    ],
)
def test_other_captures(reference, name, count):
    got = list(read_fragments(reference(name)))
    assert len(got) == count
    if "output" in name:
        assert len({f.fragment_number for f in got}) == count


def test_empty_mkv_with_tags_has_tags_and_no_frames(reference):
    (fragment,) = read_fragments(reference("empty-mkv-with-tags.mkv"))
    assert fragment.fragment_number.endswith("3997")
    assert fragment.frames == [] and not fragment.has_cluster


def test_sources_and_read_sizes_give_the_same_fragments(reference, tmp_path):
    data = reference("test_mixed_tags.mkv")
    expected = list(read_fragments(data))
    path = tmp_path / "capture.mkv"
    path.write_bytes(data)
    assert list(read_fragments(Trickle(data, 7))) == expected
    assert list(read_fragments(io.BytesIO(data), read_size=13)) == expected
    assert list(read_fragments(path)) == expected
    assert list(read_fragments(str(path))) == expected
    assert list(read_fragments(iter([data[:100], data[100:]]))) == expected
    assert list(read_fragments(bytearray(data))) == expected


def test_fragments_come_out_as_soon_as_the_continuation_token_is_read(reference):
    data = reference("output_get_media.mkv")
    reader = FragmentReader()
    first = data.index(b"\x1a\x45\xdf\xa3", 1)  # the second chunk starts here
    assert len(reader.feed(data[:first])) == 1


def test_laced_blocks_are_split_into_frames():
    def cluster_with(block_payload: bytes) -> bytes:
        return ebml.master_element(
            ebml.CLUSTER,
            [ebml.uint_element(ebml.TIMECODE, 100), ebml.element(ebml.SIMPLE_BLOCK, block_payload)],
        )

    head = b"\x81\x00\x05"  # track 1, relative timecode 5
    xiph = head + b"\x82" + b"\x02" + b"\x02\x03" + b"aabbbcccc"  # 3 frames: 2, 3, rest
    ebml_laced = head + b"\x86" + b"\x02" + b"\x82" + b"\xc0" + b"aabbbcccc"  # sizes 2, 2+1=3, rest
    fixed = head + b"\x84" + b"\x02" + b"aaabbbccc"
    data = b"".join(
        [ebml.ebml_header(), ebml.UNKNOWN_SIZE_SEGMENT_HEADER]
        + [cluster_with(block) for block in (xiph, ebml_laced, fixed)]
    )
    got = list(read_fragments(data))
    assert [[f.data for f in fragment.frames] for fragment in got] == [
        [b"aa", b"bbb", b"cccc"],
        [b"aa", b"bbb", b"cccc"],
        [b"aaa", b"bbb", b"ccc"],
    ]
    assert all(f.timecode_ms == 105 for fragment in got for f in fragment.frames)


def test_block_groups_and_keyframes():
    group = ebml.master_element(
        ebml.BLOCK_GROUP,
        [ebml.element(ebml.BLOCK, b"\x81\x00\x28\x00delta"), ebml.int_element(ebml.REFERENCE_BLOCK, -40)],
    )
    key = ebml.master_element(ebml.BLOCK_GROUP, [ebml.element(ebml.BLOCK, b"\x81\x00\x00\x00key")])
    cluster = ebml.master_element(ebml.CLUSTER, [ebml.uint_element(ebml.TIMECODE, 0), key, group])
    (fragment,) = read_fragments(ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + cluster)
    assert [(f.data, f.keyframe, f.timecode_ms) for f in fragment.frames] == [(b"key", True, 0), (b"delta", False, 40)]


def test_invalid_data_raises():
    with pytest.raises(ebml.EBMLError):
        list(read_fragments(b"\x00" * 16))

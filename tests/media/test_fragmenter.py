"""The PutMedia body parser: fragments, split invariance, every MediaError, real producer bodies."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvsmock.media import ebml
from kvsmock.media.ebml.writing import tags_element as producer_tags
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, cluster_element, header_elements, write_mkv
from kvsmock.media.matroska.tags import END_OF_FRAGMENT
from kvsmock.media.put_media import (
    ErrorId,
    FragmentComplete,
    Fragmenter,
    FragmentStarted,
    FragmentTags,
    HeaderParsed,
    MediaError,
)

VIDEO = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x42", width=64, height=48)
AUDIO = TrackSpec(2, "A_AAC", ebml.TRACK_TYPE_AUDIO, b"\x12\x10", sampling_rate=48000.0, channels=1)


def run(body: bytes, pieces: list[bytes] | None = None, **limits) -> list:
    """All events for ``body`` fed in ``pieces`` (default: at once), then close()."""
    fragmenter = Fragmenter(**limits)
    events = []
    for piece in pieces if pieces is not None else [body]:
        events += fragmenter.feed(piece)
    return events + fragmenter.close()


def fragments(events) -> list:
    return [e.fragment for e in events if isinstance(e, FragmentComplete)]


def tags_by_fragment(events) -> dict[int, list]:
    """Producer tags of each fragment by timecode, whether they came with it or after it."""
    out: dict[int, list] = {}
    for e in events:
        if isinstance(e, FragmentComplete):
            out[e.fragment.timecode] = list(e.fragment.tags)
        elif isinstance(e, FragmentTags):
            out[e.timecode] += e.tags
    return out


def errors(events) -> list[MediaError]:
    return [e for e in events if isinstance(e, MediaError)]


def frames(timecode: int, count: int, step: int = 40, track: int = 1, size: int = 100) -> list[Packet]:
    return [Packet(track, timecode + i * step, i == 0, bytes([i % 256]) * size) for i in range(count)]


def body(tracks=(VIDEO,), clusters=(), *, ebml_header=None, between=b"") -> bytes:
    """A body from explicit clusters: each an already-encoded element or (timecode, packets)."""
    parts = [ebml_header or ebml.ebml_header(), ebml.UNKNOWN_SIZE_SEGMENT_HEADER, header_elements(list(tracks))]
    for cluster in clusters:
        parts.append(cluster if isinstance(cluster, bytes) else cluster_element(*cluster))
        parts.append(between)
    return b"".join(parts)


def simple_block(track: int, relative: int, keyframe: bool, data: bytes, size_width=None) -> bytes:
    payload = ebml.encode_vint(track) + relative.to_bytes(2, "big", signed=True) + (b"\x80" if keyframe else b"\0")
    return ebml.element(ebml.SIMPLE_BLOCK, payload + data, size_width)


# ---------------------------------------------------------------- normal operation


def test_sample_body_gives_one_fragment_per_cluster(video_body):
    events = run(video_body)
    assert isinstance(events[0], HeaderParsed)
    header = events[0]
    assert [t.codec_id for t in header.tracks] == ["V_MPEG4/ISO/AVC"]
    assert header.tracks[0].width == 320 and header.tracks[0].height == 240
    assert header.tracks[0].codec_private[0] == 1  # AVCC
    assert header.timecode_scale == 1_000_000
    assert video_body.startswith(header.ebml_header)
    assert not errors(events)
    got = fragments(events)
    assert [f.timecode for f in got] == [0, 2000, 4000]
    assert all(f.duration == 2000 and f.frame_count == 50 and f.keyframe for f in got)
    assert all(f.track_numbers == {1} and f.frames_per_track == {1: 50} for f in got)
    # cluster bytes are exact slices of the upload, header bytes everything between Segment and first Cluster
    for f in got:
        assert video_body[f.offset : f.offset + f.size] == f.cluster_bytes
        assert f.cluster_bytes.startswith(bytes.fromhex("1F43B675"))
    segment_data = len(header.ebml_header) + 12
    assert header.header_bytes == video_body[segment_data : got[0].offset]
    # each FragmentStarted precedes its FragmentComplete
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["HeaderParsed"] + ["FragmentStarted", "FragmentComplete"] * 3


def sdk_body(media, **options) -> bytes:
    """A body laid out as the C producer SDK sends it: unknown-size clusters, 8-byte sizes, tags, EOF marker."""
    return write_mkv(
        media.tracks,
        media.packets,
        start_ms=1_700_000_000_000,
        unknown_size_clusters=True,
        size_width=8,
        fragment_tags=lambda i: [(f"KEY_{k}", f"value-{i}-{k}") for k in range(3)],
        end_of_fragment_tags=True,
        **options,
    )


def test_sdk_style_body(av_media):
    data = sdk_body(av_media)
    events = run(data)
    assert not errors(events)
    got = fragments(events)
    assert len(got) == 4
    assert [f.timecode for f in got] == [1_700_000_000_000 + 1000 * i for i in range(4)]
    for i, f in enumerate(got):
        assert f.cluster_bytes[4] == 0xFF  # unknown-size cluster kept as uploaded
        assert f.tags == [(f"KEY_{k}", f"value-{i}-{k}") for k in range(3)]
        assert f.tags_after.count(b"\x12\x54\xc3\x67") == 4  # three tags and the END_OF_FRAGMENT marker
        assert f.track_numbers == {1, 2}
        assert f.frames_per_track[1] == 25
        assert 1000 <= f.duration <= 1030


def test_end_of_fragment_marker_completes_the_fragment_at_once(av_media):
    data = sdk_body(av_media)
    second = fragments(run(data))[1]
    # everything up to the end of the first fragment's END_OF_FRAGMENT Tags, none of the next Cluster
    assert len(fragments(Fragmenter().feed(data[: second.offset]))) == 1
    assert len(fragments(Fragmenter().feed(data[: second.offset - 1]))) == 0


def test_unknown_size_cluster_tags_without_marker_wait_for_the_next_cluster():
    tagged = producer_tags([("a", "1")])
    known = cluster_element(0, frames(0, 5))
    first = ebml.unknown_size_header(ebml.CLUSTER, 8) + known[known.index(b"\xe7"):]  # same children, unknown size
    data = body(clusters=[first, (200, frames(200, 5))], between=tagged)
    cut = data.index(first) + len(first) + len(tagged)
    fragmenter = Fragmenter()
    assert fragments(fragmenter.feed(data[:cut])) == []  # more tags may still follow
    rest = fragmenter.feed(data[cut:]) + fragmenter.close()
    got = fragments(rest)
    assert [f.tags for f in got][0] == [("a", "1")]
    assert got[0].tags_after == tagged
    assert got[0].cluster_bytes == first


def test_known_size_cluster_is_complete_at_its_last_byte_and_later_tags_follow_it():
    tagged = producer_tags([("a", "1")])
    marker = producer_tags([(END_OF_FRAGMENT, "")])
    first = cluster_element(0, frames(0, 5))
    data = body(clusters=[first, (200, frames(200, 5))], between=tagged + marker)
    end = data.index(first) + len(first)
    fragmenter = Fragmenter()
    assert fragments(fragmenter.feed(data[: end - 1])) == []
    done = fragmenter.feed(data[end - 1 : end])
    assert [f.cluster_bytes for f in fragments(done)] == [first]
    assert fragments(done)[0].tags_after == b"" and fragments(done)[0].tags == []
    later = fragmenter.feed(data[end:]) + fragmenter.close()
    trailing = [e for e in later if isinstance(e, FragmentTags) and e.timecode == 0]
    # one event per Tags element; the marker's element carries no tag of its own
    assert [(e.timecode, e.data, e.tags) for e in trailing] == [(0, tagged, [("a", "1")]), (0, marker, [])]
    assert [f.timecode for f in fragments(later)] == [200]
    assert not errors(later)


def test_tag_limit_counts_tags_that_follow_a_completed_fragment():
    tags = b"".join(producer_tags([(f"k{i}", "v")]) for i in range(11))
    events = run(body(clusters=[(0, frames(0, 3))], between=tags))
    assert len(fragments(events)) == 1  # stored before the eleventh tag arrived
    assert len([e for e in events if isinstance(e, FragmentTags)]) == 10
    expect_error(events, 4009)


SPLIT = st.lists(st.integers(min_value=0, max_value=10**9), max_size=25)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=SPLIT)
def test_any_split_gives_identical_events_sdk_style(av_media, cuts):
    data = sdk_body(av_media)
    assert run(data, split(data, cuts)) == run(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=SPLIT)
def test_any_split_gives_identical_events_known_size(video_body, cuts):
    assert run(video_body, split(video_body, cuts)) == run(video_body)


def open_bytes_then_rest(data: bytes, pieces: list[bytes]) -> list[tuple[bytes, bytes]]:
    """For each fragment: what ``open_cluster_bytes`` gave while it arrived, and its whole Cluster."""
    fragmenter = Fragmenter()
    taken, out = b"", []
    for piece in [*pieces, None]:
        for event in fragmenter.feed(piece) if piece is not None else fragmenter.close():
            if isinstance(event, FragmentComplete):
                out.append((taken, event.fragment.cluster_bytes))
                taken = b""
        taken += b"".join(bytes(p) for p in fragmenter.open_cluster_bytes(len(taken)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=SPLIT)
def test_open_cluster_bytes_are_only_ever_the_clusters_own(av_media, cuts):
    """Taken as the body arrives, split anywhere, they are a prefix of the Cluster: never the next one's head."""
    data = sdk_body(av_media)
    got = open_bytes_then_rest(data, split(data, cuts))
    assert len(got) == len(fragments(run(data)))
    for taken, cluster in got:
        assert cluster.startswith(taken)


@pytest.mark.parametrize("layout", ["known-size", "sdk"])
def test_open_cluster_bytes_follow_the_frames_in(av_media, layout):
    data = body(clusters=[(t, frames(t, 5, size=3000)) for t in (0, 400)]) if layout == "known-size" else sdk_body(av_media)
    got = open_bytes_then_rest(data, [data[i : i + 1000] for i in range(0, len(data), 1000)])
    assert len(got) == len(fragments(run(data)))
    for taken, cluster in got:  # all but the last 1000-byte piece and the frame it was in was taken early
        assert cluster.startswith(taken) and len(cluster) - len(taken) < 1000 + max(3000, len(cluster) // 2)
        assert len(taken) > len(cluster) // 3


def test_byte_at_a_time_equals_all_at_once():
    data = body(
        tracks=[VIDEO, AUDIO],
        clusters=[(t, frames(t, 4) + frames(t + 10, 3, 40, 2, 20)) for t in (0, 200, 400)],
        between=producer_tags([("k", "v")]),
    )
    whole = run(data)
    assert len(fragments(whole)) == 3
    assert run(data, [data[i : i + 1] for i in range(len(data))]) == whole


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=SPLIT)
def test_any_split_of_the_c_producer_body(reference, cuts):
    data = reference("producer-c-putmedia-body.mkv")
    assert run(data, split(data, cuts)) == run(data)


# ---------------------------------------------------------------- the real C producer body


def test_c_producer_body_is_cut_at_the_end_of_fragment_tags(reference):
    data = reference("producer-c-putmedia-body.mkv")
    events = run(data)
    assert not errors(events)
    got = fragments(events)
    assert len(got) == 5
    assert [f.frame_count for f in got] == [45, 45, 45, 45, 16]
    assert all(f.keyframe and f.cluster_bytes[4] == 0xFF for f in got)
    assert all(f.timecode > 1_700_000_000_000 for f in got)  # absolute ms timecodes
    assert [f.duration for f in got[:4]] == [1800] * 4
    for f in got:
        assert [name for name, _ in f.tags] == [f"TEST_KEY_{k}" for k in range(1, 10)]
        assert END_OF_FRAGMENT.encode() in f.tags_after
    header = events[0]
    assert header.doc_type == "matroska"
    assert header.tracks[0].codec_id == "V_MPEG4/ISO/AVC"
    # every fragment is complete as soon as its END_OF_FRAGMENT Tags is read
    for index, following in enumerate(got[1:], start=1):
        fragmenter = Fragmenter()
        assert len(fragments(fragmenter.feed(data[: following.offset]))) == index
    fragmenter = Fragmenter()
    assert len(fragments(fragmenter.feed(data))) == 5  # even the last one, before close()


@pytest.mark.parametrize(
    "name, count",
    [("clusters.mkv", 8), ("vogels_330.mkv", 9), ("bezos_vogels.mkv", 5), ("vogels_480.mkv", 9)],
)
def test_ordinary_mkv_files_are_accepted(reference, name, count):
    events = run(reference(name))
    assert not errors(events)
    assert len(fragments(events)) == count


def test_getmedia_output_is_rejected_after_its_first_fragment(reference):
    events = run(reference("output_get_media.mkv"))
    assert len(fragments(events)) == 1
    assert errors(events)[0].code == 4006


# ---------------------------------------------------------------- quirks


def test_producer_quirks_are_accepted():
    padded_codec = TrackSpec(1, "V_MPEG4/ISO/AVC" + "\0" * 17, ebml.TRACK_TYPE_VIDEO, b"\x01")
    void = ebml.element(ebml.VOID, b"\0" * 5)
    crc = ebml.element(ebml.CRC32, b"\0\0\0\0")
    header = ebml.master_element(
        ebml.EBML,
        [ebml.uint_element(ebml.EBML_VERSION, 1), ebml.element(ebml.DOC_TYPE, b"matroska\0")],
    )
    cluster_payload = b"".join(
        [
            crc,
            ebml.uint_element(ebml.TIMECODE, 5000, width=8),
            ebml.uint_element(ebml.POSITION, 0),
            ebml.uint_element(ebml.PREV_SIZE, 0),
            void,
            simple_block(1, 0, True, b"K" * 50, size_width=8),
            simple_block(1, 40, False, b"P" * 50, size_width=8),
            ebml.master_element(
                ebml.BLOCK_GROUP,
                [
                    ebml.element(ebml.BLOCK, b"\x81\x00\x50\x00" + b"B" * 30),
                    ebml.int_element(ebml.REFERENCE_BLOCK, -40),
                    ebml.uint_element(ebml.BLOCK_DURATION, 33),
                ],
            ),
            void,
        ]
    )
    unknown = ebml.unknown_size_header(ebml.CLUSTER, 1) + cluster_payload
    known = ebml.element(ebml.CLUSTER, cluster_payload.replace(b"\x13\x88", b"\x17\x70"), 8)  # timecode 6000
    data = b"".join(
        [
            header,
            void,
            ebml.UNKNOWN_SIZE_SEGMENT_HEADER,
            crc,
            header_elements([padded_codec]),
            void,
            unknown,
            void,
            ebml.element(ebml.CUES, b"\0" * 4),
            known,
            crc,
        ]
    )
    events = run(data)
    assert not errors(events), errors(events)
    assert events[0].tracks[0].codec_id == "V_MPEG4/ISO/AVC"
    got = fragments(events)
    assert [f.timecode for f in got] == [5000, 6000]
    assert got[0].frame_count == 3 and got[0].keyframe
    assert got[0].duration == 80 + 33  # the last frame is a BlockGroup with a BlockDuration
    assert got[0].cluster_bytes == unknown + void  # Void is a global element: a child of the open Cluster


def test_unknown_size_cluster_ends_at_cues_and_at_end_of_body():
    blocks = b"".join(simple_block(1, 40 * i, i == 0, b"x" * 10) for i in range(3))
    cluster = ebml.unknown_size_header(ebml.CLUSTER, 8) + ebml.uint_element(ebml.TIMECODE, 0) + blocks
    last = ebml.unknown_size_header(ebml.CLUSTER, 2) + ebml.uint_element(ebml.TIMECODE, 0x99) + blocks
    data = body(clusters=[cluster, ebml.element(ebml.CUES, b"\xbb\x80"), last])
    got = fragments(run(data))
    assert [f.timecode for f in got] == [0, 0x99]
    assert [f.cluster_bytes for f in got] == [cluster, last]


def test_duration_without_default_duration_uses_the_average_interval():
    data = body(clusters=[(0, frames(0, 5, step=30)), (150, frames(150, 1))])
    got = fragments(run(data))
    assert got[0].duration == 4 * 30 + 30
    assert got[1].duration == 0  # one frame, no duration known


def test_webm_doc_type_is_accepted_and_laced_frames_are_counted():
    # EBML lacing, 3 frames: sizes 2, 2 (+0 as a signed VINT), the rest (16)
    laced = ebml.element(ebml.SIMPLE_BLOCK, b"\x81\x00\x00\x86\x02" + b"\x82\xbf" + b"x" * 20)
    data = body(clusters=[ebml.master_element(ebml.CLUSTER, [ebml.uint_element(ebml.TIMECODE, 0), laced])],
                ebml_header=ebml.ebml_header("webm"))
    (fragment,) = fragments(run(data))
    assert fragment.frame_count == 3


@pytest.mark.parametrize(
    "lacing",
    [
        pytest.param(b"\x86\x02\x82\x83", id="ebml-negative-size"),
        pytest.param(b"\x82\x02\xff\xff\xff\xff", id="xiph-past-the-end"),
        pytest.param(b"\x86\x02\x00", id="ebml-invalid-vint"),
    ],
)
def test_invalid_lacing_is_invalid_mkv(lacing):
    laced = ebml.element(ebml.SIMPLE_BLOCK, b"\x81\x00\x00" + lacing + b"x" * 4)
    data = body(clusters=[ebml.master_element(ebml.CLUSTER, [ebml.uint_element(ebml.TIMECODE, 0), laced])])
    expect_error(run(data), 4006)


# ---------------------------------------------------------------- errors


def expect_error(events, code: int) -> MediaError:
    errs = errors(events)
    assert errs, events
    assert errs[0].code == code and errs[0].name == ErrorId(code).name, errs[0]
    assert isinstance(events[-1], MediaError)
    return errs[0]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not an mkv file at all", id="garbage"),
        pytest.param(b"\x00\x00\x00\x00", id="invalid-vint"),
        pytest.param(ebml.ebml_header("avi") + ebml.UNKNOWN_SIZE_SEGMENT_HEADER, id="doc-type"),
        pytest.param(ebml.ebml_header() + ebml.element(ebml.INFO, b""), id="no-segment"),
        pytest.param(
            body(clusters=[ebml.element(ebml.CLUSTER, ebml.uint_element(ebml.TIMECODE, 0) + b"\xa3\x90\x81\0\0\x80")]),
            id="overflowing-child",
        ),
        pytest.param(body(clusters=[ebml.master_element(ebml.CLUSTER, [simple_block(1, 0, True, b"x")])]),
                     id="frame-before-timecode"),
        pytest.param(body(clusters=[(0, frames(0, 3))])[:-7], id="truncated"),
        pytest.param(body(clusters=[ebml.unknown_size_header(ebml.TRACKS, 1)]), id="unknown-size-not-allowed"),
    ],
)
def test_invalid_mkv_data(data):
    expect_error(run(data), 4006)


def test_unknown_size_on_a_leaf_is_invalid():
    data = body(clusters=[b"\x1f\x43\xb6\x75\xff\xe7\x81\x00\xa3\xff"])
    expect_error(run(data), 4006)


def test_second_segment_is_invalid_but_earlier_fragments_stay(video_body):
    events = run(video_body + video_body)
    assert len(fragments(events)) == 3
    assert "second" in expect_error(events, 4006).message


def test_error_stops_the_parser(video_body):
    fragmenter = Fragmenter()
    assert errors(fragmenter.feed(b"\x1a\x45\xdf\xa3\x00\x00"))
    assert fragmenter.failed
    assert fragmenter.feed(video_body) == []
    assert fragmenter.close() == []


def test_more_than_three_tracks():
    tracks = [TrackSpec(n, "V_MPEG4/ISO/AVC", 1) for n in range(1, 5)]
    expect_error(run(body(tracks=tracks, clusters=[(0, frames(0, 2))])), 4012)
    assert not errors(run(body(tracks=tracks[:3], clusters=[(0, [p for n in (1, 2, 3) for p in frames(0, 2, track=n)])])))


def test_frame_for_an_undeclared_track():
    events = run(body(clusters=[(0, frames(0, 2)), (100, frames(100, 2) + frames(150, 1, track=3))]))
    assert len(fragments(events)) == 1
    error = expect_error(events, 4010)
    assert error.timecode == 100


def test_fragment_missing_frames_for_a_declared_track():
    both = frames(0, 3) + frames(5, 3, track=2, size=10)
    events = run(body(tracks=[VIDEO, AUDIO], clusters=[(0, both), (200, frames(200, 3))]))
    assert len(fragments(events)) == 1
    assert expect_error(events, 4011).timecode == 200


@pytest.mark.parametrize("second", [80, 79, 0])
def test_timecode_not_after_the_previous_fragment(second):
    events = run(body(clusters=[(0, frames(0, 3)), (second, frames(second, 3))]))  # last frame of #1 at 80
    assert len(fragments(events)) == 1
    expect_error(events, 4004)


def test_frame_earlier_than_the_previous_fragment():
    late = [Packet(1, 100, True, b"x"), Packet(1, 60, False, b"y")]
    expect_error(run(body(clusters=[(0, frames(0, 3)), (100, late)])), 4004)


def test_fragment_too_large(video_body):
    events = run(video_body, max_fragment_size=10_000)
    expect_error(events, 4001)
    assert not fragments(events)


def test_unknown_size_fragment_too_large(av_media):
    data = sdk_body(av_media)
    limit = max(len(f.cluster_bytes) for f in fragments(run(data))) - 1
    expect_error(run(data, max_fragment_size=limit), 4001)


def test_fragment_too_long():
    events = run(body(clusters=[(0, [Packet(1, 0, True, b"a"), Packet(1, 21000, False, b"b")])]))
    expect_error(events, 4002)
    short = body(clusters=[(0, [Packet(1, t, t == 0, b"a") for t in range(0, 19001, 1000)])])  # 20 s
    assert fragments(run(short))
    expect_error(run(short, max_fragment_duration=10), 4002)


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param([(f"k{i}", "v") for i in range(11)], id="eleven-tags"),
        pytest.param([("n" * 129, "v")], id="long-name"),
        pytest.param([("name", "v" * 257)], id="long-value"),
    ],
)
def test_fragment_metadata_limits(pairs):
    tags = b"".join(producer_tags([pair]) for pair in pairs)
    events = run(body(clusters=[(0, frames(0, 3))], between=tags))
    expect_error(events, 4009)


def test_ten_tags_and_the_marker_are_within_limits():
    tags = b"".join(producer_tags([(f"k{i}", "v" * 256)]) for i in range(10))
    tags += producer_tags([(END_OF_FRAGMENT, "")])
    events = run(body(clusters=[(0, frames(0, 3)), (200, frames(200, 3))], between=tags))
    assert not errors(events)
    assert [len(tags) for tags in tags_by_fragment(events).values()] == [10, 10]


def test_fragment_started_is_emitted_once_the_timecode_is_read(video_body):
    fragmenter = Fragmenter()
    first_cluster = video_body.index(bytes.fromhex("1F43B675"))
    events = fragmenter.feed(video_body[: first_cluster + 16])  # Cluster header + Timecode, no frame yet
    assert [type(e) for e in events] == [HeaderParsed, FragmentStarted]
    assert events[1].timecode == 0

"""Mutated and random input: the parsers report errors, they never raise anything else.

What a damaged upload or response must still give, checked on every example:

* the Fragmenter (PutMedia) raises nothing; it reports at most one
  :class:`MediaError` (a documented PutMedia ErrorId), as its last event, and
  ignores everything after it;
* its events do not depend on how the body was split;
* every fragment it completes is the uploaded bytes, unchanged, at the offset
  it names, announced by a FragmentStarted for the same Cluster;
* fragments that lay wholly before the first damaged byte are acknowledged
  exactly as they are for the undamaged body (damage later in the body does
  not touch them);
* the reader (GetMedia) raises nothing but ``EBMLError``, yields frames that
  are the bytes sent, gives the same fragments and the same error however the
  bytes arrive, and yields every fragment that was whole before the damage, as
  the undamaged body's.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvsmock.media import FragmentReader, ebml, read_fragments
from kvsmock.media.matroska import write_mkv
from kvsmock.media.put_media import (
    ErrorId,
    FragmentComplete,
    Fragmenter,
    FragmentStarted,
    FragmentTags,
    HeaderParsed,
    MediaError,
)

MUTATIONS = st.lists(st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(0, 255)), min_size=1, max_size=8)
EVENT_TYPES = (HeaderParsed, FragmentStarted, FragmentComplete, FragmentTags, MediaError)


def mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


def first_difference(a: bytes, b: bytes) -> int:
    """The first offset where ``a`` and ``b`` differ (the shorter length if one is a prefix of the other)."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


_BODIES: dict[int, bytes] = {}


def small_body(media) -> bytes:
    """Two 1-second fragments of H.264 + AAC in unknown-size Clusters, each with a producer tag and END_OF_FRAGMENT."""
    body = _BODIES.get(id(media))
    if body is None:
        packets = [p for p in media.packets if p.time_ms < 2000]
        body = _BODIES[id(media)] = write_mkv(
            media.tracks,
            packets,
            unknown_size_clusters=True,
            fragment_tags=lambda i: [("k", "v")],
            end_of_fragment_tags=True,
        )
    return body


def fragment_events(data: bytes, pieces: list[int]) -> list:
    """All events of one upload of ``data`` fed in pieces cut at ``pieces``; checks what holds after the body ends."""
    fragmenter = Fragmenter()
    events = []
    for start, end in zip([0, *pieces], [*pieces, len(data)]):
        events += fragmenter.feed(data[start:end])
    events += fragmenter.close()
    errors = [e for e in events if isinstance(e, MediaError)]
    assert fragmenter.failed == bool(errors)
    if errors:  # parsing stopped: later data is ignored
        assert fragmenter.feed(data[:100]) == [] and fragmenter.close() == []
    return events


def check_events(data: bytes, events: list) -> list:
    """The invariants of one upload's events; returns the fragments completed."""
    assert all(isinstance(e, EVENT_TYPES) for e in events), events
    errors = [e for e in events if isinstance(e, MediaError)]
    assert len(errors) <= 1 and (not errors or events[-1] is errors[0]), errors
    for error in errors:  # a documented PutMedia ErrorId, named as the service names it
        assert ErrorId(error.code).name == error.name and error.message
    headers = [i for i, e in enumerate(events) if isinstance(e, HeaderParsed)]
    assert len(headers) <= 1
    if not errors:  # a body that ended cleanly has had its header reported
        assert headers
    declared = {t.number for t in events[headers[0]].tracks} if headers else set()
    first_start = next((i for i, e in enumerate(events) if isinstance(e, FragmentStarted)), None)
    if first_start is not None:
        assert headers and headers[0] < first_start  # the header is known before any fragment starts
    fragments = []
    started = None
    for event in events:
        if isinstance(event, FragmentStarted):
            started = event
        elif isinstance(event, FragmentComplete):
            fragment = event.fragment
            # Announced by a BUFFERING-worthy FragmentStarted for this very Cluster...
            assert started is not None and (started.timecode, started.offset) == (fragment.timecode, fragment.offset)
            started = None
            # ...and stored as the bytes that were uploaded, unchanged.
            assert data[fragment.offset : fragment.offset + fragment.size] == fragment.cluster_bytes
            assert fragment.cluster_bytes[:4] == b"\x1f\x43\xb6\x75"  # a whole Cluster element
            assert fragment.frame_count == sum(fragment.frames_per_track.values()) > 0
            assert set(fragment.frames_per_track) == set(fragment.track_numbers) == declared  # frames for every track
            assert fragment.first_frame_time <= fragment.last_frame_time
            fragments.append(fragment)
    timecodes = [f.timecode for f in fragments]
    assert timecodes == sorted(set(timecodes))  # each fragment later than the one before
    return fragments


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=MUTATIONS, cuts=st.lists(st.integers(min_value=1, max_value=60_000), max_size=4))
def test_fragmenter_survives_mutations(av_media, edits, cuts):
    original = small_body(av_media)
    data = mutate(original, edits)
    whole = fragment_events(data, [])
    fragments = check_events(data, whole)
    # The events never depend on how the body was split.
    assert fragment_events(data, sorted({c % len(data) for c in cuts})) == whole
    assert fragment_events(data, list(range(4096, len(data), 4096))) == whole

    # What lay before the first damaged byte is acknowledged as for the undamaged body.
    damaged_at = first_difference(original, data)
    intact = [
        f for f in check_events(original, fragment_events(original, []))
        if f.offset + f.size + len(f.tags_after) <= damaged_at
    ]
    assert fragments[: len(intact)] == intact


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cut=st.integers(min_value=0, max_value=400))
def test_fragmenter_survives_random_bytes(data, cut):
    body = ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + data
    whole = fragment_events(body, [])
    check_events(body, whole)
    # After a valid EBML header and Segment start: the header is reported first, or an error says why not.
    assert isinstance(whole[0], (HeaderParsed, MediaError))
    assert fragment_events(body, [min(cut, len(body))]) == whole
    assert fragment_events(body, list(range(1, len(body)))) == whole  # byte by byte


def read_all(data: bytes, piece: int) -> tuple[list, type | None]:
    """The fragments a FragmentReader gives for ``data`` fed ``piece`` bytes at a time, and the error that stopped it."""
    reader, out = FragmentReader(), []
    try:
        for start in range(0, len(data), piece):
            out += reader.feed(data[start : start + piece])
        out += reader.close()
    except ebml.EBMLError as exc:  # the one error the reader raises on bad input
        return out, type(exc)
    return out, None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=MUTATIONS)
def test_reader_raises_only_ebml_errors(av_media, edits):
    original = small_body(av_media)
    data = mutate(original, edits)
    got = []
    error = None
    try:
        for fragment in read_fragments(data, read_size=4096):
            got.append(fragment)
    except ebml.EBMLError as exc:
        error = type(exc)
    for fragment in got:
        assert all(frame.data in data for frame in fragment.frames)  # frames are the bytes as sent

    # However the bytes arrive, the same fragments and the same error.
    assert read_all(data, len(data)) == (got, error)
    assert read_all(data, 4096) == (got, error)
    assert read_all(data, 997) == (got, error)

    # Every fragment whole before the first damaged byte is yielded, as the undamaged body's.
    expected, expected_error = read_all(original, len(original))
    assert expected_error is None and len(expected) == 2
    before_damage = FragmentReader().feed(data[: first_difference(original, data)])  # complete ones only: no close()
    assert got[: len(before_damage)] == before_damage == expected[: len(before_damage)]


def test_reader_keeps_the_fragments_it_completed_before_an_error(av_media):
    """A body whose last element is damaged: the first fragment is whole (the second Cluster has begun)
    before the damage, and is yielded before the error, however the bytes arrive."""
    body = bytearray(small_body(av_media))
    body[body.rindex(b"\x12\x54\xc3\x67") + 4] = 0  # the size of the last Tags element: an invalid VINT
    data = bytes(body)
    for source in ([data[i : i + 4096] for i in range(0, len(data), 4096)], data):  # pieces, then all at once
        got = []
        with pytest.raises(ebml.EBMLError):
            for fragment in read_fragments(source):
                got.append(fragment)
        assert len(got) == 1 and got[0].cluster_timecode == 0, type(source)


def test_undamaged_body_gives_its_fragments(av_media):
    """The baseline the properties above compare with: two whole fragments, read back frame for frame."""
    body = small_body(av_media)
    fragments = check_events(body, fragment_events(body, []))
    assert [f.timecode for f in fragments] == [0, 1000]
    assert [f.tags for f in fragments] == [[("k", "v")], [("k", "v")]]
    read = list(read_fragments(body))
    assert [len(f.frames) for f in read] == [f.frame_count for f in fragments]
    packets = [p.data for p in av_media.packets if p.time_ms < 2000]
    assert sorted(fr.data for f in read for fr in f.frames) == sorted(packets)

"""Mutated and random input: the parsers report errors, they never raise anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvsmock.media import ebml, read_fragments
from kvsmock.media.fragmenter import Fragmenter, MediaError
from kvsmock.media.mkvwriter import write_mkv

MUTATIONS = st.lists(st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(0, 255)), min_size=1, max_size=8)


def mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


def small_body(media) -> bytes:
    packets = [p for p in media.packets if p.time_ms < 2000]
    return write_mkv(
        media.tracks,
        packets,
        unknown_size_clusters=True,
        fragment_tags=lambda i: [("k", "v")],
        end_of_fragment_tags=True,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=MUTATIONS, cut=st.integers(min_value=1, max_value=5000))
def test_fragmenter_survives_mutations(av_media, edits, cut):
    data = mutate(small_body(av_media), edits)
    fragmenter = Fragmenter()
    events = fragmenter.feed(data[:cut]) + fragmenter.feed(data[cut:]) + fragmenter.close()
    errors = [e for e in events if isinstance(e, MediaError)]
    assert len(errors) <= 1 and (not errors or events[-1] is errors[0])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_fragmenter_survives_random_bytes(data):
    fragmenter = Fragmenter()
    fragmenter.feed(ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + data)
    fragmenter.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=MUTATIONS)
def test_reader_raises_only_ebml_errors(av_media, edits):
    data = mutate(small_body(av_media), edits)
    try:
        list(read_fragments(data, read_size=4096))
    except ebml.EBMLError:
        pass

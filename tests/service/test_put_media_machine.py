"""PutMedia's state machine alone: bytes and times in, events out, nothing outside touched."""

from __future__ import annotations

from decimal import Decimal

from kvsmock import sample_mkv
from kvsmock.media import ErrorId
from kvsmock.service.put_media_events import FragmentBegins, FragmentEnds, HeaderReady, UploadFails
from kvsmock.service.put_media_machine import MAX_CONNECTION_SECONDS, PutMediaMachine

START = 1_700_000_000


def _events(machine: PutMediaMachine, media: bytes, now: float = 0.0, piece: int = 997) -> list:
    out = []
    for i in range(0, len(media), piece):
        out += machine.feed(media[i : i + piece], now)
    return out + machine.close()


def test_fragments_begin_and_end_in_order_with_their_producer_timestamps():
    events = _events(PutMediaMachine("ABSOLUTE"), sample_mkv(duration_s=3, fragment_s=1, start=START))
    kinds = [type(e) for e in events]
    assert kinds == [HeaderReady] + [FragmentBegins, FragmentEnds] * 3
    ends = [e for e in events if isinstance(e, FragmentEnds)]
    assert [e.producer_timestamp for e in ends] == [Decimal(START), Decimal(START + 1), Decimal(START + 2)]
    assert all(e.duration_ms == 1000 for e in ends)
    assert [e.fragment.timecode for e in ends] == [b.timecode for b in events if isinstance(b, FragmentBegins)]


def test_relative_timecodes_count_from_the_producer_start():
    machine = PutMediaMachine("RELATIVE", Decimal("1700000000.5"))
    ends = [e for e in _events(machine, sample_mkv(duration_s=2, fragment_s=1, start=0)) if isinstance(e, FragmentEnds)]
    assert [e.producer_timestamp for e in ends] == [Decimal("1700000000.5"), Decimal("1700000001.5")]


def test_a_producer_timestamp_past_year_9999_fails_the_upload():
    machine = PutMediaMachine("RELATIVE", Decimal(253_402_300_799))
    events = _events(machine, sample_mkv(duration_s=2, fragment_s=1, start=0))
    ends = [e for e in events if isinstance(e, FragmentEnds)]
    assert len(ends) == 1  # at 9999-12-31T23:59:59 exactly: still readable
    assert events[-1] == UploadFails(ErrorId.INVALID_PRODUCER_TIMESTAMP, 1000)
    assert machine.failed and machine.feed(b"more", 0.0) == []


def test_the_connection_limit_is_measured_on_the_times_it_is_given():
    media = sample_mkv(duration_s=2, fragment_s=1, start=START)
    machine = PutMediaMachine("ABSOLUTE", opened_at=100.0)
    assert machine.feed(media[:500], 100.0 + MAX_CONNECTION_SECONDS) != [UploadFails(ErrorId.MAX_CONNECTION_DURATION_REACHED)]
    assert machine.feed(media[500:], 100.0 + MAX_CONNECTION_SECONDS + 1) == [
        UploadFails(ErrorId.MAX_CONNECTION_DURATION_REACHED)
    ]


def test_broken_media_fails_with_the_fragmenters_error():
    media = sample_mkv(duration_s=1, fragment_s=1, start=START)
    events = _events(PutMediaMachine(), b"\x00" * 16 + media)
    assert events == [UploadFails(ErrorId.INVALID_MKV_DATA, None)]

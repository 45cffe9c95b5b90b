"""A stream's live GetMedia fan-out: caught-up readers are sent each new fragment by one thread, and get
their own thread back whenever that is not enough."""

from __future__ import annotations

import threading

import pytest

from helpers.stored import add_fragment as add
from helpers.stored import new_stream
from kvsmock import clock
from kvsmock.api.get_media import chunk_for
from kvsmock.api.live_fan_out import SHARED_SENDING_FROM, LiveFanOut
from kvsmock.service import encryption
from kvsmock.service.fragments import StoredFragment
from kvsmock.service.streams import Stream


class Sender:
    """A connection that records what the fan-out sends it, and from which thread."""

    def __init__(self, whole: bool = True):
        self.whole = whole
        self.sent: list[bytes] = []
        self.threads: list[str] = []
        self.idents: list[int] = []
        self.got = threading.Event()

    def send_now(self, pieces: list[bytes]) -> bool:
        self.sent.append(b"".join(pieces))
        self.threads.append(threading.current_thread().name)
        self.idents.append(threading.get_ident())
        self.got.set()
        return self.whole

    def flush(self) -> None:
        pass


class Reader(threading.Thread):
    """A caught-up GetMedia waiting in the fan-out until ``stop`` is set."""

    def __init__(self, fan_out: LiveFanOut, stream: Stream, after: str, sender: Sender):
        super().__init__(daemon=True)
        self.args_ = (fan_out, stream, after, sender)
        self.stop = threading.Event()
        self.result: tuple[str, int] | None = None

    def run(self) -> None:
        fan_out, stream, after, sender = self.args_
        self.result = fan_out.wait(stream, after, sender, 30, self.stop.is_set)


@pytest.fixture
def stream(monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    monkeypatch.setattr(clock, "now", lambda: 1_700_000_000.0)  # the chunks' MILLIS_BEHIND_NOW stay the same
    return new_stream()


def parked(fan_out: LiveFanOut, count: int) -> None:
    """Wait until ``count`` readers are parked."""
    assert fan_out.wait_parked(count, 10)


def one_parked(fan_out: LiveFanOut, stream: Stream, sender: Sender) -> tuple[StoredFragment, Reader]:
    """A first fragment stored, and a reader caught up to it parked in ``fan_out`` with ``sender``."""
    first = add(stream, b"first")
    reader = Reader(fan_out, stream, first.number, sender)
    reader.start()
    parked(fan_out, 1)
    return first, reader


def end(stream: Stream, *readers: Reader) -> None:
    for reader in readers:
        reader.stop.set()
    stream.store.wake_all()
    for reader in readers:
        reader.join(10)
        assert not reader.is_alive()


@pytest.mark.parametrize("count", [2, SHARED_SENDING_FROM])
def test_caught_up_readers_are_sent_each_new_fragment_by_the_fan_out_and_stay_parked(stream, count):
    fan_out = LiveFanOut(chunk_for)
    first = add(stream, b"first")
    senders = [Sender() for _ in range(count)]
    readers = [Reader(fan_out, stream, first.number, sender) for sender in senders]
    for reader in readers:
        reader.start()
    parked(fan_out, count)
    for text in (b"second", b"third"):
        for sender in senders:
            sender.got.clear()
        fragment = add(stream, text)
        for sender in senders:
            assert sender.got.wait(10)
        expected = b"".join(chunk_for(stream, fragment))
        assert [sender.sent[-1] for sender in senders] == [expected] * count
        assert text in expected
    assert all(reader.is_alive() for reader in readers)  # still waiting: the fan-out sent for them
    end(stream, *readers)
    assert [reader.result for reader in readers] == [(fragment.number, 2)] * count
    assert {name for sender in senders for name in sender.threads} == {"kvsmock-get-media-fan-out"}
    # a round to many readers is shared by two threads
    assert len({ident for sender in senders for ident in sender.idents[-1:]}) == (1 if count < SHARED_SENDING_FROM else 2)
    assert stream.usage.consumed_bytes == sum(len(sent) for sender in senders for sent in sender.sent)


def test_a_send_that_would_wait_hands_the_reader_back_at_once(stream):
    fan_out = LiveFanOut(chunk_for)
    sender = Sender(whole=False)
    _, reader = one_parked(fan_out, stream, sender)
    second = add(stream, b"second")
    reader.join(10)  # no stop needed: the rest of the chunk is its own to send
    assert reader.result == (second.number, 1)
    assert sender.sent == [b"".join(chunk_for(stream, second))]


def test_a_reader_more_than_one_fragment_behind_catches_up_by_itself(stream):
    building, go_on = threading.Event(), threading.Event()

    def slow_build(stream: Stream, fragment: StoredFragment) -> list[bytes]:
        building.set()
        assert go_on.wait(10)
        return chunk_for(stream, fragment)

    fan_out = LiveFanOut(slow_build)
    sender = Sender()
    _, reader = one_parked(fan_out, stream, sender)
    second = add(stream, b"second")
    assert building.wait(10)  # the fan-out is making the second fragment's chunk ...
    add(stream, b"third")  # ... while two more come
    add(stream, b"fourth")
    go_on.set()
    reader.join(10)  # sent the second, then two behind: handed back without a stop
    assert reader.result == (second.number, 1)
    assert sender.sent == [b"".join(chunk_for(stream, second))]


def test_a_chunk_that_cannot_be_built_leaves_the_readers_to_answer_for_themselves(stream):
    def failing(stream: Stream, fragment: StoredFragment) -> list[bytes]:
        raise RuntimeError("no key")

    fan_out = LiveFanOut(failing)
    sender = Sender()
    first, reader = one_parked(fan_out, stream, sender)
    add(stream, b"second")
    reader.join(10)
    assert reader.result == (first.number, 0) and sender.sent == []


def test_a_reader_that_is_not_caught_up_does_not_park(stream):
    fan_out = LiveFanOut(chunk_for)
    first = add(stream, b"first")
    add(stream, b"second")
    assert fan_out.wait(stream, first.number, Sender(), 30, lambda: False) == (first.number, 0)


def test_stopping_ends_the_wait_and_the_thread_ends_after_the_last_reader(stream):
    fan_out = LiveFanOut(chunk_for)
    first, reader = one_parked(fan_out, stream, Sender())
    thread = fan_out._thread
    assert thread is not None
    end(stream, reader)
    assert reader.result == (first.number, 0)
    thread.join(10)
    assert not thread.is_alive() and fan_out._thread is None


@pytest.mark.parametrize("readers", [0, 1])
def test_a_fragment_stored_while_get_media_is_open_reaches_its_readers_without_being_decrypted(stream, readers,
                                                                                             monkeypatch):
    from helpers.producers import fragment_media, split_at_clusters
    from kvsmock.service.encryption import Sealed
    from kvsmock.service.put_media import PutMediaSession

    header, clusters = split_at_clusters(fragment_media(2))
    stream.get_media_connections = readers
    session = PutMediaSession(stream, "ABSOLUTE")
    acks = session.feed(header + clusters[0] + clusters[1][:4]) + session.close()  # the next Cluster's head ends it
    assert "PERSISTED" in [a["EventType"] for a in acks]
    opened: list[Sealed] = []
    real_open = Sealed.open
    monkeypatch.setattr(Sealed, "open", lambda self: opened.append(self) or real_open(self))
    first = stream.store.snapshot()[0]
    chunk = b"".join(chunk_for(stream, first))
    assert clusters[0] in chunk
    assert len(opened) == (0 if readers else 1)  # offered as uploaded: no one decrypts it


def test_a_fault_in_the_fan_out_is_logged_and_its_readers_send_for_themselves(stream, caplog):
    class Broken(Sender):
        def send_now(self, pieces: list[bytes]) -> bool:
            raise RuntimeError("a bug")

    fan_out = LiveFanOut(chunk_for)
    first, reader = one_parked(fan_out, stream, Broken())
    add(stream, b"second")
    reader.join(10)
    assert reader.result == (first.number, 0)  # handed back at once, nothing counted as sent
    assert "GetMedia fan-out" in caplog.text and "RuntimeError: a bug" in caplog.text
    assert fan_out._thread is None  # the next reader to park starts a new one

"""A streamed upload's ACKs: sent by the reading thread while the response waits, else handed to the
response, in the order they were made."""

from __future__ import annotations

import threading

from kvsmock.api.ack_outbox import AckOutbox


class Sender:
    """A connection that takes ``room`` sends whole, then leaves part of the next one."""

    def __init__(self, room: int = 100):
        self.room = room
        self.sent: list[list[bytes]] = []
        self.threads: list[str] = []

    def send_now(self, pieces: list[bytes]) -> bool:
        self.sent.append(list(pieces))
        self.threads.append(threading.current_thread().name)
        self.room -= 1
        return self.room >= 0

    def flush(self) -> None:
        pass


def test_nothing_is_sent_before_the_response_head_and_the_backlog_goes_first():
    sender = Sender()
    outbox = AckOutbox(sender)
    outbox.put([b"BUFFERING\n"])  # the response's head has not gone out yet
    assert sender.sent == []
    assert outbox.take(0) == ([b"BUFFERING\n"], False)
    outbox.written()
    outbox.put([b"RECEIVED\n", b"PERSISTED\n"])
    assert sender.sent == [[b"RECEIVED\n", b"PERSISTED\n"]]
    assert outbox.take(0) is None  # nothing was left for the response


def test_acks_made_while_the_response_writes_are_handed_to_it_in_order():
    sender = Sender()
    outbox = AckOutbox(sender)
    outbox.written()
    outbox.put([b"a\n"])
    assert outbox.idle_due(0) is True  # the response writes an IDLE ACK ...
    outbox.put([b"b\n"])  # ... meanwhile these wait for it
    outbox.put([b"c\n", b"d\n"])
    outbox.written()
    outbox.put([b"e\n"])  # a backlog is waiting: this one may not pass it
    outbox.end()
    assert sender.sent == [[b"a\n"]]
    assert outbox.take(0) == ([b"b\n", b"c\n", b"d\n", b"e\n"], True)


def test_a_send_that_leaves_bytes_makes_the_next_acks_wait_for_the_response():
    sender = Sender(room=1)
    outbox = AckOutbox(sender)
    outbox.written()
    outbox.put([b"a\n"])
    outbox.put([b"b\n"])  # only part of it went
    outbox.put([b"c\n"])
    assert sender.sent == [[b"a\n"], [b"b\n"]]
    assert outbox.take(0) == ([b"c\n"], False)  # written after what b left (the connection's flush)
    outbox.written()
    outbox.put([b"d\n"])
    assert sender.sent[-1] == [b"d\n"]


def test_an_idle_ack_is_due_only_after_a_quiet_interval_and_not_before_a_backlog():
    outbox = AckOutbox(None)  # a TLS connection: every ACK goes through the response
    outbox.written()
    assert outbox.idle_due(60) is False
    outbox.put([b"a\n"])
    assert outbox.idle_due(0) is False  # an ACK is waiting: no IDLE before it
    assert outbox.take(0) == ([b"a\n"], False)


def test_nothing_is_sent_once_the_response_ends():
    sender = Sender()
    outbox = AckOutbox(sender)
    outbox.written()
    outbox.close()
    outbox.put([b"late\n"])
    outbox.written()  # the response's own last write
    outbox.put([b"later\n"])
    assert sender.sent == []


def test_the_reading_thread_sends_while_the_response_waits_for_work():
    sender = Sender()
    outbox = AckOutbox(sender)
    outbox.written()
    taken: list = []
    response = threading.Thread(target=lambda: taken.append(outbox.take(30)))
    response.start()
    reading = threading.Thread(target=lambda: (outbox.put([b"a\n"]), outbox.end()), name="reading")
    reading.start()
    reading.join(10)
    response.join(10)
    assert sender.sent == [[b"a\n"]] and sender.threads == ["reading"]
    assert taken == [([], True)]

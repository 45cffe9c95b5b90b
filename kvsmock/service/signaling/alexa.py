"""An Alexa device's offer (SendAlexaOfferToMaster) waiting for the master's SDP answer."""

from __future__ import annotations

import threading

from ... import clock
from ...errors import ResourceNotFoundException
from ..rate_limit import real_seconds

#: SendAlexaOfferToMaster calls per second per channel.
ALEXA_OFFER_TPS = 5


class AlexaOffer:
    """A SendAlexaOfferToMaster call waiting for the master's SDP answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.answer: str | None = None

    def set_answer(self, payload: str) -> None:
        self.answer = payload
        self.answered.set()

    def wait(self, ttl: float) -> str:
        """The master's answer; fails once ``ttl`` seconds pass on the emulator clock or the wall clock."""
        deadline, real_deadline = clock.now() + ttl, real_seconds() + ttl
        while not self.answered.wait(0.05):
            if clock.now() >= deadline or real_seconds() >= real_deadline:
                # kvsmock's choice of error: the service documents the wait, not its end.
                raise ResourceNotFoundException(
                    f"No master answered the offer within the channel's message TTL of {int(ttl)} seconds."
                )
        assert self.answer is not None
        return self.answer

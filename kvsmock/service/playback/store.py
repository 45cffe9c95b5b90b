"""The streaming sessions of one backend, by token, with the per-stream rate of session creation."""

from __future__ import annotations

import threading

from ... import clock
from ...errors import ClientLimitExceededException, InvalidArgumentException, NotAuthorizedException, ResourceNotFoundException
from ..rate_limit import RateLimiter
from ..streams import Stream
from .options import SESSION_URL_TPS
from .session import StreamingSession


class SessionStore:
    """The streaming sessions of one backend (account and region), by token; moto's reset clears it."""

    def __init__(self, max_sessions: int = 10_000):
        self._sessions: dict[str, StreamingSession] = {}
        #: Tokens of sessions whose stream is gone (token -> expiry): they answer like the session would.
        self._dead: dict[str, float] = {}
        self._creations: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._max = max_sessions

    def admit(self, stream: Stream) -> None:
        """Count one session-URL call on ``stream`` (25 per second per stream)."""
        with self._lock:
            limiter = self._creations.get(stream.arn)
            if limiter is None:
                limiter = self._creations[stream.arn] = RateLimiter(SESSION_URL_TPS)
        if not limiter.allow():
            raise ClientLimitExceededException(
                f"Kinesis Video Streams has throttled the request: more than {SESSION_URL_TPS} streaming "
                f"session requests per second for the stream {stream.name}."
            )

    def add(self, session: StreamingSession) -> None:
        with self._lock:
            self._prune()
            self._sessions[session.token] = session

    def get(self, token: str | None) -> StreamingSession:
        """The live session of ``token``, or the error the service answers for it."""
        if not token:
            raise InvalidArgumentException("The SessionToken query parameter is required.")
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and not session.stream_alive():
                self._bury(session)
                session = None
            dead_until = self._dead.get(token)
        if dead_until is not None:
            if clock.now() >= dead_until:
                raise NotAuthorizedException("The session token has expired.")
            raise ResourceNotFoundException("The requested stream is not found or not active.")
        if session is None:
            raise NotAuthorizedException("The session token is not valid for any streaming session.")
        return session

    def _bury(self, session: StreamingSession) -> None:
        """Drop a session whose stream is gone (and the fragments it holds), keeping its token's answer."""
        del self._sessions[session.token]
        self._dead[session.token] = session.expires_at

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._dead.clear()
            self._creations.clear()

    def _prune(self) -> None:
        now = clock.now()
        # Expired sessions are kept an hour, so their tokens still read as expired; sessions of
        # deleted streams (or streams a reset cleared) go at once, with the fragments they hold.
        for session in [s for s in self._sessions.values() if not s.stream_alive()]:
            self._bury(session)
        stale = [t for t, s in self._sessions.items() if s.expires_at < now - 3600]
        for token in stale:
            del self._sessions[token]
        for token in [t for t, expires_at in self._dead.items() if expires_at < now - 3600]:
            del self._dead[token]
        while len(self._sessions) >= self._max:
            oldest = min(self._sessions.values(), key=lambda s: s.created_at)
            del self._sessions[oldest.token]
        idle = [arn for arn, limiter in self._creations.items() if limiter.idle_for(5)]
        for arn in idle:
            del self._creations[arn]

    def __len__(self) -> int:
        return len(self._sessions)

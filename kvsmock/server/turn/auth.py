"""The long-term credential mechanism (RFC 8489 section 9.2) as kvsmock's TURN server applies it.

The server never sees a password: a client proves it knows one by signing
each request (MESSAGE-INTEGRITY) with ``MD5(username:realm:password)``. So
the server asks its :class:`Authority` what password a username was given
(for GetIceServerConfig's usernames: the HMAC its backend's secret makes),
derives the same key and checks the signature. Nonces are stateless: each
says when it goes stale and carries an HMAC of that time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol

#: The realm kvsmock's TURN server announces (the service's is not documented).
REALM = "kinesisvideo.kvsmock"
#: Seconds a nonce stays valid; then the client gets 438 Stale Nonce and retries with a fresh one.
NONCE_LIFETIME = 600


@dataclass(frozen=True)
class Grant:
    """What a TURN username is allowed: the password its key is made from, whose it is, until when."""

    password: str
    #: The signaling channel the username was issued for: allocations count and bill there.
    channel_arn: str
    #: Epoch seconds after which the username may no longer allocate.
    expires: float


class Authority(Protocol):
    """Who may use the TURN server (kvsmock's backends; a fake in unit tests)."""

    def grant(self, username: str) -> Grant | None:
        """The grant of ``username``, or None for a username nobody issued (or whose channel is gone)."""

    def channel_exists(self, channel_arn: str) -> bool:
        """False once the channel has been deleted: its allocations are freed."""


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """The key MESSAGE-INTEGRITY is computed with (RFC 8489 section 9.2.2)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


class Nonces:
    """Issues and checks nonces: ``<expiry hex>.<HMAC of it>``, nothing kept."""

    def __init__(self, lifetime: float = NONCE_LIFETIME) -> None:
        self.lifetime = lifetime
        self._secret = secrets.token_bytes(16)

    def _sign(self, expiry: str) -> str:
        return hmac.new(self._secret, expiry.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, now: float) -> bytes:
        expiry = f"{int(now + self.lifetime):x}"
        return f"{expiry}.{self._sign(expiry)}".encode()

    def valid(self, nonce: bytes, now: float) -> bool:
        """True for a nonce this server issued that has not gone stale."""
        try:
            expiry, _, signature = nonce.decode("ascii").partition(".")
            expires = int(expiry, 16)
        except (UnicodeDecodeError, ValueError):
            return False
        return hmac.compare_digest(signature, self._sign(expiry)) and now < expires

"""TURN credentials as GetIceServerConfig hands them out (the TURN REST API's scheme)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any

from ... import clock

#: GetIceServerConfig calls per second per channel.
ICE_CONFIG_TPS = 5
#: GetIceServerConfig credential lifetime (seconds).
ICE_CREDENTIAL_TTL = 300
#: What the base64 part of a username starts with, before the channel ARN.
_TAG_PREFIX = "v1:"


def parse_username(username: str) -> tuple[int, str] | None:
    """The expiry (epoch seconds) and channel ARN a username names, or None when it is not one of ours."""
    expiry, sep, tag = username.partition(":")
    if not sep or not expiry.isdigit():
        return None
    try:
        text = base64.b64decode(tag, validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    if not text.startswith(_TAG_PREFIX) or len(text) == len(_TAG_PREFIX):
        return None
    return int(expiry), text[len(_TAG_PREFIX):]


class IceCredentials:
    """Issues and checks TURN credentials signed with one secret (one per backend)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(self, channel_arn: str, count: int = 2) -> list[dict[str, Any]]:
        """``count`` credential sets (without the URIs).

        Username is ``<expiry epoch seconds>:<base64("v1:" + ChannelARN)>`` as
        observed; the password is the TURN REST API's base64(HMAC-SHA1(secret, username)).
        """
        expiry = int(clock.now()) + ICE_CREDENTIAL_TTL
        username = f"{expiry}:{base64.b64encode(f'{_TAG_PREFIX}{channel_arn}'.encode()).decode()}"
        password = self.password(username)
        return [{"Username": username, "Password": password, "Ttl": ICE_CREDENTIAL_TTL} for _ in range(count)]

    def password(self, username: str) -> str:
        """The password this signer gives ``username`` (what TURN's long-term key is made from)."""
        return base64.b64encode(hmac.new(self._secret, username.encode(), hashlib.sha1).digest()).decode()

    def verify(self, username: str, password: str, now: float | None = None) -> bool:
        """True when ``password`` is this signer's for ``username`` and the username has not expired."""
        parsed = parse_username(username)
        if parsed is None:
            return False
        expiry, _ = parsed
        if expiry <= (clock.now() if now is None else now):
            return False
        return hmac.compare_digest(self.password(username).encode(), password.encode())

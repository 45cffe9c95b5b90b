"""TURN credentials as GetIceServerConfig hands them out (the TURN REST API's scheme)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from ... import clock

#: GetIceServerConfig calls per second per channel.
ICE_CONFIG_TPS = 5
#: GetIceServerConfig credential lifetime (seconds).
ICE_CREDENTIAL_TTL = 300


class IceCredentials:
    """Issues TURN credentials signed with one secret (one per backend)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(self, channel_arn: str, count: int = 2) -> list[dict[str, Any]]:
        """``count`` credential sets (without the URIs).

        Username is ``<expiry epoch seconds>:<base64("v1:" + ChannelARN)>`` as
        observed; the password is the TURN REST API's base64(HMAC-SHA1(secret, username)).
        """
        expiry = int(clock.now()) + ICE_CREDENTIAL_TTL
        username = f"{expiry}:{base64.b64encode(f'v1:{channel_arn}'.encode()).decode()}"
        password = base64.b64encode(hmac.new(self._secret, username.encode(), hashlib.sha1).digest()).decode()
        return [{"Username": username, "Password": password, "Ttl": ICE_CREDENTIAL_TTL} for _ in range(count)]

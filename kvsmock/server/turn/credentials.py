"""Who may use kvsmock's TURN server: the usernames GetIceServerConfig issued.

A username ``<expiry>:<base64("v1:" + ChannelARN)>`` names its channel; the
channel's account and region name its backend, whose ICE credential signer
(:class:`~kvsmock.service.signaling.ice_credentials.IceCredentials`)
made the password. A username of a channel that does not exist (or no
longer does) gets no grant. Freed allocations are billed on their channel
as TURN streaming minutes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from ...errors import KvsError
from ...service.identifiers import parse_arn
from ...service.signaling.hub import hub_for
from ...service.signaling.ice_credentials import parse_username
from ...service.usage import ChannelUsage
from .auth import Grant
from .core import Freed

log = logging.getLogger("kvsmock.turn")


class BackendAuthority:
    """The :class:`~kvsmock.server.turn.auth.Authority` backed by kvsmock's backends (``backend_for(account, region)``)."""

    def __init__(self, backend_for: Callable[[str, str], Any]):
        self._backend_for = backend_for
        self._lock = threading.Lock()
        #: The usage counters of channels that were granted allocations (kept when a channel is deleted).
        self._usage: dict[str, ChannelUsage] = {}

    def _channel(self, channel_arn: str) -> tuple[Any, Any] | None:
        """The backend and the active channel of ``channel_arn``, or None."""
        try:
            parsed = parse_arn(channel_arn)
            if parsed.resource_type != "channel":
                return None
            backend = self._backend_for(parsed.account_id, parsed.region)
            channel = backend.find_channel({"ChannelARN": channel_arn})
            channel.require_active()
        except KvsError:
            return None
        return backend, channel

    def grant(self, username: str) -> Grant | None:
        parsed = parse_username(username)
        if parsed is None:
            return None
        expiry, channel_arn = parsed
        found = self._channel(channel_arn)
        if found is None:
            return None
        backend, channel = found
        with self._lock:
            self._usage[channel_arn] = channel.usage
        return Grant(hub_for(backend).ice.password(username), channel_arn, float(expiry))

    def channel_exists(self, channel_arn: str) -> bool:
        return self._channel(channel_arn) is not None

    def bill(self, freed: Freed) -> None:
        """Count a freed allocation's time on its channel (deleted channels are still billed)."""
        with self._lock:
            usage = self._usage.get(freed.channel_arn)
        if usage is None:
            return
        minutes = usage.turn_allocation(freed.ended - freed.started)
        log.debug("TURN allocation of %s freed (%s): %d minute(s)", freed.channel_arn, freed.reason, minutes)

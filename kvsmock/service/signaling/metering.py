"""Usage metering of signaling: hooks told of every metered event."""

from __future__ import annotations

from typing import Callable

from .channel_state import ChannelSignaling

#: Called for every metered signaling event: ``hook(channel_arn, what, nbytes)``.
#: ``what`` is a client action (``SDP_OFFER`` ...), ``CONNECT``, ``GET_ICE_SERVER_CONFIG``,
#: ``SEND_ALEXA_OFFER`` or ``JOIN_STORAGE_SESSION``. The moto glue plugs the usage
#: meter in here (messages are counted on the channel's ``usage``); a process-wide
#: registry of plug-ins, like the KMS key provider, not state of any backend.
UsageHook = Callable[[str, str, int], None]
usage_hooks: list[UsageHook] = []


def meter(state: ChannelSignaling, what: str, nbytes: int = 0) -> None:
    """Count one event on the channel and tell every hook."""
    state.counts[what] += 1
    for hook in list(usage_hooks):
        try:
            hook(state.arn, what, nbytes)
        except Exception:  # a broken meter must not break signaling
            pass

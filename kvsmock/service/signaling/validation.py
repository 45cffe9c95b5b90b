"""What the service accepts from signaling clients: channel ARNs, client ids and client messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidArgumentException

#: Client message actions.
ACTIONS = ("SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE")
#: messagePayload limit ("10K characters" in the WebSocket API reference; the REST model says 10,000).
MAX_PAYLOAD_CHARS = 10_000

_ID = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_CHANNEL_ARN = re.compile(r"arn:aws[a-zA-Z-]*:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+")
_ID_RULE = "must be 1 to 256 characters of letters, digits, '_', '.' and '-'."


def is_id(value: Any) -> bool:
    """A ClientId / correlationId: 1-256 of ``[a-zA-Z0-9_.-]``."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_channel_arn(arn: Any) -> str:
    """The X-Amz-ChannelARN of a WebSocket connect, checked as the service does."""
    if not isinstance(arn, str) or not arn:
        raise InvalidArgumentException("X-Amz-ChannelARN is required.")
    if len(arn) > 1024 or not _CHANNEL_ARN.fullmatch(arn):
        raise InvalidArgumentException(f"X-Amz-ChannelARN '{arn}' is not a valid signaling channel ARN.")
    return arn


def check_client_id(client_id: Any, name: str = "X-Amz-ClientId") -> str:
    """A viewer's ClientId: 1-256 of ``[a-zA-Z0-9_.-]``, not starting with ``AWS_``."""
    if not isinstance(client_id, str) or not client_id:
        raise InvalidArgumentException(f"{name} is required to connect as a viewer.")
    if not is_id(client_id):
        raise InvalidArgumentException(f"{name} '{client_id}' {_ID_RULE}")
    if client_id.upper().startswith("AWS_"):
        raise InvalidArgumentException(f"{name} must not start with 'AWS_'.")
    return client_id


@dataclass(frozen=True)
class ClientMessage:
    """A client message that passed the service's checks."""

    action: str
    payload: str
    #: Whom a master addressed (None when it named nobody; viewers' recipients are ignored).
    recipient: str | None


def check_message(msg: dict[str, Any], from_master: bool) -> ClientMessage:
    """Check one client message (keys already lower-cased) as the service does."""
    correlation = msg.get("correlationid")
    if correlation is not None and not is_id(correlation):
        raise InvalidArgumentException(f"correlationId {_ID_RULE}")
    action = msg.get("action")
    if action not in ACTIONS:
        raise InvalidArgumentException(f"action must be one of {', '.join(ACTIONS)}; got {action!r}.")
    payload = msg.get("messagepayload")
    if not isinstance(payload, str) or not payload:
        raise InvalidArgumentException("messagePayload is required.")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise InvalidArgumentException(f"messagePayload is {len(payload)} characters; the limit is {MAX_PAYLOAD_CHARS}.")
    recipient = msg.get("recipientclientid")
    if from_master and recipient is not None and recipient != "" and not is_id(recipient):
        raise InvalidArgumentException(f"recipientClientId {_ID_RULE}")
    return ClientMessage(str(action), payload, recipient or None)

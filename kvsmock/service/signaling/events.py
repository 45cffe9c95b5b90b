"""Events the service sends to signaling clients, and the close codes of their connections."""

from __future__ import annotations

from typing import Any

from ...errors import KvsError

#: Close codes the transport uses.
CLOSE_REPLACED = 1000
CLOSE_GOING_AWAY = 1001

GO_AWAY: dict[str, Any] = {"messageType": "GO_AWAY"}
RECONNECT_ICE_SERVER: dict[str, Any] = {"messageType": "RECONNECT_ICE_SERVER"}


def status_response(correlation_id: str, err: KvsError) -> dict[str, Any]:
    """The STATUS_RESPONSE event for a failed client message."""
    return {
        "messageType": "STATUS_RESPONSE",
        "statusResponse": {
            "correlationId": correlation_id,
            "errorType": err.error_type,
            "statusCode": str(err.status),
            "description": err.message[:1024],
            # Seen in the service's own example of a storage-session rejection.
            "success": False,
        },
    }

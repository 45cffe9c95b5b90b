"""WebRTC signaling over WebSocket, as the service's WSS endpoint speaks it: the public names.

* :class:`SignalingServer` / :func:`start_signaling_server` — the endpoint
  (and the TURN server behind GetIceServerConfig's URIs); the
  ``kvsmock server`` runs one beside its HTTP port, a test can start one
  in-process (the pytest fixture ``kvs_signaling`` does). They are server
  transport and live in :mod:`kvsmock.server.signaling_endpoint`.
* :func:`presigned_url` — the SigV4-presigned connect URL a client opens,
  built as the AWS SDKs build it (works against kvsmock and real AWS).

The rules (routing, replacement, TTL, storage and Alexa peers) are in
:mod:`kvsmock.service.signaling`; the REST side (GetIceServerConfig,
SendAlexaOfferToMaster, JoinStorageSession) in :mod:`kvsmock.api.signaling`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .server.signaling_endpoint import SignalingServer, start_signaling_server


def presigned_url(
    endpoint: str,
    channel_arn: str,
    client_id: str | None = None,
    *,
    region_name: str,
    credentials: Any = None,
    expires: int = 299,
) -> str:
    """The URL to open to connect to ``endpoint`` (a WSS endpoint from GetSignalingChannelEndpoint).

    With ``client_id`` it connects as that viewer, without as the master.
    ``credentials`` are botocore credentials (``session.get_credentials()``);
    without them the URL is left unsigned, which kvsmock accepts and AWS does not.
    """
    params = {"X-Amz-ChannelARN": channel_arn}
    if client_id is not None:
        params["X-Amz-ClientId"] = client_id
    url = f"{endpoint.rstrip('/')}/?{urlencode(params)}"
    if credentials is None:
        return url
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(credentials, "kinesisvideo", region_name, expires=expires).add_auth(request)
    return request.url


__all__ = ["SignalingServer", "presigned_url", "start_signaling_server"]

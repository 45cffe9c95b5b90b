"""The REST side of WebRTC: kinesis-video-signaling and kinesis-video-webrtc-storage.

* ``GetIceServerConfig`` — TURN credentials shaped as the service returns
  them (two servers, three URIs each, ``Username``/``Password``/``Ttl``),
  with URIs on loopback: the signaling server's TURN server while one runs
  (:mod:`kvsmock.server.turn`: UDP, TCP and TLS on the port the URIs
  name, checking these credentials), ``127.0.0.1:3478`` otherwise.
* ``SendAlexaOfferToMaster`` — the offer goes to the connected master as an
  ``SDP_OFFER`` (held up to the message TTL if the master is away); the
  call returns the master's ``SDP_ANSWER`` payload as ``Answer``.
* ``JoinStorageSession`` / ``JoinStorageSessionAsViewer`` — validated as the
  service does (the channel must be mapped to a stream with media storage
  ENABLED); the storage session then sends its SDP offer over signaling.
  While a signaling server runs in the process, a media peer behind it
  stores the master's media in the mapped stream (and sends it to joined
  viewers); without one the offer is canned and nothing is ingested.

The rules live in :mod:`kvsmock.service.signaling`; this module only finds
the channel and shapes the answers.
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    InvalidArgumentException,
    KvsError,
    NotAuthorizedException,
    ResourceNotFoundException,
    WebRtcStorageAccessDenied,
)
from ..service.backend import KinesisVideoService
from ..service.channels import SignalingChannel
from ..service.identifiers import parse_arn
from ..service.signaling.hub import hub_for
from ..service.streams import Stream
from .endpoints import ice_address
from .request import ApiRequest, ApiResponse

#: Where GetIceServerConfig points when no signaling server runs in this process.
DEFAULT_ICE_HOST, DEFAULT_ICE_PORT = "127.0.0.1", 3478


def _channel(backend: KinesisVideoService, arn: str, denied: type[KvsError]) -> SignalingChannel:
    try:
        parsed = parse_arn(arn)
    except InvalidArgumentException:
        raise ResourceNotFoundException("The requested channel is not found or not active.") from None
    if parsed.account_id != backend.account_id:
        raise denied(f"The caller is not authorized to access the channel {arn}.")
    return backend.find_channel({"ChannelARN": arn})


# ------------------------------------------------------------ kinesis-video-signaling
def get_ice_server_config(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(backend, params["ChannelARN"], NotAuthorizedException)
    channel.require_active()
    host, port = ice_address(req) or (DEFAULT_ICE_HOST, DEFAULT_ICE_PORT)
    if ":" in host:
        host = f"[{host}]"
    servers = []
    for credentials in hub_for(backend).ice_credentials(channel):
        servers.append(
            {
                "Uris": [
                    f"turn:{host}:{port}?transport=udp",
                    f"turns:{host}:{port}?transport=udp",
                    f"turns:{host}:{port}?transport=tcp",
                ],
                **credentials,
            }
        )
    return {"IceServerList": servers}


def send_alexa_offer_to_master(
    backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]
) -> dict[str, Any]:
    channel = _channel(backend, params["ChannelARN"], NotAuthorizedException)
    channel.require_active()
    answer = hub_for(backend).send_alexa_offer(channel, params["SenderClientId"], params["MessagePayload"])
    return {"Answer": answer}


# ------------------------------------------------------- kinesis-video-webrtc-storage
def _storage_channel(backend: KinesisVideoService, arn: str) -> tuple[SignalingChannel, Stream]:
    channel = _channel(backend, arn, WebRtcStorageAccessDenied)
    if channel.storage_status != "ENABLED" or not channel.storage_stream_arn:
        raise InvalidArgumentException(
            f"The signaling channel {channel.name} is not mapped to a stream with media storage ENABLED "
            "(UpdateMediaStorageConfiguration)."
        )
    stream = backend.find_stream({"StreamARN": channel.storage_stream_arn})
    if stream.status != "ACTIVE":
        raise ResourceNotFoundException(f"The stream {stream.name} mapped to the channel is not active.")
    return channel, stream


def _empty_ok() -> ApiResponse:
    """HTTP 200 with an empty body, as the webrtc-storage operations answer."""
    return ApiResponse(status=200, headers={"Content-Length": "0"}, body=b"")


def _lowercase_errors(handler):
    """webrtc-storage's error shapes spell their member ``message``."""

    def wrapped(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        try:
            return handler(backend, req, params)
        except KvsError as err:
            err.lowercase_message = True
            raise

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


@_lowercase_errors
def join_storage_session(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> ApiResponse:
    channel, stream = _storage_channel(backend, params["channelArn"])
    hub_for(backend).join_storage_session(channel, stream.arn, stream)
    return _empty_ok()


@_lowercase_errors
def join_storage_session_as_viewer(
    backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]
) -> ApiResponse:
    channel, stream = _storage_channel(backend, params["channelArn"])
    hub_for(backend).join_storage_session_as_viewer(channel, stream.arn, params["clientId"], stream)
    return _empty_ok()

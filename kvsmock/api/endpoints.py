"""The endpoint URLs that GetDataEndpoint and GetSignalingChannelEndpoint hand out.

In-process they are moto-style host names under ``kinesisvideo.{region}``
(which moto's interception routes back to kvsmock); in the server they are
the server's own base URL, so a client that follows them stays on it.
The WSS signaling endpoint is the signaling server's own address whenever
one runs in this process (the server's, or one a test started in-process):
:data:`running_signaling` says which.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..service.identifiers import partition_for
from .request import ApiRequest

#: APIName values served by the live media host (``s-``); the rest use ``b-``.
_LIVE_APIS = {"PUT_MEDIA", "GET_MEDIA"}


@dataclass(frozen=True)
class SignalingAddress:
    """Where a running signaling server is reached (it adds itself to :data:`running_signaling`)."""

    #: ``ws`` or ``wss``.
    scheme: str
    #: The address it listens on, as a URL (``ws://127.0.0.1:4568``).
    url: str
    port: int
    #: An explicit WSS endpoint to hand out instead (``--signaling-public-url``).
    public_url: str | None = None
    #: Host and port (UDP, TCP and TLS) of its TURN server, for GetIceServerConfig's URIs.
    ice_host: str = "127.0.0.1"
    ice_port: int | None = None


class RunningSignaling:
    """The signaling servers running in this process, newest last; the newest is the one handed out.

    Process-wide on purpose: moto's interception serves every in-process
    request of the process, so a signaling server started in-process (the
    ``kvs_signaling`` fixture, :func:`kvsmock.signaling.start_signaling_server`)
    is what every GetSignalingChannelEndpoint (WSS) and GetIceServerConfig of
    the process points at while it runs; a ``kvsmock server`` process runs
    exactly one. It is no backend state: one signaling server serves every
    account and region, and outlives moto's reset. A
    :class:`~kvsmock.signaling.SignalingServer` adds its address when it has
    started and removes it when it stops.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._addresses: list[SignalingAddress] = []

    def add(self, address: SignalingAddress) -> None:
        with self._lock:
            self._addresses.append(address)

    def remove(self, address: SignalingAddress) -> None:
        with self._lock:
            if address in self._addresses:
                self._addresses.remove(address)

    def current(self) -> SignalingAddress | None:
        """The signaling server WSS endpoints point at, if one runs in this process."""
        with self._lock:
            return self._addresses[-1] if self._addresses else None


#: The registry of this process (see :class:`RunningSignaling`).
running_signaling = RunningSignaling()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def signaling_ws_url(req: ApiRequest, running: SignalingAddress) -> str:
    """The WSS endpoint: the explicit public URL, else the host the request came to with the signaling port."""
    if running.public_url:
        return running.public_url
    if req.server_base_url:
        host = urlsplit(req.server_base_url).hostname
        if host:
            return f"{running.scheme}://{_url_host(host)}:{running.port}"
    return running.url


def ice_address(req: ApiRequest) -> tuple[str, int] | None:
    """Host and port for GetIceServerConfig's URIs: the running server's TURN server, if any."""
    running = running_signaling.current()
    if running is None or running.ice_port is None:
        return None
    host = running.ice_host
    if req.server_base_url and not running.public_url:
        host = urlsplit(req.server_base_url).hostname or host
    elif running.public_url:
        host = urlsplit(running.public_url).hostname or host
    return host, running.ice_port


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if partition_for(region) == "aws-cn" else "amazonaws.com"


def _host(prefix: str, resource_id: str, region: str) -> str:
    return f"{prefix}-{resource_id}.kinesisvideo.{region}.{dns_suffix(region)}"


def data_endpoint(req: ApiRequest, resource_id: str, region: str, api_name: str) -> str:
    if req.server_base_url:
        return req.server_base_url
    prefix = "s" if api_name in _LIVE_APIS else "b"
    return f"https://{_host(prefix, resource_id, region)}"


def signaling_endpoint(req: ApiRequest, resource_id: str, region: str, protocol: str, role: str) -> str:
    running = running_signaling.current()
    if protocol == "WSS" and running is not None:
        # One endpoint for both roles: a connection with X-Amz-ClientId is a viewer's.
        return signaling_ws_url(req, running)
    if req.server_base_url:
        base = urlsplit(req.server_base_url)
        if protocol == "WSS":
            scheme = "wss" if base.scheme == "https" else "ws"
            return f"{scheme}://{base.netloc}"
        return req.server_base_url
    if protocol == "WSS":
        return f"wss://{_host('m' if role == 'MASTER' else 'v', resource_id, region)}"
    if protocol == "HTTPS":
        return f"https://{_host('r', resource_id, region)}"
    return f"https://{_host('w', resource_id, region)}"

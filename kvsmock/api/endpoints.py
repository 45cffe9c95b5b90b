"""The endpoint URLs that GetDataEndpoint and GetSignalingChannelEndpoint hand out.

In-process they are moto-style host names under ``kinesisvideo.{region}``
(which moto's interception routes back to kvsmock); in the server they are
the server's own base URL, so a client that follows them stays on it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..service.identifiers import partition_for
from .request import ApiRequest

#: APIName values served by the live media host (``s-``); the rest use ``b-``.
_LIVE_APIS = {"PUT_MEDIA", "GET_MEDIA"}


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

"""The kinesisvideo control plane: 32 operations on one backend.

Most operations are the backend method of the same name (see
:mod:`kvsmock.api.routes`); the two that hand out endpoint URLs are shaped
here, since URLs depend on how the request came.
"""

from __future__ import annotations

from typing import Any

from ..service.backend import KinesisVideoService
from .endpoints import data_endpoint, signaling_endpoint
from .request import ApiRequest


def get_data_endpoint(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    stream = backend.get_data_endpoint(params)
    return {"DataEndpoint": data_endpoint(req, stream.endpoint_id, backend.region_name, params["APIName"])}


def get_signaling_channel_endpoint(
    backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]
) -> dict[str, Any]:
    channel, protocols, role = backend.get_signaling_channel_endpoint(params)
    return {
        "ResourceEndpointList": [
            {
                "Protocol": protocol,
                "ResourceEndpoint": signaling_endpoint(req, channel.endpoint_id, backend.region_name, protocol, role),
            }
            for protocol in protocols
        ]
    }


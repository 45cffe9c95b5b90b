"""Edge configuration operations (StartEdgeConfigurationUpdate and its kin)."""

from __future__ import annotations

from typing import Any

from ... import clock
from ...errors import ResourceInUseException, StreamEdgeConfigurationNotFoundException
from ..edge import EdgeConfiguration
from ..lookup import ResourceLookup
from ..pagination import Page, paginate

DEFAULT_LIST_EDGE = 5


class EdgeOperations(ResourceLookup):
    """Edge configurations of streams; every one returned has its SyncStatus brought up to date."""

    def start_edge_configuration_update(
        self, name: str | None, arn: str | None, config: dict[str, Any]
    ) -> EdgeConfiguration:
        with self.lock:
            stream = self.stream(name, arn)
            stream.require_active()
            stream.require_retention("An edge configuration needs")
            edge = stream.edge
            if edge is not None and edge.busy:
                raise ResourceInUseException(
                    f"The edge configuration of {stream.name} is {edge.sync_status}; wait for IN_SYNC or SYNC_FAILED."
                )
            if edge is None:
                now = clock.now()
                edge = stream.edge = EdgeConfiguration(stream.name, stream.arn, config, now, now)
            else:
                edge.update(config)
            edge.refresh()
            self.changed(stream)
            return edge

    def _edge(self, name: str | None, arn: str | None) -> EdgeConfiguration:
        stream = self.stream(name, arn)
        if stream.edge is None:
            raise StreamEdgeConfigurationNotFoundException(f"The stream {stream.name} has no edge configuration.")
        stream.edge.refresh()
        return stream.edge

    def describe_edge_configuration(self, name: str | None = None, arn: str | None = None) -> EdgeConfiguration:
        return self._edge(name, arn)

    def delete_edge_configuration(self, name: str | None = None, arn: str | None = None) -> None:
        with self.lock:
            stream = self.stream(name, arn)
            edge = self._edge(name, arn)
            if edge.sync_status not in ("DELETING", "DELETING_ACKNOWLEDGED"):
                edge.start_delete()
                self.changed(stream)

    def list_edge_agent_configurations(
        self, hub_device_arn: str, max_results: int | None = None, next_token: str | None = None
    ) -> Page[EdgeConfiguration]:
        with self.lock:
            configs = [s.edge for s in self.streams.values() if s.edge and s.edge.config["HubDeviceArn"] == hub_device_arn]
        page = paginate(configs, lambda e: e.stream_name, max_results or DEFAULT_LIST_EDGE, next_token, "edge")
        for edge in page.items:
            edge.refresh()
        return page

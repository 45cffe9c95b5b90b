"""Edge configurations and their SyncStatus life cycle.

No edge agent (the IoT Greengrass component) ever connects to the emulator,
so the life cycle is the one the service shows when the agent is away:
StartEdgeConfigurationUpdate sets SYNCING and the service retries for 15
minutes, then SYNC_FAILED; DeleteEdgeConfiguration sets DELETING and, with no
agent to acknowledge, DELETE_FAILED after the same 15 minutes. All times come
from the emulator clock, so a test can move it forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import clock

SYNC_TIMEOUT_SECONDS = 15 * 60

_TIMEOUTS = {
    "SYNCING": ("SYNC_FAILED", "The Edge Agent did not acknowledge the edge configuration within 15 minutes."),
    "DELETING": ("DELETE_FAILED", "The Edge Agent did not acknowledge the deletion within 15 minutes."),
}


@dataclass
class EdgeConfiguration:
    """A stream's edge configuration (StartEdgeConfigurationUpdate) and where its sync stands."""

    stream_name: str
    stream_arn: str
    config: dict[str, Any]
    creation_time: float
    last_updated_time: float
    sync_status: str = "SYNCING"
    failed_status_details: str | None = None

    def refresh(self) -> None:
        """Apply the 15-minute timeout of a pending sync or deletion."""
        if self.sync_status in _TIMEOUTS and clock.now() - self.last_updated_time >= SYNC_TIMEOUT_SECONDS:
            self.sync_status, self.failed_status_details = _TIMEOUTS[self.sync_status]
            self.last_updated_time = self.last_updated_time + SYNC_TIMEOUT_SECONDS

    @property
    def busy(self) -> bool:
        self.refresh()
        return self.sync_status in ("SYNCING", "ACKNOWLEDGED", "DELETING", "DELETING_ACKNOWLEDGED")

    def update(self, config: dict[str, Any]) -> None:
        self.config = config
        self.sync_status = "SYNCING"
        self.failed_status_details = None
        self.last_updated_time = clock.now()

    def start_delete(self) -> None:
        self.sync_status = "DELETING"
        self.failed_status_details = None
        self.last_updated_time = clock.now()


def with_edge_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The EdgeConfig as described back, with the service's defaults filled in."""
    out = {k: v for k, v in config.items()}
    deletion = dict(out.get("DeletionConfig") or {})
    if deletion or "DeletionConfig" in out:
        deletion.setdefault("EdgeRetentionInHours", 720)
        deletion.setdefault("DeleteAfterUpload", True)
        out["DeletionConfig"] = deletion
    return out

"""How long a storage session lasts: one hour at most, and three minutes without media (spec 6.5)."""

from __future__ import annotations

from dataclasses import dataclass

#: The longest a storage session lasts.
SESSION_SECONDS = 60 * 60
#: A storage session ends after this long without media (counted from its start until media flows).
IDLE_SECONDS = 3 * 60


@dataclass
class StorageLifetime:
    """The clock of one storage session's media peer: when it started and when media last came."""

    started_at: float
    last_media_at: float | None = None

    def media(self, now: float) -> None:
        """Media arrived at ``now``."""
        self.last_media_at = now

    def ended(self, now: float) -> str | None:
        """Why the session is over at ``now``, or None while it goes on."""
        if now - self.started_at >= SESSION_SECONDS:
            return f"the storage session reached its limit of {SESSION_SECONDS // 60} minutes"
        quiet_since = self.started_at if self.last_media_at is None else self.last_media_at
        if now - quiet_since >= IDLE_SECONDS:
            return f"no media for {IDLE_SECONDS // 60} minutes (the storage session's idle timeout)"
        return None

"""The storage session of a channel (JoinStorageSession / JoinStorageSessionAsViewer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import InvalidArgumentException
from .sdp import has_codec, sdp_of


@dataclass
class StorageSession:
    """The storage session of a channel.

    kvsmock has no real storage peer: it sends the SDP offer the service
    would send, checks the answer's codecs as the service does, and keeps
    what it got here, where a test can look. Media never flows.
    """

    stream_arn: str
    master_joins: int = 0
    master_answer: str | None = None
    #: ClientId -> the viewer's SDP answer (None until it answers).
    viewers: dict[str, str | None] = field(default_factory=dict)
    ice_candidates_received: int = 0

    def from_master(self, action: str, payload: str) -> None:
        """The master's answer or candidate for the storage session; the answer needs H.264 and Opus."""
        if action == "ICE_CANDIDATE":
            self.ice_candidates_received += 1
            return
        sdp = sdp_of(payload)
        needed = (("H.264 video", "H264"), ("Opus audio", "opus"))
        missing = [name for name, codec in needed if not has_codec(sdp, codec)]
        if missing:
            raise InvalidArgumentException(
                "The storage session cannot accept the answer: it needs H.264 video and Opus audio "
                f"(missing {' and '.join(missing)})."
            )
        self.master_answer = payload

    def from_viewer(self, client_id: str, action: str, payload: str) -> None:
        """A viewer's answer or candidate for the storage session; the answer needs Opus."""
        if action == "ICE_CANDIDATE":
            self.ice_candidates_received += 1
            return
        if not has_codec(sdp_of(payload), "opus"):
            raise InvalidArgumentException("The storage session cannot accept the answer: it needs Opus audio.")
        self.viewers[client_id] = payload

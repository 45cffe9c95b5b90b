"""The storage session of a channel (JoinStorageSession / JoinStorageSessionAsViewer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import InvalidArgumentException
from .sdp import has_codec, sdp_of
from .storage_peer import StoragePeer


@dataclass
class StorageSession:
    """The storage session of a channel.

    It checks the answers' codecs as the service does and keeps what it got
    here, where a test can look. When a signaling server runs in the
    process, each join has a media peer (:mod:`.storage_peer`): the master's
    receives its media and stores it in the stream, a viewer's sends that
    media on. Without one, the offer is canned and media never flows.
    """

    stream_arn: str
    master_joins: int = 0
    master_answer: str | None = None
    #: ClientId -> the viewer's SDP answer (None until it answers).
    viewers: dict[str, str | None] = field(default_factory=dict)
    ice_candidates_received: int = 0
    #: The media peer of the master's latest join (None without a factory, or once it ended).
    master_peer: StoragePeer | None = None
    #: ClientId -> the media peer of that viewer's latest join.
    viewer_peers: dict[str, StoragePeer] = field(default_factory=dict)
    #: Why media peers ended, oldest first ("replaced by a newer JoinStorageSession", "the master left", ...).
    ended: list[str] = field(default_factory=list)

    def from_master(self, action: str, payload: str) -> None:
        """The master's answer or candidate for the storage session; the answer needs H.264 and Opus."""
        if action == "ICE_CANDIDATE":
            self.ice_candidates_received += 1
            if self.master_peer is not None:
                self.master_peer.candidate(payload)
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
        if self.master_peer is not None:
            self.master_peer.answer(payload)

    def from_viewer(self, client_id: str, action: str, payload: str) -> None:
        """A viewer's answer or candidate for the storage session; the answer needs Opus."""
        peer = self.viewer_peers.get(client_id)
        if action == "ICE_CANDIDATE":
            self.ice_candidates_received += 1
            if peer is not None:
                peer.candidate(payload)
            return
        if not has_codec(sdp_of(payload), "opus"):
            raise InvalidArgumentException("The storage session cannot accept the answer: it needs Opus audio.")
        self.viewers[client_id] = payload
        if peer is not None:
            peer.answer(payload)

    # ---------------------------------------------------------- media peers
    def set_master_peer(self, peer: StoragePeer | None) -> None:
        """The master joined again: the newer peer replaces the older (the most recent producer wins)."""
        old, self.master_peer = self.master_peer, peer
        if old is not None and old is not peer:
            self._close(old, "replaced by a newer JoinStorageSession")

    def set_viewer_peer(self, client_id: str, peer: StoragePeer | None) -> None:
        """A viewer joined again: its newer peer replaces the older."""
        old = self.viewer_peers.pop(client_id, None)
        if peer is not None:
            self.viewer_peers[client_id] = peer
        if old is not None and old is not peer:
            self._close(old, "replaced by a newer JoinStorageSessionAsViewer")

    def end_master(self, reason: str) -> None:
        """End the master's peer (the master left). Viewers' peers stay: they wait for the master's next join."""
        if self.master_peer is not None:
            peer, self.master_peer = self.master_peer, None
            self._close(peer, reason)

    def end_viewer(self, client_id: str, reason: str) -> None:
        """End one viewer's peer (that viewer left)."""
        peer = self.viewer_peers.pop(client_id, None)
        if peer is not None:
            self._close(peer, reason)

    def forget(self, peer: StoragePeer, reason: str) -> None:
        """A peer ended by itself (idle, time limit, connection lost, stream gone)."""
        if self.master_peer is peer:
            self.master_peer = None
            self.ended.append(reason)
            return
        for client_id, viewer in list(self.viewer_peers.items()):
            if viewer is peer:
                del self.viewer_peers[client_id]
                self.ended.append(reason)

    def close(self, reason: str) -> None:
        """End every peer of the session (it is replaced by one for another stream)."""
        self.end_master(reason)
        for client_id in list(self.viewer_peers):
            self.end_viewer(client_id, reason)

    def _close(self, peer: StoragePeer, reason: str) -> None:
        self.ended.append(reason)
        peer.close(reason)

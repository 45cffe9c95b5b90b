"""The storage sessions' media peers of one signaling server: the service's storage peer factory.

A :class:`~kvsmock.server.signaling_endpoint.SignalingServer` adds a
:class:`StoragePeerRunner` to
:data:`~kvsmock.service.signaling.storage_peer.storage_peer_factories` while
it runs. JoinStorageSession(AsViewer) calls it from a request thread; it
makes the peer on the server's loop (:mod:`.storage_peer`), waits for its
offer, and keeps each channel's peers so a viewer's peer sends the media
of the master's current one. When the server stops, every peer ends.

WebRTC ingestion needs aiortc, an optional dependency (the ``webrtc``
extra): without it the runner refuses JoinStorageSession with an
InternalFailure that says what to install.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from ..errors import InternalFailure, KvsError
from ..service.signaling.storage_peer import StoragePeer, StoragePeerOrder

if TYPE_CHECKING:
    from .storage_peer import MasterStoragePeer, ViewerStoragePeer

log = logging.getLogger("kvsmock.signaling")

#: How long JoinStorageSession waits for a peer's offer (seconds).
OFFER_TIMEOUT = 10.0
MISSING_AIORTC = (
    "kvsmock's WebRTC ingestion needs aiortc, a dependency of kvsmock that is missing here: "
    "pip install 'aiortc>=1.16,<2'."
)


def ingestion_available() -> bool:
    """Whether this Python can run storage peers (aiortc is installed)."""
    try:
        return importlib.util.find_spec("aiortc") is not None
    except (ImportError, ValueError):
        return False


class StoragePeerRunner:
    """Makes storage peers on a signaling server's loop and keeps them per channel."""

    def __init__(self, loop: asyncio.AbstractEventLoop, listen_host: str):
        self.loop = loop
        self.listen_host = listen_host
        #: Channel ARN -> the master's current peer.
        self.masters: dict[str, MasterStoragePeer] = {}
        #: Channel ARN -> ClientId -> that viewer's current peer.
        self.viewers: dict[str, dict[str, ViewerStoragePeer]] = {}
        self._peers: set[Any] = set()

    def __call__(self, order: StoragePeerOrder) -> StoragePeer:
        if not ingestion_available():
            raise InternalFailure(MISSING_AIORTC)
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            raise InternalFailure("kvsmock cannot make a storage peer from its own signaling loop.")
        future = asyncio.run_coroutine_threadsafe(self._open(order), self.loop)
        try:
            return future.result(OFFER_TIMEOUT)
        except KvsError:
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise InternalFailure("kvsmock's storage peer did not make its offer in time.") from None
        except Exception as exc:
            log.exception("kvsmock could not make a storage peer")
            raise InternalFailure(f"kvsmock could not make a storage peer: {exc}") from None

    async def _open(self, order: StoragePeerOrder) -> StoragePeer:
        from .storage_peer import MasterStoragePeer, ViewerStoragePeer, host_addresses

        addresses = host_addresses(self.listen_host)
        arn = order.channel_arn
        if order.client_id is None:
            master = MasterStoragePeer(order, addresses, self._ended)
            await self._start(master)
            self.masters[arn] = master
            for viewer in self.viewers.get(arn, {}).values():
                viewer.attach(master)
            return master
        peer = ViewerStoragePeer(order, addresses, self._ended)
        await self._start(peer)
        self.viewers.setdefault(arn, {})[order.client_id] = peer
        peer.attach(self.masters.get(arn))
        return peer

    async def _start(self, peer: Any) -> None:
        """Make its offer; a peer that cannot is ended (nothing of it is left running) and the error goes on."""
        try:
            await peer.start()
        except BaseException:
            await peer.end("it could not make its offer", notify=False)
            raise
        self._peers.add(peer)

    def _ended(self, peer: Any) -> None:
        """A peer ended (on the loop): forget it."""
        self._peers.discard(peer)
        arn, client_id = peer.order.channel_arn, peer.order.client_id
        viewers = self.viewers.get(arn, {})
        if client_id is None and self.masters.get(arn) is peer:
            del self.masters[arn]
            for viewer in viewers.values():
                viewer.attach(None)
        elif client_id is not None and viewers.get(client_id) is peer:
            del viewers[client_id]
            if not viewers:
                del self.viewers[arn]

    async def close_all(self) -> None:
        """End every peer (the server stops); the service hears of each."""
        peers = list(self._peers)
        if peers:
            await asyncio.gather(
                *(p.end("the signaling server stopped", notify=True) for p in peers), return_exceptions=True
            )

"""The storage session's media peers (aiortc), run on the signaling server's event loop.

* :class:`MasterStoragePeer` offers to receive H.264 video and Opus audio
  (both ``recvonly``), takes the master's encoded frames straight from
  aiortc's receivers (:mod:`.encoded_frames`: nothing is decoded) and makes
  the stream's fragments of them (:mod:`kvsmock.media.live_mkv`): the H.264
  access units as sent, the Opus made into AAC. A worker thread stores the
  fragments (:class:`~kvsmock.service.signaling.storage_ingest.StorageIngest`).
  It asks the master for a keyframe (RTCP PLI) when a fragment runs long.
* :class:`ViewerStoragePeer` offers a viewer the master's video
  (``sendonly``) and audio (``sendrecv``; the viewer's own audio is taken
  and dropped): the master's encoded frames relayed as packets through
  aiortc's ``MediaRelay``, which the viewer's senders packetize again
  without re-encoding. A viewer can join before the master's media flows,
  and keeps its peer when the master joins again.

Every peer ends after an hour, after three minutes without media
(:mod:`kvsmock.service.signaling.storage_lifetime`, on the emulator clock),
when its connection fails, or when the service closes it (the master or
viewer left, a newer join replaced it); the master's also when the stream
can take no more. Its ICE candidates are host candidates on the addresses
the signaling server listens on (loopback for a loopback server).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, Callable, cast

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp
from av.packet import Packet

from .. import clock
from ..media.audio_transcode import OpusToAac
from ..media.codecs.h264 import NAL_IDR, nal_type
from ..media.codecs.nal import annexb_units
from ..media.live_mkv import LiveAudio, LiveFragment, LiveMkv
from ..service.signaling.sdp import sdp_of
from ..service.signaling.storage_ingest import StorageIngest
from ..service.signaling.storage_lifetime import StorageLifetime
from ..service.signaling.storage_peer import StoragePeerOrder
from .encoded_frames import tap_encoded_frames

log = logging.getLogger("kvsmock.signaling")

VIDEO_CLOCK, AUDIO_CLOCK = 90000, 48000
#: How often a peer checks its lifetime and whether a keyframe is wanted (seconds).
WATCH_SECONDS = 0.5
#: At most one keyframe request to the master this often (seconds).
PLI_SECONDS = 1.0
#: Packets a relay feed holds for a viewer that does not keep up.
MAX_FEED_PACKETS = 512

# ------------------------------------------------------------------ ICE host addresses
#: The host addresses aioice gathers candidates on, for the peer being set up (None: aioice's own choice).
_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "kvsmock_ice_host_addresses", default=None
)
#: In :data:`_HOST_ADDRESSES`, stands for every address aioice would pick itself.
ALL_ADDRESSES = "*"


def _install_address_choice() -> None:
    """Let a storage peer choose its host addresses (aioice offers no per-connection option).

    aioice's ``get_host_addresses`` is wrapped once: it answers from
    :data:`_HOST_ADDRESSES` when that is set (only while a storage peer gathers
    its candidates) and is unchanged for every other peer in the process.
    """
    current = aioice.ice.get_host_addresses
    if getattr(current, "kvsmock_choice", False):
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _HOST_ADDRESSES.get()
        if chosen is None:
            return current(use_ipv4, use_ipv6)
        out: list[str] = []
        for address in chosen:
            if address == ALL_ADDRESSES:
                out += [a for a in current(use_ipv4, use_ipv6) if a not in out]
            elif address not in out and (use_ipv6 if ":" in address else use_ipv4):
                out.append(address)
        return out

    get_host_addresses.kvsmock_choice = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


def host_addresses(listen_host: str) -> tuple[str, ...]:
    """Where a storage peer offers candidates, given the host the signaling server listens on."""
    if listen_host in ("", "0.0.0.0", "::"):
        return (ALL_ADDRESSES, "127.0.0.1")
    if listen_host == "localhost":
        return ("127.0.0.1",)
    return (listen_host,)


# ------------------------------------------------------------------------ helpers
def _session_description(payload: str, kind: str) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=sdp_of(payload), type=kind)


def _offer_payload(description: RTCSessionDescription) -> str:
    """An SDP as the service's messagePayload: base64 of ``{"type", "sdp"}``."""
    body = json.dumps({"type": description.type, "sdp": description.sdp})
    return base64.b64encode(body.encode()).decode()


def _candidate(payload: str) -> Any | None:
    """An ICE_CANDIDATE messagePayload as aiortc's RTCIceCandidate (None: end of candidates or unreadable)."""
    try:
        data = json.loads(base64.b64decode(payload, validate=False))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("candidate"), str) or not data["candidate"]:
        return None
    text = data["candidate"]
    candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
    candidate.sdpMid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # everything is bundled on the first transport
    return candidate


def _codecs(kind: str, name: str) -> list[Any]:
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    assert capabilities is not None
    return [c for c in capabilities.codecs if c.name.lower() == name.lower()]


# ---------------------------------------------------------------------- relay tracks
class PacketTrack(MediaStreamTrack):
    """The master's encoded frames of one kind as a track of ``av.Packet`` (a MediaRelay source)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[Packet | None] = asyncio.Queue()

    def push(self, data: bytes, pts: int, clock_rate: int) -> None:
        if self.readyState != "live":
            return
        if self._queue.qsize() >= MAX_FEED_PACKETS:
            self._queue.get_nowait()
        packet = Packet(data)
        packet.pts, packet.time_base = pts, Fraction(1, clock_rate)
        self._queue.put_nowait(packet)

    def end(self) -> None:
        self._queue.put_nowait(None)

    async def recv(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


class ViewerTrack(MediaStreamTrack):
    """What a viewer's sender sends: the current master's relayed packets, across the master's joins.

    Packet times stay increasing when the source changes; video starts at a keyframe.
    """

    def __init__(self, kind: str, on_media: Callable[[], None], want_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        self._reading: asyncio.Future | None = None
        self._on_media = on_media
        self._want_keyframe = want_keyframe
        self._offset: int | None = None
        self._last_pts: int | None = None
        self._keyframe_seen = kind != "video"

    def set_source(self, source: MediaStreamTrack | None) -> None:
        """Send ``source``'s packets from now on (None: nothing until the next source)."""
        old, self._source = self._source, source
        if old is not None:
            old.stop()
        self._offset = None
        self._keyframe_seen = self.kind != "video"
        self._changed.set()

    async def recv(self) -> Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            packet = await self._next()
            if packet is None:
                continue
            if not self._keyframe_seen:
                if NAL_IDR not in [nal_type(u) for u in annexb_units(bytes(packet))]:
                    self._want_keyframe()
                    continue
                self._keyframe_seen = True
            self._on_media()
            return self._rebased(packet)

    async def _next(self) -> Packet | None:
        """The current source's next packet; None when the source changed or ended meanwhile."""
        source = self._source
        self._changed.clear()
        if source is None:
            await self._changed.wait()
            return None
        if self._reading is None:
            self._reading = asyncio.ensure_future(source.recv())
        reading = self._reading
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({reading, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
        if not reading.done():
            if self._source is not source:  # a new source: what the old one would give is not wanted
                reading.cancel()
                self._reading = None
            return None
        self._reading = None
        try:
            return cast(Packet, reading.result())
        except (MediaStreamError, asyncio.CancelledError):
            if self._source is source:
                self._source = None
            return None

    def _rebased(self, packet: Packet) -> Packet:
        pts = int(packet.pts or 0)
        if self._offset is None:
            step = 3000 if self.kind == "video" else 960
            self._offset = 0 if self._last_pts is None else self._last_pts + step - pts
        out = Packet(bytes(packet))
        out.pts, out.time_base = pts + self._offset, packet.time_base
        self._last_pts = out.pts
        return out

    def stop(self) -> None:
        super().stop()
        if self._reading is not None:
            self._reading.cancel()
        if self._source is not None:
            self._source.stop()
        self._changed.set()


# -------------------------------------------------------------------------- peers
class _StoragePeerBase:
    """What both peers share: the connection, the offer, the inbox of answers and candidates, the lifetime."""

    role = "storage"

    def __init__(self, order: StoragePeerOrder, addresses: tuple[str, ...], on_end: Callable[[Any], None]):
        self.order = order
        self.offer = ""
        self.loop = asyncio.get_running_loop()
        self.lifetime = StorageLifetime(clock.now())
        self.ended_reason: str | None = None
        self._addresses = addresses
        self._on_end = on_end
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self._end_soon(f"the WebRTC connection {self.pc.connectionState}", True)

    async def start(self) -> None:
        """Make the offer (host candidates gathered on the chosen addresses)."""
        _install_address_choice()
        token = _HOST_ADDRESSES.set(self._addresses)
        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
        finally:
            _HOST_ADDRESSES.reset(token)
        self.offer = _offer_payload(self.pc.localDescription)
        self._tasks = [self.loop.create_task(self._read_inbox()), self.loop.create_task(self._watch())]

    # ------------------------------------------------- the StoragePeer protocol
    def answer(self, payload: str) -> None:
        self._on_loop(self._inbox.put_nowait, ("answer", payload))

    def candidate(self, payload: str) -> None:
        self._on_loop(self._inbox.put_nowait, ("candidate", payload))

    def close(self, reason: str) -> None:
        self._on_loop(self._end_soon, reason, False)

    def _end_soon(self, reason: str, notify: bool) -> None:
        self.loop.create_task(self.end(reason, notify=notify))

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` on the loop, from any thread; nothing once the loop has closed (the server stopped)."""
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass

    # ----------------------------------------------------------------- running
    async def _read_inbox(self) -> None:
        while True:
            kind, payload = await self._inbox.get()
            try:
                if kind == "answer":
                    if self.pc.signalingState != "have-local-offer":
                        continue  # a second answer to one offer: the first one stands
                    await self.pc.setRemoteDescription(_session_description(payload, "answer"))
                else:
                    candidate = _candidate(payload)
                    if candidate is not None and self.pc.remoteDescription is not None:
                        await self.pc.addIceCandidate(candidate)
            except Exception as exc:  # a malformed answer or candidate from the client
                log.warning("storage session of %s: the %s's %s was refused: %s",
                            self.order.channel_arn, self.role, kind, exc)
                if kind == "answer":
                    self._end_soon(f"the {self.role}'s answer could not be used: {exc}", True)
                    return

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            reason = self.lifetime.ended(clock.now())
            if reason is not None:
                self._end_soon(reason, True)
                return
            await self.tick()

    async def tick(self) -> None:
        """Called every WATCH_SECONDS while the peer runs."""

    async def end(self, reason: str, notify: bool) -> None:
        """End the peer once: ``notify`` tells the service (when it did not end it itself)."""
        if self.ended_reason is not None:
            return
        self.ended_reason = reason
        log.info("storage session of %s: the %s's peer ended: %s", self.order.channel_arn, self.role, reason)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self.finish()
        try:
            await self.pc.close()
        except Exception:  # noqa: BLE001 - closing what may already be broken
            log.debug("closing a storage peer failed", exc_info=True)
        self._on_end(self)
        if notify:
            self.order.ended(self, reason)

    def finish(self) -> None:
        """What a peer does as it ends, before its connection closes."""


class MasterStoragePeer(_StoragePeerBase):
    """Receives the master's H.264 and Opus and stores them in the stream (see the module docstring)."""

    role = "master"

    def __init__(self, order: StoragePeerOrder, addresses: tuple[str, ...], on_end: Callable[[Any], None]):
        super().__init__(order, addresses, on_end)
        self.transcoder = OpusToAac()
        aac = self.transcoder.encoder
        self.writer = LiveMkv(
            LiveAudio(aac.codec_private, aac.sample_rate, aac.channels, aac.frame_ms, aac.silence),
            app="kvsmock WebRTC storage",
        )
        self.ingest = StorageIngest(order.stream)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="kvsmock-storage")
        self._bases: dict[str, int] = {}
        self._last_pli = 0.0
        self.relay = MediaRelay()
        self._feeds: dict[str, PacketTrack] = {}
        audio = self.pc.addTransceiver("audio", direction="recvonly")
        audio.setCodecPreferences(_codecs("audio", "opus"))
        video = self.pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(_codecs("video", "H264") + _codecs("video", "rtx"))
        self._video_receiver = video.receiver
        tap_encoded_frames(audio.receiver, self._audio_frame)
        tap_encoded_frames(video.receiver, self._video_frame)

    # ------------------------------------------------------------ media in
    def _time_ms(self, kind: str, timestamp: int, clock_rate: int) -> int:
        """A frame's time in epoch ms: its track's first frame arrived at the emulator clock's time."""
        offset = timestamp * 1000 // clock_rate
        base = self._bases.get(kind)
        if base is None:
            base = self._bases[kind] = round(clock.now() * 1000) - offset
        return base + offset

    def _video_frame(self, codec: Any, data: bytes, timestamp: int) -> None:
        if self.ended_reason is not None or codec.name.lower() != "h264":
            return
        self.lifetime.media(clock.now())
        self._store(self.writer.video(self._time_ms("video", timestamp, VIDEO_CLOCK), data))
        if self.writer.wants_keyframe:
            self.want_keyframe()
        feed = self._feeds.get("video")
        if feed is not None:
            feed.push(data, timestamp, VIDEO_CLOCK)

    def _audio_frame(self, codec: Any, data: bytes, timestamp: int) -> None:
        if self.ended_reason is not None or codec.name.lower() != "opus":
            return
        self.lifetime.media(clock.now())
        self._time_ms("audio", timestamp, AUDIO_CLOCK)  # the track's time starts when its first frame arrives
        base = self._bases["audio"]
        for frame in self.transcoder.feed(timestamp, data):
            self._store(self.writer.audio(base + frame.pts * 1000 // AUDIO_CLOCK, frame.data))
        feed = self._feeds.get("audio")
        if feed is not None:
            feed.push(data, timestamp, AUDIO_CLOCK)

    def _store(self, fragments: list[LiveFragment]) -> None:
        for fragment in fragments:
            self._worker.submit(self._store_one, fragment)

    def _store_one(self, fragment: LiveFragment) -> None:
        """On the worker thread: store one fragment; end the session if the stream takes no more."""
        try:
            if self.ingest.store(fragment):
                return
            reason = f"the stream {self.order.stream.name} can take no more media"
        except Exception:  # a kvsmock bug: logged, and the session ends rather than lose media silently
            log.exception("kvsmock could not store a WebRTC fragment in %s", self.order.stream.arn)
            reason = "kvsmock failed to store the media"
        self._on_loop(self._end_soon, reason, True)

    # ------------------------------------------------------------- keyframes
    async def tick(self) -> None:
        if self.writer.wants_keyframe:
            await self.request_keyframe()

    async def request_keyframe(self) -> None:
        """Ask the master for a keyframe (RTCP PLI), at most once a second."""
        now = self.loop.time()
        if now - self._last_pli < PLI_SECONDS:
            return
        sources = self._video_receiver.getSynchronizationSources()
        if sources:
            self._last_pli = now
            await self._video_receiver._send_rtcp_pli(sources[0].source)

    # -------------------------------------------------------------- viewers
    def relayed(self, kind: str) -> MediaStreamTrack:
        """A new consumer's copy of the master's ``kind`` packets."""
        feed = self._feeds.get(kind)
        if feed is None:
            feed = self._feeds[kind] = PacketTrack(kind)
        return self.relay.subscribe(feed, buffered=True)

    def want_keyframe(self) -> None:
        """A keyframe is needed (to end a long fragment, or for a viewer to start from)."""
        if self.ended_reason is None and self.loop.time() - self._last_pli >= PLI_SECONDS:
            self.loop.create_task(self.request_keyframe())

    def finish(self) -> None:
        for feed in self._feeds.values():
            feed.end()
        self._store(self.writer.flush())
        self._worker.submit(self.ingest.close)
        self._worker.shutdown(wait=False)


class ViewerStoragePeer(_StoragePeerBase):
    """Sends a viewer the master's media, as the master sent it (see the module docstring)."""

    role = "viewer"

    def __init__(self, order: StoragePeerOrder, addresses: tuple[str, ...], on_end: Callable[[Any], None]):
        super().__init__(order, addresses, on_end)
        self._master: MasterStoragePeer | None = None
        on_media = lambda: self.lifetime.media(clock.now())  # noqa: E731
        self.tracks = {
            kind: ViewerTrack(kind, on_media, self._want_keyframe) for kind in ("audio", "video")
        }
        audio = self.pc.addTransceiver(self.tracks["audio"], direction="sendrecv")
        audio.setCodecPreferences(_codecs("audio", "opus"))
        video = self.pc.addTransceiver(self.tracks["video"], direction="sendonly")
        video.setCodecPreferences(_codecs("video", "H264") + _codecs("video", "rtx"))
        tap_encoded_frames(audio.receiver, lambda codec, data, timestamp: None)  # the viewer's audio: dropped

    def attach(self, master: MasterStoragePeer | None) -> None:
        """Send the media of ``master`` (the master's current peer) from now on."""
        self._master = master
        for kind, track in self.tracks.items():
            track.set_source(master.relayed(kind) if master is not None else None)
        if master is not None:
            master.want_keyframe()

    def _want_keyframe(self) -> None:
        if self._master is not None:
            self._master.want_keyframe()

    def finish(self) -> None:
        for track in self.tracks.values():
            track.stop()

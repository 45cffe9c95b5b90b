"""The WebRTC signaling endpoint (WebSocket), served from a background thread.

One asyncio loop in its own thread runs a ``websockets`` server (WS and WSS
on one port: :mod:`kvsmock.server.ws_one_port`) and the TURN server of
:mod:`kvsmock.server.turn` (UDP on the same port number, TCP and TLS on the
same port, beside WS and WSS). The rules are the service
layer's (:mod:`kvsmock.service.signaling`); this module only carries them
over WebSocket:

* the opening handshake reads ``X-Amz-ChannelARN`` and, for a viewer,
  ``X-Amz-ClientId`` from the query string (a connection with a ClientId is
  a viewer's, one without is the master's), finds the channel in the
  backend of the account and region of the presigned ``X-Amz-Credential``
  (or, unsigned, of the ARN), and refuses with the service's error as an
  HTTP response (status, ``x-amzn-ErrorType``, JSON body) — how the service
  itself reports a failed upgrade is not documented; an accepted client is
  registered with the hub before the ``101`` goes out, so it is reachable
  as soon as its connect returns;
* each text frame is a JSON client message handed to the hub; the events
  the hub delivers are sent as JSON text frames;
* on shutdown, and when the channel has gone (deleted, or state reset;
  noticed at the client's next message),
  the client gets ``GO_AWAY`` and the socket is closed;
* the storage sessions' media peers (WebRTC ingestion) run on the same
  loop: while the server runs, its :class:`~.storage_peers.StoragePeerRunner`
  is the service's storage peer factory.

SigV4 signatures are not verified (moto does not verify them either).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..api.endpoints import RunningSignaling, SignalingAddress, running_signaling
from ..api.moto_glue import account_id_for, backend_for as default_backend_for, every_backend
from .. import clock
from ..errors import InternalFailure, KvsError, SignalingAccessDenied
from ..service.faults import Strike, faults
from ..service.identifiers import parse_arn
from ..service.signaling.events import CLOSE_GOING_AWAY, GO_AWAY
from ..service.signaling.hub import hub_for
from ..service.signaling.peers import MASTER, VIEWER, Peer
from ..service.signaling.storage_peer import storage_peer_factories
from ..service.request_log import RequestEntry, request_log
from ..service.signaling.validation import check_channel_arn
from .addresses import listening_url
from .storage_peers import StoragePeerRunner
from .turn import TurnServer
from .turn.credentials import BackendAuthority
from .ws_one_port import OnePortLoop, accept_connections

log = logging.getLogger("kvsmock.signaling")

#: Seconds between sweeps of the hubs' time-based connection rules.
CONNECTION_SWEEP_SECONDS = 1.0
#: Largest frame accepted; a message payload is limited to 10,000 characters, the
#: frame is kept larger so an oversized payload gets a STATUS_RESPONSE, not a dropped socket.
MAX_FRAME_BYTES = 256 * 1024


class _ConnectCall:
    """A WebSocket connect, as the request log records it."""

    def __init__(self, request: Request):
        self.time = clock.now()
        self.started = time.perf_counter()
        query = _query(request.path)
        self.operation = "ConnectAsViewer" if "x-amz-clientid" in query else "ConnectAsMaster"
        self.account, self.region, self.resource = "", "", query.get("x-amz-channelarn")
        self.strike: Strike | None = None

    def found(self, plan: "_Plan") -> None:
        self.account, self.region = plan.account_id, plan.region

    def log(self, refusal: Response | None) -> None:
        request_log.add(RequestEntry.answered(
            time=self.time, started=self.started, account=self.account, region=self.region,
            operation=self.operation, resource=self.resource, status=refusal.status_code if refusal is not None else 101,
            error=refusal.headers.get("x-amzn-ErrorType") if refusal is not None else None,
            bytes_in=0, bytes_out=len(refusal.body) if refusal is not None else 0, strike=self.strike,
        ))


@dataclass
class _Plan:
    """What the handshake found: whose channel, which role."""

    account_id: str
    region: str
    channel_arn: str
    role: str
    client_id: str | None


@dataclass
class _Close:
    code: int
    reason: str


class _Outbox:
    """What is sent to one client, queued for its writer task.

    :meth:`deliver` and :meth:`close` are the callbacks the signaling hub
    is given when the client connects: safe to call from any thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self.queue: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()

    def deliver(self, event: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self.queue.put_nowait, event)

    def close(self, code: int, reason: str) -> None:
        self._loop.call_soon_threadsafe(self.queue.put_nowait, _Close(code, reason))


@dataclass(eq=False)
class _Connection:
    """An open client connection and the task writing its outbox to it."""

    ws: ServerConnection
    outbox: _Outbox
    writer: asyncio.Task


def _query(path: str) -> dict[str, str]:
    """The query parameters, names folded to lower case (the first value of each)."""
    out: dict[str, str] = {}
    for key, values in parse_qs(urlsplit(path).query, keep_blank_values=True).items():
        out.setdefault(key.lower(), values[0])
    return out


def _client_message(frame: str | bytes) -> dict[str, Any] | None:
    """A client frame as a JSON object; None for frames SDKs and the service ignore (not UTF-8 JSON objects)."""
    try:
        text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class SignalingServer:
    """kvsmock's WebRTC signaling endpoint (WebSocket) and its TURN server.

    ``start()`` binds and serves from a background thread and adds the
    server's address to ``registry`` (the process's
    :data:`~kvsmock.api.endpoints.running_signaling`), so that
    GetSignalingChannelEndpoint hands it out for WSS; ``stop()`` sends
    GO_AWAY to every client, frees every TURN allocation, closes, and
    takes the address back. Also a context manager.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        public_url: str | None = None,
        ice: bool = True,
        backend_for: Callable[[str, str], Any] | None = None,
        registry: RunningSignaling = running_signaling,
    ):
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.public_url = public_url.rstrip("/") if public_url else None
        self.ice = ice
        self._backend_for = backend_for or default_backend_for
        self._registry = registry
        self.port: int | None = None
        self.ice_port: int | None = None
        self.address: SignalingAddress | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._server: Server | None = None
        self.turn: TurnServer | None = None
        self._turn_listener: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._storage: StoragePeerRunner | None = None

    # ------------------------------------------------------------- addresses
    @property
    def scheme(self) -> str:
        """``wss`` with a TLS context (``ws://`` is still answered on the same port), else ``ws``."""
        return "wss" if self.ssl_context else "ws"

    @property
    def url(self) -> str:
        """The address it listens on (``wss://127.0.0.1:PORT`` with TLS); a wildcard host shows as loopback."""
        return listening_url(self.scheme, self.host, self.port)

    @property
    def endpoint_url(self) -> str:
        """What GetSignalingChannelEndpoint hands out in-process."""
        return self.public_url or self.url

    # -------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> "SignalingServer":
        if self._thread is not None:
            raise RuntimeError("the signaling server is already running")
        self._thread = threading.Thread(target=self._run, name="kvsmock-signaling", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the signaling server did not start")
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise self._startup_error
        ice_host = urlsplit(self.url).hostname or "127.0.0.1"
        self.address = SignalingAddress(
            scheme=self.scheme,
            url=self.url,
            port=self.port or 0,
            public_url=self.public_url,
            ice_host=ice_host,
            ice_port=self.ice_port,
        )
        self._registry.add(self.address)
        assert self._loop is not None
        self._storage = StoragePeerRunner(self._loop, self.host)
        storage_peer_factories.add(self._storage)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._storage is not None:
            storage_peer_factories.remove(self._storage)
        if self.address is not None:
            self._registry.remove(self.address)
            self.address = None
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stopping is not None:
            loop.call_soon_threadsafe(self._stopping.set)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "SignalingServer":
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        loop = OnePortLoop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("the signaling server failed")
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        listener = socket.create_server(
            (self.host or "", self.requested_port),
            family=socket.AF_INET6 if ":" in (self.host or "") else socket.AF_INET,
            reuse_port=False,
        )
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        # websockets never accepts on the listener itself: each connection is handed to it as WS or WSS.
        self._server = await serve(
            self._handle,
            sock=listener,
            start_serving=False,
            process_request=self._handshake,
            process_response=self._register,
            max_size=MAX_FRAME_BYTES,
            logger=log,
        )
        loop = asyncio.get_running_loop()
        assert isinstance(loop, OnePortLoop) and loop.protocol_factory is not None
        accepting: list[asyncio.Task] = []
        try:
            if self.ice:
                accepting += await self._start_turn(listener, loop.protocol_factory)
            else:
                accepting.append(
                    asyncio.create_task(accept_connections(listener, loop.protocol_factory, self.ssl_context))
                )
        except BaseException:
            listener.close()
            if self.turn is not None:
                self.turn.close()
            raise
        accepting.append(asyncio.create_task(self._sweep_connections()))
        self._ready.set()
        await self._stopping.wait()
        for task in accepting:
            task.cancel()
        if self._storage is not None:
            await self._storage.close_all()
        await self._shutdown()

    @staticmethod
    async def _sweep_connections() -> None:
        """Once a second: the hubs' time-based connection rules (lifetime, idle timeout, RECONNECT_ICE_SERVER)."""
        while True:
            await asyncio.sleep(CONNECTION_SWEEP_SECONDS)
            for backend in every_backend():
                try:
                    hub_for(backend).sweep()
                except Exception:  # never let the sweeper die
                    log.exception("the signaling connection sweep failed")

    async def _start_turn(self, listener: socket.socket, ws_factory: Any) -> list[asyncio.Task]:
        """The TURN server: UDP on the signaling port's number, TCP and TLS on the signaling port.

        When that UDP port is taken, TURN moves to a port number free for
        both UDP and TCP (TCP then has a listener of its own), so that
        every URI of GetIceServerConfig names one port.
        """
        host = self.host or "0.0.0.0"
        relay_host = urlsplit(listening_url("ws", self.host, self.port)).hostname or "127.0.0.1"
        turn = self.turn = TurnServer(BackendAuthority(self._backend_for), relay_host, bind_host=host)
        tcp_port = listener.getsockname()[1]
        try:
            self.ice_port = await turn.listen_udp(host, tcp_port)
        except OSError:
            self.ice_port = None
        tasks = [asyncio.create_task(accept_connections(listener, ws_factory, self.ssl_context, turn.stream_protocol))]
        for _ in range(20 if self.ice_port is None else 0):
            try:
                udp_port = await turn.listen_udp(host, 0)
            except OSError:
                break
            try:
                own = socket.create_server((host, udp_port), family=listener.family)
            except OSError:
                turn.close_udp()
                continue
            own.setblocking(False)
            self._turn_listener, self.ice_port = own, udp_port
            tasks.append(asyncio.create_task(accept_connections(own, ws_factory, self.ssl_context, turn.stream_protocol)))
            break
        return tasks

    async def _shutdown(self) -> None:
        connections = list(self._connections)
        for conn in connections:
            conn.outbox.deliver(dict(GO_AWAY))
            conn.outbox.close(CLOSE_GOING_AWAY, "The signaling server is shutting down.")
        if connections:
            await asyncio.wait([c.writer for c in connections], timeout=2)
        if self.turn is not None:
            self.turn.close()
            await asyncio.sleep(0)  # its sockets' connection_lost callbacks run before the loop ends
        if self._turn_listener is not None:
            self._turn_listener.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ TURN
    def turn_allocations(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The TURN allocations held now (empty once the server has stopped)."""
        loop, turn = self._loop, self.turn
        if turn is None or loop is None or loop.is_closed() or self._thread is None:
            return turn.allocations() if turn is not None else []

        async def snapshot() -> list[dict[str, Any]]:
            return turn.allocations()

        return asyncio.run_coroutine_threadsafe(snapshot(), loop).result(timeout)

    # -------------------------------------------------------------- handshake
    def _plan(self, request: Request) -> _Plan:
        """Whose channel the connect is for, and in which role (the channel itself is not checked yet)."""
        query = _query(request.path)
        arn = check_channel_arn(query.get("x-amz-channelarn"))
        client_id = query.get("x-amz-clientid")
        role = VIEWER if client_id is not None else MASTER
        parsed = parse_arn(arn)
        credential = query.get("x-amz-credential")
        parts = credential.split("/") if credential else []
        if len(parts) >= 3:
            account_id = account_id_for(request.headers, parts[0])
            region = parts[2]
        else:  # unsigned: the ARN says where the channel is
            account_id, region = parsed.account_id, parsed.region
        if parsed.account_id != account_id:
            raise SignalingAccessDenied(f"The caller is not authorized to access the channel {arn}.")
        return _Plan(account_id, region, arn, role, client_id)

    def _admit(self, plan: _Plan) -> None:
        """Raise the error the service refuses this connect with, if any."""
        backend = self._backend_for(plan.account_id, plan.region)
        channel = backend.find_channel({"ChannelARN": plan.channel_arn})
        hub_for(backend).check_connect(channel, plan.role, plan.client_id)

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None  # not a WebSocket request: websockets answers 426 Upgrade Required
        call = _ConnectCall(request)
        response: Response | None = None
        try:
            plan = self._plan(request)
            call.found(plan)
            strike = faults.strike(call.operation, plan.account_id, plan.region, (plan.channel_arn,))
            call.strike = strike
            if strike is not None:
                if strike.latency_s:
                    await asyncio.sleep(strike.latency_s)
                if strike.error is not None:
                    raise strike.error
            self._admit(plan)
            connection.kvs_plan = plan  # type: ignore[attr-defined]
        except KvsError as err:
            response = self._refuse(connection, err)
        except Exception:  # a kvsmock bug: refuse like the service would, log the detail
            log.exception("signaling handshake failed")
            response = self._refuse(connection, InternalFailure("kvsmock hit an internal error; see its log."))
        call.log(response)
        return response

    @staticmethod
    def _refuse(connection: ServerConnection, err: KvsError) -> Response:
        response = connection.respond(err.status, json.dumps(err.body()))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        response.headers["x-amzn-ErrorType"] = err.error_type
        return response

    # ------------------------------------------------------------- connection
    async def _register(self, connection: ServerConnection, request: Request, response: Response) -> Response | None:
        """Register the client with the hub before the 101 goes out.

        When the client's connect returns it is already the channel's master
        (or that viewer): messages sent to it from then on are delivered, and
        the viewer count is exact for the next handshake. Events delivered
        before the handler starts wait in the connection's outbox.
        """
        plan: _Plan | None = getattr(connection, "kvs_plan", None)
        if plan is None or response.status_code != 101:
            return None
        loop = asyncio.get_running_loop()
        outbox = _Outbox(loop)
        backend = self._backend_for(plan.account_id, plan.region)
        try:
            channel = backend.find_channel({"ChannelARN": plan.channel_arn})
            peer = hub_for(backend).connect(channel, plan.role, plan.client_id, outbox.deliver, outbox.close)
        except KvsError as err:  # lost a race since process_request (channel deleted, viewer limit)
            return self._refuse(connection, err)
        connection.kvs_peer = peer  # type: ignore[attr-defined]
        connection.kvs_outbox = outbox  # type: ignore[attr-defined]
        # However the connection ends (even if the handler never runs), the hub forgets it.
        loop.create_task(self._forget_when_closed(connection, peer))
        return None

    @staticmethod
    async def _forget_when_closed(connection: ServerConnection, peer: Peer) -> None:
        await connection.wait_closed()
        peer.hub.disconnect(peer)

    async def _handle(self, ws: ServerConnection) -> None:
        plan: _Plan | None = getattr(ws, "kvs_plan", None)
        peer: Peer | None = getattr(ws, "kvs_peer", None)
        outbox: _Outbox | None = getattr(ws, "kvs_outbox", None)
        if plan is None or peer is None or outbox is None:
            await ws.close(1011, "not registered")
            return
        conn = _Connection(ws, outbox, asyncio.create_task(self._write(ws, outbox)))
        self._connections.add(conn)
        try:
            async for message in ws:
                self._on_message(plan, peer, message, outbox)
        except ConnectionClosed:
            pass
        finally:
            peer.hub.disconnect(peer)
            self._connections.discard(conn)
            if not conn.writer.done():
                try:
                    await asyncio.wait_for(asyncio.shield(conn.writer), timeout=0.05)
                except (asyncio.TimeoutError, Exception):
                    conn.writer.cancel()

    def _on_message(self, plan: _Plan, peer: Peer, message: str | bytes, outbox: _Outbox) -> None:
        data = _client_message(message)
        if data is None:
            return
        backend = self._backend_for(plan.account_id, plan.region)
        hub = hub_for(backend)
        channel = None
        if hub is peer.hub:
            try:
                channel = backend.find_channel({"ChannelARN": plan.channel_arn})
            except KvsError:
                channel = None
        if channel is None:  # deleted, or the emulator's state was reset
            outbox.deliver(dict(GO_AWAY))
            outbox.close(CLOSE_GOING_AWAY, "The signaling channel no longer exists.")
            return
        status = hub.receive(peer, channel, data)
        if status is not None:
            outbox.deliver(status)

    @staticmethod
    async def _write(ws: ServerConnection, outbox: _Outbox) -> None:
        try:
            while True:
                item = await outbox.queue.get()
                if isinstance(item, _Close):
                    await ws.close(item.code, item.reason)
                    return
                await ws.send(json.dumps(item))
        except ConnectionClosed:
            return


def start_signaling_server(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> SignalingServer:
    """Start a signaling server in-process; use it as a context manager or call ``.stop()``.

    While it runs, GetSignalingChannelEndpoint answers WSS with its
    ``ws://`` address and GetIceServerConfig points at its TURN server::

        with start_signaling_server() as server:
            ...  # server.url == "ws://127.0.0.1:PORT"
    """
    return SignalingServer(host, port, **kwargs).start()

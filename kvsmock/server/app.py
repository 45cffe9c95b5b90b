"""The server's WSGI application.

A request goes to kvsmock when it is signed for the ``kinesisvideo`` service
(every KVS SDK signs with that name), or is unsigned and aimed at a KVS path
(HLS/DASH session URLs, browsers); ``/_kvsmock/*`` is the server's own
control API; everything else goes to moto's server app, so S3, KMS, SNS and
the rest answer on the same port.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from http import HTTPStatus
from typing import Any, Callable, Iterable

from werkzeug.serving import DechunkedInput
from werkzeug.wrappers import Request

from .. import clock
from ..api.dispatch import handle, is_kvs_path, looks_like_kvs_path
from ..api.moto_glue import backend_for, expire_all, make_request, moto_wsgi_app, reset_all
from ..api.usage_report import usage
from ..errors import KvsError
from ..api.request import ApiResponse
from .cors import cors_headers, with_cors
from .peer import peer_gone_probe

log = logging.getLogger("kvsmock")

KVS_PREFIXES = ("/hls/", "/dash/")
#: The largest body a ``/_kvsmock/*`` control request may have.
CONTROL_BODY_LIMIT = 64 * 1024
#: Seconds of wall time between sweeps that free media whose retention has ended.
SWEEP_INTERVAL = 1.0


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class _Body:
    """A WSGI response body that runs a callback when the server is done with it."""

    def __init__(self, parts: Iterable[bytes], on_close: Callable[[], None] | None):
        self._parts = parts
        self._on_close = on_close

    def __iter__(self):
        return iter(self._parts)

    def close(self) -> None:
        close = getattr(self._parts, "close", None)
        if close:
            close()
        if self._on_close:
            self._on_close()


def _body_pieces(request: Request, size: int = 64 * 1024) -> Iterable[bytes]:
    """The request body as it arrives, in pieces.

    A chunked upload is yielded chunk by chunk as each arrives: werkzeug's own
    de-chunking stream fills its whole read buffer before returning, which
    would hold the last bytes of a PutMedia fragment until more data came.
    """
    raw = request.environ.get("wsgi.input")
    if isinstance(raw, DechunkedInput):
        yield from _chunks(raw, size)
        return
    stream = request.stream
    while True:
        piece = stream.read(size)
        if not piece:
            return
        yield piece


def _chunk_size(rfile: Any) -> int:
    """The size on a chunk's header line, its extensions (``3;name=value``) ignored (RFC 9112 7.1.1)."""
    line = rfile.readline(4096)
    if not line.endswith(b"\n"):
        raise OSError("the connection closed in a chunk header, or the header is too long")
    size = line.split(b";", 1)[0].strip(b" \t\r\n")
    try:
        value = int(size, 16)
    except ValueError:
        raise OSError(f"invalid chunk header {line[:40]!r}") from None
    if value < 0 or not size.isalnum():
        raise OSError(f"invalid chunk header {line[:40]!r}")
    return value


def _chunks(dechunked: DechunkedInput, size: int) -> Iterable[bytes]:
    rfile = dechunked._rfile  # the socket file under werkzeug's dev-server de-chunker
    while True:
        remaining = _chunk_size(rfile)
        if remaining == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers, then the final CRLF
            return
        while remaining > 0:
            piece = rfile.read(min(remaining, size))  # the client has sent this chunk: no wait beyond it
            if not piece:
                raise OSError("the connection closed inside a chunk")
            remaining -= len(piece)
            yield piece
        rfile.readline(16)  # the CRLF closing the chunk


class KvsServerApp:
    """WSGI app serving KVS, the ``/_kvsmock`` control API and moto's services."""

    def __init__(self, public_url: str | None = None, sweep: bool = True):
        self.public_url = public_url.rstrip("/") if public_url else None
        self._moto = moto_wsgi_app()
        self._stop_sweep = threading.Event()
        if sweep:
            threading.Thread(target=self._sweep, name="kvsmock-retention-sweep", daemon=True).start()

    def _sweep(self) -> None:
        """Free expired media in the background (reads also drop it lazily)."""
        while not self._stop_sweep.wait(SWEEP_INTERVAL):
            try:
                expire_all()
            except Exception:  # never let the sweeper die; the next read expires lazily anyway
                log.exception("kvsmock retention sweep failed")

    def close(self) -> None:
        self._stop_sweep.set()

    # ------------------------------------------------------------ routing
    @staticmethod
    def is_kvs_request(request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if "Credential=" in auth:
            return "/kinesisvideo/aws4_request" in auth
        credential = request.args.get("X-Amz-Credential")
        if credential:
            return "/kinesisvideo/" in credential
        if is_kvs_path(request.path) or request.path.startswith(KVS_PREFIXES):
            return True
        # Unsigned JSON calls are API calls in KVS's style (moto's other services sign theirs);
        # kvsmock answers them as the service answers an unknown operation.
        json_body = request.mimetype == "application/json" or request.mimetype.startswith("application/x-amz-json")
        return looks_like_kvs_path(request.path) or (request.method == "POST" and json_body)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        if request.method == "OPTIONS":
            start_response("200 OK", cors_headers(environ) + [("Content-Length", "0")])
            return [b""]
        if request.path.startswith("/_kvsmock/"):
            return self._send(environ, start_response, self._control(request))
        if self.is_kvs_request(request):
            base_url = self.public_url or base_url_of(environ)
            req = make_request(request.method, request.url, request.headers, _body_pieces(request), server_base_url=base_url)
            req.client_gone = peer_gone_probe(environ.get("werkzeug.socket"))  # a waiting GetMedia frees its slot
            return self._send(environ, start_response, handle(req, backend_for))

        def start_with_cors(status, headers, exc_info=None):
            return start_response(status, with_cors(environ, list(headers)), exc_info)

        return self._moto(environ, start_with_cors)

    def _send(self, environ: dict, start_response: Callable, response: ApiResponse) -> Any:
        headers = with_cors(environ, list(response.headers.items()))
        if isinstance(response.body, (bytes, bytearray)):
            headers.append(("Content-Length", str(len(response.body))))
            start_response(_status_line(response.status), headers)
            return _Body([bytes(response.body)], response.on_close)
        start_response(_status_line(response.status), headers)
        return _Body(response.body, response.on_close)

    # ------------------------------------------------------- control API
    def _control(self, request: Request) -> ApiResponse:
        path = request.path
        if path == "/_kvsmock/health" and request.method in ("GET", "HEAD"):
            return _json(200, {"status": "ready"})
        if path == "/_kvsmock/reset" and request.method == "POST":
            reset_all()
            clock.reset()
            return _json(200, {"status": "reset"})
        if path == "/_kvsmock/clock":
            if request.method == "GET":
                return _json(200, {"now": clock.now(), "offset": clock.offset()})
            if request.method == "POST":
                moved = self._move_clock(request)
                expire_all()  # retention follows the clock at once
                return moved
        if path == "/_kvsmock/usage" and request.method == "GET":
            args = dict(request.args)
            account, region = args.pop("account", None), args.pop("region", None)
            try:
                return _json(200, usage(args, account_id=account, region=region))
            except KvsError as err:
                return _json(err.status, {"Message": err.message})
        return _json(404, {"Message": f"No control endpoint at {request.method} {path}."})

    @staticmethod
    def _move_clock(request: Request) -> ApiResponse:
        body = _small_body(request)
        if body is None:
            return _json(413, {"Message": f"A control request body is at most {CONTROL_BODY_LIMIT} bytes."})
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError
            if "set" in payload:
                clock.set_time(_finite(payload["set"]))
            elif "advance" in payload:
                clock.advance(_finite(payload["advance"]))
            elif payload.get("reset"):
                clock.reset()
            else:
                raise ValueError
        except (ValueError, TypeError, OverflowError) as err:
            detail = f" ({err})" if "clock can be moved" in str(err) else ""
            return _json(
                400, {"Message": 'Send {"advance": seconds}, {"set": epoch_seconds} or {"reset": true}' + detail + "."}
            )
        return _json(200, {"now": clock.now(), "offset": clock.offset()})


def base_url_of(environ: dict) -> str:
    """The URL the client reached the server at: its scheme and Host, with the port it really connected to.

    Some clients (the C producer SDK's SigV4 signer) send ``Host`` without
    the port; every URL kvsmock hands out (data endpoints, session URLs,
    signaling endpoints) must still point at the port they connected to.
    """
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "127.0.0.1")
    port = str(environ.get("SERVER_PORT") or "")
    bracketed = host.startswith("[")
    has_port = host.rsplit("]", 1)[-1].startswith(":") if bracketed else ":" in host
    if not has_port and port:
        if not bracketed and host.count(":") > 1:  # a bare IPv6 address
            host = f"[{host}]"
        default = "443" if scheme == "https" else "80"
        if port != default:
            host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _small_body(request: Request) -> bytes | None:
    """A control request's body, or None if it is larger than :data:`CONTROL_BODY_LIMIT` (never read whole)."""
    length = request.content_length
    if length is not None and length > CONTROL_BODY_LIMIT:
        return None
    body = request.stream.read(CONTROL_BODY_LIMIT + 1)
    return None if len(body) > CONTROL_BODY_LIMIT else body


def _finite(value: Any) -> float:
    """A number of seconds; NaN or infinity would break every timestamp after it."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(value)
    return seconds


def _json(status: int, payload: dict) -> ApiResponse:
    return ApiResponse(status=status, headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode())

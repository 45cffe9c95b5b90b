"""The server's WSGI application: which requests kvsmock answers, which go to moto.

A request goes to kvsmock when it is signed for the ``kinesisvideo`` service
(every KVS SDK signs with that name), or is unsigned and aimed at a KVS path
(HLS/DASH session URLs, browsers); ``/_kvsmock/*`` is the server's own
control API (:mod:`kvsmock.server.control`), the web console among it (a
browser opening ``/`` is sent there: :mod:`kvsmock.server.console_files`);
everything else goes to moto's server app, so S3, KMS, SNS and the rest
answer on the same port. Every response carries CORS headers
(:mod:`kvsmock.server.cors`).
"""

from __future__ import annotations

import socket
from http import HTTPStatus
from io import BufferedReader
from typing import Any, Callable, Iterable, Iterator, cast

from werkzeug.serving import DechunkedInput
from werkzeug.wrappers import Request

from ..api.dispatch import handle, is_kvs_path, looks_like_kvs_path
from ..api.moto_glue import backend_for, make_request, moto_wsgi_app
from ..api.request import DEFAULT_GET_MEDIA_IDLE_TIMEOUT, ApiResponse, ChunkGroup, ConnectionDrop
from ..service.persistence import persistence
from .addresses import base_url_of
from .console_files import redirect_to_console, wants_console
from .control import control_response, is_control_path
from .cors import cors_headers, with_cors
from .peer import peer_gone_probe
from .request_body import body_pieces
from .sweep import RetentionSweep
from .upload_readers import upload_readers

KVS_PREFIXES = ("/hls/", "/dash/")
#: Where a kvsmock response's body is left in the WSGI environ: werkzeug skips the body's
#: ``close()`` when a dropped client surfaces in its clean-up, so the handler closes it then.
RESPONSE_KEY = "kvsmock.response"
#: Where the request handler leaves the connection's :class:`~.handler.CoalescingWriter`.
WRITER_KEY = "kvsmock.writer"


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class _Body:
    """A WSGI response body that runs a callback when the server is done with it.

    A body that raises :class:`ConnectionDrop` (a fault rule's drop) ends
    its connection's sending side there (the client reads an end of stream
    in the middle of the response); werkzeug then sees a dropped connection,
    reads what the client still sends and closes it.
    """

    def __init__(self, parts: Iterable[bytes], on_close: Callable[[], None] | None, environ: dict | None = None):
        self._parts = parts
        self._on_close = on_close
        self._closed = False
        self._sock = (environ or {}).get("werkzeug.socket")
        self._writer = (environ or {}).get(WRITER_KEY)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for part in self._parts:
                if isinstance(part, ChunkGroup):
                    yield from self._group(part)
                else:
                    yield part
        except ConnectionDrop as drop:
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            raise ConnectionAbortedError(str(drop)) from None
        # Done before werkzeug writes the last chunk: a client that has read the end may at once
        # read the request log or open the next GetMedia, and must find this response counted.
        self.close()

    def _group(self, group: ChunkGroup) -> Iterator[bytes]:
        """Each piece as a chunk of its own, sent in one write (the writer holds its flushes until the last)."""
        writer = self._writer
        last = len(group.pieces) - 1
        for i, piece in enumerate(group.pieces):
            if writer is not None:
                writer.holding = i < last
            yield piece

    def close(self) -> None:
        """End the response (idempotent: the request handler may call it too, see ``RESPONSE_KEY``)."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._parts, "close", None)
        if close:
            close()
        if self._on_close:
            self._on_close()


class KvsServerApp:
    """WSGI app serving KVS, the ``/_kvsmock`` control API and moto's services.

    ``public_url``: the base URL data endpoints point at (``--public-url``;
    default: where each client reached the server). ``get_media_idle_timeout``:
    how long a caught-up live GetMedia waits with no producer connected
    (``--get-media-idle-timeout``). With ``sweep``, a background thread frees
    expired media until :meth:`close`.
    """

    def __init__(
        self,
        public_url: str | None = None,
        sweep: bool = True,
        get_media_idle_timeout: float | None = DEFAULT_GET_MEDIA_IDLE_TIMEOUT,
    ):
        self.public_url = public_url.rstrip("/") if public_url else None
        self.get_media_idle_timeout = get_media_idle_timeout
        self._moto = moto_wsgi_app()
        self._sweep = RetentionSweep() if sweep else None

    def close(self) -> None:
        """Stop the retention sweep."""
        if self._sweep is not None:
            self._sweep.stop()

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
        if wants_console(request):  # a browser opening the server's root
            return self._send(environ, start_response, redirect_to_console())
        if is_control_path(request.path):
            return self._send(environ, start_response, control_response(request))
        if self.is_kvs_request(request):
            base_url = self.public_url or base_url_of(environ)
            req = make_request(request.method, request.url, request.headers, body_pieces(request), server_base_url=base_url)
            req.client_gone = peer_gone_probe(environ.get("werkzeug.socket"))  # a waiting GetMedia frees its slot
            writer = environ.get(WRITER_KEY)
            if writer is not None and writer.can_send_now:
                req.chunk_sender = writer  # a caught-up live GetMedia is sent new fragments by its stream's fan-out
                body, readers = environ.get("wsgi.input"), upload_readers()
                if isinstance(body, DechunkedInput) and readers is not None:  # a streamed PutMedia: read by the shared readers
                    req.body_pump = readers.pump(environ["werkzeug.socket"], cast(BufferedReader, body._rfile))
            req.get_media_idle_timeout = self.get_media_idle_timeout
            return self._send(environ, start_response, handle(req, backend_for))

        def start_with_cors(status, headers, exc_info=None):
            return start_response(status, with_cors(environ, list(headers)), exc_info)

        answer = self._moto(environ, start_with_cors)
        if request.headers.get("X-Amz-Target", "").startswith("TrentService."):
            persistence().external_changed("kms")  # with --data-dir, keys survive a restart
        elif request.path == "/moto-api/reset" and request.method == "POST":
            persistence().reset()  # moto's reset empties the data directory, as /_kvsmock/reset does
        return answer

    @staticmethod
    def _send(environ: dict, start_response: Callable, response: ApiResponse) -> Any:
        headers = with_cors(environ, list(response.headers.items()))
        if isinstance(response.body, (bytes, bytearray)):
            headers.append(("Content-Length", str(len(response.body))))
            start_response(_status_line(response.status), headers)
            if response.on_close:  # before the client can have the answer (see _Body.__iter__)
                response.on_close()
            body = _Body([bytes(response.body)], None)
        else:
            start_response(_status_line(response.status), headers)
            body = _Body(response.body, response.on_close, environ)
        environ[RESPONSE_KEY] = body
        return body

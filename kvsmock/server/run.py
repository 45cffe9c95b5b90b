"""Running the server: threaded werkzeug, optional TLS, clean shutdown on signals.

Beside the HTTP port runs the WebRTC signaling endpoint (WebSocket, its own
port: ``--signaling-port``), which GetSignalingChannelEndpoint hands out for
WSS.
"""

from __future__ import annotations

import errno
import signal
import ssl
import sys
import threading
from typing import Any

from werkzeug.serving import generate_adhoc_ssl_context, load_ssl_context, make_server

from ..api.moto_glue import install, moto_request_handler
from .app import KvsServerApp


def build_server(host: str = "127.0.0.1", port: int = 4567, public_url: str | None = None, ssl_context: Any = None):
    """A ready (bound, not yet serving) werkzeug server with kvsmock's app."""
    install()
    app = KvsServerApp(public_url=public_url)
    return make_server(
        host, port, app, threaded=True, ssl_context=ssl_context, request_handler=moto_request_handler()
    )


def _ssl_context(ssl_context: Any) -> ssl.SSLContext | None:
    """One SSLContext for both ports ('adhoc' makes one self-signed certificate for both)."""
    if ssl_context is None or isinstance(ssl_context, ssl.SSLContext):
        return ssl_context
    if ssl_context == "adhoc":
        return generate_adhoc_ssl_context()
    if isinstance(ssl_context, tuple):
        return load_ssl_context(*ssl_context)
    raise TypeError(f"unsupported ssl_context {ssl_context!r}")


def default_signaling_port(port: int) -> int:
    """The HTTP port + 1, or a free port when the HTTP port is picked freely (0)."""
    return port + 1 if port else 0


def serve(
    host: str = "127.0.0.1",
    port: int = 4567,
    public_url: str | None = None,
    ssl_context: Any = None,
    signaling_port: int | None = None,
    signaling_public_url: str | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code."""
    from ..signaling import SignalingServer

    context = _ssl_context(ssl_context)
    server = build_server(host, port, public_url, context)
    scheme = "https" if context else "http"
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown_host}:{server.server_port}"
    wanted = default_signaling_port(port) if signaling_port is None else signaling_port
    signaling = SignalingServer(host, wanted, ssl_context=context, public_url=signaling_public_url)
    try:
        signaling.start()
    except OSError as exc:
        server.server_close()
        if exc.errno == errno.EADDRINUSE:
            print(
                f"kvsmock: the signaling port {wanted} is in use; choose another with --signaling-port "
                "(0 picks a free one)",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"kvsmock: cannot listen for signaling on {host}:{wanted}: {exc}", file=sys.stderr, flush=True)
        return 1
    stopping = threading.Event()

    def stop(signum, frame):  # noqa: ARG001
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"kvsmock server listening on {url}", flush=True)
    print(f"kvsmock signaling listening on {signaling.url}", flush=True)
    if public_url:
        print(f"kvsmock data endpoints point at {public_url}", flush=True)
    if signaling_public_url:
        print(f"kvsmock signaling endpoints point at {signaling_public_url}", flush=True)
    try:
        server.serve_forever()
    finally:
        signaling.stop()
        server.app.close()  # stops the retention sweep
        server.server_close()
    print("kvsmock server stopped", file=sys.stderr, flush=True)
    return 0

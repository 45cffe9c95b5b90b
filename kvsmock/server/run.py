"""Running the server: threaded werkzeug, optional TLS, clean shutdown on signals."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from werkzeug.serving import make_server

from ..api.moto_glue import install, moto_request_handler
from .app import KvsServerApp


def build_server(host: str = "127.0.0.1", port: int = 4567, public_url: str | None = None, ssl_context: Any = None):
    """A ready (bound, not yet serving) werkzeug server with kvsmock's app."""
    install()
    app = KvsServerApp(public_url=public_url)
    return make_server(
        host, port, app, threaded=True, ssl_context=ssl_context, request_handler=moto_request_handler()
    )


def serve(host: str = "127.0.0.1", port: int = 4567, public_url: str | None = None, ssl_context: Any = None) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code."""
    server = build_server(host, port, public_url, ssl_context)
    scheme = "https" if ssl_context else "http"
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown_host}:{server.server_port}"
    stopping = threading.Event()

    def stop(signum, frame):  # noqa: ARG001
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"kvsmock server listening on {url}", flush=True)
    if public_url:
        print(f"kvsmock data endpoints point at {public_url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("kvsmock server stopped", file=sys.stderr, flush=True)
    return 0

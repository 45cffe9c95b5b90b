"""Running the server: threaded werkzeug, optional TLS, clean shutdown on signals.

Beside the HTTP port runs the WebRTC signaling endpoint (WebSocket, its own
port: ``--signaling-port``), which GetSignalingChannelEndpoint hands out for
WSS.
"""

from __future__ import annotations

import errno
import gc
import signal
import ssl
import sys
import threading
from pathlib import Path

from ..api.moto_glue import install, moto_request_handler
from ..api.request import DEFAULT_GET_MEDIA_IDLE_TIMEOUT
from ..service.disk.database import DataDirError
from .addresses import listening_url
from .app import KvsServerApp
from .certificates import local_ca_context, server_context
from .data_dir import close_data_dir, open_data_dir
from ..service.persistence import set_persistence
from ..service.quotas import quotas
from ..service.request_log import RequestEntry, request_log
from ..service.spill import DEFAULT_MEMORY_LIMIT, SpillingMemory
from ..service.disk.restore import Restored
from .handler import request_handler
from .one_port import OnePortServer
from .signaling_endpoint import SignalingServer
from .storage_peers import MISSING_AIORTC, ingestion_available

#: The credentials the banner suggests: any will do, kvsmock does not check signatures.
SUGGESTED_CREDENTIALS = "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"


def build_server(
    host: str = "127.0.0.1",
    port: int = 4567,
    public_url: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    get_media_idle_timeout: float | None = DEFAULT_GET_MEDIA_IDLE_TIMEOUT,
) -> OnePortServer:
    """A ready (bound, not yet serving) server with kvsmock's app; HTTPS too on the same port with a TLS context.

    The caller closes its app (``server.app.close()``) after ``server_close()``.
    """
    return _app_and_server(host, port, public_url, tls_context, get_media_idle_timeout)[1]


def _app_and_server(
    host: str, port: int, public_url: str | None, tls_context: ssl.SSLContext | None, get_media_idle_timeout: float | None
) -> tuple[KvsServerApp, OnePortServer]:
    """kvsmock's app and the bound one-port server serving it (the app is closed again if binding fails)."""
    install()
    app = KvsServerApp(public_url=public_url, get_media_idle_timeout=get_media_idle_timeout)
    try:
        return app, OnePortServer(host, port, app, request_handler(moto_request_handler()), tls_context)
    except BaseException:
        app.close()
        raise


def tls_setup(
    tls: str, host: str, cert_files: tuple[str, str] | None, *public_urls: str | None
) -> tuple[ssl.SSLContext | None, Path | None]:
    """The TLS context both ports use and the CA file clients should trust (None with the user's own certificate).

    ``tls`` is ``local-ca`` (the default: a certificate from kvsmock's local
    CA) or ``off`` (plain HTTP and WS only); ``cert_files`` is the user's
    own certificate chain and key, which wins over both.
    """
    if cert_files is not None:
        return server_context(*cert_files), None
    if tls == "off":
        return None, None
    return local_ca_context(host, *public_urls)


def default_signaling_port(port: int) -> int:
    """The HTTP port + 1, or a free port when the HTTP port is picked freely (0)."""
    return port + 1 if port else 0


def serve(
    host: str = "127.0.0.1",
    port: int = 4567,
    public_url: str | None = None,
    tls: str = "local-ca",
    cert_files: tuple[str, str] | None = None,
    signaling_port: int | None = None,
    signaling_public_url: str | None = None,
    get_media_idle_timeout: float | None = DEFAULT_GET_MEDIA_IDLE_TIMEOUT,
    data_dir: str | None = None,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    quotas_mode: str = "service",
    log_requests: bool = False,
) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code.

    ``quotas_mode`` (``--quotas``): ``"service"`` enforces the service's rate
    and connection limits, ``"off"`` lifts them (:mod:`kvsmock.service.quotas`).
    With ``log_requests`` (``--log-requests``) each entry of the request log
    is printed to stderr as the request is answered.

    With ``data_dir`` all state is kept there (see :mod:`kvsmock.service.disk`)
    and read back from it first; without, in memory, with at most
    ``memory_limit`` bytes of stored media in RAM (:mod:`kvsmock.service.spill`).
    """
    quotas.set(quotas_mode)
    if log_requests:
        request_log.listener = _print_request
    context, ca_file = tls_setup(tls, host, cert_files, public_url, signaling_public_url)
    install()
    store = None
    if data_dir is None:
        set_persistence(SpillingMemory(memory_limit))
    else:
        try:
            store, restored = open_data_dir(data_dir)
        except DataDirError as exc:
            print(f"kvsmock: cannot use --data-dir {data_dir}: {exc}", file=sys.stderr, flush=True)
            return 1
    try:
        return _serve(
            host, port, public_url, context, ca_file, signaling_port, signaling_public_url, get_media_idle_timeout,
            (data_dir, restored) if store is not None and data_dir is not None else None,
        )
    finally:
        if store is not None:
            close_data_dir(store)


def _print_request(entry: RequestEntry) -> None:
    print(f"kvsmock request: {entry.line()}", file=sys.stderr, flush=True)


def _serve(
    host: str,
    port: int,
    public_url: str | None,
    context: ssl.SSLContext | None,
    ca_file: Path | None,
    signaling_port: int | None,
    signaling_public_url: str | None,
    get_media_idle_timeout: float | None,
    data: tuple[str, Restored] | None,
) -> int:
    app, server = _app_and_server(host, port, public_url, context, get_media_idle_timeout)
    url = listening_url("http", host, server.server_port)
    wanted = default_signaling_port(port) if signaling_port is None else signaling_port
    signaling = SignalingServer(host, wanted, ssl_context=context, public_url=signaling_public_url)
    try:
        signaling.start()
    except OSError as exc:
        server.server_close()
        app.close()
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
    if context is not None:
        print(f"kvsmock server also answers HTTPS on https://{url.split('://', 1)[1]}", flush=True)
    print(f"kvsmock signaling listening on {signaling.url}", flush=True)
    if ingestion_available():
        print("kvsmock WebRTC ingestion: on (JoinStorageSession stores the master's media)", flush=True)
    else:
        print(f"kvsmock WebRTC ingestion: off; {MISSING_AIORTC}", flush=True)
    if ca_file is not None:
        print(f"kvsmock CA certificate: {ca_file} (trust it for https:// and wss://)", flush=True)
    print(f"kvsmock health: {url}/_kvsmock/health", flush=True)
    print(f"kvsmock console: {url}/_kvsmock/console/ (open it in a browser)", flush=True)
    print(f"kvsmock credentials: any; for example {SUGGESTED_CREDENTIALS}", flush=True)
    if not quotas.enforced:
        print("kvsmock quotas: off (no rate or connection limits; /_kvsmock/quotas switches them)", flush=True)
    if public_url:
        print(f"kvsmock data endpoints point at {public_url}", flush=True)
    if signaling_public_url:
        print(f"kvsmock signaling endpoints point at {signaling_public_url}", flush=True)
    if data:
        directory, restored = data
        print(
            f"kvsmock data directory: {directory} ({restored.streams} streams, {restored.channels} signaling "
            f"channels, {restored.fragments} fragments read back)",
            flush=True,
        )
        if restored.damaged:
            print(f"kvsmock dropped {len(restored.damaged)} damaged fragments (see the log)", flush=True)
    # What start-up made (modules, moto's models, restored state) lives as long as the server. Kept out of
    # the collector's sight, a full collection under load scans only what came since.
    gc.collect()
    gc.freeze()
    try:
        server.serve_forever()
    finally:
        signaling.stop()
        server.server_close()
        app.close()  # stops the retention sweep
    print("kvsmock server stopped", file=sys.stderr, flush=True)
    return 0

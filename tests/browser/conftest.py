"""Browser tests: real JS clients (the KVS WebRTC SDK, hls.js, dash.js) in headless Chromium.

Every test here carries the ``browser`` marker, which pyproject's ``addopts``
leaves out of the default run; run them with ``python -m pytest -m browser
tests/browser``. They need Debian's
``chromium`` (``/usr/bin/chromium``), ``certutil`` (libnss3-tools), the
``playwright`` Python package and ``npm ci`` run in this folder. ``.ci/run``
installs all of them in its own browser step.

Pages come from a loopback HTTP server started here (this folder as its
root: ``/pages/...`` and ``/node_modules/...``); ``http://127.0.0.1`` is a
secure context, so the pages may use the camera, MSE and WebRTC.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers.producers import split_at_clusters

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
CHROMIUM = os.environ.get("KVSMOCK_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--allow-loopback-in-peer-connection",  # host candidates on 127.0.0.1 only
    "--use-fake-device-for-media-stream",  # a generated test pattern as the camera
    "--use-fake-ui-for-media-stream",  # grant the camera without a prompt
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report carries the tail of its kvsmock server's log."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or item.get_closest_marker("browser") is None:
        return
    funcargs = getattr(item, "funcargs", {})
    server = funcargs.get("kvs_server") or (funcargs.get("tls_server") or (None,))[0]
    if server is not None:
        try:
            report.sections.append(("kvsmock server log (tail)", server.read_log()[-6000:]))
        except OSError:
            pass


# ------------------------------------------------------------------ pages
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture(scope="session")
def page_server():
    """Base URL (``http://127.0.0.1:<port>``) of a static server for ``pages/`` and ``node_modules/``."""
    if not (NODE_MODULES / "hls.js").is_dir():
        pytest.fail(f"run `npm ci` in {HERE} first (the browser bundles come from node_modules)")
    handler = functools.partial(_QuietHandler, directory=str(HERE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ certificates
def nss_home(ca_pem: Path, home: Path) -> Path:
    """A HOME whose NSS database (``~/.pki/nssdb``, what Chromium on Linux reads) trusts ``ca_pem``.

    This is how a user makes Chromium trust a local CA:
    ``certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n kvsmock -i ca.pem``.
    """
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil is missing: apt-get install libnss3-tools")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    db = f"sql:{nssdb}"
    subprocess.run([certutil, "-N", "-d", db, "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        [certutil, "-d", db, "-A", "-t", "C,,", "-n", "kvsmock", "-i", str(ca_pem)], check=True, capture_output=True
    )
    return home


# ------------------------------------------------------------------ browser
@pytest.fixture(scope="session")
def playwright_instance():
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the playwright package is missing: pip install playwright (no `playwright install`)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        yield p


def launch_chromium(playwright, home: Path | None = None, extra_args: list[str] | None = None):
    """Headless Debian Chromium with the flags these tests need; ``home`` sets its HOME (NSS database)."""
    env = dict(os.environ)
    if home is not None:
        env["HOME"] = str(home)
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS + list(extra_args or []),
        env=env,
    )


@pytest.fixture
def launch_browser(playwright_instance, tmp_path):
    """``launch_browser(ca=None)``: headless Chromium, closed after the test; with ``ca``, trusting that CA.

    The CA goes into an NSS database in a fresh HOME given to Chromium (see :func:`nss_home`).
    """
    browsers = []

    def launch(ca: Path | None = None):
        home = nss_home(Path(ca), tmp_path / f"home-{len(browsers)}") if ca is not None else None
        browsers.append(launch_chromium(playwright_instance, home=home))
        return browsers[-1]

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture
def page_log():
    """``page_log(page, name)``: starts recording the page's console, errors and failed requests."""
    return PageLog


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A default ``kvsmock server`` (https:// and wss:// beside http:// and ws://) and its local CA's file.

    The CA is kept in a temporary ``KVSMOCK_CA_DIR``, out of the user's config.
    """
    from conftest_plugin import KvsServer

    ca_dir = tmp_path_factory.mktemp("kvsmock-ca")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVSMOCK_CA_DIR", str(ca_dir))
        server = KvsServer()
    try:
        assert server.ca_file == str(ca_dir / "ca.pem"), server.read_log()
        yield server, Path(server.ca_file)
    finally:
        server.stop()


# ------------------------------------------------------------------ a live producer
class LiveProducer:
    """A PutMedia upload paced in real time, in a thread, as a camera's producer sends it.

    The media: sample H.264 video in 1-second fragments with absolute
    timecodes starting now. The header goes out at once, then each fragment
    as soon as the wall clock has passed its last frame.
    """

    def __init__(self, server, stream_name: str, duration_s: int = 30):
        from kvsmock import sample_mkv

        self.stream_name = stream_name
        self.start = time.time()
        media = sample_mkv(
            duration_s=duration_s, fragment_s=1,
            start=datetime.datetime.fromtimestamp(self.start, datetime.timezone.utc),
        )
        self.header, self.fragments = split_at_clusters(media)
        self.sent = 0
        self.acks: list[dict] | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._stop = threading.Event()
        self._server = server
        self._thread = threading.Thread(target=self._run, name=f"producer-{stream_name}", daemon=True)
        self._thread.start()

    def _pieces(self):
        yield self.header
        for index, fragment in enumerate(self.fragments):
            # Real-time pacing: fragment `index` covers [start + index, start + index + 1).
            if self._stop.wait(max(0.0, self.start + index + 1 - time.time())):
                return
            self.sent += 1
            yield fragment

    def _run(self) -> None:
        from kvsmock import put_media

        try:
            self.acks = put_media(
                self.stream_name, media=self._pieces(),
                endpoint_url=self._server.endpoint_url, session=self._server.session(),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self._done.set()

    @property
    def streaming(self) -> bool:
        """Still uploading (not all fragments sent, no error)."""
        return not self._done.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __str__(self) -> str:
        acks = self.acks or []
        return (
            f"producer of {self.stream_name}: {self.sent}/{len(self.fragments)} fragments sent, "
            f"{time.time() - self.start:.1f} s since start, streaming={self.streaming}, error={self.error!r}, "
            f"ACKs: {[a.get('EventType') for a in acks][:10]}"
        )


@pytest.fixture
def live_producer():
    """``live_producer(server, stream_name, duration_s=30)``: a :class:`LiveProducer`, stopped after the test."""
    producers = []

    def start(server, stream_name: str, duration_s: int = 30) -> LiveProducer:
        producers.append(LiveProducer(server, stream_name, duration_s))
        return producers[-1]

    yield start
    for producer in producers:
        producer.stop()


class PageLog:
    """Console messages, page errors and failed requests of a page, for assertion messages."""

    def __init__(self, page, name: str):
        self.name = name
        self.lines: list[str] = []
        page.on("console", lambda msg: self.lines.append(f"console.{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.lines.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self.lines.append(f"requestfailed: {req.url} {req.failure}"))

    def __str__(self) -> str:
        tail = self.lines[-60:]
        return f"--- {self.name} page log ({len(self.lines)} lines, last {len(tail)}) ---\n" + "\n".join(tail)

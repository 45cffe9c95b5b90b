"""The web console: its static files under ``GET /_kvsmock/console/``, and the browser's way in from ``/``.

The console is the project's own HTML, CSS and JavaScript, kept in the
``console/`` folder beside this module and served as they are; the page
itself calls kvsmock's public APIs (the KVS JSON and media endpoints, the
``/_kvsmock/*`` control API) like any other client. This module only maps a
file name to its bytes and Content-Type: one flat folder, names checked
against a pattern, never a path that leaves the folder.

A browser that opens the server's root (an unsigned ``GET /`` that accepts
``text/html``) is redirected to the console; every other request to ``/``
is left to moto, as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from werkzeug.wrappers import Request

from ..api.request import ApiResponse

#: Where the console is served.
CONSOLE_PATH = "/_kvsmock/console/"
#: The folder its files are read from.
FOLDER = Path(__file__).resolve().with_name("console")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
#: A file name the console may have: letters, digits, ``-`` and ``_``, one known extension; no folders.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.(html|css|js|svg|png|ico)")

#: The page may run only its own scripts and styles; it talks to any http(s)/ws(s) endpoint
#: kvsmock hands out (a --public-url or the signaling port may be another origin).
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' http: https: ws: wss:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH.rstrip("/") or path.startswith(CONSOLE_PATH)


def wants_console(request: Request) -> bool:
    """A browser opening the server's root: an unsigned ``GET /`` that accepts HTML."""
    if request.path != "/" or request.method not in ("GET", "HEAD"):
        return False
    if "Authorization" in request.headers or "X-Amz-Credential" in request.args:
        return False
    return "text/html" in request.headers.get("Accept", "")


def redirect_to_console() -> ApiResponse:
    return _redirect(CONSOLE_PATH)


def console_response(request: Request) -> ApiResponse:
    """One console file (``index.html`` for the folder itself), or 404; never a file outside the folder."""
    if request.method not in ("GET", "HEAD"):
        return ApiResponse(
            status=405, headers={"Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"},
            body=b"The console only answers GET and HEAD.\n",
        )
    if request.path == CONSOLE_PATH.rstrip("/"):
        return _redirect(CONSOLE_PATH)
    name = request.path[len(CONSOLE_PATH):] or "index.html"
    path = _file(name)
    if path is None:
        return ApiResponse(
            status=404, headers={"Content-Type": "text/plain; charset=utf-8"}, body=b"No such console file.\n"
        )
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = _CSP
    body = path.read_bytes()
    if request.method == "HEAD":
        body = b""
    return ApiResponse(status=200, headers=headers, body=body)


def _file(name: str) -> Path | None:
    """The console file called ``name``, if the name is one the console may have and the file exists."""
    if not _NAME.fullmatch(name):
        return None
    path = (FOLDER / name).resolve()
    if path.parent != FOLDER or not path.is_file():
        return None
    return path


def _redirect(location: str) -> ApiResponse:
    return ApiResponse(
        status=302, headers={"Location": location, "Content-Type": "text/plain; charset=utf-8"},
        body=f"The console is at {location}\n".encode(),
    )

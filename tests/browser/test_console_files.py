"""The web console's files as the server serves them (no browser needed: these run in the default suite).

``GET /_kvsmock/console/`` is the console (index.html), its files come with
the right Content-Types from the package's ``server/console`` folder, no
path leaves that folder, and a browser opening ``/`` is sent there while
API clients at ``/`` still reach moto.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

import kvsmock.server.console_files as console_files

CONSOLE = "/_kvsmock/console/"
FOLDER = Path(console_files.__file__).with_name("console")


def _raw(server, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """A request with ``path`` sent exactly as written (no client-side ``..`` folding)."""
    address = urlsplit(server.endpoint_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_console_page_and_its_files_have_their_content_types(kvs_server):
    page = requests.get(kvs_server.endpoint_url + CONSOLE, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script type="module" src="app.js">' in page.text
    expected = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
    served = sorted(p for p in FOLDER.iterdir() if p.suffix in expected)
    assert {p.name for p in served} >= {"app.js", "player.js", "console.css", "icon.svg"}
    for path in served:
        answer = requests.get(kvs_server.endpoint_url + CONSOLE + path.name, timeout=10)
        assert answer.status_code == 200, path.name
        assert answer.headers["Content-Type"] == expected[path.suffix], path.name
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.content == path.read_bytes()


def test_every_file_the_page_loads_is_served(kvs_server):
    """Each module an ES import names is in the folder (a missing one breaks the page silently)."""
    import re

    for script in FOLDER.glob("*.js"):
        for name in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (FOLDER / name).is_file(), f"{script.name} imports {name}"


@pytest.mark.parametrize(
    "path",
    [
        "/_kvsmock/console/../../etc/passwd",
        "/_kvsmock/console/../app.py",
        "/_kvsmock/console/..%2f..%2fetc%2fpasswd",
        "/_kvsmock/console/%2e%2e/%2e%2e/etc/passwd",
        "/_kvsmock/console/%2e%2e%2fconsole_files.py",
        "/_kvsmock/console/..\\console_files.py",
        "/_kvsmock/console//etc/passwd",
        "/_kvsmock/console/./index.html",
        "/_kvsmock/console/.hidden.js",
        "/_kvsmock/console/console_files.py",
        "/_kvsmock/console/nothing-here.js",
        "/_kvsmock/console/index.html%00.js",
    ],
)
def test_paths_outside_the_console_folder_are_refused(kvs_server, path):
    answer = _raw(kvs_server, "GET", path)
    assert answer.status == 404, (path, answer.status)
    assert b"root:" not in answer.body and b"import" not in answer.body


def test_head_and_other_methods(kvs_server):
    head = _raw(kvs_server, "HEAD", CONSOLE + "app.js")
    assert head.status == 200 and head.body == b""
    assert head.getheader("Content-Type") == "text/javascript; charset=utf-8"
    post = _raw(kvs_server, "POST", CONSOLE + "app.js")
    assert post.status == 405 and post.getheader("Allow") == "GET, HEAD"


def test_console_without_slash_and_root_redirect_there(kvs_server):
    bare = _raw(kvs_server, "GET", "/_kvsmock/console")
    assert bare.status == 302 and bare.getheader("Location") == CONSOLE
    browser = _raw(kvs_server, "GET", "/", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status == 302 and browser.getheader("Location") == CONSOLE
    followed = requests.get(kvs_server.endpoint_url + "/", headers={"Accept": "text/html"}, timeout=10)
    assert followed.url.endswith(CONSOLE) and "<title>kvsmock console</title>" in followed.text


def test_api_clients_at_root_are_not_redirected(kvs_server):
    """Only a browser's unsigned GET is redirected; signed calls and non-HTML GETs reach moto as before."""
    plain = _raw(kvs_server, "GET", "/", {"Accept": "*/*"})
    assert plain.status != 302
    signed = _raw(kvs_server, "GET", "/", {
        "Accept": "text/html",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
    })
    assert signed.status != 302
    s3 = kvs_server.client("s3")
    s3.create_bucket(Bucket="console-root-check")
    assert "console-root-check" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_console_over_https_on_the_same_port(kvs_server):
    if not kvs_server.ca_file:
        pytest.skip("the server runs without TLS")
    https_url = "https://" + kvs_server.endpoint_url.split("://", 1)[1]
    page = requests.get(https_url + "/", headers={"Accept": "text/html"}, verify=kvs_server.ca_file, timeout=10)
    assert page.url == https_url + CONSOLE
    assert page.status_code == 200 and "<title>kvsmock console</title>" in page.text


def test_start_banner_names_the_console(kvs_server):
    assert f"kvsmock console: {kvs_server.endpoint_url}{CONSOLE}" in kvs_server.read_log()

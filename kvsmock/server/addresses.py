"""The URLs the server shows and hands out: where it listens, and where a client reached it."""

from __future__ import annotations


def listening_url(scheme: str, host: str, port: int | None) -> str:
    """``scheme://host:port`` for a listening address; a wildcard host (all addresses) shows as loopback."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


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

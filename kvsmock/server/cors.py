"""CORS headers, so that a browser page on another origin can call the server."""

from __future__ import annotations

EXPOSED = ", ".join(
    [
        "x-amzn-RequestId",
        "x-amzn-ErrorType",
        "x-amz-request-id",
        "x-amz-id-2",
        "ETag",
        "Content-Type",
        "Content-Length",
        "Date",
    ]
)


def cors_headers(environ: dict) -> list[tuple[str, str]]:
    origin = environ.get("HTTP_ORIGIN") or "*"
    requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or "*"
    headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS"),
        ("Access-Control-Allow-Headers", requested),
        ("Access-Control-Expose-Headers", EXPOSED),
        ("Access-Control-Max-Age", "600"),
    ]
    if origin != "*":
        headers.append(("Access-Control-Allow-Credentials", "true"))
        headers.append(("Vary", "Origin"))
    return headers


def with_cors(environ: dict, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Add the CORS headers a response lacks (moto's own apps set some already)."""
    present = {k.lower() for k, _ in headers}
    return headers + [(k, v) for k, v in cors_headers(environ) if k.lower() not in present]

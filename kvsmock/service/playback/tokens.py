"""Session tokens: opaque, URL-safe, and naming the account and region whose backend holds the session."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

_REGION_CHARS = re.compile(r"[a-z0-9-]{1,32}")


def new_token(account_id: str, region: str) -> str:
    """An opaque, URL-safe session token (the service's look like ``CiA…~``) naming its account and region."""
    scope = f"{account_id}/{region}/".encode()
    return "CiA" + base64.urlsafe_b64encode(scope + secrets.token_bytes(36)).decode().rstrip("=") + "~"


def token_scope(token: str | None) -> tuple[str, str] | None:
    """(account, region) whose backend holds the session of ``token``; None for a token kvsmock never made."""
    if not token or not token.startswith("CiA") or not token.endswith("~"):
        return None
    body = token[3:-1]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        return None
    parts = raw.split(b"/", 2)
    if len(parts) != 3:
        return None
    try:
        account_id, region = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not (account_id.isdigit() and len(account_id) == 12 and _REGION_CHARS.fullmatch(region)):
        return None
    return account_id, region

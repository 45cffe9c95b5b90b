"""SDP: reading the SDP inside a message payload, and the storage session's canned offer."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets


def sdp_of(payload: str) -> str:
    """The SDP inside a messagePayload: base64 of ``{"type", "sdp"}`` JSON by SDK convention, or of bare SDP."""
    try:
        text = base64.b64decode(payload, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("sdp"), str):
        return parsed["sdp"]
    return text


def has_codec(sdp: str, codec: str) -> bool:
    """Whether ``sdp`` offers ``codec`` (an ``a=rtpmap`` line naming it)."""
    return re.search(rf"^a=rtpmap:\d+ {re.escape(codec)}/", sdp, re.IGNORECASE | re.MULTILINE) is not None


def storage_offer(for_master: bool) -> str:
    """The storage session's canned SDP offer (base64 of ``{"type": "offer", "sdp": ...}``).

    Sent when no media peer can run (no signaling server in the process): a
    well-formed offer with Opus audio (sendrecv) and H.264 video (received
    from the master, sent to viewers), and no candidates, so ICE with it
    never completes.
    """
    ufrag = secrets.token_hex(4)
    pwd = secrets.token_hex(12)
    fingerprint = ":".join(f"{b:02X}" for b in secrets.token_bytes(32))
    session = secrets.randbelow(2**62)
    video_direction = "recvonly" if for_master else "sendonly"
    common = (
        "c=IN IP4 0.0.0.0\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        f"a=ice-ufrag:{ufrag}\r\n"
        f"a=ice-pwd:{pwd}\r\n"
        "a=ice-options:trickle\r\n"
        f"a=fingerprint:sha-256 {fingerprint}\r\n"
        "a=setup:actpass\r\n"
        "a=rtcp-mux\r\n"
    )
    sdp = (
        "v=0\r\n"
        f"o=- {session} 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE 0 1\r\n"
        "a=msid-semantic: WMS\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        + common
        + "a=mid:0\r\n"
        "a=sendrecv\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
        + common
        + "a=mid:1\r\n"
        f"a={video_direction}\r\n"
        "a=rtpmap:102 H264/90000\r\n"
        "a=rtcp-fb:102 nack\r\n"
        "a=rtcp-fb:102 nack pli\r\n"
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    )
    return base64.b64encode(json.dumps({"type": "offer", "sdp": sdp}).encode()).decode()

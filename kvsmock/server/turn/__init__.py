"""kvsmock's TURN server (RFC 8656 over RFC 8489 STUN), behind GetIceServerConfig's URIs.

It listens where those URIs point: UDP on the signaling port's number
(``turn:...?transport=udp``), and TCP and TLS on the signaling port itself,
which hands over each connection whose first byte opens a STUN message
(``turns:...?transport=tcp``). Relayed addresses are UDP sockets on the
signaling server's host. Credentials are the ones GetIceServerConfig
issued, checked with the long-term credential mechanism.

* :mod:`.codec` — STUN over aioice's codec, ChannelData, TCP framing;
* :mod:`.auth` — the long-term credential mechanism: keys, nonces, grants;
* :mod:`.allocations` — allocations, permissions, channel bindings, lifetimes;
* :mod:`.core` — the server without I/O: messages in, messages and effects out;
* :mod:`.credentials` — grants from kvsmock's backends, billing of TURN minutes;
* :mod:`.udp`, :mod:`.tcp` — the transports; :mod:`.server` runs it all in an asyncio loop.
"""

from .server import TurnServer

__all__ = ["TurnServer"]

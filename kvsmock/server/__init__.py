"""The standalone server: every KVS endpoint and moto's other services on one port.

Modules:

* :mod:`.run` — ``kvsmock server``: binds both ports, TLS setup, the banner, signals;
* :mod:`.app` — the WSGI app: KVS, the control API or moto, CORS on every response;
* :mod:`.control` — the control API, ``/_kvsmock/*`` (health, reset, clock, usage);
* :mod:`.request_body` — request bodies as they arrive (chunked uploads chunk by chunk);
* :mod:`.sweep` — the background retention sweep;
* :mod:`.addresses` — the URLs the server shows and hands out;
* :mod:`.cors`, :mod:`.peer` (has the client gone?), :mod:`.handler` (the request handler);
* :mod:`.one_port`, :mod:`.waiting_room` — HTTP and HTTPS on one port, silent connections held threadless;
* :mod:`.certificates` — the local CA behind HTTPS and WSS;
* :mod:`.signaling_endpoint` — the WebRTC signaling endpoint (WebSocket), with
  :mod:`.ws_one_port` (WS, WSS and TURN over TCP/TLS on one port) and
  :mod:`.turn` (the TURN server behind GetIceServerConfig's URIs). Users
  reach it as :mod:`kvsmock.signaling`;
* :mod:`.storage_peers` (the storage peer factory a signaling server installs),
  :mod:`.storage_peer` (the aiortc peers of WebRTC ingestion) and
  :mod:`.encoded_frames` (encoded frames taken from aiortc's receivers).
"""

from .app import KvsServerApp
from .run import serve

__all__ = ["KvsServerApp", "serve"]

"""The per-connection request handler: werkzeug's (through moto's), fitted to kvsmock's server."""

from __future__ import annotations

import logging
import ssl

log = logging.getLogger("kvsmock.server")


def request_handler(base: type) -> type:
    """``base`` (a werkzeug request handler class) made to:

    * report each connection's own scheme (HTTP and HTTPS share a port, see
      :mod:`kvsmock.server.one_port`);
    * end a connection whose TLS fails quietly (a client that refused the
      certificate), as werkzeug only does when it owns the TLS itself;
    * send one ``100 Continue`` to ``Expect: 100-continue`` (the C producer
      SDK's PutMedia asks for it): werkzeug sends it when it builds the
      request's environ, so the answer that ``http.server`` would also send
      while parsing the headers is left out.
    """

    class KvsRequestHandler(base):
        def make_environ(self) -> dict:
            environ = super().make_environ()
            environ["wsgi.url_scheme"] = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
            return environ

        def handle_expect_100(self) -> bool:
            return True

        def handle(self) -> None:
            try:
                super().handle()
            except ssl.SSLError as exc:
                log.debug("TLS connection ended with an error: %s", exc)

    return KvsRequestHandler

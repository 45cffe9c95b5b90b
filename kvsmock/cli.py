"""The ``kvsmock`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import commands
from .api.request import DEFAULT_GET_MEDIA_IDLE_TIMEOUT


def _cert_files(args: argparse.Namespace) -> tuple[str, str] | None:
    """The user's own certificate and key, if given (checked to exist)."""
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise SystemExit("kvsmock: --tls-cert and --tls-key go together")
        for path in (args.tls_cert, args.tls_key):
            if not os.path.isfile(path):
                raise SystemExit(f"kvsmock: no such file: {path}")
        return (args.tls_cert, args.tls_key)
    return None


def _memory_limit(text: str) -> int | None:
    from .service.spill import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise SystemExit(f"kvsmock: --memory-limit: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="kvsmock", description="A local emulator of Amazon Kinesis Video Streams.")
    parser.add_argument("--version", action="version", version=f"kvsmock {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser(
        "server",
        help="run the standalone server (every KVS API and moto's services on one port, "
        "WebRTC signaling on a second)",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=4567, help="port to listen on (default 4567; 0 picks a free one)")
    server.add_argument(
        "--public-url",
        help="base URL that clients reach the server at, when it sits behind another address; "
        "GetDataEndpoint and session URLs point there",
    )
    server.add_argument(
        "--signaling-port",
        type=int,
        metavar="PORT",
        help="port of the WebRTC signaling WebSocket endpoint (default: --port + 1, or a free port "
        "when --port is 0; 0 picks a free one); its UDP twin answers STUN for GetIceServerConfig's URIs",
    )
    server.add_argument(
        "--signaling-public-url",
        metavar="URL",
        help="WSS endpoint that GetSignalingChannelEndpoint hands out, when clients reach the signaling "
        "port at another address (default: the host the request came to, with the signaling port)",
    )
    server.add_argument(
        "--tls",
        choices=["local-ca", "off"],
        default="local-ca",
        help="'local-ca' (default): both ports also answer HTTPS / WSS with a certificate from kvsmock's "
        "local CA (see 'kvsmock ca-path'); plain HTTP / WS keep working on the same ports. "
        "'off': plain HTTP / WS only",
    )
    server.add_argument("--tls-cert", help="your own PEM certificate (chain) file, instead of the local CA's")
    server.add_argument("--tls-key", help="PEM private key file for --tls-cert")
    server.add_argument(
        "--get-media-idle-timeout",
        type=float,
        default=DEFAULT_GET_MEDIA_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="a GetMedia that has caught up keeps streaming new fragments while a PutMedia connection is open "
        "on the stream (up to the 45-minute session limit); with none open it ends this many seconds after "
        "catching up, unless a fragment arrives or a producer connects first (default %(default)g)",
    )
    server.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep all state in DIR (created if missing) so that it survives a restart or a crash: streams, "
        "channels, configurations, fragments (on disk, not in memory), usage, the clock, moto's KMS keys. "
        "Default: everything in memory",
    )
    server.add_argument(
        "--memory-limit",
        metavar="SIZE",
        default="1G",
        help="without --data-dir: keep at most SIZE of stored media in memory (512M, 2G, ... or 'unlimited'); "
        "past it the oldest moves to temporary files and is read back from there (default %(default)s)",
    )
    server.add_argument(
        "--quotas",
        choices=["service", "off"],
        default="service",
        help="'service' (default): enforce the service's rate and connection limits (DescribeStream 5/s per "
        "stream, one PutMedia and three GetMedia connections per stream, ...; over them, "
        "ClientLimitExceededException or ConnectionLimitExceededException). 'off': lift them all, for load "
        "tests (size limits stay). Switchable later at /_kvsmock/quotas",
    )
    server.add_argument(
        "--log-requests",
        action="store_true",
        help="print one line per KVS request to stderr as it is answered (the request log, also at "
        "/_kvsmock/requests)",
    )
    server.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    sub.add_parser(
        "ca-path",
        help="print the path of kvsmock's local CA certificate (made on first use), for clients to trust",
    )
    commands.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "server":
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
        # werkzeug sets its own logger to INFO (a line per request) unless told otherwise;
        # --log-level governs it too.
        logging.getLogger("werkzeug").setLevel(args.log_level.upper())
        from .server.run import serve

        if args.get_media_idle_timeout <= 0:
            raise SystemExit("kvsmock: --get-media-idle-timeout must be positive")
        if args.signaling_port is not None and not 0 <= args.signaling_port <= 65535:
            raise SystemExit("kvsmock: --signaling-port must be from 0 to 65535")
        if args.signaling_port is not None and args.signaling_port and args.signaling_port == args.port:
            raise SystemExit("kvsmock: --signaling-port must differ from --port")
        return serve(
            args.host,
            args.port,
            args.public_url,
            tls=args.tls,
            cert_files=_cert_files(args),
            signaling_port=args.signaling_port,
            signaling_public_url=args.signaling_public_url,
            get_media_idle_timeout=args.get_media_idle_timeout,
            data_dir=args.data_dir,
            memory_limit=_memory_limit(args.memory_limit),
            quotas_mode=args.quotas,
            log_requests=args.log_requests,
        )
    if args.command == "ca-path":
        from .server.certificates import load_or_create_ca

        print(load_or_create_ca().cert_path)
        return 0
    if hasattr(args, "run"):
        return commands.run_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Running a client subcommand: every failure becomes one ``kvsmock: ...`` line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import os
import ssl
import sys

import requests
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    SSLError,
)

from .connection import CommandError, Connection, connect


def _fail(message: str) -> int:
    print(f"kvsmock: {message}", file=sys.stderr, flush=True)
    return 1


def _local(connection: Connection | None) -> bool:
    return connection is not None and connection.endpoint_url is not None


def _unreachable(connection: Connection | None, args: argparse.Namespace) -> str:
    where = connection.where if connection else args.endpoint_url
    hint = " (start one with 'kvsmock server')" if _local(connection) else ""
    return f"nothing answers at {where}{hint}"


def run_command(args: argparse.Namespace) -> int:
    """Run the subcommand ``args`` names (its module's ``run``); its exit status."""
    connection: Connection | None = None
    try:
        connection = connect(args)
        return args.run(connection, args)
    except CommandError as exc:
        return _fail(str(exc))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = error.get("Message") or str(exc)
        return _fail(f"{code}: {message}")
    except (SSLError, requests.exceptions.SSLError, ssl.SSLError) as exc:
        hint = " (kvsmock's own certificate: set AWS_CA_BUNDLE=\"$(kvsmock ca-path)\")" if _local(connection) else ""
        return _fail(f"{exc}{hint}")
    except BrokenPipeError:  # whoever read stdout went away (| head): that ends the command, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except (EndpointConnectionError, requests.ConnectionError, ConnectionError):
        return _fail(_unreachable(connection, args))
    except NoCredentialsError:
        return _fail("no AWS credentials found: configure them as for the AWS CLI")
    except ProfileNotFound as exc:
        return _fail(str(exc))
    except BotoCoreError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130

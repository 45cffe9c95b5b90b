"""Where a client subcommand sends its requests: endpoint, region and credentials.

The endpoint is ``--endpoint-url``, else ``$KVSMOCK_ENDPOINT_URL``, else the
local server (``http://127.0.0.1:4567``); ``aws`` means the real service,
reached through boto3's normal endpoint resolution. The region is
``--region``, ``$AWS_REGION``, ``$AWS_DEFAULT_REGION`` or the profile's,
else ``us-east-1`` for a local server. Credentials come from boto3's chain;
a local server gets dummy keys when none are configured (it checks no
signature).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

LOCAL_ENDPOINT = "http://127.0.0.1:4567"
ENDPOINT_VARIABLE = "KVSMOCK_ENDPOINT_URL"
AWS = "aws"
DUMMY_KEYS = ("testing", "testing")


class CommandError(Exception):
    """A failure to report as one ``kvsmock: ...`` line (exit status 1)."""


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options every client subcommand takes."""
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help=f"a kvsmock server's URL, or '{AWS}' for the real service "
        f"(default ${ENDPOINT_VARIABLE}, else {LOCAL_ENDPOINT})",
    )
    parser.add_argument(
        "--region", help="AWS region (default $AWS_REGION or $AWS_DEFAULT_REGION or the profile's; us-east-1 locally)"
    )
    parser.add_argument("--profile", help="AWS profile for credentials and region (default: boto3's usual choice)")


@dataclass
class Connection:
    """A boto3 session aimed at one KVS endpoint, with clients for the data endpoints it hands out."""

    session: boto3.Session
    endpoint_url: str | None  # None: the real service
    region: str

    @property
    def where(self) -> str:
        """The endpoint, for messages."""
        return self.endpoint_url or f"the AWS endpoint of {self.region}"

    def control(self) -> Any:
        """The ``kinesisvideo`` control-plane client."""
        return self.session.client("kinesisvideo", endpoint_url=self.endpoint_url)

    def data(self, service: str, stream: str, api_name: str) -> Any:
        """A client for ``service`` on the stream's data endpoint for ``api_name`` (GetDataEndpoint)."""
        endpoint = self.control().get_data_endpoint(StreamName=stream, APIName=api_name)["DataEndpoint"]
        return self.session.client(service, endpoint_url=endpoint)


def connect(args: argparse.Namespace) -> Connection:
    """The connection the options ask for (see the module's docstring)."""
    endpoint = args.endpoint_url or os.environ.get(ENDPOINT_VARIABLE) or LOCAL_ENDPOINT
    local = endpoint.lower() != AWS
    if local:
        # Credentials do not matter to a local server: don't wait on the EC2 metadata service for them.
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    core = botocore.session.get_session()
    # Against a local server one attempt: a server that is not running is reported at once.
    core.set_default_client_config(
        Config(retries={"mode": "standard", "max_attempts": 1}) if local else Config(retries={"mode": "standard"})
    )
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    session = boto3.Session(botocore_session=core, profile_name=args.profile, region_name=region)
    if session.region_name is None:
        if not local:
            raise CommandError("no region: give --region or set AWS_REGION")
        core.set_config_variable("region", "us-east-1")
    if local and session.get_credentials() is None:
        core.set_credentials(*DUMMY_KEYS)
    return Connection(session, endpoint if local else None, session.region_name)

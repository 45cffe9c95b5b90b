"""The client subcommands of ``kvsmock`` (put-media, get-media, fragments, streams).

Each module is one subcommand, a thin wrapper over boto3 and kvsmock's own
client (:mod:`kvsmock.client`, :func:`kvsmock.read_fragments`): it adds its
parser with ``add_parser(subparsers)`` and runs with ``run(connection, args)``.
:mod:`.connection` resolves the endpoint, region and credentials they share;
:mod:`.errors` turns every failure into one line on stderr.
"""

from __future__ import annotations

import argparse

from . import fragments, get_media, put_media, streams
from .errors import run_command

MODULES = (put_media, get_media, fragments, streams)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add every client subcommand's parser."""
    for module in MODULES:
        module.add_parser(subparsers)


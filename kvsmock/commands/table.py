"""Output helpers shared by the listing subcommands: aligned tables, JSON lines, timestamps."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence


def iso(value: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with milliseconds: ``2024-05-01T12:00:00.000Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Sequence[int] = ()) -> None:
    """Print rows under headers, columns padded to their widest cell; columns in ``right`` right-aligned."""
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        line = "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
        print(line.rstrip())
    sys.stdout.flush()


def print_json_line(item: dict[str, Any]) -> None:
    """Print one JSON object on a line (datetimes as :func:`iso` strings) and flush, for pipes."""
    print(json.dumps(item, default=lambda v: iso(v) if isinstance(v, datetime) else str(v)), flush=True)

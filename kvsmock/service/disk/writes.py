"""The statements of one write transaction, with the rows of many inserts sent as one statement.

Every statement Python's ``sqlite3`` runs gives the GIL up while SQLite
works and then waits to take it back, behind every other thread that wants
it. A group commit (:mod:`.group_commit`) under hundreds of cameras runs
hundreds of small inserts in one transaction, so those waits, not SQLite,
made the commit last. :class:`Writes` keeps the rows given to
:meth:`Writes.insert` and sends those of the same insert as one multi-row
statement before the next other statement or at the end of the
transaction. Rows of different inserts may reach SQLite in another order
than they were given; rows of one insert keep theirs, and every row given
before a statement is written before it, so callers may only defer inserts
whose order against the other deferred inserts does not matter (different
tables).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Sequence

__all__ = ["Writes"]

#: Most rows in one multi-row statement (SQLite allows 32766 bound values; rows here have at most 14).
ROWS_PER_STATEMENT = 500


class Writes:
    """A write transaction on ``conn``: statements run at once, rows given to :meth:`insert` at the next
    statement or :meth:`flush`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        #: Deferred rows by insert (its SQL up to ``VALUES``, and what follows the rows), in first-given order.
        self._rows: dict[tuple[str, str], list[Sequence[Any]]] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run ``sql`` now, after the rows deferred so far."""
        self.flush()
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        self.flush()
        return self.conn.executemany(sql, rows)

    def insert(self, head: str, row: Sequence[Any], tail: str = "") -> None:
        """Defer the row of ``{head} VALUES (?, ...){tail}``, to be sent with the other rows of the same insert."""
        self._rows.setdefault((head, tail), []).append(row)

    def flush(self) -> None:
        """Send the deferred rows: one statement per insert (per :data:`ROWS_PER_STATEMENT` rows)."""
        deferred, self._rows = self._rows, {}
        for (head, tail), rows in deferred.items():
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                part = rows[start:start + ROWS_PER_STATEMENT]
                values = ", ".join(["(" + ", ".join("?" * len(part[0])) + ")"] * len(part))
                self.conn.execute(f"{head} VALUES {values}{tail}", [value for row in part for value in row])

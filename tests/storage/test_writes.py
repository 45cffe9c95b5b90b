"""A transaction's deferred inserts: sent as one statement per insert, in order with the other statements."""

from __future__ import annotations

import sqlite3

import pytest

from kvsmock.service.disk import writes
from kvsmock.service.disk.database import Database


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path, "test")
    with database.transaction() as conn:
        conn.execute("CREATE TABLE a (k INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("CREATE TABLE b (k INTEGER PRIMARY KEY, n INTEGER)")
    yield database
    database.close()


def statements(db: Database) -> list[str]:
    """The statements SQLite runs from now on (their SQL as given)."""
    seen: list[str] = []
    db._conn.set_trace_callback(seen.append)
    return seen


def test_rows_of_one_insert_go_as_one_statement_at_commit(db):
    seen = statements(db)
    with db.transaction() as conn:
        for k in range(3):
            conn.insert("INSERT INTO a (k, v)", (k, f"v{k}"))
            conn.insert("INSERT INTO b (k, n)", (k, 1), " ON CONFLICT (k) DO UPDATE SET n = n + excluded.n")
        conn.insert("INSERT INTO b (k, n)", (0, 5), " ON CONFLICT (k) DO UPDATE SET n = n + excluded.n")
        assert not [s for s in seen if "INTO a" in s]  # nothing sent yet
    inserts = [s for s in seen if s.startswith("INSERT")]
    assert len(inserts) == 2
    assert db.rows("SELECT k, v FROM a ORDER BY k") == [(0, "v0"), (1, "v1"), (2, "v2")]
    assert db.rows("SELECT k, n FROM b ORDER BY k") == [(0, 6), (1, 1), (2, 1)]  # the upsert ran in the given order


def test_a_statement_runs_after_the_rows_given_before_it(db):
    with db.transaction() as conn:
        conn.insert("INSERT OR REPLACE INTO a (k, v)", (1, "first"))
        conn.execute("UPDATE a SET v = 'updated' WHERE k = 1")  # sees the deferred row
        conn.insert("INSERT OR REPLACE INTO a (k, v)", (2, "second"))
        conn.execute("DELETE FROM a WHERE k = 2")  # the deferred row is gone with it
    assert db.rows("SELECT k, v FROM a") == [(1, "updated")]


def test_more_rows_than_one_statement_takes(db, monkeypatch):
    monkeypatch.setattr(writes, "ROWS_PER_STATEMENT", 4)
    seen = statements(db)
    with db.transaction() as conn:
        for k in range(10):
            conn.insert("INSERT INTO a (k, v)", (k, str(k)))
    assert len([s for s in seen if s.startswith("INSERT")]) == 3
    assert db.rows("SELECT count(*) FROM a") == [(10,)]


def test_a_bad_deferred_row_rolls_the_transaction_back(db):
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO b (k, n) VALUES (9, 9)")
            conn.insert("INSERT INTO a (k, v)", (1, "x"))
            conn.insert("INSERT INTO a (k, v)", (1, "again"))  # the same key twice: the commit fails
    assert db.rows("SELECT count(*) FROM a") == [(0,)]
    assert db.rows("SELECT count(*) FROM b") == [(0,)]


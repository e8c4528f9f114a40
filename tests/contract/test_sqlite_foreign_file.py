"""A ledger file is creditcore's own: opening a file that holds another application's
database, a table of creditcore's name with other columns, or something that is not a SQLite
database at all raises StorageError and leaves every file byte for byte as it was. A new or
empty file becomes a ledger; a creditcore file (also one that an application added tables to)
opens as before."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from creditcore import Ledger, StorageError
from creditcore.adapters import sqlite as adapter
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.adapters.sqlite import schema as sqlite_schema
from creditcore.testing.contract import ManualClock

FIRST_VERSION = Path(__file__).parents[1] / "reliability" / "data" / "first_version.sqlite"


def files(directory: Path) -> dict[str, bytes]:
    """Every file of the directory and its bytes (a -wal, -shm or -journal left behind counts)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def make(path: Path, *statements: str, wal: bool = False) -> None:
    """A database as another program leaves it: written, committed and closed."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def foreign_blocks(path: Path) -> None:
    make(path, "CREATE TABLE blocks (id TEXT PRIMARY KEY, x INTEGER, y INTEGER)")


APPLICATIONS: dict[str, Callable[[Path], None]] = {
    "an app's tables": lambda p: make(
        p,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)",
        "INSERT INTO users (email) VALUES ('ada@example.com')",
    ),
    "an app's tables, WAL": lambda p: make(
        p, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)", "INSERT INTO orders VALUES (1, 5)", wal=True
    ),
    "an app's view only": lambda p: make(p, "CREATE VIEW answer AS SELECT 42 AS value"),
    "an app's sqlite-utils migrations": lambda p: make(
        p,
        "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)",
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('shop', '0001_init', 'x')",
        "CREATE TABLE products (id INTEGER PRIMARY KEY)",
    ),
    "an app's schema_version with our columns": lambda p: make(
        p,
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "applied_at TEXT NOT NULL)",
        "INSERT INTO schema_version VALUES (1, 'create_users', 'x')",
    ),
    "an app's units table among others": lambda p: make(
        p,
        "CREATE TABLE units (name TEXT PRIMARY KEY, scale INTEGER NOT NULL CHECK (scale >= 0)) STRICT",
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY)",
    ),
    # a table with one of creditcore's names and other columns, alone in the file
    "a foreign blocks table lacking columns": foreign_blocks,
    "a foreign units table of other types": lambda p: make(p, "CREATE TABLE units (name TEXT, scale TEXT)"),
    "a foreign operations table with a column more": lambda p: make(
        p,
        "CREATE TABLE operations (namespace TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, "
        "fingerprint TEXT NOT NULL, op_id TEXT NOT NULL, customer TEXT NOT NULL, result TEXT NOT NULL, "
        "extra TEXT, PRIMARY KEY (namespace, key))",
    ),
}

NOT_DATABASES: dict[str, bytes] = {
    "text": b"name,amount\nada,10\n" * 50,
    "one byte": b"x",  # SQLite alone would take it for an empty database and write over it
    "random bytes": bytes(range(256)) * 20,
    "a truncated ledger": FIRST_VERSION.read_bytes()[:4096],
    "a SQLite header and garbage": b"SQLite format 3\x00" + b"\xfe" * 5000,
}


@pytest.mark.parametrize("kind", list(APPLICATIONS))
def test_another_applications_database_is_refused_and_left_as_it_was(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "app.db"
    APPLICATIONS[kind](path)
    before = files(tmp_path)
    with pytest.raises(StorageError) as raised:
        Ledger.sqlite(path)
    message = str(raised.value)
    assert str(path) in message and "ledger" in message and "nothing was written" in message, message
    assert files(tmp_path) == before, f"{kind}: the file changed"
    with pytest.raises(StorageError):  # as often as it is tried
        SQLiteRepository(path, durability="normal")
    assert files(tmp_path) == before


@pytest.mark.parametrize("kind", list(NOT_DATABASES))
def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_was(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data.db"
    path.write_bytes(NOT_DATABASES[kind])
    before = files(tmp_path)
    with pytest.raises(StorageError, match=r"not a (SQLite )?database|damaged|malformed") as raised:
        Ledger.sqlite(path)
    assert str(path) in str(raised.value)
    assert files(tmp_path) == before


def test_a_ledger_file_whose_table_lost_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.sqlite(path).close()
    make(path, "DROP TABLE operations", "CREATE TABLE operations (namespace TEXT, key TEXT)")
    before = files(tmp_path)
    with pytest.raises(StorageError, match="'operations' do not have the columns"):
        Ledger.sqlite(path)
    assert files(tmp_path) == before


def test_a_ledger_file_missing_a_table_its_schema_records_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.sqlite(path).close()
    make(path, "DROP TABLE snapshots")
    before = files(tmp_path)
    with pytest.raises(StorageError, match="'snapshots' are missing; the file is damaged"):
        Ledger.sqlite(path)
    assert files(tmp_path) == before


@pytest.mark.parametrize("start", ["missing", "empty"])
def test_a_new_or_empty_file_becomes_a_ledger(tmp_path: Path, start: str) -> None:
    path = tmp_path / "ledger.db"
    if start == "empty":
        path.write_bytes(b"")
    ledger = Ledger.sqlite(path, clock=ManualClock())
    try:
        ledger.grant("ada", 5)
        repository = ledger.repository
        assert isinstance(repository, SQLiteRepository)
        assert repository.schema_version() == [name for name, _ in adapter.MIGRATIONS]
    finally:
        ledger.close()
    again = Ledger.sqlite(path, clock=ManualClock())
    try:
        assert again.balance("ada").available == 5
    finally:
        again.close()


def test_a_ledger_file_an_application_added_tables_to_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    first = Ledger.sqlite(path, clock=ManualClock())
    first.grant("ada", 5)
    first.close()
    make(path, "CREATE TABLE app_notes (id INTEGER PRIMARY KEY, text TEXT)", "CREATE INDEX notes ON app_notes (text)")
    again = Ledger.sqlite(path, clock=ManualClock())
    try:
        assert again.balance("ada").available == 5
        assert again.grant("ada", 1).block.amount == 1
    finally:
        again.close()


def test_a_ledger_file_of_an_older_schema_is_checked_and_brought_forward(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    shutil.copyfile(FIRST_VERSION, path)  # schema 0001_initial: no snapshots table yet
    repository = SQLiteRepository(path)
    try:
        assert repository.schema_version() == [name for name, _ in adapter.MIGRATIONS]
    finally:
        repository.close()


def test_the_columns_expected_are_those_the_migrations_make(tmp_path: Path) -> None:
    """The check compares against the schema itself: every table a ledger file holds, and
    nothing else, is known to it with the columns SQLite reports for that file."""
    path = tmp_path / "ledger.db"
    Ledger.sqlite(path).close()
    columns, made, names = sqlite_schema.ledger_schema()
    conn = sqlite3.connect(path)
    try:
        tables = sqlite_schema.tables(conn)
        assert set(columns) == set(tables) - {"_sqlite_migrations", "schema_version"}
        assert all(sqlite_schema.columns(conn, t) == columns[t] for t in columns)
        assert {t for group in made.values() for t in group} == set(columns)
        every = sqlite_schema.tables(conn, sqlite_schema.EVERY_KIND)
        assert {n for n in every if "_sqlite_migrations" not in n and n != "schema_version"} == names
    finally:
        conn.close()

"""Applying the shared migrations to a SQLite file, and refusing a file that is not a ledger.

The migrations are :data:`creditcore.adapters.sql.schema.MIGRATIONS`, applied with
sqlite-utils' ``Migrations`` (set ``creditcore``), or on an older sqlite-utils with a
``schema_version`` table of our own.

Opening a file checks, before anything is written to it, that it is empty or a creditcore
ledger: a file with other tables and no record of creditcore's migrations belongs to another
application, and a table with one of creditcore's names but other columns cannot hold a
ledger (CREATE TABLE IF NOT EXISTS would keep it, and the first write would fail or, worse,
a migration would be recorded as applied). Such a file is refused and left as it was.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from creditcore.adapters.sql.dialect import SQLITE
from creditcore.adapters.sql.schema import MIGRATIONS, Step
from creditcore.errors import StorageError

try:  # sqlite-utils >= 4.0
    from sqlite_utils import Migrations as _Migrations
except ImportError:  # pragma: no cover - older sqlite-utils: our own schema_version table
    _Migrations = None  # type: ignore[assignment,misc]

MIGRATION_SET = "creditcore"

Columns = tuple[tuple[str, str, int, int], ...]
_SCHEMA_VERSION_COLUMNS: Columns = (
    ("version", "INTEGER", 0, 1),
    ("name", "TEXT", 1, 0),
    ("applied_at", "TEXT", 1, 0),
)
EVERY_KIND = ("table", "index", "view", "trigger")
_HEADER = b"SQLite format 3\x00"


def database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    # our connection as it is: no plugins, no PRAGMA changes
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def _run(step: Step) -> Callable[[sqlite_utils.Database], None]:
    """A shared step as sqlite-utils runs it: its statements, rendered for SQLite."""

    def run(db: sqlite_utils.Database) -> None:
        for statement in step(SQLITE):
            db.execute(statement)

    return run


def apply_migrations(conn: sqlite3.Connection) -> None:
    """Apply the pending migrations inside the caller's transaction (sqlite-utils nests
    each one in a savepoint)."""
    db = database(conn)
    if _Migrations is not None:
        migrations = _Migrations(MIGRATION_SET)
        for name, step in MIGRATIONS:
            migrations(name=name)(_run(step))
        migrations.apply(db)
        return
    # older sqlite-utils: a version table of our own
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "applied_at TEXT NOT NULL)"
    )
    done = {name for (name,) in conn.execute("SELECT name FROM schema_version")}
    for version, (name, step) in enumerate(MIGRATIONS, start=1):
        if name not in done:
            _run(step)(db)
            db.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )


def applied(conn: sqlite3.Connection) -> list[str]:
    """Applied migration names, from either bookkeeping table (a table of the same name that
    another application made, with other columns, records nothing of ours)."""
    names: list[str] = []
    if {"migration_set", "name", "id"} <= {column[0] for column in columns(conn, "_sqlite_migrations")}:
        rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", (MIGRATION_SET,))
        names.extend(name for (name,) in rows)
    if columns(conn, "schema_version") == _SCHEMA_VERSION_COLUMNS:
        versions = [name for (name,) in conn.execute("SELECT name FROM schema_version ORDER BY version")]
        # ours starts with our first migration (another application's may have the same columns)
        if versions and versions[0] == MIGRATIONS[0][0]:
            names.extend(name for name in versions if name not in names)
    return names


def columns(conn: sqlite3.Connection, table: str) -> Columns:
    """A table's columns as (name, declared type, NOT NULL, position in the primary key); ``()``
    for a table that does not exist."""
    rows = conn.execute('SELECT name, upper(type), "notnull", pk FROM pragma_table_info(?) ORDER BY cid', (table,))
    return tuple((name, kind, notnull, pk) for name, kind, notnull, pk in rows)


def tables(conn: sqlite3.Connection, kinds: tuple[str, ...] = ("table",)) -> list[str]:
    """The names of the file's tables (or other ``kinds`` of schema object), without SQLite's
    own (``sqlite_sequence``, ``sqlite_stat1``, ``sqlite_autoindex_...``)."""
    rows = conn.execute(
        f"SELECT name FROM sqlite_master WHERE type IN ({', '.join('?' for _ in kinds)}) ORDER BY name", kinds
    )
    return [name for (name,) in rows if not name.startswith("sqlite_")]


@functools.cache
@functools.cache
def ledger_schema(
    applied: tuple[str, ...] | None = None,
) -> tuple[dict[str, Columns], dict[str, tuple[str, ...]], frozenset[str]]:
    """The columns of every table creditcore's migrations make — all of them, or only those a
    file records as ``applied`` (a file of an older schema has the columns of its time) —,
    the tables each migration makes, and the names of everything they make (indexes and
    triggers too), read from in-memory databases the migrations ran on."""
    made: dict[str, tuple[str, ...]] = {}
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db = database(conn)
        for name, step in MIGRATIONS:
            before = set(tables(conn))
            _run(step)(db)
            made[name] = tuple(t for t in tables(conn) if t not in before)
        found = {t: columns(conn, t) for t in tables(conn)}
        ours = frozenset(tables(conn, EVERY_KIND))
    finally:
        conn.close()
    if applied is not None and set(applied) != set(made):  # (all of them: the tables just read)
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            db = database(conn)
            for name, step in MIGRATIONS:
                if name in applied:
                    _run(step)(db)
            found = {t: columns(conn, t) for t in tables(conn)}
        finally:
            conn.close()
    return found, made, ours


def _check_header(path: str, where: str) -> None:
    """Refuse a file that has content but is not a SQLite database (SQLite takes a one-byte
    file for an empty database, and would write over it)."""
    try:
        with open(path, "rb") as file:
            start = file.read(len(_HEADER))
    except OSError:
        return  # missing (it will be created), or not a file: SQLite says what is wrong
    if start and start != _HEADER:
        raise StorageError(
            f"SQLite will not use {where}: the file is not a SQLite database (it has content, but not "
            "SQLite's header); nothing was written to it: give creditcore a file of its own"
        )


def check_ledger_file(conn: sqlite3.Connection, where: str, path: str) -> None:
    """Refuse (``StorageError``) a file that is neither empty nor a creditcore ledger. Reads only."""
    found = tables(conn, EVERY_KIND)  # SQLite refuses most files that are not a database here
    if not found:
        _check_header(path, where)
        return  # a new or empty file
    done = applied(conn)
    expected, made, ours = ledger_schema(tuple(done) if done else None)
    wrong = [t for t in found if t in expected and columns(conn, t) != expected[t]]
    if wrong:
        raise StorageError(
            f"SQLite will not use {where} as a ledger: its table(s) {', '.join(map(repr, wrong))} do not have the "
            "columns creditcore keeps in them (the file belongs to another application, or is damaged); nothing "
            "was written to it: give creditcore a file of its own"
        )
    if done:
        missing = [t for name in done for t in made.get(name, ()) if t not in found]
        if missing:
            raise StorageError(
                f"SQLite will not use {where}: it records creditcore's schema, but its table(s) "
                f"{', '.join(map(repr, missing))} are missing; the file is damaged: restore it from a backup"
            )
        return
    foreign = [t for t in found if t not in ours]
    if foreign:
        shown = ", ".join(map(repr, foreign[:5])) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise StorageError(
            f"SQLite will not use {where} as a ledger: it is a database of another application ({shown}) "
            "and holds no creditcore ledger; nothing was written to it: give creditcore a file of its own "
            "(a new path is created)"
        )

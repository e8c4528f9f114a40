"""``0003``: a ledger file of the schema before it (``0001_initial`` and ``0002_snapshots``,
with the domain's enumerations frozen into ``CHECK``s) is rebuilt without those CHECKs when it
is opened, every row copied, and reads back exactly as before; afterwards a new enumeration
value needs no schema change (the codec refuses one it does not know, on read).

The file of the previous schema is the one its own code wrote (``data/schema_0002.sqlite``,
see ``make_first_version.py``), with entries of every kind, holds of every status, blocks
emptied every way and snapshots: today's write path writes only today's schema (its tables
have changed since), so it cannot make an older file by running with the migrations list cut
short. The cut list still serves to apply ``0003`` alone, and to make a file new at that
schema to compare with.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from make_first_version import READ_AT, decode_call, files, plain, read_all
from reliability_support import dump, fresh, integrity, known, raw

from creditcore import Ledger, StorageError
from creditcore.adapters.sql.schema import MIGRATIONS
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.adapters.sqlite import repository as sqlite_repository
from creditcore.adapters.sqlite import schema as sqlite_schema
from creditcore.state import ENTRY_KINDS
from creditcore.testing.contract import ManualClock

REBUILD = "0003_enumerations_checked_by_the_domain"
NAMES = [name for name, _ in MIGRATIONS]
BEFORE = NAMES[: NAMES.index(REBUILD)]
OLD_FILE, OLD_READS = files("schema_0002")


@contextmanager
def migrations_until(monkeypatch: pytest.MonkeyPatch, last: str) -> Iterator[None]:
    """While it lasts, creditcore knows only the migrations up to ``last``."""
    cut = tuple(MIGRATIONS[: NAMES.index(last) + 1])
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", cut)
    monkeypatch.setattr(sqlite_repository, "MIGRATIONS", cut)
    sqlite_schema.ledger_schema.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        sqlite_schema.ledger_schema.cache_clear()


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    shutil.copyfile(OLD_FILE, path)
    return path


@pytest.fixture
def old_reads() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OLD_READS.read_text())
    return data


def table_sql(path: Path, table: str) -> str:
    with raw(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return str(sql)


def shape(path: Path) -> dict[str, Any]:
    """What a table is besides its text: columns, references, indexes (with their columns and
    conditions) and triggers."""
    with raw(path) as conn:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {
            "columns": {t: conn.execute(f'PRAGMA table_info("{t}")').fetchall() for t in tables},
            "references": {t: sorted(conn.execute(f'PRAGMA foreign_key_list("{t}")').fetchall()) for t in tables},
            "indexes": sorted(
                conn.execute(
                    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                    "AND name NOT LIKE 'sqlite_autoindex_%'"
                ).fetchall()
            ),
            "unique": {t: sorted(row[2:] for row in conn.execute(f'PRAGMA index_list("{t}")')) for t in tables},
        }


def test_the_file_of_the_previous_schema_has_the_enumeration_checks(old_file: Path) -> None:
    with raw(old_file) as conn:
        assert [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")] == BEFORE
    assert "kind IN (" in table_sql(old_file, "entries")
    assert "category IN (" in table_sql(old_file, "blocks")
    assert "status IN (" in table_sql(old_file, "holds")
    with raw(old_file) as conn:
        kinds = {kind for (kind,) in conn.execute("SELECT DISTINCT kind FROM entries")}
        statuses = {status for (status,) in conn.execute("SELECT DISTINCT status FROM holds")}
        endings = {e for (e,) in conn.execute("SELECT DISTINCT emptied_by FROM blocks WHERE emptied_by IS NOT NULL")}
        (snapshots,) = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()
    assert kinds == set(ENTRY_KINDS) - {"refund"}, set(ENTRY_KINDS) - kinds  # every kind there was then
    assert statuses == {"active", "captured", "released", "expired"}
    assert endings == {"depleted", "expired", "voided"}
    assert snapshots > 0


def test_it_rebuilds_the_tables_with_every_row_as_it_was(
    old_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_rows = dump(old_file)
    with migrations_until(monkeypatch, REBUILD):
        repository = SQLiteRepository(old_file)
        try:
            assert repository.schema_version() == [*BEFORE, REBUILD]
        finally:
            repository.close()
        fresh_file = tmp_path / "fresh.db"
        SQLiteRepository(fresh_file).close()
    after_rows = dump(old_file)
    # every row of every table, the same (the bookkeeping of migrations aside)
    bookkeeping = {"_sqlite_migrations", "schema_version"}
    assert {t: r for t, r in after_rows.items() if t not in bookkeeping} == {
        t: r for t, r in before_rows.items() if t not in bookkeeping
    }
    assert integrity(old_file) == ["ok"]
    # and the same schema as a file made new at that schema: columns, references, indexes, triggers
    assert shape(old_file) == shape(fresh_file)
    for table in ("entries", "blocks", "holds"):
        assert " IN ('" not in table_sql(old_file, table)


def test_it_migrates_forward_to_today_and_reads_back_identically(
    old_file: Path, tmp_path: Path, old_reads: dict[str, Any]
) -> None:
    ledger = Ledger(SQLiteRepository(old_file, snapshot_every=3), clock=ManualClock(READ_AT))  # migrates
    try:
        repository = ledger.repository
        assert isinstance(repository, SQLiteRepository)
        assert repository.schema_version() == NAMES
        assert known(read_all(ledger), old_reads["reads"]) == old_reads["reads"]
        assert ledger.verify().ok
        # the keyed calls replay with their first results
        for item in old_reads["keyed"][:12]:
            name, args, kwargs = decode_call(item["call"])
            again = getattr(ledger, name)(*args, **kwargs)
            assert again.replayed and known(plain(fresh(again)), item["result"]) == item["result"], (name, args, kwargs)
        # and it goes on: new writes, the append-only trigger
        assert ledger.grant("bea", 3).block.remaining == 3
        assert ledger.verify().ok
    finally:
        ledger.close()
    fresh_file = tmp_path / "fresh.db"
    SQLiteRepository(fresh_file).close()
    assert shape(old_file) == shape(fresh_file)
    assert integrity(old_file) == ["ok"]
    with raw(old_file) as conn, pytest.raises(sqlite3.Error, match="append-only"):
        conn.execute("UPDATE entries SET amount = amount + 1")


def test_after_it_a_new_entry_kind_needs_no_schema_change(old_file: Path) -> None:
    SQLiteRepository(old_file).close()  # migrated
    with raw(old_file) as conn:
        conn.execute(
            "INSERT INTO entries (seq, op_id, customer, unit, kind, amount, available_after, at) "
            "VALUES ((SELECT MAX(seq) + 1 FROM entries), 'op_new', 'ada', 'credits', 'top_up', 1, 1, 0)"
        )
    repository = SQLiteRepository(old_file)
    try:
        with pytest.raises(StorageError, match="'top_up' is not a kind of entry"), repository.reader() as reader:
            reader.history("ada")
    finally:
        repository.close()


class _FailingRebuild(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.strip().startswith("ALTER TABLE holds_rebuilt"):
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return super().execute(sql, *args)


def test_a_rebuild_that_fails_half_way_leaves_the_file_as_it_was(old_file: Path) -> None:
    before_rows = dump(old_file)
    with pytest.raises(StorageError, match="injected"):
        SQLiteRepository(old_file, connection_factory=_FailingRebuild)
    assert dump(old_file) == before_rows
    assert "kind IN (" in table_sql(old_file, "entries")
    assert integrity(old_file) == ["ok"]
    SQLiteRepository(old_file).close()  # and it migrates once nothing fails
    assert " IN ('" not in table_sql(old_file, "entries")

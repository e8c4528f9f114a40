"""``0003``: a ledger file of the schema before it (``0001_initial`` and ``0002_snapshots``,
with the domain's enumerations frozen into ``CHECK``s) is rebuilt without those CHECKs when it
is opened, every row copied, and reads back exactly as before; afterwards a new enumeration
value needs no schema change (the codec refuses one it does not know, on read).

The file of the previous schema is made by today's code with the migrations list cut short
before ``0003``; the committed first-version file (``test_upgrade.py``) goes through the same
rebuild from ``0001_initial``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from reliability_support import dump, integrity, raw

from creditcore import Ledger, StorageError
from creditcore.adapters.sql.schema import MIGRATIONS
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.adapters.sqlite import repository as sqlite_repository
from creditcore.adapters.sqlite import schema as sqlite_schema
from creditcore.model import Result
from creditcore.state import ENTRY_KINDS
from creditcore.testing.contract import ManualClock, run_script, snapshot

REBUILD = "0003_enumerations_checked_by_the_domain"
BEFORE = [name for name, _ in MIGRATIONS][: [name for name, _ in MIGRATIONS].index(REBUILD)]
DAY = timedelta(days=1)


# migrations after 0003 that leave the tables it rebuilds alone, and that today's write path
# needs (its idempotency records): the old file has them, so today's code can write it
INDEPENDENT = ("0004_slim_idempotency_records",)


@contextmanager
def previous_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While it lasts, creditcore knows only the migrations before 0003 (and those after it
    that touch other tables)."""
    cut = tuple(m for m in MIGRATIONS if m[0] in BEFORE or m[0] in INDEPENDENT)
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", cut)
    monkeypatch.setattr(sqlite_repository, "MIGRATIONS", cut)
    sqlite_schema.ledger_schema.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        sqlite_schema.ledger_schema.cache_clear()


def write_every_kind(ledger: Ledger, clock: ManualClock) -> dict[str, Result]:
    """Entries of every kind, holds of every status, blocks emptied every way, keyed calls
    (their results returned by key)."""
    keyed: dict[str, Result] = {}
    keyed["k-debt"] = ledger.burn("ada", 5, overdraft="debt", idempotency_key="k-debt")  # debt
    keyed["k-grant"] = ledger.grant("ada", 20, expires_at=clock() + DAY, idempotency_key="k-grant")  # settle
    ledger.grant("ada", 10, unit="credits", priority=1)
    spent = keyed["k-burn"] = ledger.burn("ada", 3, idempotency_key="k-burn")
    ledger.reverse(spent.op_id, 1)
    ledger.hold("ada", 2, hold_id="h-captured")
    ledger.capture("h-captured", 1)
    ledger.hold("ada", 2, hold_id="h-released")
    ledger.release("h-released")
    ledger.hold("ada", 1, hold_id="h-expired", expires_at=clock() + timedelta(hours=1))
    voided = ledger.grant("ada", 4).block
    ledger.void(voided.id)
    moved = ledger.grant("ada", 6, expires_at=clock() + 3 * DAY).block
    ledger.change_expiry(moved.id, clock() + 5 * DAY, amount=2)
    clock.advance(2 * DAY)
    ledger.burn("ada", 1)  # the hold and the first grant expire first
    run_script(ledger, clock, seed=11, steps=150)
    ledger.grant("ada", 5)
    ledger.hold("ada", 1, hold_id="h-active")
    return keyed


def make_old_file(path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> dict[str, Result]:
    """A ledger file of the schema before 0003, with a history of every kind."""
    with previous_schema(monkeypatch):
        ledger = Ledger(SQLiteRepository(path, snapshot_every=5), clock=clock, units={"usd": 2})
        try:
            keyed = write_every_kind(ledger, clock)
            repository = ledger.repository
            assert isinstance(repository, SQLiteRepository)
            assert repository.schema_version() == [*BEFORE, *INDEPENDENT]
        finally:
            ledger.close()
    return keyed


@pytest.fixture
def old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    make_old_file(path, monkeypatch, ManualClock())
    return path


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
    assert "kind IN (" in table_sql(old_file, "entries")
    assert "category IN (" in table_sql(old_file, "blocks")
    assert "status IN (" in table_sql(old_file, "holds")
    with raw(old_file) as conn:
        kinds = {kind for (kind,) in conn.execute("SELECT DISTINCT kind FROM entries")}
        statuses = {status for (status,) in conn.execute("SELECT DISTINCT status FROM holds")}
        endings = {e for (e,) in conn.execute("SELECT DISTINCT emptied_by FROM blocks WHERE emptied_by IS NOT NULL")}
        (snapshots,) = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()
    assert kinds == set(ENTRY_KINDS), set(ENTRY_KINDS) - kinds
    assert statuses == {"active", "captured", "released", "expired"}
    assert endings == {"depleted", "expired", "voided"}
    assert snapshots > 0


def test_it_migrates_forward_and_reads_back_identically(old_file: Path, tmp_path: Path) -> None:
    before_rows = dump(old_file)
    old = Ledger(SQLiteRepository(old_file), clock=ManualClock())
    try:
        repository = old.repository
        assert isinstance(repository, SQLiteRepository)
        assert sorted(repository.schema_version()) == sorted(name for name, _ in MIGRATIONS)
        read_back = snapshot(old)
        assert old.verify().ok
    finally:
        old.close()
    after_rows = dump(old_file)
    # every row of every table, the same (the bookkeeping of migrations aside)
    bookkeeping = {"_sqlite_migrations", "schema_version"}
    assert {t: r for t, r in after_rows.items() if t not in bookkeeping} == {
        t: r for t, r in before_rows.items() if t not in bookkeeping
    }
    assert integrity(old_file) == ["ok"]
    # and the same schema as a file made new today: columns, references, indexes, triggers
    fresh = tmp_path / "fresh.db"
    SQLiteRepository(fresh).close()
    assert shape(old_file) == shape(fresh)
    for table in ("entries", "blocks", "holds"):
        assert " IN ('" not in table_sql(old_file, table)
    assert read_back["entries"] and read_back["history"]["ada"][0]


def test_what_it_read_before_the_migration_it_reads_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.db"
    clock = ManualClock()
    keyed = make_old_file(path, monkeypatch, clock)
    with previous_schema(monkeypatch):
        ledger = Ledger(SQLiteRepository(path, snapshot_every=5), clock=clock, units={"usd": 2})
        try:
            expected = snapshot(ledger)
            past = ledger.balance("ada", at=clock() - DAY)
        finally:
            ledger.close()
    again = Ledger(SQLiteRepository(path, snapshot_every=5), clock=ManualClock(clock()))  # migrates
    try:
        assert snapshot(again) == expected
        assert again.balance("ada", at=clock() - DAY) == past
        # the keyed calls replay with their first results
        replayed = {
            "k-debt": again.burn("ada", 5, overdraft="debt", idempotency_key="k-debt"),
            "k-burn": again.burn("ada", 3, idempotency_key="k-burn"),
        }
        assert replayed == {key: attrs.evolve(keyed[key], replayed=True) for key in replayed}
        # and it goes on: new writes, the append-only trigger
        assert again.grant("bea", 3).block.remaining == 3
        assert again.verify().ok
    finally:
        again.close()
    with raw(path) as conn, pytest.raises(sqlite3.Error, match="append-only"):
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

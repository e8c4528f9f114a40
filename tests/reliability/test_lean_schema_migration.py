"""``0005``: a file of the schema before it (``data/schema_0004.sqlite``, written by the code of
that schema) is brought forward when it is opened: entries refer to their blocks and holds
by row key, blocks carry the live flag, each account's JSON totals and settlements become one
row per unit, and every row is copied, so that what a program reading the file finds is the
same (the public reads, replays and ``verify()`` are ``test_upgrade.py``'s). A migration that
fails half-way leaves the file as it was, and one that would lose a reference fails.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from make_first_version import files
from reliability_support import dump, integrity, raw

from creditcore import StorageError
from creditcore.adapters.sql.schema import MIGRATIONS
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.adapters.sqlite import repository as sqlite_repository
from creditcore.adapters.sqlite import schema as sqlite_schema

LEAN = "0005_lean_write_path"
TOTALS = ("granted", "used", "expired", "voided", "debt")
THROUGH_LEAN = MIGRATIONS[: [name for name, _ in MIGRATIONS].index(LEAN) + 1]


@pytest.fixture(autouse=True)
def _migrations_through_lean(monkeypatch: pytest.MonkeyPatch) -> None:
    # this file tests 0005 itself: files are brought forward to it, not past it
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", THROUGH_LEAN)
    monkeypatch.setattr(sqlite_repository, "MIGRATIONS", THROUGH_LEAN)


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    shutil.copyfile(files("schema_0004")[0], path)
    return path


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with raw(path) as conn:
        return conn.execute(sql).fetchall()


def test_the_file_before_it_has_the_json_account_row_and_ids_in_entries(old_file: Path) -> None:
    with raw(old_file) as conn:
        names = [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        accounts = [row[1] for row in conn.execute("PRAGMA table_info(accounts)")]
        entries = [row[1] for row in conn.execute("PRAGMA table_info(entries)")]
        (settled,) = conn.execute("SELECT COUNT(*) FROM accounts WHERE settlements != '{}'").fetchone()
    assert names[-1] == "0004_slim_idempotency_records" and LEAN not in names
    assert "totals" in accounts and "settlements" in accounts
    assert "block_id" in entries and "hold_id" in entries
    assert settled > 0, "the file should hold a debt settlement, so that its migration is tested"


def test_every_row_is_copied(old_file: Path) -> None:
    entries_before = rows(
        old_file,
        "SELECT seq, op_id, customer, unit, kind, block_id, hold_id, amount, available_after, at, description, "
        "metadata, ref, of_debt FROM entries ORDER BY seq",
    )
    blocks_before = rows(old_file, "SELECT * FROM blocks ORDER BY pos")
    accounts_before = rows(
        old_file, "SELECT customer, totals, last_at, next_number, settlements, first_seq FROM accounts"
    )
    before = dump(old_file)

    SQLiteRepository(old_file).close()  # migrates

    assert rows(old_file, "SELECT name FROM _sqlite_migrations ORDER BY id")[-1] == (LEAN,)
    assert integrity(old_file) == ["ok"]
    after = dump(old_file)
    # the tables 0005 leaves alone, row for row
    for table in ("units", "holds", "operations", "snapshots"):
        assert after[table] == before[table], table
    # entries: the same, the block and hold found again by their row keys
    assert (
        rows(
            old_file,
            "SELECT e.seq, e.op_id, e.customer, e.unit, e.kind, b.id, h.id, e.amount, e.available_after, e.at, "
            "e.description, e.metadata, e.ref, e.of_debt FROM entries e LEFT JOIN blocks b ON b.pos = e.block_pos "
            "LEFT JOIN holds h ON h.pos = e.hold_pos ORDER BY e.seq",
        )
        == entries_before
    )
    # blocks: the same, with the live flag of their credit
    assert [row[:-1] for row in rows(old_file, "SELECT * FROM blocks ORDER BY pos")] == blocks_before
    assert all(row[-1] == (1 if row[6] > 0 else 0) for row in rows(old_file, "SELECT * FROM blocks"))
    # accounts: their own columns, and their JSON totals and settlements as one row per unit
    accounts_after = {row[0]: row[1:] for row in rows(old_file, "SELECT * FROM accounts")}
    units_after = {
        (row[0], row[1]): row[2:]
        for row in rows(
            old_file, f"SELECT customer, unit, {', '.join(TOTALS)}, settlements, last_at FROM account_units"
        )
    }
    expected_units = {}
    for customer, totals, last_at, next_number, settlements, first_seq in accounts_before:
        assert accounts_after[customer] == (last_at, next_number, first_seq)
        settled = json.loads(settlements)
        for unit, figures in json.loads(totals).items():
            pairs = settled.get(unit)
            text = None if pairs is None else json.dumps(pairs, separators=(",", ":"))
            expected_units[customer, unit] = (*(figures[name] for name in TOTALS), text, None)
    assert units_after == expected_units


def test_it_has_the_schema_of_a_file_made_new(old_file: Path, tmp_path: Path) -> None:
    SQLiteRepository(old_file).close()
    fresh = tmp_path / "fresh.db"
    SQLiteRepository(fresh).close()

    def schema(path: Path) -> list[tuple[Any, ...]]:
        found = rows(path, "SELECT type, name, tbl_name FROM sqlite_master ORDER BY type, name")
        with raw(path) as conn:
            columns = {name: conn.execute(f'PRAGMA table_info("{name}")').fetchall() for _, name, _ in found}
            references = {name: conn.execute(f'PRAGMA foreign_key_list("{name}")').fetchall() for _, name, _ in found}
        return [*found, sorted(columns.items()), sorted(references.items())]

    assert schema(old_file) == schema(fresh)


class _FailingLast(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.strip() == "ALTER TABLE accounts DROP COLUMN settlements":
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return super().execute(sql, *args)


def test_a_migration_that_fails_at_its_last_step_leaves_the_file_as_it_was(old_file: Path) -> None:
    before = dump(old_file)
    with pytest.raises(StorageError, match="injected"):
        SQLiteRepository(old_file, connection_factory=_FailingLast)
    assert dump(old_file) == before
    assert integrity(old_file) == ["ok"]
    SQLiteRepository(old_file).close()  # and it migrates once nothing fails
    assert rows(old_file, "SELECT name FROM _sqlite_migrations ORDER BY id")[-1] == (LEAN,)


def test_an_entry_whose_block_is_gone_stops_the_migration(old_file: Path) -> None:
    # a reference the old schema refused (written here with its checks off): the migration
    # fails rather than copy the entry without it
    with raw(old_file) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "INSERT INTO entries (seq, op_id, customer, unit, kind, block_id, amount, available_after, at) "
            "VALUES ((SELECT MAX(seq) + 1 FROM entries), 'op_x', 'ada', 'credits', 'burn', 'blk_gone', 1, 0, 0)"
        )
    before = dump(old_file)
    with pytest.raises(StorageError, match="FOREIGN KEY"):
        SQLiteRepository(old_file)
    assert dump(old_file) == before


def test_the_migrations_list_has_it_after_the_slim_idempotency_records() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names[names.index("0004_slim_idempotency_records") + 1] == LEAN

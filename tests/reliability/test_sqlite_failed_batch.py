"""A batch that does not commit leaves nothing behind in the SQLite adapter.

The failures are real ones, not exceptions raised in SQLite's place: the operating system
refuses to let the file grow while COMMIT writes it (``RLIMIT_FSIZE``: SQLite reports an I/O
error and rolls the transaction back itself), the database is full half-way through the batch
(``PRAGMA max_page_count``: ``SQLITE_FULL``), and SQLite is interrupted at COMMIT.

After the failure the ledger that saw it and a ledger opened anew on a copy of the file must be
indistinguishable: the same reads, and the same outcome for the same later writes — the same
entry numbers, balances, account rows and snapshots. Whatever the adapter remembers across
transactions (each account as last saved, the last entry number, the count of entries since a
customer's last snapshot, decoded rows) must not outlive a transaction that did not commit.
"""

from __future__ import annotations

import resource
import signal
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reliability_support import dump, integrity, raw, repository_of, write_lock_is_free

from creditcore import Ledger, StorageError
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.testing.contract import ManualClock, snapshot

MINUTE = timedelta(minutes=1)
SNAPSHOT_EVERY = 4


class Failing(sqlite3.Connection):
    """Makes the next batch fail for real, in the way ``failure`` names."""

    failure: str | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        failure = Failing.failure
        if failure == "disk refuses the commit" and sql == "COMMIT":
            Failing.failure = None
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))  # no file of this process may grow
            try:
                return super().execute(sql, parameters)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                signal.signal(signal.SIGXFSZ, handler)
        if failure == "interrupted at commit" and sql == "COMMIT":
            Failing.failure = None
            self.set_progress_handler(lambda: 1, 1)
            try:
                return super().execute(sql, parameters)
            finally:
                self.set_progress_handler(None, 1)
        if failure == "database full mid-batch" and sql.startswith("BEGIN IMMEDIATE"):
            Failing.failure = None
            cursor = super().execute(sql, parameters)
            (pages,) = super().execute("PRAGMA page_count").fetchone()
            super().execute(f"PRAGMA max_page_count = {pages}")  # not one page more
            return cursor
        return super().execute(sql, parameters)


@pytest.fixture
def failing() -> Iterator[type[Failing]]:
    yield Failing
    Failing.failure = None


def start(path: Path) -> tuple[Ledger, ManualClock]:
    clock = ManualClock()
    ledger = Ledger(SQLiteRepository(path, connection_factory=Failing, snapshot_every=SNAPSHOT_EVERY), clock=clock)
    ledger.define_unit("usd", 2)
    ledger.grant("ada", 50)
    ledger.grant("bob", 20, unit="usd")
    for _ in range(SNAPSHOT_EVERY + 1):  # a snapshot, and an entry counted since
        clock.advance(MINUTE)
        ledger.burn("ada", 1)
    ledger.hold("ada", 3, hold_id="h1")
    clock.advance(MINUTE)
    return ledger, clock


def batch(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.define_unit("jpy", 0)
        ledger.burn("ada", 2)  # ada's account, remembered as saved here
        ledger.capture("h1", 3)
        ledger.grant("ada", 5, description="x" * 2000, metadata={f"k{i}": "v" * 1000 for i in range(30)})
        ledger.grant("cy", 7, unit="jpy")
        ledger.burn("bob", "1.50", unit="usd")


def later(ledger: Ledger, clock: ManualClock) -> None:
    """The same writes after the failure, on the ledger that saw it and on a fresh one."""
    for step in range(SNAPSHOT_EVERY + 2):
        clock.advance(MINUTE)
        ledger.burn("ada", 1)
        if step == 2:
            ledger.grant("bob", 3, unit="usd")
            ledger.hold("ada", 2, hold_id="h2")
    ledger.capture("h2", 1)
    ledger.expire_due()


def without_ids(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the file holds apart from the generated ids (which differ between two runs)."""
    with raw(path) as conn:
        return {
            "units": conn.execute("SELECT name, scale FROM units ORDER BY name").fetchall(),
            "accounts": conn.execute(
                "SELECT customer, last_at, next_number, first_seq FROM accounts ORDER BY customer"
            ).fetchall(),
            "account_units": conn.execute(
                "SELECT customer, unit, granted, used, expired, voided, debt, settlements, last_at "
                "FROM account_units ORDER BY customer, unit"
            ).fetchall(),
            "blocks": conn.execute(
                "SELECT customer, unit, number, amount, remaining, held FROM blocks ORDER BY customer, number"
            ).fetchall(),
            "holds": conn.execute("SELECT id, amount, status, captured FROM holds ORDER BY id").fetchall(),
            "entries": conn.execute(
                "SELECT e.seq, e.customer, e.unit, e.kind, h.id, e.amount, e.available_after, e.at "
                "FROM entries e LEFT JOIN holds h ON h.pos = e.hold_pos ORDER BY e.seq"
            ).fetchall(),
            "snapshots": conn.execute("SELECT customer, seq, at FROM snapshots ORDER BY customer, seq").fetchall(),
        }


def copy(source: Path, target: Path) -> None:
    with raw(source) as conn, raw(target) as into:
        conn.backup(into)


@pytest.mark.parametrize("failure", ["disk refuses the commit", "database full mid-batch", "interrupted at commit"])
def test_a_batch_that_did_not_commit_leaves_nothing_behind(
    tmp_path: Path, failing: type[Failing], failure: str
) -> None:
    path, other = tmp_path / "ledger.db", tmp_path / "copy.db"
    ledger, clock = start(path)
    try:
        before_dump, before = dump(path), snapshot(ledger)
        failing.failure = failure
        with pytest.raises(StorageError) as raised:
            batch(ledger)
        assert failing.failure is None, "the failure was not reached"
        cause = raised.value.__cause__
        assert isinstance(cause, sqlite3.Error), cause
        expected = {
            "disk refuses the commit": "SQLITE_IOERR",
            "database full mid-batch": "SQLITE_FULL",
            "interrupted at commit": "SQLITE_INTERRUPT",
        }[failure]
        assert getattr(cause, "sqlite_errorname", "").startswith(expected), cause

        # the file is as it was, and the ledger reads it as it is
        assert dump(path) == before_dump
        assert write_lock_is_free(path) and not repository_of(ledger).connection().in_transaction
        assert snapshot(ledger) == before
        assert ledger.units() == {"credits": 0, "usd": 2}
        assert ledger.verify().ok
        with raw(path) as conn:  # another connection lists every entry
            assert [kind for (kind,) in conn.execute("SELECT kind FROM entries ORDER BY seq")] == [
                e.kind for e in before["entries"]
            ]

        # the ledger that saw the failure and one opened anew on a copy do the same next
        copy(path, other)
        again_clock = ManualClock(clock.now)
        again = Ledger(SQLiteRepository(other, snapshot_every=SNAPSHOT_EVERY), clock=again_clock)
        try:
            assert snapshot(again) == before
            later(ledger, clock)
            later(again, again_clock)
            assert without_ids(path) == without_ids(other)
            assert ledger.verify().ok and again.verify().ok
            assert ledger.balance("ada") == again.balance("ada")
        finally:
            again.close()
        assert integrity(path) == ["ok"]
    finally:
        ledger.close()

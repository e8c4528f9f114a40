"""Shared fixtures for the unit tests: an injectable clock and a ledger that uses it.

Tests never read the wall clock and never sleep: they set ``clock.now`` or pass ``at=``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from creditcore import Balance, Ledger
from creditcore.adapters.postgres import PostgresRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on each adapter (memory, a SQLite file at ``durability="normal"`` and a
    PostgreSQL database without waiting for each commit's flush: the crash tests prove
    durability) whose clock stands at 2026-01-01T00:00Z until the test moves it.

    Tests date their writes with ``at=`` as they please, ahead of that clock too, so the
    future check (SPEC §13) is off here; ``test_future_writes.py`` tests it.
    """
    if request.param == "memory":
        made = Ledger.memory(clock=clock, future_tolerance=None)
    elif request.param == "postgres":
        made = Ledger(PostgresRepository(quick_database(request)), clock=clock, future_tolerance=None)
    else:
        made = Ledger.sqlite(tmp_path / "ledger.db", durability="normal", clock=clock, future_tolerance=None)
    yield made
    made.close()


@pytest.fixture
def identity() -> Callable[[Balance], None]:
    """Asserts the balance identity of SPEC §4 on a balance without scope."""

    def check(balance: Balance) -> None:
        parts = balance.available + balance.held + balance.used + balance.expired + balance.voided + balance.upcoming
        assert balance.granted == parts, balance

    return check


@pytest.fixture
def snapshot(ledger: Ledger) -> Callable[[], tuple[object, ...]]:
    """Everything the ledger shows as one comparable value, to prove that a call wrote nothing."""

    def take() -> tuple[object, ...]:
        return tuple(ledger.entries(limit=10_000).items)

    return take


def quick_database(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database, a copy of the session's migrated one, whose commits do not
    wait for their flush (behaviour, not durability, is what these tests check), made only for
    the tests that ask for one."""
    template: str = request.getfixturevalue("postgres_ledger_template")
    dsn: str = request.getfixturevalue("postgres_databases")(template=template)
    with psycopg.connect(dsn, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name)))
    return dsn

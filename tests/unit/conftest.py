"""Shared fixtures for the unit tests: an injectable clock and a ledger that uses it.

Tests never read the wall clock and never sleep: they set ``clock.now`` or pass ``at=``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from creditcore import Balance, Ledger
from creditcore.adapters.postgres import PostgresRepository

if TYPE_CHECKING:
    from pgserver import PostgresServer

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
    """A fresh PostgreSQL ledger store for this test: a copy of the session's migrated one
    whose commits do not wait for their flush (behaviour, not durability, is what these tests
    check), or one an earlier test used, emptied back to that state."""
    stores: FreshStores = request.getfixturevalue("postgres_fresh_stores")
    dsn = stores.take()
    request.addfinalizer(lambda: stores.give_back(dsn))  # after the ledger fixture closes it
    return dsn


# Creating a database from the template takes half a second (its files are written and
# flushed); emptying a used one takes a fiftieth. A used store goes back only if its schema,
# triggers, functions, sequences and settings are still the template's and every table but
# the migrations' could be emptied; otherwise it is dropped.

_FINGERPRINT = """
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
    SELECT format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, column_default) AS x
      FROM information_schema.columns WHERE table_schema = current_schema()
    UNION ALL SELECT format('trigger %s %s %s', tgrelid::regclass, tgname, tgenabled)
      FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = current_schema()
    UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
    UNION ALL SELECT format('function %s %s', proname, md5(prosrc))
      FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
    UNION ALL SELECT format('sequence %s %s %s %s', sequencename, start_value, increment_by, last_value)
      FROM pg_sequences WHERE schemaname = current_schema()
    UNION ALL SELECT format('setting %s', setconfig) FROM pg_db_role_setting
      WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL SELECT format('migration %s', row_to_json(m)) FROM creditcore_migrations AS m
) AS parts
"""


class FreshStores:
    """This worker's ledger stores: copies of the template, and used ones emptied again."""

    def __init__(self, server: PostgresServer, template: str) -> None:
        self._server = server
        self._template = template
        self._free: list[str] = []
        self._made = 0
        self._fingerprint: str | None = None

    def take(self) -> str:
        if not self._server.running:  # a test before this one killed it and did not restart it
            self._server.restart()
        if self._free:
            return self._free.pop()
        self._made += 1
        dsn = self._server.create_database(f"u{os.getpid()}_{self._made}_{uuid.uuid4().hex[:8]}", self._template)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(conn.info.dbname))
            )
            if self._fingerprint is None:
                self._fingerprint = _fingerprint(conn)
        return dsn

    def give_back(self, dsn: str) -> None:
        if not self._server.running:
            return  # its data goes with the server's directory
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '2s'")
                    conn.execute("SET LOCAL session_replication_role = replica")  # past the append-only triggers
                    tables = [r[0] for r in conn.execute(_TABLES).fetchall()]
                    for table in tables:
                        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                    for (sequence,) in conn.execute(_SEQUENCES).fetchall():
                        conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.Identifier(sequence)))
                if _fingerprint(conn) == self._fingerprint:
                    self._free.append(dsn)
                    return
        except psycopg.Error:
            pass
        self._server.drop_database(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"])  # type: ignore[arg-type]


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'creditcore_migrations'"
_SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"


def _fingerprint(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(_FINGERPRINT).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture(scope="session")
def postgres_fresh_stores(postgres_server: PostgresServer, postgres_ledger_template: str) -> FreshStores:
    return FreshStores(postgres_server, postgres_ledger_template)

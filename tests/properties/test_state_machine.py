"""The shipped state machine (``creditcore.testing``) against the reference model, on every
adapter.

Each adapter is one entry in ``FACTORIES``: a function from the machine's clock to a fresh,
empty ledger (one per example). The example and step counts come from the Hypothesis
profile (tests/conftest.py: ``ci`` runs 200 examples of up to 50 steps).

The SQLite file runs get a new file per example, in a temporary directory. With
``CREDITCORE_HEAVY=1`` the file run also goes through the ``thorough`` profile (5,000
examples).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings

from creditcore import Ledger
from creditcore.adapters.postgres import PostgresRepository
from creditcore.testing import run_state_machine

Factory = Callable[[Callable[[], datetime]], Ledger]

FACTORIES: dict[str, Factory] = {
    "memory": lambda clock: Ledger.memory(clock=clock),
    "sqlite-memory": lambda clock: Ledger.sqlite(":memory:", clock=clock),
}


def test_the_ledger_agrees_with_the_reference_model() -> None:
    run_state_machine(FACTORIES["memory"])


def test_the_ledger_on_sqlite_in_memory_agrees_with_the_reference_model() -> None:
    # fewer examples: the adapter is the one the SQLite file runs drive 200 times (below);
    # this run checks what differs in memory (one connection for readers and writers)
    run_state_machine(FACTORIES["sqlite-memory"], settings=settings(settings.default, max_examples=50))


def on_files(directory: Path, durability: str) -> Factory:
    """Ledgers on a new SQLite file per example (the last example's file is removed)."""
    numbers = itertools.count()

    def make(clock: Callable[[], datetime]) -> Ledger:
        number = next(numbers)
        for old in directory.glob(f"example-{number - 1}.db*"):
            old.unlink()
        return Ledger.sqlite(directory / f"example-{number}.db", durability=durability, clock=clock)

    make.__name__ = f"sqlite_file_{durability}"
    return make


# durability="normal": the machine checks behaviour, not what survives a power cut (the crash
# tests in tests/reliability prove durability), and a fsync per write would triple its time
@pytest.mark.parametrize("durability", ["normal"])
def test_the_ledger_on_a_sqlite_file_agrees_with_the_reference_model(tmp_path: Path, durability: str) -> None:
    run_state_machine(on_files(tmp_path, durability))


@pytest.mark.skipif(
    os.environ.get("CREDITCORE_HEAVY", "") in ("", "0"), reason="CREDITCORE_HEAVY=1 runs the heavy variant"
)
def test_heavy_the_ledger_on_a_sqlite_file_agrees_with_the_reference_model_thorough(tmp_path: Path) -> None:
    run_state_machine(on_files(tmp_path, "full"), settings=settings(settings.get_profile("thorough")))


# -- PostgreSQL: a database per example, cloned from one the schema was applied to -------------


@pytest.fixture(scope="module")
def postgres_template(postgres_server: Any) -> Iterator[str]:
    name = f"tpl_{uuid.uuid4().hex}"
    PostgresRepository(postgres_server.create_database(name, template="template0")).close()
    yield name
    postgres_server.drop_database(name)


def on_postgres(server: Any, template: str) -> Factory:
    """Ledgers on a new PostgreSQL database per example (the last example's is dropped), whose
    commits do not wait for their flush: the machine checks behaviour, not durability."""
    made: list[str] = []

    def make(clock: Callable[[], datetime]) -> Ledger:
        while made:
            server.drop_database(made.pop())
        made.append(f"ex_{uuid.uuid4().hex}")
        dsn = server.create_database(made[-1], template=template)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{made[-1]}" SET synchronous_commit = off')
        return Ledger.postgres(dsn, clock=clock, max_size=2)

    make.__name__ = "postgres"
    return make


def test_the_ledger_on_postgres_agrees_with_the_reference_model(postgres_server: Any, postgres_template: str) -> None:
    # fewer examples than the other adapters: the SQL it runs is the shared layer's, which
    # the SQLite runs drive 200 times, and every read of the machine's checks is a few round
    # trips (about 2 s an example)
    run_state_machine(
        on_postgres(postgres_server, postgres_template), settings=settings(settings.default, max_examples=25)
    )


# -- schedules, top-up rules, alerts and the outbox (SPEC §17 to §20) ---------------------------
# The same machine with the settings' rules and invariants too: every step then records the due
# events of running schedules, so fewer examples, on every adapter.

WITH_SETTINGS = settings(settings.default, max_examples=40, stateful_step_count=40)


@pytest.mark.parametrize("factory", list(FACTORIES.values()), ids=list(FACTORIES))
def test_with_settings_the_ledger_agrees_with_the_reference_model(factory: Factory) -> None:
    run_state_machine(factory, settings=WITH_SETTINGS, with_settings=True)


def test_with_settings_the_ledger_on_postgres_agrees_with_the_reference_model(
    postgres_server: Any, postgres_template: str
) -> None:
    run_state_machine(
        on_postgres(postgres_server, postgres_template),
        settings=settings(WITH_SETTINGS, max_examples=8),
        with_settings=True,
    )

"""Hypothesis profiles for the whole suite, chosen with ``HYPOTHESIS_PROFILE`` (default ``ci``).

- ``ci``: 200 examples; a state machine runs up to 50 steps in each (SPEC §12's floor).
- ``thorough``: 5,000 examples, for a nightly run or before a release.
- ``dev``: a quick look while editing.

    HYPOTHESIS_PROFILE=thorough python -m pytest tests/properties

PostgreSQL: ``postgres_server`` (one per session and xdist worker, started only when a test asks),
``postgres_dsn`` (a fresh, empty database for the test) and ``postgres_databases`` (a function
that makes more); see ``tests/pgserver.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from pgserver import PostgresServer

settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=5_000)
settings.register_profile("dev", settings.get_profile("ci"), max_examples=20, stateful_step_count=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- order: the long runs first ---------------------------------------------------------------
# The state machines and the process and crash tests take from 10 s to 100 s each; started
# last, they leave one worker running alone at the end. Started first, the short tests fill in
# around them.

_LONG_FIRST = ("tests/properties/", "tests/reliability/", "tests/billing/test_billing_state_machine.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_LONG_FIRST))  # stable: the rest keep their order


# --- PostgreSQL (tests/pgserver.py) -------------------------------------------------------------
# A server is started only when a test asks for one; under pytest-xdist every worker starts its
# own. ``CREDITCORE_PG_DSN`` points the suite at an external server instead (per-test databases
# are still created on it), ``CREDITCORE_PG_BIN`` at other binaries.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (a ``pgserver.PostgresServer``), stopped at the end."""
    from pgserver import start_server

    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_databases(postgres_server: PostgresServer) -> Iterator[Callable[..., str]]:
    """A function that creates one more fresh, empty database and returns its DSN; all are
    dropped (``WITH (FORCE)``: sessions still open are ended) after the test."""
    names: list[str] = []

    def create(template: str = "template0") -> str:
        if not postgres_server.running:  # a test before this one killed it and did not restart it
            postgres_server.restart()
        names.append(f"t_{uuid.uuid4().hex}")
        return postgres_server.create_database(names[-1], template=template)

    yield create
    if postgres_server.running:  # else its data goes with the server's directory
        for name in names:
            postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_ledger_template(postgres_server: PostgresServer) -> str:
    """The name of a database with the ledger's schema, migrated once per session: a copy of
    it (``postgres_databases()(template=...)``) is a fresh ledger store without running every
    migration again for each test."""
    from creditcore.adapters.postgres import PostgresRepository

    name = f"ledger_template_{uuid.uuid4().hex[:8]}"
    dsn = postgres_server.create_database(name, template="template0")
    PostgresRepository(dsn).close()  # migrates
    return name


@pytest.fixture
def postgres_dsn(postgres_databases: Callable[[], str]) -> str:
    """The DSN of a fresh, empty database of its own for this test."""
    return postgres_databases()

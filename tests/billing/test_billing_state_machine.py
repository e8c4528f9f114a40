"""The billing state machine (creditcore.testing.billing_machine) on every adapter: figures
that recompute from lines, credit applied equal to the ledger's burns, gapless numbers, the
reference model's lines and statuses, and a ledger that verifies after every step."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings

from creditcore import Ledger
from creditcore.adapters.postgres import PostgresRepository
from creditcore.testing.billing_machine import Clock, run_billing_machine

# fewer examples than the ledger's machine: each step reads every invoice back and verifies
# the ledger; the memory run takes the most (the store does not change what it checks)
BILLING = settings(settings.get_profile("ci"), max_examples=40, stateful_step_count=30)


def test_memory() -> None:
    run_billing_machine(lambda clock: Ledger.memory(clock=clock, future_tolerance=None), BILLING)


def test_sqlite() -> None:
    run_billing_machine(
        lambda clock: Ledger.sqlite(":memory:", clock=clock, future_tolerance=None),
        settings(BILLING, max_examples=20),
    )


def test_postgres(postgres_databases: Callable[[], str]) -> None:
    def make(clock: Clock) -> Ledger:
        return Ledger(PostgresRepository(postgres_databases()), clock=clock, future_tolerance=None)

    run_billing_machine(make, settings(BILLING, max_examples=10))

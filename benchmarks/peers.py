"""Drivers for the installable peers (benchmark environment only: see requirements.txt).

- boilpayment-credits: its ``InMemoryLedger`` with ``grant_promo`` / ``grant_trial`` and
  ``consume``. It has pools, not priorities: priorities 0 and 10 go to the promo pool,
  50 and 100 to the trial pool, consumed promo first (``promo_first_then_expiring``), soonest
  expiry first within a pool. It refuses a consume it cannot cover in full, so a partial burn
  is its refusal followed by a consume of what was available (as a caller would do it).
- a-ledger: double-entry on SQLite through SQLAlchemy. Each customer is an asset account
  funded from an equity account; a hold is ``reserve_amount``, a capture is ``consume`` plus
  a journal post of the used amount (so the balance goes down, as a capture's does), a
  release is ``release``. One write transaction per operation, WAL, ``synchronous=FULL``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks.workload import START, Workload


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# -- boilpayment-credits ----------------------------------------------------------------------


def boilpayment_burns(workload: Workload) -> tuple[float, int]:
    """Seconds for the burns (the grants are setup) and the total burned."""
    from boilpayment_core import FixedClock, InMemoryLedger, InsufficientBalanceError, resolve_policy
    from boilpayment_credits import ConsumeCreditsInput, GrantPoolInput, consume, grant_promo, grant_trial

    async def run() -> tuple[float, int]:
        clock = FixedClock(START + timedelta(hours=1))
        ledger = InMemoryLedger(clock=clock)
        policy = resolve_policy({"credits": {"consume_order": "promo_first_then_expiring"}})
        for spec in workload.grants:
            grant = grant_promo if spec.priority <= 10 else grant_trial
            await grant(
                GrantPoolInput(
                    customer_id=spec.customer,
                    amount=spec.amount,
                    ledger=ledger,
                    clock=clock,
                    idempotency_key=f"g-{spec.customer}-{spec.number}",
                    expires_at=spec.expires_at,
                )
            )
        burned = 0
        started = time.perf_counter()
        for i, spec in enumerate(workload.burns):
            amount = spec.amount
            try:
                await consume(
                    ConsumeCreditsInput(
                        customer_id=spec.customer,
                        amount=amount,
                        policy=policy,
                        ledger=ledger,
                        clock=clock,
                        idempotency_key=f"u{i}",
                    )
                )
            except InsufficientBalanceError as refused:
                amount -= int(refused.shortfall)
                if amount > 0:
                    await consume(
                        ConsumeCreditsInput(
                            customer_id=spec.customer,
                            amount=amount,
                            policy=policy,
                            ledger=ledger,
                            clock=clock,
                            idempotency_key=f"u{i}-rest",
                        )
                    )
            burned += amount
        return time.perf_counter() - started, burned

    return asyncio.run(run())


# -- a-ledger -------------------------------------------------------------------------------


def aledger_holds(workload: Workload, directory: str) -> tuple[float, int]:
    """Seconds for the hold cycles (the funding posts are setup) and the total captured."""
    from a_ledger import Ledger
    from a_ledger.domain.journal import (
        CommandKey,
        JournalBatch,
        Post,
        PostingInput,
        SourceIdentity,
        TransactionInput,
    )
    from a_ledger.errors import ReservationConflict
    from a_ledger.schema import install
    from a_ledger.sqlite import create_sqlite_engine, write_transaction
    from sqlalchemy import event

    path = os.path.join(directory, "a_ledger.db")
    engine = create_sqlite_engine(path)

    @event.listens_for(engine, "connect")
    def _durability(dbapi: Any, _record: Any) -> None:
        dbapi.execute("PRAGMA journal_mode = WAL")
        dbapi.execute("PRAGMA synchronous = FULL")

    def post(ledger: Any, key: str, debit: str, credit: str, amount: int) -> None:
        facts = TransactionInput(
            event_code="CREDIT",
            business_date="2026-01-01",
            occurred_at="2026-01-01T00:00:00Z",
            postings=(
                PostingInput(posting_key="d", account_id=debit, amount_minor=amount),
                PostingInput(posting_key="c", account_id=credit, amount_minor=-amount),
            ),
        )
        ledger.journal.execute(
            JournalBatch(
                portfolio_id="p",
                command=CommandKey("bench", key),
                actions=(Post(item_key="1", source=SourceIdentity("bench", key), facts=facts),),
            )
        )

    with engine.connect() as conn:
        with write_transaction(conn):
            install(conn)
            ledger = Ledger(conn)
            ledger.accounts.create_portfolio("p", code="p", currency="USD")
            ledger.accounts.create_account("granted", portfolio_id="p", code="granted", category="EQUITY")
            ledger.accounts.create_account("used", portfolio_id="p", code="used", category="EXPENSE")
            for c in range(workload.customers):
                ledger.accounts.create_account(f"c{c}", portfolio_id="p", code=f"c{c}", category="ASSET")
        with write_transaction(conn):
            ledger = Ledger(conn)
            for spec in workload.grants:
                post(ledger, f"g-{spec.customer}-{spec.number}", spec.customer, "granted", spec.amount)
        captured = 0
        started = time.perf_counter()
        for spec in workload.holds:
            try:
                with write_transaction(conn):
                    reservation = Ledger(conn).reservations.reserve_amount(
                        portfolio_id="p",
                        account_id=spec.customer,
                        amount_minor=spec.amount,
                        source=SourceIdentity("bench", spec.hold_id),
                        command=CommandKey("bench", f"r-{spec.hold_id}"),
                    )
            except ReservationConflict:
                continue
            with write_transaction(conn):
                ledger = Ledger(conn)
                if spec.capture is None:
                    ledger.reservations.release(
                        portfolio_id="p",
                        reservation_id=reservation.reservation_id,
                        command=CommandKey("bench", f"s-{spec.hold_id}"),
                        reason="released",
                    )
                else:
                    ledger.reservations.consume(
                        portfolio_id="p",
                        reservation_id=reservation.reservation_id,
                        command=CommandKey("bench", f"s-{spec.hold_id}"),
                        consumed_amount_minor=spec.capture,
                    )
                    if spec.capture:
                        post(ledger, f"use-{spec.hold_id}", "used", spec.customer, spec.capture)
                    captured += spec.capture
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, captured


PEERS: dict[str, tuple[str, Callable[..., tuple[float, int]]]] = {
    "boilpayment-credits": ("boilpayment_credits", boilpayment_burns),
    "a-ledger": ("a_ledger", aledger_holds),
}

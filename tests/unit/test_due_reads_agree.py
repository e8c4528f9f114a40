"""Reads at any time agree with what a write at that time records (SPEC §20): for random
schedules (every rollover shape), top-up rules, alerts, grants, burns and holds, every read up
to a time T — balances, blocks, schedules — is the same before and after ``expire_due(at=T)``
records what fell due, on every adapter. Reads before T are then past reads, replayed with
the settings in force then."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditcore import CreditError, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
_customers = itertools.count()

schedules = st.fixed_dictionaries(
    {
        "amount": st.integers(0, 20),
        "every": st.sampled_from(["1 hour", "3 hours", "1 day", "2 days"]),
        "rollover_max": st.integers(0, 12),
        "rollover_min": st.integers(0, 12),
    },
    optional={
        "first_amount": st.integers(0, 20),
        "start_in": st.integers(0, 30),
        "until_in": st.integers(1, 120),
        "single_use": st.booleans(),
    },
)
top_ups = st.one_of(
    st.fixed_dictionaries({"threshold": st.integers(-5, 10), "amount": st.integers(1, 10)}),
    st.integers(-5, 10).flatmap(
        lambda t: st.fixed_dictionaries({"threshold": st.just(t), "target": st.integers(t + 1, t + 25)})
    ),
)
operations = st.one_of(
    st.tuples(st.just("schedule"), schedules),
    st.tuples(st.just("top_up"), top_ups),
    st.tuples(st.just("alert"), st.sampled_from(["depleted", "recovered", "dropped"])),
    st.tuples(st.just("grant"), st.tuples(st.integers(1, 30), st.none() | st.integers(1, 80))),
    st.tuples(st.just("burn"), st.tuples(st.integers(1, 30), st.sampled_from(["partial", "debt"]))),
    st.tuples(st.just("hold"), st.tuples(st.integers(1, 15), st.none() | st.integers(1, 50))),
    st.tuples(st.just("cancel"), st.just(None)),
)


def _apply(ledger: Ledger, customer: str, op: str, args: Any, at: Any, made: list[str]) -> None:
    if op == "schedule":
        fields = dict(args)
        start_in, until_in = fields.pop("start_in", None), fields.pop("until_in", None)
        start = None if start_in is None else at + start_in * HOUR
        until = None if until_in is None else (start or at) + until_in * HOUR
        sid = f"{customer}-s{len(made)}"
        ledger.schedule_grant(customer, at=at, start=start, until=until, schedule_id=sid, **fields)
        made.append(sid)
    elif op == "top_up":
        ledger.set_top_up(customer, unit="credits", at=at, **args)
    elif op == "alert":
        thresholds = (5, 0, -3) if args == "dropped" else ()
        ledger.add_alert(customer, unit="credits", kind=args, thresholds=thresholds, at=at)
    elif op == "grant":
        amount, lasts = args
        ledger.grant(customer, amount, expires_at=None if lasts is None else at + lasts * HOUR, at=at)
    elif op == "burn":
        ledger.burn(customer, args[0], overdraft=args[1], at=at)
    elif op == "hold":
        amount, lasts = args
        hold_id = f"{customer}-h{at.timestamp()}"
        ledger.hold(customer, amount, hold_id=hold_id, expires_at=None if lasts is None else at + lasts * HOUR, at=at)
    elif op == "cancel" and made:
        ledger.cancel_schedule(made[0], at=at)


def _reads(ledger: Ledger, customer: str, times: list[Any]) -> list[object]:
    return [
        (ledger.balance(customer, at=t), ledger.blocks(customer, at=t), ledger.schedules(customer, at=t)) for t in times
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.tuples(operations, st.integers(0, 20)), min_size=1, max_size=8),
    horizon=st.integers(0, 150),
)
def test_reads_up_to_a_time_agree_before_and_after_a_sweep_to_it(
    ledger: Ledger, steps: list[tuple[tuple[str, Any], int]], horizon: int
) -> None:
    customer = f"c{next(_customers)}"
    at = T0
    made: list[str] = []
    for (op, args), hours in steps:
        at += hours * HOUR
        with contextlib.suppress(CreditError):  # a refused call writes nothing; the reads still agree
            _apply(ledger, customer, op, args, at, made)
    end = at + horizon * HOUR
    times = sorted({at, at + (end - at) / 3, at + (end - at) / 2, end - timedelta(microseconds=1), end})
    before = _reads(ledger, customer, times)
    events_before = len(ledger.events(customer=customer, limit=10_000).items)
    ledger.expire_due(at=end)
    assert _reads(ledger, customer, times) == before
    assert len(ledger.events(customer=customer, limit=10_000).items) >= events_before

"""SPEC §3 atomic: the writes inside ``with ledger.atomic():`` commit together or not at all —
across customers; the first error rolls every write back and propagates, even when the code
inside caught it (README, "Choices"); a nested ``atomic()`` joins the outer one."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditcore import Conflict, InsufficientCredits, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


class Boom(Exception):
    pass


def state(ledger: Ledger) -> dict[str, Any]:
    customers = ("ada", "bob", "cy")
    return {
        "entries": ledger.entries(limit=10_000).items,
        "balances": {c: ledger.balances(c, at=T0 + 2 * DAY) for c in customers},
        "blocks": {c: ledger.blocks(c, include_inactive=True, at=T0 + 2 * DAY) for c in customers},
        "holds": {c: ledger.holds(c, status=None, at=T0 + 2 * DAY) for c in customers},
        "units": ledger.units(),
    }


def seeded(ledger: Ledger) -> str:
    ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0)
    ledger.grant("bob", 10, at=T0)
    return ledger.grant("ada", 5, at=T0).block.id


def test_writes_across_customers_commit_together(ledger: Ledger) -> None:
    block = seeded(ledger)
    with ledger.atomic():
        g = ledger.grant("cy", 7, at=T0 + DAY)
        ledger.burn("ada", 2, at=T0 + DAY)
        ledger.hold("bob", 3, hold_id="h1", at=T0 + DAY)
        ledger.void(block, 1, at=T0 + DAY)
        inside = ledger.balance("cy", at=T0 + DAY)  # reads inside see the batch
        assert inside.available == 7
    assert ledger.get_block(g.block.id).remaining == 7
    assert ledger.balance("ada").available == 2  # the 10 expired, 5 - 2 burned - 1 voided
    assert ledger.get_hold("h1").status == "active"
    assert ledger.verify().ok


def test_results_inside_a_batch_are_the_committed_entries(ledger: Ledger) -> None:
    seeded(ledger)
    with ledger.atomic():
        burn = ledger.burn("bob", 4, at=T0 + DAY)
        grant = ledger.grant("cy", 1, at=T0 + DAY)
    stored = ledger.entries(op_id=burn.op_id).items + ledger.entries(op_id=grant.op_id).items
    assert stored == burn.entries + grant.entries
    seqs = [e.seq for e in ledger.entries(limit=10_000).items]
    assert seqs == sorted(set(seqs))


def test_an_error_rolls_every_write_back_and_propagates(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        ledger.burn("bob", 4, idempotency_key="k1", at=T0 + DAY)
        ledger.hold("ada", 1, hold_id="h1", at=T0 + DAY)  # ada's expiry is recorded first
        ledger.burn("bob", 100, at=T0 + DAY)
    assert state(ledger) == before
    with pytest.raises(NotFound):
        ledger.get_hold("h1")
    # the keys of the rolled-back writes are forgotten: the same calls are fresh operations
    assert ledger.burn("bob", 4, idempotency_key="k1", at=T0 + DAY).replayed is False
    assert ledger.hold("ada", 1, hold_id="h1", at=T0 + DAY).replayed is False


def test_an_error_of_the_caller_rolls_back_too(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        ledger.burn("ada", 1, at=T0 + DAY)
        raise Boom
    assert state(ledger) == before


def test_an_error_caught_inside_still_rolls_back_at_the_end(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with contextlib.suppress(InsufficientCredits):
            ledger.burn("bob", 100, at=T0 + DAY)
        ledger.grant("bob", 1, at=T0 + DAY)  # goes on, but the batch is doomed
    assert state(ledger) == before


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda lg: lg.capture("nope"), NotFound),
        (lambda lg: lg.void(lg.blocks("bob")[0].id, 11, at=T0 + DAY), ValidationError),
        (lambda lg: lg.grant("bob", 1, idempotency_key="g-bob", at=T0 + DAY), Conflict),
    ],
    ids=["not-found", "state-validation", "key-conflict"],
)
def test_errors_of_every_kind_caught_inside_still_roll_back(ledger: Ledger, call: Any, error: type[Exception]) -> None:
    seeded(ledger)
    ledger.grant("bob", 2, idempotency_key="g-bob", at=T0)
    before = state(ledger)
    with pytest.raises(error), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with contextlib.suppress(error):
            call(ledger)
    assert state(ledger) == before


@pytest.mark.parametrize(
    "call",
    [lambda lg: lg.burn("bob", 1.5), lambda lg: lg.grant("bob", -1), lambda lg: lg.void("", 1)],
    ids=["float-amount", "negative-amount", "empty-id"],
)
def test_an_argument_error_caught_inside_still_rolls_back_at_the_end(ledger: Ledger, call: Any) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(ValidationError), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with contextlib.suppress(ValidationError):
            call(ledger)
    assert state(ledger) == before


def test_nested_atomic_joins_the_outer_one(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with ledger.atomic():
            ledger.burn("bob", 2, at=T0 + DAY)
        assert ledger.balance("bob", at=T0 + DAY).available == 8  # not committed on its own
        raise Boom
    assert state(ledger) == before


def test_an_error_in_a_nested_atomic_rolls_back_the_outer_one(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with ledger.atomic():
            ledger.burn("bob", 2, at=T0 + DAY)
            ledger.burn("bob", 100, at=T0 + DAY)
    assert state(ledger) == before


def test_an_error_caught_around_a_nested_atomic_still_rolls_back_the_outer_one(ledger: Ledger) -> None:
    seeded(ledger)
    before = state(ledger)
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        try:
            with ledger.atomic():
                ledger.burn("bob", 100, at=T0 + DAY)
        except InsufficientCredits:
            pass
    assert state(ledger) == before


def test_nested_atomic_commits_with_the_outer_one(ledger: Ledger) -> None:
    seeded(ledger)
    with ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        with ledger.atomic():
            ledger.burn("bob", 2, at=T0 + DAY)
            with ledger.atomic():
                ledger.burn("cy", 1, at=T0 + DAY)
    assert ledger.balance("bob").available == 8
    assert ledger.balance("cy").available == 6


def test_the_ledger_works_normally_after_a_rolled_back_batch(ledger: Ledger) -> None:
    seeded(ledger)
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("cy", 7, at=T0 + DAY)
        raise Boom
    r = ledger.grant("cy", 3, at=T0 + DAY)
    assert [e.kind for e in r.entries] == ["grant"]
    with ledger.atomic():
        ledger.burn("cy", 1, at=T0 + DAY)
    assert ledger.balance("cy").available == 2
    assert ledger.verify().ok
    seqs = [e.seq for e in ledger.entries(limit=10_000).items]
    assert seqs == sorted(set(seqs))


def test_a_batch_of_many_writes_for_a_bulk_load(ledger: Ledger) -> None:
    with ledger.atomic():
        for i in range(200):
            ledger.grant(f"c{i % 20}", 1 + i % 7, at=T0)
            ledger.burn(f"c{i % 20}", 1, at=T0)
    total = sum(ledger.balance(f"c{i}").available for i in range(20))
    assert total == sum(1 + i % 7 for i in range(200)) - 200
    assert len(ledger.entries(limit=10_000).items) == 400
    assert ledger.verify().ok


def test_lazy_entries_recorded_in_a_rolled_back_batch_are_undone(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0).block.id
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 1, at=T0 + DAY)  # records the expiry first
        raise Boom
    assert ledger.entries("ada", kinds={"expire"}).items == ()
    assert ledger.get_block(block, at=T0 + DAY).status == "expired"  # still counted by reads
    assert ledger.expire_due(at=T0 + DAY)[0].amount == Decimal(10)

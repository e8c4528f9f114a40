"""The contract's writes: every operation stores what it returned and reads back the same,
and a repeated key replays the first result without writing again."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest

from creditcore.errors import (
    Conflict,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    ValidationError,
)
from creditcore.ledger import Ledger
from creditcore.model import Result
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import DAY, HOUR, START, D, ManualClock, snapshot


class WriteContract(ContractBase):
    """Grants, burns, debt, holds, voids, reversals, expiry changes and sweeps round-trip
    through the store; keyed calls replay or conflict."""

    def test_a_grant_is_stored_with_every_attribute(self, ledger: Ledger, clock: ManualClock) -> None:
        result = ledger.grant(
            "ada",
            "12.34",
            unit="usd",
            expires_at=START + 3 * DAY,
            priority=7,
            category="paid",
            cost_basis="0.125",
            scope={"trip", "food"},
            description="top-up ✓",
            metadata={"plan": "pro", "order": "42"},
        )
        block = ledger.get_block(result.block.id)
        assert block == result.block
        assert (block.amount, block.remaining, block.available) == (Decimal("12.34"),) * 3
        assert (block.priority, block.category, block.cost_basis) == (7, "paid", Decimal("0.125"))
        assert block.scope == frozenset({"trip", "food"})
        assert (block.effective_at, block.expires_at, block.created_at) == (START, START + 3 * DAY, START)
        assert (block.description, block.metadata) == ("top-up ✓", {"plan": "pro", "order": "42"})
        assert ledger.blocks("ada", unit="usd") == [block]
        assert [(e.kind, e.amount, e.block_id) for e in result.entries] == [("grant", Decimal("12.34"), block.id)]
        assert ledger.balance("ada", unit="usd").available == Decimal("12.34")

    def test_an_upcoming_grant_becomes_available_at_its_effective_time(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        block = ledger.grant("ada", 10, effective_at=START + HOUR).block
        assert block.status == "upcoming"
        assert ledger.balance("ada").upcoming == 10
        clock.advance(HOUR)
        assert ledger.balance("ada").available == 10
        assert ledger.get_block(block.id).status == "active"

    def test_a_burn_draws_blocks_in_burn_order(self, ledger: Ledger) -> None:
        late = ledger.grant("ada", 10, priority=90).block
        early = ledger.grant("ada", 5, priority=10).block
        result = ledger.burn("ada", 8, description="job", metadata={"job": "1"})
        assert (result.burned, result.shortfall, result.debt) == (D(8), D(0), D(0))
        assert [(e.block_id, e.amount) for e in result.entries] == [(early.id, D(5)), (late.id, D(3))]
        assert [e.metadata for e in result.entries] == [{"job": "1"}] * 2
        assert ledger.get_block(early.id).status == "depleted"
        assert ledger.get_block(late.id).remaining == 7
        balance = ledger.balance("ada")
        assert (balance.available, balance.used, balance.granted) == (D(7), D(8), D(15))

    def test_a_burn_beyond_the_credit_is_refused_and_writes_nothing(self, ledger: Ledger) -> None:
        ledger.grant("ada", 3)
        before = snapshot(ledger)
        with pytest.raises(InsufficientCredits):
            ledger.burn("ada", 4, idempotency_key="k")
        assert snapshot(ledger) == before
        assert ledger.burn("ada", 3, idempotency_key="k").burned == 3  # the key was not recorded

    def test_debt_is_recorded_and_settled_by_the_next_grant(self, ledger: Ledger) -> None:
        ledger.grant("ada", 2)
        result = ledger.burn("ada", 5, overdraft="debt")
        assert (result.burned, result.debt) == (D(2), D(3))
        assert ledger.balance("ada").debt == 3
        grant = ledger.grant("ada", 10)
        assert [e.kind for e in grant.entries] == ["grant", "settle"]
        assert grant.block.remaining == 7
        assert (ledger.balance("ada").debt, ledger.balance("ada").available) == (D(0), D(7))

    def test_a_hold_pins_credit_until_it_is_captured(self, ledger: Ledger, clock: ManualClock) -> None:
        block = ledger.grant("ada", 10).block
        held = ledger.hold("ada", 6, hold_id="job-1", description="render", metadata={"job": "1"})
        assert held.hold.allocations == ((block.id, Decimal(6)),)
        assert ledger.get_hold("job-1") == held.hold
        assert (ledger.balance("ada").available, ledger.balance("ada").held) == (D(4), D(6))
        clock.advance(HOUR)
        captured = ledger.capture("job-1", 4)
        assert (captured.captured, captured.released) == (D(4), D(2))
        stored = ledger.get_hold("job-1")
        assert (stored.status, stored.captured, stored.settled_at) == ("captured", D(4), START + HOUR)
        assert ledger.holds("ada") == []
        assert [h.id for h in ledger.holds("ada", status="captured")] == ["job-1"]
        balance = ledger.balance("ada")
        assert (balance.available, balance.held, balance.used) == (D(6), D(0), D(4))

    def test_a_released_hold_gives_its_credit_back(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10)
        ledger.hold("ada", 6, hold_id="job-1")
        assert ledger.release("job-1").released == 6
        assert ledger.get_hold("job-1").status == "released"
        assert ledger.balance("ada").available == 10
        with pytest.raises(HoldNotActive):
            ledger.capture("job-1")

    def test_a_hold_times_out_at_its_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 10)
        ledger.hold("ada", 6, hold_id="job-1", expires_at=START + HOUR)
        clock.advance(2 * HOUR)
        assert ledger.get_hold("job-1").status == "expired"
        assert ledger.balance("ada").available == 10
        ledger.burn("ada", 1)  # a write records the timeout
        assert [e.kind for e in ledger.entries(kinds=["release"]).items] == ["release"]
        with pytest.raises(HoldNotActive):
            ledger.release("job-1")

    def test_a_void_removes_unheld_credit(self, ledger: Ledger) -> None:
        block = ledger.grant("ada", 10).block
        ledger.hold("ada", 3, hold_id="h")
        assert ledger.void(block.id, 2, reason="refund").voided == 2
        assert ledger.void(block.id).voided == 5
        assert ledger.balance("ada").voided == 7
        with pytest.raises(Conflict):
            ledger.void(block.id)

    def test_a_reversal_gives_credit_back_to_the_blocks_it_came_from(self, ledger: Ledger) -> None:
        first = ledger.grant("ada", 5, priority=10).block
        second = ledger.grant("ada", 5, priority=20).block
        burn = ledger.burn("ada", 8)
        part = ledger.reverse(burn.op_id, 2)
        assert part.reversed == 2
        assert [(e.block_id, e.amount) for e in part.entries] == [(second.id, D(2))]
        rest = ledger.reverse(burn.op_id)
        assert [(e.block_id, e.amount) for e in rest.entries] == [(second.id, D(1)), (first.id, D(5))]
        assert ledger.balance("ada").available == 10
        with pytest.raises(ValidationError):
            ledger.reverse(burn.op_id, 1)
        with pytest.raises(NotFound):
            ledger.reverse("op_unknown")

    def test_change_expiry_moves_credit_into_a_new_block(self, ledger: Ledger) -> None:
        old = ledger.grant("ada", 10, expires_at=START + DAY, scope={"trip"}).block
        result = ledger.change_expiry(old.id, START + 5 * DAY, amount=4)
        moved = ledger.get_block(result.block.id)
        assert moved == result.block
        assert (moved.amount, moved.expires_at, moved.scope) == (D(4), START + 5 * DAY, frozenset({"trip"}))
        assert [e.kind for e in result.entries] == ["move_out", "move_in"]
        assert ledger.get_block(old.id).remaining == 6
        assert ledger.balance("ada").granted == 10

    def test_expire_due_records_every_due_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 10, expires_at=START + HOUR)
        ledger.grant("bob", 4, expires_at=START + 2 * HOUR)
        ledger.grant("cy", 1)
        clock.advance(3 * HOUR)
        written = ledger.expire_due()
        assert sorted((e.customer, e.kind, e.amount, e.at) for e in written) == [
            ("ada", "expire", D(10), START + HOUR),
            ("bob", "expire", D(4), START + 2 * HOUR),
        ]
        assert ledger.expire_due() == []
        assert ledger.balance("ada").expired == 10

    # -- idempotency -------------------------------------------------------------------------

    def test_a_repeated_key_replays_the_original_result(self, ledger: Ledger, clock: ManualClock) -> None:
        calls: list[Callable[[], Result]] = [
            lambda: ledger.grant("ada", "10.50", unit="usd", scope={"a"}, cost_basis="0.2", idempotency_key="g"),
            lambda: ledger.grant("ada", 10, metadata={"m": "1"}, idempotency_key="g2"),
            lambda: ledger.burn("ada", 3, idempotency_key="b"),
        ]
        firsts = [call() for call in calls]
        block_id = firsts[1].block.id  # type: ignore[attr-defined]
        calls += [
            lambda: ledger.void(block_id, 1, idempotency_key="v"),
            lambda: ledger.reverse(firsts[2].op_id, 1, idempotency_key="r"),
            lambda: ledger.change_expiry(block_id, START + DAY, idempotency_key="c"),
        ]
        firsts += [call() for call in calls[3:]]
        before = snapshot(ledger)
        clock.advance(HOUR)
        for call, first in zip(calls, firsts, strict=True):
            again = call()
            assert again.replayed
            assert attrs.evolve(again, replayed=False) == first
        assert snapshot(ledger) == before

    def test_a_repeated_hold_capture_and_release_replay(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10)
        held = ledger.hold("ada", 4, hold_id="h1")
        ledger.hold("ada", 2, hold_id="h2")
        captured = ledger.capture("h1", 3)
        released = ledger.release("h2")
        before = snapshot(ledger)
        assert ledger.hold("ada", 4, hold_id="h1") == attrs.evolve(held, replayed=True)
        assert ledger.capture("h1", 3) == attrs.evolve(captured, replayed=True)
        assert ledger.release("h2") == attrs.evolve(released, replayed=True)
        assert snapshot(ledger) == before

    def test_a_key_reused_with_other_arguments_conflicts(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10, idempotency_key="k")
        before = snapshot(ledger)
        with pytest.raises(IdempotencyConflict) as raised:
            ledger.grant("ada", 11, idempotency_key="k")
        assert raised.value.field == "amount"
        with pytest.raises(IdempotencyConflict):
            ledger.burn("ada", 1, idempotency_key="k")
        assert snapshot(ledger) == before

"""SPEC §9: the pure core — rules over frozen attrs values with integer minor units — used
directly, without a Ledger or a repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from creditcore import BurnOrder, HoldNotActive, InsufficientCredits, NotFound, ValidationError, rules
from creditcore.state import AccountState, Burn, Capture, Grant, PlaceHold, Release, Tally

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


def empty() -> AccountState:
    return AccountState(customer="ada")


def granted(*grants: Grant, at: datetime = T0) -> AccountState:
    state = empty()
    for command in grants:
        state, _ = rules.grant(state, command, at)
    return state


def g(block_id: str, amount: int, **options: object) -> Grant:
    return Grant(op_id=f"op-{block_id}", block_id=block_id, unit="usd", amount=amount, **options)  # type: ignore[arg-type]


def test_grant_then_burn_in_minor_units() -> None:
    state, entries = rules.grant(empty(), g("b1", 1050), T0)
    assert [(e.kind, e.block_id, e.amount, e.available_after, e.seq) for e in entries] == [
        ("grant", "b1", 1050, 1050, 0)
    ]
    state, entries = rules.burn(state, Burn(op_id="op2", unit="usd", amount=275), T0)
    assert [(e.kind, e.block_id, e.amount, e.available_after) for e in entries] == [("burn", "b1", 275, 775)]
    assert rules.tally(state, "usd", T0) == Tally(available=775, unscoped_available=775, granted=1050, used=275)
    assert state.blocks["b1"].remaining == 775
    assert state.last_at == T0


def test_rules_never_change_the_state_they_are_given() -> None:
    before = granted(g("b1", 100))
    snapshot = attrs.asdict(before)
    after, _ = rules.burn(before, Burn(op_id="op2", unit="usd", amount=40), T0 + DAY)
    assert attrs.asdict(before) == snapshot
    assert before.blocks["b1"].remaining == 100
    assert after.blocks["b1"].remaining == 60
    assert after is not before


def test_state_values_are_frozen() -> None:
    state = granted(g("b1", 100))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.last_at = T0 + DAY  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.blocks["b1"].remaining = 5  # type: ignore[misc]


def test_a_rule_that_raises_leaves_the_state_usable_and_unchanged() -> None:
    state = granted(g("b1", 100, expires_at=T0 + DAY))
    snapshot = attrs.asdict(state)
    with pytest.raises(InsufficientCredits) as caught:
        rules.burn(state, Burn(op_id="op2", unit="usd", amount=101), T0, scale=2)
    assert (caught.value.requested, caught.value.available) == (Decimal("1.01"), Decimal("1.00"))
    assert attrs.asdict(state) == snapshot
    _, entries = rules.burn(state, Burn(op_id="op3", unit="usd", amount=100), T0)
    assert [e.amount for e in entries] == [100]


def test_rules_refuse_a_time_before_the_last_entry() -> None:
    state = granted(g("b1", 100), at=T0 + DAY)
    with pytest.raises(ValidationError) as caught:
        rules.burn(state, Burn(op_id="op2", unit="usd", amount=1), T0)
    assert caught.value.field == "at"


def test_burn_overdraft_modes_in_the_core() -> None:
    state = granted(g("b1", 5))
    _, partial = rules.burn(state, Burn(op_id="p", unit="usd", amount=8, overdraft="partial"), T0)
    assert [(e.kind, e.amount) for e in partial] == [("burn", 5)]
    after, debt = rules.burn(state, Burn(op_id="d", unit="usd", amount=8, overdraft="debt"), T0)
    assert [(e.kind, e.amount) for e in debt] == [("burn", 5), ("debt", 3)]
    assert rules.tally(after, "usd", T0).debt == 3
    with pytest.raises(InsufficientCredits):
        rules.burn(state, Burn(op_id="x", unit="usd", amount=8, overdraft="debt", debt_limit=2), T0)


def test_grant_settles_debt_in_the_core() -> None:
    state, _ = rules.burn(empty(), Burn(op_id="d", unit="usd", amount=30, overdraft="debt"), T0)
    state, entries = rules.grant(state, g("b1", 100), T0)
    assert [(e.kind, e.amount) for e in entries] == [("grant", 100), ("settle", 30)]
    assert rules.tally(state, "usd", T0) == Tally(available=70, unscoped_available=70, granted=100, used=30, debt=0)


def test_hold_capture_release_in_the_core() -> None:
    state = granted(g("a", 30, priority=1), g("b", 100, priority=2))
    state, entries = rules.hold(state, PlaceHold(op_id="h", hold_id="h1", unit="usd", amount=50), T0)
    assert state.holds["h1"].allocations == (("a", 30), ("b", 20))
    assert [(e.kind, e.block_id, e.amount) for e in entries] == [("hold", "a", 30), ("hold", "b", 20)]
    assert rules.tally(state, "usd", T0) == Tally(available=80, unscoped_available=80, held=50, granted=130)
    captured, entries = rules.capture(state, Capture(op_id="c", hold_id="h1", amount=35), T0)
    assert [(e.kind, e.block_id, e.amount) for e in entries] == [
        ("capture", "a", 30),
        ("capture", "b", 5),
        ("release", "b", 15),
    ]
    assert captured.holds["h1"].status == "captured"
    assert rules.tally(captured, "usd", T0) == Tally(available=95, unscoped_available=95, granted=130, used=35)
    released, entries = rules.release(state, Release(op_id="r", hold_id="h1"), T0)
    assert [(e.kind, e.amount) for e in entries] == [("release", 30), ("release", 20)]
    assert released.holds["h1"].status == "released"
    with pytest.raises(HoldNotActive):
        rules.capture(released, Capture(op_id="c2", hold_id="h1"), T0)
    with pytest.raises(NotFound):
        rules.release(state, Release(op_id="r2", hold_id="nope"), T0)


def test_hold_in_the_core_is_all_or_nothing() -> None:
    state = granted(g("a", 30))
    with pytest.raises(InsufficientCredits):
        rules.hold(state, PlaceHold(op_id="h", hold_id="h1", unit="usd", amount=31), T0)


def test_advance_records_what_fell_due_in_time_order() -> None:
    state = granted(g("a", 30, expires_at=T0 + 2 * DAY), g("b", 10))
    state, _ = rules.hold(state, PlaceHold(op_id="h", hold_id="h1", unit="usd", amount=35, expires_at=T0 + DAY), T0)
    after, entries = rules.advance(state, T0 + 3 * DAY)
    assert [(e.kind, e.block_id, e.amount, e.at) for e in entries] == [
        ("release", "a", 30, T0 + DAY),
        ("release", "b", 5, T0 + DAY),
        ("expire", "a", 30, T0 + 2 * DAY),
    ]
    assert after.holds["h1"].status == "expired"
    assert rules.tally(after, "usd", T0 + 3 * DAY) == Tally(available=10, unscoped_available=10, granted=40, expired=30)
    assert rules.next_due(state) == T0 + DAY
    assert rules.next_due(after) is None


def test_view_counts_what_fell_due_and_refuses_the_past() -> None:
    state = granted(g("a", 30, expires_at=T0 + DAY))
    assert rules.tally(rules.view(state, T0 + DAY - US), "usd", T0 + DAY - US).available == 30
    assert rules.tally(rules.view(state, T0 + DAY), "usd", T0 + DAY) == Tally(granted=30, expired=30)
    with pytest.raises(ValueError):
        rules.view(state, T0 - US)


def test_upcoming_block_in_the_core() -> None:
    state = granted(g("a", 30, effective_at=T0 + DAY))
    assert rules.tally(state, "usd", T0) == Tally(granted=30, upcoming=30)
    with pytest.raises(InsufficientCredits):
        rules.burn(state, Burn(op_id="x", unit="usd", amount=1), T0 + DAY - US)
    _, entries = rules.burn(state, Burn(op_id="x", unit="usd", amount=1), T0 + DAY)
    assert [(e.block_id, e.amount) for e in entries] == [("a", 1)]


def test_scoped_credit_in_the_core() -> None:
    state = granted(g("open", 10), g("trip", 10, scope=frozenset({"trip"})))
    with pytest.raises(InsufficientCredits):
        rules.burn(state, Burn(op_id="x", unit="usd", amount=11), T0)
    _, entries = rules.burn(state, Burn(op_id="y", unit="usd", amount=11, scope="trip"), T0)
    assert [(e.block_id, e.amount) for e in entries] == [("trip", 10), ("open", 1)]
    assert rules.tally(state, "usd", T0, scope="food").available == 10
    assert rules.tally(state, "usd", T0).available == 20
    # the part a burn without a scope can use, with or without a scope asked for
    assert rules.tally(state, "usd", T0).unscoped_available == 10
    assert rules.tally(state, "usd", T0, scope="trip").unscoped_available == 10


def test_preview_and_plan_draw_follow_the_given_order() -> None:
    state = granted(g("late", 10, priority=9), g("early", 10, priority=1, effective_at=T0 + DAY), at=T0)
    assert rules.preview_burn(state, "usd", 15, T0 + DAY) == ((("early", 10), ("late", 5)), 0)
    fifo = rules.preview_burn(state, "usd", 15, T0 + DAY, order=BurnOrder.fifo())
    assert fifo == ((("late", 10), ("early", 5)), 0)
    plan, shortfall = rules.plan_draw(state.blocks.values(), "usd", None, 25, T0 + DAY)
    assert [(b.id, take) for b, take in plan] == [("early", 10), ("late", 10)]
    assert shortfall == 5
    assert rules.preview_burn(state, "usd", 15, T0) == ((("late", 10),), 5)


def test_burn_order_sorts_block_states() -> None:
    state = granted(g("c", 1, priority=3), g("a", 1, priority=1), g("b", 1, priority=2))
    assert [b.id for b in BurnOrder.default().sort(state.blocks.values())] == ["a", "b", "c"]
    assert [b.id for b in BurnOrder.fifo().sort(state.blocks.values())] == ["c", "a", "b"]


def test_rebuild_from_entries_reproduces_the_state() -> None:
    state = empty()
    entries = []
    for step in (
        lambda s: rules.grant(s, g("a", 30, expires_at=T0 + 2 * DAY), T0),
        lambda s: rules.grant(s, g("b", 50), T0),
        lambda s: rules.burn(s, Burn(op_id="u", unit="usd", amount=20), T0 + DAY),
        lambda s: rules.hold(s, PlaceHold(op_id="h", hold_id="h1", unit="usd", amount=15), T0 + DAY),
        lambda s: rules.burn(s, Burn(op_id="v", unit="usd", amount=1), T0 + 3 * DAY),
    ):
        state, new = step(state)
        entries.extend(attrs.evolve(e, seq=len(entries) + i) for i, e in enumerate(new, start=1))
    rebuilt = rules.rebuild("ada", state.blocks.values(), state.holds.values(), entries)
    for unit in ("usd",):
        assert rules.tally(rebuilt, unit, T0 + 3 * DAY) == rules.tally(state, unit, T0 + 3 * DAY)
    assert {k: (b.remaining, b.held) for k, b in rebuilt.blocks.items()} == {
        k: (b.remaining, b.held) for k, b in state.blocks.items()
    }
    assert rebuilt.last_at == state.last_at
    # rebuilt at a past instant: what was true then
    past = rules.rebuild("ada", state.blocks.values(), state.holds.values(), entries, until=T0)
    assert rules.tally(past, "usd", T0) == Tally(available=80, unscoped_available=80, granted=80)
    assert dict(past.holds) == {}


def test_grant_validation_in_the_core() -> None:
    with pytest.raises(ValidationError) as caught:
        rules.grant(empty(), g("a", 1, expires_at=T0), T0)
    assert caught.value.field == "expires_at"
    state = granted(g("a", 1))
    with pytest.raises(ValidationError):
        rules.grant(state, g("a", 1), T0)  # the block id exists already

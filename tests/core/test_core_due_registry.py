"""The one registry of due events: its same-instant order, and next_due over every kind."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

from creditcore.core import due, rules
from creditcore.core.commands import Burn, Grant, PlaceHold
from creditcore.core.state import AccountState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)


def test_the_registry_lists_the_same_instant_order_of_spec_20() -> None:
    assert [kind.name for kind in due.REGISTRY] == [
        "schedule carry", "expiry", "hold timeout", "settlement", "schedule period",
    ]  # fmt: skip


def test_at_one_instant_an_expiry_comes_first_then_a_hold_timeout_then_a_settlement() -> None:
    s = AccountState(customer="ada")
    gpu = frozenset({"gpu"})
    s, _ = rules.grant(s, Grant(op_id="g1", block_id="expiring", unit="credits", amount=5, expires_at=T, scope=gpu), T0)
    s, _ = rules.grant(s, Grant(op_id="g2", block_id="pinned", unit="credits", amount=2, priority=0), T0)
    s, _ = rules.hold(s, PlaceHold(op_id="o1", hold_id="h", unit="credits", amount=2, expires_at=T), T0)
    s, _ = rules.burn(s, Burn(op_id="o2", unit="credits", amount=3, overdraft="debt"), T0)
    s, _ = rules.grant(s, Grant(op_id="g3", block_id="later", unit="credits", amount=6, effective_at=T), T0)
    assert rules.next_due(s) == T

    step = rules.advance(s, T)

    assert [(e.kind, e.op_id, e.amount) for e in step.entries] == [
        ("expire", "expire:expiring", 5),
        ("release", "timeout:h", 2),
        ("settle", "settle:later", 3),
    ]
    assert [d.ops for d in step.due] == [("expire:expiring", "timeout:h", "settle:later")]
    assert step.outcome.steps == 1
    change = step.due[0].change["credits"]
    assert (change.available_before, change.available_after, change.debt_before, change.debt_after) == (11, 5, 3, 0)


def test_a_hold_timing_out_as_its_block_expires_gives_back_credit_that_expires_at_once() -> None:
    s = AccountState(customer="ada")
    s, _ = rules.grant(s, Grant(op_id="g1", block_id="b", unit="credits", amount=5, expires_at=T), T0)
    s, _ = rules.grant(s, Grant(op_id="g2", block_id="later", unit="credits", amount=3, effective_at=T), T0)
    s, _ = rules.hold(s, PlaceHold(op_id="o1", hold_id="h", unit="credits", amount=2, expires_at=T), T0)
    s, _ = rules.burn(s, Burn(op_id="o2", unit="credits", amount=4, overdraft="debt"), T0)

    step = rules.advance(s, T)

    assert [(e.kind, e.op_id, e.amount) for e in step.entries] == [
        ("release", "timeout:h", 2),
        ("expire", "timeout:h", 2),
        ("settle", "settle:later", 1),
    ]
    (instant,) = step.due
    change = instant.change["credits"]
    assert (change.available_before, change.available_after, change.debt_before, change.debt_after) == (3, 2, 1, 0)


def test_next_due_is_the_earliest_of_every_kind() -> None:
    s = AccountState(customer="ada")
    s, _ = rules.grant(
        s, Grant(op_id="g1", block_id="b", unit="credits", amount=5, expires_at=T + timedelta(hours=2)), T0
    )
    assert rules.next_due(s) == T + timedelta(hours=2)
    s, _ = rules.hold(
        s, PlaceHold(op_id="o", hold_id="h", unit="credits", amount=1, expires_at=T + timedelta(hours=1)), T0
    )
    assert rules.next_due(s) == T + timedelta(hours=1)
    s, _ = rules.burn(s, Burn(op_id="o2", unit="credits", amount=10, overdraft="debt"), T0)
    s, _ = rules.grant(s, Grant(op_id="g2", block_id="up", unit="credits", amount=1, effective_at=T), T0)
    assert rules.next_due(s) == T


def test_a_transition_unpacks_as_state_and_entries_and_survives_a_pickle() -> None:
    s = AccountState(customer="ada")
    step = rules.grant(s, Grant(op_id="g1", block_id="b", unit="credits", amount=5), T0)
    state, entries = step
    assert (state, entries) == step and len(step) == 2
    copy = pickle.loads(pickle.dumps(step))
    assert (copy.outcome, copy.change, copy.due) == (step.outcome, step.change, step.due)
    assert tuple(copy) == tuple(step)

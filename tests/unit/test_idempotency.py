"""SPEC §6 idempotency: replays, conflicts naming the first differing field, key kinds and
namespaces, failed calls recording nothing, and ``at`` never compared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditcore import Conflict, IdempotencyConflict, InsufficientCredits, Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_grant_replay_returns_the_original_result_and_writes_nothing(
    ledger: Ledger, snapshot: Callable[[], object]
) -> None:
    first = ledger.grant("ada", 10, idempotency_key="g1", at=T0)
    before = snapshot()
    again = ledger.grant("ada", 10, idempotency_key="g1", at=T0)
    assert again.replayed is True
    assert first.replayed is False
    assert (again.op_id, again.entries, again.block) == (first.op_id, first.entries, first.block)
    assert snapshot() == before
    assert ledger.balance("ada").granted == Decimal(10)
    assert len(ledger.blocks("ada")) == 1


def test_burn_replay_returns_the_original_result_and_writes_nothing(
    ledger: Ledger, snapshot: Callable[[], object]
) -> None:
    ledger.grant("ada", 10, at=T0)
    first = ledger.burn("ada", 4, idempotency_key="b1", at=T0)
    before = snapshot()
    again = ledger.burn("ada", 4, idempotency_key="b1", at=T0)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.burned, again.shortfall, again.debt) == (
        first.op_id, first.entries, Decimal(4), Decimal(0), Decimal(0),
    )  # fmt: skip
    assert snapshot() == before
    assert ledger.balance("ada").available == Decimal(6)


def test_replay_ignores_at_even_before_the_last_entry(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    first = ledger.burn("ada", 4, idempotency_key="b1", at=T0 + DAY)
    ledger.grant("ada", 1, at=T0 + 5 * DAY)
    for at in (T0 + 9 * DAY, T0, None):
        again = ledger.burn("ada", 4, idempotency_key="b1", at=at)
        assert (again.replayed, again.op_id) == (True, first.op_id)


def test_replay_of_a_call_that_would_now_fail_still_replays(ledger: Ledger) -> None:
    ledger.grant("ada", 4, at=T0)
    first = ledger.burn("ada", 4, idempotency_key="b1", at=T0)
    assert ledger.balance("ada").available == Decimal(0)
    again = ledger.burn("ada", 4, idempotency_key="b1", at=T0)
    assert (again.replayed, again.burned, again.op_id) == (True, Decimal(4), first.op_id)


def test_replay_records_no_expiry_that_fell_due(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, idempotency_key="g1", at=T0)
    before = snapshot()
    assert ledger.grant("ada", 10, expires_at=T0 + DAY, idempotency_key="g1", at=T0 + 2 * DAY).replayed
    assert snapshot() == before


def test_equal_amounts_written_differently_replay(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    ledger.grant("ada", "1.5", unit="usd", cost_basis="0.10", idempotency_key="g1", at=T0)
    for amount, basis in ((Decimal("1.50"), "0.1"), ("1.500", Decimal("0.100"))):
        again = ledger.grant("ada", amount, unit="usd", cost_basis=basis, idempotency_key="g1", at=T0)
        assert again.replayed is True
    ledger.grant("ada", 10, idempotency_key="g2", at=T0)
    assert ledger.grant("ada", Decimal("10.0"), idempotency_key="g2", at=T0).replayed is True


def test_scope_and_metadata_order_do_not_matter_for_a_replay(ledger: Ledger) -> None:
    ledger.grant("ada", 1, scope={"a", "b"}, metadata={"x": "1", "y": "2"}, idempotency_key="g1", at=T0)
    again = ledger.grant("ada", 1, scope=["b", "a"], metadata={"y": "2", "x": "1"}, idempotency_key="g1", at=T0)
    assert again.replayed is True


GRANT_BASE: dict[str, Any] = {"customer": "ada", "amount": 10}
GRANT_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("customer", {"customer": "bob"}),
    ("amount", {"amount": 11}),
    ("unit", {"unit": "usd", "amount": "10.00"}),
    ("effective_at", {"effective_at": T0 - DAY}),
    ("expires_at", {"expires_at": T0 + DAY}),
    ("priority", {"priority": 1}),
    ("category", {"category": "paid"}),
    ("cost_basis", {"cost_basis": "0.5"}),
    ("scope", {"scope": {"trip"}}),
    ("description", {"description": "other"}),
    ("metadata", {"metadata": {"k": "v"}}),
    ("settle_debt", {"settle_debt": False}),
]


@pytest.mark.parametrize(("field", "change"), GRANT_CHANGES, ids=[f for f, _ in GRANT_CHANGES])
def test_grant_with_a_different_argument_raises_conflict_naming_it(
    ledger: Ledger, snapshot: Callable[[], object], field: str, change: dict[str, Any]
) -> None:
    ledger.define_unit("usd", 2)
    ledger.grant(**GRANT_BASE, idempotency_key="k", at=T0)
    before = snapshot()
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.grant(**{**GRANT_BASE, **change}, idempotency_key="k", at=T0)
    assert caught.value.field == field
    assert isinstance(caught.value, Conflict)
    assert snapshot() == before


def test_conflict_names_the_first_differing_field(ledger: Ledger) -> None:
    ledger.grant("ada", 10, priority=5, description="a", idempotency_key="k", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.grant("ada", 10, priority=6, description="b", idempotency_key="k", at=T0)
    assert caught.value.field == "priority"
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.grant("bob", 11, priority=6, idempotency_key="k", at=T0)
    assert caught.value.field == "customer"


BURN_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("customer", {"customer": "bob"}),
    ("amount", {"amount": 3}),
    ("scope", {"scope": "trip"}),
    ("overdraft", {"overdraft": "partial"}),
    ("description", {"description": "x"}),
    ("metadata", {"metadata": {"k": "v"}}),
]


@pytest.mark.parametrize(("field", "change"), BURN_CHANGES, ids=[f for f, _ in BURN_CHANGES])
def test_burn_with_a_different_argument_raises_conflict_naming_it(
    ledger: Ledger, field: str, change: dict[str, Any]
) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("bob", 10, at=T0)
    base: dict[str, Any] = {"customer": "ada", "amount": 2}
    ledger.burn(**base, idempotency_key="k", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.burn(**{**base, **change}, idempotency_key="k", at=T0)
    assert caught.value.field == field
    assert ledger.balance("ada").used == Decimal(2)
    assert ledger.balance("bob").used == Decimal(0)


def test_a_key_used_by_another_kind_of_operation_is_a_conflict(ledger: Ledger) -> None:
    ledger.grant("ada", 10, idempotency_key="k", at=T0)
    entries = ledger.entries().items
    with pytest.raises(IdempotencyConflict):
        ledger.burn("ada", 10, idempotency_key="k", at=T0)
    assert ledger.entries().items == entries
    assert ledger.balance("ada").available == Decimal(10)


def test_keys_are_unique_per_ledger_not_per_customer(ledger: Ledger) -> None:
    ledger.grant("ada", 10, idempotency_key="k", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.grant("bob", 10, idempotency_key="k", at=T0)
    assert caught.value.field == "customer"
    assert ledger.balance("bob").granted == Decimal(0)


def test_a_failed_burn_records_no_key_so_a_corrected_retry_succeeds(ledger: Ledger) -> None:
    ledger.grant("ada", 3, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 5, idempotency_key="b1", at=T0)
    ledger.grant("ada", 3, at=T0)
    result = ledger.burn("ada", 5, idempotency_key="b1", at=T0)
    assert (result.replayed, result.burned) == (False, Decimal(5))
    # and a retry with other arguments after a failure is not a conflict either
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 5, idempotency_key="b2", at=T0)
    assert ledger.burn("ada", 1, idempotency_key="b2", at=T0).burned == Decimal(1)


def test_a_grant_refused_for_its_arguments_records_no_key(ledger: Ledger) -> None:
    with pytest.raises(ValidationError):
        ledger.grant("ada", 10, expires_at=T0, idempotency_key="g1", at=T0)
    result = ledger.grant("ada", 10, expires_at=T0 + DAY, idempotency_key="g1", at=T0)
    assert result.replayed is False
    assert ledger.balance("ada").available == Decimal(10)


def test_a_write_refused_for_its_time_records_no_key(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    with pytest.raises(ValidationError) as caught:
        ledger.burn("ada", 1, idempotency_key="b1", at=T0)
    assert caught.value.field == "at"
    assert ledger.burn("ada", 1, idempotency_key="b1", at=T0 + DAY).replayed is False


def test_key_is_checked_before_time_order_and_state(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.burn("ada", 10, idempotency_key="b1", at=T0)
    ledger.grant("ada", 1, at=T0 + DAY)
    # a different call with a known key conflicts, even though its time and the state would refuse it too
    with pytest.raises(IdempotencyConflict):
        ledger.burn("ada", 50, idempotency_key="b1", at=T0)


def test_arguments_are_checked_before_the_key(ledger: Ledger) -> None:
    ledger.grant("ada", 10, idempotency_key="g1", at=T0)
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 0, idempotency_key="g1", at=T0)
    assert caught.value.field == "amount"


# -- hold ids --------------------------------------------------------------------------------------


def test_the_same_hold_id_and_arguments_replay_the_hold(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 10, at=T0)
    first = ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + DAY, at=T0)
    before = snapshot()
    again = ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + DAY, at=T0)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.hold) == (first.op_id, first.entries, first.hold)
    assert snapshot() == before
    assert ledger.balance("ada").held == Decimal(4)


def test_a_hold_replays_even_after_it_ended(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    first = ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.capture("h1", at=T0)
    again = ledger.hold("ada", 4, hold_id="h1", at=T0 + DAY)
    assert (again.replayed, again.op_id) == (True, first.op_id)
    assert ledger.balance("ada").used == Decimal(4)


HOLD_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("customer", {"customer": "bob"}),
    ("amount", {"amount": 5}),
    ("scope", {"scope": "trip"}),
    ("expires_at", {"expires_at": T0 + DAY}),
    ("description", {"description": "x"}),
    ("metadata", {"metadata": {"k": "v"}}),
]


@pytest.mark.parametrize(("field", "change"), HOLD_CHANGES, ids=[f for f, _ in HOLD_CHANGES])
def test_the_same_hold_id_with_other_arguments_raises_conflict(
    ledger: Ledger, field: str, change: dict[str, Any]
) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("bob", 10, at=T0)
    base: dict[str, Any] = {"customer": "ada", "amount": 4}
    ledger.hold(**base, hold_id="h1", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.hold(**{**base, **change}, hold_id="h1", at=T0)
    assert caught.value.field == field
    assert ledger.balance("ada").held == Decimal(4)
    assert ledger.balance("bob").held == Decimal(0)


def test_hold_ids_are_a_namespace_apart_from_idempotency_keys(ledger: Ledger) -> None:
    ledger.grant("ada", 10, idempotency_key="same", at=T0)
    result = ledger.hold("ada", 4, hold_id="same", at=T0)
    assert result.replayed is False
    burn = ledger.burn("ada", 1, idempotency_key="other", at=T0)
    assert burn.replayed is False
    assert ledger.hold("ada", 1, hold_id="other", at=T0).replayed is False


def test_a_failed_hold_records_no_hold_id(ledger: Ledger) -> None:
    ledger.grant("ada", 3, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.hold("ada", 5, hold_id="h1", at=T0)
    ledger.grant("ada", 3, at=T0)
    result = ledger.hold("ada", 5, hold_id="h1", at=T0)
    assert result.replayed is False
    assert result.hold.amount == Decimal(5)

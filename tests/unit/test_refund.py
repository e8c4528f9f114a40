"""SPEC §16: a refund is fresh credit linked to the burn or capture it corrects, never more than
that op took (less its reversals and earlier refunds), on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import IdempotencyConflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
D = Decimal


def test_a_refund_is_a_new_block_linked_to_the_op_it_corrects(ledger: Ledger) -> None:
    # Hanzo: "a deposit tagged refund linked to the original"
    ledger.grant("ada", 10, scope={"trip"}, category="promotional", at=T0)
    burn = ledger.burn("ada", 6, scope="trip", at=T0)
    refund = ledger.refund(burn.op_id, 4, description="late trip", at=T0 + HOUR)
    block = refund.block
    assert refund.refunded == D(4)
    assert (block.amount, block.scope, block.category, block.source, block.refund_of) == (
        D(4), None, "paid", "refund", burn.op_id,
    )  # fmt: skip
    assert (block.effective_at, block.cost_basis, block.priority) == (T0 + HOUR, None, 50)
    assert [(e.kind, e.block_id, e.amount) for e in refund.entries] == [("refund", block.id, D(4))]
    balance = ledger.balance("ada", at=T0 + HOUR)
    assert (balance.granted, balance.available, balance.used) == (D(14), D(8), D(6))
    assert ledger.balance("ada", at=T0 + HOUR).unscoped_available == D(4)
    assert balance.granted == balance.available + balance.held + balance.used + balance.expired + balance.voided


def test_refunds_default_to_what_is_left_and_never_exceed_what_the_op_took(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 7, at=T0)
    ledger.reverse(burn.op_id, 2, at=T0)
    assert ledger.refund(burn.op_id, 3, at=T0).refunded == D(3)
    assert ledger.refund(burn.op_id, at=T0).refunded == D(2)  # 7 - 2 reversed - 3 refunded
    before = ledger.entries(limit=1000).items
    for amount in (None, 1):
        with pytest.raises(ValidationError) as caught:
            ledger.refund(burn.op_id, amount, at=T0)
        assert caught.value.field == "amount"
    with pytest.raises(ValidationError) as caught:
        ledger.reverse(burn.op_id, at=T0)  # reversals count refunds the same way
    assert caught.value.field == "amount"
    assert ledger.entries(limit=1000).items == before


def test_a_refund_gives_back_credit_of_a_block_since_expired(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0).block.id
    burn = ledger.burn("ada", 5, at=T0)
    refund = ledger.refund(burn.op_id, at=T0 + 2 * HOUR)
    assert refund.block.id != block and refund.block.available == D(5)
    assert ledger.balance("ada", at=T0 + 2 * HOUR).available == D(5)


def test_a_refund_of_a_burn_into_debt_counts_its_debt_and_pays_debt_off(ledger: Ledger) -> None:
    ledger.grant("ada", 2, at=T0)
    burn = ledger.burn("ada", 5, overdraft="debt", at=T0)
    refund = ledger.refund(burn.op_id, at=T0 + HOUR)
    assert refund.refunded == D(5)
    assert [e.kind for e in refund.entries] == ["refund", "settle"]
    assert refund.block.remaining == D(2)
    balance = ledger.balance("ada", at=T0 + HOUR)
    assert (balance.debt, balance.available) == (D(0), D(2))


def test_a_capture_refunds_what_it_captured(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h", at=T0)
    captured = ledger.capture("h", 4, at=T0)
    assert ledger.refund(captured.op_id, at=T0).refunded == D(4)


def test_a_keyed_refund_replays_and_a_changed_one_conflicts(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 5, at=T0)
    first = ledger.refund(burn.op_id, 2, idempotency_key="r", at=T0)
    ledger.burn("ada", 7, at=T0 + HOUR)  # the refund's block is used since
    again = ledger.refund(burn.op_id, 2, idempotency_key="r", at=T0)
    assert again.replayed and again.block == first.block and again.refunded == first.refunded
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.refund(burn.op_id, 3, idempotency_key="r")
    assert caught.value.field == "amount"
    assert ledger.verify().ok


def test_without_a_key_two_identical_refunds_are_two(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 5, at=T0)
    ledger.refund(burn.op_id, 2, at=T0)
    ledger.refund(burn.op_id, 2, at=T0)
    assert ledger.balance("ada", at=T0).available == D(9)


@pytest.mark.parametrize("kind", ["grant", "hold", "release", "void", "refund", "reverse", "capture of 0"])
def test_only_a_burn_or_a_capture_refunds(ledger: Ledger, kind: str) -> None:
    grant = ledger.grant("ada", 10, at=T0)
    ops = {
        "grant": lambda: grant.op_id,
        "hold": lambda: ledger.hold("ada", 1, hold_id="h", at=T0).op_id,
        "release": lambda: (ledger.hold("ada", 1, hold_id="h", at=T0), ledger.release("h", at=T0))[1].op_id,
        "void": lambda: ledger.void(grant.block.id, 1, at=T0).op_id,
        "refund": lambda: ledger.refund(ledger.burn("ada", 2, at=T0).op_id, at=T0).op_id,
        "reverse": lambda: ledger.reverse(ledger.burn("ada", 2, at=T0).op_id, at=T0).op_id,
        "capture of 0": lambda: (ledger.hold("ada", 1, hold_id="h", at=T0), ledger.capture("h", 0, at=T0))[1].op_id,
    }
    op_id = ops[kind]()
    before = ledger.entries(limit=1000).items
    with pytest.raises(ValidationError) as caught:
        ledger.refund(op_id, at=T0)
    assert caught.value.field == ("amount" if kind == "capture of 0" else "op_id")
    assert ledger.entries(limit=1000).items == before


def test_an_unknown_op_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.refund("op_missing")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "0.5"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"expires_at": T0}, "expires_at"),
        ({"expires_at": datetime(2026, 2, 1)}, "expires_at"),  # naive
        ({"category": "gift"}, "category"),
        ({"priority": -1}, "priority"),
        ({"description": 5}, "description"),
        ({"metadata": {"k": 5}}, "metadata"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"at": T0 - HOUR}, "at"),
    ],
)
def test_a_bad_refund_is_refused_and_writes_nothing(ledger: Ledger, arguments: dict[str, object], field: str) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 5, at=T0)
    before = ledger.entries(limit=1000).items
    with pytest.raises(ValidationError) as caught:
        ledger.refund(burn.op_id, **{"at": T0, **arguments})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert ledger.entries(limit=1000).items == before
    assert ledger.balance("ada", at=T0).available == D(5)

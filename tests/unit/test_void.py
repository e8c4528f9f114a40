"""SPEC §3 void: whole and partial, never the held credit, upcoming blocks, the two refusals
(more than unheld → ValidationError, nothing unheld → Conflict), held credit that comes back to a
voided block, the ``voided`` status, and idempotency keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, Conflict, IdempotencyConflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def kinds(result: object) -> list[tuple[str, str | None, Decimal]]:
    return [(e.kind, e.block_id, e.amount) for e in result.entries]  # type: ignore[attr-defined]


def all_entries(ledger: Ledger) -> list[object]:
    return list(ledger.entries(limit=10_000).items)


# -- whole and partial ----------------------------------------------------------------------------


def test_void_without_amount_removes_all_the_remaining_credit(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.burn("ada", 3, at=T0)
    r = ledger.void(block, reason="refund", at=T0 + HOUR)
    assert kinds(r) == [("void", block, Decimal(7))]
    assert r.voided == 7 and r.replayed is False
    assert r.entries[0].op_id == r.op_id and r.entries[0].at == T0 + HOUR
    assert r.entries[0].available_after == 0
    found = ledger.get_block(block)
    assert (found.remaining, found.available, found.status) == (Decimal(0), Decimal(0), "voided")
    balance = ledger.balance("ada")
    assert (balance.available, balance.voided, balance.used, balance.granted) == (
        Decimal(0), Decimal(7), Decimal(3), Decimal(10),
    )  # fmt: skip
    identity(balance)


def test_void_with_amount_removes_that_part_only(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    r = ledger.void(block, 4, at=T0)
    assert kinds(r) == [("void", block, Decimal(4))]
    found = ledger.get_block(block)
    assert (found.remaining, found.status) == (Decimal(6), "active")
    assert ledger.balance("ada").voided == 4
    identity(ledger.balance("ada"))
    # a later void takes the rest
    assert ledger.void(block, at=T0).voided == 6
    assert ledger.get_block(block).status == "voided"


def test_void_accepts_exact_amounts_in_the_unit_precision() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    block = ledger.grant("ada", "10.00", unit="usd", at=T0).block.id
    assert ledger.void(block, "2.5", at=T0).voided == Decimal("2.50")
    assert ledger.void(block, Decimal("0.01"), at=T0).voided == Decimal("0.01")
    assert ledger.get_block(block).remaining == Decimal("7.49")


def test_void_of_the_whole_unheld_remaining_by_amount_equals_the_default(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    assert ledger.void(block, 10, at=T0).voided == 10
    assert ledger.get_block(block).status == "voided"


def test_void_leaves_other_blocks_alone(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, at=T0).block.id
    b = ledger.grant("ada", 5, at=T0).block.id
    ledger.void(a, at=T0)
    assert ledger.get_block(b).remaining == 5
    assert ledger.balance("ada").available == 5
    assert ledger.burn("ada", 5, at=T0).entries[0].block_id == b


def test_voided_credit_is_never_burned(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(block, 8, at=T0)
    assert ledger.preview_burn("ada", 5, at=T0).shortfall == 3
    r = ledger.burn("ada", 5, overdraft="partial", at=T0)
    assert r.burned == 2


def test_void_records_the_expiries_that_fell_due_first(ledger: Ledger) -> None:
    expiring = ledger.grant("ada", 3, expires_at=T0 + DAY, at=T0).block.id
    block = ledger.grant("ada", 10, at=T0).block.id
    r = ledger.void(block, at=T0 + 2 * DAY)
    assert [e.kind for e in r.entries] == ["void"]
    seen = [(e.kind, e.block_id, e.at) for e in ledger.entries("ada", since=T0 + HOUR).items]
    assert seen == [("expire", expiring, T0 + DAY), ("void", block, T0 + 2 * DAY)]


# -- held credit ----------------------------------------------------------------------------------


def test_void_never_touches_held_credit(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    r = ledger.void(block, at=T0)
    assert kinds(r) == [("void", block, Decimal(6))]
    found = ledger.get_block(block)
    assert (found.remaining, found.held, found.available) == (Decimal(4), Decimal(4), Decimal(0))
    assert ledger.get_hold("h1").status == "active"
    balance = ledger.balance("ada")
    assert (balance.held, balance.voided) == (Decimal(4), Decimal(6))
    identity(balance)


def test_held_credit_of_a_voided_block_can_still_be_captured(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.void(block, at=T0)
    c = ledger.capture("h1", 4, at=T0 + HOUR)
    assert kinds(c) == [("capture", block, Decimal(4))]
    assert ledger.get_block(block).remaining == 0
    assert ledger.balance("ada").used == 4


def test_voiding_with_a_hold_active_then_releasing_voids_the_released_credit_at_once(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.void(block, reason="chargeback", at=T0)
    r = ledger.release("h1", at=T0 + HOUR)
    assert kinds(r) == [("release", block, Decimal(4)), ("void", block, Decimal(4))]
    assert all(e.at == T0 + HOUR and e.op_id == r.op_id for e in r.entries)
    assert r.entries[-1].available_after == 0
    found = ledger.get_block(block)
    assert (found.remaining, found.held, found.status) == (Decimal(0), Decimal(0), "voided")
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.voided) == (Decimal(0), Decimal(0), Decimal(10))
    identity(balance)


def test_voiding_with_a_hold_active_then_partial_capture_voids_the_rest(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.void(block, at=T0)
    c = ledger.capture("h1", 1, at=T0 + HOUR)
    assert kinds(c) == [
        ("capture", block, Decimal(1)), ("release", block, Decimal(3)), ("void", block, Decimal(3)),
    ]  # fmt: skip
    balance = ledger.balance("ada")
    assert (balance.used, balance.voided, balance.available) == (Decimal(1), Decimal(9), Decimal(0))


def test_voiding_with_a_hold_active_then_timeout_voids_the_released_credit_at_the_timeout(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + DAY, at=T0)
    ledger.void(block, at=T0)
    assert ledger.balance("ada", at=T0 + DAY - US).held == 4
    late = ledger.balance("ada", at=T0 + DAY)
    assert (late.held, late.available, late.voided) == (Decimal(0), Decimal(0), Decimal(10))
    written = ledger.expire_due(at=T0 + 2 * DAY)
    assert [(e.kind, e.amount, e.at) for e in written] == [
        ("release", Decimal(4), T0 + DAY), ("void", Decimal(4), T0 + DAY),
    ]  # fmt: skip
    assert ledger.get_block(block).status == "voided"


def test_partial_void_leaves_the_block_open_for_released_credit(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.void(block, 2, at=T0)  # 4 unheld left: the block is not voided
    r = ledger.release("h1", at=T0 + HOUR)
    assert kinds(r) == [("release", block, Decimal(4))]
    assert ledger.get_block(block).available == 8


def test_void_more_than_the_unheld_remaining_raises_validation_error(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    before = all_entries(ledger)
    with pytest.raises(ValidationError) as caught:
        ledger.void(block, 7, at=T0)
    assert caught.value.field == "amount"
    assert all_entries(ledger) == before
    assert ledger.void(block, 6, at=T0).voided == 6


def test_void_of_a_fully_held_block_raises_conflict(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", at=T0)
    with pytest.raises(Conflict):
        ledger.void(block, at=T0)
    assert ledger.get_block(block).held == 10


# -- nothing unheld left --------------------------------------------------------------------------


def test_void_of_a_used_up_block_raises_conflict(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.burn("ada", 10, at=T0)
    before = all_entries(ledger)
    with pytest.raises(Conflict) as caught:
        ledger.void(block, at=T0)
    assert block in str(caught.value)
    assert all_entries(ledger) == before


def test_void_of_an_expired_block_raises_conflict(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.expire_due(at=T0 + DAY)
    with pytest.raises(Conflict):
        ledger.void(block, at=T0 + 2 * DAY)
    with pytest.raises(Conflict):
        ledger.void(block, 1, at=T0 + 2 * DAY)


def test_void_of_a_block_whose_expiry_is_due_but_not_recorded_raises_conflict_and_records_nothing(
    ledger: Ledger,
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    before = all_entries(ledger)
    with pytest.raises(Conflict):
        ledger.void(block, at=T0 + DAY)
    assert all_entries(ledger) == before  # not even the expiry that fell due
    assert ledger.void(block, at=T0 + DAY - US).voided == 10


def test_void_of_a_voided_block_raises_conflict(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(block, at=T0)
    with pytest.raises(Conflict):
        ledger.void(block, at=T0)


def test_void_of_an_unknown_block_raises_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.void("blk_nope", at=T0)


# -- upcoming blocks ------------------------------------------------------------------------------


def test_void_of_an_upcoming_block(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0).block.id
    assert ledger.balance("ada").upcoming == 10
    r = ledger.void(block, 4, at=T0)
    assert kinds(r) == [("void", block, Decimal(4))]
    balance = ledger.balance("ada")
    assert (balance.upcoming, balance.voided, balance.available) == (Decimal(6), Decimal(4), Decimal(0))
    identity(balance)
    assert ledger.get_block(block).status == "upcoming"
    assert ledger.balance("ada", at=T0 + DAY).available == 6
    ledger.void(block, at=T0)
    assert ledger.get_block(block).status == "voided"
    assert ledger.get_block(block, at=T0 + DAY).status == "voided"
    assert ledger.balance("ada", at=T0 + DAY).available == 0


# -- status ---------------------------------------------------------------------------------------


def test_block_status_is_voided_after_a_void_and_stays_so(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.void(block, at=T0)
    assert ledger.get_block(block).status == "voided"
    assert ledger.get_block(block, at=T0 + 2 * DAY).status == "voided"
    assert [b.status for b in ledger.blocks("ada", include_inactive=True)] == ["voided"]
    assert ledger.blocks("ada") == []
    assert ledger.expire_due(at=T0 + 2 * DAY) == []


def test_past_read_shows_the_block_before_its_void(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(block, at=T0 + HOUR)
    assert ledger.get_block(block, at=T0 + HOUR - US).status == "active"
    assert ledger.balance("ada", at=T0 + HOUR - US).available == 10
    assert ledger.balance("ada", at=T0 + HOUR).voided == 10


# -- idempotency ----------------------------------------------------------------------------------


def test_void_with_a_key_replays(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    first = ledger.void(block, 4, reason="refund", idempotency_key="v1", at=T0)
    entries = all_entries(ledger)
    again = ledger.void(block, 4, reason="refund", idempotency_key="v1", at=T0 + DAY)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.voided) == (first.op_id, first.entries, first.voided)
    assert all_entries(ledger) == entries
    assert ledger.get_block(block).remaining == 6


def test_void_replay_works_after_the_block_is_emptied(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    first = ledger.void(block, idempotency_key="v1", at=T0)
    assert ledger.void(block, idempotency_key="v1", at=T0).op_id == first.op_id


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda lg, b: lg.void(b, 3, reason="refund", idempotency_key="v1"), "amount"),
        (lambda lg, b: lg.void(b, reason="refund", idempotency_key="v1"), "amount"),
        (lambda lg, b: lg.void(b, 4, reason="fraud", idempotency_key="v1"), "reason"),
        (lambda lg, b: lg.void(b, 4, idempotency_key="v1"), "reason"),
    ],
    ids=["other-amount", "no-amount", "other-reason", "no-reason"],
)
def test_void_key_with_other_arguments_raises_idempotency_conflict(
    ledger: Ledger, call: Callable[[Ledger, str], object], field: str
) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(block, 4, reason="refund", idempotency_key="v1", at=T0)
    entries = all_entries(ledger)
    with pytest.raises(IdempotencyConflict) as caught:
        call(ledger, block)
    assert caught.value.field == field
    assert all_entries(ledger) == entries


def test_void_key_on_another_block_raises_idempotency_conflict(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, at=T0).block.id
    b = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(a, idempotency_key="v1", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.void(b, idempotency_key="v1", at=T0)
    assert caught.value.field == "block_id"


def test_void_key_used_by_another_kind_of_operation_raises_idempotency_conflict(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, idempotency_key="k1", at=T0).block.id
    with pytest.raises(IdempotencyConflict):
        ledger.void(block, idempotency_key="k1", at=T0)
    assert ledger.get_block(block).remaining == 10


def test_failed_void_records_no_key(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    with pytest.raises(ValidationError):
        ledger.void(block, 11, idempotency_key="v1", at=T0)
    r = ledger.void(block, 10, idempotency_key="v1", at=T0)
    assert r.replayed is False and r.voided == 10

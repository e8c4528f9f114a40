"""SPEC §3 change_expiry: credit moves into a new block (``move_out`` / ``move_in``) that is the
same but for its expiry, ``amount`` = what moved, ``created_at = at``, last in creation order; the
balance does not change and ``granted`` does not count the move; held credit stays behind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from creditcore import Balance, BurnOrder, Conflict, IdempotencyConflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def kinds(result: object) -> list[tuple[str, str | None, Decimal]]:
    return [(e.kind, e.block_id, e.amount) for e in result.entries]  # type: ignore[attr-defined]


def all_entries(ledger: Ledger) -> list[object]:
    return list(ledger.entries(limit=10_000).items)


def figures(balance: Balance) -> dict[str, object]:
    return {k: v for k, v in attrs.asdict(balance).items() if k != "at"}


# -- the move -------------------------------------------------------------------------------------


def test_change_expiry_moves_all_unheld_credit_with_move_out_and_move_in_entries(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + 5 * DAY, at=T0).block.id
    ledger.burn("ada", 3, at=T0)
    r = ledger.change_expiry(old, T0 + 30 * DAY, at=T0 + HOUR)
    new = r.block.id
    assert new != old
    assert kinds(r) == [("move_out", old, Decimal(7)), ("move_in", new, Decimal(7))]
    assert all(e.op_id == r.op_id and e.at == T0 + HOUR for e in r.entries)
    assert [e.available_after for e in r.entries] == [Decimal(0), Decimal(7)]
    assert r.replayed is False


def test_change_expiry_leaves_the_balance_unchanged(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + 5 * DAY, at=T0).block.id
    ledger.grant("ada", 4, at=T0)
    ledger.burn("ada", 3, at=T0)
    before = ledger.balance("ada", at=T0 + HOUR)
    ledger.change_expiry(old, T0 + 30 * DAY, at=T0 + HOUR)
    after = ledger.balance("ada", at=T0 + HOUR)
    assert figures(after) == figures(before)
    identity(after)


def test_change_expiry_does_not_count_granted_twice(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    new = ledger.change_expiry(old, T0 + DAY, amount=4, at=T0).block.id
    newer = ledger.change_expiry(new, T0 + 2 * DAY, at=T0).block.id
    balance = ledger.balance("ada")
    assert (balance.granted, balance.available) == (Decimal(10), Decimal(10))
    assert sum(b.amount for b in ledger.blocks("ada", include_inactive=True)) == 10 + 4 + 4
    identity(balance)
    assert ledger.get_block(newer).amount == 4


def test_new_block_has_the_same_attributes_but_its_own_expiry(ledger: Ledger) -> None:
    old = ledger.grant(
        "ada", 10, expires_at=T0 + 5 * DAY, priority=7, category="paid", cost_basis="0.05",
        scope={"trip", "food"}, description="voucher", metadata={"campaign": "spring"}, at=T0,
    ).block  # fmt: skip
    r = ledger.change_expiry(old.id, T0 + 30 * DAY, amount=4, at=T0 + HOUR)
    new = r.block
    assert new == ledger.get_block(new.id)
    same = (
        "customer", "unit", "priority", "category", "cost_basis", "scope", "effective_at", "description", "metadata",
    )  # fmt: skip
    assert {k: getattr(new, k) for k in same} == {k: getattr(old, k) for k in same}
    assert new.expires_at == T0 + 30 * DAY
    assert (new.amount, new.remaining, new.held, new.available) == (Decimal(4), Decimal(4), Decimal(0), Decimal(4))
    assert new.created_at == T0 + HOUR
    assert new.status == "active"
    stays = ledger.get_block(old.id)
    assert (stays.amount, stays.remaining, stays.expires_at) == (Decimal(10), Decimal(6), T0 + 5 * DAY)


def test_new_block_is_last_in_creation_order() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder.fifo())
    first = ledger.grant("ada", 10, at=T0).block.id
    second = ledger.grant("ada", 10, at=T0).block.id
    moved = ledger.change_expiry(first, T0 + DAY, amount=4, at=T0).block.id
    third = ledger.grant("ada", 10, at=T0).block.id
    assert [b.id for b in ledger.blocks("ada")] == [first, second, moved, third]
    preview = ledger.preview_burn("ada", 20, at=T0)
    assert [block for block, _ in preview.allocations] == [first, second, moved]


def test_moved_credit_follows_the_new_expiry(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    new = ledger.change_expiry(old, T0 + 3 * DAY, amount=6, at=T0).block.id
    at_old_expiry = ledger.balance("ada", at=T0 + DAY)
    assert (at_old_expiry.available, at_old_expiry.expired) == (Decimal(6), Decimal(4))
    at_new_expiry = ledger.balance("ada", at=T0 + 3 * DAY)
    assert (at_new_expiry.available, at_new_expiry.expired) == (Decimal(0), Decimal(10))
    written = ledger.expire_due(at=T0 + 4 * DAY)
    assert [(e.block_id, e.amount, e.at) for e in written] == [
        (old, Decimal(4), T0 + DAY), (new, Decimal(6), T0 + 3 * DAY),
    ]  # fmt: skip


def test_change_expiry_can_shorten_an_expiry_or_give_one_to_a_never_expiring_block(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    new = ledger.change_expiry(old, T0 + HOUR, at=T0).block.id
    assert ledger.balance("ada", at=T0 + HOUR - US).available == 10
    assert ledger.balance("ada", at=T0 + HOUR).expired == 10
    assert ledger.get_block(new, at=T0 + HOUR).status == "expired"


def test_change_expiry_of_all_the_credit_leaves_the_old_block_depleted(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.change_expiry(old, T0 + 2 * DAY, at=T0)
    found = ledger.get_block(old)
    assert (found.remaining, found.status) == (Decimal(0), "depleted")
    assert [b.id for b in ledger.blocks("ada")] != [old]
    assert ledger.expire_due(at=T0 + DAY + HOUR) == []  # nothing left in the old block to expire


def test_change_expiry_of_an_upcoming_block_keeps_it_upcoming(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, effective_at=T0 + DAY, expires_at=T0 + 2 * DAY, at=T0).block.id
    r = ledger.change_expiry(old, T0 + 5 * DAY, at=T0)
    assert (r.block.status, r.block.effective_at) == ("upcoming", T0 + DAY)
    assert ledger.balance("ada").upcoming == 10
    assert ledger.balance("ada", at=T0 + 3 * DAY).available == 10


def test_change_expiry_of_an_upcoming_block_must_end_after_it_starts(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0).block.id
    with pytest.raises(ValidationError) as caught:
        ledger.change_expiry(old, T0 + DAY, at=T0)
    assert caught.value.field == "expires_at"


def test_change_expiry_of_another_unit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    old = ledger.grant("ada", "10.00", unit="usd", at=T0).block.id
    r = ledger.change_expiry(old, T0 + DAY, amount="2.5", at=T0)
    assert r.block.amount == Decimal("2.50")
    assert ledger.get_block(old).remaining == Decimal("7.50")


# -- held credit ----------------------------------------------------------------------------------


def test_moving_part_of_a_partly_held_block(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    r = ledger.change_expiry(old, T0 + 5 * DAY, amount=3, at=T0)
    assert kinds(r) == [("move_out", old, Decimal(3)), ("move_in", r.block.id, Decimal(3))]
    stays = ledger.get_block(old)
    assert (stays.remaining, stays.held, stays.available) == (Decimal(7), Decimal(4), Decimal(3))
    assert r.block.held == 0
    balance = ledger.balance("ada")
    assert (balance.available, balance.held) == (Decimal(6), Decimal(4))
    identity(balance)
    # the hold still captures from the old block
    assert kinds(ledger.capture("h1", at=T0)) == [("capture", old, Decimal(4))]


def test_change_expiry_without_amount_moves_only_the_unheld_credit(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    r = ledger.change_expiry(old, T0 + 5 * DAY, at=T0)
    assert r.block.amount == 6
    stays = ledger.get_block(old)
    assert (stays.remaining, stays.held, stays.status) == (Decimal(4), Decimal(4), "active")
    ledger.release("h1", at=T0)
    assert ledger.get_block(old).available == 4


def test_change_expiry_of_more_than_the_unheld_credit_raises_validation_error(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    before = all_entries(ledger)
    with pytest.raises(ValidationError) as caught:
        ledger.change_expiry(old, T0 + DAY, amount=7, at=T0)
    assert caught.value.field == "amount"
    assert all_entries(ledger) == before
    assert len(ledger.blocks("ada", include_inactive=True)) == 1


def test_change_expiry_of_a_fully_held_block_raises_conflict(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", at=T0)
    with pytest.raises(Conflict):
        ledger.change_expiry(old, T0 + DAY, at=T0)


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expires_at", [T0 - DAY, T0 + HOUR - US, T0 + HOUR], ids=["past", "just-before-at", "at"])
def test_change_expiry_to_a_time_not_after_at_raises_validation_error(ledger: Ledger, expires_at: datetime) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    before = all_entries(ledger)
    with pytest.raises(ValidationError) as caught:
        ledger.change_expiry(old, expires_at, at=T0 + HOUR)
    assert caught.value.field == "expires_at"
    assert all_entries(ledger) == before
    assert ledger.change_expiry(old, T0 + HOUR + US, at=T0 + HOUR).block.expires_at == T0 + HOUR + US


def test_change_expiry_defaults_at_to_the_clock(ledger: Ledger, clock: object) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    clock.now = T0 + DAY  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        ledger.change_expiry(old, T0 + HOUR)
    assert ledger.change_expiry(old, T0 + 2 * DAY).block.created_at == T0 + DAY


@pytest.mark.parametrize("state", ["used-up", "expired", "voided"])
def test_change_expiry_of_a_block_with_nothing_unheld_raises_conflict(ledger: Ledger, state: str) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    if state == "used-up":
        ledger.burn("ada", 10, at=T0)
    elif state == "voided":
        ledger.void(old, at=T0)
    with pytest.raises(Conflict):
        ledger.change_expiry(old, T0 + 5 * DAY, at=T0 + 2 * DAY)


def test_change_expiry_of_an_unknown_block_raises_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.change_expiry("blk_nope", T0 + DAY, at=T0)


# -- idempotency ----------------------------------------------------------------------------------


def test_change_expiry_with_a_key_replays_the_same_new_block(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    first = ledger.change_expiry(old, T0 + DAY, amount=4, idempotency_key="m1", at=T0)
    entries = all_entries(ledger)
    again = ledger.change_expiry(old, T0 + DAY, amount=4, idempotency_key="m1", at=T0 + HOUR)
    assert again.replayed is True
    assert (again.op_id, again.block.id, again.entries) == (first.op_id, first.block.id, first.entries)
    assert all_entries(ledger) == entries
    assert len(ledger.blocks("ada")) == 2


@pytest.mark.parametrize(
    ("expires_at", "amount", "field"),
    [(T0 + 2 * DAY, 4, "expires_at"), (T0 + DAY, 5, "amount"), (T0 + DAY, None, "amount")],
    ids=["other-expiry", "other-amount", "no-amount"],
)
def test_change_expiry_key_with_other_arguments_raises_idempotency_conflict(
    ledger: Ledger, expires_at: datetime, amount: int | None, field: str
) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    ledger.change_expiry(old, T0 + DAY, amount=4, idempotency_key="m1", at=T0)
    entries = all_entries(ledger)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.change_expiry(old, expires_at, amount=amount, idempotency_key="m1", at=T0)
    assert caught.value.field == field
    assert all_entries(ledger) == entries


def test_change_expiry_key_used_by_a_void_raises_idempotency_conflict(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    ledger.void(old, 1, idempotency_key="k1", at=T0)
    with pytest.raises(IdempotencyConflict):
        ledger.change_expiry(old, T0 + DAY, idempotency_key="k1", at=T0)


def test_failed_change_expiry_records_no_key(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, at=T0).block.id
    with pytest.raises(ValidationError):
        ledger.change_expiry(old, T0 - DAY, idempotency_key="m1", at=T0)
    r = ledger.change_expiry(old, T0 + DAY, idempotency_key="m1", at=T0)
    assert r.replayed is False and r.block.amount == 10


def test_moves_verify_clean(ledger: Ledger) -> None:
    old = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 2, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)
    new = ledger.change_expiry(old, T0 + 3 * DAY, amount=5, at=T0).block.id
    ledger.burn("ada", 4, at=T0 + HOUR)
    ledger.change_expiry(new, T0 + 4 * DAY, at=T0 + 2 * HOUR)
    ledger.expire_due(at=T0 + 5 * DAY)
    report = ledger.verify()
    assert report.ok, str(report)

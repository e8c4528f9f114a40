"""SPEC §3 reverse: undoing a burn or a capture, fully or partly, never beyond what the op took;
credit back to its blocks in the reverse of the draw order (into an expired block it expires at
once, into a voided one it is voided at once); the debt part first, settled debt back to the
settling blocks latest first; the refusals; idempotency keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, IdempotencyConflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def kinds(result: object) -> list[tuple[str, str | None, Decimal]]:
    return [(e.kind, e.block_id, e.amount) for e in result.entries]  # type: ignore[attr-defined]


def all_entries(ledger: Ledger) -> list[object]:
    return list(ledger.entries(limit=10_000).items)


def three_blocks(ledger: Ledger) -> tuple[str, str, str]:
    """Blocks of 3, 4 and 5 credits, drawn in that order."""
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 4, priority=2, at=T0).block.id
    c = ledger.grant("ada", 5, priority=3, at=T0).block.id
    return a, b, c


# -- burns ----------------------------------------------------------------------------------------


def test_reverse_a_burn_fully_gives_the_credit_back(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    r = ledger.reverse(burn.op_id, at=T0 + HOUR)
    assert kinds(r) == [("reverse", block, Decimal(6))]
    assert r.reversed == 6 and r.replayed is False and r.op_id != burn.op_id
    assert r.entries[0].op_id == r.op_id and r.entries[0].at == T0 + HOUR
    assert r.entries[0].available_after == 10
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.granted) == (Decimal(10), Decimal(0), Decimal(10))
    identity(balance)
    assert ledger.get_block(block).remaining == 10


def test_reverse_a_burn_partly(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    r = ledger.reverse(burn.op_id, 2, at=T0)
    assert kinds(r) == [("reverse", block, Decimal(2))]
    balance = ledger.balance("ada")
    assert (balance.available, balance.used) == (Decimal(6), Decimal(4))
    identity(balance)


def test_reverse_restores_to_source_blocks_in_reverse_draw_order(ledger: Ledger) -> None:
    a, b, c = three_blocks(ledger)
    burn = ledger.burn("ada", 10, at=T0)
    assert kinds(burn) == [("burn", a, Decimal(3)), ("burn", b, Decimal(4)), ("burn", c, Decimal(3))]
    r = ledger.reverse(burn.op_id, 5, at=T0)
    assert kinds(r) == [("reverse", c, Decimal(3)), ("reverse", b, Decimal(2))]
    assert [ledger.get_block(x).remaining for x in (a, b, c)] == [Decimal(0), Decimal(2), Decimal(5)]


def test_full_reversal_across_several_blocks(ledger: Ledger) -> None:
    a, b, c = three_blocks(ledger)
    burn = ledger.burn("ada", 10, at=T0)
    r = ledger.reverse(burn.op_id, at=T0)
    assert kinds(r) == [("reverse", c, Decimal(3)), ("reverse", b, Decimal(4)), ("reverse", a, Decimal(3))]
    assert [ledger.get_block(x).remaining for x in (a, b, c)] == [Decimal(3), Decimal(4), Decimal(5)]
    assert [x.status for x in ledger.blocks("ada")] == ["active"] * 3


def test_several_reversals_continue_where_the_last_stopped(ledger: Ledger) -> None:
    a, b, c = three_blocks(ledger)
    burn = ledger.burn("ada", 10, at=T0)
    assert kinds(ledger.reverse(burn.op_id, 2, at=T0)) == [("reverse", c, Decimal(2))]
    assert kinds(ledger.reverse(burn.op_id, 2, at=T0)) == [("reverse", c, Decimal(1)), ("reverse", b, Decimal(1))]
    assert kinds(ledger.reverse(burn.op_id, at=T0)) == [("reverse", b, Decimal(3)), ("reverse", a, Decimal(3))]
    assert ledger.balance("ada").used == 0


def test_several_reversals_never_exceed_what_the_op_took(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    ledger.reverse(burn.op_id, 4, at=T0)
    before = all_entries(ledger)
    with pytest.raises(ValidationError) as caught:
        ledger.reverse(burn.op_id, 3, at=T0)
    assert caught.value.field == "amount"
    assert all_entries(ledger) == before
    assert ledger.reverse(burn.op_id, at=T0).reversed == 2
    with pytest.raises(ValidationError):
        ledger.reverse(burn.op_id, at=T0)
    with pytest.raises(ValidationError):
        ledger.reverse(burn.op_id, 1, at=T0)
    assert ledger.balance("ada").available == 10


def test_reverse_more_than_the_op_took_raises_validation_error(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    with pytest.raises(ValidationError) as caught:
        ledger.reverse(burn.op_id, 7, at=T0)
    assert caught.value.field == "amount"
    assert ledger.balance("ada").available == 4


def test_reverse_a_burn_of_another_unit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    block = ledger.grant("ada", "10.00", unit="usd", at=T0).block.id
    burn = ledger.burn("ada", "2.50", unit="usd", at=T0)
    r = ledger.reverse(burn.op_id, "1.25", at=T0)
    assert kinds(r) == [("reverse", block, Decimal("1.25"))]
    assert ledger.balance("ada", unit="usd").available == Decimal("8.75")


def test_reversed_credit_can_be_burned_again(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    burn = ledger.burn("ada", 10, at=T0)
    ledger.reverse(burn.op_id, 4, at=T0)
    assert kinds(ledger.burn("ada", 4, at=T0)) == [("burn", block, Decimal(4))]


# -- captures -------------------------------------------------------------------------------------


def test_reverse_a_capture_fully(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 4, priority=2, at=T0).block.id
    ledger.hold("ada", 7, hold_id="h1", at=T0)
    c = ledger.capture("h1", 5, at=T0)
    assert kinds(c) == [("capture", a, Decimal(3)), ("capture", b, Decimal(2)), ("release", b, Decimal(2))]
    r = ledger.reverse(c.op_id, at=T0 + HOUR)
    assert kinds(r) == [("reverse", b, Decimal(2)), ("reverse", a, Decimal(3))]
    assert r.reversed == 5
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.held) == (Decimal(7), Decimal(0), Decimal(0))
    identity(balance)
    assert ledger.get_hold("h1").status == "captured"  # the hold itself stays ended


def test_reverse_a_capture_partly(ledger: Ledger) -> None:
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 4, priority=2, at=T0).block.id
    ledger.hold("ada", 7, hold_id="h1", at=T0)
    c = ledger.capture("h1", at=T0)
    r = ledger.reverse(c.op_id, 5, at=T0)
    assert kinds(r) == [("reverse", b, Decimal(4)), ("reverse", a, Decimal(1))]
    with pytest.raises(ValidationError):
        ledger.reverse(c.op_id, 3, at=T0)
    assert ledger.reverse(c.op_id, at=T0).reversed == 2


def test_reverse_a_capture_never_gives_back_the_released_part(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 8, hold_id="h1", at=T0)
    c = ledger.capture("h1", 3, at=T0)
    with pytest.raises(ValidationError):
        ledger.reverse(c.op_id, 4, at=T0)
    assert ledger.reverse(c.op_id, at=T0).reversed == 3
    assert ledger.balance("ada").available == 10


def test_reverse_a_capture_whose_pinned_block_expired_before_the_capture(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", at=T0)
    c = ledger.capture("h1", 4, at=T0 + 2 * DAY)  # the 6 released expire at once
    assert [e.kind for e in c.entries] == ["capture", "release", "expire"]
    r = ledger.reverse(c.op_id, at=T0 + 2 * DAY)
    # the block has expired: the 4 given back expire at once
    assert kinds(r) == [("reverse", block, Decimal(4)), ("expire", block, Decimal(4))]


# -- blocks that ended meanwhile -----------------------------------------------------------------


def test_reverse_into_a_block_that_expired_meanwhile_expires_at_once(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    r = ledger.reverse(burn.op_id, at=T0 + 2 * DAY)
    assert kinds(r) == [("reverse", block, Decimal(6)), ("expire", block, Decimal(6))]
    assert all(e.at == T0 + 2 * DAY and e.op_id == r.op_id for e in r.entries)
    assert r.reversed == 6
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.expired) == (Decimal(0), Decimal(0), Decimal(10))
    identity(balance)
    assert ledger.get_block(block).status == "expired"


def test_reverse_into_a_voided_block_is_voided_at_once(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    ledger.void(block, at=T0 + HOUR)
    r = ledger.reverse(burn.op_id, 2, at=T0 + 2 * HOUR)
    assert kinds(r) == [("reverse", block, Decimal(2)), ("void", block, Decimal(2))]
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.voided) == (Decimal(0), Decimal(4), Decimal(6))
    identity(balance)
    assert ledger.get_block(block).status == "voided"


def test_reverse_into_one_expired_and_one_live_block(ledger: Ledger) -> None:
    soon = ledger.grant("ada", 3, expires_at=T0 + DAY, at=T0).block.id
    later = ledger.grant("ada", 5, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    assert kinds(burn) == [("burn", soon, Decimal(3)), ("burn", later, Decimal(3))]
    r = ledger.reverse(burn.op_id, at=T0 + 2 * DAY)
    assert kinds(r) == [
        ("reverse", later, Decimal(3)), ("reverse", soon, Decimal(3)), ("expire", soon, Decimal(3)),
    ]  # fmt: skip
    assert ledger.balance("ada").available == 5


def test_reverse_into_a_block_with_credit_still_in_it_keeps_it_usable(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + 3 * DAY, at=T0).block.id
    burn = ledger.burn("ada", 6, at=T0)
    ledger.reverse(burn.op_id, at=T0 + DAY)
    assert ledger.get_block(block).available == 10
    assert ledger.balance("ada", at=T0 + 3 * DAY).expired == 10


# -- the debt part --------------------------------------------------------------------------------


def test_reverse_the_debt_part_first_reduces_the_outstanding_debt(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 4, at=T0).block.id
    burn = ledger.burn("ada", 10, overdraft="debt", at=T0)  # 4 burned, 6 debt
    r = ledger.reverse(burn.op_id, 7, at=T0 + HOUR)
    assert kinds(r) == [("reverse", None, Decimal(6)), ("reverse", block, Decimal(1))]
    assert r.reversed == 7
    balance = ledger.balance("ada")
    assert (balance.debt, balance.available, balance.used) == (Decimal(0), Decimal(1), Decimal(3))
    identity(balance)


def test_reverse_a_pure_debt_burn_cancels_the_debt(ledger: Ledger) -> None:
    burn = ledger.burn("ada", 10, overdraft="debt", at=T0)
    r = ledger.reverse(burn.op_id, 4, at=T0)
    assert kinds(r) == [("reverse", None, Decimal(4))]
    assert ledger.balance("ada").debt == 6
    assert ledger.reverse(burn.op_id, at=T0).reversed == 6
    assert ledger.balance("ada").debt == 0
    with pytest.raises(ValidationError):
        ledger.reverse(burn.op_id, at=T0)


def test_settled_debt_returns_to_the_settling_blocks_latest_first(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    burn = ledger.burn("ada", 30, overdraft="debt", at=T0)
    first = ledger.grant("ada", 10, at=T0 + HOUR).block.id  # settles 10
    second = ledger.grant("ada", 15, at=T0 + 2 * HOUR).block.id  # settles 15; 5 still owed
    r = ledger.reverse(burn.op_id, 12, at=T0 + 3 * HOUR)
    assert kinds(r) == [("reverse", None, Decimal(5)), ("reverse", second, Decimal(7))]
    r = ledger.reverse(burn.op_id, at=T0 + 3 * HOUR)
    assert kinds(r) == [("reverse", second, Decimal(8)), ("reverse", first, Decimal(10))]
    balance = ledger.balance("ada")
    assert (balance.debt, balance.available, balance.used, balance.granted) == (
        Decimal(0), Decimal(25), Decimal(0), Decimal(25),
    )  # fmt: skip
    identity(balance)
    assert ledger.verify().ok


def test_settled_debt_returns_to_a_settling_block_that_expired_and_expires_at_once(ledger: Ledger) -> None:
    burn = ledger.burn("ada", 10, overdraft="debt", at=T0)
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id  # settles all of it
    r = ledger.reverse(burn.op_id, at=T0 + 2 * DAY)
    assert kinds(r) == [("reverse", block, Decimal(10)), ("expire", block, Decimal(10))]
    balance = ledger.balance("ada")
    assert (balance.debt, balance.used, balance.expired) == (Decimal(0), Decimal(0), Decimal(10))


def test_reverse_a_burn_with_debt_and_credit_fully(ledger: Ledger) -> None:
    a = ledger.grant("ada", 4, at=T0).block.id
    burn = ledger.burn("ada", 10, overdraft="debt", at=T0)
    settling = ledger.grant("ada", 2, at=T0).block.id  # settles 2 of the 6
    r = ledger.reverse(burn.op_id, at=T0)
    assert kinds(r) == [
        ("reverse", None, Decimal(4)), ("reverse", settling, Decimal(2)), ("reverse", a, Decimal(4)),
    ]  # fmt: skip
    balance = ledger.balance("ada")
    assert (balance.debt, balance.available, balance.used) == (Decimal(0), Decimal(6), Decimal(0))


def test_partial_reversals_of_a_burn_whose_settled_debt_went_back_to_a_block_it_drew(ledger: Ledger) -> None:
    first = ledger.burn("ada", 10, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, at=T0).block.id  # settles the 10: 20 left
    second = ledger.burn("ada", 25, overdraft="debt", at=T0)  # 20 from the block, 5 debt
    ledger.reverse(first.op_id, at=T0)  # 5 owed cancelled, 5 settled back to the block
    ledger.reverse(second.op_id, 5, at=T0)  # its debt part: settled, back to the block
    r = ledger.reverse(second.op_id, 20, at=T0)  # the 20 it drew
    assert r.reversed == 20
    assert ledger.get_block(block).remaining == 30
    balance = ledger.balance("ada")
    assert (balance.used, balance.debt, balance.available) == (Decimal(0), Decimal(0), Decimal(30))


# -- refusals -------------------------------------------------------------------------------------


def test_reverse_an_unknown_op_raises_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound) as caught:
        ledger.reverse("op_nope", at=T0)
    assert "op_nope" in str(caught.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda lg: lg.grant("ada", 5, at=T0).op_id,
        lambda lg: lg.hold("ada", 5, hold_id="h9", at=T0).op_id,
        lambda lg: (lg.hold("ada", 5, hold_id="h9", at=T0), lg.release("h9", at=T0))[1].op_id,
        lambda lg: lg.void(lg.blocks("ada")[0].id, 1, at=T0).op_id,
        lambda lg: lg.change_expiry(lg.blocks("ada")[0].id, T0 + DAY, amount=1, at=T0).op_id,
        lambda lg: lg.reverse(lg.burn("ada", 2, at=T0).op_id, at=T0).op_id,
    ],
    ids=["grant", "hold", "release", "void", "change_expiry", "reverse"],
)
def test_reverse_an_op_that_is_not_a_burn_or_capture_raises_validation_error(
    ledger: Ledger, make: Callable[[Ledger], str]
) -> None:
    ledger.grant("ada", 20, at=T0)
    op_id = make(ledger)
    before = all_entries(ledger)
    with pytest.raises(ValidationError) as caught:
        ledger.reverse(op_id, at=T0)
    assert caught.value.field == "op_id"
    assert all_entries(ledger) == before


def test_reverse_a_lazy_expiry_raises_validation_error(ledger: Ledger) -> None:
    ledger.grant("ada", 5, expires_at=T0 + HOUR, at=T0)
    (expiry,) = ledger.expire_due(at=T0 + DAY)
    with pytest.raises(ValidationError):
        ledger.reverse(expiry.op_id, at=T0 + DAY)


def test_reverse_amount_must_be_more_than_zero(ledger: Ledger) -> None:
    ledger.grant("ada", 5, at=T0)
    burn = ledger.burn("ada", 5, at=T0)
    for amount in (0, -1, "0"):
        with pytest.raises(ValidationError) as caught:
            ledger.reverse(burn.op_id, amount, at=T0)
        assert caught.value.field == "amount"


# -- idempotency ----------------------------------------------------------------------------------


def test_reverse_with_a_key_replays(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    first = ledger.reverse(burn.op_id, 2, idempotency_key="r1", at=T0)
    entries = all_entries(ledger)
    again = ledger.reverse(burn.op_id, 2, idempotency_key="r1", at=T0 + DAY)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.reversed) == (first.op_id, first.entries, first.reversed)
    assert all_entries(ledger) == entries


def test_reverse_replay_succeeds_even_when_nothing_is_left_to_reverse(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    first = ledger.reverse(burn.op_id, idempotency_key="r1", at=T0)
    assert ledger.reverse(burn.op_id, idempotency_key="r1", at=T0).op_id == first.op_id


@pytest.mark.parametrize(("amount", "field"), [(3, "amount"), (None, "amount")], ids=["other-amount", "no-amount"])
def test_reverse_key_with_other_arguments_raises_idempotency_conflict(
    ledger: Ledger, amount: int | None, field: str
) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    ledger.reverse(burn.op_id, 2, idempotency_key="r1", at=T0)
    entries = all_entries(ledger)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.reverse(burn.op_id, amount, idempotency_key="r1", at=T0)
    assert caught.value.field == field
    assert all_entries(ledger) == entries


def test_reverse_key_of_another_op_raises_idempotency_conflict(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    one = ledger.burn("ada", 2, at=T0)
    two = ledger.burn("ada", 2, idempotency_key="b2", at=T0)
    ledger.reverse(one.op_id, idempotency_key="r1", at=T0)
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.reverse(two.op_id, idempotency_key="r1", at=T0)
    assert caught.value.field == "op_id"
    with pytest.raises(IdempotencyConflict):
        ledger.reverse(two.op_id, idempotency_key="b2", at=T0)  # the burn's own key


def test_failed_reverse_records_no_key(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    burn = ledger.burn("ada", 6, at=T0)
    with pytest.raises(ValidationError):
        ledger.reverse(burn.op_id, 7, idempotency_key="r1", at=T0)
    r = ledger.reverse(burn.op_id, 6, idempotency_key="r1", at=T0)
    assert r.replayed is False and r.reversed == 6


def test_reversals_verify_clean(ledger: Ledger) -> None:
    a, b, c = three_blocks(ledger)
    burn = ledger.burn("ada", 14, overdraft="debt", at=T0)  # 12 from the blocks, 2 debt
    settling = ledger.grant("ada", 5, at=T0 + HOUR).block.id  # settles the 2
    ledger.void(settling, at=T0 + HOUR)
    r = ledger.reverse(burn.op_id, 4, at=T0 + 2 * HOUR)
    assert kinds(r) == [("reverse", settling, Decimal(2)), ("void", settling, Decimal(2)), ("reverse", c, Decimal(2))]
    ledger.reverse(burn.op_id, at=T0 + 3 * HOUR)
    assert [ledger.get_block(x).remaining for x in (a, b, c)] == [Decimal(3), Decimal(4), Decimal(5)]
    report = ledger.verify()
    assert report.ok, str(report)


def test_reversing_a_capture_of_nothing_has_nothing_left_to_reverse(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 4, hold_id="h", at=T0)
    capture = ledger.capture("h", 0, at=T0)
    with pytest.raises(ValidationError) as raised:
        ledger.reverse(capture.op_id, at=T0)
    assert raised.value.field == "amount"
    assert "captured nothing" in str(raised.value)

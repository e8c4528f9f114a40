"""SPEC §3 burn with ``overdraft="debt"`` and grant's debt settlement: the debt entry,
``Balance.debt`` / ``.net``, ``Ledger(debt_limit=...)``, settling on grant (at once or when an
upcoming block becomes active), ``settle_debt=False``, scoped blocks and returning credit never
settling, and reversing debt that a partly used grant settled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, InsufficientCredits, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def kinds(result: object) -> list[tuple[str, str | None, Decimal]]:
    return [(e.kind, e.block_id, e.amount) for e in result.entries]  # type: ignore[attr-defined]


def all_entries(ledger: Ledger, customer: str = "ada") -> list[object]:
    return list(ledger.entries(customer, limit=10_000).items)


# -- the debt entry and the balance ---------------------------------------------------------------


def test_debt_burn_records_the_uncovered_part_as_one_debt_entry_after_the_burn_entries(ledger: Ledger) -> None:
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 4, priority=2, at=T0).block.id
    r = ledger.burn("ada", 10, overdraft="debt", at=T0)
    assert kinds(r) == [("burn", a, Decimal(3)), ("burn", b, Decimal(4)), ("debt", None, Decimal(3))]
    assert (r.burned, r.shortfall, r.debt) == (Decimal(7), Decimal(3), Decimal(3))
    debt_entry = r.entries[-1]
    assert debt_entry.op_id == r.op_id and debt_entry.hold_id is None
    assert debt_entry.available_after == 0


def test_debt_burn_with_no_credit_at_all_is_all_debt(ledger: Ledger) -> None:
    r = ledger.burn("ada", 20, overdraft="debt", at=T0)
    assert kinds(r) == [("debt", None, Decimal(20))]
    assert (r.burned, r.shortfall, r.debt) == (Decimal(0), Decimal(20), Decimal(20))


def test_debt_burn_with_enough_credit_records_no_debt(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    r = ledger.burn("ada", 10, overdraft="debt", at=T0)
    assert [e.kind for e in r.entries] == ["burn"]
    assert r.debt == 0 and r.shortfall == 0


def test_balance_debt_is_the_outstanding_debt_and_net_is_available_minus_debt(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.grant("ada", 5, scope={"trip"}, at=T0)  # scoped credit cannot pay an unscoped burn
    ledger.burn("ada", 8, overdraft="debt", at=T0)
    balance = ledger.balance("ada", at=T0)
    assert (balance.available, balance.debt, balance.net) == (Decimal(5), Decimal(8), Decimal(-3))
    assert balance.used == 0  # debt is not usage of any block until it is settled
    identity(balance)


def test_debt_accumulates_over_several_burns(ledger: Ledger) -> None:
    ledger.burn("ada", 2, overdraft="debt", at=T0)
    ledger.burn("ada", 3, overdraft="debt", at=T0 + HOUR)
    assert ledger.balance("ada").debt == 5


def test_debt_is_kept_per_unit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    ledger.burn("ada", "1.25", unit="usd", overdraft="debt", at=T0)
    assert ledger.balance("ada", unit="usd").debt == Decimal("1.25")
    assert ledger.balance("ada").debt == 0
    # a credits grant does not pay a usd debt
    g = ledger.grant("ada", 10, at=T0)
    assert kinds(g) == [("grant", g.block.id, Decimal(10))]
    assert ledger.balance("ada", unit="usd").debt == Decimal("1.25")


# -- the debt limit -------------------------------------------------------------------------------


def test_debt_limit_refuses_a_burn_beyond_it_with_insufficient_credits() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit=5)
    ledger.grant("ada", 2, at=T0)
    before = all_entries(ledger)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 8, overdraft="debt", at=T0)  # 2 burned, 6 of debt > 5
    assert caught.value.requested == 8
    assert caught.value.available == 2
    assert all_entries(ledger) == before
    balance = ledger.balance("ada", at=T0)
    assert (balance.available, balance.debt) == (Decimal(2), Decimal(0))


def test_debt_up_to_the_limit_is_accepted() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit=Decimal(5))
    ledger.grant("ada", 2, at=T0)
    assert ledger.burn("ada", 7, overdraft="debt", at=T0).debt == 5
    assert ledger.balance("ada").debt == 5


def test_debt_limit_counts_the_debt_already_owed() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit="5")
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 2, overdraft="debt", at=T0)
    assert ledger.burn("ada", 1, overdraft="debt", at=T0).debt == 1
    assert ledger.balance("ada").debt == 5


def test_debt_limit_applies_per_customer() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit=5)
    ledger.burn("ada", 5, overdraft="debt", at=T0)
    assert ledger.burn("bob", 5, overdraft="debt", at=T0).debt == 5


def test_debt_limit_does_not_limit_partial_or_reject_burns() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit=0)
    ledger.grant("ada", 3, at=T0)
    r = ledger.burn("ada", 10, overdraft="partial", at=T0)
    assert (r.burned, r.shortfall, r.debt) == (Decimal(3), Decimal(7), Decimal(0))


def test_settled_debt_frees_room_under_the_limit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, debt_limit=5)
    ledger.burn("ada", 5, overdraft="debt", at=T0)
    ledger.grant("ada", 3, at=T0)  # settles 3: debt 2
    assert ledger.burn("ada", 3, overdraft="debt", at=T0).debt == 3
    assert ledger.balance("ada").debt == 5


# -- settling on grant ----------------------------------------------------------------------------


def test_grant_settles_debt_with_a_settle_entry_after_the_grant_entry(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, at=T0 + HOUR)
    block = g.block.id
    assert kinds(g) == [("grant", block, Decimal(30)), ("settle", block, Decimal(20))]
    assert [e.op_id for e in g.entries] == [g.op_id, g.op_id]
    assert [e.available_after for e in g.entries] == [Decimal(30), Decimal(10)]
    assert all(e.at == T0 + HOUR for e in g.entries)
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.used, balance.net) == (
        Decimal(10), Decimal(0), Decimal(20), Decimal(10),
    )  # fmt: skip
    identity(balance)


def test_grant_result_block_shows_what_remains_after_settling(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, at=T0)
    assert (g.block.amount, g.block.remaining, g.block.available) == (Decimal(30), Decimal(10), Decimal(10))
    assert g.block.status == "active"
    assert ledger.get_block(g.block.id) == g.block


def test_grant_smaller_than_the_debt_pays_what_it_can_and_is_depleted(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 8, at=T0)
    assert kinds(g) == [("grant", g.block.id, Decimal(8)), ("settle", g.block.id, Decimal(8))]
    assert (g.block.remaining, g.block.status) == (Decimal(0), "depleted")
    assert ledger.balance("ada").debt == 12


def test_grants_settle_debt_one_after_the_other(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    first = ledger.grant("ada", 15, at=T0)
    second = ledger.grant("ada", 15, at=T0)
    assert first.entries[-1].amount == 15 and second.entries[-1].amount == 5
    assert second.block.remaining == 10
    assert ledger.balance("ada").debt == 0


def test_grant_without_debt_writes_no_settle_entry(ledger: Ledger) -> None:
    g = ledger.grant("ada", 10, at=T0)
    assert [e.kind for e in g.entries] == ["grant"]


def test_settle_debt_false_on_a_grant_leaves_the_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, settle_debt=False, at=T0)
    assert [e.kind for e in g.entries] == ["grant"]
    assert g.block.remaining == 30
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.net) == (Decimal(30), Decimal(20), Decimal(10))


def test_ledger_settle_debt_false_turns_settlement_off_by_default() -> None:
    ledger = Ledger.memory(clock=lambda: T0, settle_debt=False)
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, at=T0)
    assert [e.kind for e in g.entries] == ["grant"]
    assert ledger.balance("ada").debt == 20
    # a grant can still ask for it
    g = ledger.grant("ada", 5, settle_debt=True, at=T0)
    assert [e.kind for e in g.entries] == ["grant", "settle"]
    assert ledger.balance("ada").debt == 15


def test_ledger_settle_debt_false_also_stops_upcoming_blocks_settling() -> None:
    ledger = Ledger.memory(clock=lambda: T0, settle_debt=False, future_tolerance=None)
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0)
    assert ledger.balance("ada", at=T0 + 2 * DAY).debt == 20
    assert ledger.expire_due(at=T0 + 2 * DAY) == []


def test_scoped_block_never_settles_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, scope={"trip"}, settle_debt=True, at=T0)
    assert [e.kind for e in g.entries] == ["grant"]
    assert g.block.remaining == 30
    assert ledger.balance("ada").debt == 20


def test_scoped_upcoming_block_never_settles_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    ledger.grant("ada", 30, scope={"trip"}, effective_at=T0 + DAY, at=T0)
    assert ledger.balance("ada", at=T0 + 2 * DAY).debt == 20
    assert ledger.expire_due(at=T0 + 2 * DAY) == []
    assert ledger.balance("ada", at=T0 + 2 * DAY).debt == 20


# -- an upcoming block settles when it becomes active ---------------------------------------------


def test_upcoming_unscoped_block_settles_at_its_effective_at(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    g = ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0)
    assert [e.kind for e in g.entries] == ["grant"]  # nothing settles before the block is active
    assert (g.block.status, g.block.remaining) == ("upcoming", Decimal(30))
    before = ledger.balance("ada", at=T0 + DAY - US)
    assert (before.debt, before.upcoming, before.available) == (Decimal(20), Decimal(30), Decimal(0))
    after = ledger.balance("ada", at=T0 + DAY)
    assert (after.debt, after.upcoming, after.available, after.used) == (
        Decimal(0), Decimal(0), Decimal(10), Decimal(20),
    )  # fmt: skip
    identity(before)
    identity(after)
    assert ledger.get_block(g.block.id, at=T0 + DAY).remaining == 10


def test_upcoming_settlement_is_recorded_lazily_dated_effective_at(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0).block.id
    assert ledger.entries("ada", kinds={"settle"}).items == ()  # a read writes nothing
    ledger.balance("ada", at=T0 + 3 * DAY)
    assert ledger.entries("ada", kinds={"settle"}).items == ()
    burn = ledger.burn("ada", 4, at=T0 + 3 * DAY)
    settles = ledger.entries("ada", kinds={"settle"}).items
    assert [(e.block_id, e.amount, e.at) for e in settles] == [(block, Decimal(20), T0 + DAY)]
    assert settles[0].op_id != burn.op_id  # not part of the burn's result
    assert settles[0].seq < burn.entries[0].seq
    assert [e.kind for e in burn.entries] == ["burn"]
    assert ledger.balance("ada").available == 6


def test_upcoming_settlement_is_recorded_by_the_sweep(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0).block.id
    written = ledger.expire_due(at=T0 + 2 * DAY)
    assert [(e.kind, e.block_id, e.amount, e.at) for e in written] == [("settle", block, Decimal(20), T0 + DAY)]
    assert ledger.expire_due(at=T0 + 2 * DAY) == []


def test_upcoming_block_settles_the_debt_owed_when_it_becomes_active(ledger: Ledger) -> None:
    ledger.burn("ada", 5, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0).block.id
    ledger.burn("ada", 7, overdraft="debt", at=T0 + HOUR)  # more debt before the block is active
    assert ledger.balance("ada", at=T0 + DAY).debt == 0
    assert ledger.get_block(block, at=T0 + DAY).remaining == 18


def test_upcoming_block_with_no_debt_left_at_effective_at_settles_nothing(ledger: Ledger) -> None:
    ledger.burn("ada", 5, overdraft="debt", at=T0)
    upcoming = ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0).block.id
    paying = ledger.grant("ada", 10, at=T0 + HOUR).block.id  # pays the 5 off now
    ledger.burn("ada", 1, at=T0 + 2 * DAY)
    assert [e.block_id for e in ledger.entries("ada", kinds={"settle"}).items] == [paying]
    assert ledger.get_block(upcoming).remaining == 30
    assert ledger.balance("ada").available == 30 + 5 - 1


def test_active_block_does_not_settle_debt_incurred_later(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 10, hold_id="h1", at=T0)  # the block is fully held
    ledger.burn("ada", 6, overdraft="debt", at=T0)
    ledger.burn("ada", 1, at=T0 + DAY, overdraft="debt")  # a later write settles nothing either
    assert ledger.entries("ada", kinds={"settle"}).items == ()
    balance = ledger.balance("ada")
    assert (balance.held, balance.debt) == (Decimal(10), Decimal(7))


# -- credit coming back later does not settle -----------------------------------------------------


def test_release_does_not_settle_debt(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", at=T0)
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    r = ledger.release("h1", at=T0 + HOUR)
    assert [e.kind for e in r.entries] == ["release"]
    assert ledger.get_block(block).available == 10
    assert ledger.balance("ada").debt == 4


def test_hold_timeout_does_not_settle_debt(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 10, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    ledger.expire_due(at=T0 + DAY)
    assert ledger.entries("ada", kinds={"settle"}).items == ()
    assert ledger.balance("ada").debt == 4


def test_reversal_does_not_settle_debt(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    burn = ledger.burn("ada", 10, at=T0)
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    r = ledger.reverse(burn.op_id, at=T0 + HOUR)
    assert [e.kind for e in r.entries] == ["reverse"]
    assert ledger.get_block(block).remaining == 10
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.net) == (Decimal(10), Decimal(4), Decimal(6))


# -- reversing debt that was settled --------------------------------------------------------------


def test_debt_settled_by_a_grant_that_is_itself_partly_used(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    debt_burn = ledger.burn("ada", 20, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, at=T0 + HOUR).block.id  # settles 20, 10 left
    ledger.burn("ada", 6, at=T0 + 2 * HOUR)  # 4 left in the settling block
    r = ledger.reverse(debt_burn.op_id, at=T0 + 3 * HOUR)
    # the debt was settled: the credit goes back to the block that settled it
    assert kinds(r) == [("reverse", block, Decimal(20))]
    assert r.reversed == 20
    assert ledger.get_block(block).remaining == 24
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.used, balance.granted) == (
        Decimal(24), Decimal(0), Decimal(6), Decimal(30),
    )  # fmt: skip
    identity(balance)
    assert ledger.verify().ok


def test_debt_settled_by_a_grant_that_is_itself_used_up(ledger: Ledger) -> None:
    debt_burn = ledger.burn("ada", 20, overdraft="debt", at=T0)
    block = ledger.grant("ada", 30, at=T0).block.id
    ledger.burn("ada", 10, at=T0)
    assert ledger.get_block(block).status == "depleted"
    r = ledger.reverse(debt_burn.op_id, 5, at=T0 + HOUR)
    assert kinds(r) == [("reverse", block, Decimal(5))]
    assert ledger.get_block(block).status == "active"
    assert ledger.balance("ada").available == 5


def test_debt_partly_settled_is_reversed_from_the_outstanding_debt_first(ledger: Ledger) -> None:
    debt_burn = ledger.burn("ada", 20, overdraft="debt", at=T0)
    block = ledger.grant("ada", 15, at=T0).block.id  # 15 settled, 5 still owed
    r = ledger.reverse(debt_burn.op_id, 8, at=T0 + HOUR)
    assert kinds(r) == [("reverse", None, Decimal(5)), ("reverse", block, Decimal(3))]
    balance = ledger.balance("ada")
    assert (balance.debt, balance.available, balance.used) == (Decimal(0), Decimal(3), Decimal(12))


def test_settlement_counts_as_used(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    ledger.grant("ada", 5, at=T0)
    ledger.burn("ada", 12, overdraft="debt", at=T0)  # 5 used, 7 debt
    assert ledger.balance("ada").used == 5
    ledger.grant("ada", 10, at=T0)
    balance = ledger.balance("ada")
    assert (balance.used, balance.debt, balance.available, balance.granted) == (
        Decimal(12), Decimal(0), Decimal(3), Decimal(15),
    )  # fmt: skip
    identity(balance)


def test_debt_history_verifies_clean(ledger: Ledger) -> None:
    ledger.burn("ada", 20, overdraft="debt", at=T0)
    ledger.grant("ada", 30, effective_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, at=T0 + HOUR)
    ledger.burn("ada", 2, overdraft="debt", at=T0 + 2 * DAY)
    ledger.expire_due(at=T0 + 3 * DAY)
    report = ledger.verify()
    assert report.ok, str(report)


def test_debt_written_before_an_activation_a_sweep_passed_is_still_settled_by_the_block() -> None:
    """A sweep past effective_at that wrote nothing does not close the moment: a debt dated
    before it is still paid off when the block becomes active."""
    ledger = Ledger.memory(clock=lambda: T0 + 7 * HOUR)
    ledger.grant("ada", 5, effective_at=T0 + 5 * HOUR, at=T0)
    assert ledger.expire_due(at=T0 + 7 * HOUR) == []
    ledger.burn("ada", 15, overdraft="debt", at=T0 + HOUR)
    balance = ledger.balance("ada", at=T0 + 7 * HOUR)
    assert (balance.debt, balance.available) == (Decimal(10), Decimal(0))
    ledger.burn("ada", 1, overdraft="debt", at=T0 + 7 * HOUR)  # a write records the settlement
    settles = ledger.entries("ada", kinds=["settle"]).items
    assert [(e.amount, e.at) for e in settles] == [(Decimal(5), T0 + 5 * HOUR)]
    assert ledger.verify().ok

"""SPEC §3 grant, burn (reject / partial / debt, debt_limit, settlement) and preview_burn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, Block, InsufficientCredits, Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


# -- grant -------------------------------------------------------------------------------------


def test_grant_creates_a_block_with_the_given_attributes(ledger: Ledger) -> None:
    result = ledger.grant(
        "ada", 100, expires_at=T0 + 30 * DAY, priority=7, category="paid", cost_basis="0.25",
        scope={"video", "image"}, description="March plan", metadata={"plan": "pro"}, at=T0,
    )  # fmt: skip
    block = result.block
    assert isinstance(block, Block)
    assert (block.customer, block.unit, block.amount, block.remaining, block.held, block.available) == (
        "ada", "credits", Decimal(100), Decimal(100), Decimal(0), Decimal(100),
    )  # fmt: skip
    assert block.priority == 7
    assert block.category == "paid"
    assert block.cost_basis == Decimal("0.25")
    assert block.scope == frozenset({"video", "image"})
    assert block.effective_at == T0
    assert block.expires_at == T0 + 30 * DAY
    assert block.status == "active"
    assert block.description == "March plan"
    assert block.metadata == {"plan": "pro"}
    assert block.created_at == T0
    assert ledger.get_block(block.id) == block


def test_grant_defaults_are_documented(ledger: Ledger) -> None:
    block = ledger.grant("ada", 5).block
    assert block.priority == 50
    assert block.category == "promotional"
    assert block.cost_basis is None
    assert block.scope is None
    assert block.expires_at is None
    assert block.effective_at == T0  # the clock's time
    assert block.unit == "credits"


def test_grant_result_has_op_id_and_one_grant_entry(ledger: Ledger) -> None:
    result = ledger.grant("ada", 10, at=T0)
    assert result.op_id
    assert result.replayed is False
    assert [(e.kind, e.amount, e.block_id, e.op_id) for e in result.entries] == [
        ("grant", Decimal(10), result.block.id, result.op_id)
    ]


def test_each_grant_creates_a_new_block(ledger: Ledger) -> None:
    first = ledger.grant("ada", 10, at=T0).block
    second = ledger.grant("ada", 10, at=T0).block
    assert first.id != second.id
    assert ledger.get_block(first.id).remaining == Decimal(10)
    assert ledger.balance("ada").available == Decimal(20)


@pytest.mark.parametrize("amount", [0, -1, "0", Decimal("-0.0")])
def test_grant_amount_must_be_more_than_zero(ledger: Ledger, amount: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", amount)  # type: ignore[arg-type]
    assert caught.value.field == "amount"
    assert ledger.entries().items == ()


def test_future_effective_at_makes_an_upcoming_block(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0).block
    assert block.status == "upcoming"
    assert block.available == Decimal(0)
    balance = ledger.balance("ada")
    assert (balance.available, balance.upcoming, balance.granted) == (Decimal(0), Decimal(10), Decimal(10))


def test_upcoming_block_is_not_burnable_until_effective(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0).block
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, at=T0 + DAY - US)
    with pytest.raises(InsufficientCredits):
        ledger.hold("ada", 1, hold_id="h", at=T0 + DAY - US)
    result = ledger.burn("ada", 4, at=T0 + DAY)
    assert [(e.block_id, e.amount) for e in result.entries] == [(block.id, Decimal(4))]
    assert ledger.get_block(block.id).status == "active"


def test_earlier_effective_at_is_already_effective_but_history_before_the_grant_never_shows_it(
    ledger: Ledger,
) -> None:
    block = ledger.grant("ada", 10, effective_at=T0 - DAY, at=T0).block
    assert block.status == "active"
    assert block.effective_at == T0 - DAY
    assert ledger.burn("ada", 3, at=T0).burned == Decimal(3)
    before = ledger.balance("ada", at=T0 - US)
    assert (before.granted, before.available) == (Decimal(0), Decimal(0))
    assert ledger.blocks("ada", at=T0 - US) == []


@pytest.mark.parametrize(
    ("effective_at", "expires_at"),
    [
        (None, T0),  # not later than at
        (None, T0 - DAY),
        (T0 + 2 * DAY, T0 + 2 * DAY),  # not later than effective_at
        (T0 + 2 * DAY, T0 + DAY),
        (T0 - 2 * DAY, T0 - DAY),  # later than effective_at, but not than at
    ],
)
def test_expires_at_must_be_later_than_effective_at_and_at(
    ledger: Ledger, effective_at: datetime | None, expires_at: datetime
) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 10, effective_at=effective_at, expires_at=expires_at, at=T0)
    assert caught.value.field == "expires_at"
    assert ledger.entries().items == ()


def test_expires_at_one_microsecond_after_at_is_accepted(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + US, at=T0).block
    assert block.expires_at == T0 + US
    assert ledger.balance("ada", at=T0).available == Decimal(10)
    assert ledger.balance("ada", at=T0 + US).available == Decimal(0)


@pytest.mark.parametrize("priority", [0, 1000])
def test_priority_bounds_are_accepted(ledger: Ledger, priority: int) -> None:
    assert ledger.grant("ada", 1, priority=priority).block.priority == priority


@pytest.mark.parametrize("priority", [-1, 1001, "5", 5.0, True])
def test_priority_outside_0_to_1000_or_not_an_int_is_rejected(ledger: Ledger, priority: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, priority=priority)  # type: ignore[arg-type]
    assert caught.value.field == "priority"


def test_category_must_be_promotional_or_paid(ledger: Ledger) -> None:
    assert ledger.grant("ada", 1, category="paid").block.category == "paid"
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, category="free")
    assert caught.value.field == "category"


def test_cost_basis_is_a_non_negative_decimal_or_none(ledger: Ledger) -> None:
    assert ledger.grant("ada", 1, cost_basis=0).block.cost_basis == Decimal(0)
    assert ledger.grant("ada", 1, cost_basis="0.0125").block.cost_basis == Decimal("0.0125")
    for bad in ("-0.01", 0.5):
        with pytest.raises(ValidationError) as caught:
            ledger.grant("ada", 1, cost_basis=bad)  # type: ignore[arg-type]
        assert caught.value.field == "cost_basis"


@pytest.mark.parametrize("scope", [set(), [], "", [""], {"trip": "x"}, 7])
def test_grant_scope_must_be_a_name_or_a_non_empty_collection_of_names(ledger: Ledger, scope: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, scope=scope)  # type: ignore[arg-type]
    assert caught.value.field == "scope"


def test_a_str_grant_scope_is_one_scope_never_its_characters(ledger: Ledger) -> None:
    assert ledger.grant("ada", 1, scope="trip").block.scope == frozenset({"trip"})


def test_grant_scope_accepts_any_iterable_of_names(ledger: Ledger) -> None:
    block = ledger.grant("ada", 1, scope=["trip", "food", "trip"]).block
    assert block.scope == frozenset({"trip", "food"})


def test_grant_over_the_64_bit_limit_raises_and_writes_nothing(ledger: Ledger) -> None:
    ledger.grant("ada", 2**63 - 1, at=T0)
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, at=T0)
    assert caught.value.field == "amount"
    assert len(ledger.entries().items) == 1
    assert ledger.balance("ada").granted == Decimal(2**63 - 1)
    with pytest.raises(ValidationError):
        ledger.grant("bob", 2**63, at=T0)


def test_first_write_creates_the_customer(ledger: Ledger) -> None:
    assert ledger.balances("new") == {}
    ledger.grant("new", 3)
    assert ledger.balance("new").available == Decimal(3)
    assert list(ledger.balances("new")) == ["credits"]


# -- burn ------------------------------------------------------------------------------------------


def test_burn_draws_from_blocks_and_reports_burned(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    result = ledger.burn("ada", 4, at=T0)
    assert (result.burned, result.shortfall, result.debt) == (Decimal(4), Decimal(0), Decimal(0))
    assert result.replayed is False
    assert ledger.balance("ada").available == Decimal(6)
    assert ledger.balance("ada").used == Decimal(4)


def test_burn_writes_one_burn_entry_per_block_touched(ledger: Ledger) -> None:
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 3, priority=2, at=T0).block.id
    untouched = ledger.grant("ada", 3, priority=3, at=T0).block.id
    result = ledger.burn("ada", 5, at=T0, description="job 7", metadata={"job": "7"})
    assert [(e.kind, e.block_id, e.amount) for e in result.entries] == [
        ("burn", a, Decimal(3)),
        ("burn", b, Decimal(2)),
    ]
    assert {e.op_id for e in result.entries} == {result.op_id}
    assert all(e.description == "job 7" and e.metadata == {"job": "7"} for e in result.entries)
    assert ledger.get_block(untouched).remaining == Decimal(3)
    assert ledger.get_block(a).status == "depleted"


def test_burn_with_reject_raises_insufficient_credits_and_writes_nothing(
    ledger: Ledger, snapshot: Callable[[], object]
) -> None:
    ledger.grant("ada", 5, at=T0)
    before = snapshot()
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 8, at=T0)
    assert (caught.value.requested, caught.value.available) == (Decimal(8), Decimal(5))
    assert snapshot() == before
    assert ledger.balance("ada").available == Decimal(5)


def test_reject_is_the_default_overdraft(ledger: Ledger) -> None:
    ledger.grant("ada", 5, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 6)


def test_burn_for_an_unknown_customer_finds_no_credit(ledger: Ledger) -> None:
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ghost", 1)
    assert caught.value.available == Decimal(0)
    assert ledger.entries("ghost").items == ()


def test_partial_burn_burns_what_there_is(ledger: Ledger) -> None:
    ledger.grant("ada", 5, at=T0)
    result = ledger.burn("ada", 8, overdraft="partial", at=T0)
    assert (result.burned, result.shortfall, result.debt) == (Decimal(5), Decimal(3), Decimal(0))
    assert [e.kind for e in result.entries] == ["burn"]
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.debt) == (Decimal(0), Decimal(5), Decimal(0))


def test_partial_burn_with_no_credit_burns_nothing(ledger: Ledger) -> None:
    result = ledger.burn("ada", 8, overdraft="partial", at=T0)
    assert (result.burned, result.shortfall, result.debt) == (Decimal(0), Decimal(8), Decimal(0))
    assert result.entries == ()


def test_partial_burn_with_enough_credit_has_no_shortfall(ledger: Ledger) -> None:
    ledger.grant("ada", 5, at=T0)
    result = ledger.burn("ada", 5, overdraft="partial", at=T0)
    assert (result.burned, result.shortfall) == (Decimal(5), Decimal(0))


def test_debt_burn_records_the_shortfall_as_debt(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    ledger.grant("ada", 5, at=T0)
    result = ledger.burn("ada", 8, overdraft="debt", at=T0)
    assert (result.burned, result.shortfall, result.debt) == (Decimal(5), Decimal(3), Decimal(3))
    assert [(e.kind, e.amount, e.block_id) for e in result.entries][-1] == ("debt", Decimal(3), None)
    assert [e.kind for e in result.entries] == ["burn", "debt"]
    balance = ledger.balance("ada")
    assert (balance.available, balance.used, balance.debt, balance.net) == (
        Decimal(0), Decimal(5), Decimal(3), Decimal(-3),
    )  # fmt: skip
    identity(balance)


def test_debt_accumulates_without_a_limit_by_default(ledger: Ledger) -> None:
    ledger.burn("ada", 10**12, overdraft="debt", at=T0)
    ledger.burn("ada", 10**12, overdraft="debt", at=T0)
    assert ledger.balance("ada").debt == Decimal(2 * 10**12)


def test_debt_limit_caps_total_debt_per_customer_and_unit(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit=5, units={"usd": 2})
    ledger.burn("ada", 3, overdraft="debt")
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 3, overdraft="debt")
    assert ledger.balance("ada").debt == Decimal(3)
    assert ledger.burn("ada", 2, overdraft="debt").debt == Decimal(2)  # reaching the limit is allowed
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, overdraft="debt")
    assert ledger.balance("ada").debt == Decimal(5)
    # another customer, another unit: a debt of their own
    assert ledger.burn("bob", 5, overdraft="debt").debt == Decimal(5)
    assert ledger.burn("ada", "5.00", unit="usd", overdraft="debt").debt == Decimal(5)
    # partial is not limited by the debt limit
    assert ledger.burn("ada", 3, overdraft="partial").shortfall == Decimal(3)


def test_debt_limit_zero_forbids_any_debt(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit=0)
    ledger.grant("ada", 2)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 3, overdraft="debt")
    assert ledger.balance("ada").available == Decimal(2)


def test_debt_limit_of_ten_credits_is_accepted(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit=10)
    assert ledger.burn("ada", 10, overdraft="debt").debt == Decimal(10)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, overdraft="debt")


def test_a_fractional_debt_limit_does_not_break_burns_that_need_no_debt(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit="2.5", units={"usd": 2})
    ledger.grant("ada", 5)
    assert ledger.burn("ada", 1).burned == Decimal(1)
    assert ledger.burn("ada", "1.00", unit="usd", overdraft="debt").debt == Decimal(1)


def test_debt_limit_counts_only_the_uncovered_part(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit=2)
    ledger.grant("ada", 10)
    result = ledger.burn("ada", 12, overdraft="debt")
    assert (result.burned, result.debt) == (Decimal(10), Decimal(2))


def test_burn_over_debt_limit_writes_nothing(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, debt_limit=1)
    ledger.grant("ada", 4)
    before = ledger.entries().items
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 6, overdraft="debt")
    assert ledger.entries().items == before
    assert ledger.balance("ada").available == Decimal(4)


# -- scopes ---------------------------------------------------------------------------------------


def test_scoped_burn_uses_scoped_then_unscoped_credit(ledger: Ledger) -> None:
    unscoped = ledger.grant("ada", 10, at=T0).block.id
    scoped = ledger.grant("ada", 4, scope={"trip"}, at=T0).block.id
    result = ledger.burn("ada", 6, scope="trip", at=T0)
    assert [(e.block_id, e.amount) for e in result.entries] == [(scoped, Decimal(4)), (unscoped, Decimal(2))]


def test_unscoped_burn_never_touches_scoped_credit(ledger: Ledger) -> None:
    ledger.grant("ada", 10, scope={"trip"}, at=T0)
    unscoped = ledger.grant("ada", 3, at=T0).block.id
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 4, at=T0)
    assert caught.value.available == Decimal(3)
    result = ledger.burn("ada", 4, overdraft="partial", at=T0)
    assert [(e.block_id, e.amount) for e in result.entries] == [(unscoped, Decimal(3))]
    assert result.shortfall == Decimal(1)


def test_scoped_burn_never_touches_credit_of_other_scopes(ledger: Ledger) -> None:
    ledger.grant("ada", 10, scope={"food"}, at=T0)
    multi = ledger.grant("ada", 2, scope={"trip", "food"}, at=T0).block.id
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 3, scope="trip", at=T0)
    result = ledger.burn("ada", 2, scope="trip", at=T0)
    assert [(e.block_id, e.amount) for e in result.entries] == [(multi, Decimal(2))]


# -- debt settlement -------------------------------------------------------------------------------


def test_grant_settles_debt_with_a_settle_entry_after_the_grant(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    result = ledger.grant("ada", 10, at=T0 + DAY)
    assert [(e.kind, e.amount, e.block_id) for e in result.entries] == [
        ("grant", Decimal(10), result.block.id),
        ("settle", Decimal(4), result.block.id),
    ]
    assert (result.block.amount, result.block.remaining) == (Decimal(10), Decimal(6))
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.used, balance.granted) == (
        Decimal(6), Decimal(0), Decimal(4), Decimal(10),
    )  # fmt: skip
    identity(balance)


def test_grant_smaller_than_the_debt_pays_what_it_can(ledger: Ledger) -> None:
    ledger.burn("ada", 10, overdraft="debt", at=T0)
    result = ledger.grant("ada", 4, at=T0)
    assert result.block.remaining == Decimal(0)
    assert result.block.status == "depleted"
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.net) == (Decimal(0), Decimal(6), Decimal(-6))


def test_upcoming_grant_settles_debt_when_it_becomes_effective(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    result = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0)
    assert [e.kind for e in result.entries] == ["grant"]
    assert result.block.remaining == Decimal(10)
    assert ledger.balance("ada", at=T0 + DAY - US).debt == Decimal(4)
    at_effective = ledger.balance("ada", at=T0 + DAY)
    assert (at_effective.debt, at_effective.available) == (Decimal(0), Decimal(6))
    identity(at_effective)
    # recorded lazily, dated effective_at, by the next write
    assert ledger.entries("ada", kinds=["settle"]).items == ()
    ledger.grant("bob", 1, at=T0 + 2 * DAY)
    assert ledger.entries("ada", kinds=["settle"]).items == ()
    ledger.burn("ada", 1, at=T0 + 2 * DAY)
    (settle,) = ledger.entries("ada", kinds=["settle"]).items
    assert (settle.amount, settle.at, settle.block_id) == (Decimal(4), T0 + DAY, result.block.id)
    assert ledger.balance("ada").available == Decimal(5)


def test_scoped_grant_never_settles_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    result = ledger.grant("ada", 10, scope={"trip"}, at=T0)
    assert [e.kind for e in result.entries] == ["grant"]
    assert result.block.remaining == Decimal(10)
    assert ledger.balance("ada").debt == Decimal(4)


def test_grant_with_settle_debt_false_leaves_the_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 4, overdraft="debt", at=T0)
    result = ledger.grant("ada", 10, settle_debt=False, at=T0)
    assert [e.kind for e in result.entries] == ["grant"]
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.net) == (Decimal(10), Decimal(4), Decimal(6))


def test_ledger_settle_debt_false_is_the_grant_default_and_can_be_overridden(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, settle_debt=False)
    ledger.burn("ada", 4, overdraft="debt")
    assert [e.kind for e in ledger.grant("ada", 10).entries] == ["grant"]
    assert ledger.balance("ada").debt == Decimal(4)
    assert [e.kind for e in ledger.grant("ada", 1, settle_debt=True).entries] == ["grant", "settle"]
    assert ledger.balance("ada").debt == Decimal(3)


def test_settlement_is_per_unit(clock: object) -> None:
    ledger = Ledger.memory(clock=clock, units={"usd": 2})
    ledger.burn("ada", 4, overdraft="debt")
    result = ledger.grant("ada", "5.00", unit="usd")
    assert [e.kind for e in result.entries] == ["grant"]
    assert ledger.balance("ada").debt == Decimal(4)
    assert ledger.balance("ada", unit="usd").debt == Decimal(0)


def test_released_credit_does_not_settle_debt(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 10, hold_id="h1", at=T0)
    ledger.burn("ada", 3, overdraft="debt", at=T0)
    result = ledger.release("h1", at=T0)
    assert [e.kind for e in result.entries] == ["release"]
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt) == (Decimal(10), Decimal(3))


# -- preview_burn ------------------------------------------------------------------------------------


def test_preview_burn_lists_allocations_in_burn_order_and_writes_nothing(
    ledger: Ledger, snapshot: Callable[[], object]
) -> None:
    late = ledger.grant("ada", 10, priority=9, at=T0).block.id
    early = ledger.grant("ada", 4, priority=1, at=T0).block.id
    before = snapshot()
    preview = ledger.preview_burn("ada", 7)
    assert preview.allocations == ((early, Decimal(4)), (late, Decimal(3)))
    assert preview.shortfall == Decimal(0)
    assert snapshot() == before
    # a burn then does exactly that
    result = ledger.burn("ada", 7)
    assert tuple((e.block_id, e.amount) for e in result.entries) == preview.allocations


def test_preview_burn_reports_the_shortfall(ledger: Ledger) -> None:
    block = ledger.grant("ada", 5, at=T0).block.id
    preview = ledger.preview_burn("ada", 8)
    assert preview.allocations == ((block, Decimal(5)),)
    assert preview.shortfall == Decimal(3)
    empty = ledger.preview_burn("ghost", 2)
    assert (empty.allocations, empty.shortfall) == ((), Decimal(2))


def test_preview_burn_with_scope_uses_scoped_credit(ledger: Ledger) -> None:
    unscoped = ledger.grant("ada", 10, at=T0).block.id
    scoped = ledger.grant("ada", 2, scope={"trip"}, at=T0).block.id
    assert ledger.preview_burn("ada", 3, scope="trip").allocations == ((scoped, Decimal(2)), (unscoped, Decimal(1)))
    assert ledger.preview_burn("ada", 3).allocations == ((unscoped, Decimal(3)),)


def test_preview_burn_at_a_future_time_leaves_expired_and_counts_upcoming(ledger: Ledger) -> None:
    expiring = ledger.grant("ada", 5, expires_at=T0 + DAY, at=T0).block.id
    upcoming = ledger.grant("ada", 7, effective_at=T0 + DAY, at=T0).block.id
    assert ledger.preview_burn("ada", 6).allocations == ((expiring, Decimal(5)),)
    later = ledger.preview_burn("ada", 6, at=T0 + DAY)
    assert later.allocations == ((upcoming, Decimal(6)),)
    assert later.shortfall == Decimal(0)


def test_preview_burn_ignores_held_credit(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    preview = ledger.preview_burn("ada", 5)
    assert preview.allocations == ((block, Decimal(4)),)
    assert preview.shortfall == Decimal(1)

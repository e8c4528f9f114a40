"""SPEC §5: the burn order — default, fifo and custom keys — for burns, holds and captures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditcore import BurnOrder, Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def first_burned(ledger: Ledger, customer: str = "ada", **burn: Any) -> str:
    """The block id the first unit of a burn of 1 draws from."""
    result = ledger.burn(customer, 1, **burn)
    assert len(result.entries) == 1
    block_id = result.entries[0].block_id
    assert block_id is not None
    return block_id


def grant(ledger: Ledger, **options: Any) -> str:
    options.setdefault("at", T0)
    return ledger.grant("ada", 10, **options).block.id


# -- the default order, one rule at a time -----------------------------------------------------


def test_lower_priority_number_burns_first(ledger: Ledger) -> None:
    late = grant(ledger, priority=60)
    early = grant(ledger, priority=10)
    assert first_burned(ledger) == early
    assert [b.id for b in ledger.blocks("ada")] == [early, late]


def test_sooner_expiry_burns_first(ledger: Ledger) -> None:
    later = grant(ledger, expires_at=T0 + 30 * DAY)
    sooner = grant(ledger, expires_at=T0 + 7 * DAY)
    assert first_burned(ledger) == sooner
    assert [b.id for b in ledger.blocks("ada")] == [sooner, later]


def test_never_expiring_block_burns_last(ledger: Ledger) -> None:
    forever = grant(ledger)
    expiring = grant(ledger, expires_at=T0 + 365 * DAY)
    assert first_burned(ledger) == expiring
    assert [b.id for b in ledger.blocks("ada")] == [expiring, forever]


def test_scoped_block_burns_before_unscoped_one(ledger: Ledger) -> None:
    unscoped = grant(ledger)
    scoped = grant(ledger, scope={"trip"})
    assert first_burned(ledger, scope="trip") == scoped
    assert [b.id for b in ledger.blocks("ada")] == [scoped, unscoped]


def test_promotional_burns_before_paid(ledger: Ledger) -> None:
    paid = grant(ledger, category="paid")
    promo = grant(ledger, category="promotional")
    assert first_burned(ledger) == promo
    assert [b.id for b in ledger.blocks("ada")] == [promo, paid]


def test_lower_cost_basis_burns_first(ledger: Ledger) -> None:
    dear = grant(ledger, category="paid", cost_basis="0.10")
    cheap = grant(ledger, category="paid", cost_basis="0.02")
    assert first_burned(ledger) == cheap
    assert [b.id for b in ledger.blocks("ada")] == [cheap, dear]


def test_missing_cost_basis_counts_as_zero(ledger: Ledger) -> None:
    priced = grant(ledger, cost_basis="0.01")
    unpriced = grant(ledger, cost_basis=None)
    assert first_burned(ledger) == unpriced
    assert [b.id for b in ledger.blocks("ada")] == [unpriced, priced]
    # None ties with an explicit 0, so creation order decides
    ledger2 = Ledger.memory(clock=lambda: T0)
    zero = grant(ledger2, cost_basis=0)
    none = grant(ledger2, cost_basis=None)
    assert [b.id for b in ledger2.blocks("ada")] == [zero, none]


def test_earlier_effective_at_burns_first(ledger: Ledger) -> None:
    newer = grant(ledger, effective_at=T0 - DAY)
    older = grant(ledger, effective_at=T0 - 2 * DAY)
    assert first_burned(ledger) == older
    assert [b.id for b in ledger.blocks("ada")] == [older, newer]


def test_creation_order_breaks_ties(ledger: Ledger) -> None:
    ids = [grant(ledger) for _ in range(4)]
    assert [b.id for b in ledger.blocks("ada")] == ids
    assert first_burned(ledger) == ids[0]


# -- the default order: each rule outranks the ones after it -------------------------------------


def test_priority_outranks_expiry(ledger: Ledger) -> None:
    soon = grant(ledger, priority=60, expires_at=T0 + DAY)
    never = grant(ledger, priority=40)
    assert first_burned(ledger) == never
    assert [b.id for b in ledger.blocks("ada")] == [never, soon]


def test_expiry_outranks_scope(ledger: Ledger) -> None:
    scoped = grant(ledger, scope={"trip"}, expires_at=T0 + 9 * DAY)
    unscoped = grant(ledger, expires_at=T0 + 3 * DAY)
    assert first_burned(ledger, scope="trip") == unscoped
    assert [b.id for b in ledger.blocks("ada")] == [unscoped, scoped]


def test_scope_outranks_category(ledger: Ledger) -> None:
    promo = grant(ledger, category="promotional")
    scoped_paid = grant(ledger, scope={"trip"}, category="paid")
    assert first_burned(ledger, scope="trip") == scoped_paid
    assert [b.id for b in ledger.blocks("ada")] == [scoped_paid, promo]


def test_category_outranks_cost_basis(ledger: Ledger) -> None:
    paid_cheap = grant(ledger, category="paid", cost_basis=0)
    promo_dear = grant(ledger, category="promotional", cost_basis=5)
    assert first_burned(ledger) == promo_dear
    assert [b.id for b in ledger.blocks("ada")] == [promo_dear, paid_cheap]


def test_cost_basis_outranks_effective_at(ledger: Ledger) -> None:
    old_dear = grant(ledger, cost_basis=2, effective_at=T0 - 5 * DAY)
    new_cheap = grant(ledger, cost_basis=1, effective_at=T0 - DAY)
    assert first_burned(ledger) == new_cheap
    assert [b.id for b in ledger.blocks("ada")] == [new_cheap, old_dear]


def test_effective_at_outranks_creation_order(ledger: Ledger) -> None:
    created_first = grant(ledger, effective_at=T0)
    created_second = grant(ledger, effective_at=T0 - DAY)
    assert first_burned(ledger) == created_second
    assert [b.id for b in ledger.blocks("ada")] == [created_second, created_first]


def test_burn_spanning_blocks_draws_them_in_order(ledger: Ledger) -> None:
    c = grant(ledger, priority=30)
    a = grant(ledger, priority=10)
    b = grant(ledger, priority=20)
    result = ledger.burn("ada", 25)
    assert [(e.block_id, e.amount) for e in result.entries] == [(a, Decimal(10)), (b, Decimal(10)), (c, Decimal(5))]


def test_default_order_keys_are_documented() -> None:
    assert BurnOrder.default().keys == (
        "priority", "expires_at", "scope", "category", "cost_basis", "effective_at", "created",
    )  # fmt: skip
    assert Ledger.memory().burn_order == BurnOrder.default()


# -- fifo -----------------------------------------------------------------------------------------


def test_fifo_burns_oldest_effective_credit_first_whatever_its_priority() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder.fifo())
    newer = grant(ledger, priority=0, expires_at=T0 + DAY)
    older = grant(ledger, priority=1000, effective_at=T0 - DAY)
    assert first_burned(ledger) == older
    assert [b.id for b in ledger.blocks("ada")] == [older, newer]


def test_fifo_breaks_ties_by_creation_order() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder.fifo())
    first = grant(ledger, priority=900, category="paid")
    second = grant(ledger, priority=1, expires_at=T0 + DAY)
    assert first_burned(ledger) == first
    assert BurnOrder.fifo().keys == ("effective_at", "created")
    assert [b.id for b in ledger.blocks("ada")] == [first, second]


# -- custom orders: each key on its own ----------------------------------------------------------

# For each key: options for a block created FIRST that this key puts SECOND, and options for a
# block created second that this key puts first. Creation order alone would pick the first.
CUSTOM_KEYS = {
    "priority": ({"priority": 90}, {"priority": 10}),
    "expires_at": ({}, {"expires_at": T0 + DAY}),
    "scope": ({}, {"scope": {"trip"}}),
    "category": ({"category": "paid"}, {"category": "promotional"}),
    "cost_basis": ({"cost_basis": "3"}, {"cost_basis": "1"}),
    "effective_at": ({"effective_at": T0}, {"effective_at": T0 - DAY}),
}


@pytest.mark.parametrize("key", sorted(CUSTOM_KEYS))
def test_custom_order_by_single_key_burns_by_that_key(key: str) -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder((key,)))
    loser_options, winner_options = CUSTOM_KEYS[key]
    loser = grant(ledger, **loser_options)
    winner = grant(ledger, **winner_options)
    assert first_burned(ledger, scope="trip") == winner
    assert [b.id for b in ledger.blocks("ada")] == [winner, loser]


def test_custom_order_by_creation_only_ignores_every_other_attribute() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder(("created",)))
    first = grant(ledger, priority=1000, category="paid", cost_basis=9)
    second = grant(ledger, priority=0, expires_at=T0 + DAY, effective_at=T0 - DAY)
    assert first_burned(ledger) == first
    assert [b.id for b in ledger.blocks("ada")] == [first, second]


def test_custom_order_sequence_is_lexicographic() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder(("category", "priority")))
    paid_low = grant(ledger, category="paid", priority=0)
    promo_high = grant(ledger, category="promotional", priority=99)
    promo_low = grant(ledger, category="promotional", priority=5)
    assert [b.id for b in ledger.blocks("ada")] == [promo_low, promo_high, paid_low]


def test_custom_order_appends_creation_as_last_tie_breaker() -> None:
    assert BurnOrder(("priority",)).keys == ("priority", "created")
    assert BurnOrder(("created", "priority")).keys == ("created", "priority")


def test_burn_order_is_a_comparable_value() -> None:
    assert BurnOrder(("priority", "created")) == BurnOrder(("priority",))
    assert BurnOrder.fifo() != BurnOrder.default()


def test_unknown_burn_order_key_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        BurnOrder(("priority", "size"))
    assert caught.value.field == "burn_order"


def test_burn_order_key_named_twice_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        BurnOrder(("priority", "priority"))
    assert caught.value.field == "burn_order"


def test_ledger_burn_order_must_be_a_burn_order() -> None:
    with pytest.raises(ValidationError) as caught:
        Ledger.memory(burn_order=("priority",))  # type: ignore[arg-type]
    assert caught.value.field == "burn_order"


# -- holds and captures follow the same order ------------------------------------------------------


def test_hold_pins_blocks_in_custom_burn_order() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder.fifo())
    newer = grant(ledger, priority=0)
    older = grant(ledger, priority=99, effective_at=T0 - DAY)
    hold = ledger.hold("ada", 15, hold_id="h1").hold
    assert hold.allocations == ((older, Decimal(10)), (newer, Decimal(5)))


def test_capture_consumes_pinned_blocks_in_custom_burn_order() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder(("category",)))
    paid = grant(ledger, category="paid")
    promo = grant(ledger, category="promotional")
    ledger.hold("ada", 20, hold_id="h1")
    result = ledger.capture("h1", 12)
    captured = [(e.block_id, e.amount) for e in result.entries if e.kind == "capture"]
    assert captured == [(promo, Decimal(10)), (paid, Decimal(2))]
    assert ledger.get_block(paid).remaining == Decimal(8)
    assert ledger.get_block(promo).remaining == Decimal(0)


def test_preview_burn_follows_the_ledger_burn_order() -> None:
    ledger = Ledger.memory(clock=lambda: T0, burn_order=BurnOrder(("cost_basis",)))
    dear = grant(ledger, cost_basis=2)
    cheap = grant(ledger, cost_basis=1)
    preview = ledger.preview_burn("ada", 15)
    assert preview.allocations == ((cheap, Decimal(10)), (dear, Decimal(5)))


def test_every_order_sorts_by_the_documented_key_functions() -> None:
    """Each order compiles its keys into one function; it must agree with ``order.KEYS``."""
    import itertools

    from creditcore.order import KEYS
    from creditcore.state import BlockState

    t = datetime(2026, 1, 1, tzinfo=UTC)
    blocks = [
        BlockState(
            id=f"b{n}",
            customer="ada",
            unit="credits",
            number=n,
            amount=5,
            remaining=5,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scope,
            effective_at=t + timedelta(hours=n % 3),
            expires_at=expires,
            created_at=t,
        )
        for n, (priority, category, basis, scope, expires) in enumerate(
            itertools.product(
                (0, 50),
                ("promotional", "paid"),
                (None, Decimal("0.5")),
                (None, frozenset({"trip"})),
                (None, t + timedelta(days=1)),
            )
        )
    ]
    for keys in (BurnOrder.default().keys, BurnOrder.fifo().keys, ("cost_basis", "scope", "expires_at")):
        order = BurnOrder(keys)
        for block in blocks:
            assert order.key(block) == tuple(KEYS[k](block) for k in order.keys), (keys, block.id)

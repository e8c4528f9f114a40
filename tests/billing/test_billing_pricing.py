"""SPEC_BILLING B3: the price of a quantity under each model, exact, with its edge cases and
properties over the whole class of inputs (tiers of any shape, decimal quantities and rates)."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from billing_strategies import (
    caller_contexts,
    fixed,
    graduated_by_unit,
    numbers,
    price_models,
    quantities,
    rates,
    tier_lists,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from creditcore.billing import PriceModel, Tier, price
from creditcore.errors import ValidationError

D = Decimal
GRADUATED = PriceModel("graduated", tiers=[Tier(10, 2, flat_fee=5), Tier(20, 1, flat_fee=3), Tier(None, "0.5")])
VOLUME = PriceModel("volume", tiers=[Tier(10, 2, flat_fee=5), Tier(20, 1, flat_fee=3), Tier(None, "0.5")])


# -- every model -------------------------------------------------------------------------------


@given(model=price_models(), zero=st.sampled_from([0, "0", D(0), D("0.000"), D("-0"), "-0.0"]))
def test_zero_quantity_costs_nothing_in_every_model(model: PriceModel, zero: object) -> None:
    """q = 0 costs 0 in every model: no flat fee of a first tier (unlike Lago), no package."""
    assert price(model, zero) == 0  # type: ignore[arg-type]


@given(model=price_models(), q=quantities)
def test_a_price_is_never_negative_and_is_a_decimal(model: PriceModel, q: Decimal) -> None:
    result = price(model, q)
    assert isinstance(result, Decimal) and result >= 0


@given(model=price_models(), q=quantities, r=quantities)
def test_more_usage_never_costs_less_except_in_volume(model: PriceModel, q: Decimal, r: Decimal) -> None:
    """Per-unit, graduated and package prices grow with the quantity; a volume price may fall
    when the quantity crosses into a cheaper tier (the documented volume behaviour)."""
    assume(model.model != "volume")
    low, high = sorted([q, r])
    assert price(model, low) <= price(model, high)


@given(model=price_models(), q=quantities)
def test_quantity_given_as_int_str_or_decimal_prices_alike(model: PriceModel, q: Decimal) -> None:
    assert price(model, str(q)) == price(model, q) == price(model, f"  {q}  ")
    if q == q.to_integral_value():
        assert price(model, int(q)) == price(model, q)


def fixed_sum(a: Decimal, b: Decimal) -> Decimal:
    """``a + b`` exactly, whatever the test's context."""
    return a.fma(1, b, decimal.Context(prec=200))


# -- per_unit ------------------------------------------------------------------------------------


@given(unit_price=rates, q=quantities, r=quantities)
def test_per_unit_is_quantity_times_unit_price_and_linear(unit_price: Decimal, q: Decimal, r: Decimal) -> None:
    model = PriceModel("per_unit", unit_price=unit_price)
    assert Fraction(price(model, q)) == Fraction(q) * Fraction(unit_price)
    # summed as rationals: the test's own default context (28 digits) would round the sum
    assert Fraction(price(model, q)) + Fraction(price(model, r)) == Fraction(price(model, fixed_sum(q, r)))


def test_per_unit_keeps_sub_cent_rates_exact() -> None:
    """Rates are not limited to the unit's scale: 0.000001 usd a token, 1,234,567 tokens."""
    assert price(PriceModel(unit_price="0.000001"), 1_234_567) == D("1.234567")
    assert price(PriceModel(unit_price="0.000000000001"), "0.000000000001") == D("1E-24")


# -- graduated -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("0.5", D("1.0") + 5),  # a part of a unit enters the first tier and pays its flat fee
        (1, 2 + 5),
        (10, 20 + 5),  # the boundary itself is the last unit of the lower tier
        ("10.001", 25 + D("0.001") + 3),  # past it by a thousandth: the next tier and its fee
        (20, 25 + 10 + 3),
        (21, 25 + 13 + D("0.5")),  # the unbounded tier has no fee
        (1000, 25 + 13 + 490),
    ],
)
def test_graduated_fills_each_tier_and_adds_its_flat_fee_when_entered(q: object, expected: Decimal) -> None:
    assert price(GRADUATED, q) == expected  # type: ignore[arg-type]


@given(tiers=tier_lists(), q=quantities)
def test_graduated_equals_the_sum_of_its_tiers_each_priced_per_unit(tiers: list[Tier], q: Decimal) -> None:
    """Tier i prices u_i = clamp(q - b_{i-1}, 0, up_to_i - b_{i-1}) units at its own unit price
    (a per-unit price), plus its flat fee when u_i > 0; the graduated price is their sum. The
    last tier is not clamped (see the bounded-last-tier test)."""
    total, below = Fraction(0), D(0)  # the sum as a rational: never rounded by the test's context
    for index, tier in enumerate(tiers):
        room = None if tier.up_to is None or index == len(tiers) - 1 else tier.up_to - below
        units = max(q - below, D(0)) if room is None else min(max(q - below, D(0)), room)
        if units > 0:
            total += Fraction(price(PriceModel(unit_price=tier.unit_price), units)) + Fraction(tier.flat_fee)
        if tier.up_to is not None:
            below = tier.up_to
    assert Fraction(price(PriceModel("graduated", tiers=tiers), q)) == total


@given(tiers=tier_lists(whole=True), q=st.integers(0, 150))
def test_graduated_matches_a_unit_by_unit_count(tiers: list[Tier], q: int) -> None:
    """An independent oracle: walk the units one by one (whole bounds and quantities). Past the
    last bound of a bounded last tier, the last tier keeps pricing."""
    assert Fraction(price(PriceModel("graduated", tiers=tiers), q)) == graduated_by_unit(tiers, q)


@given(tiers=tier_lists(), q=quantities, extra=numbers(places=6, high=10**6, low=1))
def test_graduated_extra_units_cost_the_marginal_tiers_only(tiers: list[Tier], q: Decimal, extra: Decimal) -> None:
    """Adding units never changes what the earlier units cost: the increase is the price of
    the extra units in the tiers they fall in, never less than 0."""
    model = PriceModel("graduated", tiers=tiers)
    more = fixed_sum(q, extra)
    assert price(model, more) >= price(model, q)
    marginal = min(t.unit_price for t in tiers)
    assert Fraction(price(model, more)) - Fraction(price(model, q)) >= Fraction(extra) * Fraction(marginal)


def test_graduated_with_a_bounded_last_tier_keeps_pricing_past_it() -> None:
    """B3's formula clamps every tier to its bound, which would leave the units past a bounded
    last tier unpriced (Hanzo's loop does leave them free). creditcore prices them in the last
    tier, as a volume price falls back on its last tier: usage is never free by accident."""
    model = PriceModel("graduated", tiers=[Tier(10, 1), Tier(20, 2)])
    assert price(model, 25) == 10 + 2 * 15


# -- volume --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("0.5", D("1.0") + 5),
        (10, 20 + 5),  # a boundary belongs to the lower tier
        ("10.001", D("10.001") + 3),  # any amount past it, however small, is the next tier
        (20, 20 + 3),
        (21, D("10.5")),
        (1000, 500),
    ],
)
def test_volume_prices_every_unit_at_the_tier_the_total_reaches(q: object, expected: Decimal) -> None:
    assert price(VOLUME, q) == expected  # type: ignore[arg-type]


@given(tiers=tier_lists(), data=st.data())
def test_volume_is_linear_and_monotone_within_a_tier(tiers: list[Tier], data: st.DataObject) -> None:
    """Inside tier i, (b_{i-1}, up_to_i], the price is q x unit_price_i + flat_fee_i, so it grows
    with q; its top boundary is still tier i."""
    index = data.draw(st.integers(0, len(tiers) - 1))
    below = D(0) if index == 0 else tiers[index - 1].up_to
    assert below is not None
    tier = tiers[index]
    # the last tier takes everything past its predecessor, bounded or not
    top = below + 10**6 if index == len(tiers) - 1 or tier.up_to is None else tier.up_to
    steps = data.draw(st.lists(st.integers(1, 10**6), min_size=2, max_size=2))
    q1, q2 = sorted(below + fixed(int(Fraction(top - below) * step), 6) for step in steps)
    assume(below < q1)
    model = PriceModel("volume", tiers=tiers)
    for q in (q1, q2):
        assert Fraction(price(model, q)) == Fraction(q) * Fraction(tier.unit_price) + Fraction(tier.flat_fee)
    assert price(model, q1) <= price(model, q2)


@given(tiers=tier_lists(), data=st.data())
def test_volume_boundary_belongs_to_the_lower_tier(tiers: list[Tier], data: st.DataObject) -> None:
    bounded = [i for i, t in enumerate(tiers[:-1]) if t.up_to is not None]
    assume(bounded)
    i = data.draw(st.sampled_from(bounded))
    edge = tiers[i].up_to
    assert edge is not None
    model = PriceModel("volume", tiers=tiers)
    below, above = tiers[i], tiers[i + 1]
    assert Fraction(price(model, edge)) == Fraction(edge) * Fraction(below.unit_price) + Fraction(below.flat_fee)
    past = fixed_sum(edge, D("1E-12"))
    assert Fraction(price(model, past)) == Fraction(past) * Fraction(above.unit_price) + Fraction(above.flat_fee)


def test_volume_past_a_bounded_last_tier_uses_the_last_tier() -> None:
    """ "The first tier with q <= up_to (else the last)"."""
    model = PriceModel("volume", tiers=[Tier(10, 2), Tier(20, 1, flat_fee=4)])
    assert price(model, 50) == 54


# -- package ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "free", "expected_packages"),
    [
        (1, 0, 1),  # a package begun is a package
        (100, 0, 1),
        ("100.000001", 0, 2),
        (101, 0, 2),
        (100, 100, 0),  # at the free units: nothing
        (99, 100, 0),  # below them: nothing, never negative
        ("100.5", 100, 1),
        (300, "0.5", 3),
    ],
)
def test_package_counts_packages_begun_after_the_free_units(q: object, free: object, expected_packages: int) -> None:
    model = PriceModel("package", package_size=100, package_price="1.25", free_units=free)
    assert price(model, q) == expected_packages * D("1.25")  # type: ignore[arg-type]


@given(
    size=numbers(places=3, high=10**6, low=1),
    package_price=rates,
    free=numbers(places=3, high=10**6),
    q=quantities,
)
def test_package_matches_a_rational_ceiling(size: Decimal, package_price: Decimal, free: Decimal, q: Decimal) -> None:
    model = PriceModel("package", package_size=size, package_price=package_price, free_units=free)
    packages = math.ceil(max(Fraction(q) - Fraction(free), Fraction(0)) / Fraction(size))
    assert Fraction(price(model, q)) == packages * Fraction(package_price)


# -- exactness -----------------------------------------------------------------------------------


def test_prices_stay_exact_far_past_a_default_context() -> None:
    """28 digits is Python's default precision; a price uses the library's own context."""
    big = fixed(10**30 + 1, 6)  # 31 significant digits
    assert price(PriceModel(unit_price="0.000000000003"), big) == D("3000000000000.000000000000000003")
    assert Fraction(price(GRADUATED, D(10**40))) == 25 + 13 + Fraction(10**40 - 20, 2)


def test_a_quantity_too_long_to_price_exactly_is_refused_not_rounded() -> None:
    q = "1" + "1" * 80 + "." + "1" * 30  # 111 significant digits, beyond the library's 100
    with pytest.raises(ValidationError) as error:
        price(PriceModel(unit_price="0.333333333333"), q)
    assert error.value.field == "quantity"


@given(model=price_models(), q=quantities, context=caller_contexts)
def test_price_ignores_the_callers_context(model: PriceModel, q: Decimal, context: decimal.Context) -> None:
    """A host app's precision of 1 to 12 digits, any rounding and any traps (Inexact, Rounded,
    FloatOperation...) change nothing: not the figure, not even its form."""
    expected = price(model, q)
    with decimal.localcontext(context):
        result = price(model, str(q))
        rebuilt = PriceModel(
            model.model,
            unit_price=None if model.unit_price is None else str(model.unit_price),
            tiers=None
            if model.tiers is None
            else [Tier(t.up_to, str(t.unit_price), str(t.flat_fee)) for t in model.tiers],
            package_size=model.package_size,
            package_price=model.package_price,
            free_units=str(model.free_units),
        )
        again = price(rebuilt, q)
    assert str(result) == str(expected) == str(again)
    assert rebuilt == model


def test_a_rate_given_with_padding_zeros_keeps_at_most_twelve_places() -> None:
    """Trailing zeros are not places: ``"0.10"`` stays as given, a longer padding is cut to
    the 12 places a rate may have, and a zero padded that far is a plain 0."""
    tier = Tier("0.1000000000000000", "0.10", flat_fee="-0.0000000000000000")
    assert str(tier.up_to) == "0.100000000000" and str(tier.unit_price) == "0.10" and str(tier.flat_fee) == "0"
    assert str(PriceModel(unit_price="1." + "0" * 5000).unit_price) == "1.000000000000"

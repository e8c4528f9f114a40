"""SPEC_BILLING B3 (rounding) and B5/B11 (percent off): ``round_half_up`` and ``percent_off``,
against independent oracles on exact rationals, at any magnitude and sign, in any caller's
``decimal`` context."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import pytest
from billing_strategies import caller_contexts, fixed, numbers, round_half_up_oracle
from hypothesis import given
from hypothesis import strategies as st

from creditcore.billing import percent_off, round_half_up

D = Decimal

signed_numbers = st.builds(lambda n, places: fixed(n, places), st.integers(-(10**40), 10**40), st.integers(-20, 40))
scales = st.integers(0, 18)


# -- round_half_up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "scale", "expected"),
    [
        ("0.5", 0, "1"),
        ("1.5", 0, "2"),
        ("2.5", 0, "3"),  # half-up, not the banker's 2
        ("-2.5", 0, "-3"),  # a half goes away from zero, symmetric
        ("-0.4", 0, "0"),  # never a negative zero
        ("-0.5", 0, "-1"),
        ("0.004999", 2, "0.00"),
        ("0.005", 2, "0.01"),
        ("0.015", 2, "0.02"),
        ("0.025", 2, "0.03"),
        ("1.4999", 2, "1.50"),
        ("7", 2, "7.00"),  # written with the unit's places
        ("1.5", 18, "1.500000000000000000"),
        ("0.0000000000000000005", 18, "0.000000000000000001"),
        ("0.0000000000000000004999", 18, "0.000000000000000000"),
        ("12345678901234567890123456789.995", 2, "12345678901234567890123456790.00"),
        ("1E+5", 2, "100000.00"),
        ("5E-1000000", 0, "0"),  # far below the last place
        ("-5E-1000000", 3, "0.000"),
    ],
)
def test_round_half_up_cases(x: str, scale: int, expected: str) -> None:
    result = round_half_up(x, scale)
    assert format(result, "f") == expected
    assert result.as_tuple().exponent == -scale


@given(x=signed_numbers, scale=scales)
def test_round_half_up_matches_an_integer_oracle(x: Decimal, scale: int) -> None:
    result = round_half_up(x, scale)
    assert Fraction(result) == round_half_up_oracle(Fraction(x), scale)
    assert result.as_tuple().exponent == -scale


@given(x=signed_numbers, scale=scales)
def test_round_half_up_is_symmetric_and_within_half_a_place(x: Decimal, scale: int) -> None:
    assert round_half_up(-x, scale) == -round_half_up(x, scale)
    assert abs(Fraction(round_half_up(x, scale)) - Fraction(x)) <= Fraction(1, 2 * 10**scale)


@given(x=signed_numbers, scale=scales)
def test_round_half_up_agrees_with_decimal_round_half_up_in_a_wide_context(x: Decimal, scale: int) -> None:
    wide = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_UP)
    assert round_half_up(x, scale) == x.quantize(D(1).scaleb(-scale, wide), context=wide)


@given(x=signed_numbers, scale=scales)
def test_round_half_up_of_a_rounded_value_is_itself(x: Decimal, scale: int) -> None:
    once = round_half_up(x, scale)
    assert round_half_up(once, scale) == once


def test_round_half_up_works_at_any_magnitude() -> None:
    huge = D("1E+5000")
    assert round_half_up(huge, 2) == huge  # too long to write with places: kept, equal in value
    long = "9" * 300 + ".5"
    assert round_half_up(long, 0) == D("1" + "0" * 300)
    assert round_half_up("-" + long, 0) == -D("1" + "0" * 300)
    assert round_half_up("9" * 300 + ".49999", 0) == D("9" * 300)
    assert round_half_up("0." + "4" * 18 + "5", 18) == D("0." + "4" * 17 + "5")
    assert round_half_up("0." + "4" * 518 + "5", 18) == D("0." + "4" * 18)


@given(x=signed_numbers, scale=scales, context=caller_contexts)
def test_round_half_up_ignores_the_callers_context(x: Decimal, scale: int, context: decimal.Context) -> None:
    expected = round_half_up(x, scale)
    with decimal.localcontext(context):
        result = round_half_up(x, scale)
    assert str(result) == str(expected)


# -- percent_off -----------------------------------------------------------------------------------


def hanzo_discount_cents(subtotal: int, percent: int) -> int:
    """Hanzo's ``DiscountCents`` (billing/engine/discount.go), line for line: the oracle for
    whole percents of whole cents."""
    if subtotal <= 0 or percent <= 0:
        return 0
    if percent >= 100:
        return subtotal
    return min((subtotal * percent + 50) // 100, subtotal)


@given(cents=st.integers(0, 10**12), percent=st.integers(-200, 300))
def test_percent_off_matches_hanzos_integer_formula(cents: int, percent: int) -> None:
    assert percent_off(fixed(cents, 2), percent, 2) == fixed(hanzo_discount_cents(cents, percent), 2)


@given(amount=numbers(places=6, high=10**15), percent=numbers(places=4, high=100_0000), scale=st.integers(6, 18))
def test_percent_off_is_the_rounded_share_never_above_the_amount(amount: Decimal, percent: Decimal, scale: int) -> None:
    result = percent_off(amount, percent, scale)
    share = round_half_up_oracle(Fraction(amount) * Fraction(percent) / 100, scale)
    assert Fraction(result) == min(Fraction(amount), share)
    assert 0 <= result <= amount
    assert result.as_tuple().exponent == -scale


@given(
    amount=numbers(places=2, high=10**9), low=numbers(places=4, high=150_0000), high=numbers(places=4, high=150_0000)
)
def test_percent_off_grows_with_the_percent(amount: Decimal, low: Decimal, high: Decimal) -> None:
    low, high = sorted([low, high])
    assert percent_off(amount, low, 2) <= percent_off(amount, high, 2)


@given(amount=numbers(places=2, high=10**9), percent=st.one_of(st.integers(-(10**6), 0), st.just("-0.0001")))
def test_percent_off_at_or_below_zero_takes_nothing(amount: Decimal, percent: object) -> None:
    assert str(percent_off(amount, percent, 2)) == "0.00"  # type: ignore[arg-type]


@given(amount=numbers(places=2, high=10**9), percent=st.one_of(st.integers(100, 10**6), st.just("100.0001")))
def test_percent_off_at_or_above_a_hundred_takes_the_whole_amount(amount: Decimal, percent: object) -> None:
    assert percent_off(amount, percent, 2) == amount  # type: ignore[arg-type]
    assert percent_off(amount, percent, 2).as_tuple().exponent == -2  # type: ignore[arg-type]


@given(amount=numbers(places=2, high=10**12), percent=numbers(places=4, high=100_0000))
def test_percent_off_leaves_a_remainder_that_is_never_negative(amount: Decimal, percent: Decimal) -> None:
    """What the customer pays after the discount, ``amount - percent_off``, is in [0, amount]."""
    rest = amount - percent_off(amount, percent, 2)
    assert 0 <= rest <= amount


def test_percent_off_of_nothing_is_nothing() -> None:
    assert str(percent_off(0, 50, 2)) == "0.00"
    assert str(percent_off("0.00", 100, 0)) == "0"


def test_percent_off_with_a_very_precise_percent_stays_exact() -> None:
    assert percent_off("1.00", "49.99999999999999999999999999999", 2) == D("0.50")
    assert percent_off("1.00", "0.4999999999999999999999999999999", 2) == D("0.00")
    assert percent_off("1.00", "0.5", 2) == D("0.01")  # exactly half a cent: up
    assert percent_off("1.00", "1E-1000000", 2) == D("0.00")


@given(
    amount=numbers(places=2, high=10**15),
    percent=numbers(places=4, high=100_0000),
    context=caller_contexts,
)
def test_percent_off_ignores_the_callers_context(amount: Decimal, percent: Decimal, context: decimal.Context) -> None:
    expected = percent_off(amount, percent, 2)
    with decimal.localcontext(context):
        result = percent_off(amount, percent, 2)
    assert str(result) == str(expected)

"""Pricing, rounding and percentages off: pure and exact.

Every figure is an exact ``Decimal``, computed in the library's own ``decimal`` context,
whatever context the caller has set (a precision of 6, ``Inexact`` trapped, another rounding):
the result never depends on it.

A price of a quantity ``q >= 0`` (:func:`price`):

- ``per_unit``: ``q * unit_price``;
- ``graduated``: each tier prices the units that fall in it, plus its flat fee if any do; the
  last tier takes every unit past the one before it, even when it has a bound;
- ``volume``: the first tier with ``q <= up_to`` (else the last) prices all the units, plus its
  flat fee; a boundary belongs to the lower tier;
- ``package``: ``ceil(max(q - free_units, 0) / package_size) * package_price``;
- ``q = 0`` costs 0 in every model (no flat fee either).

A line's amount is its exact price rounded once, half-up, to the unit's scale
(:func:`round_half_up`): never per tier, never after summing lines.

>>> from creditcore.billing.values import PriceModel, Tier
>>> tiers = [Tier(100, "0.10"), Tier(600, "0.05"), Tier(None, "0.01", flat_fee=1)]
>>> price(PriceModel("graduated", tiers=tiers), 700)
Decimal('37.00')
>>> price(PriceModel("volume", tiers=tiers), 600)
Decimal('30.00')
>>> round_half_up("0.025", 2)
Decimal('0.03')
>>> percent_off("19.99", 33, 2)
Decimal('6.60')
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, Inexact, localcontext

from creditcore.billing.values import ZERO, PriceModel, Tier, decimal_places, parse_decimal
from creditcore.errors import ValidationError
from creditcore.values import DECIMAL_CONTEXT, parse_scale

__all__ = ["percent_off", "price", "round_half_up"]

#: The library's context with ``Inexact`` trapped: a figure that cannot be exact raises
#: rather than round (only a quantity of about a hundred significant digits gets there).
_EXACT = DECIMAL_CONTEXT.copy()
_EXACT.traps[Inexact] = True
#: The longest result written out in full with its decimal places; a longer one (a number
#: like ``1E+5000``) keeps its exponent form, equal in value.
_MAX_WRITTEN_DIGITS = 1000


def _with_places(sign: int, coefficient: int, scale: int) -> Decimal:
    """``(-1)**sign * coefficient * 10**-scale`` written with exactly ``scale`` places (a zero
    without a sign), built from its digits so that no context rounds it."""
    digits = tuple(map(int, str(coefficient)))
    return Decimal((sign if coefficient else 0, digits, -scale))


def round_half_up(x: Decimal | int | str, scale: int) -> Decimal:
    """``x`` rounded to ``scale`` decimal places (0 to 18), a half away from zero: 0.005 ->
    0.01 and -0.005 -> -0.01 at scale 2, so that ``round_half_up(-x) == -round_half_up(x)``.

    Exact at any magnitude and any number of digits (integer arithmetic on the digits): the
    result has exactly ``scale`` places (a number of more than a thousand digits keeps its
    exponent form).

    >>> round_half_up("2.5", 0), round_half_up("-2.5", 0), round_half_up("1.4999", 2)
    (Decimal('3'), Decimal('-3'), Decimal('1.50'))
    """
    number = parse_decimal(x, "x")
    places = parse_scale(scale)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if not number:
        return _with_places(0, 0, places)
    if exponent == -places:  # written with its places already
        return number
    if exponent >= -places:  # nothing to round: write it with its places
        if len(digits) + exponent + places > _MAX_WRITTEN_DIGITS:
            return number
        return Decimal((sign, digits + (0,) * (exponent + places), -places))
    drop = -places - exponent  # digits below the last place kept
    if drop > len(digits):  # less than a tenth of the last place: rounds to 0
        return _with_places(0, 0, places)
    coefficient = int("".join(map(str, digits)))
    kept, rest = divmod(coefficient, 10**drop)
    if 2 * rest >= 10**drop:
        kept += 1
    return _with_places(sign, kept, places)


def percent_off(amount: Decimal | int | str, percent: Decimal | int | str, scale: int) -> Decimal:
    """The discount ``percent`` takes off ``amount`` in a unit of ``scale`` places:
    ``min(amount, round_half_up(amount * percent / 100, scale))``.

    ``amount >= 0`` in the unit's precision (at most ``scale`` places). Any ``percent`` is
    clamped: ``<= 0`` takes nothing off (never a surcharge), ``>= 100`` the whole amount (a
    discount never turns a charge into a refund). The result has ``scale`` places and never
    exceeds ``amount``.

    >>> percent_off("10.01", 33, 2), percent_off("20.00", 150, 2), percent_off("20.00", -10, 2)
    (Decimal('3.30'), Decimal('20.00'), Decimal('0.00'))
    """
    places = parse_scale(scale)
    whole = parse_decimal(amount, "amount")
    if whole < 0:
        raise ValidationError("amount", f"must be zero or more, got {whole}")
    if decimal_places(whole) > places:
        raise ValidationError("amount", f"{whole} has more than {places} decimal place(s), the precision of the unit")
    rate = parse_decimal(percent, "percent")
    written = round_half_up(whole, places)  # the amount itself, with its places
    if rate <= 0 or not whole:
        return round_half_up(0, places)
    if rate >= 100:
        return written
    _rate_sign, rate_digits, rate_exponent = rate.as_tuple()
    assert isinstance(rate_exponent, int)
    _sign, digits, exponent = whole.as_tuple()
    assert isinstance(exponent, int)
    product = int("".join(map(str, digits))) * int("".join(map(str, rate_digits)))
    exact = Decimal((0, tuple(map(int, str(product))), exponent + rate_exponent - 2))  # amount * percent / 100
    return min(written, round_half_up(exact, places))


def _quantity(value: object) -> Decimal:
    number = parse_decimal(value, "quantity")
    if number < 0:
        raise ValidationError("quantity", f"must be zero or more, got {number}")
    return number


def _graduated(tiers: tuple[Tier, ...], q: Decimal) -> Decimal:
    total, below = ZERO, ZERO  # below: the bound of the previous tier, b_{i-1}
    last = len(tiers) - 1
    for index, tier in enumerate(tiers):
        # the last tier takes every unit past its predecessor, even when it has a bound (as
        # a volume price falls back on its last tier): no unit is ever left unpriced
        units = q - below if tier.up_to is None or index == last else min(q, tier.up_to) - below
        if units <= 0:
            break
        total += units * tier.unit_price + tier.flat_fee
        if tier.up_to is None:
            break
        below = tier.up_to
    return total


def _volume(tiers: tuple[Tier, ...], q: Decimal) -> Decimal:
    tier = next((t for t in tiers if t.up_to is None or q <= t.up_to), tiers[-1])
    return q * tier.unit_price + tier.flat_fee


def _package(size: Decimal, package_price: Decimal, free_units: Decimal, q: Decimal) -> Decimal:
    paid = max(q - free_units, ZERO)
    packages, rest = divmod(paid, size)  # exact: an integer quotient and what is left
    if rest:
        packages += 1
    return packages * package_price


def price(price: PriceModel, quantity: Decimal | int | str) -> Decimal:
    """The exact price of ``quantity`` (``>= 0``) under ``price``, not rounded.

    >>> from creditcore.billing.values import PriceModel
    >>> price(PriceModel("package", package_size=10, package_price=100, free_units=10), 121)
    Decimal('1200')
    """
    if not isinstance(price, PriceModel):
        raise ValidationError("price", f"expected a PriceModel, got {type(price).__name__}")
    q = _quantity(quantity)
    if not q:
        return ZERO
    try:
        with localcontext(_EXACT):
            if price.model == "per_unit":
                assert price.unit_price is not None
                return q * price.unit_price
            if price.model == "package":
                assert price.package_size is not None and price.package_price is not None
                return _package(price.package_size, price.package_price, price.free_units, q)
            assert price.tiers is not None
            return _graduated(price.tiers, q) if price.model == "graduated" else _volume(price.tiers, q)
    except DecimalException:  # a quantity of about a hundred significant digits or more
        raise ValidationError("quantity", f"{quantity} has too many digits to price exactly") from None

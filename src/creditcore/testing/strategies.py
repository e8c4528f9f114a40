"""Hypothesis strategies for creditcore's arguments.

Each draws only valid values (the state machine and a user's own property tests can rely on
that), shaped to find edge cases: amounts in every accepted form (``int``, ``Decimal``,
numeric ``str``, with trailing zeros that keep the value within the unit's scale), times in
several time zones, priorities and cost bases from a small pool so that burn-order ties are
common.

>>> from hypothesis import given
>>> from creditcore.testing import strategies as cst
>>> @given(cst.amounts(scale=2))
... def test_amounts_are_accepted(amount): ...
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from hypothesis import strategies as st

__all__ = [
    "CATEGORIES",
    "SCOPE_NAMES",
    "ZONES",
    "amounts",
    "aware_datetimes",
    "burn_scopes",
    "categories",
    "cost_bases",
    "decimal_contexts",
    "descriptions",
    "grant_scopes",
    "identifiers",
    "metadata",
    "minor_units",
    "priorities",
    "render_amount",
    "time_zones",
    "unit_amounts",
]

CATEGORIES = ("promotional", "paid")
SCOPE_NAMES = ("trip", "video")
#: Zones the same instant may be written in; the ledger must treat them all alike.
ZONES: tuple[tzinfo, ...] = (
    UTC,
    timezone(timedelta(hours=5, minutes=30), "IST"),
    timezone(timedelta(hours=-8), "PST"),
)
#: How many amount forms :func:`render_amount` knows.
AMOUNT_FORMS = 5


def render_amount(minor: int, scale: int, form: int) -> int | Decimal | str:
    """``minor`` units of a unit with ``scale`` places, written in one of the accepted forms.

    >>> [render_amount(150, 2, f) for f in range(5)]
    [Decimal('1.50'), Decimal('1.50'), '1.50', Decimal('1.500'), '1.5000']
    >>> [render_amount(3, 0, f) for f in range(5)]
    [3, Decimal('3'), '3', Decimal('3.0'), '3.00']
    """
    value = Decimal(minor).scaleb(-scale)
    text = str(value)
    point = "" if "." in text else "."
    form %= AMOUNT_FORMS
    if form == 0:
        return minor // 10**scale if minor % 10**scale == 0 else value
    if form == 1:
        return value
    if form == 2:
        return text
    if form == 3:
        return Decimal(text + point + "0")  # same value, one more place: judged by value
    return text + point + "00"


def minor_units(*, min_minor: int = 1, max_minor: int = 10_000) -> st.SearchStrategy[int]:
    """Integer amounts in minor units."""
    return st.integers(min_value=min_minor, max_value=max_minor)


def amounts(scale: int = 0, *, min_minor: int = 1, max_minor: int = 10_000) -> st.SearchStrategy[int | Decimal | str]:
    """Valid amounts for a unit of ``scale`` decimal places, between ``min_minor`` and
    ``max_minor`` minor units, as ``int``, ``Decimal`` or ``str``."""
    return st.builds(
        render_amount,
        minor_units(min_minor=min_minor, max_minor=max_minor),
        st.just(scale),
        st.integers(min_value=0, max_value=AMOUNT_FORMS - 1),
    )


def unit_amounts(
    units: Mapping[str, int], *, min_whole: int = 1, max_whole: int = 100
) -> st.SearchStrategy[tuple[str, int | Decimal | str]]:
    """``(unit, amount)`` pairs, the amount valid for that unit's scale and between
    ``min_whole`` and ``max_whole`` whole units (fractions in between for scaled units)."""

    def for_unit(unit: str) -> st.SearchStrategy[tuple[str, int | Decimal | str]]:
        scale = units[unit]
        found = amounts(scale, min_minor=max(1, min_whole * 10**scale), max_minor=max_whole * 10**scale)
        return st.tuples(st.just(unit), found)

    return st.sampled_from(sorted(units)).flatmap(for_unit)


def time_zones() -> st.SearchStrategy[tzinfo]:
    return st.sampled_from(ZONES)


def aware_datetimes(
    min_value: datetime = datetime(2000, 1, 1), max_value: datetime = datetime(2100, 1, 1)
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes (microsecond resolution) in one of :data:`ZONES`.

    ``min_value`` and ``max_value`` are naive, as :func:`hypothesis.strategies.datetimes`
    wants them.
    """
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=time_zones())


def priorities() -> st.SearchStrategy[int]:
    """``0..1000``, mostly from a few values so that ties (and the next keys) matter."""
    return st.one_of(st.sampled_from((50, 0, 10, 1000)), st.integers(min_value=0, max_value=1000))


def categories() -> st.SearchStrategy[str]:
    return st.sampled_from(CATEGORIES)


def cost_bases() -> st.SearchStrategy[Decimal | str | None]:
    """``None`` or a price per credit ``>= 0`` (``None`` and 0 tie in burn order)."""
    return st.one_of(
        st.none(),
        st.sampled_from((Decimal(0), Decimal("0.01"), Decimal("0.5"), "0.01")),
        st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False),
    )


def grant_scopes(names: Sequence[str] = SCOPE_NAMES) -> st.SearchStrategy[frozenset[str] | None]:
    """``None`` (usable by any burn) or a non-empty set of scope names."""
    return st.one_of(st.none(), st.frozensets(st.sampled_from(names), min_size=1))


def burn_scopes(names: Sequence[str] = (*SCOPE_NAMES, "food")) -> st.SearchStrategy[str | None]:
    """``None`` (unscoped credit only) or one scope name; pass a name no grant uses to get
    burns only unscoped credit can serve."""
    return st.one_of(st.none(), st.sampled_from(names))


def identifiers(prefix: str = "", *, max_size: int = 12) -> st.SearchStrategy[str]:
    """Non-empty identifiers (customers, keys, hold ids)."""
    alphabet = st.characters(codec="utf-8", exclude_categories=["Cs"])
    return st.text(alphabet, min_size=1, max_size=max_size).map(lambda text: prefix + text)


def descriptions() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.text(max_size=40))


def metadata() -> st.SearchStrategy[dict[str, str]]:
    """Small ``dict[str, str]`` values."""
    return st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3)


#: Every signal a ``decimal`` context may trap, and every rounding it may use.
_SIGNALS = (
    decimal.Clamped, decimal.DivisionByZero, decimal.Inexact, decimal.InvalidOperation, decimal.Overflow,
    decimal.Rounded, decimal.Subnormal, decimal.Underflow, decimal.FloatOperation,
)  # fmt: skip
_ROUNDINGS = (
    decimal.ROUND_CEILING, decimal.ROUND_DOWN, decimal.ROUND_FLOOR, decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN, decimal.ROUND_HALF_UP, decimal.ROUND_UP, decimal.ROUND_05UP,
)  # fmt: skip


def decimal_contexts(*, max_precision: int = 30) -> st.SearchStrategy[decimal.Context]:
    """Any ``decimal`` context a host app might have set — a tiny precision, any rounding, any
    traps, a narrow exponent range — for proving that results do not depend on it."""
    return st.builds(
        lambda prec, rounding, traps, emax: decimal.Context(
            prec=prec, rounding=rounding, traps=traps, Emax=emax, Emin=-emax
        ),
        prec=st.integers(1, max_precision),
        rounding=st.sampled_from(_ROUNDINGS),
        traps=st.lists(st.sampled_from(_SIGNALS), unique=True),
        emax=st.sampled_from([3, 30, decimal.MAX_EMAX]),
    )

"""Hypothesis strategies and small oracles shared by the billing tests.

Numbers are built from their digits (``Decimal(f"{n}E-{places}")``), never through a
``decimal`` context, so that a strategy cannot round what it draws. The oracles compute with
``fractions.Fraction``: exact rational arithmetic that shares no code with the library.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

from creditcore.billing import MeterReading, PriceModel, Tier
from creditcore.testing import strategies as cst

T0 = datetime(2026, 1, 1, tzinfo=UTC)

#: Any context a host app might have set: a tiny precision, any rounding, any traps.
caller_contexts = cst.decimal_contexts(max_precision=12)


def fixed(n: int, places: int) -> Decimal:
    """``n * 10**-places``, exactly, with ``places`` places."""
    return Decimal(f"{n}E{-places}")


def numbers(*, places: int = 4, high: int = 10**9, low: int = 0) -> st.SearchStrategy[Decimal]:
    """Exact decimals in ``[low, high]`` (in units of the last place) with up to ``places`` places."""
    return st.builds(fixed, st.integers(low, high), st.integers(0, places))


rates = numbers(places=12, high=10**14)
quantities = numbers(places=6, high=10**12)


@st.composite
def tier_lists(draw: st.DrawFn, *, whole: bool = False, max_tiers: int = 5) -> list[Tier]:
    """One to ``max_tiers`` valid tiers: bounds strictly increasing, the last maybe unbounded.
    ``whole``: integer bounds (for the unit-by-unit oracle)."""
    count = draw(st.integers(1, max_tiers))
    bound_strategy = st.integers(1, 60).map(Decimal) if whole else numbers(places=3, high=10**6, low=1)
    bounds = sorted(set(draw(st.lists(bound_strategy, min_size=count, max_size=count))))
    if draw(st.booleans()):
        bounds.append(None)  # type: ignore[arg-type]
    prices = numbers(places=4, high=10**6)
    return [Tier(b, draw(prices), flat_fee=draw(st.one_of(st.just(0), prices))) for b in bounds]


@st.composite
def price_models(draw: st.DrawFn) -> PriceModel:
    """A valid price of any model."""
    model = draw(st.sampled_from(["per_unit", "graduated", "volume", "package"]))
    if model == "per_unit":
        return PriceModel(model, unit_price=draw(rates))
    if model == "package":
        return PriceModel(
            model,
            package_size=draw(numbers(places=3, high=10**6, low=1)),
            package_price=draw(rates),
            free_units=draw(numbers(places=3, high=10**6)),
        )
    return PriceModel(model, tiers=draw(tier_lists()))


def round_half_up_oracle(x: Fraction, scale: int) -> Fraction:
    """Half away from zero, on exact rationals."""
    magnitude = math.floor(abs(x) * 10**scale + Fraction(1, 2))
    return Fraction(-magnitude if x < 0 else magnitude, 10**scale)


def graduated_by_unit(tiers: list[Tier], quantity: int) -> Fraction:
    """A graduated price for a whole quantity and whole bounds, unit by unit: unit ``k`` costs
    the price of the first tier whose bound it does not pass, and each tier used adds its flat
    fee once."""
    total, used = Fraction(0), set()
    for k in range(1, quantity + 1):
        index = next(i for i, t in enumerate(tiers) if t.up_to is None or k <= t.up_to or i == len(tiers) - 1)
        total += Fraction(tiers[index].unit_price)
        used.add(index)
    return total + sum((Fraction(tiers[i].flat_fee) for i in used), Fraction(0))


def readings(*, keys: bool = True, span: timedelta = timedelta(hours=6)) -> st.SearchStrategy[list[MeterReading]]:
    """Up to 20 readings within ``span`` after T0, on whole minutes (so that many share an
    instant), with values, keys of mixed case and a dimension or two."""
    minutes = int(span / timedelta(minutes=1))
    one = st.builds(
        MeterReading,
        st.integers(0, minutes).map(lambda m: T0 + timedelta(minutes=m)),
        st.integers(0, 10**6).map(lambda n: fixed(n, 2)),
        unique_key=st.sampled_from(["k1", "K1", "k2", "k3"]) if keys else st.none(),
        dimensions=st.fixed_dictionaries(
            {}, optional={"model": st.sampled_from(["a", "b", "B"]), "region": st.just("eu")}
        ),
    )
    return st.lists(one, max_size=20)

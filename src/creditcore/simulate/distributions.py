"""Where a random amount or ratio comes from: fixed, uniform, lognormal or beta.

Amounts are exact: an int, a numeric string or a TOML float taken as written (``4.99``),
turned into integer minor units of the scenario's unit. Only the random draws of a
distribution are floats, and each draw is rounded to the unit's precision at once.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import attrs

from creditcore.simulate.fields import _non_negative, _share
from creditcore.simulate.limits import MAX_SIGMA
from creditcore.simulate.reading import _Problem
from creditcore.values import MAX_MINOR


@attrs.frozen
class Distribution:
    """Where a random amount or ratio comes from.

    ``fixed`` (``value``), ``uniform`` (``min``, ``max``), ``lognormal`` (``median``,
    ``sigma``, optional ``max`` cap) or ``beta`` (``a``, ``b``; ratios only).
    """

    kind: str
    a: float = 0.0
    b: float = 0.0
    cap: float | None = None
    exact: int | None = None
    """A fixed amount in minor units: no float is involved."""

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "beta":
            return rng.betavariate(self.a, self.b)
        return _lognormal(rng, self.a, self.b, self.cap)

    def minor_drawer(self, factor: int) -> Callable[[random.Random], int]:
        """A function drawing an amount in minor units (``factor`` = 10 ** scale) from a
        stream: at least one minor unit, at most the largest amount a ledger stores. A run
        makes one per rule and calls it for every event."""
        exact = self.exact
        if exact is not None:
            return lambda rng: exact
        if self.kind == "lognormal":  # the usual usage amount: _minor(_lognormal(...)), inlined
            mu, sigma, cap = self.a, self.b, math.inf if self.cap is None else self.cap
            exp, gauss = math.exp, random.Random.gauss

            def lognormal(rng: random.Random) -> int:
                exponent = gauss(rng, mu, sigma)
                value = exp(exponent) if exponent < 709 else math.inf
                scaled = (value if value < cap else cap) * factor
                if not scaled < MAX_MINOR:
                    return MAX_MINOR
                return max(1, round(scaled))

            return lognormal
        draw = self.draw
        return lambda rng: _minor(draw(rng) * factor)


def _lognormal(rng: random.Random, mu: float, sigma: float, cap: float | None) -> float:
    # exp of a normal draw, as rng.lognormvariate(mu, sigma) but without the OverflowError of
    # a far tail; gauss() rather than normalvariate(): half the cost (each stream is one
    # customer's, so its cached second value is never shared)
    exponent = rng.gauss(mu, sigma)
    value = math.exp(exponent) if exponent < 709 else math.inf
    return value if cap is None or value < cap else cap


def _minor(scaled: float) -> int:
    if not scaled < MAX_MINOR:  # a far tail (or infinity) is the largest amount
        return MAX_MINOR
    return max(1, round(scaled))


_DISTRIBUTION_KEYS = {
    "fixed": ("value",),
    "uniform": ("min", "max"),
    "lognormal": ("median", "sigma", "max"),
    "beta": ("a", "b"),
}


def _distribution(value: object, amount_of: Callable[[object], int] | None, largest: float = math.inf) -> Distribution:
    """An amount (``amount_of`` given; no parameter above ``largest``) or a ratio in 0..1
    (``None``)."""
    ratio = amount_of is None
    if not isinstance(value, dict):
        if ratio:
            return Distribution("fixed", a=_share(value))
        assert amount_of is not None
        minor = amount_of(value)
        return Distribution("fixed", a=float(minor), exact=minor)
    kind = value.get("distribution")
    allowed = ("fixed", "uniform", "beta") if ratio else ("fixed", "uniform", "lognormal")
    if kind not in allowed:
        raise _Problem(f"distribution must be one of {', '.join(allowed)}, got {kind!r}")
    keys = _DISTRIBUTION_KEYS[kind]
    for key in value:
        if key != "distribution" and key not in keys:
            raise _Problem(f"unknown key {key!r} for a {kind} distribution; it takes {', '.join(keys)}")
    optional = {"max"} if kind == "lognormal" else set()
    for key in keys:
        if key not in value and key not in optional:
            raise _Problem(f"a {kind} distribution needs {', '.join(k for k in keys if k not in optional)}")

    def num(key: str) -> float:
        try:
            number = _share(value[key]) if ratio else _non_negative(value[key])
        except _Problem as problem:
            raise _Problem(f"{key} {problem}") from None
        if key != "sigma" and number > largest:
            raise _Problem(f"{key} {value[key]} is more than the largest amount a ledger stores ({largest:.6g})")
        return number

    if kind == "fixed":
        if ratio:
            return Distribution("fixed", a=num("value"))
        assert amount_of is not None
        minor = amount_of(value["value"])
        return Distribution("fixed", a=float(minor), exact=minor)
    if kind == "uniform":
        low, high = num("min"), num("max")
        if high < low:
            raise _Problem(f"max ({high}) is less than min ({low})")
        return Distribution("uniform", a=low, b=high)
    if kind == "beta":
        a, b = _non_negative(value["a"]), _non_negative(value["b"])
        if a <= 0 or b <= 0:
            raise _Problem("a and b of a beta distribution must be more than zero")
        return Distribution("beta", a=a, b=b)
    median, sigma = num("median"), num("sigma")
    if median <= 0:
        raise _Problem("median must be more than zero")
    if sigma > MAX_SIGMA:
        raise _Problem(f"sigma {sigma} is more than {MAX_SIGMA:g} (that spreads amounts over 40 orders of magnitude)")
    cap = num("max") if "max" in value else None
    return Distribution("lognormal", a=math.log(median), b=sigma, cap=cap)

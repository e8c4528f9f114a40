"""The pure values of billing: a price's tiers and model, and a meter reading.

Each is a frozen ``attrs`` value checked at construction, so a value that exists is valid:
every bad argument raises :class:`~creditcore.errors.ValidationError` naming it. Numbers are
read as the ledger reads amounts (an ``int``, a ``Decimal`` or a numeric ``str``; floats,
``bool``, NaN and infinities refused) and kept as exact ``Decimal`` values.

- A **rate** (``unit_price``, ``flat_fee``, ``package_price``) is ``>= 0`` with at most 12
  decimal places (0.000001 usd a token is fine), like Stripe's ``unit_amount_decimal``.
- A **quantity bound** (a tier's ``up_to``, ``package_size``, ``free_units``) has at most 12
  decimal places, the finest scale a meter can have.
- Either has at most 38 significant digits, like a cost basis, so that pricing any quantity
  the ledger can hold stays exact.

>>> Tier(100, "0.10")
Tier(up_to=Decimal('100'), unit_price=Decimal('0.10'), flat_fee=Decimal('0'))
>>> PriceModel("package", package_size=100, package_price=1).free_units
Decimal('0')
>>> PriceModel("per_unit", unit_price="0.5", tiers=[Tier(None, 1)])
Traceback (most recent call last):
...
creditcore.errors.ValidationError: tiers: a per_unit price takes no tiers (...): leave it None
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

import attrs

from creditcore.errors import ValidationError
from creditcore.values import MAX_ID_LENGTH, parse_id, parse_optional_id, parse_time

__all__ = [
    "AGGREGATIONS",
    "MAX_METER_ID_LENGTH",
    "MAX_DIMENSIONS",
    "MAX_QUANTITY_PLACES",
    "MAX_RATE_PLACES",
    "MAX_SIGNIFICANT_DIGITS",
    "MODELS",
    "MeterReading",
    "PriceModel",
    "Tier",
]

MODELS = ("per_unit", "graduated", "volume", "package")

_METER_SCOPE = "meter:"
MAX_METER_ID_LENGTH = MAX_ID_LENGTH - len(_METER_SCOPE)
"""The longest meter id: a meter's usage burns credit with the scope ``meter:<id>``, itself an
id of at most 200 characters."""


def meter_scope(meter_id: str) -> str:
    """The scope a meter's usage burns credit with: a usage charge and an invoice line of the
    meter draw only blocks whose scope set includes it (or unscoped blocks)."""
    return _METER_SCOPE + meter_id


def parse_meter_id(value: object) -> str | None:
    """A meter's id as given (``None``: one is made), short enough for its scope."""
    ident = parse_optional_id(value, "meter_id")
    if ident is not None and len(ident) > MAX_METER_ID_LENGTH:
        raise ValidationError(
            "meter_id",
            f"is {len(ident)} characters long; a meter's id may have {MAX_METER_ID_LENGTH} (its usage burns "
            f"credit with the scope {meter_scope('<id>')})",
        )
    return ident


"""How a price turns a quantity into money."""
AGGREGATIONS = ("sum", "count", "max", "unique_count", "latest")
"""How a meter turns its events into a quantity."""
MAX_RATE_PLACES = 12
"""Decimal places a rate may have."""
MAX_QUANTITY_PLACES = 12
"""Decimal places a quantity (a bound, a package, free units, an event's value) may have: the
finest scale of a meter."""
MAX_SIGNIFICANT_DIGITS = 38
"""Significant digits of a rate or a quantity bound."""
MAX_DIMENSIONS = 20
"""Dimensions a reading may carry: as many as a meter declares at most."""

ZERO = Decimal(0)
"""``Decimal(0)``."""
_SHOWN_LENGTH = 40
#: What other names mean in the anchors, for a message that says what to write instead.
_MODEL_HINTS = {"tiered": "graduated", "bulk": "volume", "unit": "per_unit", "standard": "per_unit"}


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN_LENGTH else f"{text[:_SHOWN_LENGTH]}... ({len(text)} characters)"


def _shape(number: Decimal) -> tuple[int, int]:
    """The significant digits and the decimal places of a finite number, trailing zeros not
    counted (``"1.500"`` has two digits and one place)."""
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    trailing = len(digits) - len(bytes(digits).rstrip(b"\0"))
    significant = len(digits) - trailing
    return significant, max(0, -(exponent + trailing)) if significant else 0


def parse_decimal(value: object, field: str) -> Decimal:
    """An exact, finite number of any sign, read as the ledger reads an amount: an ``int``, a
    ``Decimal`` or a numeric ``str`` (floats, ``bool``, NaN and infinities refused); ``-0``
    reads as 0. Exact whatever the caller's ``decimal`` context."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        hint = " (floats are inexact: pass a str or Decimal)" if isinstance(value, float) else ""
        raise ValidationError(field, f"expected an int, Decimal or numeric str, got {type(value).__name__}{hint}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        try:  # the constructor is exact; a context that does not trap this gives NaN, refused below
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(field, f"{_shown(value)!r} is not a number") from None
    if not number.is_finite():
        raise ValidationError(field, f"{_shown(value)} is not a finite number")
    return number.copy_abs() if number.is_zero() else number


def decimal_places(number: Decimal) -> int:
    """The decimal places of a finite number, trailing zeros not counted (``"1.50"`` has one)."""
    return _shape(number)[1]


def parse_number(value: object, field: str, *, places: int, positive: bool = False) -> Decimal:
    """An exact number ``>= 0`` (``> 0`` if ``positive``) with at most ``places`` decimal places
    and :data:`MAX_SIGNIFICANT_DIGITS` significant digits."""
    number = parse_decimal(value, field)
    if number < 0 or (positive and not number):
        raise ValidationError(field, f"must be {'more than zero' if positive else 'zero or more'}, got {_shown(value)}")
    significant, decimals = _shape(number)
    if decimals > places:
        raise ValidationError(field, f"{_shown(value)} has more than {places} decimal places")
    if significant > MAX_SIGNIFICANT_DIGITS:
        raise ValidationError(field, f"{_shown(value)} has more than {MAX_SIGNIFICANT_DIGITS} significant digits")
    return _at_most_places(number, places)


def _at_most_places(number: Decimal, places: int) -> Decimal:
    """``number`` (with at most ``places`` significant places) written with at most ``places``
    places: ``"0.1000000000000000"`` keeps 12, so a value never carries more places than it may
    have (built from its digits, so no context rounds it)."""
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    extra = -exponent - places  # trailing zeros past the last place allowed
    if extra <= 0:
        return number
    if not number:
        return ZERO
    return Decimal((sign, digits[:-extra], exponent + extra))


def _rate(value: object, field: str) -> Decimal:
    return parse_number(value, field, places=MAX_RATE_PLACES)


def _optional_rate(value: object, field: str) -> Decimal | None:
    return None if value is None else _rate(value, field)


# attrs converters are named functions, one per field, so that an error names its field


def _up_to(value: object) -> Decimal | None:
    if value is None:
        return None
    return parse_number(value, "up_to", places=MAX_QUANTITY_PLACES, positive=True)


def _unit_price(value: object) -> Decimal:
    if value is None:
        raise ValidationError("unit_price", "a tier needs a unit_price (0 for none)")
    return _rate(value, "unit_price")


def _flat_fee(value: object) -> Decimal:
    return _rate(value, "flat_fee")


@attrs.frozen
class Tier:
    """One band of a graduated or volume price.

    >>> Tier(None, "0.000001", flat_fee=5).up_to is None
    True
    """

    up_to: Decimal | None = attrs.field(converter=_up_to)
    """The tier's cumulative, inclusive upper bound (``> 0``), in the meter's units: a tier
    with ``up_to=100`` after one with ``up_to=10`` holds units 10 to 100 (past 10, up to and
    including 100). ``None`` for no bound, on the last tier only."""
    unit_price: Decimal = attrs.field(converter=_unit_price)
    """The price of each unit in the tier."""
    flat_fee: Decimal = attrs.field(default=ZERO, converter=_flat_fee)
    """Charged once when the tier is used: in a graduated price when some units fall in it,
    in a volume price when it is the tier that prices the quantity."""


def _model(value: object) -> str:
    if isinstance(value, str) and value in MODELS:
        return value
    hint = f" (write {_MODEL_HINTS[value]!r})" if isinstance(value, str) and value in _MODEL_HINTS else ""
    raise ValidationError("model", f"must be one of {', '.join(map(repr, MODELS))}, got {_shown(repr(value))}{hint}")


def _price_unit_price(value: object) -> Decimal | None:
    return _optional_rate(value, "unit_price")


def _package_price(value: object) -> Decimal | None:
    return _optional_rate(value, "package_price")


def _package_size(value: object) -> Decimal | None:
    if value is None:
        return None
    return parse_number(value, "package_size", places=MAX_QUANTITY_PLACES, positive=True)


def _free_units(value: object) -> Decimal:
    return parse_number(value, "free_units", places=MAX_QUANTITY_PLACES)


def _tiers(value: object) -> tuple[Tier, ...] | None:
    """``None``, or one or more tiers with ``up_to`` strictly increasing and only the last
    without a bound."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError("tiers", f"expected a sequence of Tier, got {type(value).__name__}")
    tiers = tuple(value)
    if not tiers:
        raise ValidationError("tiers", "needs at least one tier")
    for position, tier in enumerate(tiers, 1):
        if not isinstance(tier, Tier):
            raise ValidationError("tiers", f"tier {position} is a {type(tier).__name__}, not a Tier")
    previous: Decimal = ZERO
    for position, tier in enumerate(tiers, 1):
        if tier.up_to is None:
            if position != len(tiers):
                raise ValidationError("tiers", f"only the last tier may have up_to=None; tier {position} has it")
            break
        if tier.up_to <= previous:
            raise ValidationError(
                "tiers", f"up_to must increase strictly: tier {position} has {tier.up_to} after {previous}"
            )
        previous = tier.up_to
    return tiers


#: What each model needs; every other argument must be left at its default.
_NEEDS = {
    "per_unit": ("unit_price",),
    "graduated": ("tiers",),
    "volume": ("tiers",),
    "package": ("package_size", "package_price"),
}
_OWNER = {
    "unit_price": "a per_unit price",
    "tiers": "a graduated or volume price",
    "package_size": "a package price",
    "package_price": "a package price",
}


@attrs.frozen
class PriceModel:
    """What a price charges for a quantity, without its meter, plan or unit:
    :func:`creditcore.billing.pricing.price` computes it.

    - ``per_unit`` needs ``unit_price``;
    - ``graduated`` and ``volume`` need ``tiers`` (at least one, ``up_to`` strictly increasing,
      only the last ``None``);
    - ``package`` needs ``package_size > 0`` and ``package_price``, and alone takes
      ``free_units >= 0``.

    An argument of another model must be left at its default. Nothing falls back: an unknown
    model is refused.

    >>> PriceModel("graduated", tiers=[Tier(100, "0.10"), Tier(None, "0.05")]).tiers[1].unit_price
    Decimal('0.05')
    """

    model: str = attrs.field(default="per_unit", converter=_model)
    """``per_unit``, ``graduated``, ``volume`` or ``package`` (:data:`MODELS`)."""
    unit_price: Decimal | None = attrs.field(default=None, converter=_price_unit_price, kw_only=True)
    """``per_unit``: the price of one unit of quantity."""
    tiers: tuple[Tier, ...] | None = attrs.field(default=None, converter=_tiers, kw_only=True)
    """``graduated`` and ``volume``: the tiers, ``up_to`` strictly increasing, only the last
    ``None``."""
    package_size: Decimal | None = attrs.field(default=None, converter=_package_size, kw_only=True)
    """The units a package holds, in the meter's units."""
    package_price: Decimal | None = attrs.field(default=None, converter=_package_price, kw_only=True)
    """The price of each package begun."""
    free_units: Decimal = attrs.field(default=ZERO, converter=_free_units, kw_only=True)
    """Units given before the first package is counted (a package price only)."""

    def __attrs_post_init__(self) -> None:
        needs = _NEEDS[self.model]
        for name in ("unit_price", "tiers", "package_size", "package_price"):
            given = getattr(self, name) is not None
            if name in needs and not given:
                raise ValidationError(name, f"a {self.model} price needs {name}")
            if given and name not in needs:
                raise ValidationError(
                    name, f"a {self.model} price takes no {name} (they belong to {_OWNER[name]}): leave it None"
                )
        if self.free_units and self.model != "package":
            raise ValidationError(
                "free_units", f"a {self.model} price takes no free_units (only a package price does): leave it 0"
            )


def _timestamp(value: object) -> datetime:
    return parse_time(value, "timestamp")


def _value(value: object) -> Decimal:
    return parse_number(value, "value", places=MAX_QUANTITY_PLACES)


def _unique_key(value: object) -> str | None:
    return parse_optional_id(value, "unique_key")


_NO_DIMENSIONS: Mapping[str, str] = MappingProxyType({})


def _dimensions(value: object) -> Mapping[str, str]:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValidationError("dimensions", f"expected a dict of str to str, got {type(value).__name__}")
    if len(value) > MAX_DIMENSIONS:
        raise ValidationError("dimensions", f"has {len(value)} entries; the limit is {MAX_DIMENSIONS}")
    clean = {parse_id(key, "dimensions"): parse_id(item, "dimensions") for key, item in value.items()}
    return MappingProxyType(clean)


@attrs.frozen
class MeterReading:
    """One event as :func:`creditcore.billing.metering.aggregate` sees it: when it happened,
    its value, its key for ``unique_count`` and its dimensions.

    >>> from datetime import UTC, datetime
    >>> r = MeterReading(datetime(2026, 1, 1, tzinfo=UTC), "1500", dimensions={"model": "gpt-4"})
    >>> r.value, dict(r.dimensions)
    (Decimal('1500'), {'model': 'gpt-4'})
    """

    timestamp: datetime = attrs.field(converter=_timestamp)
    """An aware time, kept in UTC."""
    value: Decimal = attrs.field(default=ZERO, converter=_value)
    """``>= 0``, at most 12 decimal places (a ``count`` or ``unique_count`` ignores it)."""
    unique_key: str | None = attrs.field(default=None, converter=_unique_key)
    """What ``unique_count`` counts distinct values of (exact and case-sensitive)."""
    dimensions: Mapping[str, str] = attrs.field(default=None, converter=_dimensions, hash=False)
    """A read-only ``str`` to ``str`` mapping (up to 20 entries; keys and values 1 to 200
    characters)."""

    @classmethod
    def checked(
        cls, timestamp: datetime, value: Decimal, unique_key: str | None, dimensions: Mapping[str, str]
    ) -> MeterReading:
        """A reading of an event checked when it was recorded (an aware UTC time, a valid value,
        key and dimensions): built without checking it again, as a store reads back thousands."""
        reading = object.__new__(cls)
        put = object.__setattr__
        put(reading, "timestamp", timestamp)
        put(reading, "value", value)
        put(reading, "unique_key", unique_key)
        put(reading, "dimensions", MappingProxyType(dict(dimensions)) if dimensions else _NO_DIMENSIONS)
        return reading

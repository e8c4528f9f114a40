"""Parsing and validation at the edge: amounts, units, times, identifiers, metadata.

Everything that enters the ledger passes through one of these functions, which either
return a clean value or raise :class:`ValidationError` naming the argument.
Amounts become integers of minor units; times become aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from creditcore.errors import ValidationError

#: Largest amount a ledger stores, in minor units (a signed 64-bit integer).
MAX_MINOR = 2**63 - 1
MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 2_000
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_LENGTH = 100
MAX_SCALE = 18
MAX_PRIORITY = 1000
CATEGORIES = ("promotional", "paid")
OVERDRAFT_MODES = ("reject", "partial", "debt")
#: The unit every ledger knows: whole credits.
DEFAULT_UNIT = "credits"

#: The library's own ``decimal`` context. Every sum, difference and conversion creditcore
#: makes runs in it, never in the caller's (``decimal.getcontext()`` belongs to the host app,
#: which may have set a precision of 6 or trapped ``Inexact``). 100 digits hold any sum of
#: signed 64-bit minor units at any supported scale, and every cost basis, exactly.
DECIMAL_CONTEXT = Context(
    prec=100,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


def to_decimal(minor: int, scale: int) -> Decimal:
    """Turn minor units back into an exact ``Decimal`` with ``scale`` places."""
    return Decimal(minor).scaleb(-scale) if scale else Decimal(minor)


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        kind = type(value).__name__
        hint = " (floats are inexact: pass a str or Decimal)" if isinstance(value, float) else ""
        raise ValidationError(field, f"expected an int, Decimal or numeric str, got {kind}{hint}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(field, f"{value!r} is not a number") from None
    else:
        number = value
    if not number.is_finite():
        raise ValidationError(field, f"{value} is not a finite number")
    return number


def parse_amount(value: object, scale: int, field: str = "amount", *, allow_zero: bool = False) -> int:
    """Parse an amount into minor units of a unit with ``scale`` decimal places.

    >>> parse_amount("1.50", 2)
    150
    """
    if type(value) is int:  # the common case, without a Decimal (bool is not an int here)
        minor: int = value * 10**scale
        if minor > MAX_MINOR or minor < -MAX_MINOR:
            raise ValidationError(field, f"{value} does not fit in a signed 64-bit amount")
        if minor < 0 or (minor == 0 and not allow_zero):
            raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {value}")
        return minor
    number = _decimal(value, field)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    magnitude = int("".join(map(str, digits))) if digits else 0
    shift = exponent + scale
    if magnitude == 0:
        minor = 0
    elif shift >= 0:
        if shift > 20:
            raise ValidationError(field, f"{value} does not fit in a signed 64-bit amount")
        minor = magnitude * 10**shift
    else:
        divisor = 10 ** min(-shift, 40)
        if -shift > 40 or magnitude % divisor:
            raise ValidationError(field, f"{value} has more than {scale} decimal place(s), the precision of this unit")
        minor = magnitude // divisor
    if sign:
        minor = -minor
    if minor > MAX_MINOR or minor < -MAX_MINOR:
        raise ValidationError(field, f"{value} does not fit in a signed 64-bit amount")
    if minor < 0 or (minor == 0 and not allow_zero):
        raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {value}")
    return minor


def check_amount(value: object, field: str = "amount", *, allow_zero: bool = False) -> None:
    """Check an amount's type and sign before its unit (and so its precision) is known."""
    number = _decimal(value, field)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {value}")


def whole_minor_units(limit: Decimal, scale: int) -> int:
    """A limit in minor units of a unit with ``scale`` places, rounded down (a limit of 2.5
    credits allows 2 whole credits), at most :data:`MAX_MINOR`."""
    minor = limit.scaleb(scale).to_integral_value(rounding=ROUND_FLOOR)
    return min(int(minor), MAX_MINOR)


def parse_cost_basis(value: object) -> Decimal | None:
    """The price paid per credit: a ``Decimal >= 0`` or ``None``."""
    if value is None:
        return None
    number = _decimal(value, "cost_basis")
    if number < 0:
        raise ValidationError("cost_basis", f"must be zero or more, got {value}")
    if len(number.as_tuple().digits) > 38:
        raise ValidationError("cost_basis", "more than 38 significant digits")
    return number


def parse_time(value: object, field: str = "at") -> datetime:
    """An aware ``datetime``, normalised to UTC."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # already what this returns
    if not isinstance(value, datetime):
        raise ValidationError(field, f"expected a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, f"{value.isoformat()} is naive: pass a timezone-aware datetime (e.g. tzinfo=UTC)")
    return value.astimezone(UTC)


def parse_optional_time(value: object, field: str) -> datetime | None:
    return None if value is None else parse_time(value, field)


def parse_id(value: object, field: str) -> str:
    """A non-empty string of at most 200 characters."""
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a str, got {type(value).__name__}")
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {MAX_ID_LENGTH}")
    return value


def parse_optional_id(value: object, field: str) -> str | None:
    return None if value is None else parse_id(value, field)


def parse_text(value: object, field: str = "description") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a str, got {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {MAX_TEXT_LENGTH}")
    return value


def parse_metadata(value: object) -> dict[str, str]:
    """A ``dict[str, str]`` of at most 64 keys; returns a private copy."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("metadata", f"expected a dict of str to str, got {type(value).__name__}")
    if len(value) > MAX_METADATA_KEYS:
        raise ValidationError("metadata", f"has {len(value)} keys; the limit is {MAX_METADATA_KEYS}")
    clean: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError("metadata", f"key {key!r} is not a non-empty str")
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise ValidationError(
                "metadata", f"key {key[:20]!r}... is longer than {MAX_METADATA_KEY_LENGTH} characters"
            )
        if not isinstance(item, str):
            raise ValidationError("metadata", f"value of {key!r} is {type(item).__name__}, not str")
        if len(item) > MAX_TEXT_LENGTH:
            raise ValidationError("metadata", f"value of {key!r} is longer than {MAX_TEXT_LENGTH} characters")
        clean[key] = item
    return clean


def parse_grant_scope(value: object) -> frozenset[str] | None:
    """``None`` (any burn) or a non-empty iterable of scope names."""
    if value is None:
        return None
    if isinstance(value, str):
        raise ValidationError("scope", f"expected a collection of scope names such as {{{value!r}}}, got a str")
    if not isinstance(value, Iterable):
        raise ValidationError("scope", f"expected a collection of str, got {type(value).__name__}")
    names = frozenset(parse_id(item, "scope") for item in value)
    if not names:
        raise ValidationError("scope", "must not be empty: pass None for credit usable by every burn")
    return names


def parse_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("priority", f"expected an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_PRIORITY:
        raise ValidationError("priority", f"must be between 0 and {MAX_PRIORITY}, got {value}")
    return value


def parse_choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(field, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def parse_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"expected True or False, got {value!r}")
    return value


def parse_scale(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("scale", f"expected an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_SCALE:
        raise ValidationError("scale", f"must be between 0 and {MAX_SCALE}, got {value}")
    return value


def parse_limit(value: object, field: str = "limit") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"expected an int, got {type(value).__name__}")
    if not 1 <= value <= 10_000:
        raise ValidationError(field, f"must be between 1 and 10000, got {value}")
    return value


def utc_now() -> datetime:
    """The default clock: the system's current time in UTC."""
    return datetime.now(UTC)


def canonical(value: Any) -> str:
    """A stable text form of an argument, for comparing idempotent replays."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return "[" + ",".join(sorted(map(repr, value))) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k!r}:{v!r}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return repr(value)

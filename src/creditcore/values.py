"""Parsing and validation at the edge: amounts, units, times, identifiers, metadata.

Everything that enters the ledger passes through one of these functions, which either
return a clean value or raise :class:`ValidationError` naming the argument.
Amounts become integers of minor units; times become aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
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
    """Turn minor units back into an exact ``Decimal`` with ``scale`` places (in the
    library's own context: the caller's precision never rounds it)."""
    return Decimal(minor).scaleb(-scale, DECIMAL_CONTEXT) if scale else Decimal(minor)


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


def parse_amount(
    value: object, scale: int, field: str = "amount", *, allow_zero: bool = False, signed: bool = False
) -> int:
    """Parse an amount into minor units of a unit with ``scale`` decimal places (``signed``:
    any sign, as a threshold).

    Exact whatever the caller's ``decimal`` context, and for any length of text: trailing
    zeros (``"1." + "0" * 5000``) are a whole 1, never a huge integer.

    >>> parse_amount("1.50", 2)
    150
    """
    if type(value) is int:  # the common case, without a Decimal (bool is not an int here)
        minor: int = value * 10**scale
        if minor > MAX_MINOR or minor < -MAX_MINOR:
            raise ValidationError(field, f"{value} does not fit in a signed 64-bit amount")
        if not signed and (minor < 0 or (minor == 0 and not allow_zero)):
            raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {value}")
        return minor
    number = _decimal(value, field)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    # drop trailing zeros first, so the digits left are the significant ones
    end = len(digits)
    while end and digits[end - 1] == 0:
        end -= 1
    exponent += len(digits) - end
    digits = digits[:end]
    shown = _shown_number(value, number)
    if not digits:
        minor = 0
    else:
        shift = exponent + scale
        if shift < 0:
            raise ValidationError(field, f"{shown} has more than {scale} decimal place(s), the precision of this unit")
        if len(digits) + shift > _MAX_MINOR_DIGITS:
            raise ValidationError(field, f"{shown} does not fit in a signed 64-bit amount")
        minor = int("".join(map(str, digits))) * 10**shift
    if sign:
        minor = -minor
    if minor > MAX_MINOR or minor < -MAX_MINOR:
        raise ValidationError(field, f"{shown} does not fit in a signed 64-bit amount")
    if not signed and (minor < 0 or (minor == 0 and not allow_zero)):
        raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {shown}")
    return minor


#: Digits of the largest signed 64-bit integer.
_MAX_MINOR_DIGITS = len(str(MAX_MINOR))
#: The longest argument a message quotes whole.
_SHOWN_LENGTH = 40


def _shown_number(value: object, number: Decimal) -> str:
    """An amount as a message quotes it: as given, or cut short when it is very long."""
    text = value if isinstance(value, str) else str(number)
    return text if len(text) <= _SHOWN_LENGTH else f"{text[:_SHOWN_LENGTH]}... ({len(text)} characters)"


def check_amount(value: object, field: str = "amount", *, allow_zero: bool = False) -> None:
    """Check an amount's type and sign before its unit (and so its precision) is known."""
    number = _decimal(value, field)
    if number < 0 or (number == 0 and not allow_zero):
        shown = _shown_number(value, number)
        raise ValidationError(field, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {shown}")


def whole_minor_units(limit: Decimal, scale: int) -> int:
    """A limit in minor units of a unit with ``scale`` places, rounded down (a limit of 2.5
    credits allows 2 whole credits), at most :data:`MAX_MINOR`."""
    if limit >= _LARGEST.scaleb(-scale, DECIMAL_CONTEXT):
        return MAX_MINOR  # beyond any amount a ledger stores (and no huge integer made)
    minor = limit.scaleb(scale, DECIMAL_CONTEXT).to_integral_value(rounding=ROUND_FLOOR, context=DECIMAL_CONTEXT)
    return int(minor)


_LARGEST = Decimal(MAX_MINOR)


def parse_cost_basis(value: object) -> Decimal | None:
    """The price paid per credit: a ``Decimal >= 0`` or ``None``."""
    if value is None:
        return None
    number = _decimal(value, "cost_basis")
    if number < 0:
        raise ValidationError("cost_basis", f"must be zero or more, got {value}")
    digits = number.as_tuple().digits
    if len(digits) > 38 and len(bytes(digits).rstrip(b"\0")) > 38:  # trailing zeros are not significant
        raise ValidationError("cost_basis", "more than 38 significant digits")
    return number


#: The earliest and latest times a ledger accepts: a day inside ``datetime``'s own range,
#: so that no conversion or step of a day near either end can overflow.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def parse_time(value: object, field: str = "at") -> datetime:
    """An aware ``datetime``, normalised to UTC, between :data:`EARLIEST` and :data:`LATEST`."""
    if type(value) is datetime and value.tzinfo is UTC:
        if EARLIEST <= value <= LATEST:
            return value  # already what this returns
        raise ValidationError(
            field,
            f"{value.isoformat()} is out of range: times must lie between {EARLIEST.isoformat()} and "
            f"{LATEST.isoformat()} (UTC)",
        )
    if not isinstance(value, datetime):
        raise ValidationError(field, f"expected a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, f"{value.isoformat()} is naive: pass a timezone-aware datetime (e.g. tzinfo=UTC)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValidationError(
            field,
            f"{value.isoformat()} is out of range: times must lie between {EARLIEST.isoformat()} and "
            f"{LATEST.isoformat()} (UTC)",
        )
    return utc


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
    if not value.isascii():
        _check_unicode(value, field)
    return value


def _plain_id(value: object) -> bool:
    """``value`` passes :func:`parse_id` as it is, seen without a call per check."""
    return type(value) is str and 0 < len(value) <= MAX_ID_LENGTH and value.isascii()


def _check_unicode(value: str, field: str) -> None:
    """Refuse text that no storage can keep: a lone surrogate (``"\\udcff"``, e.g. from a
    byte string decoded with ``surrogateescape``) is not Unicode text and has no UTF-8 form."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(
            field,
            f"has a lone surrogate {value[error.start]!r} at position {error.start}: pass valid Unicode text",
        ) from None


def parse_optional_id(value: object, field: str) -> str | None:
    return None if value is None else parse_id(value, field)


def parse_text(value: object, field: str = "description") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a str, got {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {MAX_TEXT_LENGTH}")
    if not value.isascii():
        _check_unicode(value, field)
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
        if not (key.isascii() and item.isascii()):
            _check_unicode(key, "metadata")
            _check_unicode(item, "metadata")
        clean[key] = item
    return clean


def parse_scope(value: object, field: str = "scope") -> frozenset[str] | None:
    """A scope set: ``None`` (unscoped), a ``str`` (one scope, never its characters) or an
    iterable of scope names; duplicates collapse. The one reading of a scope wherever one is
    given (grants, refunds, schedules, burns, holds, previews, balances)."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((parse_id(value, field),))
    if type(value) is frozenset and value and all(_plain_id(item) for item in value):
        return value  # a scope set read before (the common case: one built by the library)
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValidationError(field, f"expected a scope name or a collection of them, got {type(value).__name__}")
    names = frozenset(parse_id(item, field) for item in value)
    if not names:
        raise ValidationError(field, "must not be empty: pass None for no scope")
    return names


def parse_categories(value: object) -> frozenset[str] | None:
    """``None`` (every category), or a category or a collection of them."""
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise ValidationError("categories", f"expected a category or a collection of them, got {type(value).__name__}")
    names = frozenset(parse_choice(item, "categories", CATEGORIES) for item in items)
    if not names:
        raise ValidationError("categories", "must not be empty: pass None for every category")
    return names


MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 320


def parse_name(value: object, field: str = "name") -> str:
    """A customer's name: 1 to 200 characters."""
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a str, got {type(value).__name__}")
    if not 0 < len(value) <= MAX_NAME_LENGTH:
        raise ValidationError(field, f"must be 1 to {MAX_NAME_LENGTH} characters long, got {len(value)}")
    if not value.isascii():
        _check_unicode(value, field)
    return value


def parse_email(value: object) -> str:
    """An email address: at most 320 characters with an ``@`` neither first nor last
    (nothing more is checked: the app owns its addresses)."""
    if not isinstance(value, str):
        raise ValidationError("email", f"expected a str, got {type(value).__name__}")
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValidationError("email", f"is {len(value)} characters long; the limit is {MAX_EMAIL_LENGTH}")
    if "@" not in value[1:-1]:
        raise ValidationError("email", f"{value[:40]!r} has no '@' between a local part and a domain")
    if not value.isascii():
        _check_unicode(value, "email")
    return value


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
    """A stable, exact text form of an argument, for comparing idempotent replays: two
    values have the same form only if they are equal (whatever the caller's ``decimal``
    context, and at any number of digits or any exponent)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return "[" + ",".join(sorted(map(repr, value))) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k!r}:{v!r}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, Decimal):
        return _canonical_decimal(value)
    return repr(value)


#: Exponents within which a number's canonical form is plain positional text ("0.0001",
#: "1200"); beyond them it is scientific, so a tiny or huge number never makes a huge string.
_PLAIN_EXPONENTS = range(-60, 61)


def _canonical_decimal(value: Decimal) -> str:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: amounts and cost bases are parsed first
    end = len(digits)
    while end and digits[end - 1] == 0:
        end -= 1
    if not end:
        return "0"
    exponent += len(digits) - end
    text = "".join(map(str, digits[:end]))
    minus = "-" if sign else ""
    if exponent not in _PLAIN_EXPONENTS:
        return f"{minus}{text}E{exponent}"
    if exponent >= 0:
        return f"{minus}{text}{'0' * exponent}"
    point = len(text) + exponent
    if point > 0:
        return f"{minus}{text[:point]}.{text[point:]}"
    return f"{minus}0.{'0' * -point}{text}"

"""The model's reading of a call's arguments, spelled out from the documented rules: amounts by
value with at most the unit's decimal places, aware datetimes, ids and texts. It raises
the ledger's :class:`~creditcore.errors.ValidationError` but shares none of its parsing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from creditcore.errors import ValidationError

_MAX_MINOR = 2**63 - 1


def _number(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError(name, f"{type(value).__name__} is not an amount")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValidationError(name, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValidationError(name, "not finite")
    return number


def check_sign(value: object, name: str = "amount", *, allow_zero: bool = False) -> None:
    """An amount's type and sign, before its unit (and so its precision) is known."""
    number = _number(value, name)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(name, "must be positive")


def parse_amount(
    value: object, scale: int, name: str = "amount", *, allow_zero: bool = False, signed: bool = False
) -> Decimal:
    """An exact amount with at most ``scale`` decimal places, judged by value (``"1.0"`` is 1);
    ``signed``: of any sign (a threshold, a target)."""
    number = _number(value, name)
    minor = number.scaleb(scale)
    if minor != minor.to_integral_value():
        raise ValidationError(name, f"more than {scale} decimal places")
    if abs(minor) > _MAX_MINOR:
        raise ValidationError(name, "does not fit in 64 bits")
    if not signed and (number < 0 or (number == 0 and not allow_zero)):
        raise ValidationError(name, "must be positive")
    return number + 0  # normalises -0


def parse_cost_basis(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError("cost_basis", f"{type(value).__name__} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValidationError("cost_basis", f"{value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValidationError("cost_basis", "must be a finite number >= 0")
    return number


def parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "needs a timezone-aware datetime")
    return value


def parse_optional_time(value: object, name: str) -> datetime | None:
    return None if value is None else parse_time(value, name)


def parse_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationError(name, "needs a non-empty str of at most 200 characters")
    return value


def parse_optional_id(value: object, name: str) -> str | None:
    return None if value is None else parse_id(value, name)


def parse_text(value: object, name: str) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        raise ValidationError(name, "needs a str of at most 2,000 characters")
    return value


def parse_scope(value: object) -> frozenset[str] | None:
    """A scope set: ``None``, one scope (a ``str``, never its characters) or an iterable of
    them; duplicates collapse; empty is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({parse_id(value, "scope")})
    if not isinstance(value, Iterable):
        raise ValidationError("scope", f"{type(value).__name__} is not a scope set")
    names = frozenset(parse_id(name, "scope") for name in value)
    if not names:
        raise ValidationError("scope", "must not be empty")
    return names


def parse_categories(value: object) -> frozenset[str] | None:
    """Categories: ``None`` (every category), or ``promotional``/``paid`` as a ``str`` or an
    iterable of them; empty or unknown is refused."""
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Iterable):
        raise ValidationError("categories", f"{type(value).__name__} is not a set of categories")
    found = frozenset(names)
    if not found or not found <= {"promotional", "paid"}:
        raise ValidationError("categories", "promotional and/or paid")
    return found

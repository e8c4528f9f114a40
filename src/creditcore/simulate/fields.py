"""The values a scenario's keys hold: numbers, shares, integers, names, ids, exact amounts.

Each parser takes what ``tomllib`` read and returns it checked, or raises ``_Problem`` with what
is wrong; the table it was read from adds the key and the line.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from creditcore.simulate.reading import _kind, _Problem
from creditcore.values import MAX_TEXT_LENGTH, parse_id


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Problem(f"expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise _Problem(f"expected a finite number, got {value}")
    return float(value)


def _non_negative(value: object) -> float:
    number = _number(value)
    if number < 0:
        raise _Problem(f"must be zero or more, got {value}")
    return number


def _share(value: object) -> float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise _Problem(f"must be between 0 and 1, got {value}")
    return number


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Problem(f"expected true or false, got {_kind(value)}")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Problem(f"expected an integer, got {_kind(value)}")
    return value


def _longest_id(prefix: str, count: int) -> str:
    """The prefix of a population whose longest id (``prefix`` + ``count``) is an id."""
    return parse_id(f"{prefix}{count}", "prefix")


def _name(value: object) -> str:
    name = _text(value)
    if len(name) > MAX_TEXT_LENGTH // 10:
        raise _Problem(f"is {len(name)} characters long; a name may have {MAX_TEXT_LENGTH // 10}")
    return name


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        got = _kind(value) if not isinstance(value, str) else "an empty one"
        raise _Problem(f"expected a non-empty string, got {got}")
    return value


def _identifier(value: object) -> str:
    return parse_id(value, "id")


def _exact(value: object) -> Decimal:
    """An exact number: an int, a numeric string, or a TOML float as it was written."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Problem(f"expected a number or a numeric string, got {_kind(value)}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise _Problem(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise _Problem(f"{value!r} is not a finite number")
    return number


def _string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (parse_id(value, "scope"),)
    if not isinstance(value, list) or not value:
        raise _Problem(f"expected a string or a non-empty array of strings, got {_kind(value)}")
    return tuple(parse_id(item, "name") for item in value)

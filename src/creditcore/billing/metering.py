"""Aggregating meter readings over a span of time: pure and exact.

:func:`aggregate` takes the readings with ``start <= timestamp < end`` (half-open: a reading
at ``end`` belongs to the next span) whose dimensions include the given pairs, and returns
``Aggregate(value, event_count)``:

- ``sum``: the sum of their values;
- ``count``: how many there are (their values are ignored);
- ``max``: the greatest value;
- ``unique_count``: how many distinct ``unique_key`` values (exact, case-sensitive);
- ``latest``: the value with the greatest timestamp; of several at that instant, the last
  recorded, i.e. the later in the sequence given.

No readings → ``Aggregate(0, 0)``. ``event_count`` is always the number of readings taken.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> readings = [MeterReading(t, 2), MeterReading(t.replace(hour=1), 3), MeterReading(t.replace(day=2), 9)]
>>> aggregate("sum", readings, start=t, end=t.replace(day=2))
Aggregate(value=Decimal('5'), event_count=2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, DecimalException, Inexact, localcontext
from typing import NamedTuple

from creditcore.billing.values import AGGREGATIONS, MAX_DIMENSIONS, ZERO, MeterReading
from creditcore.errors import ValidationError
from creditcore.values import DECIMAL_CONTEXT, parse_id, parse_time

__all__ = ["Aggregate", "aggregate"]

_EXACT = DECIMAL_CONTEXT.copy()
_EXACT.traps[Inexact] = True
#: What other names mean in the anchors (Hanzo and Stripe ``last``, OpenMeter ``LATEST``).
_AGGREGATION_HINTS = {"last": "latest", "LATEST": "latest", "SUM": "sum", "COUNT": "count", "MAX": "max"}


class Aggregate(NamedTuple):
    """What :func:`aggregate` measured: the aggregated ``value`` and how many readings it took
    (``event_count``, as in a meter's summary); it unpacks as ``value, count``."""

    value: Decimal
    """The aggregate of the readings taken (0 without any)."""
    event_count: int
    """How many readings it took in."""


def _aggregation(value: object) -> str:
    if isinstance(value, str) and value in AGGREGATIONS:
        return value
    hint = f" (write {_AGGREGATION_HINTS[value]!r})" if isinstance(value, str) and value in _AGGREGATION_HINTS else ""
    raise ValidationError("aggregation", f"must be one of {', '.join(map(repr, AGGREGATIONS))}, got {value!r}{hint}")


def _readings(value: object, aggregation: str) -> tuple[MeterReading, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError("events", f"expected a sequence of MeterReading, got {type(value).__name__}")
    readings = tuple(value)
    if all(type(reading) is MeterReading for reading in readings) and (
        aggregation != "unique_count" or all(reading.unique_key is not None for reading in readings)
    ):
        return readings
    for position, reading in enumerate(readings, 1):
        if not isinstance(reading, MeterReading):
            raise ValidationError("events", f"event {position} is a {type(reading).__name__}, not a MeterReading")
        if aggregation == "unique_count" and reading.unique_key is None:
            raise ValidationError("events", f"event {position} has no unique_key, which unique_count counts")
    return readings


def _filter(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("dimensions", f"expected a dict of str to str, got {type(value).__name__}")
    if len(value) > MAX_DIMENSIONS:
        raise ValidationError("dimensions", f"has {len(value)} entries; the limit is {MAX_DIMENSIONS}")
    return {parse_id(key, "dimensions"): parse_id(item, "dimensions") for key, item in value.items()}


def aggregate(
    aggregation: str,
    events: Iterable[MeterReading],
    *,
    start: datetime,
    end: datetime,
    dimensions: Mapping[str, str] | None = None,
) -> Aggregate:
    """Aggregate the ``events`` with ``start <= timestamp < end`` whose dimensions include every
    pair of ``dimensions`` (``None`` or ``{}``: all of them). ``end <= start`` →
    ``ValidationError("end")``.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> same_instant = [MeterReading(t, 7), MeterReading(t, 4)]
    >>> aggregate("latest", same_instant, start=t, end=t.replace(hour=1))
    Aggregate(value=Decimal('4'), event_count=2)
    """
    kind = _aggregation(aggregation)
    readings = _readings(events, kind)
    since = parse_time(start, "start")
    until = parse_time(end, "end")
    if until <= since:
        raise ValidationError("end", f"must be after start ({since.isoformat()}), got {until.isoformat()}")
    pairs = _filter(dimensions).items()
    taken = [r for r in readings if since <= r.timestamp < until]
    if pairs:
        taken = [r for r in taken if all(r.dimensions.get(k) == v for k, v in pairs)]
    if not taken:
        return Aggregate(ZERO, 0)
    if kind == "count":
        return Aggregate(Decimal(len(taken)), len(taken))
    if kind == "unique_count":
        return Aggregate(Decimal(len({r.unique_key for r in taken})), len(taken))
    if kind == "max":
        return Aggregate(max(r.value for r in taken), len(taken))
    if kind == "latest":
        last = taken[0]
        for reading in taken[1:]:
            if reading.timestamp >= last.timestamp:  # at the same instant the later one wins
                last = reading
        return Aggregate(last.value, len(taken))
    try:
        with localcontext(_EXACT):
            total = sum((r.value for r in taken), ZERO)
    except DecimalException:
        raise ValidationError("events", "their sum has too many digits to be exact") from None
    return Aggregate(total, len(taken))

"""Recurring periods (``every "1 month"`` from an anchor) and calendar windows, in a time zone.

A period repeats ``every``: ``"N minutes"``, ``"N hours"``, ``"N days"``, ``"N weeks"``,
``"N months"`` or ``"N years"`` (N >= 1, singular or plural), or a ``timedelta`` of at least
one minute. Its boundaries are ``B_k = anchor + k * every`` for every integer ``k``, negative
too, each computed from the anchor (so they never drift), in the zone ``tz`` (an IANA name,
``"UTC"`` unless given):

- months and years keep the anchor's local day and time of day, the day clamped to the
  month: an anchor on 31 January gives 28 (or 29) February, then 31 March, then 30 April;
- days and weeks keep the anchor's local time of day, so across a change of the clocks a
  day lasts 23 or 25 hours;
- minutes, hours and a ``timedelta`` are elapsed time, whatever the clocks do
  (``"24 hours"`` is not ``"1 day"``).

A local time that does not exist (the clocks jump over it) moves forward by the jump: on a
day the clocks go from 02:00 to 03:00, 02:30 becomes 03:30. A local time that happens twice
(the clocks go back) is its first occurrence. ``B_0`` is the anchor itself. Where a zone
skipped a whole calendar day (Samoa, 30 December 2011), a daily boundary on that day meets
the next one, and the period between them is empty; boundaries never go backwards.

Every time given must be timezone-aware; every time returned is aware, in UTC.

>>> from datetime import UTC, datetime
>>> anchor = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
>>> [add(anchor, "1 month", k).date().isoformat() for k in range(4)]
['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30']
>>> period_at(anchor, "1 month", datetime(2026, 3, 1, tzinfo=UTC))
Period(start=datetime.datetime(2026, 2, 28, 9, 0, tzinfo=datetime.timezone.utc), \
end=datetime.datetime(2026, 3, 31, 9, 0, tzinfo=datetime.timezone.utc))

A daily boundary at 09:00 in Berlin stays at 09:00 local when summer time begins:

>>> berlin = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (UTC+1)
>>> add(berlin, "1 day", 1, tz="Europe/Berlin").isoformat()  # 09:00 in Berlin (UTC+2)
'2026-03-29T07:00:00+00:00'

A window is the calendar hour, day, week (from Monday) or month containing a time:

>>> window(datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "month", tz="America/New_York").start.isoformat()
'2026-07-01T04:00:00+00:00'
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from creditcore.errors import ValidationError
from creditcore.values import EARLIEST, LATEST, parse_time

__all__ = ["SPANS", "Every", "Period", "add", "index_at", "parse_every", "parse_timezone", "period_at", "window"]

#: The calendar units a :func:`window` may span.
SPANS = ("hour", "day", "week", "month")

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_EVERY = re.compile(r"^\s*([0-9]+)\s*(second|minute|hour|day|week|month|year)s?\s*$", re.ASCII)
#: A unit's size in the kind of step it takes: months, days or seconds.
_SIZE = {"second": 1, "minute": _MINUTE, "hour": _HOUR, "day": 1, "week": 7, "month": 1, "year": 12}
_KIND = {
    "second": "seconds",
    "minute": "seconds",
    "hour": "seconds",
    "day": "days",
    "week": "days",
    "month": "months",
    "year": "months",
}
#: The longest step of each kind: one that still fits between the earliest and the latest time.
_LIMIT = {
    "months": (LATEST.year - EARLIEST.year) * 12 + LATEST.month - EARLIEST.month,
    "days": (LATEST - EARLIEST).days,
    "seconds": (LATEST - EARLIEST) // timedelta(seconds=1),
}
_SHOWN_LENGTH = 40


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _canonical(every: Every) -> str:
    """The text :func:`parse_every` reads back as the same step, in its largest whole unit."""
    if every.months:
        return _plural(every.months // 12, "year") if every.months % 12 == 0 else _plural(every.months, "month")
    if every.days:
        return _plural(every.days // 7, "week") if every.days % 7 == 0 else _plural(every.days, "day")
    for size, unit in ((_HOUR, "hour"), (_MINUTE, "minute")):
        if every.seconds % size == 0:
            return _plural(every.seconds // size, unit)
    return _plural(every.seconds, "second")


def _check_steps(every: Every) -> None:
    steps = {"months": every.months, "days": every.days, "seconds": every.seconds}
    for kind, step in steps.items():
        if type(step) is not int or step < 0:
            raise ValidationError("every", f"{kind} must be an int of zero or more, got {step!r}")
        if step > _LIMIT[kind]:
            raise ValidationError("every", f"{step} {kind} is longer than the whole range of times")
    if sum(1 for step in steps.values() if step) != 1:
        raise ValidationError("every", f"exactly one of months, days and seconds must be more than zero, got {steps}")
    if every.seconds and every.seconds < _MINUTE:
        raise ValidationError("every", f"must be at least one minute, got {every.seconds} seconds")


@attrs.frozen
class Every:
    """The step between two boundaries: a number of calendar months, of local days, or of
    elapsed seconds (exactly one of them more than zero). ``text`` is its canonical form,
    which :func:`parse_every` reads back as the same step.

    >>> parse_every(" 12  months ")
    Every(months=12, days=0, seconds=0, text='1 year')
    >>> parse_every(timedelta(minutes=90)).text
    '90 minutes'
    """

    months: int = 0
    days: int = 0
    seconds: int = 0
    text: str = attrs.field(init=False, default="")

    def __attrs_post_init__(self) -> None:
        _check_steps(self)
        object.__setattr__(self, "text", _canonical(self))

    def __str__(self) -> str:
        return self.text


class Period(NamedTuple):
    """A half-open span of time ``[start, end)``, both aware datetimes in UTC."""

    start: datetime
    end: datetime


def parse_every(value: object, field: str = "every") -> Every:
    """An :class:`Every` from ``"N minute(s)|hour(s)|day(s)|week(s)|month(s)|year(s)"``
    (N >= 1), a ``timedelta`` of at least one minute in whole seconds, or an :class:`Every`.

    ``"N seconds"`` (N >= 60) is read too, so that the text of any ``timedelta`` reads back.
    A step longer than the whole range of times is refused.
    """
    if isinstance(value, Every):
        return value
    if isinstance(value, timedelta):
        if value < timedelta(minutes=1):
            raise ValidationError(field, f"must be at least one minute, got a timedelta of {value}")
        if value.microseconds:
            raise ValidationError(field, f"must be a whole number of seconds, got a timedelta of {value}")
        seconds = value // timedelta(seconds=1)
        if seconds > _LIMIT["seconds"]:
            raise ValidationError(field, f"a timedelta of {value} is longer than the whole range of times")
        return Every(seconds=seconds)
    if not isinstance(value, str):
        hint = " (write the unit too)" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        raise ValidationError(
            field, f'expected a str such as "1 month" or "2 weeks", or a timedelta, got {type(value).__name__}{hint}'
        )
    shown = value.strip()
    shown = repr(shown if len(shown) <= _SHOWN_LENGTH else f"{shown[:_SHOWN_LENGTH]}...")
    found = _EVERY.match(value)
    if not found:
        raise ValidationError(
            field,
            f'expected "N minutes", "N hours", "N days", "N weeks", "N months" or "N years" '
            f"(N a whole number of at least 1), got {shown}",
        )
    digits, unit = found[1].lstrip("0"), found[2]
    if not digits:
        raise ValidationError(field, f"must be at least 1 {unit}, got {shown}")
    kind = _KIND[unit]
    if len(digits) > 12 or int(digits) * _SIZE[unit] > _LIMIT[kind]:
        raise ValidationError(
            field, f"{shown} is longer than the whole range of times ({EARLIEST.year} to {LATEST.year})"
        )
    step = int(digits) * _SIZE[unit]
    if kind == "seconds" and step < _MINUTE:
        raise ValidationError(field, f"must be at least one minute, got {shown}")
    return Every(**{kind: step})


def parse_timezone(value: object, field: str = "timezone") -> str:
    """An IANA zone name (``"UTC"``, ``"Europe/Berlin"``), checked to be known."""
    _zone(value, field)
    assert isinstance(value, str)
    return value


def _zone(tz: object, field: str = "timezone") -> tzinfo:
    if tz == "UTC":
        return UTC
    if not isinstance(tz, str):
        raise ValidationError(field, f"expected an IANA zone name such as 'Europe/Berlin', got {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = tz if len(tz) <= _SHOWN_LENGTH else f"{tz[:_SHOWN_LENGTH]}..."
        raise ValidationError(field, f"{shown!r} is not a known IANA zone name such as 'Europe/Berlin'") from None


class _OutOfRange(Exception):
    """A time before :data:`~creditcore.values.EARLIEST` or after :data:`~creditcore.values.LATEST`."""


def _checked(moment: datetime) -> datetime:
    if not EARLIEST <= moment <= LATEST:
        raise _OutOfRange
    return moment


def _resolve(wall: datetime, zone: tzinfo) -> datetime:
    """The instant a naive local time names: its first occurrence, or, when the clocks jump
    over it, the time as far past the jump as it lies in the gap (fold 0 does both)."""
    try:
        return _checked(wall.replace(tzinfo=zone, fold=0).astimezone(UTC))
    except OverflowError:
        raise _OutOfRange from None


def _local(moment: datetime, zone: tzinfo) -> datetime:
    """The naive local time of an instant."""
    try:
        return moment.astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        raise _OutOfRange from None


class _Steps:
    """The boundaries of one anchor, step and zone."""

    def __init__(self, anchor: datetime, every: Every, zone: tzinfo) -> None:
        self.anchor = anchor
        self.every = every
        self.zone = zone
        self.wall = anchor.astimezone(zone).replace(tzinfo=None)

    def boundary(self, k: int) -> datetime:
        """``B_k``; raises :class:`_OutOfRange` when it falls outside the range of times."""
        every, wall = self.every, self.wall
        if k == 0:
            return self.anchor
        try:
            if every.seconds:
                return _checked(self.anchor + timedelta(seconds=every.seconds * k))
            if every.days:
                return _resolve(wall + timedelta(days=every.days * k), self.zone)
        except OverflowError:
            raise _OutOfRange from None
        year, month = divmod(wall.year * 12 + wall.month - 1 + every.months * k, 12)
        if not 1 <= year <= 9999:
            raise _OutOfRange
        day = min(wall.day, calendar.monthrange(year, month + 1)[1])
        return _resolve(wall.replace(year=year, month=month + 1, day=day), self.zone)

    def estimate(self, moment: datetime) -> int:
        """A ``k`` within a step or two of the period containing ``moment``."""
        every = self.every
        if every.seconds:
            return (moment - self.anchor) // timedelta(seconds=every.seconds)
        wall = _local(moment, self.zone)
        if every.days:
            return (wall - self.wall) // timedelta(days=every.days)
        return ((wall.year - self.wall.year) * 12 + wall.month - self.wall.month) // every.months

    def after(self, k: int, moment: datetime) -> bool:
        """Whether ``B_k`` comes after ``moment`` (a boundary past either end of the range of
        times is past or before every time in it)."""
        try:
            return self.boundary(k) > moment
        except _OutOfRange:
            return k > 0

    def index(self, moment: datetime) -> int:
        """The largest ``k`` with ``B_k <= moment``: an estimate, then a step or two."""
        k = self.estimate(moment)
        while self.after(k, moment):
            k -= 1
        while not self.after(k + 1, moment):
            k += 1
        return k


def _steps(anchor: object, every: object, tz: object) -> _Steps:
    start = parse_time(anchor, "anchor")
    step = parse_every(every)
    return _Steps(start, step, _zone(tz))


def _range_text() -> str:
    return f"times must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()} (UTC)"


def add(anchor: datetime, every: Every | str | timedelta, k: int, tz: str = "UTC") -> datetime:
    """``B_k``: the boundary ``k`` steps of ``every`` from ``anchor`` (``k`` may be negative).

    >>> from datetime import UTC, datetime
    >>> add(datetime(2024, 2, 29, tzinfo=UTC), "1 year", -4).date().isoformat()
    '2020-02-29'
    """
    steps = _steps(anchor, every, tz)
    if type(k) is not int:
        raise ValidationError("k", f"expected an int, got {type(k).__name__}")
    try:
        return steps.boundary(k)
    except _OutOfRange:
        raise ValidationError(
            "k", f"{k} x {steps.every.text} from {steps.anchor.isoformat()} is out of range: {_range_text()}"
        ) from None


def index_at(anchor: datetime, every: Every | str | timedelta, t: datetime, tz: str = "UTC") -> int:
    """The ``k`` of the period containing ``t``: the largest with ``B_k <= t``."""
    steps = _steps(anchor, every, tz)
    return steps.index(parse_time(t, "t"))


def period_at(anchor: datetime, every: Every | str | timedelta, t: datetime, tz: str = "UTC") -> Period:
    """The period containing ``t``: ``Period(B_k, B_k+1)`` with ``B_k <= t < B_k+1``.

    Found from the time elapsed (or the months passed) since the anchor, then a step or two,
    however far ``t`` lies from the anchor.
    """
    steps = _steps(anchor, every, tz)
    moment = parse_time(t, "t")
    k = steps.index(moment)
    try:
        return Period(steps.boundary(k), steps.boundary(k + 1))
    except _OutOfRange:
        raise ValidationError(
            "t",
            f"the period of {steps.every.text} containing {moment.isoformat()} reaches out of range: {_range_text()}",
        ) from None


def _unit_start(wall: datetime, span: str) -> datetime:
    """The local start of the calendar hour, day, week or month containing ``wall``."""
    if span == "hour":
        return wall.replace(minute=0, second=0, microsecond=0, fold=0)
    day = wall.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if span == "day":
        return day
    if span == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_unit(start: datetime, span: str, steps: int = 1) -> datetime:
    """The local start ``steps`` units after (or before) the unit starting at ``start``."""
    try:
        if span == "hour":
            return start + timedelta(hours=steps)
        if span == "day":
            return start + timedelta(days=steps)
        if span == "week":
            return start + timedelta(weeks=steps)
        year, month = divmod(start.year * 12 + start.month - 1 + steps, 12)
        if not 1 <= year <= 9999:
            raise _OutOfRange
        return start.replace(year=year, month=month + 1)
    except OverflowError:
        raise _OutOfRange from None


def _first_showing(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant the local clocks show ``wall``, or the instant they jump past it."""
    found = _resolve(wall, zone)
    if _local(found, zone) == wall:
        return found
    # in a gap: fold 1 reads the wall time with the offset after the jump, so comes before it
    try:
        before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    except OverflowError:
        raise _OutOfRange from None
    low, high = 0, (found - before) // timedelta(seconds=1)
    while high - low > 1:  # at most a day of seconds: about 17 halvings
        middle = (low + high) // 2
        if _local(before + timedelta(seconds=middle), zone) >= wall:
            high = middle
        else:
            low = middle
    return _checked(before + timedelta(seconds=high))


def window(at: datetime, span: str, tz: str = "UTC") -> Period:
    """The calendar ``span`` (``"hour"``, ``"day"``, ``"week"`` from Monday 00:00, or
    ``"month"``) in zone ``tz`` containing ``at``, as a half-open span in UTC.

    A window starts the first time the local clocks show its start; where they jump past it
    (no midnight on a day summer time begins at 00:00), it starts when they jump.

    >>> from datetime import UTC, datetime
    >>> window(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "day", tz="Europe/Berlin")
    Period(start=datetime.datetime(2026, 3, 28, 23, 0, tzinfo=datetime.timezone.utc), \
end=datetime.datetime(2026, 3, 29, 22, 0, tzinfo=datetime.timezone.utc))
    """
    moment = parse_time(at, "at")
    if not isinstance(span, str) or span not in SPANS:
        raise ValidationError("span", f"must be one of {', '.join(map(repr, SPANS))}, got {span!r}")
    zone = _zone(tz)
    try:
        unit = _unit_start(_local(moment, zone), span)
        start = _first_showing(unit, zone)
        while start > moment:  # the clocks went back past the start of the unit
            unit = _next_unit(unit, span, -1)
            start = _first_showing(unit, zone)
        end = _first_showing(_next_unit(unit, span), zone)
        while end <= moment:  # the clocks went back into a unit that had already begun
            unit, start = _next_unit(unit, span), end
            end = _first_showing(_next_unit(unit, span), zone)
    except _OutOfRange:
        raise ValidationError(
            "at", f"the {span} containing {moment.isoformat()} reaches out of range: {_range_text()}"
        ) from None
    return Period(start, end)

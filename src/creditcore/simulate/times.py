"""Durations (``"30 days"``, ``"1 month"``) and the times a scenario names.

Months and years follow the calendar; a time without an offset is UTC; every time a
simulation reaches lies between :data:`~creditcore.simulate.limits.FIRST_TIME` and
:data:`~creditcore.simulate.limits.LAST_TIME`.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta

import attrs

from creditcore.simulate.limits import FIRST_TIME, LAST_TIME, MAX_DURATION_YEARS
from creditcore.simulate.reading import _Problem, _Table

_DURATION = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month|year)s?\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_LIMIT_OF = {"minute": 60 * 24 * 366, "hour": 24 * 366, "day": 366, "week": 53, "month": 12, "year": 1}


@attrs.frozen
class Duration:
    """A span such as ``"30 days"`` or ``"1 month"``; months and years follow the calendar."""

    months: int = 0
    seconds: int = 0
    text: str = ""

    def after(self, moment: datetime, times: int = 1) -> datetime:
        """``moment`` plus this span ``times`` times (months counted from ``moment``, so the
        31st of January plus one month is the 28th or 29th of February, plus two the 31st
        of March).

        Raises ``OverflowError`` (one line) when the result would fall after :data:`LAST_TIME`.
        """
        try:
            if self.months:
                total = moment.month - 1 + self.months * times
                year, month = moment.year + total // 12, total % 12 + 1
                day = min(moment.day, calendar.monthrange(year, month)[1])
                moment = moment.replace(year=year, month=month, day=day)
            found = moment + timedelta(seconds=self.seconds * times)
        except (OverflowError, ValueError):
            found = None
        if found is None or found > LAST_TIME:
            span = self.text or "the duration"
            if times != 1:
                span = f"{times} x {span}"
            raise OverflowError(
                f"{span} after {moment.isoformat()} is past {LAST_TIME.date().isoformat()}, "
                "the last date a simulation may reach"
            )
        return found

    @property
    def is_zero(self) -> bool:
        return not self.months and not self.seconds


def parse_duration(value: object) -> Duration:
    if not isinstance(value, str) or not (found := _DURATION.match(value)):
        raise ValueError(f'expected a duration such as "30 days", "12 hours" or "1 month", got {value!r}')
    digits, unit = found[1].lstrip("0") or "0", found[2]
    count = int(digits) if len(digits) <= 12 else None
    if count is None or count > MAX_DURATION_YEARS * _LIMIT_OF[unit]:
        shown = value.strip()[:40]
        raise ValueError(f"{shown!r} is longer than {MAX_DURATION_YEARS:,} years, the longest a scenario may use")
    if unit in ("month", "year"):
        return Duration(months=count * (12 if unit == "year" else 1), text=value.strip())
    return Duration(seconds=count * _SECONDS[unit], text=value.strip())


def _moment(value: object) -> datetime:
    """A TOML date or date-time; one without an offset is taken as UTC. It must lie between
    :data:`FIRST_TIME` and :data:`LAST_TIME`."""
    if isinstance(value, datetime):
        try:
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            moment = None
        if moment is None or not FIRST_TIME <= moment <= LAST_TIME:
            raise _Problem(
                f"{value.isoformat()} is out of range: times must lie between {FIRST_TIME.date().isoformat()} and "
                f"{LAST_TIME.date().isoformat()} (UTC)"
            )
        return moment
    if isinstance(value, date):
        return _moment(datetime.combine(value, time()))
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return _moment(parsed)
    raise _Problem(f"expected a date or date-time such as 2026-01-01 or 2026-01-01T09:00:00Z, got {value!r}")


def _offset(value: object, start: datetime) -> datetime:
    """``from``/``until``: a duration after the start, or a date-time."""
    if isinstance(value, str) and _DURATION.match(value):
        return parse_duration(value).after(start)
    try:
        return _moment(value)
    except _Problem:
        raise _Problem(f'expected a duration after start such as "30 days", or a date-time, got {value!r}') from None


def _reach(table: _Table, key: str, duration: Duration, moment: datetime) -> datetime:
    """``duration`` after ``moment`` (a run applies it to times up to its end): refused with
    its key when that passes :data:`LAST_TIME`."""
    try:
        return duration.after(moment)
    except OverflowError as problem:
        raise table.fail(key, str(problem)) from None

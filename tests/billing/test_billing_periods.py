"""SPEC_BILLING B1/B11: billing's periods are the ledger's (re-exported, never a second copy),
and ``window(at, span, tz)`` is the calendar hour, day, week (from Monday) or month containing
``at``, as a half-open ``Period(start, end)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import creditcore.core.periods as core_periods
from creditcore.billing import periods
from creditcore.billing.periods import SPANS, Period, window

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC))


@pytest.mark.parametrize("name", periods.__all__)
def test_billing_periods_are_the_ledgers_own(name: str) -> None:
    assert getattr(periods, name) is getattr(core_periods, name)


@pytest.mark.parametrize(
    ("span", "start", "end"),
    [
        ("hour", datetime(2026, 8, 19, 14, tzinfo=UTC), datetime(2026, 8, 19, 15, tzinfo=UTC)),
        ("day", datetime(2026, 8, 19, tzinfo=UTC), datetime(2026, 8, 20, tzinfo=UTC)),
        ("week", datetime(2026, 8, 17, tzinfo=UTC), datetime(2026, 8, 24, tzinfo=UTC)),
        ("month", datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)),
    ],
)
def test_window_of_each_span_in_utc(span: str, start: datetime, end: datetime) -> None:
    found = window(datetime(2026, 8, 19, 14, 37, 42, tzinfo=UTC), span, "UTC")
    assert isinstance(found, Period) and found == (start, end)
    assert found.start == start and found.end == end


def test_window_of_a_month_in_a_zone_starts_at_local_midnight() -> None:
    found = window(datetime(2026, 7, 15, 12, tzinfo=UTC), "month", "America/New_York")
    assert found == (datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 8, 1, 4, tzinfo=UTC))
    december = window(datetime(2026, 12, 31, 23, tzinfo=UTC), "month", "America/New_York")
    assert december == (datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2027, 1, 1, 5, tzinfo=UTC))


def test_window_of_a_february_in_a_leap_year() -> None:
    assert window(datetime(2028, 2, 29, 23, 59, tzinfo=UTC), "month") == (
        datetime(2028, 2, 1, tzinfo=UTC),
        datetime(2028, 3, 1, tzinfo=UTC),
    )


def test_days_across_a_change_of_the_clocks_last_23_or_25_hours() -> None:
    spring = window(datetime(2026, 3, 29, 12, tzinfo=UTC), "day", "Europe/Berlin")
    autumn = window(datetime(2026, 10, 25, 12, tzinfo=UTC), "day", "Europe/Berlin")
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)


def test_a_week_belongs_to_the_monday_before_a_sunday() -> None:
    sunday = datetime(2026, 8, 23, 23, 59, tzinfo=UTC)
    assert window(sunday, "week").start == datetime(2026, 8, 17, tzinfo=UTC)
    assert window(sunday + timedelta(minutes=1), "week").start == datetime(2026, 8, 24, tzinfo=UTC)


def test_a_week_in_a_zone_starts_on_the_local_monday() -> None:
    # Monday 00:30 in Tokyo is still Sunday in UTC
    monday_tokyo = datetime(2026, 8, 23, 15, 30, tzinfo=UTC)
    assert window(monday_tokyo, "week", "Asia/Tokyo").start == datetime(2026, 8, 23, 15, tzinfo=UTC)
    assert window(monday_tokyo, "week", "UTC").start == datetime(2026, 8, 17, tzinfo=UTC)


@given(at=instants, span=st.sampled_from(SPANS), tz=st.sampled_from(ZONES))
def test_a_window_holds_its_time_and_tiles_the_timeline(at: datetime, span: str, tz: str) -> None:
    found = window(at, span, tz)
    assert found.start <= at < found.end
    assert found.start.tzinfo is UTC and found.end.tzinfo is UTC
    assert window(found.start, span, tz) == found  # its start belongs to it
    assert window(found.end, span, tz).start == found.end  # the next one begins where it ends
    assert window(found.start - timedelta(microseconds=1), span, tz).end == found.start


@given(at=instants, tz=st.sampled_from(ZONES))
def test_windows_nest_hour_in_day_in_week_and_day_in_month(at: datetime, tz: str) -> None:
    """A week is not inside its month (a week can straddle two), but every other pair nests."""
    hour, day, week, month = (window(at, span, tz) for span in ("hour", "day", "week", "month"))
    for inner, outer in ((hour, day), (day, week), (day, month)):
        assert outer.start <= inner.start and inner.end <= outer.end


@given(at=instants, tz=st.sampled_from(ZONES))
def test_a_week_starts_on_a_local_monday_and_a_month_on_the_first(at: datetime, tz: str) -> None:
    zone = ZoneInfo(tz)
    week = window(at, "week", tz)
    month = window(at, "month", tz)
    assert week.start.astimezone(zone).weekday() == 0
    assert month.start.astimezone(zone).day == 1

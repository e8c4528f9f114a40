"""Recurring periods and calendar windows: each test is named after the rule it pins."""

from __future__ import annotations

import doctest
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore.core import periods
from creditcore.errors import ValidationError
from creditcore.periods import Every, Period, add, index_at, parse_every, period_at, window

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, boundary: datetime) -> datetime:
    """The naive local time of a boundary."""
    return boundary.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


# -- every ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 month", Every(months=1)),
        ("  2\tweeks ", Every(days=14)),
        ("2 week", Every(days=14)),
        ("1 days", Every(days=1)),
        ("3 years", Every(months=36)),
        ("90 minutes", Every(seconds=5400)),
        ("1hour", Every(seconds=3600)),
        ("007 days", Every(days=7)),
        (timedelta(days=1), Every(seconds=86400)),
        (timedelta(seconds=90), Every(seconds=90)),
    ],
)
def test_every_reads_a_count_and_a_unit_singular_or_plural(value: object, expected: Every) -> None:
    assert parse_every(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12 months", "1 year"),
        ("13 months", "13 months"),
        ("9 days", "9 days"),
        ("14 days", "2 weeks"),
        ("120 minutes", "2 hours"),
        ("1 day", "1 day"),
        (timedelta(days=1), "24 hours"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(seconds=3601), "3601 seconds"),
    ],
)
def test_every_text_is_its_largest_whole_unit_and_reads_back(value: object, text: str) -> None:
    every = parse_every(value)
    assert every.text == str(every) == text
    assert parse_every(text) == every


def test_a_timedelta_of_a_day_is_elapsed_time_not_a_local_day() -> None:
    assert parse_every(timedelta(days=1)) != parse_every("1 day")


def test_a_step_longer_than_the_range_of_times_is_refused() -> None:
    assert parse_every("9998 years").months == 9998 * 12
    for absurd in ("10000 years", "999999999999999999999999 days", "4000000 days"):
        with pytest.raises(ValidationError, match="longer than the whole range of times") as raised:
            parse_every(absurd)
        assert raised.value.field == "every"
    with pytest.raises(ValidationError, match="longer than the whole range"):
        parse_every(timedelta(days=3_700_000))


BAD_EVERY = [
    0,
    1,
    -1,
    1.5,
    True,
    None,
    "",
    "   ",
    "month",
    "0 days",
    "-1 day",
    "1.5 days",
    "1 fortnight",
    "1 month 2 days",
    "30 seconds",
    "\u0663 days",  # a digit, but not an ASCII one
    timedelta(0),
    timedelta(days=-1),
    timedelta(seconds=59),
    timedelta(minutes=1, microseconds=1),
]


@pytest.mark.parametrize("value", BAD_EVERY)
def test_a_bad_every_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_every(value)
    assert raised.value.field == "every"
    with pytest.raises(ValidationError) as raised:
        parse_every(value, field="expires_after")
    assert raised.value.field == "expires_after"
    with pytest.raises(ValidationError) as raised:
        add(utc(2026, 1, 1), value, 1)  # type: ignore[arg-type]
    assert raised.value.field == "every"


@pytest.mark.parametrize(
    "fields",
    [{}, {"months": 1, "days": 1}, {"seconds": 30}, {"days": -1}, {"months": "1"}, {"days": 10**9}],
)
def test_an_every_has_exactly_one_kind_of_step(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as raised:
        Every(**fields)  # type: ignore[arg-type]
    assert raised.value.field == "every"


# -- boundaries -------------------------------------------------------------------------------


def test_month_end_anchor_clamps_then_returns_to_the_31st() -> None:
    anchor = datetime(2026, 1, 31, 23, 30, tzinfo=BERLIN)
    walls = [local("Europe/Berlin", add(anchor, "1 month", k, tz="Europe/Berlin")) for k in range(-2, 5)]
    assert walls == [
        datetime(2025, 11, 30, 23, 30),
        datetime(2025, 12, 31, 23, 30),
        datetime(2026, 1, 31, 23, 30),
        datetime(2026, 2, 28, 23, 30),
        datetime(2026, 3, 31, 23, 30),
        datetime(2026, 4, 30, 23, 30),
        datetime(2026, 5, 31, 23, 30),
    ]


def test_month_end_clamps_to_the_29th_in_a_leap_year() -> None:
    assert add(utc(2024, 1, 31, 12), "1 month", 1) == utc(2024, 2, 29, 12)
    leap_day = utc(2024, 2, 29)
    assert [add(leap_day, "1 year", k).date().isoformat() for k in (-4, -1, 1, 4)] == [
        "2020-02-29",
        "2023-02-28",
        "2025-02-28",
        "2028-02-29",
    ]


def test_months_keep_the_local_day_and_time_not_the_utc_one() -> None:
    anchor = datetime(2026, 1, 15, 0, 30, tzinfo=BERLIN)  # 23:30 on the 14th in UTC
    july = add(anchor, "6 months", 1, tz="Europe/Berlin")
    assert july == utc(2026, 7, 14, 22, 30)  # 00:30 on the 15th in summer time
    assert add(anchor, "6 months", 1) == utc(2026, 7, 14, 23, 30)  # the same step in UTC


def test_a_daily_boundary_keeps_local_time_across_dst() -> None:
    anchor = datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK)
    spring = [add(anchor, "1 day", k, tz="America/New_York") for k in range(3)]
    assert [local("America/New_York", b) for b in spring] == [datetime(2026, 3, d, 9) for d in (7, 8, 9)]
    assert spring[1] - spring[0] == timedelta(hours=23)
    autumn = datetime(2026, 10, 31, 9, 0, tzinfo=NEW_YORK)
    fall = [add(autumn, "1 day", k, tz="America/New_York") for k in range(2)]
    assert fall[1] - fall[0] == timedelta(hours=25)
    assert local("America/New_York", fall[1]) == datetime(2026, 11, 1, 9)


def test_a_weekly_boundary_keeps_local_time_across_dst() -> None:
    anchor = datetime(2026, 3, 23, 8, 0, tzinfo=BERLIN)  # a Monday, winter time
    after = add(anchor, "1 week", 1, tz="Europe/Berlin")
    assert local("Europe/Berlin", after) == datetime(2026, 3, 30, 8)
    assert after - anchor == timedelta(days=7, hours=-1)


def test_minutes_hours_and_timedeltas_are_elapsed_time() -> None:
    anchor = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    for every in ("24 hours", "1440 minutes", timedelta(days=1)):
        after = add(anchor, every, 1, tz="Europe/Berlin")
        assert after - anchor == timedelta(hours=24)
        assert local("Europe/Berlin", after) == datetime(2026, 3, 29, 11)


def test_a_gap_time_moves_forward_by_the_gap() -> None:
    anchor = datetime(2026, 3, 27, 2, 30, tzinfo=BERLIN)  # 02:00 jumps to 03:00 on the 29th
    walls = [local("Europe/Berlin", add(anchor, "1 day", k, tz="Europe/Berlin")) for k in range(4)]
    assert walls == [
        datetime(2026, 3, 27, 2, 30),
        datetime(2026, 3, 28, 2, 30),
        datetime(2026, 3, 29, 3, 30),
        datetime(2026, 3, 30, 2, 30),
    ]
    # Lord Howe moves its clocks by half an hour: 02:00 jumps to 02:30 on 4 October 2026
    howe = datetime(2026, 10, 3, 2, 15, tzinfo=LORD_HOWE)
    assert local("Australia/Lord_Howe", add(howe, "1 day", 1, tz="Australia/Lord_Howe")) == datetime(2026, 10, 4, 2, 45)


def test_a_gap_time_on_a_monthly_boundary_moves_forward_too() -> None:
    anchor = datetime(2026, 2, 8, 2, 30, tzinfo=NEW_YORK)  # 8 March 2026 springs forward at 02:00
    assert local("America/New_York", add(anchor, "1 month", 1, tz="America/New_York")) == datetime(2026, 3, 8, 3, 30)


def test_an_ambiguous_time_takes_its_first_occurrence() -> None:
    anchor = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK)  # 1 November 2026 repeats 01:00-02:00
    after = add(anchor, "1 day", 1, tz="America/New_York")
    assert after == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST (06:30 UTC)
    berlin = datetime(2026, 9, 25, 2, 30, tzinfo=BERLIN)  # 25 October 2026 repeats 02:00-03:00
    assert add(berlin, "1 month", 1, tz="Europe/Berlin") == utc(2026, 10, 25, 0, 30)


def test_an_anchor_on_the_second_occurrence_is_its_own_boundary() -> None:
    anchor = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30 that night
    assert add(anchor, "1 day", 0, tz="America/New_York") == anchor
    assert add(anchor, "1 day", -1, tz="America/New_York") == utc(2026, 10, 31, 5, 30)
    assert add(anchor, "1 day", 1, tz="America/New_York") == utc(2026, 11, 2, 6, 30)
    assert period_at(anchor, "1 day", anchor, tz="America/New_York").start == anchor


def test_boundaries_do_not_drift() -> None:
    anchor = utc(2026, 1, 31, 9)
    # from the anchor, not from the boundary before: 31 Jan -> 28 Feb -> 31 Mar, never -> 28 Mar
    assert add(anchor, "1 month", 2) == utc(2026, 3, 31, 9)
    assert add(add(anchor, "1 month", 1), "1 month", 1) == utc(2026, 3, 28, 9)
    assert add(anchor, "1 month", 1200) == utc(2126, 1, 31, 9)
    daily = datetime(2026, 1, 1, 9, tzinfo=NEW_YORK)
    walls = {local("America/New_York", add(daily, "1 day", k, tz="America/New_York")).time() for k in range(730)}
    assert walls == {datetime(2026, 1, 1, 9).time()}
    assert add(anchor, timedelta(seconds=61), 10**6) == anchor + timedelta(seconds=61 * 10**6)


def test_a_skipped_day_leaves_an_empty_period() -> None:
    # Samoa went from UTC-10 to UTC+14 at the end of 29 December 2011: the 30th never happened
    anchor = datetime(2011, 12, 28, 10, tzinfo=APIA)
    boundaries = [add(anchor, "1 day", k, tz="Pacific/Apia") for k in range(5)]
    assert boundaries[2] == boundaries[3] == utc(2011, 12, 30, 20)  # 30th 10:00 moved to the 31st
    assert boundaries[3] - boundaries[1] == timedelta(hours=24)
    found = period_at(anchor, "1 day", boundaries[2], tz="Pacific/Apia")
    assert found == Period(boundaries[3], boundaries[4])
    assert index_at(anchor, "1 day", boundaries[2], tz="Pacific/Apia") == 3
    assert period_at(anchor, "1 day", boundaries[2] - timedelta(microseconds=1), tz="Pacific/Apia") == Period(
        boundaries[1], boundaries[2]
    )


def test_negative_steps_reach_back_before_the_anchor() -> None:
    anchor = utc(2026, 3, 31)
    assert add(anchor, "1 month", -1) == utc(2026, 2, 28)
    assert period_at(anchor, "1 month", utc(2025, 12, 15)) == Period(utc(2025, 11, 30), utc(2025, 12, 31))
    assert index_at(anchor, "1 month", utc(2025, 12, 15)) == -4


def test_period_at_a_boundary_starts_there() -> None:
    anchor = utc(2026, 1, 1)
    assert period_at(anchor, "1 week", utc(2026, 1, 15)) == Period(utc(2026, 1, 15), utc(2026, 1, 22))
    assert period_at(anchor, "1 week", utc(2026, 1, 15) - timedelta(microseconds=1)).start == utc(2026, 1, 8)


@pytest.mark.parametrize("every", ["1 minute", "7 minutes", "1 day", "1 week", "1 month", "1 year"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Apia", "Australia/Lord_Howe"])
def test_period_at_takes_a_few_steps_a_century_from_the_anchor(
    every: str, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    boundary = periods._Steps.boundary

    def counted(steps: periods._Steps, k: int) -> datetime:
        nonlocal calls
        calls += 1
        return boundary(steps, k)

    monkeypatch.setattr(periods._Steps, "boundary", counted)
    anchor, t = utc(1926, 5, 17, 13, 7), utc(2026, 5, 17, 13, 7, 30)
    found = period_at(anchor, every, t, tz=zone)
    assert found.start <= t < found.end
    assert calls <= 8
    calls = 0
    assert period_at(t, every, anchor, tz=zone).start <= anchor
    assert calls <= 8


def test_add_out_of_range_is_refused_naming_k() -> None:
    for k in (10**4, -(10**4), 10**30):
        with pytest.raises(ValidationError, match="out of range") as raised:
            add(utc(2026, 1, 1), "1 year", k)
        assert raised.value.field == "k"
    with pytest.raises(ValidationError) as raised:
        add(utc(2026, 1, 1), "1 year", 1.0)  # type: ignore[arg-type]
    assert raised.value.field == "k"


def test_a_period_reaching_out_of_range_is_refused_naming_t() -> None:
    late = datetime(9999, 12, 29, tzinfo=UTC)
    assert index_at(utc(2026, 1, 1), "1 year", late) == 7973
    with pytest.raises(ValidationError, match="out of range") as raised:
        period_at(utc(2026, 1, 1), "1 year", late)
    assert raised.value.field == "t"


# -- windows ----------------------------------------------------------------------------------


def test_a_window_is_the_calendar_unit_in_the_zone() -> None:
    at = utc(2026, 7, 15, 3, 20)  # Wednesday; 09:05 in Kathmandu (UTC+5:45)
    assert window(at, "hour") == Period(utc(2026, 7, 15, 3), utc(2026, 7, 15, 4))
    assert window(at, "hour", tz="Asia/Kathmandu") == Period(utc(2026, 7, 15, 3, 15), utc(2026, 7, 15, 4, 15))
    assert window(at, "day", tz="Asia/Kathmandu") == Period(utc(2026, 7, 14, 18, 15), utc(2026, 7, 15, 18, 15))
    assert window(at, "week") == Period(utc(2026, 7, 13), utc(2026, 7, 20))
    assert window(at, "month", tz="America/New_York") == Period(utc(2026, 7, 1, 4), utc(2026, 8, 1, 4))


def test_a_window_day_lasts_23_or_25_hours_across_dst() -> None:
    spring = window(utc(2026, 3, 29, 12), "day", tz="Europe/Berlin")
    assert spring == Period(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    autumn = window(utc(2026, 10, 25, 12), "day", tz="Europe/Berlin")
    assert autumn.end - autumn.start == timedelta(hours=25)


def test_a_window_hour_in_a_repeated_hour_holds_both_occurrences() -> None:
    first, second = utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)  # 01:30 EDT, 01:30 EST
    expected = Period(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))
    assert window(first, "hour", tz="America/New_York") == window(second, "hour", tz="America/New_York") == expected


def test_a_window_starts_when_the_clocks_jump_past_its_start() -> None:
    # Santiago: 00:00 jumps to 01:00 on 6 September 2026, so that day starts at 01:00 (UTC-3)
    day = window(utc(2026, 9, 6, 15), "day", tz="America/Santiago")
    assert day == Period(utc(2026, 9, 6, 4), utc(2026, 9, 7, 3))
    # Chatham: 02:45 jumps to 03:45 on 27 September 2026, so hour 03 lasts from the jump to 04:00
    hour = window(utc(2026, 9, 26, 14, 5), "hour", tz="Pacific/Chatham")
    assert hour == Period(utc(2026, 9, 26, 14), utc(2026, 9, 26, 14, 15))


def test_windows_reaching_out_of_range_are_refused_naming_at() -> None:
    with pytest.raises(ValidationError, match="out of range") as raised:
        window(datetime(9999, 12, 29, tzinfo=UTC), "month")
    assert raised.value.field == "at"


# -- bad arguments ----------------------------------------------------------------------------


def test_naive_times_are_refused_naming_the_argument() -> None:
    naive = datetime(2026, 1, 1)
    for call, field in [
        (lambda: add(naive, "1 day", 1), "anchor"),
        (lambda: period_at(naive, "1 day", utc(2026, 1, 1)), "anchor"),
        (lambda: period_at(utc(2026, 1, 1), "1 day", naive), "t"),
        (lambda: index_at(utc(2026, 1, 1), "1 day", naive), "t"),
        (lambda: window(naive, "day"), "at"),
        (lambda: add("2026-01-01", "1 day", 1), "anchor"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == field


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "Europe", "../etc/passwd", "utc ", None, 1])
def test_an_unknown_zone_is_refused_naming_timezone(tz: object) -> None:
    for call in (
        lambda: add(utc(2026, 1, 1), "1 day", 1, tz=tz),  # type: ignore[arg-type]
        lambda: period_at(utc(2026, 1, 1), "1 day", utc(2026, 2, 1), tz=tz),  # type: ignore[arg-type]
        lambda: window(utc(2026, 1, 1), "day", tz=tz),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == "timezone"


@pytest.mark.parametrize("span", ["year", "Day", " day", "days", "", None, 1])
def test_a_bad_span_is_refused_naming_span(span: object) -> None:
    with pytest.raises(ValidationError) as raised:
        window(utc(2026, 1, 1), span)  # type: ignore[arg-type]
    assert raised.value.field == "span"


def test_the_module_examples_run() -> None:
    failures, tried = doctest.testmod(periods, optionflags=doctest.ELLIPSIS)
    assert tried and not failures


# -- properties -------------------------------------------------------------------------------

zones = st.sampled_from(ZONES)
anchors = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 12, 31),
    timezones=st.sampled_from([UTC, *(ZoneInfo(zone) for zone in ZONES[1:])]),
    allow_imaginary=False,
)
texts = st.one_of(
    st.builds("{} minutes".format, st.integers(1, 600)),
    st.builds("{} hours".format, st.integers(1, 1000)),
    st.builds("{} day".format, st.integers(1, 400)),
    st.builds("{} weeks".format, st.integers(1, 60)),
    st.builds("{} months".format, st.integers(1, 36)),
    st.builds("{} year".format, st.integers(1, 5)),
)
everies = st.one_of(
    texts,
    st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=100)).map(
        lambda span: timedelta(seconds=span // timedelta(seconds=1))
    ),
)
steps = st.integers(-100, 100)
moments = st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2400, 1, 1), timezones=st.just(UTC))
quick = settings(max_examples=60, deadline=None)


def _skips_a_day(every: object, zone: str) -> bool:
    """Whether an empty period may arise: a daily step over a day the zone skipped."""
    return parse_every(every) == Every(days=1) and zone == "Pacific/Apia"


@quick
@given(anchor=anchors, every=everies, k=steps, zone=zones)
def test_boundaries_increase_with_k(anchor: datetime, every: object, k: int, zone: str) -> None:
    found = [add(anchor, every, j, tz=zone) for j in range(k, k + 3)]  # type: ignore[arg-type]
    for before, after in itertools.pairwise(found):
        assert before < after or (before == after and _skips_a_day(every, zone))


@quick
@given(anchor=anchors, every=everies, k=steps, zone=zones)
def test_the_period_at_a_boundary_starts_there(anchor: datetime, every: object, k: int, zone: str) -> None:
    start, end = add(anchor, every, k, tz=zone), add(anchor, every, k + 1, tz=zone)  # type: ignore[arg-type]
    if start < end:
        assert period_at(anchor, every, start, tz=zone) == (start, end)  # type: ignore[arg-type]
        assert index_at(anchor, every, start, tz=zone) == k  # type: ignore[arg-type]


@quick
@given(anchor=anchors, every=everies, t=moments, zone=zones)
def test_every_time_lies_in_its_period(anchor: datetime, every: object, t: datetime, zone: str) -> None:
    start, end = period_at(anchor, every, t, tz=zone)  # type: ignore[arg-type]
    assert start <= t < end
    k = index_at(anchor, every, t, tz=zone)  # type: ignore[arg-type]
    assert start == add(anchor, every, k, tz=zone)  # type: ignore[arg-type]
    assert end == add(anchor, every, k + 1, tz=zone)  # type: ignore[arg-type]
    assert start.tzinfo is UTC and end.tzinfo is UTC


@quick
@given(anchor=anchors, every=texts, k=steps, zone=zones)
def test_calendar_steps_keep_the_local_wall_time_where_it_exists(
    anchor: datetime, every: str, k: int, zone: str
) -> None:
    step, tz = parse_every(every), ZoneInfo(zone)
    wall = anchor.astimezone(tz).replace(tzinfo=None)
    if step.seconds or k == 0:
        return
    if step.days:
        expected = wall + timedelta(days=step.days * k)
    else:
        year, month = divmod(wall.year * 12 + wall.month - 1 + step.months * k, 12)
        expected = wall.replace(day=1, year=year, month=month + 1)
        expected = expected.replace(day=min(wall.day, _month_length(expected)))
    found = local(zone, add(anchor, every, k, tz=zone))
    exists = expected.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == expected
    assert found == expected if exists else found > expected


def _month_length(day: datetime) -> int:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).day


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.builds(Every, months=st.integers(1, periods._LIMIT["months"])),
        st.builds(Every, days=st.integers(1, periods._LIMIT["days"])),
        st.builds(Every, seconds=st.integers(60, periods._LIMIT["seconds"])),
        everies.map(parse_every),
    )
)
def test_every_text_round_trips(every: Every) -> None:
    assert parse_every(every.text) == every
    assert parse_every(every) is every


@quick
@given(at=moments, span=st.sampled_from(periods.SPANS), zone=zones)
def test_windows_hold_their_time_and_tile_the_timeline(at: datetime, span: str, zone: str) -> None:
    start, end = window(at, span, tz=zone)
    assert start <= at < end
    assert window(start, span, tz=zone) == (start, end)
    assert window(end, span, tz=zone).start == end
    assert window(start - timedelta(microseconds=1), span, tz=zone).end == start

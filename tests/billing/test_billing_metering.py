"""SPEC_BILLING B2 (summary) and B9: aggregating readings over a half-open span, with each
aggregation's rules, ties, the dimension filter and properties over random readings."""

# Results are Decimals compared with the ints they equal (Decimal(5) == 5), as a reader writes them.
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import decimal
from datetime import timedelta
from decimal import Decimal

import pytest
from billing_strategies import T0, caller_contexts, readings
from hypothesis import given
from hypothesis import strategies as st

from creditcore.billing import AGGREGATIONS, Aggregate, MeterReading, aggregate

D = Decimal
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
END = T0 + 6 * HOUR + MINUTE  # just past the last minute readings() draws


def r(minutes: int, value: object = 0, key: str | None = None, **dims: str) -> MeterReading:
    return MeterReading(T0 + minutes * MINUTE, value, unique_key=key, dimensions=dims)


# -- each aggregation ------------------------------------------------------------------------------


EVENTS = [r(0, 5, "a"), r(10, "2.5", "A"), r(20, 9, "a"), r(30, 1, "b")]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("sum", D("17.5")),
        ("count", D(4)),
        ("max", D(9)),
        ("unique_count", D(3)),  # "a" and "A" are two keys: exact and case-sensitive
        ("latest", D(1)),
    ],
)
def test_each_aggregation(aggregation: str, expected: Decimal) -> None:
    value, count = aggregate(aggregation, EVENTS, start=T0, end=T0 + HOUR)
    assert (value, count) == (expected, 4)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_no_readings_give_zero_and_zero(aggregation: str) -> None:
    assert aggregate(aggregation, [], start=T0, end=T0 + HOUR) == Aggregate(D(0), 0)
    assert aggregate(aggregation, EVENTS, start=T0 + HOUR, end=T0 + 2 * HOUR) == (0, 0)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_the_span_is_half_open(aggregation: str) -> None:
    """A reading at ``start`` counts; one at ``end`` belongs to the next span."""
    at_start, at_end = r(0, 3, "s"), r(60, 7, "e")
    assert aggregate(aggregation, [at_start, at_end], start=T0, end=T0 + HOUR).event_count == 1
    assert aggregate(aggregation, [at_start, at_end], start=T0 + HOUR, end=T0 + 2 * HOUR).event_count == 1
    just_before = MeterReading(T0 + HOUR - timedelta(microseconds=1), 1, unique_key="x")
    assert aggregate(aggregation, [just_before], start=T0, end=T0 + HOUR).event_count == 1


def test_count_ignores_values() -> None:
    assert aggregate("count", [r(0, 100), r(1)], start=T0, end=T0 + HOUR) == (2, 2)


def test_max_of_equal_and_zero_values() -> None:
    assert aggregate("max", [r(0, 0), r(1, 0)], start=T0, end=T0 + HOUR) == (0, 2)
    assert aggregate("max", [r(0, "1.50"), r(1, "1.5")], start=T0, end=T0 + HOUR).value == D("1.5")


def test_latest_takes_the_greatest_timestamp_not_the_last_given() -> None:
    """Hanzo's ``last`` takes the last event in query order; creditcore takes the latest time."""
    events = [r(30, 1), r(50, 2), r(10, 3)]
    assert aggregate("latest", events, start=T0, end=T0 + HOUR).value == 2


def test_latest_tie_goes_to_the_last_recorded() -> None:
    """SPEC B9: equal timestamps, the last recorded wins (the later in the sequence given)."""
    events = [r(40, 1), r(40, 2), r(10, 9), r(40, 3), r(20, 4)]
    assert aggregate("latest", events, start=T0, end=T0 + HOUR) == (3, 5)
    assert aggregate("latest", list(reversed(events)), start=T0, end=T0 + HOUR) == (1, 5)


def test_unique_count_is_exact_and_case_sensitive() -> None:
    keys = ["user-1", "User-1", "USER-1", "user-1", "user-1 ", "ü", "u"]
    events = [r(i, key=k) for i, k in enumerate(keys)]
    assert aggregate("unique_count", events, start=T0, end=T0 + HOUR) == (6, 7)


def test_unique_count_of_many_keys_is_exact() -> None:
    """OpenMeter uses ClickHouse's ``uniqExact``, not an estimate; so does creditcore."""
    events = [r(i % 60, key=f"k{i % 5000}") for i in range(20_000)]
    assert aggregate("unique_count", events, start=T0, end=T0 + HOUR) == (5000, 20_000)


def test_sum_stays_exact_far_past_a_default_context() -> None:
    events = [r(0, "123456789012345678901234567890.000001"), r(1, "0.000000000001")]
    assert aggregate("sum", events, start=T0, end=T0 + HOUR).value == D("123456789012345678901234567890.000001000001")


# -- the dimension filter --------------------------------------------------------------------------


DIMENSIONED = [r(0, 1, model="a", region="eu"), r(1, 2, model="a"), r(2, 4, model="b", region="eu"), r(3, 8)]


@pytest.mark.parametrize(
    ("dimensions", "expected"),
    [
        (None, (15, 4)),
        ({}, (15, 4)),
        ({"model": "a"}, (3, 2)),
        ({"region": "eu"}, (5, 2)),
        ({"model": "a", "region": "eu"}, (1, 1)),
        ({"model": "A"}, (0, 0)),  # values compare exactly
        ({"model": "c"}, (0, 0)),
        ({"tier": "x"}, (0, 0)),  # a reading without the dimension does not match it
    ],
)
def test_dimensions_filter_keeps_readings_that_include_the_pairs(
    dimensions: dict[str, str] | None, expected: tuple[int, int]
) -> None:
    assert aggregate("sum", DIMENSIONED, start=T0, end=T0 + HOUR, dimensions=dimensions) == expected


# -- properties ------------------------------------------------------------------------------------


@given(events=readings(), aggregation=st.sampled_from(AGGREGATIONS), dims=st.sampled_from([None, {"model": "a"}]))
def test_aggregate_matches_a_naive_model(
    events: list[MeterReading], aggregation: str, dims: dict[str, str] | None
) -> None:
    start, end = T0 + HOUR, T0 + 4 * HOUR
    taken = [
        e
        for e in events
        if start <= e.timestamp < end and all(e.dimensions.get(k) == v for k, v in (dims or {}).items())
    ]
    values = [e.value for e in taken]
    if not taken:
        expected = D(0)
    elif aggregation == "sum":
        expected = sum(values, D(0))
    elif aggregation == "count":
        expected = D(len(taken))
    elif aggregation == "max":
        expected = max(values)
    elif aggregation == "unique_count":
        expected = D(len({e.unique_key for e in taken}))
    else:  # latest: stable sort by time, the last one
        expected = sorted(taken, key=lambda e: e.timestamp)[-1].value
    assert aggregate(aggregation, events, start=start, end=end, dimensions=dims) == (expected, len(taken))


@given(events=readings(), cut=st.integers(1, 6 * 60))
def test_sum_and_count_add_up_over_adjacent_spans(events: list[MeterReading], cut: int) -> None:
    """[a, c) = [a, b) + [b, c): no reading is lost or counted twice at b."""
    middle = T0 + cut * MINUTE
    for aggregation in ("sum", "count"):
        whole = aggregate(aggregation, events, start=T0, end=END)
        left = aggregate(aggregation, events, start=T0, end=middle)
        right = aggregate(aggregation, events, start=middle, end=END)
        assert whole == (left.value + right.value, left.event_count + right.event_count)


@given(events=readings(), cut=st.integers(1, 6 * 60))
def test_max_and_latest_over_adjacent_spans(events: list[MeterReading], cut: int) -> None:
    middle = T0 + cut * MINUTE
    left = aggregate("max", events, start=T0, end=middle)
    right = aggregate("max", events, start=middle, end=END)
    assert aggregate("max", events, start=T0, end=END).value == max(left.value, right.value)
    later = aggregate("latest", events, start=middle, end=END)
    whole = aggregate("latest", events, start=T0, end=END)
    assert whole.value == (
        later.value if later.event_count else aggregate("latest", events, start=T0, end=middle).value
    )


@given(events=readings(), data=st.data())
def test_latest_ignores_the_order_of_readings_at_different_instants(
    events: list[MeterReading], data: st.DataObject
) -> None:
    """Shuffling changes nothing but the order among readings of one instant."""
    shuffled = data.draw(st.permutations(events))
    by_instant = {e.timestamp: [x for x in events if x.timestamp == e.timestamp] for e in events}
    result = aggregate("latest", shuffled, start=T0, end=END)
    if events:
        last_instant = max(by_instant)
        assert result.value == [x for x in shuffled if x.timestamp == last_instant][-1].value


@given(events=readings(), aggregation=st.sampled_from(AGGREGATIONS), context=caller_contexts)
def test_aggregate_ignores_the_callers_context(
    events: list[MeterReading], aggregation: str, context: decimal.Context
) -> None:
    expected = aggregate(aggregation, events, start=T0, end=END)
    with decimal.localcontext(context):
        result = aggregate(aggregation, events, start=T0, end=END)
    assert str(result.value) == str(expected.value) and result.event_count == expected.event_count


def test_readings_in_other_zones_compare_as_instants() -> None:
    from zoneinfo import ZoneInfo

    berlin = (T0 + HOUR).astimezone(ZoneInfo("Europe/Berlin"))  # 02:00 local, 01:00 UTC
    reading = MeterReading(berlin, 1)
    assert reading.timestamp == T0 + HOUR and reading.timestamp.utcoffset() == timedelta(0)
    assert aggregate("sum", [reading], start=T0, end=T0 + HOUR).event_count == 0
    assert aggregate("sum", [reading], start=T0 + HOUR, end=T0 + 2 * HOUR, dimensions=None).event_count == 1


def test_a_reading_is_a_hashable_frozen_value() -> None:
    reading = r(0, 1, "k", model="a")
    assert reading == r(0, "1.0", "k", model="a")
    assert hash(reading) == hash(r(0, "1.0", "k", model="a"))
    with pytest.raises(TypeError):
        reading.dimensions["model"] = "b"  # type: ignore[index]
    with pytest.raises(AttributeError):
        reading.value = D(2)  # type: ignore[misc]

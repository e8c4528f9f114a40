"""Documented cases of the anchors (research/billing.md), ported to the pure billing modules and
named after their source, with creditcore's deliberate differences asserted where they apply.

- Hanzo commerce: ``models/pricingrule/pricingrule_test.go`` (v1.33.0, the seed's version),
  ``billing/engine/discount_test.go``, ``api/billing/usage_idempotency_test.go``
  (TestRoundMicrosToCents), ``api/billing/windows_test.go`` and the meter summary of
  ``test/api/billing/billing_test.go`` (HEAD 6624f3347b4a).
- Lago: ``spec/services/charge_models/{graduated,volume,package}_service_spec.rb``
  (1b1c24a6a6c3). Integer ranges ``0-10, 11-20, 21-`` are cumulative bounds ``10, 20, None``.
- OpenMeter: ``openmeter/streaming/testutils/streaming_test.go`` (the aggregation the real
  ClickHouse query also does: ``time >= from AND time < to``, ``argMax`` for LATEST,
  ``uniqExact``) and ``pkg/timeutil/recurrence_test.go`` (7e57a394a028).
- Stripe: the tiered-pricing guide's tiers (1-5: 7 USD, 6-10: 6.5 USD, 11+: 6 USD) and its
  volume table; ``up_to`` "up to and including"; ``unit_amount_decimal`` at most 12 places.
- Orb: the product-catalog examples of unit, tiered, bulk and package prices; tiers with an
  exclusive ``first_unit`` and an inclusive ``last_unit``.

Amounts in cents are priced in a unit of scale 0, as the Go sources have them.
"""

# Results are Decimals compared with the ints they equal (Decimal(5) == 5), as a reader writes them.
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore.billing import (
    MeterReading,
    PriceModel,
    Tier,
    aggregate,
    percent_off,
    period_at,
    price,
    round_half_up,
    window,
)
from creditcore.errors import ValidationError

D = Decimal


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# == Hanzo commerce: pricing (models/pricingrule/pricingrule_test.go) =============================


@pytest.mark.parametrize(("quantity", "cents"), [(0, 0), (1, 2), (100, 200), (1_000_000, 2_000_000)])
def test_hanzo_calculate_cost_per_unit(quantity: int, cents: int) -> None:
    """TestCalculateCost_PerUnit: 2 cents a unit."""
    assert price(PriceModel("per_unit", unit_price=2), quantity) == cents


#: Hanzo's tiers {UpTo: 100, 10c}, {UpTo: 500, 5c}, {UpTo: 0 (infinity), 1c + 100c flat}. In
#: Hanzo's ``tiered`` model UpTo is the WIDTH of the band ("Next 500: 5c each"); creditcore's
#: ``up_to`` is cumulative, so the widths 100 and 500 become the bounds 100 and 600.
HANZO_TIERED = PriceModel("graduated", tiers=[Tier(100, 10), Tier(600, 5), Tier(None, 1, flat_fee=100)])


@pytest.mark.parametrize(
    ("quantity", "cents"),
    [(0, 0), (50, 500), (100, 1000), (200, 1500), (600, 3500), (700, 3700), (1600, 4600)],
)
def test_hanzo_calculate_cost_tiered(quantity: int, cents: int) -> None:
    """TestCalculateCost_Tiered, every row, with the widths read as cumulative bounds."""
    assert price(HANZO_TIERED, quantity) == cents


def test_hanzo_tiered_widths_read_as_bounds_would_differ() -> None:
    """The deliberate difference: had the 500 been taken as a cumulative bound (as Hanzo's own
    volume model does), 600 units would cost 1000 + 400*5 + 100 + 100 = 3200, not 3500."""
    as_bounds = PriceModel("graduated", tiers=[Tier(100, 10), Tier(500, 5), Tier(None, 1, flat_fee=100)])
    assert price(as_bounds, 600) == 3200
    assert price(HANZO_TIERED, 600) == 3500


@pytest.mark.parametrize(("quantity", "cents"), [(5, 500), (10, 500), (15, 1510)])
def test_hanzo_calculate_cost_tiered_with_flat_fees(quantity: int, cents: int) -> None:
    """TestCalculateCost_TieredWithFlatFees: {10: 0c + 500 flat}, {inf: 2c + 1000 flat}."""
    model = PriceModel("graduated", tiers=[Tier(10, 0, flat_fee=500), Tier(None, 2, flat_fee=1000)])
    assert price(model, quantity) == cents


@pytest.mark.parametrize(("quantity", "cents"), [(0, 0), (50, 500), (100, 1000), (200, 1000), (1500, 2000)])
def test_hanzo_calculate_cost_volume(quantity: int, cents: int) -> None:
    """TestCalculateCost_Volume: {100: 10c}, {1000: 5c}, {inf: 1c + 500 flat}; cumulative bounds
    in Hanzo too, and 100 belongs to the first tier."""
    model = PriceModel("volume", tiers=[Tier(100, 10), Tier(1000, 5), Tier(None, 1, flat_fee=500)])
    assert price(model, quantity) == cents


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_hanzo_calculate_cost_empty_tiers_is_refused(model: str) -> None:
    """TestCalculateCost_EmptyTiers / _VolumeEmptyTiers price 100 units at 0. Deliberate
    difference: creditcore refuses a tiered price without tiers (B3), so nothing is free by
    a missing configuration."""
    with pytest.raises(ValidationError) as error:
        PriceModel(model, tiers=[])
    assert error.value.field == "tiers"


def test_hanzo_calculate_cost_unknown_model_is_refused() -> None:
    """TestCalculateCost_UnknownModel falls back to per-unit (10 x 3 = 30). Deliberate
    difference: "nothing falls back" (B3); Hanzo's ``tiered`` is named ``graduated``."""
    for model in ("unknown", "tiered"):
        with pytest.raises(ValidationError) as error:
            PriceModel(model, unit_price=3)
        assert error.value.field == "model"
    with pytest.raises(ValidationError, match="write 'graduated'"):
        PriceModel("tiered")


def test_hanzo_calculate_cost_single_infinity_tier() -> None:
    """TestCalculateCost_SingleInfinityTier: {inf: 7c + 100 flat}, 50 units -> 450."""
    assert price(PriceModel("graduated", tiers=[Tier(None, 7, flat_fee=100)]), 50) == 450


# == Hanzo commerce: discounts and rounding ======================================================


@pytest.mark.parametrize(
    ("name", "subtotal", "percent", "discount"),
    [
        ("no promo is no discount", "20.00", 0, "0.00"),
        ("a negative percent is no promo, never a surcharge", "20.00", -10, "0.00"),
        ("the advertised half of a $20 plan", "20.00", 50, "10.00"),
        ("20% of $20", "20.00", 20, "4.00"),
        ("per-seat subtotals discount whole, not per seat", "60.00", 25, "15.00"),
        ("100% off leaves nothing to charge", "20.00", 100, "20.00"),
        ("a percent above 100 cannot invert the sale", "20.00", 150, "20.00"),
        ("nothing to discount", "0.00", 50, "0.00"),
        ("rounds the fractional cent to the customer", "10.01", 33, "3.30"),
        ("rounds up when the half falls that way", "19.99", 33, "6.60"),
    ],
)
def test_hanzo_discount_cents(name: str, subtotal: str, percent: int, discount: str) -> None:
    """TestDiscountCents, every row, in dollars at scale 2 (Hanzo works in cents)."""
    assert str(percent_off(subtotal, percent, 2)) == discount, name


def test_hanzo_discount_cents_charge_equals_invoice() -> None:
    """TestDiscountCents_ChargeEqualsInvoice: for every subtotal of 1 to 5000 cents and the
    percents 0, 1, 17, 25, 50, 99, 100, the discount never exceeds the subtotal and the rest
    is never negative; here also equal to Hanzo's integer formula."""
    for cents in range(1, 5001):
        subtotal = D(cents).scaleb(-2)
        for percent in (0, 1, 17, 25, 50, 99, 100):
            discount = percent_off(subtotal, percent, 2)
            hanzo = 0 if percent == 0 else cents if percent == 100 else (cents * percent + 50) // 100
            assert discount == D(hanzo).scaleb(-2)
            assert 0 <= subtotal - discount <= subtotal


@pytest.mark.parametrize(
    ("micros", "cents", "note"),
    [
        (0, 0, "zero"),
        (1, 0, "0.0001c rounds to 0"),
        (4999, 0, "just under half a cent"),
        (5000, 1, "exactly half a cent: half-up"),
        (9999, 1, "just under a cent"),
        (10000, 1, "exactly one cent"),
        (14999, 1, "1.4999c"),
        (15000, 2, "1.5c: half-up"),
        (25000, 3, "2.5c: half-up, where half-even would give 2"),
        (1_000_000, 100, "$1"),
    ],
)
def test_hanzo_round_micros_to_cents(micros: int, cents: int, note: str) -> None:
    """TestRoundMicrosToCents: a micro-dollar amount rounded once, half-up, to cents."""
    assert round_half_up(D(micros).scaleb(-6), 2) == D(cents).scaleb(-2), note


def test_hanzo_round_micros_to_cents_negative_is_symmetric() -> None:
    """Hanzo returns 0 for micros <= 0. Deliberate difference: round_half_up is defined for any
    sign, a half away from zero, so a reversal rounds to the same magnitude as its charge."""
    assert round_half_up(D(-15000).scaleb(-6), 2) == D("-0.02")
    assert round_half_up(D(-4999).scaleb(-6), 2) == 0


# == Hanzo commerce: windows (api/billing/windows_test.go) and the meter summary ================


def test_hanzo_window_spans_are_calendar_aligned_and_nested() -> None:
    """TestWindowSpansAreCalendarAlignedAndNested: a Wednesday mid-hour, mid-month."""
    now = utc("2026-08-19T14:37:42Z")
    spans = {span: window(now, span, "UTC") for span in ("hour", "day", "week", "month")}
    assert spans["hour"].start == utc("2026-08-19T14:00:00Z")
    assert spans["day"].start == utc("2026-08-19T00:00:00Z")
    assert spans["week"].start == utc("2026-08-17T00:00:00Z")  # Monday
    assert spans["month"].start == utc("2026-08-01T00:00:00Z")
    order = ["hour", "day", "week", "month"]
    for inner, outer in itertools.pairwise(order):
        assert spans[outer].start <= spans[inner].start
    assert all(w.end > now for w in spans.values())  # every window resets in the future


@pytest.mark.parametrize(("day", "monday"), [(17, 17), (19, 17), (23, 17), (24, 24)])
def test_hanzo_the_week_starts_on_monday(day: int, monday: int) -> None:
    """TestTheWeekStartsOnMonday: a Sunday belongs to the Monday before it."""
    assert window(datetime(2026, 8, day, 12, tzinfo=UTC), "week").start.day == monday


def test_hanzo_meter_summary_sum_and_event_count() -> None:
    """billing_test.go "Should get aggregated summary (sum)": 1500 + 500 + 1000 + 999 = 3999
    over 4 events. Deliberate difference: Hanzo's summary is closed (``<= end``) and its
    ``last`` follows query order; creditcore's span is half-open and ``latest`` follows time."""
    t = utc("2026-02-01T00:00:00Z")
    events = [
        MeterReading(t + timedelta(seconds=i), v, dimensions=d)
        for i, (v, d) in enumerate([(1500, {"model": "gpt-4"}), (500, {}), (1000, {}), (999, {})])
    ]
    assert aggregate("sum", events, start=t, end=t + timedelta(days=1)) == (3999, 4)
    at_end = MeterReading(t + timedelta(days=1), 7)
    assert aggregate("sum", [*events, at_end], start=t, end=t + timedelta(days=1)) == (3999, 4)
    assert aggregate("sum", events, start=t, end=t + timedelta(days=1), dimensions={"model": "gpt-4"}) == (1500, 1)


def test_hanzo_last_in_query_order_is_latest_by_time() -> None:
    """Hanzo's ``last`` (renamed ``latest``) takes the last event returned by the query;
    creditcore takes the value with the greatest timestamp, whatever the order given."""
    t = utc("2026-02-01T00:00:00Z")
    events = [MeterReading(t + timedelta(minutes=5), 50), MeterReading(t + timedelta(minutes=1), 10)]
    assert aggregate("latest", events, start=t, end=t + timedelta(hours=1)).value == 50
    with pytest.raises(ValidationError) as error:
        aggregate("last", events, start=t, end=t + timedelta(hours=1))
    assert error.value.field == "aggregation" and "'latest'" in str(error.value)


# == Lago: charge models (spec/services/charge_models/*_service_spec.rb) ==========================


LAGO_RANGES = [Tier(10, 10, flat_fee=2), Tier(20, 5, flat_fee=3), Tier(None, 5, flat_fee=3)]


@pytest.mark.parametrize(("aggregation", "amount"), [(1, 12), (10, 102), (11, 110), (12, 115), (21, 163)])
def test_lago_graduated(aggregation: int, amount: int) -> None:
    """graduated_service_spec.rb: ranges 0-10 (10, flat 2), 11-20 (5, flat 3), 21- (5, flat 3);
    also "when charge is a fixed charge" (21 -> 163)."""
    assert price(PriceModel("graduated", tiers=LAGO_RANGES), aggregation) == amount


def test_lago_graduated_zero_units_charge_nothing() -> None:
    """ "when aggregation is 0 ... applies the flat amount from the first tier" -> 2. Deliberate
    difference: in creditcore q = 0 costs 0 in every model (B3); a first tier with a zero flat
    amount gives 0 in both."""
    assert price(PriceModel("graduated", tiers=LAGO_RANGES), 0) == 0
    zero_first = [Tier("0.01", 0), Tier(10, 10, flat_fee=2), Tier(None, 5, flat_fee=3)]
    assert price(PriceModel("graduated", tiers=zero_first), 0) == 0


@pytest.mark.parametrize(("aggregation", "amount"), [("0.05", "0.5"), ("0.5", "3.0")])
def test_lago_graduated_decimal_adjacent_ranges(aggregation: str, amount: str) -> None:
    """ "with decimal adjacent ranges": 0-0.1 at 10, 0.1-1 at 5, 1- at 2: 0.05 -> 0.5; 0.5 ->
    0.1 x 10 + 0.4 x 5 = 3.0."""
    tiers = [Tier("0.1", 10), Tier(1, 5), Tier(None, 2)]
    assert price(PriceModel("graduated", tiers=tiers), aggregation) == D(amount)


LAGO_VOLUME = [Tier(100, 2, flat_fee=10), Tier(200, 1), Tier(None, "0.5", flat_fee=50)]


@pytest.mark.parametrize(
    ("aggregation", "amount"),
    [
        (1, 12),  # a unit amount for 1 and the flat amount
        (100, 210),  # the limit of the first range
        ("100.5", "100.5"),  # between the first and the second range: the second
        (101, 101),
        (200, 200),  # the upper limit of the second range
        (300, 200),  # the last range: 300 x 0.5 + 50
        (210, 155),  # "when charge is a fixed charge"
    ],
)
def test_lago_volume(aggregation: object, amount: object) -> None:
    """volume_service_spec.rb: ranges 0-100 (2, flat 10), 101-200 (1), 201- (0.5, flat 50).
    Lago puts 100.5 in the tier whose ``from_value <= ceil(q)``; creditcore's first tier with
    ``q <= up_to`` gives the same tier."""
    assert price(PriceModel("volume", tiers=LAGO_VOLUME), aggregation) == D(amount)  # type: ignore[arg-type]


def test_lago_volume_zero_units_charge_nothing() -> None:
    """ "when aggregation is 0 ... applies the flat amount from the first tier" -> 10. Deliberate
    difference: q = 0 costs 0 (B3)."""
    assert price(PriceModel("volume", tiers=LAGO_VOLUME), 0) == 0


@pytest.mark.parametrize(("free_units", "amount"), [(0, 1300), (10, 1200), (200, 0)])
def test_lago_package_with_free_units(free_units: int, amount: int) -> None:
    """package_service_spec.rb: 121 units, packages of 10 at 100: ceil(12.1) = 13 -> 1300;
    10 free units -> ceil(11.1) = 12 -> 1200; more free units than units -> 0."""
    model = PriceModel("package", package_size=10, package_price=100, free_units=free_units)
    assert price(model, 121) == amount


# == OpenMeter: aggregation (openmeter/streaming/testutils/streaming_test.go) ======================


def test_openmeter_event_sum() -> None:
    """ "Should return event sum": 2 + 3 in [23:00, 00:00)."""
    events = [MeterReading(utc("2023-12-31T23:59:00Z"), 2), MeterReading(utc("2023-12-31T23:59:59Z"), 3)]
    assert aggregate("sum", events, start=utc("2023-12-31T23:00:00Z"), end=utc("2024-01-01T00:00:00Z")) == (5, 2)


MINUTE_EVENTS = [
    MeterReading(utc(t), 1)
    for t in (
        "2023-12-31T23:58:30Z",  # period start
        "2023-12-31T23:58:29Z",
        "2023-12-31T23:58:31Z",
        "2023-12-31T23:59:00Z",
        "2023-12-31T23:59:30Z",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:29Z",
        "2024-01-01T00:00:30Z",  # period end: excluded ("end is exclusive")
        "2024-01-01T00:00:31Z",
    )
]


def test_openmeter_aggregate_windowed_minute_end_is_exclusive() -> None:
    """ "Should aggregate events as if they were windowed - minute window" over [23:58:30,
    00:00:30). OpenMeter's mock keeps only the whole minute windows inside the range (2);
    creditcore aggregates the exact half-open span: 23:58:30, :31, 23:59:00, :30, 00:00:00,
    :29 (6); over the whole minutes [23:59, 00:00) it finds OpenMeter's 2."""
    exact = aggregate("sum", MINUTE_EVENTS, start=utc("2023-12-31T23:58:30Z"), end=utc("2024-01-01T00:00:30Z"))
    assert exact == (6, 6)
    whole_minutes = aggregate("sum", MINUTE_EVENTS, start=utc("2023-12-31T23:59:00Z"), end=utc("2024-01-01T00:00:00Z"))
    assert whole_minutes == (2, 2)


def test_openmeter_events_windowed_by_minute() -> None:
    """ "Should return events windowed": minute windows 23:57 -> 1, 23:58 -> 2, 23:59 -> 5."""
    events = [
        MeterReading(utc("2023-12-31T23:57:58Z"), 1),
        MeterReading(utc("2023-12-31T23:58:02Z"), 2),
        MeterReading(utc("2023-12-31T23:59:00Z"), 2),
        MeterReading(utc("2023-12-31T23:59:59Z"), 3),
    ]
    start = utc("2023-12-31T23:57:00Z")
    windows = [(start + timedelta(minutes=i), start + timedelta(minutes=i + 1)) for i in range(3)]
    assert [aggregate("sum", events, start=a, end=b).value for a, b in windows] == [1, 2, 5]
    assert aggregate("sum", events, start=start, end=utc("2024-01-01T00:00:00Z")).value == 8


def test_openmeter_latest_not_windowed() -> None:
    """ "Should use latest value if meter.Aggregation is LATEST when NOT windowed": events given
    out of time order; the latest in [23:57, 00:00) is 3 (the 4 at 00:00:02 is outside)."""
    events = [
        MeterReading(utc("2023-12-31T23:59:00Z"), 2),
        MeterReading(utc("2023-12-31T23:57:58Z"), 1),
        MeterReading(utc("2023-12-31T23:58:02Z"), 2),
        MeterReading(utc("2023-12-31T23:59:59Z"), 3),
        MeterReading(utc("2024-01-01T00:00:02Z"), 4),
    ]
    found = aggregate("latest", events, start=utc("2023-12-31T23:57:00Z"), end=utc("2024-01-01T00:00:00Z"))
    assert found == (3, 4)


def test_openmeter_latest_windowed_by_hour() -> None:
    """ "Should use latest value if meter.Aggregation is LATEST when windowed": hourly windows
    of [22:00, 00:00) give 3 then 5; the events before and after are ignored. The hours are
    cut with ``window(at, "hour")``."""
    events = [
        MeterReading(utc("2023-12-31T21:59:58Z"), 1),
        MeterReading(utc("2023-12-31T22:00:06Z"), 3),
        MeterReading(utc("2023-12-31T22:00:02Z"), 2),
        MeterReading(utc("2023-12-31T23:00:00Z"), 4),
        MeterReading(utc("2023-12-31T23:59:59Z"), 5),
        MeterReading(utc("2023-12-31T23:59:58Z"), 6),
        MeterReading(utc("2024-01-01T23:00:02Z"), 7),
    ]
    hours = [window(utc("2023-12-31T22:00:00Z"), "hour"), window(utc("2023-12-31T23:00:00Z"), "hour")]
    assert [aggregate("latest", events, start=h.start, end=h.end).value for h in hours] == [3, 5]


def test_openmeter_unique_count_is_exact_and_count_needs_no_value() -> None:
    """meter_query.go: UNIQUE_COUNT is ``uniqExact`` (over the value as a string; creditcore
    counts ``unique_key``), COUNT needs no value."""
    t = utc("2024-01-01T00:00:00Z")
    keys = ["a", "b", "a", "A"]
    events = [MeterReading(t + timedelta(seconds=i), unique_key=k) for i, k in enumerate(keys)]
    assert aggregate("unique_count", events, start=t, end=t + timedelta(hours=1)) == (3, 4)
    assert aggregate("count", events, start=t, end=t + timedelta(hours=1)) == (4, 4)


# == OpenMeter: period math (pkg/timeutil/recurrence_test.go) =====================================


@pytest.mark.parametrize(
    ("anchor", "t", "start", "end"),
    [
        # TestGetPeriodAt "Correctly handles variable length months" (first)
        ("2025-01-31T15:00:00Z", "2025-08-13T20:00:00Z", "2025-07-31T15:00:00Z", "2025-08-31T15:00:00Z"),
        # "... t being at the end of the period (we are exclusive at the end)"
        ("2025-01-31T15:00:00Z", "2025-09-30T15:00:00Z", "2025-09-30T15:00:00Z", "2025-10-31T15:00:00Z"),
        # "Correctly handles variable length months" (second)
        ("2025-01-30T15:00:00Z", "2025-02-13T20:00:00Z", "2025-01-30T15:00:00Z", "2025-02-28T15:00:00Z"),
        # TestPrevBefore "Should work on 29th of January"
        ("2025-01-29T12:00:00Z", "2025-01-29T12:10:00Z", "2025-01-29T12:00:00Z", "2025-02-28T12:00:00Z"),
    ],
)
def test_openmeter_get_period_at_monthly(anchor: str, t: str, start: str, end: str) -> None:
    assert period_at(utc(anchor), "1 month", utc(t)) == (utc(start), utc(end))


@pytest.mark.parametrize("days", [-50, -1, 0, 1, 50])
def test_openmeter_next_after_with_anchor_far_from_t(days: int) -> None:
    """TestNextAfter / TestPrevBefore: daily, the anchor 50 days before, a day before, at,
    after or 50 days after t; a time on a boundary starts its period (inclusive start,
    exclusive end)."""
    t = utc("2024-01-01T00:00:00Z")
    anchor = t + timedelta(days=days)
    assert period_at(anchor, "1 day", t) == (t, t + timedelta(days=1))
    assert period_at(anchor, "1 day", t - timedelta(hours=1)) == (t - timedelta(days=1), t)


def test_openmeter_next_after_weeks_and_months() -> None:
    """TestNextAfter "Should work with weeks" (anchor a day before t: next boundary 6 days
    after t) and "... with months"."""
    t = utc("2024-03-13T10:00:00Z")
    assert period_at(t - timedelta(days=1), "1 week", t).end == t + timedelta(days=6)
    assert period_at(t, "1 month", t + timedelta(days=1)).end == utc("2024-04-13T10:00:00Z")


# == Stripe: tiered pricing guide =================================================================


STRIPE_TIERS = [Tier(5, 7), Tier(10, "6.5"), Tier(None, 6)]


@pytest.mark.parametrize(("fonts", "total"), [(1, "7"), (5, "35"), (6, "39"), (20, "120"), (25, "150")])
def test_stripe_volume_based_pricing_table(fonts: int, total: str) -> None:
    """The volume table: the tier of the total prices every font (6 fonts -> 6 x 6.5)."""
    assert price(PriceModel("volume", tiers=STRIPE_TIERS), fonts) == D(total)


@pytest.mark.parametrize(("fonts", "total"), [(1, "7"), (5, "35"), (6, "41.5"), (10, "67.5"), (20, "127.5")])
def test_stripe_graduated_pricing(fonts: int, total: str) -> None:
    """Graduated: "5 fonts result in the same charge as volume-based pricing: 35 USD"; past the
    first tier each font costs its own tier's price (6 -> 35 + 6.5)."""
    assert price(PriceModel("graduated", tiers=STRIPE_TIERS), fonts) == D(total)


def test_stripe_up_to_is_inclusive_and_unit_amount_decimal_has_twelve_places() -> None:
    """``up_to``: "up to and including"; ``unit_amount_decimal``/``flat_amount_decimal``: at
    most 12 decimal places, which B3 takes for every rate."""
    assert price(PriceModel("volume", tiers=[Tier(5, 7), Tier(None, 1)]), 5) == 35
    assert Tier(None, "0.000000000001", flat_fee="0.000000000001").unit_price == D("1E-12")
    with pytest.raises(ValidationError) as error:
        Tier(None, "0.0000000000001")
    assert error.value.field == "unit_price"


# == Orb: documented price models =================================================================


def test_orb_unit_price() -> None:
    """ "$0.80 per API request"."""
    assert price(PriceModel("per_unit", unit_price="0.80"), 1000) == D("800.00")


def test_orb_tiered_price_may_rise() -> None:
    """ "$5/GB for the first 100GB, $10/GB thereafter": a later tier may cost more."""
    model = PriceModel("graduated", tiers=[Tier(100, 5), Tier(None, 10)])
    assert (price(model, 100), price(model, 101), price(model, 150)) == (500, 510, 1000)


def test_orb_bulk_price() -> None:
    """ "$0.20/page processed, discounted to $0.10/page if 10,000 pages consumed": bulk is
    creditcore's volume. A boundary belongs to the lower tier, so the cheaper tier starts past
    9,999 pages (Orb's exclusive ``first_unit``)."""
    model = PriceModel("volume", tiers=[Tier(9999, "0.20"), Tier(None, "0.10")])
    assert (price(model, 9999), price(model, 10_000)) == (D("1999.80"), D("1000.00"))


@pytest.mark.parametrize(("jobs", "total"), [(0, 0), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_orb_package_price(jobs: int, total: int) -> None:
    """ "$1 per 100 asynchronous jobs": units rounded up to the package."""
    assert price(PriceModel("package", package_size=100, package_price=1), jobs) == total


def test_orb_tier_first_unit_exclusive_last_unit_inclusive() -> None:
    """Orb's tier config: ``first_unit`` exclusive, ``last_unit`` inclusive (null: the last
    tier), the same reading as ``up_to``: (0, 1000] then (1000, inf)."""
    model = PriceModel("graduated", tiers=[Tier(1000, "0.50"), Tier(None, 1)])
    assert price(model, 1000) == D("500.00")
    assert price(model, "1000.5") == D("500.50")

"""The bad-input table of the pure billing modules: every invalid Tier, price description,
reading and argument raises ``ValidationError`` naming its field, with a one-line message that
says what was wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditcore.billing import MeterReading, PriceModel, Tier, aggregate, percent_off, price, round_half_up, window
from creditcore.errors import CreditError, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAIVE = datetime(2026, 1, 1)
LONG = "x" * 201
OK_TIERS = [Tier(10, 1), Tier(None, 2)]
PER_UNIT = PriceModel(unit_price=1)
R = MeterReading(T0, 1)

#: (id, call, field). Each call must raise ValidationError(field).
CASES: list[tuple[str, Callable[[], Any], str]] = [
    # -- Tier ---------------------------------------------------------------------------------
    ("tier up_to zero", lambda: Tier(0, 1), "up_to"),
    ("tier up_to negative", lambda: Tier(-5, 1), "up_to"),
    ("tier up_to float", lambda: Tier(10.0, 1), "up_to"),
    ("tier up_to bool", lambda: Tier(True, 1), "up_to"),
    ("tier up_to text", lambda: Tier("ten", 1), "up_to"),
    ("tier up_to NaN", lambda: Tier(Decimal("NaN"), 1), "up_to"),
    ("tier up_to infinity", lambda: Tier("Infinity", 1), "up_to"),
    ("tier up_to 13 places", lambda: Tier("0.0000000000001", 1), "up_to"),
    ("tier up_to 39 digits", lambda: Tier("1" * 39, 1), "up_to"),
    ("tier unit_price missing", lambda: Tier(10, None), "unit_price"),
    ("tier unit_price negative", lambda: Tier(10, "-0.01"), "unit_price"),
    ("tier unit_price float", lambda: Tier(10, 0.1), "unit_price"),
    ("tier unit_price 13 places", lambda: Tier(10, "0.0000000000001"), "unit_price"),
    ("tier unit_price sNaN", lambda: Tier(10, Decimal("sNaN")), "unit_price"),
    ("tier unit_price empty", lambda: Tier(10, ""), "unit_price"),
    ("tier unit_price list", lambda: Tier(10, [1]), "unit_price"),
    ("tier flat_fee negative", lambda: Tier(10, 1, flat_fee=-1), "flat_fee"),
    ("tier flat_fee float", lambda: Tier(10, 1, flat_fee=1.5), "flat_fee"),
    ("tier flat_fee None", lambda: Tier(10, 1, flat_fee=None), "flat_fee"),
    ("tier flat_fee 13 places", lambda: Tier(10, 1, flat_fee="1.0000000000001"), "flat_fee"),
    # -- PriceModel: the model ----------------------------------------------------------------
    ("model unknown", lambda: PriceModel("flat", unit_price=1), "model"),
    ("model hanzo tiered", lambda: PriceModel("tiered", tiers=OK_TIERS), "model"),
    ("model orb bulk", lambda: PriceModel("bulk", tiers=OK_TIERS), "model"),
    ("model empty", lambda: PriceModel("", unit_price=1), "model"),
    ("model None", lambda: PriceModel(None, unit_price=1), "model"),
    ("model upper case", lambda: PriceModel("PER_UNIT", unit_price=1), "model"),
    # -- PriceModel: what each model needs ----------------------------------------------------
    ("per_unit without unit_price", lambda: PriceModel("per_unit"), "unit_price"),
    ("graduated without tiers", lambda: PriceModel("graduated"), "tiers"),
    ("volume without tiers", lambda: PriceModel("volume"), "tiers"),
    ("package without package_size", lambda: PriceModel("package", package_price=1), "package_size"),
    ("package without package_price", lambda: PriceModel("package", package_size=10), "package_price"),
    # -- PriceModel: an argument of another model -------------------------------------------
    ("per_unit with tiers", lambda: PriceModel("per_unit", unit_price=1, tiers=OK_TIERS), "tiers"),
    ("per_unit with package_size", lambda: PriceModel("per_unit", unit_price=1, package_size=10), "package_size"),
    ("per_unit with package_price", lambda: PriceModel("per_unit", unit_price=1, package_price=1), "package_price"),
    ("per_unit with free_units", lambda: PriceModel("per_unit", unit_price=1, free_units=5), "free_units"),
    ("graduated with unit_price", lambda: PriceModel("graduated", tiers=OK_TIERS, unit_price=1), "unit_price"),
    ("graduated with free_units", lambda: PriceModel("graduated", tiers=OK_TIERS, free_units="0.1"), "free_units"),
    ("volume with package_price", lambda: PriceModel("volume", tiers=OK_TIERS, package_price=0), "package_price"),
    (
        "package with tiers",
        lambda: PriceModel("package", package_size=10, package_price=1, tiers=OK_TIERS),
        "tiers",
    ),
    (
        "package with unit_price",
        lambda: PriceModel("package", package_size=10, package_price=1, unit_price=0),
        "unit_price",
    ),
    # -- PriceModel: bad values ---------------------------------------------------------------
    ("unit_price negative", lambda: PriceModel(unit_price=-1), "unit_price"),
    ("unit_price float", lambda: PriceModel(unit_price=0.5), "unit_price"),
    ("unit_price 13 places", lambda: PriceModel(unit_price="1E-13"), "unit_price"),
    ("package_size zero", lambda: PriceModel("package", package_size=0, package_price=1), "package_size"),
    ("package_size negative", lambda: PriceModel("package", package_size=-10, package_price=1), "package_size"),
    ("package_size float", lambda: PriceModel("package", package_size=10.0, package_price=1), "package_size"),
    ("package_price negative", lambda: PriceModel("package", package_size=10, package_price=-1), "package_price"),
    (
        "package_price 13 places",
        lambda: PriceModel("package", package_size=10, package_price="0.0000000000001"),
        "package_price",
    ),
    (
        "free_units negative",
        lambda: PriceModel("package", package_size=10, package_price=1, free_units=-1),
        "free_units",
    ),
    (
        "free_units float",
        lambda: PriceModel("package", package_size=10, package_price=1, free_units=1.0),
        "free_units",
    ),
    ("free_units None", lambda: PriceModel("package", package_size=10, package_price=1, free_units=None), "free_units"),
    # -- PriceModel: tiers --------------------------------------------------------------------
    ("tiers empty", lambda: PriceModel("graduated", tiers=[]), "tiers"),
    ("tiers a str", lambda: PriceModel("graduated", tiers="10:1"), "tiers"),
    ("tiers a dict", lambda: PriceModel("graduated", tiers={"up_to": 10}), "tiers"),
    ("tiers an int", lambda: PriceModel("volume", tiers=3), "tiers"),
    ("tiers of dicts", lambda: PriceModel("graduated", tiers=[{"up_to": 10, "unit_price": 1}]), "tiers"),
    ("tiers of tuples", lambda: PriceModel("graduated", tiers=[(10, 1)]), "tiers"),
    ("tiers decreasing", lambda: PriceModel("graduated", tiers=[Tier(20, 1), Tier(10, 2)]), "tiers"),
    ("tiers equal bounds", lambda: PriceModel("volume", tiers=[Tier(10, 1), Tier("10.0", 2)]), "tiers"),
    ("tiers None before last", lambda: PriceModel("graduated", tiers=[Tier(None, 1), Tier(10, 2)]), "tiers"),
    ("tiers two None", lambda: PriceModel("volume", tiers=[Tier(None, 1), Tier(None, 2)]), "tiers"),
    ("tiers None between", lambda: PriceModel("volume", tiers=[Tier(5, 1), Tier(None, 1), Tier(9, 2)]), "tiers"),
    # -- price --------------------------------------------------------------------------------
    ("price of a dict", lambda: price({"model": "per_unit", "unit_price": 1}, 1), "price"),  # type: ignore[arg-type]
    ("price of a Tier", lambda: price(Tier(None, 1), 1), "price"),  # type: ignore[arg-type]
    ("quantity negative", lambda: price(PER_UNIT, -1), "quantity"),
    ("quantity negative str", lambda: price(PER_UNIT, "-0.001"), "quantity"),
    ("quantity float", lambda: price(PER_UNIT, 1.5), "quantity"),  # type: ignore[arg-type]
    ("quantity None", lambda: price(PER_UNIT, None), "quantity"),  # type: ignore[arg-type]
    ("quantity bool", lambda: price(PER_UNIT, True), "quantity"),
    ("quantity text", lambda: price(PER_UNIT, "lots"), "quantity"),
    ("quantity NaN", lambda: price(PER_UNIT, "NaN"), "quantity"),
    ("quantity infinity", lambda: price(PER_UNIT, Decimal("Infinity")), "quantity"),
    # -- round_half_up ------------------------------------------------------------------------
    ("round x float", lambda: round_half_up(0.5, 0), "x"),  # type: ignore[arg-type]
    ("round x None", lambda: round_half_up(None, 0), "x"),  # type: ignore[arg-type]
    ("round x NaN", lambda: round_half_up(Decimal("NaN"), 0), "x"),
    ("round x text", lambda: round_half_up("half", 0), "x"),
    ("round scale negative", lambda: round_half_up(1, -1), "scale"),
    ("round scale 19", lambda: round_half_up(1, 19), "scale"),
    ("round scale bool", lambda: round_half_up(1, True), "scale"),
    ("round scale str", lambda: round_half_up(1, "2"), "scale"),  # type: ignore[arg-type]
    # -- percent_off --------------------------------------------------------------------------
    ("percent_off amount negative", lambda: percent_off("-1.00", 10, 2), "amount"),
    ("percent_off amount past scale", lambda: percent_off("1.005", 10, 2), "amount"),
    ("percent_off amount float", lambda: percent_off(1.0, 10, 2), "amount"),  # type: ignore[arg-type]
    ("percent_off percent float", lambda: percent_off(1, 10.0, 2), "percent"),  # type: ignore[arg-type]
    ("percent_off percent None", lambda: percent_off(1, None, 2), "percent"),  # type: ignore[arg-type]
    ("percent_off percent NaN", lambda: percent_off(1, "NaN", 2), "percent"),
    ("percent_off scale 19", lambda: percent_off(1, 10, 19), "scale"),
    ("percent_off scale None", lambda: percent_off(1, 10, None), "scale"),  # type: ignore[arg-type]
    # -- MeterReading -------------------------------------------------------------------------
    ("reading timestamp naive", lambda: MeterReading(NAIVE, 1), "timestamp"),
    ("reading timestamp a date", lambda: MeterReading(T0.date(), 1), "timestamp"),
    ("reading timestamp str", lambda: MeterReading("2026-01-01T00:00:00Z", 1), "timestamp"),
    ("reading value negative", lambda: MeterReading(T0, -1), "value"),
    ("reading value float", lambda: MeterReading(T0, 1.5), "value"),
    ("reading value None", lambda: MeterReading(T0, None), "value"),
    ("reading value 13 places", lambda: MeterReading(T0, "1E-13"), "value"),
    ("reading unique_key empty", lambda: MeterReading(T0, unique_key=""), "unique_key"),
    ("reading unique_key too long", lambda: MeterReading(T0, unique_key=LONG), "unique_key"),
    ("reading unique_key int", lambda: MeterReading(T0, unique_key=7), "unique_key"),
    ("reading dimensions a list", lambda: MeterReading(T0, dimensions=[("model", "a")]), "dimensions"),
    ("reading dimensions int value", lambda: MeterReading(T0, dimensions={"model": 4}), "dimensions"),
    ("reading dimensions empty key", lambda: MeterReading(T0, dimensions={"": "a"}), "dimensions"),
    ("reading dimensions long value", lambda: MeterReading(T0, dimensions={"model": LONG}), "dimensions"),
    (
        "reading dimensions 21 entries",
        lambda: MeterReading(T0, dimensions={f"d{i}": "x" for i in range(21)}),
        "dimensions",
    ),
    # -- aggregate ----------------------------------------------------------------------------
    ("aggregation unknown", lambda: aggregate("avg", [R], start=T0, end=T0 + timedelta(1)), "aggregation"),
    ("aggregation last", lambda: aggregate("last", [R], start=T0, end=T0 + timedelta(1)), "aggregation"),
    ("aggregation None", lambda: aggregate(None, [R], start=T0, end=T0 + timedelta(1)), "aggregation"),  # type: ignore[arg-type]
    ("events None", lambda: aggregate("sum", None, start=T0, end=T0 + timedelta(1)), "events"),  # type: ignore[arg-type]
    ("events a str", lambda: aggregate("sum", "events", start=T0, end=T0 + timedelta(1)), "events"),  # type: ignore[arg-type]
    ("events of dicts", lambda: aggregate("sum", [{"value": 1}], start=T0, end=T0 + timedelta(1)), "events"),  # type: ignore[list-item]
    ("unique_count without key", lambda: aggregate("unique_count", [R], start=T0, end=T0 + timedelta(1)), "events"),
    ("start naive", lambda: aggregate("sum", [R], start=NAIVE, end=T0 + timedelta(1)), "start"),
    ("start None", lambda: aggregate("sum", [R], start=None, end=T0), "start"),  # type: ignore[arg-type]
    ("end naive", lambda: aggregate("sum", [R], start=T0, end=NAIVE), "end"),
    ("end equal to start", lambda: aggregate("sum", [R], start=T0, end=T0), "end"),
    ("end before start", lambda: aggregate("sum", [R], start=T0, end=T0 - timedelta(seconds=1)), "end"),
    (
        "dimensions a list",
        lambda: aggregate("sum", [R], start=T0, end=T0 + timedelta(1), dimensions=["a"]),  # type: ignore[arg-type]
        "dimensions",
    ),
    (
        "dimensions int value",
        lambda: aggregate("sum", [R], start=T0, end=T0 + timedelta(1), dimensions={"a": 1}),  # type: ignore[dict-item]
        "dimensions",
    ),
    # -- window -------------------------------------------------------------------------------
    ("window span year", lambda: window(T0, "year"), "span"),
    ("window span minute", lambda: window(T0, "minute"), "span"),
    ("window tz unknown", lambda: window(T0, "day", "Mars/Olympus"), "timezone"),
    ("window at naive", lambda: window(NAIVE, "day"), "at"),
]


@pytest.mark.parametrize(("call", "field"), [(c, f) for _, c, f in CASES], ids=[i for i, _, _ in CASES])
def test_bad_input_raises_validation_error_naming_the_field(call: Callable[[], Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        call()
    assert isinstance(error.value, CreditError) and isinstance(error.value, ValueError)
    assert error.value.field == field, str(error.value)
    message = str(error.value)
    assert message.startswith(f"{field}: ") and "\n" not in message and len(message) < 300


def test_the_table_covers_every_field() -> None:
    covered = {f for _, _, f in CASES}
    assert {
        "up_to",
        "unit_price",
        "flat_fee",
        "model",
        "tiers",
        "package_size",
        "package_price",
        "free_units",
        "price",
        "quantity",
        "x",
        "scale",
        "amount",
        "percent",
        "timestamp",
        "value",
        "unique_key",
        "dimensions",
        "aggregation",
        "events",
        "start",
        "end",
        "span",
        "timezone",
        "at",
    } <= covered


def test_a_message_quotes_a_long_argument_cut_short() -> None:
    with pytest.raises(ValidationError) as error:
        Tier(10, "1" * 5000)
    assert error.value.field == "unit_price" and len(str(error.value)) < 200


def test_a_hint_names_what_to_write_instead() -> None:
    with pytest.raises(ValidationError, match="'graduated'"):
        PriceModel("tiered", tiers=OK_TIERS)
    with pytest.raises(ValidationError, match="'volume'"):
        PriceModel("bulk", tiers=OK_TIERS)
    with pytest.raises(ValidationError, match="floats are inexact"):
        Tier(10, 0.1)

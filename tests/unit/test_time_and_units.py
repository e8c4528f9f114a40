"""SPEC §1 values: amounts and units (scale, precision, 64-bit limit), times (aware, UTC,
microseconds, forward-only history, the clock), identifiers and metadata; §2 construction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from creditcore import BurnOrder, Ledger, ValidationError
from creditcore.adapters.memory import MemoryRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)
NAIVE = datetime(2026, 1, 1)


# -- units and amounts ------------------------------------------------------------------------------


def test_credits_unit_exists_with_scale_zero(ledger: Ledger) -> None:
    assert ledger.units() == {"credits": 0}
    assert ledger.grant("ada", 3).block.unit == "credits"


def test_amounts_come_back_as_exact_decimals(ledger: Ledger) -> None:
    block = ledger.grant("ada", 7).block
    assert isinstance(block.amount, Decimal)
    assert block.amount == Decimal(7)
    assert isinstance(ledger.balance("ada").available, Decimal)


@pytest.mark.parametrize("amount", [5, Decimal(5), "5", " 5 ", Decimal("5.0"), "5.000", Decimal("5E0")])
def test_int_decimal_and_numeric_str_are_accepted_and_judged_by_value(ledger: Ledger, amount: object) -> None:
    assert ledger.grant("ada", amount).block.amount == Decimal(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount", [1.0, True, "1.5", Decimal("1.5"), Decimal("NaN"), "Infinity", Decimal("-Infinity"), "ten", None]
)
def test_floats_bools_non_finite_and_over_precise_amounts_are_rejected(ledger: Ledger, amount: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", amount)  # type: ignore[arg-type]
    assert caught.value.field == "amount"
    assert ledger.entries().items == ()


def test_a_declared_unit_takes_amounts_to_its_scale(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    assert ledger.units() == {"credits": 0, "usd": 2}
    result = ledger.grant("ada", "1.50", unit="usd")
    assert result.block.amount == Decimal("1.50")
    assert ledger.burn("ada", Decimal("0.25"), unit="usd").burned == Decimal("0.25")
    assert ledger.balance("ada", unit="usd").available == Decimal("1.25")
    with pytest.raises(ValidationError) as caught:
        ledger.burn("ada", "0.001", unit="usd")
    assert caught.value.field == "amount"
    assert ledger.balance("ada", unit="usd").available == Decimal("1.25")


def test_units_keep_their_balances_apart(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    ledger.grant("ada", 10)
    ledger.grant("ada", "3.00", unit="usd")
    ledger.burn("ada", "1.00", unit="usd")
    assert ledger.balance("ada").available == Decimal(10)
    assert ledger.balance("ada", unit="usd").available == Decimal(2)


def test_ledger_units_option_declares_units(clock: Any) -> None:
    ledger = Ledger.memory(clock=clock, units={"usd": 2, "tokens": 6})
    assert ledger.units() == {"credits": 0, "usd": 2, "tokens": 6}
    assert ledger.grant("ada", "0.000001", unit="tokens").block.amount == Decimal("0.000001")


@pytest.mark.parametrize("call", ["grant", "burn", "balance", "blocks", "preview_burn"])
def test_an_undeclared_unit_is_rejected(ledger: Ledger, call: str) -> None:
    args: tuple[object, ...] = ("ada", 1) if call in ("grant", "burn", "preview_burn") else ("ada",)
    with pytest.raises(ValidationError) as caught:
        getattr(ledger, call)(*args, unit="usd")
    assert caught.value.field == "unit"


def test_redeclaring_a_unit_with_the_same_scale_does_nothing(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    ledger.grant("ada", "1.25", unit="usd")
    ledger.define_unit("usd", 2)
    assert ledger.balance("ada", unit="usd").available == Decimal("1.25")


@pytest.mark.parametrize(("name", "scale"), [("usd", 3), ("credits", 2)])
def test_redeclaring_a_unit_with_another_scale_is_rejected(ledger: Ledger, name: str, scale: int) -> None:
    ledger.define_unit("usd", 2)
    with pytest.raises(ValidationError):
        ledger.define_unit(name, scale)
    assert ledger.units() == {"credits": 0, "usd": 2}


def test_units_are_persisted_by_the_repository(clock: Any) -> None:
    repository = MemoryRepository()
    first = Ledger(repository, clock=clock)
    first.define_unit("usd", 2)
    first.grant("ada", "2.50", unit="usd")
    second = Ledger(repository, clock=clock)
    assert second.units() == {"credits": 0, "usd": 2}
    assert second.balance("ada", unit="usd").available == Decimal("2.50")
    with pytest.raises(ValidationError):
        Ledger(repository, clock=clock, units={"usd": 4})


@pytest.mark.parametrize("scale", [-1, 19, "2", 2.0, True])
def test_a_unit_scale_must_be_a_small_non_negative_int(ledger: Ledger, scale: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.define_unit("usd", scale)  # type: ignore[arg-type]
    assert caught.value.field == "scale"


def test_amounts_must_fit_in_a_signed_64_bit_integer_of_minor_units(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    largest = Decimal(2**63 - 1).scaleb(-2)
    assert ledger.grant("ada", largest, unit="usd").block.amount == largest
    with pytest.raises(ValidationError):
        ledger.grant("bob", largest + Decimal("0.01"), unit="usd")
    with pytest.raises(ValidationError):
        ledger.grant("ada", "0.01", unit="usd")  # the total would overflow
    assert ledger.balance("ada", unit="usd").granted == largest
    assert ledger.balance("bob", unit="usd").granted == Decimal(0)


def test_debt_that_would_overflow_is_rejected_and_writes_nothing(ledger: Ledger) -> None:
    ledger.burn("ada", 2**63 - 1, overdraft="debt", at=T0)
    with pytest.raises(ValidationError):
        ledger.burn("ada", 1, overdraft="debt", at=T0)
    assert ledger.balance("ada").debt == Decimal(2**63 - 1)


# -- times --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["at", "effective_at", "expires_at"])
def test_naive_datetimes_are_rejected(ledger: Ledger, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, **{field: NAIVE})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert ledger.entries().items == ()


def test_a_naive_clock_is_rejected() -> None:
    ledger = Ledger.memory(clock=lambda: NAIVE)
    with pytest.raises(ValidationError):
        ledger.grant("ada", 1)


def test_times_are_kept_in_utc(ledger: Ledger) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2026, 6, 1, 12, 30, tzinfo=paris)
    result = ledger.grant("ada", 1, expires_at=datetime(2026, 7, 1, tzinfo=paris), at=local)
    entry = result.entries[0]
    assert entry.at == datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
    assert entry.at.utcoffset() == timedelta(0)
    assert result.block.expires_at == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    assert result.block.expires_at.utcoffset() == timedelta(0)


def test_times_keep_microseconds(ledger: Ledger) -> None:
    at = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    result = ledger.grant("ada", 1, expires_at=at + US, at=at)
    assert result.entries[0].at == at
    assert ledger.balance("ada", at=at).available == Decimal(1)
    assert ledger.balance("ada", at=at + US).available == Decimal(0)


def test_explicit_at_before_the_customers_last_entry_is_rejected(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    for call in (
        lambda: ledger.grant("ada", 1, at=T0 + DAY - US),
        lambda: ledger.burn("ada", 1, at=T0),
        lambda: ledger.hold("ada", 1, hold_id="h1", at=T0),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == "at"
    assert len(ledger.entries().items) == 1


def test_capture_and_release_before_the_last_entry_are_rejected(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 2, hold_id="h1", at=T0)
    ledger.hold("ada", 2, hold_id="h2", at=T0)
    ledger.burn("ada", 1, at=T0 + DAY)
    with pytest.raises(ValidationError) as caught:
        ledger.capture("h1", at=T0)
    assert caught.value.field == "at"
    with pytest.raises(ValidationError) as caught:
        ledger.release("h2", at=T0)
    assert caught.value.field == "at"
    assert [h.id for h in ledger.holds("ada")] == ["h1", "h2"]


def test_explicit_at_equal_to_the_last_entry_is_accepted(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    assert ledger.burn("ada", 1, at=T0 + DAY).entries[0].at == T0 + DAY


def test_time_order_is_per_customer(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    assert ledger.grant("bob", 10, at=T0).entries[0].at == T0


def test_writes_without_at_use_the_clock(ledger: Ledger, clock: Any) -> None:
    clock.now = T0 + DAY
    assert ledger.grant("ada", 1).entries[0].at == T0 + DAY
    clock.now = T0 + 2 * DAY
    assert ledger.burn("ada", 1).entries[0].at == T0 + 2 * DAY


def test_the_default_clock_never_goes_earlier_than_the_last_entry(ledger: Ledger, clock: Any) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    clock.now = T0  # the clock is behind the customer's history
    burn = ledger.burn("ada", 1)
    assert burn.entries[0].at == T0 + DAY
    ledger.hold("ada", 2, hold_id="h1")
    assert ledger.capture("h1").entries[0].at == T0 + DAY
    assert ledger.balance("ada").at == T0 + DAY
    # another customer is not held back by ada's history
    assert ledger.grant("bob", 1).entries[0].at == T0


def test_the_default_clock_is_aware_utc_now() -> None:
    ledger = Ledger.memory()
    at = ledger.grant("ada", 1).entries[0].at
    assert at.utcoffset() == timedelta(0)


# -- identifiers, descriptions and metadata ------------------------------------------------------------


@pytest.mark.parametrize("customer", ["", "x" * 201, 7, None])
def test_customer_must_be_a_non_empty_str_of_at_most_200_chars(ledger: Ledger, customer: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant(customer, 1)  # type: ignore[arg-type]
    assert caught.value.field == "customer"


def test_identifiers_of_200_chars_are_accepted(ledger: Ledger) -> None:
    name = "c" * 200
    ledger.grant(name, 5, idempotency_key="k" * 200, scope={"s" * 200})
    assert ledger.hold(name, 1, hold_id="h" * 200, scope="s" * 200).hold.id == "h" * 200


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("idempotency_key", {"idempotency_key": ""}),
        ("idempotency_key", {"idempotency_key": "k" * 201}),
        ("description", {"description": "d" * 2001}),
        ("metadata", {"metadata": {f"k{i}": "v" for i in range(65)}}),
        ("metadata", {"metadata": {"k" * 101: "v"}}),
        ("metadata", {"metadata": {"k": "v" * 2001}}),
        ("metadata", {"metadata": {"k": 1}}),
    ],
)
def test_oversized_identifiers_descriptions_and_metadata_are_rejected(
    ledger: Ledger, field: str, options: dict[str, object]
) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", 1, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert ledger.entries().items == ()


def test_metadata_and_description_at_their_limits_are_accepted(ledger: Ledger) -> None:
    metadata = {f"{i:0>100}": "v" * 2000 for i in range(64)}
    block = ledger.grant("ada", 1, description="d" * 2000, metadata=metadata).block
    assert block.metadata == metadata
    assert block.description == "d" * 2000


def test_metadata_is_copied_not_shared(ledger: Ledger) -> None:
    metadata = {"k": "v"}
    block = ledger.grant("ada", 1, metadata=metadata).block
    metadata["k"] = "changed"
    assert ledger.get_block(block.id).metadata == {"k": "v"}


def test_hold_id_must_be_a_non_empty_str(ledger: Ledger) -> None:
    ledger.grant("ada", 1)
    with pytest.raises(ValidationError) as caught:
        ledger.hold("ada", 1, hold_id="")
    assert caught.value.field == "hold_id"


def test_block_and_operation_ids_are_unique(ledger: Ledger) -> None:
    results = [ledger.grant("ada", 1) for _ in range(20)]
    assert len({r.block.id for r in results}) == 20
    assert len({r.op_id for r in results}) == 20


# -- constructing a ledger ------------------------------------------------------------------------


def test_a_ledger_is_built_over_a_repository_with_its_options() -> None:
    repository = MemoryRepository()
    ledger = Ledger(repository, clock=lambda: T0, units={"usd": 2}, burn_order=BurnOrder.fifo())
    assert ledger.repository is repository
    assert ledger.burn_order == BurnOrder.fifo()
    assert ledger.units() == {"credits": 0, "usd": 2}
    assert ledger.grant("ada", "1.25", unit="usd").entries[0].at == T0
    assert Ledger.memory().units() == {"credits": 0}

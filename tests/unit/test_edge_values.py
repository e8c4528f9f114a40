"""Values at and past the edges of what the API accepts: every one is either exact or a
``ValidationError`` naming its field, never a raw Python error, and a refused call writes
nothing. Idempotency fingerprints are exact for every value accepted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore import BurnOrder, CreditError, HoldNotActive, Ledger, ValidationError
from creditcore.values import EARLIEST, LATEST, canonical, parse_amount

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    options: dict[str, Any] = {"clock": lambda: T0, "units": {"eur": 2}, "future_tolerance": None}
    made = Ledger.memory(**options) if request.param == "memory" else Ledger.sqlite(tmp_path / "l.db", **options)
    yield made
    made.close()


def everything(ledger: Ledger) -> tuple[object, ...]:
    return tuple(ledger.entries(limit=10_000).items), ledger.units()


# -- exact fingerprints (item 4) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("0.1234567890123456789012345678901", "0.1234567890123456789012345678902"),
        ("1E-1000000000", "9E-1000000000"),
        ("1E+1000000", "2E+1000000"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345679"),
    ],
)
def test_cost_bases_that_differ_anywhere_do_not_replay_under_one_key(ledger: Ledger, first: str, second: str) -> None:
    ledger.grant("ada", 1, cost_basis=first, idempotency_key="k")
    with pytest.raises(CreditError) as raised:
        ledger.grant("ada", 1, cost_basis=second, idempotency_key="k")
    assert getattr(raised.value, "field", None) == "cost_basis"
    assert ledger.grant("ada", 1, cost_basis=first, idempotency_key="k").replayed


@given(st.decimals(allow_nan=False, allow_infinity=False), st.decimals(allow_nan=False, allow_infinity=False))
def test_canonical_forms_are_equal_exactly_when_the_values_are(a: Decimal, b: Decimal) -> None:
    assert (canonical(a) == canonical(b)) == (a == b)
    assert len(canonical(a)) < 200  # never a huge string, whatever the exponent


def test_equal_values_written_differently_replay(ledger: Ledger) -> None:
    first = ledger.grant("ada", "1.50", unit="eur", cost_basis="0.10", idempotency_key="k")
    again = ledger.grant("ada", Decimal("1.5"), unit="eur", cost_basis=Decimal("1E-1"), idempotency_key="k")
    assert again.replayed and again.op_id == first.op_id


# -- numbers outside the safe range (item 8) -------------------------------------------------


def test_an_amount_of_thousands_of_digits_that_is_a_whole_one_is_one(ledger: Ledger) -> None:
    assert ledger.grant("ada", "1." + "0" * 5000).block.amount == 1
    assert parse_amount("1" + "0" * 2 + "." + "0" * 10_000, 2) == 10_000


@pytest.mark.parametrize(
    "amount",
    ["9" * 5000, "1" * 4301, "1E+1000000", "0." + "0" * 5000 + "1", "1E-1000000000", "-" + "9" * 5000],
)
def test_an_amount_far_out_of_range_is_refused_with_its_field(ledger: Ledger, amount: str) -> None:
    before = everything(ledger)
    with pytest.raises(ValidationError) as raised:
        ledger.grant("ada", amount)
    assert raised.value.field == "amount"
    assert len(str(raised.value)) < 300
    assert everything(ledger) == before


@pytest.mark.parametrize("limit", ["1E+1000000", "9" * 5000, Decimal("1E+999999999")])
def test_a_huge_debt_limit_is_no_limit_at_all(limit: object) -> None:
    ledger = Ledger.memory(debt_limit=limit, units={"eur": 2})  # type: ignore[arg-type]
    assert ledger.burn("ada", "92233720368547758.07", unit="eur", overdraft="debt").debt == Decimal(
        "92233720368547758.07"
    )


def test_a_tiny_debt_limit_allows_no_debt() -> None:
    from creditcore import InsufficientCredits

    ledger = Ledger.memory(debt_limit="1E-1000000")
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, overdraft="debt")


OUT_OF_RANGE_TIMES = [
    datetime.max.replace(tzinfo=timezone(-timedelta(hours=5))),  # its UTC form overflows
    datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC),
    LATEST + timedelta(microseconds=1),
    EARLIEST - timedelta(microseconds=1),
]


@pytest.mark.parametrize("when", OUT_OF_RANGE_TIMES)
def test_times_past_the_range_are_refused_for_every_time_argument(ledger: Ledger, when: datetime) -> None:
    block = ledger.grant("ada", 10).block.id
    calls: dict[str, Callable[[], object]] = {
        "at": lambda: ledger.burn("ada", 1, at=when),
        "expires_at": lambda: ledger.grant("ada", 1, expires_at=when),
        "effective_at": lambda: ledger.grant("ada", 1, effective_at=when),
        "since": lambda: ledger.entries(since=when),
        "until": lambda: ledger.timeline("ada", until=when),
    }
    calls["expires_at (move)"] = lambda: ledger.change_expiry(block, when)
    before = everything(ledger)
    for name, call in calls.items():
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == name.split()[0], name
        assert "out of range" in str(raised.value)
    with pytest.raises(ValidationError):
        ledger.balance("ada", at=when)
    assert everything(ledger) == before


def test_the_last_and_first_times_in_range_work(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=LATEST, at=EARLIEST).block
    assert block.expires_at == LATEST
    assert ledger.balance("ada", at=LATEST).expired == 10
    assert ledger.balance("ada", at=EARLIEST).available == 10


# -- text that is not Unicode (item 11) ------------------------------------------------------

SURROGATE = "a\udcffb"


def test_lone_surrogates_are_refused_the_same_way_on_every_adapter(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10).block.id
    calls: dict[str, Callable[[], object]] = {
        "customer": lambda: ledger.grant(SURROGATE, 1),
        "description": lambda: ledger.grant("ada", 1, description=SURROGATE),
        "metadata": lambda: ledger.grant("ada", 1, metadata={"k": SURROGATE}),
        "metadata ": lambda: ledger.grant("ada", 1, metadata={SURROGATE: "v"}),
        "scope": lambda: ledger.grant("ada", 1, scope={SURROGATE}),
        "idempotency_key": lambda: ledger.burn("ada", 1, idempotency_key=SURROGATE),
        "hold_id": lambda: ledger.hold("ada", 1, hold_id=SURROGATE),
        "unit": lambda: ledger.define_unit(SURROGATE, 2),
        "reason": lambda: ledger.void(block, 1, reason=SURROGATE),
    }
    before = everything(ledger)
    for field, call in calls.items():
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == field.strip(), field
        assert "surrogate" in str(raised.value)
    assert everything(ledger) == before


def test_text_beyond_ascii_is_kept(ledger: Ledger) -> None:
    text = "Zürich — 東京 🚲"
    block = ledger.grant(text, 1, description=text, metadata={text: text}, scope={text}).block
    assert (block.customer, block.description, dict(block.metadata), block.scope) == (
        text,
        text,
        {text: text},
        frozenset({text}),
    )


# -- misuse that used to leak Python errors (item 12) ----------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Ledger.memory(units=[("usd", 2)]), "units"),
        (lambda: Ledger.memory(units="usd"), "units"),
        (lambda: Ledger.memory(units={"usd": "2"}), "scale"),
        (lambda: Ledger.memory(clock=5), "clock"),
        (lambda: Ledger.memory(burn_order=5), "burn_order"),
        (lambda: BurnOrder(5), "burn_order"),  # type: ignore[arg-type]
        (lambda: BurnOrder([1, 2]), "burn_order"),  # type: ignore[list-item]
        (lambda: BurnOrder(None), "burn_order"),  # type: ignore[arg-type]
        (lambda: Ledger.memory(debt_limit=1.5), "debt_limit"),
        (lambda: Ledger.memory(settle_debt="yes"), "settle_debt"),
    ],
)
def test_misuse_of_the_constructors_names_its_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        make()
    assert raised.value.field == field


@pytest.mark.parametrize("seq", [2**63 - 1, 2**63, 2**64 + 5, 10**39])
def test_a_cursor_past_every_entry_lists_nothing(ledger: Ledger, seq: int) -> None:
    import base64

    ledger.grant("ada", 1)
    cursor = base64.urlsafe_b64encode(f"creditcore:{seq}".encode()).decode().rstrip("=")
    page = ledger.entries(after=cursor)
    assert not page.items and page.next_cursor is None


@pytest.mark.parametrize("text", ["creditcore:" + "9" * 5000, "creditcore:-1", "creditcore:+5", "creditcore:1_0"])
def test_a_forged_cursor_is_refused(ledger: Ledger, text: str) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    with pytest.raises(ValidationError) as raised:
        ledger.entries(after=cursor)
    assert raised.value.field == "after"


def test_a_clock_that_returns_nonsense_is_refused_with_its_field() -> None:
    ledger = Ledger.memory(clock=lambda: "now")  # type: ignore[arg-type, return-value]
    with pytest.raises(ValidationError) as raised:
        ledger.grant("ada", 1)
    assert raised.value.field == "clock"


# -- messages in the unit (item 17) ----------------------------------------------------------


def test_a_capture_of_another_amount_names_the_first_in_the_unit(ledger: Ledger) -> None:
    ledger.grant("ada", "20.00", unit="eur")
    ledger.hold("ada", "15.00", unit="eur", hold_id="h")
    ledger.capture("h", "12.40")
    with pytest.raises(HoldNotActive) as raised:
        ledger.capture("h", "12.00")
    assert "12.40 eur" in str(raised.value)
    assert "minor" not in str(raised.value)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 10**6), st.integers(0, 3))
def test_messages_quote_amounts_with_the_units_scale(cents: int, extra: int) -> None:
    ledger = Ledger.memory(units={"eur": 2})
    amount = Decimal(cents).scaleb(-2)
    ledger.grant("ada", amount, unit="eur")
    ledger.hold("ada", amount, unit="eur", hold_id="h")
    ledger.capture("h")
    with pytest.raises(HoldNotActive) as raised:
        ledger.capture("h", Decimal(cents - 1 if cents > 1 else 0).scaleb(-2))
    assert f"{amount} eur" in str(raised.value)

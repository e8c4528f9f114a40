"""billing.usage (SPEC_BILLING B4) on every adapter: priced and metered usage burned as it
happens, the metered charge as the increase of the month's price, request ids replaying, and
every refusal leaving nothing behind (not the event either)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import (
    CreditError,
    IdempotencyConflict,
    InsufficientCredits,
    Ledger,
    NotFound,
    ValidationError,
)
from creditcore.billing import Billing, Tier, price, round_half_up
from creditcore.billing.values import PriceModel

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
GRADUATED = [Tier(10, "0.10"), Tier(100, "0.05"), Tier(None, "0.013")]


@pytest.fixture
def billing(ledger: Ledger) -> Billing:
    ledger.define_unit("usd", 2)
    made = Billing(ledger)
    made.meters.create("Tokens", "tokens", meter_id="t", scale=1, at=T0)
    made.meters.create("Calls", "calls", meter_id="c", aggregation="count", at=T0)
    made.meters.create("Peak", "peak", meter_id="p", aggregation="max", at=T0)
    made.prices.create("t", model="graduated", unit="usd", tiers=GRADUATED, at=T0)
    made.prices.create("c", unit="usd", unit_price="0.25", at=T0)
    ledger.grant("ada", "50.00", unit="usd", at=T0)
    return made


def _everything(billing: Billing) -> tuple[object, ...]:
    ledger = billing.ledger
    far = T0 + 1000 * HOUR
    return (
        ledger.balance("ada", unit="usd", at=far),
        ledger.entries("ada", limit=1000).items,
        billing.usage.list("ada", limit=1000),
        [billing.meters.summary(m, start=T0, end=far, at=far) for m in ("t", "c", "p")],
    )


def test_priced_usage_burns_the_amount(billing: Billing) -> None:
    done = billing.usage.record(
        "ada", amount="2.50", unit="usd", request_id="r1", description="a trip", metadata={"k": "v"}, at=T0 + HOUR
    )
    assert (done.status, done.charged, done.burned, done.shortfall, done.debt) == ("recorded", 2.5, 2.5, 0, 0)
    assert [e.kind for e in done.entries] == ["burn"]
    assert not done.replayed
    again = billing.usage.record(
        "ada", amount="2.5", unit="usd", request_id="r1", description="a trip", metadata={"k": "v"}, at=T0 + 2 * HOUR
    )
    assert again.replayed and again.op_id == done.op_id and again.entries == done.entries
    assert again.charged == Decimal("2.50") and str(again.charged) == "2.50"
    with pytest.raises(IdempotencyConflict) as conflict:
        billing.usage.record("ada", amount="3", unit="usd", request_id="r1", at=T0 + 2 * HOUR)
    assert conflict.value.field == "amount"
    assert billing.ledger.balance("ada", unit="usd").available == Decimal("47.50")
    [record] = billing.usage.list("ada").items
    assert (record.op_id, record.request_id, record.description, record.at) == (done.op_id, "r1", "a trip", T0 + HOUR)


def test_zero_is_skipped_and_writes_nothing(billing: Billing) -> None:
    before = _everything(billing)
    done = billing.usage.record("ada", amount=0, unit="usd", request_id="zero", at=T0 + HOUR)
    assert (done.status, done.op_id, done.charged) == ("skipped", None, 0)
    assert _everything(billing) == before
    # no key kept: the same request id may charge later
    assert billing.usage.record("ada", amount=1, unit="usd", request_id="zero", at=T0 + HOUR).status == "recorded"


def test_metered_usage_charges_what_it_adds_to_the_months_price(billing: Billing) -> None:
    quantities = ["6", "6", "0.5", "95", "30"]
    charged = []
    for n, q in enumerate(quantities):
        done = billing.usage.record("ada", meter_id="t", quantity=q, unit="usd", at=T0 + (n + 1) * HOUR)
        charged.append(done.charged)
        assert done.event_id is not None and done.status == "recorded"
    model = PriceModel("graduated", tiers=GRADUATED)
    total = sum(Decimal(q) for q in quantities)
    # the charges add up to the month's price, rounded once: no drift from rounding each
    assert sum(charged) == round_half_up(price(model, total), 2)
    assert charged[:2] == [Decimal("0.60"), Decimal("0.50")]  # 6 at 0.10, then 4 at 0.10 and 2 at 0.05
    summary = billing.meters.summary("t", customer="ada", start=T0, end=T0 + 10 * HOUR, at=T0 + 10 * HOUR)
    assert (summary.value, summary.event_count) == (total, 5)  # a summary counts advance events too
    # a new month starts again at the first tier
    february = billing.usage.record("ada", meter_id="t", quantity=6, unit="usd", at=datetime(2026, 2, 1, tzinfo=UTC))
    assert february.charged == Decimal("0.60")


def test_a_count_meter_charges_each_event(billing: Billing) -> None:
    for n in range(3):
        assert billing.usage.record("ada", meter_id="c", unit="usd", at=T0 + n * HOUR).charged == Decimal("0.25")
    assert billing.usage.record("ada", meter_id="c", quantity=1, unit="usd", at=T0 + 3 * HOUR).charged == Decimal(
        "0.25"
    )


def test_metered_usage_without_a_price_keeps_the_event_and_burns_nothing(billing: Billing) -> None:
    billing.meters.create("Free", "free", meter_id="f", at=T0)
    done = billing.usage.record("ada", meter_id="f", quantity=3, unit="usd", request_id="free-1", at=T0 + HOUR)
    assert (done.status, done.op_id, done.charged, done.event_id) == ("skipped", None, 0, "free-1")
    assert billing.meters.summary("f", start=T0, end=T0 + 2 * HOUR, at=T0 + 2 * HOUR).value == 3
    assert billing.ledger.balance("ada", unit="usd").available == 50
    again = billing.usage.record("ada", meter_id="f", quantity=3, unit="usd", request_id="free-1", at=T0 + HOUR)
    assert again.replayed and again.status == "skipped"
    assert billing.meters.summary("f", start=T0, end=T0 + 2 * HOUR, at=T0 + 2 * HOUR).event_count == 1


def test_overdraft_modes(billing: Billing) -> None:
    billing.ledger.burn("ada", "49.00", unit="usd", at=T0)
    partial = billing.usage.record("ada", amount=3, unit="usd", overdraft="partial", at=T0 + HOUR)
    assert (partial.charged, partial.burned, partial.shortfall, partial.debt) == (3, 1, 2, 0)
    debt = billing.usage.record("ada", amount=2, unit="usd", at=T0 + HOUR)  # "debt" by default
    assert (debt.burned, debt.shortfall, debt.debt) == (0, 2, 2)
    before = _everything(billing)
    with pytest.raises(InsufficientCredits):
        billing.usage.record("ada", meter_id="t", quantity=5, unit="usd", overdraft="reject", at=T0 + 2 * HOUR)
    assert _everything(billing) == before  # not the event either


def test_the_burn_reaches_the_meter_scope(billing: Billing) -> None:
    billing.ledger.grant("bob", 1, unit="usd", scope="meter:t", at=T0)
    billing.ledger.grant("bob", 1, unit="usd", scope="other", at=T0)
    done = billing.usage.record("bob", meter_id="t", quantity=5, unit="usd", overdraft="partial", at=T0 + HOUR)
    assert (done.burned, done.shortfall) == (Decimal("0.50"), 0)
    priced = billing.usage.record("bob", amount=1, unit="usd", scope="other", overdraft="partial", at=T0 + HOUR)
    assert priced.burned == 1


def test_a_write_dated_before_the_customers_last_is_refused_whole(billing: Billing) -> None:
    billing.ledger.burn("ada", 1, unit="usd", at=T0 + 5 * HOUR)
    before = _everything(billing)
    with pytest.raises(ValidationError) as refused:
        billing.usage.record("ada", meter_id="t", quantity=5, unit="usd", at=T0 + HOUR)
    assert refused.value.field == "at"
    assert _everything(billing) == before


@pytest.mark.parametrize(
    ("arguments", "error", "field"),
    [
        ({}, ValidationError, "amount"),
        ({"amount": 1, "meter_id": "t"}, ValidationError, "amount"),
        ({"amount": 1, "quantity": 1}, ValidationError, "quantity"),
        ({"amount": "-1"}, ValidationError, "amount"),
        ({"amount": "0.001"}, ValidationError, "amount"),
        ({"amount": 1.5}, ValidationError, "amount"),
        ({"amount": 1, "unit": "eur"}, ValidationError, "unit"),
        ({"amount": 1, "customer": ""}, ValidationError, "customer"),
        ({"amount": 1, "overdraft": "never"}, ValidationError, "overdraft"),
        ({"amount": 1, "request_id": ""}, ValidationError, "request_id"),
        ({"amount": 1, "metadata": {"a": 2}}, ValidationError, "metadata"),
        ({"amount": 1, "scope": ""}, ValidationError, "scope"),
        ({"meter_id": "t"}, ValidationError, "quantity"),
        ({"meter_id": "t", "quantity": 0}, ValidationError, "quantity"),
        ({"meter_id": "t", "quantity": "0.05"}, ValidationError, "quantity"),
        ({"meter_id": "c", "quantity": 2}, ValidationError, "quantity"),
        ({"meter_id": "p", "quantity": 2}, ValidationError, "meter_id"),
        ({"meter_id": "nope", "quantity": 2}, NotFound, None),
        ({"meter_id": "c", "unit": "credits"}, ValidationError, "unit"),
        ({"amount": 1, "at": datetime(2026, 1, 1)}, ValidationError, "at"),
    ],
)
def test_bad_usage_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], error: type[CreditError], field: str | None
) -> None:
    given: dict[str, object] = {"customer": "ada", "unit": "usd", "at": T0 + HOUR, **arguments}
    before = _everything(billing)
    with pytest.raises(error) as refused:
        billing.usage.record(**given)  # type: ignore[arg-type]
    if field is not None:
        assert refused.value.field == field  # type: ignore[attr-defined]
    assert _everything(billing) == before


def test_a_request_id_is_the_calls_key_across_kinds(billing: Billing) -> None:
    billing.usage.record("ada", meter_id="t", quantity=2, unit="usd", request_id="k", at=T0 + HOUR)
    with pytest.raises(IdempotencyConflict):
        billing.usage.record("ada", amount=1, unit="usd", request_id="k", at=T0 + HOUR)
    billing.ledger.burn("ada", 1, unit="usd", idempotency_key="ledger-key", at=T0 + HOUR)
    before = _everything(billing)
    with pytest.raises(IdempotencyConflict):
        billing.usage.record("ada", amount=1, unit="usd", request_id="ledger-key", at=T0 + HOUR)
    assert _everything(billing) == before


def test_the_list_filters_and_pages(billing: Billing) -> None:
    billing.ledger.define_unit("eur", 2)
    billing.ledger.grant("ada", 10, unit="eur", at=T0)
    for n in range(5):
        billing.usage.record("ada", amount=1, unit="usd" if n % 2 else "eur", at=T0 + n * HOUR)
    every = billing.usage.list("ada").items
    assert [r.at for r in every] == [T0 + n * HOUR for n in range(5)]
    assert [r.unit for r in billing.usage.list("ada", unit="usd").items] == ["usd", "usd"]
    assert [r.at for r in billing.usage.list("ada", since=T0 + HOUR, until=T0 + 3 * HOUR).items] == [
        T0 + HOUR,
        T0 + 2 * HOUR,
    ]
    first = billing.usage.list("ada", limit=2)
    assert first.next_cursor is not None
    rest = billing.usage.list("ada", after=first.next_cursor, limit=10)
    assert (*first.items, *rest.items) == every and rest.next_cursor is None
    assert billing.usage.list("bob").items == ()
    with pytest.raises(ValidationError):
        billing.usage.list("ada", after="garbage")

"""billing.meters and billing.prices (SPEC_BILLING B2, B3) on every adapter: what is stored
reads back exactly, caller ids replay, event ids are kept (duplicate or conflict), a batch is
checked whole and written all or nothing, summaries are half-open in the customer's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Conflict, IdempotencyConflict, Ledger, NotFound, ValidationError
from creditcore.billing import Billing, MeterEvent, Tier

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def billing(ledger: Ledger) -> Billing:
    ledger.define_unit("usd", 2)
    return Billing(ledger, timezone="Europe/Berlin")


def _stored(billing: Billing) -> tuple[object, ...]:
    """Everything billing keeps that these calls can write."""
    meters = billing.meters.list()
    return (
        meters,
        billing.prices.list(),
        [
            billing.meters.summary(m.id, start=T0 - 1000 * HOUR, end=T0 + 1000 * HOUR, at=T0 + 1000 * HOUR)
            for m in meters
        ],
    )


def test_a_meter_reads_back_and_its_id_replays(billing: Billing) -> None:
    made = billing.meters.create(
        "Tokens", "llm_tokens", aggregation="sum", meter_id="tokens", dimensions=("model", "region"), scale=3,
        description="tokens in and out", metadata={"team": "ml"}, at=T0,
    )  # fmt: skip
    assert billing.meters.get("tokens") == made
    assert (made.dimensions, made.scale, made.created_at) == (("model", "region"), 3, T0)
    again = billing.meters.create(
        "Tokens", "llm_tokens", meter_id="tokens", dimensions=["model", "region"], scale=3,
        description="tokens in and out", metadata={"team": "ml"}, at=T0 + HOUR,
    )  # fmt: skip
    assert again == made
    with pytest.raises(IdempotencyConflict) as conflict:
        billing.meters.create("Tokens", "llm_tokens", meter_id="tokens", scale=2)
    assert conflict.value.field == "dimensions"
    with pytest.raises(Conflict):
        billing.meters.create("Other", "llm_tokens")  # the event name is taken
    second = billing.meters.create("Calls", "api_call", aggregation="count")
    assert second.id.startswith("mtr_")
    assert billing.meters.list() == [made, second]
    with pytest.raises(NotFound):
        billing.meters.get("nope")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"event_name": ""}, "event_name"),
        ({"aggregation": "avg"}, "aggregation"),
        ({"dimensions": ("a", "a")}, "dimensions"),
        ({"dimensions": "model"}, "dimensions"),
        ({"dimensions": [f"d{n}" for n in range(21)]}, "dimensions"),
        ({"scale": 13}, "scale"),
        ({"scale": True}, "scale"),
        ({"metadata": {"a": 1}}, "metadata"),
        ({"meter_id": ""}, "meter_id"),
        ({"meter_id": "m" * 195}, "meter_id"),  # its scope meter:<id> would be 201 characters
    ],
)
def test_a_bad_meter_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {"name": "Calls", "event_name": "api_call", **arguments}
    before = _stored(billing)
    with pytest.raises(ValidationError) as refused:
        billing.meters.create(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _stored(billing) == before


def test_the_longest_meter_id_bills_usage_with_its_scope(billing: Billing) -> None:
    ident = "m" * 194
    billing.meters.create("Calls", "api_call", meter_id=ident, at=T0)
    billing.prices.create(ident, unit="usd", unit_price="0.10", at=T0)
    billing.ledger.grant("ada", "5.00", unit="usd", scope=f"meter:{ident}", at=T0)
    billing.meters.record([MeterEvent(ident, "ada", 3, timestamp=T0)], at=T0 + HOUR)
    draft = billing.invoices.create("ada", start=T0, end=T0 + DAY, at=T0 + DAY)
    issued = billing.invoices.issue(draft.id, at=T0 + DAY).invoice
    assert (issued.lines[0].scopes, issued.credit_applied) == (frozenset({f"meter:{ident}"}), Decimal("0.30"))


def test_events_are_recorded_deduplicated_and_summed(billing: Billing) -> None:
    billing.meters.create("Tokens", "tokens", meter_id="t", dimensions=("model",), scale=1, at=T0)
    first = billing.meters.record(
        [
            MeterEvent("t", "ada", "1.5", event_id="e1", timestamp=T0, dimensions={"model": "gpt"}),
            MeterEvent("t", "ada", 2, timestamp=T0 + HOUR),
            MeterEvent("t", "bob", 7, event_id="e3", timestamp=T0),
        ],
        at=T0 + 2 * HOUR,
    )
    assert (first.created, first.duplicates) == (3, 0)
    assert [r.status for r in first.results] == ["created"] * 3
    assert first.results[1].event_id.startswith("evt_")
    # a retry: the same ids and fields are duplicates, an omitted timestamp is not compared
    again = billing.meters.record(
        [MeterEvent("t", "ada", "1.50", event_id="e1", dimensions={"model": "gpt"}), MeterEvent("t", "ada", 4)],
        at=T0 + 3 * HOUR,
    )
    assert [r.status for r in again.results] == ["duplicate", "created"]
    assert (again.created, again.duplicates) == (1, 1)

    def total(customer: str | None, end: datetime, **more: object) -> tuple[Decimal, int]:
        found = billing.meters.summary("t", customer=customer, start=T0, end=end, at=T0 + 10 * HOUR, **more)  # type: ignore[arg-type]
        return found.value, found.event_count

    assert total("ada", T0 + 4 * HOUR) == (Decimal("7.5"), 3)
    assert total("ada", T0 + HOUR) == (Decimal("1.5"), 1)  # the end is left out
    assert total(None, T0 + HOUR) == (Decimal("8.5"), 2)
    assert total("ada", T0 + 4 * HOUR, dimensions={"model": "gpt"}) == (Decimal("1.5"), 1)
    # what was recorded after `at` is not counted
    early = billing.meters.summary("t", customer="ada", start=T0, end=T0 + 4 * HOUR, at=T0 + 2 * HOUR)
    assert (early.value, early.event_count) == (Decimal("3.5"), 2)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (MeterEvent("t", "ada", "1.5", event_id="e1", timestamp=T0), "value"),
        (MeterEvent("t", "bob", "1", event_id="e1", timestamp=T0), "customer"),
        (MeterEvent("t", "ada", "1", event_id="e1", timestamp=T0 + HOUR), "timestamp"),
        (MeterEvent("t", "ada", "1", event_id="e1", timestamp=T0, dimensions={"model": "x"}), "dimensions"),
    ],
)
def test_an_event_id_again_with_another_field_refuses_the_whole_batch(
    billing: Billing, event: MeterEvent, field: str
) -> None:
    billing.meters.create("Tokens", "tokens", meter_id="t", dimensions=("model",), scale=1, at=T0)
    billing.meters.record([MeterEvent("t", "ada", 1, event_id="e1", timestamp=T0)], at=T0)
    before = _stored(billing)
    with pytest.raises(IdempotencyConflict) as refused:
        billing.meters.record([MeterEvent("t", "ada", 5, event_id="fresh"), event], at=T0 + HOUR)
    assert refused.value.field == field
    assert _stored(billing) == before


def test_one_id_twice_in_a_batch(billing: Billing) -> None:
    billing.meters.create("Calls", "calls", meter_id="c", at=T0)
    done = billing.meters.record([MeterEvent("c", "ada", 1, event_id="x"), MeterEvent("c", "ada", 1, event_id="x")])
    assert [r.status for r in done.results] == ["created", "duplicate"]
    with pytest.raises(IdempotencyConflict):
        billing.meters.record([MeterEvent("c", "ada", 1, event_id="y"), MeterEvent("c", "ada", 2, event_id="y")])


@pytest.mark.parametrize(
    ("events", "field"),
    [
        ([], "events"),
        ([MeterEvent("s", "ada", 1)] * 101, "events"),
        ("events", "events"),
        ([{"meter_id": "s"}], "events"),
        ([MeterEvent(None, "ada", 1)], "meter_id"),  # type: ignore[arg-type]
        ([MeterEvent("s", None, 1)], "customer"),  # type: ignore[arg-type]
        ([MeterEvent("s", "ada")], "value"),
        ([MeterEvent("s", "ada", -1)], "value"),
        ([MeterEvent("s", "ada", "0.001")], "value"),  # more places than the meter's scale
        ([MeterEvent("s", "ada", 1.5)], "value"),  # type: ignore[arg-type]
        ([MeterEvent("s", "ada", 1, unique_key="k")], "unique_key"),
        ([MeterEvent("u", "ada")], "unique_key"),
        ([MeterEvent("u", "ada", 1, unique_key="k")], "value"),
        ([MeterEvent("s", "ada", 1, dimensions={"colour": "red"})], "dimensions"),
        ([MeterEvent("s", "ada", 1, dimensions={"model": 3})], "dimensions"),  # type: ignore[dict-item]
        ([MeterEvent("s", "ada", 1, timestamp=T0 + HOUR)], "timestamp"),  # after at + 5 minutes
        ([MeterEvent("s", "ada", 1, timestamp=datetime(2026, 1, 1))], "timestamp"),  # naive
        ([MeterEvent("s", "ada", 1), MeterEvent("s", "ada", 1, event_id="")], "event_id"),
    ],
)
def test_a_bad_batch_is_refused_whole(billing: Billing, events: object, field: str) -> None:
    billing.meters.create("Spend", "spend", meter_id="s", dimensions=("model",), scale=2, at=T0)
    billing.meters.create("Users", "users", meter_id="u", aggregation="unique_count", at=T0)
    before = _stored(billing)
    with pytest.raises(ValidationError) as refused:
        billing.meters.record(events, at=T0)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _stored(billing) == before


def test_an_unknown_meter_refuses_the_batch(billing: Billing) -> None:
    billing.meters.create("Spend", "spend", meter_id="s", at=T0)
    with pytest.raises(NotFound):
        billing.meters.record([MeterEvent("s", "ada", 1), MeterEvent("nope", "ada", 1)], at=T0)
    assert billing.meters.summary("s", start=T0, end=T0 + HOUR, at=T0).event_count == 0


def test_every_aggregation(billing: Billing) -> None:
    for kind in ("sum", "count", "max", "unique_count", "latest"):
        billing.meters.create(kind, kind, meter_id=kind, aggregation=kind, at=T0)
    events = []
    for n, value in enumerate([3, 9, 4]):
        at = T0 + n * HOUR
        events += [MeterEvent(k, "ada", value, timestamp=at) for k in ("sum", "max", "latest", "count")]
        events.append(MeterEvent("unique_count", "ada", unique_key=f"user-{value % 2}", timestamp=at))
    billing.meters.record(events, at=T0 + 3 * HOUR)
    found = {
        k: billing.meters.summary(k, customer="ada", start=T0, end=T0 + 3 * HOUR, at=T0 + 3 * HOUR).value
        for k in ("sum", "count", "max", "unique_count", "latest")
    }
    assert found == {"sum": 16, "count": 3, "max": 9, "unique_count": 2, "latest": 4}


def test_a_summary_of_dates_is_in_the_customer_zone(billing: Billing, ledger: Ledger) -> None:
    billing.meters.create("Calls", "calls", meter_id="c", at=T0)
    ledger.set_customer("tokyo", timezone="Asia/Tokyo", at=T0)
    # 2026-01-02 00:30 in Tokyo is 2026-01-01 15:30 UTC; in Berlin (the Billing's zone) it is 2026-01-01
    billing.meters.record([MeterEvent("c", "tokyo", 1, timestamp=T0 + 15.5 * HOUR)], at=T0 + 16 * HOUR)
    billing.meters.record([MeterEvent("c", "berlin", 1, timestamp=T0 + 15.5 * HOUR)], at=T0 + 16 * HOUR)
    later = T0 + 20 * HOUR
    tokyo = billing.meters.summary("c", customer="tokyo", start=date(2026, 1, 2), end=date(2026, 1, 3), at=later)
    assert (tokyo.start, tokyo.value) == (datetime(2026, 1, 1, 15, tzinfo=UTC), 1)
    berlin = billing.meters.summary("c", customer="berlin", start=date(2026, 1, 1), end=date(2026, 1, 2), at=later)
    assert (berlin.start, berlin.value) == (datetime(2025, 12, 31, 23, tzinfo=UTC), 1)
    with pytest.raises(ValidationError) as refused:
        billing.meters.summary("c", start=T0, end=T0)
    assert refused.value.field == "end"
    with pytest.raises(NotFound):
        billing.meters.summary("nope", start=T0, end=T0 + HOUR)


def test_prices_one_live_per_meter_and_plan_and_quotes(billing: Billing) -> None:
    billing.meters.create("Tokens", "tokens", meter_id="t", scale=3, at=T0)
    base = billing.prices.create("t", unit="usd", unit_price="0.000002", price_id="base", at=T0)
    pro = billing.prices.create(
        "t", model="graduated", unit="usd", plan="pro", tiers=[Tier(1000, "0.001"), Tier(None, "0.0005", flat_fee=1)]
    )
    assert billing.prices.get("base") == base
    assert billing.prices.list() == [base, pro]
    assert billing.prices.list(plan="pro") == [pro]
    assert billing.prices.create("t", unit="usd", unit_price="0.0000020", price_id="base") == base  # replays
    with pytest.raises(IdempotencyConflict):
        billing.prices.create("t", unit="usd", unit_price="0.000003", price_id="base")
    with pytest.raises(Conflict):
        billing.prices.create("t", unit="usd", unit_price=1)
    quote = billing.prices.quote("t", "1500.5", plan="pro")
    assert (quote.price_id, quote.exact, quote.amount) == (pro.id, Decimal("2.25025"), Decimal("2.25"))
    assert billing.prices.quote("t", 0).amount == 0
    assert billing.prices.quote("t", 2500, plan="other").price_id == "base"  # the plan-less price
    assert billing.prices.quote("t", 2500).amount == Decimal("0.01")  # 0.005 rounds half up
    assert billing.prices.delete("base", at=T0 + HOUR) == base
    with pytest.raises(NotFound):
        billing.prices.get("base")
    with pytest.raises(NotFound):
        billing.prices.quote("t", 1)
    with pytest.raises(NotFound):
        billing.prices.delete("base")
    again = billing.prices.create("t", unit="usd", unit_price=1)  # the slot is free again
    assert billing.prices.list() == [pro, again]


@pytest.mark.parametrize(
    ("arguments", "error", "field"),
    [
        ({"model": "tiered", "tiers": [Tier(None, 1)]}, ValidationError, "model"),
        ({"unit_price": None}, ValidationError, "unit_price"),
        ({"unit_price": "-1"}, ValidationError, "unit_price"),
        ({"unit_price": 1.5}, ValidationError, "unit_price"),
        ({"unit_price": "0.0000000000001"}, ValidationError, "unit_price"),
        ({"unit_price": 1, "tiers": [Tier(None, 1)]}, ValidationError, "tiers"),
        ({"model": "graduated", "unit_price": None, "tiers": []}, ValidationError, "tiers"),
        (
            {"model": "package", "unit_price": None, "package_size": 0, "package_price": 1},
            ValidationError,
            "package_size",
        ),
        ({"unit_price": 1, "free_units": 5}, ValidationError, "free_units"),
        ({"unit": "eur"}, ValidationError, "unit"),
        ({"meter_id": "nope"}, NotFound, None),
        ({"plan": ""}, ValidationError, "plan"),
    ],
)
def test_a_bad_price_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], error: type[Exception], field: str | None
) -> None:
    billing.meters.create("Tokens", "tokens", meter_id="t", at=T0)
    given: dict[str, object] = {"meter_id": "t", "unit": "usd", "unit_price": 1, **arguments}
    before = _stored(billing)
    with pytest.raises(error) as refused:
        billing.prices.create(**given)  # type: ignore[arg-type]
    if field is not None:
        assert refused.value.field == field  # type: ignore[attr-defined]
    assert _stored(billing) == before


def test_a_quote_takes_a_quantity_in_the_meter_scale(billing: Billing) -> None:
    billing.meters.create("Tokens", "tokens", meter_id="t", scale=1, at=T0)
    billing.prices.create("t", unit="usd", unit_price=1, at=T0)
    for bad in ("-1", "0.05", 1.5, None):
        with pytest.raises(ValidationError) as refused:
            billing.prices.quote("t", bad)  # type: ignore[arg-type]
        assert refused.value.field == "quantity"


def test_billing_writes_join_an_atomic_batch(billing: Billing, ledger: Ledger) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), ledger.atomic():
        billing.meters.create("Calls", "calls", meter_id="c", at=T0)
        ledger.grant("ada", 10, at=T0)
        raise Boom
    assert billing.meters.list() == []
    assert ledger.balance("ada").available == 0
    with ledger.atomic():
        billing.meters.create("Calls", "calls", meter_id="c", at=T0)
        billing.meters.record([MeterEvent("c", "ada", 1)], at=T0)
        ledger.grant("ada", 10, at=T0)
    assert billing.meters.summary("c", start=T0, end=T0 + HOUR, at=T0).value == 1


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"timezone": "Mars/Olympus"}, "timezone"), ({"invoice_prefix": "x" * 21}, "invoice_prefix"),
     ({"invoice_prefix": 5}, "invoice_prefix"), ({"invoice_number_width": 0}, "invoice_number_width"),
     ({"invoice_number_width": 13}, "invoice_number_width"), ({"invoice_number_width": True}, "invoice_number_width")],
)  # fmt: skip
def test_bad_billing_arguments(ledger: Ledger, arguments: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Billing(ledger, **arguments)  # type: ignore[arg-type]
    assert refused.value.field == field

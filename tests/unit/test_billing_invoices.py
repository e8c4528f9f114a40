"""billing.invoices (SPEC_BILLING B6) on every adapter: lines from metered usage, voucher,
tax and credits line by line; a preview that writes nothing; issue, pay and void with their
states; gapless numbers; late events refused while a period is billed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Conflict, IdempotencyConflict, InvalidState, Ledger, NotFound, ValidationError
from creditcore.billing import Billing, MeterEvent, Tier
from creditcore.billing.vouchers import Vouchers

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
JAN, FEB, MAR = T0, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def billing(ledger: Ledger) -> Billing:
    ledger.define_unit("usd", 2)
    made = Billing(ledger)
    made.meters.create("Tokens", "tokens", meter_id="t", at=T0)
    made.meters.create("Calls", "calls", meter_id="c", aggregation="count", at=T0)
    made.prices.create("t", model="graduated", unit="usd", tiers=[Tier(10, "0.10"), Tier(None, "0.01")], at=T0)
    made.prices.create("c", unit="usd", unit_price="0.25", at=T0)
    return made


def _use(billing: Billing, customer: str = "ada", tokens: int = 25, calls: int = 2, at: datetime = T0) -> None:
    events = [MeterEvent("t", customer, tokens, timestamp=at + HOUR)]
    events += [MeterEvent("c", customer, timestamp=at + HOUR) for _ in range(calls)]
    billing.meters.record(events, at=at + 2 * HOUR)


def _everything(billing: Billing, customer: str = "ada") -> tuple[object, ...]:
    ledger = billing.ledger
    far = T0 + 1000 * DAY
    return (
        ledger.balance(customer, unit="usd", at=far),
        ledger.entries(customer, limit=1000).items,
        billing.invoices.list(limit=1000),
        Vouchers(ledger._ctx, "UTC").list(customer, include_inactive=True, at=far),
    )


def test_meter_to_paid_invoice(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", "1.00", unit="usd", at=T0)
    _use(billing)
    before = _everything(billing)
    preview = billing.invoices.preview("ada", start=JAN, end=FEB, tax_rate=10, at=FEB)
    assert _everything(billing) == before  # a preview writes nothing
    assert [(line.meter_id, line.quantity, line.amount) for line in preview.lines] == [
        ("t", 25, Decimal("1.15")),  # 10 at 0.10 and 15 at 0.01
        ("c", 2, Decimal("0.50")),
    ]
    assert (preview.subtotal, preview.tax, preview.total) == (Decimal("1.65"), Decimal("0.17"), Decimal("1.82"))
    assert (preview.credit_applied, preview.amount_due) == (Decimal("1.00"), Decimal("0.82"))
    draft = billing.invoices.create("ada", start=JAN, end=FEB, tax_rate=10, invoice_id="i1", at=FEB)
    assert (draft.status, draft.number, draft.amount_due) == ("draft", None, Decimal("0.82"))
    assert ledger.balance("ada", unit="usd").available == 1  # a draft burns nothing
    issued = billing.invoices.issue("i1", at=FEB + HOUR)
    invoice = issued.invoice
    assert (invoice.status, invoice.number, invoice.issued_at, invoice.due_at) == (
        "issued", "INV-0001", FEB + HOUR, FEB + HOUR,
    )  # fmt: skip
    assert [line.credit_applied for line in invoice.lines] == [Decimal("1.00"), 0]
    assert invoice.lines[0].burn_op_id is not None and invoice.lines[1].burn_op_id is not None
    assert [e.kind for e in issued.entries] == ["burn"]
    assert ledger.balance("ada", unit="usd", at=FEB + HOUR).available == 0
    paid = billing.invoices.pay("i1", reference="stripe_pi_1", at=FEB + 2 * HOUR)
    assert (paid.status, paid.paid_at, paid.payment_reference) == ("paid", FEB + 2 * HOUR, "stripe_pi_1")
    assert billing.invoices.get("i1") == paid


def test_a_period_credits_cover_is_paid_at_once(billing: Billing) -> None:
    billing.ledger.grant("ada", 10, unit="usd", at=T0)
    _use(billing)
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", at=FEB)
    invoice = billing.invoices.issue("i1", at=FEB).invoice
    assert (invoice.status, invoice.paid_at, invoice.payment_reference, invoice.amount_due) == (
        "paid", FEB, "credits", 0,
    )  # fmt: skip


def test_lines_leave_out_advance_usage_other_units_and_nothing_at_all(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.define_unit("eur", 2)
    billing.meters.create("Seats", "seats", meter_id="s", aggregation="max", at=T0)
    billing.prices.create("s", unit="eur", unit_price=5, at=T0)
    billing.meters.create("Free", "free", meter_id="f", at=T0)
    billing.prices.create("f", model="package", unit="usd", package_size=10, package_price=1, free_units=100, at=T0)
    billing.meters.record([MeterEvent("s", "ada", 3, timestamp=T0), MeterEvent("f", "ada", 50, timestamp=T0)], at=T0)
    billing.usage.record("ada", meter_id="t", quantity=5, unit="usd", at=T0 + HOUR)  # charged in advance
    with pytest.raises(ValidationError) as refused:
        billing.invoices.preview("ada", start=JAN, end=FEB, at=FEB)  # usd and eur prices
    assert refused.value.field == "unit"
    lines = billing.invoices.preview("ada", start=JAN, end=FEB, unit="usd", at=FEB).lines
    assert [(line.meter_id, line.quantity, line.amount) for line in lines] == [("f", 50, 0)]  # free units
    assert billing.invoices.preview("bob", start=JAN, end=FEB, unit="usd", at=FEB).lines == ()
    assert [
        line.meter_id for line in billing.invoices.preview("ada", start=JAN, end=FEB, unit="eur", at=FEB).lines
    ] == ["s"]


def test_a_plan_prices_its_meters(billing: Billing) -> None:
    billing.prices.create("t", unit="usd", unit_price=1, plan="pro", at=T0)
    _use(billing, tokens=3, calls=1)
    lines = billing.invoices.preview("ada", start=JAN, end=FEB, plan="pro", at=FEB).lines
    assert [(line.meter_id, line.amount) for line in lines] == [("t", 3), ("c", Decimal("0.25"))]


def test_the_best_voucher_discounts_once_and_comes_back_with_a_void(billing: Billing) -> None:
    vouchers = Vouchers(billing.ledger._ctx, "UTC")
    vouchers.create("ada", 10, voucher_id="ten", at=T0)
    vouchers.create("ada", 50, voucher_id="half", scope="meter:c", single_use=True, at=T0)
    _use(billing)
    preview = billing.invoices.preview("ada", start=JAN, end=FEB, at=FEB)
    assert preview.voucher_id == "half"
    assert [line.discount for line in preview.lines] == [0, Decimal("0.25")]  # only the line it reaches
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", at=FEB)
    assert vouchers.get("half", at=FEB).status == "active"  # a draft uses nothing
    issued = billing.invoices.issue("i1", at=FEB).invoice
    assert (issued.voucher_id, issued.discount) == ("half", Decimal("0.25"))
    assert vouchers.get("half", at=FEB).used_by == "i1"
    # used up: the next invoice takes the 10% one
    _use(billing, at=FEB)
    assert billing.invoices.preview("ada", start=FEB, end=MAR, at=MAR).voucher_id == "ten"
    billing.invoices.void("i1", at=FEB + HOUR)
    assert vouchers.get("half", at=FEB + HOUR).status == "active"


def test_tax_is_rounded_per_line_after_the_discount(billing: Billing) -> None:
    Vouchers(billing.ledger._ctx, "UTC").create("ada", 10, at=T0)
    _use(billing, tokens=25, calls=1)
    preview = billing.invoices.preview("ada", start=JAN, end=FEB, tax_rate="19.5", at=FEB)
    # 1.15 - 0.12 = 1.03 -> tax 0.20085 -> 0.20; 0.25 - 0.03 = 0.22 -> 0.0429 -> 0.04
    assert [(line.discount, line.tax) for line in preview.lines] == [
        (Decimal("0.12"), Decimal("0.20")),
        (Decimal("0.03"), Decimal("0.04")),
    ]
    assert preview.total == Decimal("1.40") - Decimal("0.15") + Decimal("0.24")


def test_credit_goes_line_by_line_with_each_lines_scope(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", "0.40", unit="usd", scope="meter:c", at=T0)
    ledger.grant("ada", "0.30", unit="usd", at=T0)
    _use(billing, tokens=2, calls=2)  # t: 0.20, c: 0.50
    preview = billing.invoices.preview("ada", start=JAN, end=FEB, at=FEB)
    assert [line.credit_applied for line in preview.lines] == [Decimal("0.20"), Decimal("0.50")]
    assert [sum(a for _, a in allocation) for allocation in preview.credit_allocations] == [
        Decimal("0.20"),
        Decimal("0.50"),
    ]
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", at=FEB)
    issued = billing.invoices.issue("i1", at=FEB).invoice
    assert [line.credit_applied for line in issued.lines] == [line.credit_applied for line in preview.lines]
    assert issued.amount_due == 0
    assert ledger.balance("ada", unit="usd", at=FEB).available == 0


def test_forbidden_transitions_are_invalid_state_and_write_nothing(billing: Billing) -> None:
    for name in ("a", "b", "c", "d"):
        _use(billing, name)
    for name in ("a", "b", "c"):
        billing.invoices.create(name, start=JAN, end=FEB, unit="usd", invoice_id=name, at=FEB)
    billing.invoices.issue("b", at=FEB)
    billing.invoices.issue("c", at=FEB)
    billing.invoices.pay("c", at=FEB)
    billing.invoices.void("a", at=FEB)
    cases = [
        ("issue", "a", "void"), ("pay", "a", "void"), ("void", "a", "void"),
        ("issue", "b", "issued"),
        ("issue", "c", "paid"), ("pay", "c", "paid"), ("void", "c", "paid"),
    ]  # fmt: skip
    billing.invoices.create("d", start=JAN, end=FEB, unit="usd", invoice_id="d", at=FEB)
    cases.append(("pay", "d", "draft"))
    before = _everything(billing)
    for verb, invoice_id, status in cases:
        with pytest.raises(InvalidState) as refused:
            getattr(billing.invoices, verb)(invoice_id, at=FEB + HOUR)
        assert (refused.value.status, refused.value.invoice_id) == (status, invoice_id)
        assert isinstance(refused.value, Conflict)
    assert _everything(billing) == before
    with pytest.raises(NotFound):
        billing.invoices.issue("nope", at=FEB)


def test_a_billed_period_refuses_overlaps_and_late_events_until_voided(billing: Billing) -> None:
    _use(billing)
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="jan", at=FEB)
    billing.invoices.issue("jan", at=FEB)
    billing.invoices.create("ada", start=JAN + 10 * DAY, end=FEB + 10 * DAY, invoice_id="over", at=FEB)
    with pytest.raises(Conflict):
        billing.invoices.issue("over", at=FEB + HOUR)
    with pytest.raises(Conflict) as late:
        billing.meters.record([MeterEvent("t", "ada", 1, timestamp=JAN + DAY)], at=FEB + HOUR)
    assert "jan" in str(late.value) and "INV-0001" in str(late.value)
    # another customer's period is not billed; an event at the period's end belongs to the next
    billing.meters.record([MeterEvent("t", "bob", 1, timestamp=JAN + DAY)], at=FEB + HOUR)
    billing.meters.record([MeterEvent("t", "ada", 1, timestamp=FEB)], at=FEB + HOUR)
    billing.invoices.void("jan", at=FEB + 2 * HOUR)
    billing.meters.record([MeterEvent("t", "ada", 1, timestamp=JAN + DAY)], at=FEB + 2 * HOUR)
    assert billing.invoices.issue("over", at=FEB + 3 * HOUR).invoice.number == "INV-0002"


def test_voiding_gives_credit_back_and_expired_credit_expires_at_once(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", "0.50", unit="usd", expires_at=FEB + DAY, at=T0)
    ledger.grant("ada", "1.00", unit="usd", expires_at=None, priority=90, at=T0)
    _use(billing)  # 1.65: 0.15 is due
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", at=FEB)
    assert billing.invoices.issue("i1", at=FEB).invoice.amount_due == Decimal("0.15")
    assert ledger.balance("ada", unit="usd", at=FEB).available == 0
    voided = billing.invoices.void("i1", at=FEB + 2 * DAY)
    assert (voided.status, voided.voided_at) == ("void", FEB + 2 * DAY)
    # the 0.50 went back to a block that had expired meanwhile: it expired at once
    balance = ledger.balance("ada", unit="usd", at=FEB + 2 * DAY)
    assert (balance.available, balance.expired) == (Decimal("1.00"), Decimal("0.50"))


def test_an_issue_dated_before_the_last_write_takes_no_number(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", 1, unit="usd", at=FEB + DAY)
    _use(billing)
    billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", at=FEB)
    before = _everything(billing)
    with pytest.raises(ValidationError) as refused:
        billing.invoices.issue("i1", at=FEB)
    assert refused.value.field == "at"
    assert _everything(billing) == before
    assert billing.invoices.issue("i1", at=FEB + DAY).invoice.number == "INV-0001"


def test_create_replays_by_id_and_by_key(billing: Billing) -> None:
    _use(billing)
    made = billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", metadata={"po": "7"}, at=FEB)
    assert billing.invoices.create("ada", start=JAN, end=FEB, invoice_id="i1", metadata={"po": "7"}, at=FEB) == made
    with pytest.raises(IdempotencyConflict):
        billing.invoices.create("ada", start=JAN, end=MAR, invoice_id="i1", at=FEB)
    keyed = billing.invoices.create("ada", start=FEB, end=MAR, idempotency_key="k", at=FEB)
    assert billing.invoices.create("ada", start=FEB, end=MAR, idempotency_key="k", at=FEB + HOUR) == keyed
    with pytest.raises(IdempotencyConflict):
        billing.invoices.create("bob", start=FEB, end=MAR, idempotency_key="k", at=FEB)


def test_the_list_filters_and_pages(billing: Billing) -> None:
    _use(billing)
    for n in range(5):
        billing.invoices.create(f"c{n % 2}", start=JAN, end=FEB, unit="usd", invoice_id=f"i{n}", at=FEB)
    billing.invoices.issue("i0", at=FEB)
    assert [i.id for i in billing.invoices.list().items] == [f"i{n}" for n in range(5)]
    assert [i.id for i in billing.invoices.list("c0").items] == ["i0", "i2", "i4"]
    assert [i.id for i in billing.invoices.list(status="paid").items] == ["i0"]  # nothing due: paid
    assert [i.id for i in billing.invoices.list("c0", status=["draft", "void"]).items] == ["i2", "i4"]
    first = billing.invoices.list(limit=2)
    rest = billing.invoices.list(after=first.next_cursor, limit=10)
    assert [i.id for i in (*first.items, *rest.items)] == [f"i{n}" for n in range(5)]
    assert rest.next_cursor is None
    with pytest.raises(ValidationError) as refused:
        billing.invoices.list(status="open")
    assert refused.value.field == "status"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"end": JAN}, "end"),
        ({"start": datetime(2026, 1, 1)}, "start"),
        ({"tax_rate": 101}, "tax_rate"),
        ({"tax_rate": "-1"}, "tax_rate"),
        ({"tax_rate": "1.00001"}, "tax_rate"),
        ({"tax_rate": 1.5}, "tax_rate"),
        ({"unit": "eur"}, "unit"),
        ({"plan": ""}, "plan"),
        ({"invoice_id": ""}, "invoice_id"),
        ({"metadata": {"a": 1}}, "metadata"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"customer": ""}, "customer"),
    ],
)
def test_a_bad_invoice_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], field: str
) -> None:
    _use(billing)
    given: dict[str, object] = {"customer": "ada", "start": JAN, "end": FEB, "at": FEB, **arguments}
    before = _everything(billing)
    with pytest.raises(ValidationError) as refused:
        billing.invoices.create(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _everything(billing) == before
    preview_arguments = {k: v for k, v in given.items() if k not in ("invoice_id", "metadata", "idempotency_key")}
    if field in preview_arguments or field in ("end",):
        with pytest.raises(ValidationError):
            billing.invoices.preview(**preview_arguments)  # type: ignore[arg-type]


def test_racing_issuers_take_gapless_numbers(billing: Billing) -> None:
    customers = [f"c{n}" for n in range(12)]
    for customer in customers:
        _use(billing, customer)
        billing.invoices.create(customer, start=JAN, end=FEB, invoice_id=customer, at=FEB)
    failures: list[BaseException] = []

    def issue(names: list[str]) -> None:
        try:
            for name in names:
                billing.invoices.issue(name, at=FEB + HOUR)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=issue, args=(customers[n::3],)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    numbers = sorted(billing.invoices.get(c).number or "" for c in customers)
    assert numbers == [f"INV-{n:04d}" for n in range(1, 13)]

"""Documented cases of the anchors (research/billing.md) that need a ``Billing`` over a ledger,
ported and named after their source, on every adapter (the ``ledger`` fixture); where
creditcore deliberately differs, the test asserts creditcore's behaviour and says what the
anchor does. The pure cases are in ``tests/billing/test_billing_ported.py``.

- Hanzo commerce: ``test/api/billing/billing_test.go`` (v1.33.0 = 359cb57e0c6a, the seed's
  version: Meter Events, Invoice Preview, Existing Billing Endpoints),
  ``api/billing/usage_idempotency_test.go``, ``api/billing/refund_h1_test.go``,
  ``billing/engine/discount_test.go``, ``models/billinginvoice/billinginvoice.go``,
  ``models/creditgrant/creditgrant.go`` and ``api/billing/deposit.go`` (HEAD 6624f3347b4a where
  named so).
- Lago (1b1c24a6a6c3): ``spec/scenarios/invoices/invoicing_with_prepaid_credits_spec.rb``,
  ``spec/scenarios/invoices/negative_total_with_prepaid_credits_spec.rb``,
  ``spec/services/credits/applied_prepaid_credits_service_spec.rb`` and the charge models of
  ``spec/services/charge_models/*_service_spec.rb`` priced on an invoice.
- OpenMeter (7e57a394a028): ``openmeter/streaming/clickhouse/meter_query.go`` (half-open
  window, ``argMax``, ``uniqExact``, ``WindowTimeZone``) and ``docs/event-ingestion.md``.
- Orb (docs): increments with ``invoice_settings``, top-ups, credit balance alerts, deleting a
  purchased block.
- Stripe (docs): billing meters (event identifiers, timestamps), credit grants on invoices.
"""

# Results are Decimals compared with the ints they equal (Decimal(5) == 5), as a reader writes them.
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import (
    Conflict,
    IdempotencyConflict,
    InvalidState,
    Ledger,
    NotFound,
    ValidationError,
)
from creditcore.billing import Billing, InvoiceSettings, MeterEvent, Tier

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
JAN, FEB, MAR = T0, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
FAR = T0 + 2000 * DAY


@pytest.fixture
def billing(ledger: Ledger) -> Billing:
    ledger.define_unit("usd", 2)
    ledger.define_unit("eur", 2)
    return Billing(ledger)


def _everything(billing: Billing, *customers: str) -> tuple[object, ...]:
    """All a call could write for ``customers``: to prove that it wrote nothing."""
    ledger = billing.ledger
    return (
        tuple(ledger.entries(limit=10_000).items),
        [ledger.balances(c, at=FAR) for c in customers],
        [tuple(ledger.blocks(c, unit=u, include_inactive=True, at=FAR)) for c in customers for u in ("usd", "eur")],
        [billing.usage.list(c, limit=1000).items for c in customers],
        billing.invoices.list(limit=1000).items,
        tuple(ledger.events(limit=10_000).items),
        [billing.meters.summary(m.id, start=T0 - 100 * DAY, end=FAR, at=FAR) for m in billing.meters.list()],
    )


def _tokens(billing: Billing, unit_price: str = "0.01", unit: str = "usd") -> None:
    """Hanzo's "Input Tokens" meter (sum, dimensions model and region) priced per unit."""
    billing.meters.create("Input Tokens", "input_tokens", meter_id="t", dimensions=("model", "region"), at=T0)
    billing.prices.create("t", unit=unit, unit_price=unit_price, at=T0)


def _issue(billing: Billing, customer: str, start: datetime, end: datetime, at: datetime, **options: object):  # type: ignore[no-untyped-def]
    draft = billing.invoices.create(customer, start=start, end=end, at=at, **options)  # type: ignore[arg-type]
    return billing.invoices.issue(draft.id, at=at).invoice


# == Hanzo commerce: usage =========================================================================


def test_hanzo_record_usage_idempotent_no_double_debit(billing: Billing) -> None:
    """api/billing/usage_idempotency_test.go TestRecordUsage_Idempotent_NoDoubleDebit (HEAD):
    $10.00 seeded, a $1.00 spend sent twice with the request id "req-abc-123": one debit,
    9.00 left, one usage record."""
    ledger = billing.ledger
    ledger.grant("usage-idem-org/alice", "10.00", unit="usd", at=T0)
    first = billing.usage.record("usage-idem-org/alice", amount="1.00", unit="usd", request_id="req-abc-123", at=T0)
    retry = billing.usage.record(
        "usage-idem-org/alice", amount="1.00", unit="usd", request_id="req-abc-123", at=T0 + HOUR
    )
    assert (retry.replayed, retry.op_id, retry.entries) == (True, first.op_id, first.entries)
    assert ledger.balance("usage-idem-org/alice", unit="usd", at=T0 + HOUR).available == D("9.00")
    assert len(billing.usage.list("usage-idem-org/alice").items) == 1
    # Hanzo's guard replays whatever the retry carries; creditcore compares the arguments: another
    # amount under the same request id is refused, and nothing is debited
    with pytest.raises(IdempotencyConflict) as conflict:
        billing.usage.record("usage-idem-org/alice", amount="2.00", unit="usd", request_id="req-abc-123", at=T0 + HOUR)
    assert conflict.value.field == "amount"
    assert ledger.balance("usage-idem-org/alice", unit="usd", at=T0 + HOUR).available == D("9.00")


def test_hanzo_should_skip_zero_cost_usage(billing: Billing) -> None:
    """billing_test.go "Should skip zero-cost usage" (v1.33.0): amount 0 -> status "skipped";
    here also nothing written and no request id kept."""
    billing.ledger.grant("hanzo/bob", "10.00", unit="usd", at=T0)
    before = _everything(billing, "hanzo/bob")
    done = billing.usage.record("hanzo/bob", amount=0, unit="usd", request_id="req-zero", at=T0 + HOUR)
    assert (done.status, done.op_id, done.charged) == ("skipped", None, 0)
    assert _everything(billing, "hanzo/bob") == before
    assert billing.usage.record("hanzo/bob", amount=1, unit="usd", request_id="req-zero", at=T0 + HOUR).status == (
        "recorded"
    )


def test_hanzo_should_record_usage_without_a_balance_check(billing: Billing) -> None:
    """billing_test.go "Should record usage via POST /billing/usage" and usage.go (v1.33.0): a
    withdraw with the call's metadata, and no balance check ("the API call already happened and
    must be recorded"): creditcore's default ``overdraft="debt"`` records the shortfall as debt.

    Deliberate difference: Hanzo also writes, asynchronously, a meter event on the meter whose
    eventName is "api-usage"; creditcore's priced usage writes no event (a meter is charged one
    way, B4): the meter's summary stays empty."""
    billing.meters.create("API usage", "api-usage", meter_id="api", at=T0)
    meta = {"model": "gpt-4", "provider": "openai", "promptTokens": "100", "completionTokens": "50"}
    done = billing.usage.record(
        "hanzo/bob", amount="0.25", unit="usd", request_id="req-test-1", metadata=meta, at=T0 + HOUR
    )
    assert (done.status, done.charged, done.burned, done.debt) == ("recorded", D("0.25"), 0, D("0.25"))
    assert [e.kind for e in done.entries] == ["debt"]  # no credit at all: all of it is debt
    [record] = billing.usage.list("hanzo/bob").items
    assert (record.op_id, record.request_id, dict(record.metadata)) == (done.op_id, "req-test-1", meta)
    assert billing.ledger.balance("hanzo/bob", unit="usd", at=T0 + HOUR).debt == D("0.25")
    summary = billing.meters.summary("api", start=T0, end=T0 + DAY, at=T0 + DAY)
    assert (summary.value, summary.event_count) == (0, 0)


# == Hanzo commerce: meter events ==================================================================


def test_hanzo_should_record_a_single_event_and_batch_events(billing: Billing) -> None:
    """billing_test.go "Should record a single event" (1500 with model gpt-4: status "created",
    an id) and "Should record batch events" (500 and 1000: count 2)."""
    _tokens(billing)
    one = billing.meters.record([MeterEvent("t", "hanzo/alice", 1500, dimensions={"model": "gpt-4"})], at=T0)
    [status] = one.results
    assert (status.status, one.created, one.duplicates) == ("created", 1, 0)
    assert status.event_id.startswith("evt_")
    batch = billing.meters.record([MeterEvent("t", "hanzo/alice", 500), MeterEvent("t", "hanzo/alice", 1000)], at=T0)
    assert [s.status for s in batch.results] == ["created", "created"] and batch.created == 2
    assert len({s.event_id for s in (*one.results, *batch.results)}) == 3
    summary = billing.meters.summary("t", customer="hanzo/alice", start=T0, end=T0 + HOUR, at=T0)
    assert (summary.value, summary.event_count) == (3000, 3)
    gpt4 = billing.meters.summary("t", start=T0, end=T0 + HOUR, dimensions={"model": "gpt-4"}, at=T0)
    assert (gpt4.value, gpt4.event_count) == (1500, 1)


def test_hanzo_should_deduplicate_events_by_idempotency_key(billing: Billing) -> None:
    """billing_test.go "Should deduplicate events by idempotency key": the same batch twice,
    the second "duplicate".

    Deliberate difference: Hanzo's lookup answers "duplicate" for any event with a known key,
    whatever its payload, across all meters; creditcore's event ids match only the same event
    (an omitted timestamp is not compared) and refuse another one naming the field."""
    _tokens(billing)
    billing.meters.create("Output Tokens", "output_tokens", meter_id="o", at=T0)
    event = MeterEvent("t", "hanzo/alice", 999, event_id="dedup-key-1", timestamp=T0)
    assert billing.meters.record([event], at=T0).results[0].status == "created"
    again = billing.meters.record([event], at=T0 + HOUR)
    assert ([s.status for s in again.results], again.created, again.duplicates) == (["duplicate"], 0, 1)
    retry = MeterEvent("t", "hanzo/alice", 999, event_id="dedup-key-1")  # no timestamp: a retry matches
    assert billing.meters.record([retry], at=T0 + 2 * HOUR).results[0].status == "duplicate"
    before = _everything(billing, "hanzo/alice")
    for other, field in [
        (MeterEvent("t", "hanzo/alice", 1000, event_id="dedup-key-1"), "value"),
        (MeterEvent("o", "hanzo/alice", 999, event_id="dedup-key-1"), "meter_id"),
        (MeterEvent("t", "hanzo/bob", 999, event_id="dedup-key-1"), "customer"),
    ]:
        with pytest.raises(IdempotencyConflict) as conflict:
            billing.meters.record([MeterEvent("t", "hanzo/alice", 1), other], at=T0 + 2 * HOUR)
        assert conflict.value.field == field
    assert _everything(billing, "hanzo/alice") == before  # the batches were refused whole
    summary = billing.meters.summary("t", start=T0, end=T0 + DAY, at=T0 + DAY)
    assert (summary.value, summary.event_count) == (999, 1)


def test_hanzo_meter_events_bad_batches_write_nothing(billing: Billing) -> None:
    """billing_test.go "Should fail with empty events array", "... when meterId is missing",
    "... when userId is missing"; meter_events.go's cap of 100 events a batch.

    Deliberate differences: Hanzo validates while looping, so the events before a bad one are
    written, and never checks that the meter exists; creditcore checks the whole batch first
    (all or nothing) and refuses an unknown meter with ``NotFound``."""
    _tokens(billing)
    good = MeterEvent("t", "hanzo/alice", 100)
    before = _everything(billing, "hanzo/alice")
    cases: list[tuple[list[MeterEvent], type[Exception], str | None]] = [
        ([], ValidationError, "events"),
        ([good] * 101, ValidationError, "events"),
        ([good, MeterEvent(None, "hanzo/alice", 100)], ValidationError, "meter_id"),  # type: ignore[arg-type]
        ([good, MeterEvent("t", None, 100)], ValidationError, "customer"),  # type: ignore[arg-type]
        ([good, good, MeterEvent("t", "hanzo/alice", -1)], ValidationError, "value"),
        ([good, MeterEvent("nope", "hanzo/alice", 1)], NotFound, None),
    ]
    for events, error, field in cases:
        with pytest.raises(error) as refused:
            billing.meters.record(events, at=T0)
        if field is not None:
            assert refused.value.field == field  # type: ignore[attr-defined]
        assert _everything(billing, "hanzo/alice") == before
    assert billing.meters.record([good] * 100, at=T0).created == 100


def test_hanzo_should_get_aggregated_summary_sum(billing: Billing) -> None:
    """billing_test.go "Should get aggregated summary (sum)": 1500 + 500 + 1000 + 999 = 3999 over
    4 events; "Should return 404 for summary with bad meterId".

    Deliberate difference: Hanzo's summary is closed (``timestamp <= end``); creditcore's is
    half-open, so an event at ``end`` belongs to the next span."""
    _tokens(billing)
    values = [1500, 500, 1000, 999]
    billing.meters.record(
        [MeterEvent("t", "hanzo/alice", v, timestamp=T0 + n * HOUR) for n, v in enumerate(values)], at=T0 + DAY
    )
    billing.meters.record([MeterEvent("t", "hanzo/alice", 7, timestamp=T0 + DAY)], at=T0 + DAY)  # at the end
    billing.meters.record([MeterEvent("t", "hanzo/bob", 5, timestamp=T0)], at=T0 + DAY)  # another user
    summary = billing.meters.summary("t", customer="hanzo/alice", start=T0, end=T0 + DAY, at=T0 + DAY)
    assert (summary.meter_id, summary.aggregation, summary.value, summary.event_count) == ("t", "sum", 3999, 4)
    assert billing.meters.summary("t", start=T0, end=T0 + DAY, at=T0 + DAY).value == 4004  # every user
    with pytest.raises(NotFound):
        billing.meters.summary("bad-id", start=T0, end=T0 + DAY, at=T0 + DAY)


def test_hanzo_date_period_end_means_the_same_in_summary_and_preview(billing: Billing) -> None:
    """Hanzo adds 24 h to a date-only ``periodEnd`` in GetMeterEventsSummary but not in
    InvoicePreview, so the two disagree on the last day. Deliberate difference: in creditcore a
    ``date`` is 00:00 local in the customer's zone everywhere (B1), so both leave the last day's
    events to the next period."""
    _tokens(billing)
    billing.meters.record(
        [
            MeterEvent("t", "hanzo/alice", 100, timestamp=datetime(2026, 1, 30, 12, tzinfo=UTC)),
            MeterEvent("t", "hanzo/alice", 50, timestamp=datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ],
        at=FEB,
    )
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    summary = billing.meters.summary("t", customer="hanzo/alice", start=start, end=end, at=FEB)  # type: ignore[arg-type]
    preview = billing.invoices.preview("hanzo/alice", start=start, end=end, at=FEB)  # type: ignore[arg-type]
    assert summary.end == preview.end == datetime(2026, 1, 31, tzinfo=UTC)
    assert summary.value == preview.lines[0].quantity == 100


# == Hanzo commerce: invoice preview ===============================================================


def test_hanzo_should_calculate_invoice_preview_with_usage_and_credits_and_write_nothing(billing: Billing) -> None:
    """billing_test.go "Should calculate invoice preview with usage and credits": lines from the
    meter events priced per unit, credits applied, ``subtotal == creditApplied + amountDue``.

    Deliberate difference: Hanzo's POST invoice-preview calls BurnCredits, so a preview consumes
    the grants (a second preview finds them gone); creditcore's preview writes nothing (B6):
    everything reads the same after it, a second preview is identical, and only the issue burns
    what the preview showed."""
    _tokens(billing)
    ledger = billing.ledger
    starter = ledger.grant("hanzo/alice", "2.00", unit="usd", priority=0, at=T0).block
    billing.meters.record(
        [MeterEvent("t", "hanzo/alice", v, timestamp=T0 + HOUR) for v in (150, 50, 100)], at=T0 + HOUR
    )
    before = _everything(billing, "hanzo/alice")
    preview = billing.invoices.preview("hanzo/alice", start=JAN, end=FEB, at=FEB)
    assert _everything(billing, "hanzo/alice") == before
    assert billing.invoices.preview("hanzo/alice", start=JAN, end=FEB, at=FEB) == preview
    assert [(line.meter_id, line.quantity, line.amount) for line in preview.lines] == [("t", 300, D("3.00"))]
    assert (preview.unit, preview.subtotal, preview.credit_applied, preview.amount_due) == (
        "usd", D("3.00"), D("2.00"), D("1.00"),
    )  # fmt: skip
    assert preview.subtotal == preview.credit_applied + preview.amount_due
    assert preview.credit_allocations == (((starter.id, D("2.00")),),)
    assert all(line.burn_op_id is None for line in preview.lines)
    issued = _issue(billing, "hanzo/alice", JAN, FEB, FEB)
    assert (issued.credit_applied, issued.amount_due) == (preview.credit_applied, preview.amount_due)
    assert ledger.balance("hanzo/alice", unit="usd", at=FEB).available == 0


def test_hanzo_should_return_empty_preview_for_user_with_no_usage(billing: Billing) -> None:
    """billing_test.go "Should return empty preview for user with no usage": subtotal, credit
    applied and amount due 0. (Hanzo hard-codes "usd"; creditcore takes the prices' one unit.)"""
    _tokens(billing)
    billing.ledger.grant("hanzo/nobody", 5, unit="usd", at=T0)
    preview = billing.invoices.preview("hanzo/nobody", start=JAN, end=FEB, at=FEB)
    assert (preview.unit, preview.lines, preview.subtotal, preview.credit_applied, preview.amount_due) == (
        "usd", (), 0, 0, 0,
    )  # fmt: skip


def test_hanzo_credit_grant_eligibility_on_invoice_lines_and_usage(billing: Billing) -> None:
    """models/creditgrant: a grant's ``Eligibility`` (meter ids; empty = every meter) limits the
    meters it pays for. creditcore writes it as the scope ``meter:<id>``; each invoice line burns
    with its meter's scope, so a calls-only grant pays no tokens.

    Deliberate difference: Hanzo's ``BurnCredits(user, amount, "")`` skips the eligibility check,
    so a restricted grant pays for anything; creditcore's burn without a scope uses unscoped
    credit only (B10)."""
    _tokens(billing)
    billing.meters.create("Calls", "calls", meter_id="c", aggregation="count", at=T0)
    billing.prices.create("c", unit="usd", unit_price="0.50", at=T0)
    ledger = billing.ledger
    calls_only = ledger.grant("hanzo/alice", "3.00", unit="usd", scope="meter:c", priority=0, at=T0).block
    anything = ledger.grant("hanzo/alice", "1.00", unit="usd", at=T0).block
    spent = billing.usage.record("hanzo/alice", amount="5.00", unit="usd", overdraft="partial", at=T0 + HOUR)
    assert (spent.burned, spent.shortfall) == (D("1.00"), D("4.00"))  # the calls-only grant is untouched
    assert ledger.get_block(anything.id, at=T0 + HOUR).available == 0
    billing.meters.record(
        [MeterEvent("t", "hanzo/alice", 200, timestamp=T0 + HOUR)]
        + [MeterEvent("c", "hanzo/alice", timestamp=T0 + HOUR) for _ in range(4)],
        at=T0 + 2 * HOUR,
    )
    invoice = _issue(billing, "hanzo/alice", JAN, FEB, FEB)
    assert [(line.meter_id, line.amount, line.credit_applied) for line in invoice.lines] == [
        ("t", D("2.00"), 0),
        ("c", D("2.00"), D("2.00")),
    ]
    assert ledger.get_block(calls_only.id, at=FEB).available == D("1.00")


# == Hanzo commerce: refunds =======================================================================


def test_hanzo_refund_of_a_charge(billing: Billing) -> None:
    """refund_h1_test.go's seeded charge (1000 cents) refunded in part (400); billing_test.go
    "Should create a refund": a refund linked to the original. In creditcore the charge is a
    usage burn and the refund ``ledger.refund(op_id, amount)`` (B10): a fresh block with
    ``refund_of`` the burn, for the burn's customer in its unit.

    Deliberate difference: billing_test.go v1.33.0 refunds a *deposit*; creditcore refuses a
    refund of anything but a burn or capture (as Hanzo HEAD's TestRefund_NotACharge_400)."""
    ledger = billing.ledger
    deposit = ledger.grant("h1r/alice", "20.00", unit="usd", category="paid", at=T0)
    charge = billing.usage.record("h1r/alice", amount="10.00", unit="usd", request_id="orig", at=T0 + HOUR)
    assert charge.op_id is not None
    refund = ledger.refund(charge.op_id, "4.00", description="Partial refund", at=T0 + 2 * HOUR)
    block = refund.block
    assert (block.customer, block.unit, block.amount, block.refund_of, block.source) == (
        "h1r/alice", "usd", D("4.00"), charge.op_id, "refund",
    )  # fmt: skip
    assert ledger.balance("h1r/alice", unit="usd", at=T0 + 2 * HOUR).available == D("14.00")
    with pytest.raises(ValidationError) as refused:
        ledger.refund(deposit.op_id, "1.00", at=T0 + 2 * HOUR)
    assert refused.value.field == "op_id"


def test_hanzo_refund_h1_guards(billing: Billing) -> None:
    """refund_h1_test.go (HEAD): TestRefund_MissingOriginal_404 -> ``NotFound``;
    TestRefund_OverOriginalAmount_400 (1500 of 1000) -> ``ValidationError("amount")``;
    TestRefund_NotACharge_400 -> ``ValidationError("op_id")``. TestRefund_WrongSubject_400 and
    TestRefund_CurrencyMismatch_400 cannot arise: a refund names no customer or unit, it goes to
    the op's."""
    ledger = billing.ledger
    deposit = ledger.grant("h1r/alice", "20.00", unit="usd", at=T0)
    charge = billing.usage.record("h1r/alice", amount="10.00", unit="usd", at=T0 + HOUR)
    assert charge.op_id is not None
    before = _everything(billing, "h1r/alice")
    with pytest.raises(NotFound):
        ledger.refund("does-not-exist", "1.00", at=T0 + 2 * HOUR)
    with pytest.raises(ValidationError) as over:
        ledger.refund(charge.op_id, "15.00", at=T0 + 2 * HOUR)
    assert over.value.field == "amount"
    with pytest.raises(ValidationError) as not_a_charge:
        ledger.refund(deposit.op_id, "1.00", at=T0 + 2 * HOUR)
    assert not_a_charge.value.field == "op_id"
    assert _everything(billing, "h1r/alice") == before


def test_hanzo_refund_idempotent_one_refund_per_original(billing: Billing) -> None:
    """refund_h1_test.go TestRefund_Idempotent_OneRefundPerOriginal: 400 refunded, then a second
    refund of 200 of the same original replays the first (same transaction, one refund).

    Deliberate difference: creditcore allows several partial refunds of one op up to what it
    took (SPEC §16); a retry is recognised by its ``idempotency_key``, and the same key with
    another amount is an ``IdempotencyConflict``."""
    ledger = billing.ledger
    ledger.grant("h1r/alice", "20.00", unit="usd", at=T0)
    charge = billing.usage.record("h1r/alice", amount="10.00", unit="usd", at=T0 + HOUR)
    assert charge.op_id is not None
    first = ledger.refund(charge.op_id, "4.00", idempotency_key="refund-1", at=T0 + 2 * HOUR)
    replay = ledger.refund(charge.op_id, "4.00", idempotency_key="refund-1", at=T0 + 3 * HOUR)
    assert (replay.replayed, replay.op_id, replay.block.id) == (True, first.op_id, first.block.id)
    with pytest.raises(IdempotencyConflict):
        ledger.refund(charge.op_id, "2.00", idempotency_key="refund-1", at=T0 + 3 * HOUR)
    second = ledger.refund(charge.op_id, "2.00", idempotency_key="refund-2", at=T0 + 3 * HOUR)
    assert not second.replayed and second.block.id != first.block.id  # Hanzo would replay the first
    with pytest.raises(ValidationError) as over:
        ledger.refund(charge.op_id, "4.01", at=T0 + 3 * HOUR)  # 4.00 is left to refund
    assert over.value.field == "amount"
    refunds = [
        b for b in ledger.blocks("h1r/alice", unit="usd", include_inactive=True, at=FAR) if b.refund_of == charge.op_id
    ]
    assert sorted(b.amount for b in refunds) == [D("2.00"), D("4.00")]


# == Hanzo commerce: starter credit, invoices, discounts ===========================================


def test_hanzo_should_grant_starter_credit(billing: Billing) -> None:
    """billing_test.go "Should grant starter credit" and deposit.go (v1.33.0): 500 cents usd
    tagged "starter-credit", expiring 30 days later, metadata {creditType: starter}.

    Deliberate differences: Hanzo grants another $5 on every call, creditcore once per customer
    (the same call replays); Hanzo's grant is still active at its expiry instant (``now <=
    expiresAt``), creditcore's end is exclusive; HEAD's 365-day lifetime is ``lifetime=``."""
    ledger = billing.ledger
    first = billing.grant_starter_credit("hanzo/charlie", at=T0)
    block = first.block
    assert (block.amount, block.unit, block.category, block.expires_at) == (
        D("5.00"), "usd", "promotional", T0 + 30 * DAY,
    )  # fmt: skip
    assert (block.metadata["tag"], block.metadata["credit_type"]) == ("starter-credit", "starter")
    again = billing.grant_starter_credit("hanzo/charlie", at=T0 + DAY)
    assert (again.replayed, again.block.id) == (True, block.id)
    assert ledger.balance("hanzo/charlie", unit="usd", at=T0 + DAY).available == D("5.00")  # not 10.00
    assert ledger.balance("hanzo/charlie", unit="usd", at=T0 + 30 * DAY - timedelta(seconds=1)).available == 5
    assert ledger.balance("hanzo/charlie", unit="usd", at=T0 + 30 * DAY).available == 0  # Hanzo: still 5.00
    year = billing.grant_starter_credit("hanzo/dora", lifetime="365 days", at=T0).block
    assert year.expires_at == T0 + 365 * DAY


def test_hanzo_billing_invoice_states_and_numbers(billing: Billing) -> None:
    """models/billinginvoice/billinginvoice.go (HEAD): ``draft -> open -> paid | void``;
    Finalize only from draft; MarkPaid only from open; MarkVoid from draft or open; numbers
    ``INV-%04d``; ``AmountDue = max(Subtotal + Tax - Discount - CreditApplied, 0)``.

    creditcore's ``issued`` is Hanzo's ``open``; ``uncollectible`` has no counterpart; the
    number is taken at issue (a draft has none); credit never exceeds the total, so the amount
    due is never negative without a clamp."""
    _tokens(billing)
    ledger = billing.ledger
    for who in ("a", "b", "c"):
        billing.meters.record([MeterEvent("t", who, 500, timestamp=T0 + HOUR)], at=T0 + HOUR)
        billing.invoices.create(who, start=JAN, end=FEB, invoice_id=who, at=FEB)
    ledger.grant("c", "99.00", unit="usd", at=T0)
    assert billing.invoices.get("a").number is None
    with pytest.raises(InvalidState) as refused:
        billing.invoices.pay("a", at=FEB)  # MarkPaid only from open
    assert refused.value.status == "draft"
    a = billing.invoices.issue("a", at=FEB).invoice
    assert (a.number, a.status, a.amount_due) == ("INV-0001", "issued", D("5.00"))
    with pytest.raises(InvalidState):
        billing.invoices.issue("a", at=FEB)  # Finalize only from draft
    assert billing.invoices.void("b", at=FEB).status == "void"  # MarkVoid from draft
    c = billing.invoices.issue("c", at=FEB).invoice
    assert (c.number, c.status, c.credit_applied, c.amount_due) == ("INV-0002", "paid", D("5.00"), 0)
    assert billing.invoices.pay("a", reference="pi_1", at=FEB + HOUR).status == "paid"
    with pytest.raises(InvalidState):
        billing.invoices.void("a", at=FEB + HOUR)
    billing.meters.record([MeterEvent("t", "d", 100, timestamp=T0 + HOUR)], at=FEB)
    d = _issue(billing, "d", JAN, FEB, FEB + HOUR)
    assert billing.invoices.void(d.id, at=FEB + 2 * HOUR).number == "INV-0003"  # MarkVoid from open; kept


def test_hanzo_discount_cents_charge_equals_invoice(billing: Billing) -> None:
    """billing/engine/discount_test.go TestDiscountCents_ChargeEqualsInvoice: the same percent
    gives the same discount on a charge and on an invoice ("rounds the fractional cent to the
    customer": 33% of 10.01 -> 3.30)."""
    _tokens(billing)
    for who in ("by-charge", "by-invoice"):
        billing.vouchers.create(who, 33, at=T0)
    charged = billing.charge("by-charge", "10.01", unit="usd", at=T0 + HOUR)
    billing.meters.record([MeterEvent("t", "by-invoice", 1001, timestamp=T0 + HOUR)], at=T0 + HOUR)
    invoiced = _issue(billing, "by-invoice", JAN, FEB, FEB)
    assert charged.discount == invoiced.discount == D("3.30")
    assert charged.amount_due == invoiced.amount_due == D("6.71")


# == Lago: prepaid credits on invoices =============================================================


def test_lago_invoicing_with_prepaid_credits_with_limitations(billing: Billing) -> None:
    """spec/scenarios/invoices/invoicing_with_prepaid_credits_spec.rb "invoices a customer with
    prepaid credits": a 39.00 wallet limited to the metrics count_1 and count_2, 24% tax on
    their charges (14.29 and 14.27). An event of another metric: no credit applied; count_1:
    17.72 after tax, all paid by credit, 21.28 left; count_2: 17.69, 3.59 left.

    Lago's invoices are pay-in-advance, one per event; here one period invoice per day. The
    wallet's ``applies_to.billable_metric_codes`` is the scope ``{meter:count_1, meter:count_2}``.
    Lago taxes per charge (the other metric has none); creditcore's rate is per invoice, so the
    other metric's invoice has no tax rate."""
    ledger = billing.ledger
    for code, price in [("count_1", "14.29"), ("count_2", "14.27"), ("other", "10")]:
        billing.meters.create(code, code, meter_id=code, aggregation="count", at=T0)
        billing.prices.create(code, unit="eur", unit_price=price, at=T0)
    wallet = ledger.grant("lago", "39.00", unit="eur", scope={"meter:count_1", "meter:count_2"}, at=T0).block
    days = [T0 + n * DAY for n in range(4)]
    billing.meters.record([MeterEvent("other", "lago", timestamp=days[0] + HOUR)], at=days[0] + HOUR)
    first = _issue(billing, "lago", days[0], days[1], days[1])
    assert (first.total, first.credit_applied, first.amount_due) == (D("10.00"), 0, D("10.00"))
    for n, (code, total, left) in enumerate([("count_1", "17.72", "21.28"), ("count_2", "17.69", "3.59")], start=1):
        billing.meters.record([MeterEvent(code, "lago", timestamp=days[n] + HOUR)], at=days[n] + HOUR)
        invoice = _issue(billing, "lago", days[n], days[n + 1], days[n + 1], tax_rate=24)
        assert (invoice.total, invoice.credit_applied, invoice.amount_due, invoice.status) == (
            D(total), D(total), 0, "paid",
        )  # fmt: skip
        assert ledger.get_block(wallet.id, at=days[n + 1]).available == D(left)


@pytest.mark.parametrize(
    ("fees", "lago", "ours"),
    [
        # 6 fees of 0.004 and 2 of 0.01: Lago 0.02 + tax 0.01 = 0.03 (wallet 99.97)
        ([("small", "0.004", 6), ("large", "0.01", 2)], "0.03", "0.02"),
        # 8 fees of 0.014: Lago 0.08 + tax 0.03 = 0.11 (wallet 99.89)
        ([("metric", "0.014", 8)], "0.11", "0.08"),
    ],
    ids=["mixed-zero-and-non-zero-fees", "identical-fractional-fees"],
)
def test_lago_negative_total_with_prepaid_credits_caps_credit_at_the_total(
    billing: Billing, fees: list[tuple[str, str, int]], lago: str, ours: str
) -> None:
    """spec/scenarios/invoices/negative_total_with_prepaid_credits_spec.rb: fees with fractional
    amounts and 40% tax, a 100 wallet; the credit applied is capped at the rounded invoice total,
    which never goes negative; nothing is due.

    Deliberate difference: Lago taxes each fee's precise amount and rounds the invoice's tax (a
    cent more); creditcore rounds each line once and taxes the rounded line (B3, B6), so the
    lines of 0.004 cost 0.00 and the taxes 0.00: the total is ``ours``, not Lago's ``lago``."""
    ledger = billing.ledger
    events = []
    for name, price, count in fees:
        for n in range(1, count + 1):
            code = f"{name}_metric_{n}"
            billing.meters.create(code, code, meter_id=code, aggregation="count", at=T0)
            billing.prices.create(code, unit="eur", unit_price=price, at=T0)
            events.append(MeterEvent(code, "lago", timestamp=T0 + HOUR))
    wallet = ledger.grant("lago", 100, unit="eur", at=T0).block
    billing.meters.record(events, at=T0 + HOUR)
    invoice = _issue(billing, "lago", JAN, FEB, FEB, tax_rate=40)
    assert len(invoice.lines) == sum(count for _, _, count in fees)  # a line of 0.00 is kept: it has usage
    assert (invoice.tax, invoice.total, invoice.credit_applied, invoice.amount_due) == (0, D(ours), D(ours), 0)
    assert invoice.credit_applied <= invoice.total and invoice.status == "paid"
    assert ledger.get_block(wallet.id, at=FEB).available == 100 - D(ours)


def _lago_wallets(billing: Billing, order: list[str]) -> dict[str, str]:
    """Lago's wallets of 10.00 (applied_prepaid_credits_service_spec.rb), made in ``order``:
    priority 49 for the "priority" ones (else Lago's default 50); ``allowed_fee_types: charge``
    and a billable-metric target are the scope of the charge's meter ``bm``, ``subscription``
    the scope of the meter ``sub`` that stands for the subscription fee."""
    scopes = {"charge": "meter:bm", "bm": "meter:bm", "subscription": "meter:sub"}
    made = {}
    for name in order:
        words = name.split("_")
        scope = next((scopes[w] for w in words if w in scopes), None)
        priority = 49 if "priority" in words else 50
        made[name] = billing.ledger.grant("lago", "10.00", unit="eur", scope=scope, priority=priority, at=T0).block.id
    return made


def test_lago_applied_prepaid_credits_priority_wallet_less_than_invoice(billing: Billing) -> None:
    """applied_prepaid_credits_service_spec.rb "when priority wallet credits are less than invoice
    amount": a charge fee of 15.00 and six wallets of 10.00; 15.00 applied from the two priority
    wallets that may pay a charge, the others untouched.

    Deliberate difference in the order between them: Lago takes priority then creation (the
    unlimited "priority" wallet pays 10.00, "priority limited charge" 5.00); creditcore's burn
    order puts a scoped block before an unscoped one of the same priority (SPEC §5), so the
    charge-only wallet pays 10.00 and the unlimited one 5.00."""
    billing.meters.create("bm", "bm", meter_id="bm", aggregation="count", at=T0)
    billing.prices.create("bm", unit="eur", unit_price=15, at=T0)
    wallets = _lago_wallets(
        billing,
        ["normal", "priority", "limited_charge", "priority_limited_charge", "limited_subscription",
         "priority_limited_subscription"],
    )  # fmt: skip
    billing.meters.record([MeterEvent("bm", "lago", timestamp=T0 + HOUR)], at=T0 + HOUR)
    invoice = _issue(billing, "lago", JAN, FEB, FEB)
    assert (invoice.credit_applied, invoice.amount_due) == (D("15.00"), 0)
    left = {name: billing.ledger.get_block(block_id, at=FEB).available for name, block_id in wallets.items()}
    assert left == {
        "normal": 10, "priority": D("5.00"), "limited_charge": 10, "priority_limited_charge": 0,
        "limited_subscription": 10, "priority_limited_subscription": 10,
    }  # fmt: skip


def test_lago_applied_prepaid_credits_with_billable_metric_limitations(billing: Billing) -> None:
    """applied_prepaid_credits_service_spec.rb "with billable metric limitations": a
    subscription fee of 0.60 and a charge fee of 0.40 on a billable metric, 10% tax (0.06, 0.04),
    eight wallets of 10.00; "priority limited subscription" pays 0.66 (9.34 left) and "priority
    limited bm wallet" 0.44 (9.56 left), the others untouched. Line by line in creditcore, with
    the same result: the scoped priority wallets come first, the bm one made before the charge
    one."""
    billing.meters.create("subscription", "sub", meter_id="sub", aggregation="count", at=T0)
    billing.prices.create("sub", unit="eur", unit_price="0.60", at=T0)
    billing.meters.create("bm", "bm", meter_id="bm", aggregation="count", at=T0)
    billing.prices.create("bm", unit="eur", unit_price="0.40", at=T0)
    wallets = _lago_wallets(
        billing,
        ["normal", "limited_subscription", "priority_limited_subscription", "limited_bm", "priority_limited_bm",
         "priority_limited_charge", "priority", "limited_charge"],
    )  # fmt: skip
    billing.meters.record(
        [MeterEvent("sub", "lago", timestamp=T0 + HOUR), MeterEvent("bm", "lago", timestamp=T0 + HOUR)], at=T0 + HOUR
    )
    invoice = _issue(billing, "lago", JAN, FEB, FEB, tax_rate=10)
    assert [(line.amount, line.tax, line.credit_applied) for line in invoice.lines] == [
        (D("0.60"), D("0.06"), D("0.66")),
        (D("0.40"), D("0.04"), D("0.44")),
    ]
    assert (invoice.credit_applied, invoice.amount_due) == (D("1.10"), 0)
    left = {name: billing.ledger.get_block(block_id, at=FEB).available for name, block_id in wallets.items()}
    assert left == dict.fromkeys(wallets, 10) | {
        "priority_limited_subscription": D("9.34"), "priority_limited_bm": D("9.56"),
    }  # fmt: skip


# == Lago: charge models on an invoice =============================================================


def test_lago_charge_models_priced_on_an_invoice(billing: Billing) -> None:
    """spec/services/charge_models/{graduated,volume,package}_service_spec.rb, on invoice lines:
    graduated 0-10 (10, flat 2), 11-20 (5, flat 3), 21- (5, flat 3) at 21 -> 163; volume 0-100
    (2, flat 10), 101-200 (1), 201- (0.5, flat 50) at 100.5 -> 100.5; package of 10 at 100 with
    10 free units at 121 -> 1200, and at or below the free units -> 0 (a line kept: it has usage).

    Deliberate difference: at 0 units Lago still charges the first tier's flat amount (graduated
    2, volume 10); in creditcore 0 costs 0 and a line without usage or amount is left out."""
    graduated = [Tier(10, 10, flat_fee=2), Tier(20, 5, flat_fee=3), Tier(None, 5, flat_fee=3)]
    volume = [Tier(100, 2, flat_fee=10), Tier(200, 1), Tier(None, "0.5", flat_fee=50)]
    billing.meters.create("graduated", "graduated", meter_id="g", at=T0)
    billing.prices.create("g", model="graduated", unit="eur", tiers=graduated, at=T0)
    billing.meters.create("volume", "volume", meter_id="v", scale=1, at=T0)
    billing.prices.create("v", model="volume", unit="eur", tiers=volume, at=T0)
    billing.meters.create("package", "package", meter_id="p", at=T0)
    billing.prices.create("p", model="package", unit="eur", package_size=10, package_price=100, free_units=10, at=T0)
    at = T0 + HOUR
    billing.meters.record(
        [MeterEvent("g", "lago", 21, timestamp=at), MeterEvent("v", "lago", "100.5", timestamp=at),
         MeterEvent("p", "lago", 121, timestamp=at),
         MeterEvent("g", "zero", 0, timestamp=at), MeterEvent("v", "zero", 0, timestamp=at),
         MeterEvent("p", "zero", 10, timestamp=at)],
        at=at,
    )  # fmt: skip
    invoice = _issue(billing, "lago", JAN, FEB, FEB)
    assert [(line.meter_id, line.quantity, line.amount) for line in invoice.lines] == [
        ("g", 21, D("163.00")),
        ("v", D("100.5"), D("100.50")),
        ("p", 121, D("1200.00")),
    ]
    assert invoice.subtotal == invoice.amount_due == D("1463.50")
    zero = billing.invoices.preview("zero", start=JAN, end=FEB, at=FEB)
    assert [(line.meter_id, line.quantity, line.amount) for line in zero.lines] == [("p", 10, 0)]
    assert zero.total == 0  # Lago: 2 + 10 for the first tiers' flat amounts


# == OpenMeter: meters on storage ==================================================================


def test_openmeter_query_window_half_open_in_the_window_time_zone(billing: Billing) -> None:
    """meter_query.go timeWhere: ``time >= from AND time < to``; windows are cut in a
    ``WindowTimeZone``. A day given as a date is cut in the customer's zone (its profile's, else
    the Billing's), and ``summary.start``/``end`` are the resolved instants."""
    berlin = Billing(billing.ledger, timezone="Europe/Berlin")
    berlin.meters.create("Requests", "requests", meter_id="r", at=T0)
    billing.ledger.set_customer("ny", timezone="America/New_York", at=T0 - DAY)
    start = datetime(2025, 12, 31, 23, tzinfo=UTC)  # 2026-01-01 00:00 in Berlin
    events = [(start - timedelta(seconds=1), 1), (start, 2), (start + 23 * HOUR + timedelta(minutes=59), 4),
              (start + DAY, 8)]  # fmt: skip
    for who in ("om", "ny"):
        berlin.meters.record([MeterEvent("r", who, v, timestamp=t) for t, v in events], at=start + 2 * DAY)
    day = berlin.meters.summary("r", customer="om", start=date(2026, 1, 1), end=date(2026, 1, 2), at=FAR)  # type: ignore[arg-type]
    assert (day.start, day.end, day.value, day.event_count) == (start, start + DAY, 6, 2)
    ny = berlin.meters.summary("r", customer="ny", start=date(2026, 1, 1), end=date(2026, 1, 2), at=FAR)  # type: ignore[arg-type]
    assert ny.start == datetime(2026, 1, 1, 5, tzinfo=UTC)  # midnight in New York
    assert (ny.value, ny.event_count) == (12, 2)


def test_openmeter_event_dedup_is_kept_forever(billing: Billing) -> None:
    """docs/event-ingestion.md: events are deduplicated by ``(id, source)`` for 32 days.
    Deliberate difference: creditcore keeps event ids forever (B2): the same event sent again
    40 days later is still a duplicate and counts once."""
    billing.meters.create("Requests", "requests", meter_id="r", at=T0)
    event = MeterEvent("r", "om", 3, event_id="00001", timestamp=T0)
    assert billing.meters.record([event], at=T0).results[0].status == "created"
    assert billing.meters.record([event], at=T0 + 40 * DAY).results[0].status == "duplicate"
    assert billing.meters.summary("r", start=T0, end=T0 + DAY, at=FAR).event_count == 1


def test_openmeter_latest_is_argmax_by_time_and_unique_count_is_exact(billing: Billing) -> None:
    """meter_query.go: LATEST is ``argMax(value, time)``, UNIQUE_COUNT ``uniqExact`` (creditcore
    counts the ``unique_key``s, case-sensitive). OpenMeter leaves a tie in time open; creditcore
    gives it to the last recorded (B2, B9)."""
    billing.meters.create("Seats", "seats", meter_id="seats", aggregation="latest", at=T0)
    billing.meters.create("Users", "users", meter_id="users", aggregation="unique_count", at=T0)
    t = T0 + HOUR
    billing.meters.record(
        [MeterEvent("seats", "om", 5, timestamp=t + 2 * HOUR), MeterEvent("seats", "om", 9, timestamp=t)], at=t + DAY
    )
    billing.meters.record([MeterEvent("seats", "om", 3, timestamp=t + 2 * HOUR)], at=t + DAY)  # a tie, later
    billing.meters.record(
        [MeterEvent("users", "om", unique_key=k, timestamp=t) for k in ("a", "b", "a", "A")], at=t + DAY
    )
    seats = billing.meters.summary("seats", start=T0, end=T0 + DAY, at=FAR)
    assert (seats.value, seats.event_count) == (3, 3)
    assert billing.meters.summary("seats", start=T0, end=t + 2 * HOUR, at=FAR).value == 9  # the end is excluded
    users = billing.meters.summary("users", start=T0, end=T0 + DAY, at=FAR)
    assert (users.value, users.event_count) == (3, 4)


# == Orb ===========================================================================================


def test_orb_increment_with_invoice_settings(billing: Billing) -> None:
    """Orb's increment entry with ``per_unit_cost_basis`` and ``invoice_settings`` (net_terms,
    memo): a one-off invoice of ``amount x per_unit_cost_basis``, due ``net_terms`` days after
    issue (0: on issue), and the block granted at once (B7). ``auto_collection`` and
    ``invoice_date`` are not kept."""
    done = billing.purchase_credits(
        "orb", 1000, cost_basis="0.10", expires_at=T0 + 365 * DAY,
        invoice_settings=InvoiceSettings(net_terms=30, memo="1000 credits"), at=T0,
    )  # fmt: skip
    invoice = done.invoice
    assert (invoice.kind, invoice.status, invoice.unit, invoice.total, invoice.amount_due) == (
        "purchase", "issued", "usd", D("100.00"), D("100.00"),
    )  # fmt: skip
    assert (invoice.issued_at, invoice.due_at, invoice.memo, invoice.number) == (
        T0, T0 + 30 * DAY, "1000 credits", "INV-0001",
    )  # fmt: skip
    assert done.block is not None
    assert (done.block.amount, done.block.unit, done.block.cost_basis, done.block.category) == (
        1000, "credits", D("0.10"), "paid",
    )  # fmt: skip
    assert dict(done.block.metadata) == {"invoice_id": invoice.id}
    on_issue = billing.purchase_credits("orb", 10, cost_basis=1, at=T0 + HOUR).invoice
    assert on_issue.due_at == on_issue.issued_at == T0 + HOUR


def test_orb_require_successful_payment_and_mark_as_paid(billing: Billing) -> None:
    """Orb: with ``require_successful_payment`` the new block waits (``pending_payment``) until
    its invoice is paid; ``mark_as_paid`` issues the invoice paid. In creditcore the block is
    granted by ``pay``, at its time; until then ``PurchaseResult.block`` is ``None``."""
    ledger = billing.ledger
    gated = billing.purchase_credits(
        "orb", 100, cost_basis="0.50", invoice_settings=InvoiceSettings(require_payment=True), at=T0
    )
    assert gated.block is None and ledger.balance("orb", at=T0 + DAY).available == 0
    billing.invoices.pay(gated.invoice.id, reference="ch_1", at=T0 + DAY)
    assert ledger.balance("orb", at=T0 + DAY).available == 100
    [block] = ledger.blocks("orb", at=T0 + DAY)
    assert (block.effective_at, dict(block.metadata)) == (T0 + DAY, {"invoice_id": gated.invoice.id})
    marked = billing.purchase_credits(
        "orb", 100, cost_basis="0.50", invoice_settings=InvoiceSettings(mark_as_paid=True), at=T0 + DAY
    )
    assert (marked.invoice.status, marked.invoice.paid_at) == ("paid", T0 + DAY)
    assert marked.block is not None and ledger.balance("orb", at=T0 + DAY).available == 200


def test_orb_top_up_at_or_below_the_threshold_fires_after_the_invoice_burn(billing: Billing) -> None:
    """Orb's top-ups fire when the balance is at or below the threshold. An invoice issue that
    burns the credit down to the threshold triggers the top-up after its burn (SPEC §18); the
    top-up does not lower that invoice's amount due (B9).

    Deliberate difference: Orb pauses further top-ups while one is pending payment; creditcore
    grants the top-up at once and emits a ``top_up`` event for the app to charge."""
    _tokens(billing)
    ledger = billing.ledger
    ledger.grant("orb", "15.00", unit="usd", at=T0)
    ledger.set_top_up("orb", unit="usd", threshold=0, amount=20, at=T0)
    billing.meters.record([MeterEvent("t", "orb", 2000, timestamp=T0 + HOUR)], at=T0 + HOUR)  # 20.00
    invoice = _issue(billing, "orb", JAN, FEB, FEB)
    assert (invoice.total, invoice.credit_applied, invoice.amount_due, invoice.status) == (
        D("20.00"), D("15.00"), D("5.00"), "issued",
    )  # fmt: skip
    assert ledger.balance("orb", unit="usd", at=FEB).available == D("20.00")
    [event] = [e for e in ledger.events(customer="orb").items if e.kind == "top_up"]
    assert (event.previous, event.current, event.amount, event.at) == (0, D("20.00"), D("20.00"), FEB)


def test_orb_alerts_depleted_dropped_and_recovered_around_an_invoice(billing: Billing) -> None:
    """Orb's credit balance alerts: ``credit_balance_depleted`` (> 0 to 0),
    ``credit_balance_dropped`` (thresholds) and ``credit_balance_recovered`` (0 to > 0), at most
    one of each kind per customer and currency. An invoice issue that spends the balance fires
    depleted and dropped; voiding it gives the credit back and fires recovered (SPEC §19)."""
    _tokens(billing)
    ledger = billing.ledger
    ledger.grant("orb", "12.00", unit="usd", at=T0)
    for kind, thresholds in [("depleted", ()), ("dropped", (10, 5)), ("recovered", ())]:
        ledger.add_alert("orb", unit="usd", kind=kind, thresholds=thresholds, at=T0)
    with pytest.raises(Conflict):
        ledger.add_alert("orb", unit="usd", kind="depleted", at=T0)  # one of each kind
    billing.meters.record([MeterEvent("t", "orb", 2000, timestamp=T0 + HOUR)], at=T0 + HOUR)
    invoice = _issue(billing, "orb", JAN, FEB, FEB)
    assert (invoice.credit_applied, invoice.amount_due) == (D("12.00"), D("8.00"))
    billing.invoices.void(invoice.id, at=FEB + HOUR)
    found = [(e.kind, e.thresholds, e.previous, e.current, e.at) for e in ledger.events(customer="orb").items]
    assert found == [
        ("balance_depleted", (), D("12.00"), 0, FEB),
        ("balance_dropped", (10, 5), D("12.00"), 0, FEB),
        ("balance_recovered", (), 0, D("12.00"), FEB + HOUR),
    ]


def test_orb_a_voided_purchase_invoice_voids_the_unused_credit(billing: Billing) -> None:
    """Orb: deleting a purchased credit block voids its issued invoice. creditcore goes from
    the invoice: voiding an issued purchase voids the bought block's unheld remaining (reason
    ``"invoice_void"``, B6), and what was already used stays used."""
    ledger = billing.ledger
    done = billing.purchase_credits("orb", 100, cost_basis="0.02", at=T0)
    ledger.burn("orb", 30, at=T0 + HOUR)
    voided = billing.invoices.void(done.invoice.id, at=T0 + 2 * HOUR)
    assert (voided.status, voided.number) == ("void", "INV-0001")
    balance = ledger.balance("orb", at=T0 + 2 * HOUR)
    assert (balance.available, balance.used, balance.voided) == (0, 30, 70)


# == Stripe ========================================================================================


def test_stripe_credit_grants_scoped_to_prices_apply_after_tax(billing: Billing) -> None:
    """Stripe's credit grants: ``applicability_config.scope`` (``prices``) limits the lines they
    pay, applied when the invoice is finalized. creditcore's price scope is ``meter:<id>``.

    Deliberate difference: Stripe's credits reduce the pre-tax amount
    (``invoice.pretax_credit_amounts``: 10.00 of credit leaves no tax on the tokens line);
    creditcore applies credit after tax, as Lago (B6): the credit pays the line's 11.00."""
    _tokens(billing)
    billing.meters.create("Calls", "calls", meter_id="c", aggregation="count", at=T0)
    billing.prices.create("c", unit="usd", unit_price=5, at=T0)
    billing.ledger.grant("stripe", 100, unit="usd", scope="meter:t", at=T0)
    billing.meters.record(
        [MeterEvent("t", "stripe", 1000, timestamp=T0 + HOUR), MeterEvent("c", "stripe", timestamp=T0 + HOUR)],
        at=T0 + HOUR,
    )
    invoice = _issue(billing, "stripe", JAN, FEB, FEB, tax_rate=10)
    assert [(line.meter_id, line.amount, line.tax, line.credit_applied) for line in invoice.lines] == [
        ("t", D("10.00"), D("1.00"), D("11.00")),  # Stripe: credit 10.00, tax 0.00
        ("c", D("5.00"), D("0.50"), 0),
    ]
    assert (invoice.total, invoice.amount_due) == (D("16.50"), D("5.50"))


def test_stripe_voiding_an_invoice_reinstates_credits_and_expired_grants_expire_at_once(billing: Billing) -> None:
    """Stripe: voiding an invoice reinstates the credits it applied; the credits of a grant
    that has expired meanwhile expire at once (B6: ``ledger.reverse``)."""
    _tokens(billing)
    ledger = billing.ledger
    short = ledger.grant("stripe", "5.00", unit="usd", expires_at=FEB + DAY, priority=0, at=T0).block
    lasting = ledger.grant("stripe", "5.00", unit="usd", at=T0).block
    billing.meters.record([MeterEvent("t", "stripe", 1200, timestamp=T0 + HOUR)], at=T0 + HOUR)
    invoice = _issue(billing, "stripe", JAN, FEB, FEB)
    assert (invoice.credit_applied, invoice.amount_due) == (D("10.00"), D("2.00"))
    billing.invoices.void(invoice.id, at=FEB + 2 * DAY)
    assert ledger.get_block(lasting.id, at=FEB + 2 * DAY).available == D("5.00")
    assert ledger.get_block(short.id, at=FEB + 2 * DAY).available == 0
    balance = ledger.balance("stripe", unit="usd", at=FEB + 2 * DAY)
    assert (balance.available, balance.expired, balance.used) == (D("5.00"), D("5.00"), 0)


def test_stripe_meter_event_identifier_and_timestamp_bounds(billing: Billing) -> None:
    """Stripe's billing meters: an event ``identifier`` is unique within a rolling period of at
    least 24 hours; a ``timestamp`` lies within the past 35 days or up to 5 minutes ahead.

    creditcore takes the 5 minutes ahead (B2) and keeps identifiers forever. Deliberate
    difference: events of any age are accepted (a 40-day-old one here) unless their period is
    on an issued invoice (then ``Conflict``: correct with a charge or a refund)."""
    _tokens(billing)
    at = FEB + 10 * DAY
    ahead = MeterEvent("t", "stripe", 1, event_id="id-1", timestamp=at + timedelta(minutes=5))
    assert billing.meters.record([ahead], at=at).created == 1
    assert billing.meters.record([ahead], at=at + 2 * DAY).results[0].status == "duplicate"
    with pytest.raises(ValidationError) as refused:
        billing.meters.record([MeterEvent("t", "stripe", 1, timestamp=at + timedelta(minutes=5, seconds=1))], at=at)
    assert refused.value.field == "timestamp"
    old = MeterEvent("t", "stripe", 2, timestamp=at - 40 * DAY)  # 2026-01-01
    assert billing.meters.record([old], at=at).created == 1
    _issue(billing, "stripe", JAN, FEB, at)
    with pytest.raises(Conflict):
        billing.meters.record([MeterEvent("t", "stripe", 3, timestamp=at - 39 * DAY)], at=at)

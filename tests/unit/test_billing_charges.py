"""billing.charge, charge_product and purchase_credits (SPEC_BILLING B7) on every adapter:
each an invoice issued at once, with the voucher, the credit burn and the rest by
``overdraft``; a credit purchase's block granted at once or when its invoice is paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import (
    CreditError,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidState,
    Ledger,
    ValidationError,
)
from creditcore.billing import Billing
from creditcore.billing.model import InvoiceSettings
from creditcore.billing.vouchers import Vouchers

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TRIP = {"realm:f/usage:trip", "realm:f", "usage:trip"}  # SPEC_BILLING B10: a trip charge in realm f


@pytest.fixture
def billing(ledger: Ledger) -> Billing:
    ledger.define_unit("usd", 2)
    return Billing(ledger)


def _everything(billing: Billing, customer: str = "ada") -> tuple[object, ...]:
    ledger = billing.ledger
    far = T0 + 1000 * DAY
    return (
        ledger.balances(customer, at=far),
        ledger.entries(customer, limit=1000).items,
        billing.invoices.list(limit=1000),
        Vouchers(ledger._ctx, "UTC").list(customer, include_inactive=True, at=far),
    )


def test_a_charge_takes_the_voucher_then_credit_then_invoices_the_rest(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", "3.00", unit="usd", scope="realm:f/usage:trip", at=T0)
    ledger.grant("ada", "9.00", unit="usd", scope="realm:g", at=T0)  # another realm: not reached
    Vouchers(ledger._ctx, "UTC").create("ada", 20, scope="usage:trip", single_use=True, voucher_id="v", at=T0)
    done = billing.charge("ada", "10.00", unit="usd", scope=TRIP, description="trip 7", at=T0 + HOUR)
    assert (done.discount, done.credit_applied, done.amount_due, done.debt, done.voucher_id) == (
        Decimal("2.00"), Decimal("3.00"), Decimal("5.00"), 0, "v",
    )  # fmt: skip
    invoice = done.invoice
    assert (invoice.kind, invoice.status, invoice.number, invoice.tax) == ("charge", "issued", "INV-0001", 0)
    [line] = invoice.lines
    assert (line.kind, line.amount, line.scopes, line.description) == ("charge", 10, frozenset(TRIP), "trip 7")
    assert [e.kind for e in done.entries] == ["burn"]
    assert Vouchers(ledger._ctx, "UTC").get("v", at=T0 + HOUR).used_by == invoice.id
    # the voucher is used: the next trip pays in full
    second = billing.charge("ada", 1, unit="usd", scope=TRIP, at=T0 + 2 * HOUR)
    assert (second.discount, second.amount_due, second.invoice.number) == (0, 1, "INV-0002")


def test_a_charge_covered_by_credit_is_paid(billing: Billing) -> None:
    billing.ledger.grant("ada", 5, unit="usd", at=T0)
    done = billing.charge("ada", 2, unit="usd", at=T0 + HOUR)
    assert (done.invoice.status, done.invoice.payment_reference, done.amount_due) == ("paid", "credits", 0)


def test_overdraft_debt_records_the_rest_as_debt_and_reject_writes_nothing(billing: Billing) -> None:
    ledger = billing.ledger
    ledger.grant("ada", 1, unit="usd", at=T0)
    owed = billing.charge("ada", 3, unit="usd", overdraft="debt", at=T0 + HOUR)
    assert (owed.credit_applied, owed.debt, owed.amount_due) == (1, 2, 0)
    assert (owed.invoice.status, owed.invoice.payment_reference) == ("paid", "debt")
    assert ledger.balance("ada", unit="usd", at=T0 + HOUR).debt == 2
    before = _everything(billing)
    with pytest.raises(InsufficientCredits):
        billing.charge("ada", 3, unit="usd", overdraft="reject", at=T0 + 2 * HOUR)
    assert _everything(billing) == before  # no invoice, no number taken
    assert billing.charge("ada", 1, unit="usd", at=T0 + 2 * HOUR).invoice.number == "INV-0002"


def test_charge_product_reaches_product_credit(billing: Billing) -> None:
    billing.ledger.grant("ada", 4, unit="usd", scope="usage:products", at=T0)
    done = billing.charge_product("ada", "helmet", 5, unit="usd", scope={"realm:f"}, at=T0 + HOUR)
    [line] = done.invoice.lines
    assert line.product_id == "helmet"
    assert line.scopes == frozenset({"realm:f", "usage:products", "product:helmet"})
    assert (done.credit_applied, done.amount_due) == (4, 1)


def test_a_charge_key_replays_and_conflicts(billing: Billing) -> None:
    billing.ledger.grant("ada", 1, unit="usd", at=T0)
    first = billing.charge("ada", 3, unit="usd", idempotency_key="k", at=T0 + HOUR)
    again = billing.charge("ada", "3.00", unit="usd", idempotency_key="k", at=T0 + 2 * HOUR)
    assert again.replayed and again.invoice == first.invoice and again.entries == first.entries
    with pytest.raises(IdempotencyConflict) as conflict:
        billing.charge("ada", 4, unit="usd", idempotency_key="k", at=T0 + 2 * HOUR)
    assert conflict.value.field == "amount"
    assert len(billing.invoices.list().items) == 1


def test_an_issued_charge_voided_gives_its_credit_back(billing: Billing) -> None:
    billing.ledger.grant("ada", 2, unit="usd", at=T0)
    done = billing.charge("ada", 3, unit="usd", at=T0 + HOUR)
    billing.invoices.void(done.invoice.id, at=T0 + 2 * HOUR)
    assert billing.ledger.balance("ada", unit="usd", at=T0 + 2 * HOUR).available == 2


def test_a_purchase_grants_its_credit_at_once(billing: Billing) -> None:
    ledger = billing.ledger
    done = billing.purchase_credits(
        "ada", 1000, cost_basis="0.0125", expires_at=T0 + 30 * DAY, priority=10, scope="gpu",
        invoice_settings=InvoiceSettings(net_terms=14, memo="1000 credits"), idempotency_key="buy-1", at=T0,
    )  # fmt: skip
    invoice = done.invoice
    assert (invoice.kind, invoice.status, invoice.total, invoice.unit, invoice.memo) == (
        "purchase", "issued", Decimal("12.50"), "usd", "1000 credits",
    )  # fmt: skip
    assert (invoice.issued_at, invoice.due_at, invoice.credit_applied, invoice.voucher_id) == (
        T0, T0 + 14 * DAY, 0, None,
    )  # fmt: skip
    assert done.block is not None
    assert (done.block.amount, done.block.category, done.block.cost_basis, done.block.priority) == (
        1000, "paid", Decimal("0.0125"), 10,
    )  # fmt: skip
    assert (done.block.expires_at, done.block.scope, dict(done.block.metadata)) == (
        T0 + 30 * DAY, frozenset({"gpu"}), {"invoice_id": invoice.id},
    )  # fmt: skip
    again = billing.purchase_credits(
        "ada", 1000, cost_basis="0.01250", expires_at=T0 + 30 * DAY, priority=10, scope="gpu",
        invoice_settings=InvoiceSettings(net_terms=14, memo="1000 credits"), idempotency_key="buy-1", at=T0 + HOUR,
    )  # fmt: skip
    assert again.replayed and again.invoice == invoice and again.block == ledger.get_block(done.block.id)
    billing.invoices.pay(invoice.id, reference="wire-9", at=T0 + DAY)
    assert ledger.balance("ada", at=T0 + DAY).available == 1000  # paying grants nothing more


def test_a_payment_gated_purchase_grants_when_paid_and_voids_with_its_invoice(billing: Billing) -> None:
    ledger = billing.ledger
    gated = InvoiceSettings(require_payment=True)
    done = billing.purchase_credits("ada", 100, cost_basis="0.02", invoice_settings=gated, at=T0)
    assert done.block is None and ledger.balance("ada", at=T0).available == 0
    billing.invoices.pay(done.invoice.id, at=T0 + HOUR)
    assert ledger.balance("ada", at=T0 + HOUR).available == 100
    ledger.burn("ada", 30, at=T0 + 2 * HOUR)
    # an issued (unpaid, not gated) purchase voided: its block's unheld remaining is voided
    other = billing.purchase_credits("bob", 100, cost_basis="0.02", at=T0)
    ledger.burn("bob", 30, at=T0 + HOUR)
    billing.invoices.void(other.invoice.id, at=T0 + 2 * HOUR)
    balance = ledger.balance("bob", at=T0 + 2 * HOUR)
    assert (balance.available, balance.voided, balance.used) == (0, 70, 30)


def test_marked_paid_or_free_purchases_are_paid_at_once(billing: Billing) -> None:
    marked = billing.purchase_credits("ada", 10, cost_basis=1, invoice_settings=InvoiceSettings(mark_as_paid=True))
    free = billing.purchase_credits("ada", 10, cost_basis=0)
    assert [marked.invoice.status, free.invoice.status] == ["paid", "paid"]
    with pytest.raises(InvalidState):
        billing.invoices.pay(marked.invoice.id)


def test_paying_a_gated_purchase_after_its_credit_expired_is_a_conflict(billing: Billing) -> None:
    from creditcore import Conflict

    gated = InvoiceSettings(require_payment=True)
    done = billing.purchase_credits("ada", 10, cost_basis=1, invoice_settings=gated, expires_at=T0 + DAY, at=T0)
    before = _everything(billing)
    with pytest.raises(Conflict):
        billing.invoices.pay(done.invoice.id, at=T0 + DAY)
    assert _everything(billing) == before
    assert billing.invoices.void(done.invoice.id, at=T0 + DAY).status == "void"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"unit": "eur"}, "unit"),
        ({"overdraft": "partial"}, "overdraft"),
        ({"customer": ""}, "customer"),
        ({"product_id": ""}, "product_id"),
        ({"scope": ""}, "scope"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"description": 5}, "description"),
        ({"at": datetime(2026, 1, 1)}, "at"),
    ],
)
def test_a_bad_charge_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], field: str
) -> None:
    billing.ledger.grant("ada", 5, unit="usd", at=T0)
    given: dict[str, object] = {"customer": "ada", "amount": 1, "unit": "usd", "at": T0 + HOUR, **arguments}
    before = _everything(billing)
    with pytest.raises(ValidationError) as refused:
        billing.charge(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _everything(billing) == before


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"cost_basis": None}, "cost_basis"),
        ({"cost_basis": "-0.1"}, "cost_basis"),
        ({"cost_basis": "0.0000000000001"}, "cost_basis"),
        ({"cost_basis": 0.5}, "cost_basis"),
        ({"invoice_unit": "eur"}, "unit"),
        ({"unit": "points"}, "unit"),
        ({"invoice_settings": {"net_terms": 3}}, "invoice_settings"),
        ({"expires_at": T0}, "expires_at"),
        ({"priority": -1}, "priority"),
        ({"scope": ""}, "scope"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_a_bad_purchase_is_refused_and_nothing_is_written(
    billing: Billing, arguments: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {"customer": "ada", "amount": 10, "cost_basis": 1, "at": T0, **arguments}
    before = _everything(billing)
    with pytest.raises(ValidationError) as refused:
        billing.purchase_credits(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _everything(billing) == before


@pytest.mark.parametrize(
    "settings",
    [{"net_terms": -1}, {"net_terms": 3651}, {"net_terms": True}, {"memo": 5}, {"mark_as_paid": "yes"},
     {"require_payment": 1}],
)  # fmt: skip
def test_bad_invoice_settings(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as refused:
        InvoiceSettings(**settings)  # type: ignore[arg-type]
    assert refused.value.field == "invoice_settings"


def test_every_refusal_is_a_credit_error(billing: Billing) -> None:
    with pytest.raises(CreditError):
        billing.charge("ada", 1, unit="nope")

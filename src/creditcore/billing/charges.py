"""One-off charges and credit purchases, each an invoice of its own issued at once, in one
transaction with the ledger writes it makes.

- ``charge`` (Aima's trips): a ``charge`` line with the charge's scopes; the best voucher off
  it; one credit burn of at most the rest; then, by ``overdraft``, the rest due on the
  invoice, recorded as ledger debt, or refused.
- ``purchase_credits`` (Orb's increment with ``invoice_settings``): a ``purchase`` line of
  ``amount * cost_basis`` in the invoice's unit, and the block bought — at once, or, when
  payment is required, when the invoice is paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from creditcore.billing import pricing, vouchers
from creditcore.billing.common import Part, check_replay
from creditcore.billing.invoices import KIND, TYPES, Invoices, Purchase, Stored, load, save
from creditcore.billing.model import ChargeResult, Invoice, InvoiceSettings, Line, PurchaseResult
from creditcore.billing.repository import BillingReader
from creditcore.billing.values import MAX_RATE_PLACES, parse_number
from creditcore.errors import ValidationError
from creditcore.ids import new_id
from creditcore.model import Block, Entry
from creditcore.service import reads, writes
from creditcore.service.context import write
from creditcore.values import (
    parse_amount,
    parse_choice,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_priority,
    parse_scope,
    parse_text,
    to_decimal,
)

__all__ = ["CHARGE_OVERDRAFTS", "Charges"]

#: What a charge does with what credit does not cover.
CHARGE_OVERDRAFTS = ("invoice", "debt", "reject")
_ZERO = Decimal(0)


class Charges(Part):
    """Charges and credit purchases, over the invoices they make."""

    def __init__(self, invoices: Invoices) -> None:
        super().__init__(invoices._ctx, invoices._zone)
        self._invoices = invoices

    def _replayed(self, key: str | None, given: dict[str, object], rows: BillingReader) -> Stored | None:
        """The charge or purchase first made with ``key``, if any (same arguments, else a
        conflict)."""
        if key is None:
            return None
        found = rows.find_key(KIND, key)
        if found is None:
            return None
        check_replay(KIND, found, TYPES, key, given, within="given")
        return load(rows, found.id)[1]

    def _entries(self, *op_ids: str | None) -> tuple[Entry, ...]:
        found: list[Entry] = []
        for op_id in op_ids:
            if op_id is not None:
                found += reads.entries(self._ctx, op_id=op_id, limit=10_000).items
        return tuple(found)

    @write
    def charge(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str,
        scope: str | Iterable[str] | None = None,
        product_id: str | None = None,
        description: str | None = None,
        overdraft: str = "invoice",
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ChargeResult:
        """Charge ``amount`` of ``unit`` once (a trip, a product): an invoice of kind
        ``charge`` with one ``charge`` line, issued at once with the next number, and what
        pays it, all in one transaction.

        The line's scope set is ``scope``, plus ``product:<product_id>`` when given. In that
        order: the best voucher eligible for it takes its percentage off (a single-use one is
        used up); one burn of the customer's credit with the line's scopes pays at most the
        rest; and what credit leaves unpaid goes by ``overdraft``:

        - ``"invoice"`` (default): it is due on the invoice (paid at once if nothing is due);
        - ``"debt"``: it is recorded as ledger debt by that same burn (within the ledger's
          ``debt_limit``, else ``InsufficientCredits``), and the invoice is paid with
          ``payment_reference="debt"`` (``ChargeResult.amount_due`` is 0);
        - ``"reject"``: ``InsufficientCredits`` if credit cannot pay it all; nothing is written.

        No tax. ``amount > 0`` in ``unit``'s precision; ``at`` may not precede the customer's
        last write; else ``ValidationError`` naming the argument. ``idempotency_key``: the same
        key with the same arguments returns the first result (``replayed=True``); with others,
        ``IdempotencyConflict``.
        """
        ctx = self._ctx
        who = parse_id(customer, "customer")
        name, scale = ctx.unit(unit)
        minor = parse_amount(amount, scale)
        scopes = parse_scope(scope)
        product = parse_optional_id(product_id, "product_id")
        text = parse_text(description)
        mode = parse_choice(overdraft, "overdraft", CHARGE_OVERDRAFTS)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when_given = parse_optional_time(at, "at")
        ctx.check_future(when_given)
        reach = frozenset(scopes or ()) | ({f"product:{product}"} if product else set())
        given: dict[str, object] = {
            "customer": who, "amount": to_decimal(minor, scale), "unit": name,
            "scope": sorted(reach) if scopes is not None or product else None, "product_id": product,
            "description": text, "overdraft": mode,
        }  # fmt: skip
        with ctx.atomic(), self.writing() as (uow, rows):
            stored = self._replayed(key, given, rows)
            if stored is not None:
                entries = self._entries(*(li.burn_op_id for li in stored.invoice.lines))
                return _charge_result(stored.invoice, entries, replayed=True)
            when = self._invoices.time_of_write(uow, who, when_given)
            ident = new_id("inv")
            zero = to_decimal(0, scale)
            line = Line(
                id="line_1", kind="charge", product_id=product, description=text, amount=to_decimal(minor, scale),
                discount=zero, tax=zero, credit_applied=zero, scopes=reach or None,
            )  # fmt: skip
            voucher = vouchers.eligible(vouchers.live(rows, who, when), when, reach)
            if voucher is not None:
                line = attrs.evolve(line, discount=pricing.percent_off(line.amount, voucher.percent, scale))
            rest = line.amount - line.discount
            debt = zero
            if rest > 0:
                burn_mode = {"invoice": "partial", "debt": "debt", "reject": "reject"}[mode]
                burned = writes.burn(
                    ctx, who, rest, unit=name, scope=line.scopes, overdraft=burn_mode,
                    description=text or f"charge {ident}", at=when,
                )  # fmt: skip
                line = attrs.evolve(line, credit_applied=burned.burned, burn_op_id=burned.op_id)
                debt = burned.debt
            if voucher is not None and line.discount:
                vouchers.consume(rows, voucher.id, ident, when)
            invoice = Invoice(
                id=ident, number=None, customer=who, kind="charge", status="draft", unit=name, start=None, end=None,
                plan=None, tax_rate=None, lines=(line,), subtotal=line.amount, discount=line.discount, tax=zero,
                total=rest, credit_applied=line.credit_applied, amount_due=rest - line.credit_applied,
                voucher_id=voucher.id if voucher is not None and line.discount else None, memo=None, metadata={},
                created_at=when,
            )  # fmt: skip
            issued = self._invoices.issued(invoice, rows, when)
            if mode == "debt" and debt > 0:
                issued = attrs.evolve(issued, status="paid", paid_at=when, payment_reference="debt")
            save(rows, Stored(invoice=issued, given=given), key)
            return _charge_result(issued, self._entries(line.burn_op_id))

    def charge_product(
        self,
        customer: str,
        product_id: str,
        amount: int | Decimal | str,
        *,
        unit: str,
        scope: str | Iterable[str] | None = None,
        description: str | None = None,
        overdraft: str = "invoice",
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ChargeResult:
        """``charge`` of a product (Aima's ``chargeProduct``): its scope set also reaches
        credit for products (``usage:products``)."""
        product = parse_id(product_id, "product_id")
        scopes = parse_scope(scope) or frozenset()
        return self.charge(
            customer, amount, unit=unit, scope=scopes | {"usage:products"}, product_id=product,
            description=description, overdraft=overdraft, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip

    @write
    def purchase_credits(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        cost_basis: int | Decimal | str,
        invoice_unit: str = "usd",
        invoice_settings: InvoiceSettings | None = None,
        unit: str = "credits",
        expires_at: datetime | None = None,
        priority: int = 50,
        scope: str | Iterable[str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> PurchaseResult:
        """Sell the customer ``amount`` of credit in ``unit`` at ``cost_basis`` a credit, in
        ``invoice_unit``, in one transaction: an invoice of kind ``purchase`` with one
        ``purchase`` line of ``amount * cost_basis`` (rounded half up to ``invoice_unit``'s
        scale), and the block bought.

        The invoice is issued at once with the next number, without voucher or credit, due
        ``invoice_settings.net_terms`` days later, with its ``memo``; with ``mark_as_paid``, or
        a total of 0, it is paid at once. The block (``category="paid"``, that ``cost_basis``,
        ``priority``, ``scope``, ``expires_at``, the ``memo`` as description, metadata
        ``{"invoice_id": <the invoice>}``) is granted at once; with ``require_payment`` and an
        invoice not paid at once, only when :meth:`Invoices.pay` pays it, dated the payment
        (``PurchaseResult.block`` is ``None`` until then). Voiding the invoice voids what is
        left of the block unheld.

        ``amount > 0`` in ``unit``'s precision; ``cost_basis`` is required, exact, ``>= 0``,
        with at most 12 decimal places; ``expires_at`` is ``None`` or later than the
        purchase's time, which may not precede the customer's last write;
        ``invoice_settings`` an :class:`InvoiceSettings`; else ``ValidationError`` naming the
        argument. ``idempotency_key`` as for :meth:`charge`.
        """
        ctx = self._ctx
        who = parse_id(customer, "customer")
        name, scale = ctx.unit(unit)
        minor = parse_amount(amount, scale)
        if cost_basis is None:
            raise ValidationError("cost_basis", "is required: the price of one credit in the invoice's unit")
        basis = parse_number(cost_basis, "cost_basis", places=MAX_RATE_PLACES)
        money, money_scale = ctx.unit(invoice_unit)
        settings = InvoiceSettings() if invoice_settings is None else invoice_settings
        if not isinstance(settings, InvoiceSettings):
            raise ValidationError("invoice_settings", f"expected InvoiceSettings, got {type(settings).__name__}")
        expires = parse_optional_time(expires_at, "expires_at")
        rank = parse_priority(priority)
        scopes = parse_scope(scope)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when_given = parse_optional_time(at, "at")
        ctx.check_future(when_given)
        given: dict[str, object] = {
            "customer": who, "amount": to_decimal(minor, scale), "unit": name, "cost_basis": basis,
            "invoice_unit": money, "invoice_settings": attrs.asdict(settings), "expires_at": expires,
            "priority": rank, "scope": sorted(scopes) if scopes is not None else None,
        }  # fmt: skip
        with ctx.atomic(), self.writing() as (uow, rows):
            stored = self._replayed(key, given, rows)
            if stored is not None:
                assert stored.purchase is not None
                block_id = stored.purchase.block_id
                return PurchaseResult(
                    invoice=stored.invoice,
                    block=None if block_id is None else reads.get_block(ctx, block_id),
                    entries=self._entries(stored.purchase.grant_op_id),
                    replayed=True,
                )
            when = self._invoices.time_of_write(uow, who, when_given)
            if expires is not None and expires <= when:
                raise ValidationError("expires_at", f"{expires.isoformat()} is not later than the purchase's time")
            ident = new_id("inv")
            price = pricing.round_half_up(to_decimal(minor, scale) * basis, money_scale)
            zero = to_decimal(0, money_scale)
            line = Line(
                id="line_1", kind="purchase", description=f"{to_decimal(minor, scale)} {name}",
                quantity=to_decimal(minor, scale), amount=price, discount=zero, tax=zero, credit_applied=zero,
            )  # fmt: skip
            invoice = Invoice(
                id=ident, number=None, customer=who, kind="purchase", status="draft", unit=money, start=None,
                end=None, plan=None, tax_rate=None, lines=(line,), subtotal=price, discount=zero, tax=zero,
                total=price, credit_applied=zero, amount_due=price, voucher_id=None, memo=settings.memo,
                metadata={}, created_at=when,
            )  # fmt: skip
            issued = self._invoices.issued(invoice, rows, when, due_at=when + timedelta(days=settings.net_terms))
            if settings.mark_as_paid and issued.status == "issued":
                issued = attrs.evolve(issued, status="paid", paid_at=when)
            terms = Purchase(
                amount=to_decimal(minor, scale), unit=name, cost_basis=basis, expires_at=expires, priority=rank,
                scope=scopes,
            )  # fmt: skip
            block: Block | None = None
            entries: tuple[Entry, ...] = ()
            if not settings.require_payment or issued.status == "paid":
                terms, block, entries = self._invoices.grant_purchase(terms, issued, when)
            save(rows, Stored(invoice=issued, given=given, purchase=terms), key)
            return PurchaseResult(invoice=issued, block=block, entries=entries)


def _charge_result(invoice: Invoice, entries: tuple[Entry, ...], *, replayed: bool = False) -> ChargeResult:
    (line,) = invoice.lines
    debt = line.amount - line.discount - line.credit_applied if invoice.payment_reference == "debt" else _ZERO
    return ChargeResult(
        invoice=invoice, discount=invoice.discount, credit_applied=invoice.credit_applied,
        amount_due=invoice.amount_due - debt, debt=debt, voucher_id=invoice.voucher_id, entries=entries,
        replayed=replayed,
    )  # fmt: skip

"""``billing.invoices``: period invoices from metered usage, their figures, credits applied line
by line, numbers, and the states ``draft → issued → paid`` and ``void``.

One computation serves the preview and the issue: the lines (one per priced meter with
usage not charged in advance), the voucher, the tax, and each line's credit burn. A preview
runs the burns through the ledger's pure rules on the customer's state and writes nothing;
an issue makes the same burns through the ledger, in one transaction with the invoice, the
voucher it consumes and its number.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple, TypedDict

import attrs

from creditcore import rules
from creditcore.billing import metering, meters, prices, pricing, vouchers
from creditcore.billing.common import Part, body, check_replay, read_body
from creditcore.billing.model import (
    Invoice,
    InvoicePage,
    InvoicePreview,
    IssueResult,
    Line,
    Meter,
    Price,
)
from creditcore.billing.repository import BillingObject, BillingReader, BillingWriter
from creditcore.billing.values import ZERO, MeterReading, meter_scope, parse_decimal
from creditcore.errors import Conflict, InvalidState, NotFound, ValidationError
from creditcore.ids import new_id
from creditcore.model import Block, Entry
from creditcore.repository import Reader, UnitOfWork
from creditcore.service import reads, writes
from creditcore.service.context import Context, exact, write
from creditcore.state import Burn, EntryState
from creditcore.values import (
    parse_id,
    parse_limit,
    parse_metadata,
    parse_optional_id,
    parse_time,
    to_decimal,
)

__all__ = ["STATUSES", "Invoices"]

KIND = "invoice"
STATUSES = ("draft", "issued", "paid", "void")
#: The statuses of an invoice whose period is billed: its late events are refused.
BILLED = ("issued", "paid")
_CURSOR = "invoices:"
_ZERO = Decimal(0)
_MAX_TAX_PLACES = 4


@attrs.frozen(kw_only=True)
class Purchase:
    """What a credit purchase buys: the block it grants, at once or when its invoice is paid
    (``block_id`` once granted)."""

    amount: Decimal
    unit: str
    cost_basis: Decimal
    expires_at: datetime | None
    priority: int
    scope: frozenset[str] | None
    block_id: str | None = None
    grant_op_id: str | None = None


@attrs.frozen(kw_only=True)
class Stored:
    """An invoice as stored: the invoice, the arguments it was created with (a retry of its
    id or key is compared with them) and, for a purchase, what it buys."""

    invoice: Invoice
    given: Mapping[str, object] = attrs.field(factory=dict)
    purchase: Purchase | None = None


TYPES = (Stored, Invoice, Line, Purchase)


def read(found: BillingObject) -> Invoice:
    stored: Stored = read_body(found.body, *TYPES)
    return stored.invoice


def load(rows: BillingReader, invoice_id: str, *, lines: bool = True) -> tuple[Invoice, Stored, str | None]:
    """The invoice, what is stored with it and its idempotency key (a save keeps it);
    ``lines=False``: without its lines, left unread (for an issue, which computes them anew)."""
    found = rows.get_object(KIND, invoice_id)
    if found is None:
        raise NotFound(f"no invoice {invoice_id!r}")
    if lines:
        stored: Stored = read_body(found.body, *TYPES)
    else:  # a line is read as the plain mapping it is written as, then dropped
        head: Stored = read_body(found.body, *(t for t in TYPES if t is not Line))
        stored = attrs.evolve(head, invoice=attrs.evolve(head.invoice, lines=()))
    return stored.invoice, stored, found.key


def save(rows: BillingWriter, stored: Stored, key: str | None = None) -> None:
    invoice = stored.invoice
    rows.put_object(
        BillingObject(
            kind=KIND, id=invoice.id, customer=invoice.customer, status=invoice.status, key=key, body=body(stored)
        )
    )


def billed(rows: BillingReader, customers: Collection[str]) -> list[Invoice]:
    """The customers' issued or paid period invoices: their periods take no late events."""
    found = (read(o) for o in rows.list_objects(KIND, customer=customers, statuses=BILLED))
    return [invoice for invoice in found if invoice.kind == "period"]


def _tax_rate(value: object) -> Decimal | None:
    if value is None:
        return None
    rate = parse_decimal(value, "tax_rate")
    if not 0 <= rate <= 100 or -rate.as_tuple().exponent > _MAX_TAX_PLACES:  # type: ignore[operator]
        raise ValidationError("tax_rate", f"expected a percentage 0 to 100 with at most 4 decimal places, got {value}")
    return rate


class _Priced(NamedTuple):
    """A meter's usage in the period, priced: a line before its discount, tax and credit."""

    meter: Meter
    price: Price
    quantity: Decimal
    amount: Decimal


@attrs.frozen(kw_only=True)
class _Draft:
    """An invoice's figures before credit: its lines (amount, discount, tax) and voucher."""

    unit: str
    scale: int
    lines: tuple[Line, ...]
    voucher_id: str | None


@attrs.frozen(kw_only=True)
class _Credited:
    lines: tuple[Line, ...]
    allocations: tuple[tuple[tuple[str, Decimal], ...], ...]
    entries: tuple[Entry, ...] = ()


class Invoices(Part):
    """Period invoices and the states of every invoice."""

    def __init__(self, ctx: Context, zone: str, prefix: str, width: int) -> None:
        super().__init__(ctx, zone)
        self._prefix = prefix
        self._width = width

    # -- the computation ------------------------------------------------------------------

    def _span(
        self, reader: Reader, customer: str, start: object, end: object, at: datetime
    ) -> tuple[datetime, datetime]:
        zone = self.zone_of(reader, customer, at)
        since, until = self.instant(start, "start", zone), self.instant(end, "end", zone)
        if until <= since:
            raise ValidationError("end", f"must be after start ({since.isoformat()}), got {until.isoformat()}")
        return since, until

    def _unit(self, live: Iterable[Price], unit: object, plan: str | None) -> tuple[str, int]:
        """The invoice's unit: the one given, else the one unit of the ``live`` prices of
        ``plan`` (else of the plan-less ones)."""
        if unit is not None:
            return self._ctx.unit(unit)
        found = builtins.list(live)
        chosen = [p for p in found if p.plan == plan] if plan is not None else []
        units = {p.unit for p in (chosen or [p for p in found if p.plan is None])}
        if len(units) != 1:
            raise ValidationError(
                "unit",
                f"the prices name {'no unit' if not units else 'several units: ' + ', '.join(sorted(units))}: "
                "give the invoice's unit",
            )
        return self._ctx.unit(units.pop())

    def _draft(
        self,
        rows: BillingReader,
        customer: str,
        start: datetime,
        end: datetime,
        unit: object,
        plan: str | None,
        tax_rate: Decimal | None,
        at: datetime,
    ) -> _Draft:
        live = {
            (p.meter_id, p.plan): p for p in map(prices.read, rows.list_objects(prices.KIND, statuses=[prices.LIVE]))
        }
        name, scale = self._unit(live.values(), unit, plan)
        priced: list[_Priced] = []
        for found in rows.list_objects(meters.KIND):
            meter: Meter = read_body(found.body, Meter)
            price = prices.pick(functools.partial(_live_price, live, meter.id), plan)
            if price is None or price.unit != name:
                continue
            events = [
                MeterReading.checked(e.timestamp, e.value or ZERO, e.unique_key, e.dimensions)
                for e in rows.meter_events(meter.id, customer=customer, start=start, end=end)
                if not e.advance and e.recorded_at <= at
            ]
            quantity = metering.aggregate(meter.aggregation, events, start=start, end=end).value
            amount = pricing.round_half_up(pricing.price(prices.model_of(price), quantity), scale)
            if quantity > 0 or amount > 0:
                priced.append(_Priced(meter, price, quantity, amount))
        return self._discounted(rows, customer, name, scale, priced, tax_rate, at)

    def _discounted(
        self,
        rows: BillingReader,
        customer: str,
        unit: str,
        scale: int,
        priced: Iterable[_Priced],
        tax_rate: Decimal | None,
        at: datetime,
    ) -> _Draft:
        """The lines with the best voucher's discount and the tax (each line's, on its amount less
        its discount)."""
        usage = builtins.list(priced)
        reach = frozenset(meter_scope(p.meter.id) for p in usage)
        voucher = vouchers.eligible(vouchers.live(rows, customer, at), at, reach)
        zero = to_decimal(0, scale)  # figures at the unit's scale: 0.00, not 0
        lines: list[Line] = []
        for p in usage:
            scopes = frozenset({meter_scope(p.meter.id)})
            discount = zero
            if voucher is not None and (voucher.scope is None or voucher.scope & scopes):
                discount = pricing.percent_off(p.amount, voucher.percent, scale)
            tax = zero if not tax_rate else pricing.round_half_up((p.amount - discount) * tax_rate / 100, scale)
            lines.append(
                Line(
                    id=f"line_{len(lines) + 1}", kind="usage", meter_id=p.meter.id, price_id=p.price.id,
                    description=p.meter.name, quantity=p.quantity, amount=p.amount, discount=discount, tax=tax,
                    credit_applied=zero, scopes=scopes,
                )
            )  # fmt: skip
        used = voucher.id if voucher is not None and any(line.discount for line in lines) else None
        return _Draft(unit=unit, scale=scale, lines=tuple(lines), voucher_id=used)

    def _commands(self, draft: _Draft, purpose: str) -> dict[int, Burn]:
        """The credit burn of each line that costs something, by line index: the preview runs
        them through the ledger's pure rules, the issue through the ledger."""
        return {
            n: Burn(
                op_id=new_id("op"),
                unit=draft.unit,
                amount=int(_cap(line).scaleb(draft.scale)),
                scope=line.scopes,
                categories=None,
                overdraft="partial",
                debt_limit=None,
                description=f"{purpose}: {line.description}" if line.description else purpose,
                metadata={},
            )
            for n, line in enumerate(draft.lines)
            if _cap(line) > 0
        }

    def _credited(
        self, draft: _Draft, commands: dict[int, Burn], entries: Iterable[EntryState], *, burned: bool
    ) -> _Credited:
        """The lines with the credit their burns took (``entries``: what the burns wrote; a
        line names its burn's op once it is ``burned``)."""
        taken: dict[str, list[tuple[str, Decimal]]] = {}
        for e in entries:
            if e.kind == "burn" and e.block_id is not None:
                taken.setdefault(e.op_id, []).append((e.block_id, to_decimal(e.amount, draft.scale)))
        zero = to_decimal(0, draft.scale)
        lines, allocations = [], []
        for n, line in enumerate(draft.lines):
            command = commands.get(n)
            drawn = tuple(taken.get(command.op_id, ())) if command is not None else ()
            credit = sum((amount for _, amount in drawn), zero)
            op_id = command.op_id if command is not None and burned else None
            lines.append(_with_credit(line, credit, op_id))
            allocations.append(drawn)
        return _Credited(lines=tuple(lines), allocations=tuple(allocations))

    def _previewed(self, state_reader: Reader, customer: str, draft: _Draft, at: datetime) -> _Credited:
        """Each line's credit burn run through the ledger's pure rules: nothing is written."""
        state, when = reads.state_at(self._ctx, state_reader, customer, at)
        commands = self._commands(draft, "preview")
        written: tuple[EntryState, ...] = ()
        if commands:
            written = rules.burn_each(state, list(commands.values()), when, self._ctx.order, draft.scale).entries
        return self._credited(draft, commands, written, burned=False)

    def _burned(self, uow: UnitOfWork, customer: str, draft: _Draft, at: datetime, purpose: str) -> _Credited:
        """Each line's credit burn made through the ledger, as one write (in the caller's
        transaction)."""
        commands = self._commands(draft, purpose)
        written = writes.burn_each(self._ctx, uow, customer, list(commands.values()), draft.scale, at)
        credited = self._credited(draft, commands, written, burned=True)
        return attrs.evolve(credited, entries=tuple(Entry.from_state(e, draft.scale) for e in written))

    # -- the calls ---------------------------------------------------------------------------

    @exact
    def preview(
        self,
        customer: str,
        *,
        start: datetime | date,
        end: datetime | date,
        unit: str | None = None,
        plan: str | None = None,
        tax_rate: int | Decimal | str | None = None,
        at: datetime | None = None,
    ) -> InvoicePreview:
        """What issuing a period invoice at ``at`` would write; writes nothing."""
        who = parse_id(customer, "customer")
        group = parse_optional_id(plan, "plan")
        rate = _tax_rate(tax_rate)
        when = self.read_time(at)
        with self.reading() as (reader, rows):
            since, until = self._span(reader, who, start, end, when)
            draft = self._draft(rows, who, since, until, unit, group, rate, when)
            credited = self._previewed(reader, who, draft, when)
        totals = _totals(credited.lines)
        return InvoicePreview(
            customer=who, unit=draft.unit, start=since, end=until, plan=group, tax_rate=rate, lines=credited.lines,
            voucher_id=draft.voucher_id, credit_allocations=credited.allocations, **totals,
        )  # fmt: skip

    @write
    def create(
        self,
        customer: str,
        *,
        start: datetime | date,
        end: datetime | date,
        unit: str | None = None,
        plan: str | None = None,
        tax_rate: int | Decimal | str | None = None,
        invoice_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Invoice:
        """A draft period invoice, its figures the preview's at ``at`` (an estimate: issuing
        recomputes them)."""
        who = parse_id(customer, "customer")
        group = parse_optional_id(plan, "plan")
        rate = _tax_rate(tax_rate)
        ident = parse_optional_id(invoice_id, "invoice_id")
        meta = parse_metadata(metadata)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        given_unit = None if unit is None else parse_id(unit, "unit")
        when = self.write_time(at)
        with self.writing() as (uow, rows):
            since, until = self._span(uow, who, start, end, when)
            given = {
                "customer": who, "start": since, "end": until, "unit": given_unit, "plan": group, "tax_rate": rate,
                "metadata": meta,
            }  # fmt: skip
            for stored in (rows.get_object(KIND, ident) if ident else None, rows.find_key(KIND, key) if key else None):
                if stored is not None:
                    check_replay(KIND, stored, TYPES, ident or key or "", given, within="given")
                    return read(stored)
            draft = self._draft(rows, who, since, until, unit, group, rate, when)
            credited = self._previewed(uow, who, draft, when)
            invoice = Invoice(
                id=ident or new_id("inv"), number=None, customer=who, kind="period", status="draft", unit=draft.unit,
                start=since, end=until, plan=group, tax_rate=rate, lines=credited.lines, voucher_id=draft.voucher_id,
                memo=None, metadata=meta, created_at=when, **_totals(credited.lines),
            )  # fmt: skip
            save(rows, Stored(invoice=invoice, given=given), key)
            return invoice

    @write
    def issue(self, invoice_id: str, *, at: datetime | None = None) -> IssueResult:
        """Issue a draft: recompute it at ``at``, burn each line's credit, consume its
        voucher, take the next number; paid at once if nothing is due."""
        ident = parse_id(invoice_id, "invoice_id")
        when_given = None if at is None else parse_time(at, "at")
        self._ctx.check_future(when_given)
        with self._ctx.atomic(), self.writing() as (uow, rows):
            draft_invoice, stored, key = load(rows, ident, lines=False)
            who = draft_invoice.customer
            when = self.time_of_write(uow, who, when_given)  # the time, then the state
            if draft_invoice.status != "draft":
                raise InvalidState(ident, draft_invoice.status, "only a draft is issued")
            assert draft_invoice.start is not None and draft_invoice.end is not None
            clash = self._overlapping(rows, draft_invoice)
            if clash is not None:
                raise Conflict(
                    f"invoice {clash.id!r} ({clash.number}) bills {who!r} in {clash.unit} from "
                    f"{clash.start} to {clash.end}: this period overlaps it"
                )
            draft = self._draft(
                rows, who, draft_invoice.start, draft_invoice.end, draft_invoice.unit, draft_invoice.plan,
                draft_invoice.tax_rate, when,
            )  # fmt: skip
            credited = self._burned(uow, who, draft, when, f"invoice {ident}")
            if draft.voucher_id is not None:
                vouchers.consume(rows, draft.voucher_id, ident, when)
            issued = self.issued(
                attrs.evolve(
                    draft_invoice, lines=credited.lines, voucher_id=draft.voucher_id, **_totals(credited.lines)
                ),
                rows,
                when,
            )
            save(rows, attrs.evolve(stored, invoice=issued), key)
            return IssueResult(invoice=issued, entries=credited.entries)

    def issued(self, invoice: Invoice, rows: BillingWriter, at: datetime, due_at: datetime | None = None) -> Invoice:
        """The invoice issued at ``at`` with the next number; paid at once if nothing is due."""
        number = f"{self._prefix}{rows.take_number(KIND):0{self._width}d}"
        issued = attrs.evolve(invoice, number=number, status="issued", issued_at=at, due_at=due_at or at)
        if issued.amount_due == 0:
            issued = attrs.evolve(issued, status="paid", paid_at=at, payment_reference="credits")
        return issued

    def time_of_write(self, uow: Reader, customer: str, at: datetime | None) -> datetime:
        """A write's time that writes ledger entries: ``at`` (not before the customer's last
        write: a customer's history only moves forward), or now."""
        state = uow.load_account(customer)
        when = self._ctx.write_time(at, state)
        rules.check_time(state, when)
        return when

    def _overlapping(self, rows: BillingReader, invoice: Invoice) -> Invoice | None:
        for found in rows.list_objects(KIND, customer=invoice.customer, statuses=BILLED):
            other = read(found)
            if (
                other.kind == "period"
                and other.unit == invoice.unit
                and other.start is not None
                and other.end is not None
                and invoice.start is not None
                and invoice.end is not None
                and other.start < invoice.end
                and invoice.start < other.end
            ):
                return other
        return None

    @write
    def pay(self, invoice_id: str, *, reference: str | None = None, at: datetime | None = None) -> Invoice:
        """An issued invoice paid (``reference``: the app's payment's)."""
        ident = parse_id(invoice_id, "invoice_id")
        ref = parse_optional_id(reference, "reference")
        with self._ctx.atomic(), self.writing() as (_uow, rows):
            invoice, stored, key = load(rows, ident)
            if invoice.status != "issued":
                raise InvalidState(ident, invoice.status, "only an issued invoice is paid")
            when = self.write_time(at)
            paid = attrs.evolve(invoice, status="paid", paid_at=when, payment_reference=ref)
            terms = stored.purchase
            if terms is not None and terms.block_id is None:  # a payment-gated purchase: its credit now
                if terms.expires_at is not None and when >= terms.expires_at:
                    raise Conflict(
                        f"invoice {ident!r} buys credit expiring at {terms.expires_at.isoformat()}: it cannot be "
                        "granted now; void the invoice instead"
                    )
                terms = self.grant_purchase(terms, paid, when)[0]
            save(rows, attrs.evolve(stored, invoice=paid, purchase=terms), key)
            return paid

    def grant_purchase(
        self, terms: Purchase, invoice: Invoice, at: datetime
    ) -> tuple[Purchase, Block, tuple[Entry, ...]]:
        """Grant the block a credit purchase buys (in the caller's transaction)."""
        granted = writes.grant(
            self._ctx, invoice.customer, terms.amount, unit=terms.unit, expires_at=terms.expires_at,
            priority=terms.priority, category="paid", cost_basis=terms.cost_basis, scope=terms.scope,
            description=invoice.memo, metadata={"invoice_id": invoice.id}, at=at,
        )  # fmt: skip
        bought = attrs.evolve(terms, block_id=granted.block.id, grant_op_id=granted.op_id)
        return bought, granted.block, granted.entries

    @write
    def void(self, invoice_id: str, *, at: datetime | None = None) -> Invoice:
        """A draft or issued invoice voided; an issued one gives its credit back (reversing
        each line's burn) and its single-use voucher."""
        ident = parse_id(invoice_id, "invoice_id")
        when_given = None if at is None else parse_time(at, "at")
        self._ctx.check_future(when_given)
        with self._ctx.atomic(), self.writing() as (uow, rows):
            invoice, stored, key = load(rows, ident)
            if invoice.status == "issued":  # reversals write entries: the time, then the state
                when = self.time_of_write(uow, invoice.customer, when_given)
            else:
                when = self.write_time(when_given)
            if invoice.status not in ("draft", "issued"):
                raise InvalidState(ident, invoice.status, "only a draft or an issued invoice is voided")
            if invoice.status == "issued":
                for line in invoice.lines:
                    if line.burn_op_id is not None and line.credit_applied > 0:
                        writes.reverse(self._ctx, line.burn_op_id, at=when)
                if invoice.voucher_id is not None:
                    vouchers.restore(rows, invoice.voucher_id, invoice_id=ident)
                bought = None if stored.purchase is None else stored.purchase.block_id
                if bought is not None and reads.get_block(self._ctx, bought, at=when).available > 0:
                    writes.void(self._ctx, bought, reason="invoice_void", at=when)
            voided = attrs.evolve(invoice, status="void", voided_at=when)
            save(rows, attrs.evolve(stored, invoice=voided), key)
            return voided

    @exact
    def get(self, invoice_id: str) -> Invoice:
        """The invoice ``invoice_id`` as it stands, lines included, of any kind and status;
        ``NotFound`` if there is none."""
        ident = parse_id(invoice_id, "invoice_id")
        with self.reading() as (_reader, rows):
            return load(rows, ident)[0]

    @exact
    def list(
        self,
        customer: str | None = None,
        *,
        status: str | Iterable[str] | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> InvoicePage:
        """Invoices in creation order, of ``customer`` and ``status`` (one or several)."""
        who = None if customer is None else parse_id(customer, "customer")
        statuses = _statuses(status)
        size = parse_limit(limit)
        position, _ = reads.decode_cursor(_CURSOR, after, "invoices.list()")
        with self.reading() as (_reader, rows):
            found = rows.list_objects(KIND, customer=who, statuses=statuses, after=position, limit=size + 1)
        more = len(found) > size
        page = found[:size]
        cursor = reads.encode_cursor(_CURSOR, page[-1].number, None) if more else None
        return InvoicePage(items=tuple(read(o) for o in page), next_cursor=cursor)


def _statuses(value: object) -> builtins.list[str] | None:
    if value is None:
        return None
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, Iterable):
        raise ValidationError("status", f"expected a status or several, got {type(value).__name__}")
    chosen = builtins.list(given)
    for one in chosen:
        if one not in STATUSES:
            raise ValidationError("status", f"must be one of {', '.join(STATUSES)}, got {one!r}")
    return chosen


def _with_credit(line: Line, credit: Decimal, burn_op_id: str | None) -> Line:
    """``line`` with the credit its burn took (a line is built three times an issue: this is
    ``attrs.evolve`` without its look at the class each time)."""
    return Line(
        id=line.id, kind=line.kind, meter_id=line.meter_id, price_id=line.price_id, product_id=line.product_id,
        description=line.description, quantity=line.quantity, amount=line.amount, discount=line.discount,
        tax=line.tax, credit_applied=credit, scopes=line.scopes, burn_op_id=burn_op_id,
    )  # fmt: skip


class _Totals(TypedDict):
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    credit_applied: Decimal
    amount_due: Decimal


def _live_price(live: Mapping[tuple[str, str | None], Price], meter_id: str, plan: str | None) -> Price | None:
    return live.get((meter_id, plan))


def _cap(line: Line) -> Decimal:
    """The most credit a line's burn takes: what it costs after its discount, tax included."""
    return line.amount - line.discount + line.tax


def _totals(lines: Iterable[Line]) -> _Totals:
    lines = tuple(lines)
    subtotal = sum((line.amount for line in lines), _ZERO)
    discount = sum((line.discount for line in lines), _ZERO)
    tax = sum((line.tax for line in lines), _ZERO)
    credit = sum((line.credit_applied for line in lines), _ZERO)
    total = subtotal - discount + tax
    return _Totals(
        subtotal=subtotal, discount=discount, tax=tax, total=total, credit_applied=credit, amount_due=total - credit
    )

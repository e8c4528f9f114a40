"""A Hypothesis state machine for billing over a real ``Billing`` and a plain
reference model of its own.

It drives meters' events, usage charged as it happens, credit grants, one-off charges and
period invoices through create, issue, pay and void, with the clock moving on. The model
keeps the events (charged in advance or not), each invoice's status and the numbers issued,
and prices usage with its own arithmetic. After every step it checks:

- every invoice's figures recompute from its lines (subtotal, discount, tax, total, credit
  applied, amount due; nothing below zero);
- the credit an issued invoice applied equals what the ledger's burns of its lines took, and
  a voided invoice's burns are reversed in full;
- invoice numbers are gapless and follow the issue order;
- each issued invoice's lines are the model's: one per priced meter with usage not charged in
  advance in its period, the quantity aggregated and priced as the model does;
- statuses and refusals follow the model (``InvalidState`` for what a status forbids,
  ``Conflict`` for a late event or an overlapping period);
- the ledger verifies (the balance identity and every stored figure recomputed).

Run it on any adapter with :func:`run_billing_machine` and a factory of ledgers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import attrs
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from creditcore.billing import Billing, MeterEvent, Tier
from creditcore.errors import Conflict, InvalidState
from creditcore.ledger import Ledger
from creditcore.repository import EntryQuery

__all__ = ["BillingMachine", "run_billing_machine"]

START = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMERS = ("ada", "bob")
CENT = Decimal("0.01")
#: The meters the machine bills: (id, aggregation, how the model prices a quantity).
METERS = ("calls", "tokens", "seats")


def _graduated(q: Decimal) -> Decimal:
    """The model's own graduated price: 10 at 0.10, every unit past 10 at 0.01."""
    return min(q, Decimal(10)) * Decimal("0.10") + max(q - 10, Decimal(0)) * Decimal("0.01")


PRICE: dict[str, Callable[[Decimal], Decimal]] = {
    "calls": lambda q: q * Decimal("0.25"),
    "tokens": _graduated,
    "seats": lambda q: q * Decimal(5),
}


def _round(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _month(index: int) -> tuple[datetime, datetime]:
    year, month = divmod(index, 12)
    start = datetime(2026 + year, month + 1, 1, tzinfo=UTC)
    year, month = divmod(index + 1, 12)
    return start, datetime(2026 + year, month + 1, 1, tzinfo=UTC)


@attrs.define
class _Event:
    meter: str
    customer: str
    at: datetime
    value: Decimal
    advance: bool
    recorded: datetime


@attrs.define
class _Invoice:
    customer: str
    kind: str
    status: str
    start: datetime | None = None
    end: datetime | None = None
    number: int | None = None


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class BillingMachine(RuleBasedStateMachine):
    """Billing against its reference model; subclasses set :meth:`make_ledger`."""

    def make_ledger(self, clock: Clock) -> Ledger:
        return Ledger.memory(clock=clock, future_tolerance=None)

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.ledger = self.make_ledger(self.clock)
        self.ledger.define_unit("usd", 2)
        self.billing = Billing(self.ledger)
        meters, prices = self.billing.meters, self.billing.prices
        meters.create("Calls", "calls", meter_id="calls", aggregation="count", at=START)
        meters.create("Tokens", "tokens", meter_id="tokens", at=START)
        meters.create("Seats", "seats", meter_id="seats", aggregation="max", at=START)
        prices.create("calls", unit="usd", unit_price="0.25", at=START)
        prices.create("tokens", model="graduated", unit="usd", tiers=[Tier(10, "0.10"), Tier(None, "0.01")], at=START)
        prices.create("seats", unit="usd", unit_price=5, at=START)
        self.events: list[_Event] = []
        self.invoices: dict[str, _Invoice] = {}
        self.issued = 0
        self.last_write: dict[str, datetime] = {}

    def teardown(self) -> None:
        self.ledger.close()

    # -- the model's reading of things -------------------------------------------------------

    def _billed(self, customer: str, at: datetime) -> bool:
        return any(
            i.customer == customer and i.kind == "period" and i.status in ("issued", "paid")
            and i.start is not None and i.end is not None and i.start <= at < i.end
            for i in self.invoices.values()
        )  # fmt: skip

    def _lines(self, customer: str, start: datetime, end: datetime, at: datetime) -> list[tuple[str, Decimal, Decimal]]:
        found = []
        for meter in METERS:
            taken = [
                e for e in self.events
                if e.meter == meter and e.customer == customer and not e.advance and start <= e.at < end
                and e.recorded <= at
            ]  # fmt: skip
            if meter == "calls":
                q = Decimal(len(taken))
            elif meter == "seats":
                q = max((e.value for e in taken), default=Decimal(0))
            else:
                q = sum((e.value for e in taken), Decimal(0))
            amount = _round(PRICE[meter](q))
            if q > 0 or amount > 0:
                found.append((meter, q, amount))
        return found

    def _wrote(self, customer: str, entries: object) -> None:
        if entries:
            self.last_write[customer] = self.clock.now

    # -- rules ---------------------------------------------------------------------------------

    @initialize(
        usage=st.lists(
            st.tuples(
                st.sampled_from(CUSTOMERS), st.sampled_from(METERS), st.integers(1, 30), st.integers(0, 24 * 31 - 1)
            ),
            min_size=1,
            max_size=12,
        ),
        drafts=st.lists(st.sampled_from(CUSTOMERS), max_size=2),
        credit=st.lists(st.integers(0, 4000), min_size=len(CUSTOMERS), max_size=len(CUSTOMERS)),
    )
    def january(self, usage: list[tuple[str, str, int, int]], drafts: list[str], credit: list[int]) -> None:
        """Some credit, a month of usage recorded at its end, and drafts of its invoices: most
        runs then bill it."""
        for customer, cents in zip(CUSTOMERS, credit, strict=True):
            if cents:
                self.ledger.grant(customer, Decimal(cents) / 100, unit="usd", at=START)
                self.last_write[customer] = START
        self.clock.now = START + timedelta(days=31, hours=1)
        events = [MeterEvent(m, c, v, timestamp=START + timedelta(hours=h)) for c, m, v, h in usage]
        self.billing.meters.record(events, at=self.clock.now)
        self.events += [
            _Event(m, c, START + timedelta(hours=h), Decimal(v), False, self.clock.now) for c, m, v, h in usage
        ]
        for customer in drafts:
            self.create_invoice(customer, 1)

    @rule(hours=st.integers(1, 24 * 12))
    def time_passes(self, hours: int) -> None:
        self.clock.now += timedelta(hours=hours)

    @rule(customer=st.sampled_from(CUSTOMERS), cents=st.integers(1, 2000), days=st.none() | st.integers(1, 60))
    def grant(self, customer: str, cents: int, days: int | None) -> None:
        now = self.clock.now
        expires = None if days is None else now + timedelta(days=days)
        self.ledger.grant(customer, Decimal(cents) / 100, unit="usd", expires_at=expires, at=now)
        self.last_write[customer] = now

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        meter=st.sampled_from(METERS),
        value=st.integers(1, 30),
        back=st.integers(0, 24 * 40),
    )
    def record_event(self, customer: str, meter: str, value: int, back: int) -> None:
        now = self.clock.now
        at = max(START, now - timedelta(hours=back))
        late = self._billed(customer, at)
        try:
            done = self.billing.meters.record([MeterEvent(meter, customer, value, timestamp=at)], at=now)
        except Conflict:
            assert late, f"an event of {customer} at {at} was refused, but no billed period holds it"
            return
        assert not late, f"an event of {customer} at {at} was taken in a billed period"
        assert done.created == 1
        self.events.append(_Event(meter, customer, at, Decimal(value), False, now))

    @rule(customer=st.sampled_from(CUSTOMERS), q=st.integers(1, 15))
    def usage_metered(self, customer: str, q: int) -> None:
        now = self.clock.now
        if now < self.last_write.get(customer, START):
            return
        done = self.billing.usage.record(customer, meter_id="tokens", quantity=q, unit="usd", at=now)
        month = _month((now.year - 2026) * 12 + now.month - 1)
        before = sum(
            (e.value for e in self.events if e.advance and e.customer == customer and month[0] <= e.at <= now),
            Decimal(0),
        )
        expected = _round(_graduated(before + q)) - _round(_graduated(before))
        assert done.charged == expected, f"usage of {q} after {before}: charged {done.charged}, expected {expected}"
        assert done.charged == done.burned + done.shortfall
        self.events.append(_Event("tokens", customer, now, Decimal(q), True, now))
        self._wrote(customer, done.entries)

    @rule(customer=st.sampled_from(CUSTOMERS), cents=st.integers(1, 1500), mode=st.sampled_from(["invoice", "debt"]))
    def charge(self, customer: str, cents: int, mode: str) -> None:
        now = self.clock.now
        if now < self.last_write.get(customer, START):
            return
        done = self.billing.charge(customer, Decimal(cents) / 100, unit="usd", overdraft=mode, at=now)
        self.issued += 1
        assert done.invoice.number == f"INV-{self.issued:04d}"
        status = done.invoice.status
        assert status == ("paid" if done.amount_due == 0 else "issued")
        self.invoices[done.invoice.id] = _Invoice(customer, "charge", status, number=self.issued)
        self._wrote(customer, done.entries)

    @rule(customer=st.sampled_from(CUSTOMERS), back=st.integers(0, 1))
    def create_invoice(self, customer: str, back: int) -> None:
        now = self.clock.now
        start, end = _month(max((now.year - 2026) * 12 + now.month - 1 - back, 0))  # this month or the last
        made = self.billing.invoices.create(customer, start=start, end=end, unit="usd", at=self.clock.now)
        assert made.status == "draft" and made.number is None
        self.invoices[made.id] = _Invoice(customer, "period", "draft", start, end)

    def _pick(self, data: st.DataObject, status: str) -> str | None:
        """An invoice, most often one in ``status`` (the others test the refusals)."""
        if not self.invoices:
            return None
        wanted = sorted(i for i, model in self.invoices.items() if model.status == status)
        if wanted and data.draw(st.integers(0, 3), label="usual") > 0:
            return data.draw(st.sampled_from(wanted), label=f"a {status} invoice")
        return data.draw(st.sampled_from(sorted(self.invoices)), label="any invoice")

    @rule(data=st.data())
    def issue(self, data: st.DataObject) -> None:
        ident = self._pick(data, "draft")
        if ident is None:
            return
        model = self.invoices[ident]
        now = self.clock.now
        if now < self.last_write.get(model.customer, START):
            return  # dated before the customer's last write: refused (tested elsewhere)
        overlap = model.kind == "period" and any(
            other.customer == model.customer and other.kind == "period" and other.status in ("issued", "paid")
            and other.start is not None and other.end is not None and model.start is not None
            and model.end is not None and other.start < model.end and model.start < other.end
            for other in self.invoices.values()
        )  # fmt: skip
        try:
            done = self.billing.invoices.issue(ident, at=now)
        except InvalidState as refused:
            assert model.status != "draft" and refused.status == model.status
            return
        except Conflict:
            assert overlap and model.status == "draft", f"issuing {ident} was refused as overlapping"
            return
        assert model.status == "draft" and not overlap, f"issued {ident} ({model.status}, overlapping: {overlap})"
        invoice = done.invoice
        assert model.start is not None and model.end is not None
        expected = self._lines(model.customer, model.start, model.end, now)
        assert [(li.meter_id, li.quantity, li.amount) for li in invoice.lines] == expected, (
            f"{ident}: lines {invoice.lines}, the model's {expected}"
        )
        self.issued += 1
        assert invoice.number == f"INV-{self.issued:04d}"
        model.status, model.number = invoice.status, self.issued
        assert invoice.status == ("paid" if invoice.amount_due == 0 else "issued")
        self._wrote(model.customer, done.entries)

    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        ident = self._pick(data, "issued")
        if ident is None:
            return
        model = self.invoices[ident]
        try:
            paid = self.billing.invoices.pay(ident, at=self.clock.now)
        except InvalidState as refused:
            assert model.status != "issued" and refused.status == model.status
            return
        assert model.status == "issued" and paid.status == "paid"
        model.status = "paid"

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        ident = self._pick(data, "issued")
        if ident is None:
            return
        model = self.invoices[ident]
        now = self.clock.now
        if model.status == "issued" and now < self.last_write.get(model.customer, START):
            return
        try:
            voided = self.billing.invoices.void(ident, at=now)
        except InvalidState as refused:
            assert model.status not in ("draft", "issued") and refused.status == model.status
            return
        assert model.status in ("draft", "issued") and voided.status == "void"
        if model.status == "issued" and any(li.credit_applied for li in voided.lines):
            self.last_write[model.customer] = now
        model.status = "void"

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def figures_recompute_from_lines(self) -> None:
        for invoice in self.billing.invoices.list(limit=10_000).items:
            lines = invoice.lines
            assert invoice.subtotal == sum((li.amount for li in lines), Decimal(0))
            assert invoice.discount == sum((li.discount for li in lines), Decimal(0))
            assert invoice.tax == sum((li.tax for li in lines), Decimal(0))
            assert invoice.total == invoice.subtotal - invoice.discount + invoice.tax
            assert invoice.credit_applied == sum((li.credit_applied for li in lines), Decimal(0))
            assert invoice.amount_due == invoice.total - invoice.credit_applied >= 0
            for li in lines:
                assert 0 <= li.credit_applied <= li.amount - li.discount + li.tax
            assert invoice.status == self.invoices[invoice.id].status

    @invariant()
    def credit_applied_is_what_the_burns_took(self) -> None:
        for invoice in self.billing.invoices.list(status=["issued", "paid", "void"], limit=10_000).items:
            for line in invoice.lines:
                if line.burn_op_id is None:
                    continue
                entries = self.ledger.entries(op_id=line.burn_op_id, limit=1000).items
                taken = sum((e.amount for e in entries if e.kind == "burn"), Decimal(0))
                assert taken == line.credit_applied, f"{invoice.id}: line {line.id} took {taken}"
                if invoice.status == "void" and taken:
                    with self.ledger.repository.reader() as reader:
                        stored = reader.list_entries(EntryQuery(customer=invoice.customer, limit=100_000))
                    back = sum(e.amount for e in stored if e.kind == "reverse" and e.ref == line.burn_op_id)
                    assert Decimal(back) / 100 == taken, f"{invoice.id}: line {line.id} took {taken}, gave {back}"

    @invariant()
    def numbers_are_gapless_in_issue_order(self) -> None:
        numbered = sorted(i.number for i in self.billing.invoices.list(limit=10_000).items if i.number is not None)
        assert numbered == [f"INV-{n:04d}" for n in range(1, self.issued + 1)]

    @invariant()
    def the_ledger_verifies(self) -> None:
        report = self.ledger.verify()
        assert report.ok, report


def run_billing_machine(factory: Callable[[Clock], Ledger], settings: Settings | None = None) -> None:
    """Run :class:`BillingMachine` on ledgers from ``factory`` (one per example)."""

    class Machine(BillingMachine):
        def make_ledger(self, clock: Clock) -> Ledger:
            return factory(clock)

    run_state_machine_as_test(Machine, settings=settings)

"""The mirror that writes a run through a :class:`~creditcore.ledger.Ledger` (``--db``).

Every operation the core applied is also written through the ledger, at the same instant, so
the ledger holds the whole history; its balances equal the summary. A run goes customer by
customer, so the ledger is written one customer's whole history after the other (each in
time order). :func:`open_ledger` makes the ledger a scenario writes to: a SQLite file, or a
PostgreSQL database that holds no ledger yet (:class:`NotANewLedger` otherwise).

The run names blocks and holds per customer (``b1``, ``job1``); the ledger's hold ids must be
unique in the whole ledger, so the mirror numbers them afresh (``job1``, ``job2``, ...) and
keeps each customer's names apart. A schedule keeps the id the run gave it (made from its rule
and its customer: :meth:`~creditcore.simulate.model.ScheduleRule.schedule_id`), so its blocks
have the same ids in the run and in the ledger. A schedule's periods and the top-ups are due
events and reactions the ledger records on its own, as the core did, at the next write to the
customer or at the end's ``expire_due``.

A scenario with meters also drives :class:`creditcore.billing.Billing` over the ledger: its
meters and prices are created at the start, each metered usage event is recorded (in batches
of up to 100), and each period invoice the run made is created and issued at the same
instant. Each stored invoice must agree with the run's, line by line (quantity, amount,
credit applied) and in total: a run whose ledger disagrees stops with a
:class:`~creditcore.simulate.reading.ScenarioError` saying where.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from creditcore.billing.facade import Billing
from creditcore.billing.model import MeterEvent
from creditcore.ledger import Ledger
from creditcore.simulate.model import BillingPeriod, Scenario
from creditcore.simulate.reading import ScenarioError
from creditcore.state import Burn, Capture, Grant, PlaceHold, Release, ScheduleGrant, SetTopUp, Void
from creditcore.values import to_decimal

_MIRROR_BATCH = 500
#: The most meter events one ``billing.meters.record`` call takes.
_EVENTS_BATCH = 100


@attrs.frozen(kw_only=True)
class InvoiceLine:
    """A line of an invoice as the run made it, in minor units."""

    meter: str
    quantity: int
    """In minor units of the meter (``scale`` places)."""
    scale: int
    amount: int
    credit: int


class _Mirror:
    """Writes what the core applied through a :class:`Ledger` too, in the same order, in
    batches of ``atomic()`` for speed: operations are queued and each batch writes them inside
    one ``with ledger.atomic():`` block. Only operations the core accepted are written, so no
    write is refused (a refusal inside ``atomic()`` would roll the batch back)."""

    def __init__(self, ledger: Ledger, scenario: Scenario) -> None:
        self.ledger = ledger
        self.scale = scenario.scale
        self.unit = scenario.unit
        self.blocks: dict[tuple[str, str], str] = {}
        """(customer, the run's block id) -> the ledger's block id, for a void to come."""
        self.holds: dict[tuple[str, str], str] = {}
        """(customer, the run's hold id) -> the ledger's hold id, while the hold is active."""
        self.numbered = 0
        self.queue: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self.source = scenario.source
        self.events: list[MeterEvent] = []
        """Meter events not yet queued for recording."""
        self.billing: Billing | None = None
        if scenario.billed:
            self.billing = Billing(ledger, timezone=scenario.timezone)
            self.add(self._set_up_billing, self.billing, scenario)

    def __enter__(self) -> _Mirror:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self.flush()
        else:
            self.queue.clear()

    def add(self, write: Callable[..., None], *args: Any) -> None:
        self.queue.append((write, args))
        if len(self.queue) >= _MIRROR_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.queue:
            return
        with self.ledger.atomic():
            for write, args in self.queue:
                write(*args)
        self.queue.clear()

    def amount(self, minor: int) -> Any:
        return to_decimal(minor, self.scale)

    def grant(self, customer: str, command: Grant, at: datetime, keep_id: bool) -> None:
        self.add(self._grant, customer, command, at, keep_id)

    def _grant(self, customer: str, command: Grant, at: datetime, keep_id: bool) -> None:
        result = self.ledger.grant(
            customer,
            self.amount(command.amount),
            unit=self.unit,
            effective_at=command.effective_at,
            expires_at=command.expires_at,
            priority=command.priority,
            category=command.category,
            cost_basis=command.cost_basis,
            scope=command.scope,
            description=command.description,
            single_use=command.single_use,
            at=at,
        )
        if keep_id:
            self.blocks[customer, command.block_id] = result.block.id

    def burn(self, customer: str, command: Burn, at: datetime) -> None:
        self.add(self._burn, customer, command, at)

    def _burn(self, customer: str, command: Burn, at: datetime) -> None:
        self.ledger.burn(
            customer, self.amount(command.amount), unit=self.unit, scope=command.scope,
            overdraft=command.overdraft, at=at,
        )  # fmt: skip

    def hold(self, customer: str, command: PlaceHold, at: datetime) -> None:
        self.numbered += 1
        hold_id = self.holds[customer, command.hold_id] = f"job{self.numbered}"
        self.add(self._hold, customer, hold_id, command, at)

    def _hold(self, customer: str, hold_id: str, command: PlaceHold, at: datetime) -> None:
        self.ledger.hold(
            customer, self.amount(command.amount), hold_id=hold_id, unit=self.unit, scope=command.scope, at=at
        )

    def capture(self, customer: str, command: Capture, at: datetime) -> None:
        self.add(self._capture, self.holds.pop((customer, command.hold_id)), command, at)

    def _capture(self, hold_id: str, command: Capture, at: datetime) -> None:
        assert command.amount is not None
        self.ledger.capture(hold_id, self.amount(command.amount), at=at)

    def release(self, customer: str, command: Release, at: datetime) -> None:
        self.add(self._release, self.holds.pop((customer, command.hold_id)), at)

    def _release(self, hold_id: str, at: datetime) -> None:
        self.ledger.release(hold_id, at=at)

    def void(self, customer: str, command: Void, at: datetime) -> None:
        self.add(self._void, customer, command, at)

    def _void(self, customer: str, command: Void, at: datetime) -> None:
        self.ledger.void(self.blocks.pop((customer, command.block_id)), reason=command.reason, at=at)

    def schedule(self, customer: str, command: ScheduleGrant, at: datetime) -> None:
        self.add(self._schedule, customer, command, at)

    def _schedule(self, customer: str, command: ScheduleGrant, at: datetime) -> None:
        first = command.first_amount
        self.ledger.schedule_grant(
            customer, self.amount(command.amount), every=command.every.text, start=command.start,
            until=command.until, first_amount=None if first is None else self.amount(first),
            rollover_max=self.amount(command.rollover_max), rollover_min=self.amount(command.rollover_min),
            timezone=command.timezone, unit=self.unit, priority=command.priority, category=command.category,
            scope=command.scope, single_use=command.single_use, cost_basis=command.cost_basis,
            settle_debt=command.settle_debt, description=command.description, schedule_id=command.schedule_id, at=at,
        )  # fmt: skip

    def set_top_up(self, customer: str, command: SetTopUp, at: datetime) -> None:
        self.add(self._set_top_up, customer, command, at)

    def _set_top_up(self, customer: str, command: SetTopUp, at: datetime) -> None:
        amount, target, lasts = command.amount, command.target, command.expires_after
        self.ledger.set_top_up(
            customer, unit=self.unit, threshold=self.amount(command.threshold),
            amount=None if amount is None else self.amount(amount),
            target=None if target is None else self.amount(target), category=command.category,
            priority=command.priority, expires_after=None if lasts is None else lasts.text,
            cost_basis=command.cost_basis, at=at,
        )  # fmt: skip

    def remove_top_up(self, customer: str, at: datetime) -> None:
        self.add(self._remove_top_up, customer, at)

    def _remove_top_up(self, customer: str, at: datetime) -> None:
        self.ledger.remove_top_up(customer, unit=self.unit, at=at)

    def forget(self, customer: str, block_id: str) -> None:
        """A block the core found nothing to void in: its ledger id is no longer needed."""
        self.add(self._forget, customer, block_id)

    def _forget(self, customer: str, block_id: str) -> None:
        self.blocks.pop((customer, block_id), None)

    # -- billing -----------------------------------------------------------------------------

    def _set_up_billing(self, billing: Billing, scenario: Scenario) -> None:
        at = scenario.start
        for meter in scenario.meters:
            billing.meters.create(
                meter.name, meter.event_name, aggregation=meter.aggregation, meter_id=meter.id, scale=meter.scale, at=at
            )
        for rule in scenario.prices:
            model = rule.model
            billing.prices.create(
                scenario.meters[rule.meter].id, model=model.model, unit=self.unit, unit_price=model.unit_price,
                tiers=model.tiers, package_size=model.package_size, package_price=model.package_price,
                free_units=model.free_units, at=at,
            )  # fmt: skip

    def meter_event(self, customer: str, meter: str, quantity: int | None, scale: int, at: datetime) -> None:
        """A metered usage event (``quantity`` in minor units of the meter; ``None`` for a count
        meter), recorded with the next batch."""
        value = None if quantity is None else to_decimal(quantity, scale)
        self.events.append(MeterEvent(meter, customer, value, timestamp=at))
        if len(self.events) >= _EVENTS_BATCH:
            self.queue_events()

    def queue_events(self) -> None:
        if self.events:
            assert self.billing is not None
            self.add(self._record, self.billing, tuple(self.events))
            self.events = []

    def _record(self, billing: Billing, events: Sequence[MeterEvent]) -> None:
        # recorded as of the latest of them: every event of a batch comes before the invoice
        # it is billed on, and after it only once that invoice is issued
        latest = max(event.timestamp for event in events if event.timestamp is not None)
        billing.meters.record(list(events), at=latest)

    def invoice(self, customer: str, period: BillingPeriod, at: datetime, lines: tuple[InvoiceLine, ...]) -> None:
        """The period invoice the run made for ``customer`` at ``at``: created and issued in the
        ledger after the events before it, and checked against the run's ``lines``."""
        assert self.billing is not None
        self.queue_events()
        self.add(self._invoice, self.billing, customer, period, at, lines)

    def _invoice(
        self, billing: Billing, customer: str, period: BillingPeriod, at: datetime, lines: tuple[InvoiceLine, ...]
    ) -> None:
        draft = billing.invoices.create(customer, start=period.start, end=period.end, unit=self.unit, at=at)
        invoice = billing.invoices.issue(draft.id, at=at).invoice
        amount = self.amount
        stored = [(line.meter_id, line.quantity, line.amount, line.credit_applied) for line in invoice.lines]
        expected = [
            (line.meter, to_decimal(line.quantity, line.scale), amount(line.amount), amount(line.credit))
            for line in lines
        ]
        revenue = sum(line.amount for line in lines)
        applied = sum(line.credit for line in lines)
        figures = (invoice.total, invoice.credit_applied, invoice.amount_due)
        computed = (amount(revenue), amount(applied), amount(revenue - applied))
        if stored != expected or figures != computed:
            raise ScenarioError(
                self.source, None, "",
                f"the ledger's invoice {invoice.number or invoice.id} for customer {customer!r}, {period.label}, "
                f"disagrees with the run: the ledger has {_invoice_text(stored, figures)}; the run, "
                f"{_invoice_text(expected, computed)}",
            )  # fmt: skip

    def finish(self, end: datetime) -> None:
        self.queue_events()
        self.flush()
        self.ledger.expire_due(at=end)


def _invoice_text(
    lines: Sequence[tuple[str | None, Decimal | None, Decimal, Decimal]], figures: Sequence[Decimal]
) -> str:
    """``meter tokens: 3100 for 4.10, 4.10 of it credit; total 4.10, credit applied 4.10, due 0.00``."""
    total, applied, due = figures
    shown = [
        f"meter {meter}: {quantity} for {price}, {credit} of it credit" for meter, quantity, price, credit in lines
    ]
    return f"{'; '.join([*shown, ''])}total {total}, credit applied {applied}, amount due {due}"


class NotANewLedger(Exception):
    """The PostgreSQL database :func:`open_ledger` was given already holds a ledger's customers
    or entries: a simulation writes a new ledger, never into one in use."""


#: How long PostgreSQL lets a transaction sit idle (seconds): the command line writes a whole
#: run in one transaction, idle while the engine computes the next batch.
_IDLE_TIMEOUT = 600.0


def open_ledger(scenario: Scenario, path: str, *, postgres: bool = False) -> Ledger:
    """The ledger ``scenario`` writes to, its unit declared and its debt limit set: a SQLite
    file at ``path`` (created if missing), or with ``postgres`` the PostgreSQL database at the
    connection string ``path``, its schema created or brought forward. A database whose ledger
    already holds a customer or an entry raises :class:`NotANewLedger` before anything is
    written to it (an empty database, or one with the schema alone, is fine)."""
    limit = None if scenario.debt_limit is None else to_decimal(scenario.debt_limit, scenario.scale)
    # a scenario may lie in the future: its writes are dated by the scenario, not the clock
    if postgres:
        ledger = Ledger.postgres(
            path, migrate=True, max_size=2, idle_timeout=_IDLE_TIMEOUT, debt_limit=limit, future_tolerance=None
        )
    else:
        ledger = Ledger.sqlite(path, durability="normal", debt_limit=limit, future_tolerance=None)
    try:
        if postgres and _holds_a_ledger(ledger):
            raise NotANewLedger("already holds a ledger (customers or entries): a simulation writes a new ledger")
        if scenario.unit != "credits":
            ledger.define_unit(scenario.unit, scenario.scale)
    except BaseException:
        ledger.close()
        raise
    return ledger


def _holds_a_ledger(ledger: Ledger) -> bool:
    """Whether any customer or entry is stored. The feed of entries across customers may leave
    out those of transactions still in flight, so the customers are asked too (each one with a
    committed entry)."""
    if ledger.entries(limit=1).items:
        return True
    with ledger.repository.reader() as reader:
        return bool(reader.customers())

"""The values a :class:`~creditcore.ledger.Ledger` returns: frozen, with exact ``Decimal``
amounts, each a snapshot at one instant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from creditcore.state import BlockState, EntryState, HoldState, Problem, Tally
from creditcore.values import DECIMAL_CONTEXT, to_decimal


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Balance:
    """A customer's balance in one unit at one instant.

    Always ``granted == available + held + used + expired + voided + upcoming``
    (for the balance without ``scope``).

    Without ``scope``, ``available`` counts scoped credit too, which only burns of its scopes
    can use; ``unscoped_available`` is the part that a burn or hold without a scope can use.
    """

    unit: str
    at: datetime
    available: Decimal
    """Credit that a burn or a hold could use now: without ``scope``, all of it, scoped credit
    included; with ``scope``, what a burn of that scope could use."""
    unscoped_available: Decimal
    """The part of ``available`` that a burn or hold with ``scope=None`` can use: credit in
    unscoped blocks. A balance read with ``scope=`` still shows the unscoped part here (a burn
    of that scope uses it too, after the credit of its own scope)."""
    held: Decimal
    """Credit reserved by active holds."""
    granted: Decimal
    """The original amounts of every block granted (moves between blocks count once)."""
    used: Decimal
    """Burns, captures and debt settlement, net of reversals."""
    expired: Decimal
    voided: Decimal
    upcoming: Decimal
    """Credit in blocks not yet effective."""
    debt: Decimal
    """Usage no credit covered, recorded with ``overdraft="debt"`` and not yet settled."""

    @property
    def net(self) -> Decimal:
        """``available - debt`` (exact, whatever the caller's ``decimal`` context)."""
        return DECIMAL_CONTEXT.subtract(self.available, self.debt)

    @classmethod
    def from_tally(cls, tally: Tally, unit: str, scale: int, at: datetime) -> Balance:
        return cls(
            unit=unit,
            at=at,
            **{name: to_decimal(getattr(tally, name), scale) for name in attrs.fields_dict(Tally)},
        )


@attrs.frozen(kw_only=True)
class Block:
    """A block of credit as it stands at one instant."""

    id: str
    customer: str
    unit: str
    amount: Decimal
    remaining: Decimal
    """Credit still in the block, held or not."""
    held: Decimal
    available: Decimal
    """``remaining - held`` while the block is active; otherwise 0."""
    priority: int
    category: str
    cost_basis: Decimal | None
    scope: frozenset[str] | None
    effective_at: datetime
    expires_at: datetime | None
    status: str
    """``upcoming``, ``active``, ``depleted``, ``expired`` or ``voided``."""
    description: str | None
    metadata: Mapping[str, str]
    created_at: datetime
    single_use: bool
    """The first burn or capture that took from it voided the rest of its unheld credit."""
    first_used_at: datetime | None
    """When a burn or capture first took from it (``None`` if none has, by ``at``)."""
    used: Decimal
    """Taken by burns, captures and debt settlements, net of reversals."""
    source: str
    """``grant``, ``refund``, ``schedule``, ``carry``, ``top_up`` or ``move``."""
    refund_of: str | None
    """For a refund's block: the op it refunds."""
    schedule_id: str | None
    """For a schedule's grant or carry block: the schedule."""

    @classmethod
    def from_state(cls, block: BlockState, scale: int, at: datetime) -> Block:
        status = block.status(at)
        return cls(
            id=block.id,
            customer=block.customer,
            unit=block.unit,
            amount=to_decimal(block.amount, scale),
            remaining=to_decimal(block.remaining, scale),
            held=to_decimal(block.held, scale),
            available=to_decimal(block.unheld if status == "active" else 0, scale),
            priority=block.priority,
            category=block.category,
            cost_basis=block.cost_basis,
            scope=block.scope,
            effective_at=block.effective_at,
            expires_at=block.expires_at,
            status=status,
            description=block.description,
            metadata=dict(block.metadata),
            created_at=block.created_at,
            single_use=block.single_use,
            first_used_at=block.first_used_at,
            used=to_decimal(block.used, scale),
            source=block.source,
            refund_of=block.refund_of,
            schedule_id=block.schedule_id,
        )


@attrs.frozen(kw_only=True)
class Hold:
    """A hold as it stands at one instant."""

    id: str
    customer: str
    unit: str
    amount: Decimal
    status: str
    """``active``, ``captured``, ``released`` or ``expired``."""
    allocations: tuple[tuple[str, Decimal], ...]
    """``(block_id, amount)`` pinned at hold time, in burn order."""
    captured: Decimal
    expires_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    scope: frozenset[str] | None
    """The scope set the hold drew with (``None``: unscoped credit only)."""
    categories: frozenset[str] | None
    """The categories the hold drew from (``None``: every category)."""
    description: str | None
    metadata: Mapping[str, str]

    @classmethod
    def from_state(cls, found: HoldState, scale: int, at: datetime | None = None) -> Hold:
        status = found.status_at(at) if at is not None else found.status
        settled_at = found.settled_at
        if status == "expired" and settled_at is None:
            settled_at = found.expires_at
        return cls(
            id=found.id,
            customer=found.customer,
            unit=found.unit,
            amount=to_decimal(found.amount, scale),
            status=status,
            allocations=tuple((block_id, to_decimal(amount, scale)) for block_id, amount in found.allocations),
            captured=to_decimal(found.captured if status == "captured" else 0, scale),
            expires_at=found.expires_at,
            created_at=found.created_at,
            settled_at=settled_at if status != "active" else None,
            scope=found.scope,
            categories=found.categories,
            description=found.description,
            metadata=dict(found.metadata),
        )


@attrs.frozen(kw_only=True)
class Entry:
    """One immutable ledger entry."""

    seq: int
    """Strictly increasing across the ledger."""
    op_id: str
    customer: str
    unit: str
    kind: str
    block_id: str | None
    hold_id: str | None
    amount: Decimal
    """Always positive; ``kind`` says which way it moved."""
    available_after: Decimal
    """The customer's available balance in ``unit`` after this entry."""
    at: datetime
    description: str | None
    metadata: Mapping[str, str]

    @classmethod
    def from_state(cls, entry: EntryState, scale: int) -> Entry:
        return cls(
            seq=entry.seq,
            op_id=entry.op_id,
            customer=entry.customer,
            unit=entry.unit,
            kind=entry.kind,
            block_id=entry.block_id,
            hold_id=entry.hold_id,
            amount=to_decimal(entry.amount, scale),
            available_after=to_decimal(entry.available_after, scale),
            at=entry.at,
            description=entry.description,
            metadata=dict(entry.metadata),
        )


@attrs.frozen(kw_only=True)
class EntryPage:
    """One page of :meth:`Ledger.entries`; pass ``next_cursor`` as ``after`` for the next."""

    items: tuple[Entry, ...] = attrs.field(converter=_tuple)
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Customer:
    """A customer's profile as it stood at one instant (SPEC §15)."""

    id: str
    name: str | None
    email: str | None
    external_id: str | None
    """The app's own id for the customer, unique per ledger."""
    metadata: Mapping[str, str]
    timezone: str | None
    """An IANA zone name, ``None`` until set."""
    created_at: datetime
    """The earlier of the first profile change and the first entry."""
    updated_at: datetime
    """The last profile change by then, else ``created_at``."""


@attrs.frozen(kw_only=True)
class CustomerPage:
    """One page of :meth:`Ledger.customers`; pass ``next_cursor`` as ``after`` for the next
    (``None`` on the last page)."""

    items: tuple[Customer, ...] = attrs.field(converter=_tuple)
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Schedule:
    """A recurring grant as it stood at one instant (SPEC §17)."""

    id: str
    customer: str
    unit: str
    amount: Decimal
    first_amount: Decimal
    every: str
    """The step between periods in its canonical form (``"1 month"``, ``"90 minutes"``)."""
    anchor: datetime
    start: datetime
    until: datetime | None
    timezone: str
    rollover_max: Decimal
    rollover_min: Decimal
    priority: int
    category: str
    scope: frozenset[str] | None
    single_use: bool
    cost_basis: Decimal | None
    settle_debt: bool
    description: str | None
    metadata: Mapping[str, str]
    status: str
    """``active``, ``cancelled`` (from the cancel to the end of the running period) or
    ``ended``."""
    period: int | None
    """The running period's index (0 from ``start``); ``None`` before ``start`` or once ended."""
    period_start: datetime | None
    period_end: datetime | None
    next_at: datetime | None
    """When the next period starts; ``None`` if none will."""
    block_ids: tuple[str, ...] = attrs.field(converter=_tuple)
    """The running period's blocks (its carry, then its grant)."""
    created_at: datetime
    cancelled_at: datetime | None


@attrs.frozen(kw_only=True)
class TopUp:
    """An auto top-up rule of one customer and unit (SPEC §18)."""

    customer: str
    unit: str
    threshold: Decimal
    amount: Decimal | None
    target: Decimal | None
    category: str
    priority: int
    expires_after: str | None
    """How long each top-up's credit lasts (``"30 days"``), or ``None`` for no expiry."""
    cost_basis: Decimal | None
    created_at: datetime
    updated_at: datetime


@attrs.frozen(kw_only=True)
class Alert:
    """A balance alert (SPEC §19)."""

    id: str
    customer: str
    unit: str
    kind: str
    """``depleted``, ``dropped`` or ``recovered``."""
    thresholds: tuple[Decimal, ...] = attrs.field(converter=_tuple)
    """For ``dropped``: the thresholds, descending."""
    created_at: datetime
    removed_at: datetime | None


@attrs.frozen(kw_only=True)
class LedgerEvent:
    """One event of the outbox (SPEC §19): a top-up made, or a balance alert's crossing."""

    seq: int
    id: str
    kind: str
    """``top_up``, ``balance_depleted``, ``balance_dropped`` or ``balance_recovered``."""
    customer: str
    unit: str
    thresholds: tuple[Decimal, ...] = attrs.field(converter=_tuple)
    """The thresholds a ``balance_dropped`` crossed, descending; else empty."""
    previous: Decimal
    """Net (available less debt) before the step."""
    current: Decimal
    """Net after it."""
    amount: Decimal | None
    """A top-up's amount (``current - previous``); ``None`` for an alert."""
    op_id: str
    at: datetime


@attrs.frozen(kw_only=True)
class EventPage:
    """One page of :meth:`Ledger.events`. ``next_cursor`` is never ``None``: it points after
    the last event returned (or where the page started, when it is empty), so a consumer
    stores it and polls with it."""

    items: tuple[LedgerEvent, ...] = attrs.field(converter=_tuple)
    next_cursor: str


@attrs.frozen(kw_only=True)
class BurnPreview:
    """What a burn would draw, without writing anything."""

    allocations: tuple[tuple[str, Decimal], ...]
    shortfall: Decimal


# -- results of writes -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Result:
    """What every write returns."""

    op_id: str
    entries: tuple[Entry, ...] = attrs.field(converter=_tuple)
    """The entries of this operation, in order."""
    replayed: bool = False
    """True when an idempotency key matched an earlier identical call."""


@attrs.frozen(kw_only=True)
class GrantResult(Result):
    block: Block
    """The new block, after any debt it settled."""


@attrs.frozen(kw_only=True)
class BurnResult(Result):
    burned: Decimal
    shortfall: Decimal
    """What no credit covered (``burned + shortfall == amount``)."""
    debt: Decimal
    """What of the shortfall was recorded as debt."""


@attrs.frozen(kw_only=True)
class HoldResult(Result):
    hold: Hold


@attrs.frozen(kw_only=True)
class CaptureResult(Result):
    captured: Decimal
    released: Decimal


@attrs.frozen(kw_only=True)
class ReleaseResult(Result):
    released: Decimal


@attrs.frozen(kw_only=True)
class VoidResult(Result):
    voided: Decimal


@attrs.frozen(kw_only=True)
class ReverseResult(Result):
    reversed: Decimal
    """How much of the op this reversal undid (debt cancelled and credit given back)."""


@attrs.frozen(kw_only=True)
class RefundResult(Result):
    block: Block
    """The new block of fresh credit (``refund_of`` the op), after any debt it settled."""
    refunded: Decimal


@attrs.frozen(kw_only=True)
class ScheduleResult(Result):
    schedule: Schedule
    """The schedule right after the write (``entries`` is empty: its periods' grants are
    their own ops)."""


@attrs.frozen(kw_only=True)
class ChangeExpiryResult(Result):
    block: Block
    """The new block holding the moved credit."""


@attrs.frozen(kw_only=True)
class BalancePoint:
    """The balance right after one moment it changed (see :meth:`Ledger.timeline`)."""

    at: datetime
    available: Decimal
    held: Decimal
    used: Decimal
    expired: Decimal
    debt: Decimal


@attrs.frozen(kw_only=True)
class VerifyReport:
    """The outcome of :meth:`Ledger.verify`: every place storage and entries disagree."""

    customers: int
    entries: int
    problems: tuple[Problem, ...] = attrs.field(converter=_tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"checked {self.customers} customer(s), {self.entries} entries: "
        if self.ok:
            return head + "no problems"
        return head + f"{len(self.problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in self.problems)

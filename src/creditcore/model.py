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
    """The unit of every figure."""
    at: datetime
    """The instant the balance is read at."""
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
    """Credit that expired unused (breakage)."""
    voided: Decimal
    """Credit removed by voids (a single-use block's rest included)."""
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
    """``blk_…``; a schedule's block ``<schedule_id>/<n>`` (its carry ``<schedule_id>/<n>/carry``),
    a top-up's ``<customer>/top_up/<n>``."""
    customer: str
    """The customer whose credit it is."""
    unit: str
    """The unit its amounts are in."""
    amount: Decimal
    """What it was made with: the grant's amount (a move's block: the amount moved in)."""
    remaining: Decimal
    """Credit still in the block, held or not."""
    held: Decimal
    """Credit of it that active holds pin."""
    available: Decimal
    """``remaining - held`` while the block is active; otherwise 0."""
    priority: int
    """0 to 1000; a lower number burns first."""
    category: str
    """``promotional`` or ``paid``."""
    cost_basis: Decimal | None
    """The price paid per unit of credit, for revenue reporting; ``None`` if not given."""
    scope: frozenset[str] | None
    """``None``: any burn may use it; else the scopes it serves (a burn whose scope set meets
    them)."""
    effective_at: datetime
    """When it becomes usable; before then it is upcoming."""
    expires_at: datetime | None
    """When what is left of it unheld expires; ``None``: never."""
    status: str
    """``upcoming``, ``active``, ``depleted``, ``expired`` or ``voided``."""
    description: str | None
    """Yours, as given."""
    metadata: Mapping[str, str]
    """Yours, as given."""
    created_at: datetime
    """When it was made (the burn order's last tie-breaker is the order blocks were made in)."""
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
    """The caller's ``hold_id``."""
    customer: str
    """The customer whose credit it holds."""
    unit: str
    """The unit its amounts are in."""
    amount: Decimal
    """What it pinned when it was placed."""
    status: str
    """``active``, ``captured``, ``released`` or ``expired``."""
    allocations: tuple[tuple[str, Decimal], ...]
    """``(block_id, amount)`` pinned at hold time, in burn order."""
    captured: Decimal
    """What its capture took (0 unless ``status`` is ``captured``)."""
    expires_at: datetime | None
    """When it is released by itself if still active; ``None``: never."""
    created_at: datetime
    """When it was placed."""
    settled_at: datetime | None
    """When it ended (captured, released or timed out); ``None`` while active."""
    scope: frozenset[str] | None
    """The scope set the hold drew with (``None``: unscoped credit only)."""
    categories: frozenset[str] | None
    """The categories the hold drew from (``None``: every category)."""
    description: str | None
    """Yours, as given."""
    metadata: Mapping[str, str]
    """Yours, as given."""

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
    """The operation that wrote it; a due event's own op is named after it (``expire:<block_id>``,
    ``timeout:<hold_id>``, ``settle:<block_id>``, …)."""
    customer: str
    """The customer it belongs to."""
    unit: str
    """The unit of its amount."""
    kind: str
    """``grant``, ``burn``, ``debt``, ``settle``, ``hold``, ``capture``, ``release``, ``expire``,
    ``void``, ``reverse``, ``move_out``, ``move_in`` or ``refund``."""
    block_id: str | None
    """The block whose credit it moved (``None`` for one that moves no block's credit, such as
    ``debt``)."""
    hold_id: str | None
    """The hold it belongs to (a hold, its capture, its release), else ``None``."""
    amount: Decimal
    """Always positive; ``kind`` says which way it moved."""
    available_after: Decimal
    """The customer's available balance in ``unit`` after this entry."""
    at: datetime
    """When it took effect."""
    description: str | None
    """What the operation said it was (a void: its ``reason``; a single-use void:
    ``"single_use"``); ``None`` if nothing."""
    metadata: Mapping[str, str]
    """The operation's metadata."""

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
    """The entries, oldest first."""
    next_cursor: str | None
    """Pass it as ``after`` for the next page; ``None`` on the last page."""


@attrs.frozen(kw_only=True)
class Customer:
    """A customer's profile as it stood at one instant: who the customer is, kept apart from its
    credit (see the Customers page of the docs)."""

    id: str
    """The customer's key in the ledger."""
    name: str | None
    """``None`` until set."""
    email: str | None
    """``None`` until set."""
    external_id: str | None
    """The app's own id for the customer, unique per ledger."""
    metadata: Mapping[str, str]
    """Yours; empty until set."""
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
    """The customers, in the order the ledger first saw them."""
    next_cursor: str | None
    """Pass it as ``after`` for the next page; ``None`` on the last page."""


@attrs.frozen(kw_only=True)
class Schedule:
    """A recurring grant as it stood at one instant: ``amount`` every period from ``start``, with
    what is left carried over up to ``rollover_max`` (see the Time and due events page of the
    docs)."""

    id: str
    """``sch_…`` unless the caller named it."""
    customer: str
    """The customer it grants to."""
    unit: str
    """The unit of its grants."""
    amount: Decimal
    """What each period after the first grants (more when that and the carry fall short of
    ``rollover_min``)."""
    first_amount: Decimal
    """What period 0 grants."""
    every: str
    """The step between periods in its canonical form (``"1 month"``, ``"90 minutes"``)."""
    anchor: datetime
    """What the boundaries count from: ``anchor + k·every``, in ``timezone``."""
    start: datetime
    """When period 0 begins."""
    until: datetime | None
    """No period starts at or after it; ``None``: no end."""
    timezone: str
    """The IANA zone its boundaries are computed in."""
    rollover_max: Decimal
    """The most of a period's unheld credit carried into the next (0: none, a refill)."""
    rollover_min: Decimal
    """The least a period starts with: its grant tops the carry up to it."""
    priority: int
    """Its blocks' priority."""
    category: str
    """Its blocks' category."""
    scope: frozenset[str] | None
    """Its blocks' scope set (``None``: unscoped)."""
    single_use: bool
    """Whether its blocks are single-use."""
    cost_basis: Decimal | None
    """Its blocks' cost basis."""
    settle_debt: bool
    """Whether its grants pay the customer's debt off (an unscoped grant only)."""
    description: str | None
    """Its blocks' description."""
    metadata: Mapping[str, str]
    """Its blocks' metadata."""
    status: str
    """``active``, ``cancelled`` (from the cancel to the end of the running period) or
    ``ended``."""
    period: int | None
    """The running period's index (0 from ``start``); ``None`` before ``start`` or once ended."""
    period_start: datetime | None
    """When the running period began; ``None`` with no running period."""
    period_end: datetime | None
    """When the running period ends; ``None`` with no running period."""
    next_at: datetime | None
    """When the next period starts; ``None`` if none will."""
    block_ids: tuple[str, ...] = attrs.field(converter=_tuple)
    """The running period's blocks (its carry, then its grant)."""
    created_at: datetime
    """When it was made."""
    cancelled_at: datetime | None
    """When it was cancelled; ``None`` if it was not."""


@attrs.frozen(kw_only=True)
class TopUp:
    """An auto top-up rule of one customer and unit: when a step lowers ``net`` to
    ``threshold`` or below, a grant lifts it back above (``amount`` mode: the smallest multiple
    of ``amount`` that does; ``target`` mode: up to ``target``)."""

    customer: str
    """The customer it tops up."""
    unit: str
    """The unit it watches and grants in."""
    threshold: Decimal
    """It fires when a step leaves ``net`` at or below this (any sign)."""
    amount: Decimal | None
    """``amount`` mode: each top-up grants the smallest multiple of it that lifts ``net`` above the
    threshold; else ``None``."""
    target: Decimal | None
    """``target`` mode: each top-up grants what brings ``net`` up to it; else ``None``."""
    category: str
    """The category of the blocks it grants."""
    priority: int
    """The priority of the blocks it grants."""
    expires_after: str | None
    """How long each top-up's credit lasts (``"30 days"``), or ``None`` for no expiry."""
    cost_basis: Decimal | None
    """The cost basis of the blocks it grants."""
    created_at: datetime
    """When the rule was first set."""
    updated_at: datetime
    """When it was last changed."""


@attrs.frozen(kw_only=True)
class Alert:
    """A balance alert: an event in the outbox (:meth:`Ledger.events`) each time a step moves
    the customer's ``net`` in ``unit`` across zero (``depleted``, ``recovered``) or down through
    one of ``thresholds`` (``dropped``)."""

    id: str
    """``alr_…`` unless the caller named it."""
    customer: str
    """The customer it watches."""
    unit: str
    """The unit it watches."""
    kind: str
    """``depleted``, ``dropped`` or ``recovered``."""
    thresholds: tuple[Decimal, ...] = attrs.field(converter=_tuple)
    """For ``dropped``: the thresholds, descending."""
    created_at: datetime
    """When it was added; it watches only later steps."""
    removed_at: datetime | None
    """When it was removed; ``None`` while active."""


@attrs.frozen(kw_only=True)
class LedgerEvent:
    """One event of the outbox (:meth:`Ledger.events`): a top-up made, or a balance alert's
    crossing, written in the transaction of the step that made it."""

    seq: int
    """Strictly increasing across the ledger: the outbox's order."""
    id: str
    """``evt_…``."""
    kind: str
    """``top_up``, ``balance_depleted``, ``balance_dropped`` or ``balance_recovered``."""
    customer: str
    """The customer whose balance moved."""
    unit: str
    """The unit whose balance moved."""
    thresholds: tuple[Decimal, ...] = attrs.field(converter=_tuple)
    """The thresholds a ``balance_dropped`` crossed, descending; else empty."""
    previous: Decimal
    """Net (available less debt) before the step."""
    current: Decimal
    """Net after it."""
    amount: Decimal | None
    """A top-up's amount (``current - previous``); ``None`` for an alert."""
    op_id: str
    """A top-up's own op; for an alert, the write's op (or the last due op of the instant that moved
    net)."""
    at: datetime
    """When the step happened (for due events, their instant)."""


@attrs.frozen(kw_only=True)
class EventPage:
    """One page of :meth:`Ledger.events`. ``next_cursor`` is never ``None``: it points after
    the last event returned (or where the page started, when it is empty), so a consumer
    stores it and polls with it."""

    items: tuple[LedgerEvent, ...] = attrs.field(converter=_tuple)
    """The events, oldest first (by ``seq``)."""
    next_cursor: str
    """Where the next page starts: store it and poll with it as ``after``."""


@attrs.frozen(kw_only=True)
class BurnPreview:
    """What a burn would draw, without writing anything."""

    allocations: tuple[tuple[str, Decimal], ...]
    """``(block_id, amount)`` in the order a burn would draw them."""
    shortfall: Decimal
    """What no credit would cover."""


# -- results of writes -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Result:
    """What every write returns."""

    op_id: str
    """The operation's id (the first call's, on a replay)."""
    entries: tuple[Entry, ...] = attrs.field(converter=_tuple)
    """The entries of this operation, in order."""
    replayed: bool = False
    """True when an idempotency key matched an earlier identical call."""


@attrs.frozen(kw_only=True)
class GrantResult(Result):
    """What :meth:`Ledger.grant` returns."""

    block: Block
    """The new block, after any debt it settled."""


@attrs.frozen(kw_only=True)
class BurnResult(Result):
    """What :meth:`Ledger.burn` returns: ``burned + shortfall == amount``."""

    burned: Decimal
    """What credit paid, drawn from the blocks in burn order."""
    shortfall: Decimal
    """What no credit covered (``burned + shortfall == amount``)."""
    debt: Decimal
    """What of the shortfall was recorded as debt."""


@attrs.frozen(kw_only=True)
class HoldResult(Result):
    """What :meth:`Ledger.hold` returns."""

    hold: Hold
    """The hold as placed, with the blocks it pinned (``allocations``)."""


@attrs.frozen(kw_only=True)
class CaptureResult(Result):
    """What :meth:`Ledger.capture` returns: the hold is then ``captured``."""

    captured: Decimal
    """What the capture took from the pinned blocks."""
    released: Decimal
    """The rest of the hold, given back to its blocks."""


@attrs.frozen(kw_only=True)
class ReleaseResult(Result):
    """What :meth:`Ledger.release` returns: the hold is then ``released``."""

    released: Decimal
    """What went back to the pinned blocks: all the hold pinned."""


@attrs.frozen(kw_only=True)
class VoidResult(Result):
    """What :meth:`Ledger.void` returns."""

    voided: Decimal
    """What was removed from the block's unheld credit."""


@attrs.frozen(kw_only=True)
class ReverseResult(Result):
    """What :meth:`Ledger.reverse` returns."""

    reversed: Decimal
    """How much of the op this reversal undid (debt cancelled and credit given back)."""


@attrs.frozen(kw_only=True)
class RefundResult(Result):
    """What :meth:`Ledger.refund` returns."""

    block: Block
    """The new block of fresh credit (``refund_of`` the op), after any debt it settled."""
    refunded: Decimal
    """The amount given as fresh credit: the new block's amount."""


@attrs.frozen(kw_only=True)
class ScheduleResult(Result):
    """What :meth:`Ledger.schedule_grant` and :meth:`Ledger.cancel_schedule` return."""

    schedule: Schedule
    """The schedule right after the write (``entries`` is empty: its periods' grants are
    their own ops)."""


@attrs.frozen(kw_only=True)
class ChangeExpiryResult(Result):
    """What :meth:`Ledger.change_expiry` returns: credit moved into a new block (the balance does
    not change)."""

    block: Block
    """The new block holding the moved credit."""


@attrs.frozen(kw_only=True)
class BalancePoint:
    """The balance right after one moment it changed (see :meth:`Ledger.timeline`)."""

    at: datetime
    """The moment: an entry's time, or that of an expiry, a hold timeout or an upcoming block
    becoming active."""
    available: Decimal
    """As :attr:`Balance.available`, right after the change."""
    held: Decimal
    """As :attr:`Balance.held`, right after the change."""
    used: Decimal
    """As :attr:`Balance.used`, right after the change."""
    expired: Decimal
    """As :attr:`Balance.expired`, right after the change."""
    debt: Decimal
    """As :attr:`Balance.debt`, right after the change."""


@attrs.frozen(kw_only=True)
class VerifyReport:
    """The outcome of :meth:`Ledger.verify`: every place storage and entries disagree."""

    customers: int
    """How many customers it checked."""
    entries: int
    """How many entries it read."""
    problems: tuple[Problem, ...] = attrs.field(converter=_tuple)
    """Every disagreement it found; empty when storage and entries agree."""

    @property
    def ok(self) -> bool:
        """True when storage and entries agree (no problem found)."""
        return not self.problems

    def __str__(self) -> str:
        head = f"checked {self.customers} customer(s), {self.entries} entries: "
        if self.ok:
            return head + "no problems"
        return head + f"{len(self.problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in self.problems)

"""The pure core's values: the state of one customer's account, its entries and its balance.

Amounts here are integers of minor units (``150`` is 1.50 in a unit of scale 2); the
:class:`~creditcore.ledger.Ledger` turns them into ``Decimal`` at its edge. Every class is
frozen: a rule returns a new state and never changes the one it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs
import immutables

from creditcore.core.index import Index
from creditcore.core.order import DEFAULT_ORDER, BurnOrder
from creditcore.errors import ValidationError

if TYPE_CHECKING:
    from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState

EntryKind = Literal[
    "grant", "burn", "debt", "settle", "hold", "capture", "release",
    "expire", "void", "reverse", "move_out", "move_in", "refund",
]  # fmt: skip
ENTRY_KINDS: tuple[str, ...] = get_args(EntryKind)
HoldStatus = Literal["active", "captured", "released", "expired"]
BlockSource = Literal["grant", "refund", "schedule", "carry", "top_up", "move"]
BLOCK_SOURCES: tuple[str, ...] = get_args(BlockSource)
HOLD_STATUSES: tuple[str, ...] = get_args(HoldStatus)
Overdraft = Literal["reject", "partial", "debt"]


def frozen_dict(value: Mapping[str, str] | None) -> Mapping[str, str]:
    """Metadata as a plain dict of its own (the converter of every ``metadata`` field)."""
    if type(value) is dict:  # the common case, without an ABC check (this runs once per entry)
        return dict(value) if value else {}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("metadata", f"expected a dict of str to str, got {type(value).__name__}")
    return dict(value)


def names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """A set of names as a frozenset (a str is one name): the converter of a hold's scope
    set and categories."""
    if value is None or type(value) is frozenset:
        return value
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


@attrs.frozen(kw_only=True)
class BlockState:
    """One block of credit as the core keeps it."""

    id: str
    customer: str
    unit: str
    number: int
    """Creation order within the customer: the last tie-breaker of every burn order."""
    amount: int
    """Original amount in minor units (for a block made by ``change_expiry``, what moved in)."""
    remaining: int
    """Credit still in the block, held or not."""
    held: int = 0
    """Part of ``remaining`` pinned by active holds."""
    priority: int
    category: str
    cost_basis: Decimal | None = None
    scope: frozenset[str] | None = None
    effective_at: datetime
    expires_at: datetime | None = None
    created_at: datetime
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    origin: str | None = None
    """The block this one was moved from by ``change_expiry`` (it is not granted twice)."""
    settles_debt: bool = False
    """An unscoped block granted with ``settle_debt``: it pays debt off when it becomes active."""
    settle_pending: bool = False
    """Set while an upcoming block still has to settle debt at ``effective_at``."""
    void_closed: bool = False
    """A void took all its unheld credit: credit that comes back is voided at once."""
    emptied_by: str | None = None
    """What last brought ``remaining`` to zero: ``depleted``, ``expired`` or ``voided``."""
    single_use: bool = False
    """The first burn or capture that takes from it voids the rest of its unheld credit."""
    first_used_at: datetime | None = None
    """When a burn or a capture first took from it."""
    used: int = 0
    """Taken by burns, captures and debt settlements, net of reversals."""
    source: BlockSource = "grant"
    """What made it: ``grant``, ``refund``, ``schedule``, ``carry``, ``top_up`` or ``move``."""
    refund_of: str | None = None
    """For a refund's block: the op it refunds."""
    schedule_id: str | None = None
    """For a schedule's grant or carry block: the schedule."""

    @property
    def unheld(self) -> int:
        return self.remaining - self.held

    @property
    def spent(self) -> bool:
        """A single-use block once used: credit that comes back to it is voided at once."""
        return self.single_use and self.first_used_at is not None

    def is_upcoming(self, at: datetime) -> bool:
        return at < self.effective_at

    def is_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at

    def is_active(self, at: datetime) -> bool:
        """Usable at ``at``: ``effective_at <= at < expires_at``."""
        return self.effective_at <= at and (self.expires_at is None or at < self.expires_at)

    def usable_by(self, scope: frozenset[str] | None, categories: frozenset[str] | None = None) -> bool:
        """Eligible for a call with this scope set and categories: an unscoped block serves
        every scope set, a scoped one the sets that intersect its own; ``categories`` None
        takes every category."""
        return (self.scope is None or (scope is not None and not self.scope.isdisjoint(scope))) and (
            categories is None or self.category in categories
        )

    def status(self, at: datetime) -> str:
        if self.remaining == 0 and self.emptied_by is not None:
            return self.emptied_by
        if self.is_upcoming(at):
            return "upcoming"
        if self.is_expired(at):
            return "expired"
        return "active"


@attrs.frozen(kw_only=True)
class HoldState:
    """A hold: credit pinned in specific blocks until it is captured, released or expires."""

    id: str
    customer: str
    unit: str
    amount: int
    allocations: tuple[tuple[str, int], ...]
    """``(block_id, amount)`` pinned at hold time, in burn order."""
    status: HoldStatus = "active"
    captured: int = 0
    scope: frozenset[str] | None = attrs.field(default=None, converter=names)
    """The scope set the hold drew with."""
    categories: frozenset[str] | None = attrs.field(default=None, converter=names)
    expires_at: datetime | None = None
    created_at: datetime
    settled_at: datetime | None = None
    settled_by: str | None = None
    """The op id of the capture, release or timeout that ended the hold."""
    op_id: str
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)

    def status_at(self, at: datetime) -> HoldStatus:
        """The status at ``at``, counting a timeout that is due but not yet recorded."""
        if self.settled_at is not None and self.settled_at <= at:
            return self.status
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


@attrs.frozen(kw_only=True)
class EntryState:
    """One immutable ledger entry. ``seq`` is 0 until a repository stores it."""

    seq: int = 0
    op_id: str
    customer: str
    unit: str
    kind: EntryKind
    block_id: str | None = None
    hold_id: str | None = None
    amount: int
    available_after: int
    at: datetime
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    ref: str | None = None
    """For a ``reverse`` entry: the op it reverses."""
    of_debt: bool = False
    """For a ``reverse`` entry: it undoes the debt part of the op (cancelling debt still owed,
    or giving settled debt back to the block that settled it)."""
    txid: int | None = attrs.field(default=None, eq=False, repr=False)
    """Where a store orders its feed of every customer's entries by the transaction that
    wrote each (PostgreSQL), that transaction's id as read back; ``None`` elsewhere. Not part
    of the entry's value: a cursor's position only."""

    def numbered(self, seq: int) -> EntryState:
        """This entry with the ``seq`` a repository gives it when it stores it (the
        constructor field by field, not attrs.evolve: this runs once per stored entry)."""
        return EntryState(
            seq=seq,
            op_id=self.op_id,
            customer=self.customer,
            unit=self.unit,
            kind=self.kind,
            block_id=self.block_id,
            hold_id=self.hold_id,
            amount=self.amount,
            available_after=self.available_after,
            at=self.at,
            description=self.description,
            metadata=self.metadata,
            ref=self.ref,
            of_debt=self.of_debt,
        )


@attrs.frozen(kw_only=True)
class UnitTotals:
    """Running totals of one unit for one customer (the parts of a balance that live
    outside the blocks still holding credit)."""

    granted: int = 0
    used: int = 0
    expired: int = 0
    voided: int = 0
    debt: int = 0


def _map(value: Mapping[str, Any] | None) -> immutables.Map[str, Any]:
    """Blocks or holds as a persistent map (the converter of ``AccountState.blocks`` and
    ``.holds``): a rule's new state shares all but what it changed with the old one."""
    if type(value) is immutables.Map:
        return value
    if value is None:
        return immutables.Map()
    if not isinstance(value, Mapping):
        raise ValidationError("state", f"expected a mapping of ids, got {type(value).__name__}")
    return immutables.Map(value)


@attrs.frozen(kw_only=True)
class AccountState:
    """Everything the rules need about one customer.

    ``blocks`` holds the blocks that still hold credit (and any others a shell loaded for
    the operation at hand); ``holds`` the active holds. Blocks and holds that end stay in the
    state a rule returns, so the repository can store their final form. Both are persistent
    maps (``immutables.Map``; any mapping given is converted), so the state a rule returns
    shares everything it did not change with the one it was given.
    """

    customer: str
    blocks: Mapping[str, BlockState] = attrs.field(factory=immutables.Map, converter=_map)
    holds: Mapping[str, HoldState] = attrs.field(factory=immutables.Map, converter=_map)
    totals: Mapping[str, UnitTotals] = attrs.field(factory=dict)
    last_at: datetime | None = None
    """Time of the customer's last entry: its history only moves forward from here."""
    next_number: int = 1
    settlements: Mapping[str, tuple[tuple[str, int], ...]] = attrs.field(factory=dict)
    """Per unit, ``(block_id, amount)`` of debt settlements not yet returned by a reversal,
    oldest first: reversing usage that was recorded as debt and then settled gives the
    credit back to the blocks that settled it, latest first."""
    schedules: Mapping[str, ScheduleState] = attrs.field(factory=dict)
    """The customer's schedules that have not ended, by id."""
    top_ups: Mapping[str, TopUpState] = attrs.field(factory=dict)
    """The auto top-up rule of each unit that has one."""
    alerts: Mapping[str, AlertState] = attrs.field(factory=dict)
    """The active balance alerts, by id."""
    _index: Index | None = attrs.field(init=False, default=None, eq=False, repr=False)
    """The derived indexes (:mod:`creditcore.core.index`): made by the rule that made this
    state, or on first use. Never copied by ``attrs.evolve``, which starts a state afresh."""
    _changes: tuple[tuple[BlockState, ...], tuple[HoldState, ...]] | None = attrs.field(
        init=False, default=None, eq=False, repr=False
    )
    """The blocks and holds the rule that made this state created or changed, if a rule did."""
    _settings: Settings | None = attrs.field(init=False, default=None, eq=False, repr=False)
    """The schedules, top-up rules and alerts the rule that made this state changed, and the
    events it wrote, if a rule did."""

    def unit_totals(self, unit: str) -> UnitTotals:
        return self.totals.get(unit) or UnitTotals()

    def index(self, order: BurnOrder | None = None) -> Index:
        """The state's indexes, with the burn sequences in ``order`` (default: whichever
        order they have, or the default order)."""
        index = self._index
        if index is None:
            index = Index.build(self.blocks.values(), self.holds.values(), order or DEFAULT_ORDER, self.last_at)
            object.__setattr__(self, "_index", index)
        elif order is not None and index.order != order:
            index = index.copy()
            index.reorder(order, self.blocks.values())
            object.__setattr__(self, "_index", index)
        return index

    def with_block(self, block: BlockState) -> AccountState:
        """This state with ``block`` put in (one a load leaves out: it has no credit left),
        or itself if it holds the block already. Its index follows, without a rebuild."""
        if block.id in self.blocks:
            return self
        blocks = self.blocks
        assert type(blocks) is immutables.Map
        new = attrs.evolve(self, blocks=blocks.set(block.id, block))
        index = self.index().copy()
        index.moved(None, block)
        object.__setattr__(new, "_index", index)
        return new

    def with_hold(self, found: HoldState) -> AccountState:
        """This state with hold ``found`` put in (one a load leaves out: it has ended), or
        itself if it holds the hold already."""
        if found.id in self.holds:
            return self
        holds = self.holds
        assert type(holds) is immutables.Map
        new = attrs.evolve(self, holds=holds.set(found.id, found))
        index = self.index().copy()
        index.hold_moved(None, found)
        object.__setattr__(new, "_index", index)
        return new

    def changes(self) -> tuple[tuple[BlockState, ...], tuple[HoldState, ...]] | None:
        """The blocks and holds the rule that made this state created or changed (None for a
        state no rule made)."""
        return self._changes

    def settings(self) -> Settings:
        """The settings the rule that made this state changed and the events it wrote
        (nothing, for a state no rule made)."""
        return self._settings or NO_SETTINGS

    def live(self) -> AccountState:
        """The state as a repository loads it back: only the blocks with credit left and the
        active holds (itself when nothing ended, which is most writes)."""
        index = self.index()
        blocks, holds = self.blocks, self.holds
        if len(blocks) == index.live_blocks and len(holds) == index.active_holds:
            return self
        changes = self._changes
        if changes is not None:  # what ended is among what the rule changed
            if len(blocks) != index.live_blocks:
                blocks = _without(blocks, (b.id for b in changes[0] if b.remaining <= 0))
            if len(holds) != index.active_holds:
                holds = _without(holds, (h.id for h in changes[1] if h.status != "active"))
        if len(blocks) != index.live_blocks:
            blocks = immutables.Map({k: b for k, b in blocks.items() if b.remaining > 0})
        if len(holds) != index.active_holds:
            holds = immutables.Map({k: h for k, h in holds.items() if h.status == "active"})
        live = AccountState(
            customer=self.customer,
            blocks=blocks,
            holds=holds,
            totals=self.totals,
            last_at=self.last_at,
            next_number=self.next_number,
            settlements=self.settlements,
            schedules=self.schedules,
            top_ups=self.top_ups,
            alerts=self.alerts,
        )
        object.__setattr__(live, "_index", index)  # it counts live blocks and active holds only
        return live


@attrs.frozen(kw_only=True)
class Settings:
    """What a rule changed besides blocks and holds, for the repository to store: each
    schedule, top-up rule (``(at, unit, rule or None for removed)``) and alert it created or
    changed, whole, and the events it wrote, in order."""

    schedules: tuple[ScheduleState, ...] = ()
    top_ups: tuple[tuple[datetime, str, TopUpState | None], ...] = ()
    alerts: tuple[AlertState, ...] = ()
    events: tuple[EventState, ...] = ()


NO_SETTINGS = Settings()


def _without(found: Mapping[str, Any], ids: Iterable[str]) -> immutables.Map[str, Any]:
    assert type(found) is immutables.Map
    mutation = found.mutate()
    for ident in ids:
        mutation.pop(ident, None)
    return mutation.finish()


@attrs.frozen(kw_only=True)
class Tally:
    """A balance in minor units (see :class:`creditcore.model.Balance`)."""

    available: int = 0
    unscoped_available: int = 0
    """The part of ``available`` in unscoped blocks, which a burn without a scope can use."""
    held: int = 0
    granted: int = 0
    used: int = 0
    expired: int = 0
    voided: int = 0
    upcoming: int = 0
    debt: int = 0


@attrs.frozen(kw_only=True)
class Problem:
    """One disagreement found by :func:`audit`."""

    customer: str
    subject: str
    """What disagrees: ``block <id>``, ``unit <name>``, ``entry #<seq>``, ``hold <id>``."""
    field: str
    stored: str
    recomputed: str
    text: str | None = None

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        return (
            f"customer {self.customer!r}, {self.subject}: {self.field} is {self.stored} in storage "
            f"but {self.recomputed} from the entries"
        )

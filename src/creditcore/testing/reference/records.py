"""What the reference model keeps and what it hands back: dated moves of credit and changes
of debt, blocks, holds and operations as plain dataclasses, the default burn order as one
sort key, and the figures, views and results its walks and writes produce."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
NEVER = datetime.max.replace(tzinfo=UTC)
BALANCE_FIELDS = ("available", "held", "granted", "used", "expired", "voided", "upcoming", "debt")

Fingerprint = tuple[tuple[str, object], ...]
Key = tuple[datetime, int, int, int]
"""Where an event falls in a customer's history: ``(at, tick, rank, n)``. A write's events carry
its ``tick`` (``>= 1``, the order of the model's writes) and are ordered by ``rank`` (a
capture's captures before its release) and ``n`` (the order they were made in). What falls due
by itself at an instant has tick 0, so it comes before any write at that instant, ranked in the
documented same-instant order: schedule carries (-1), expiries (0), hold timeouts (1), upcoming
blocks settling debt (2, in creation order), schedule period grants settling debt (3), top-ups
(4). A write's own top-up takes a tick of its own, after the write's."""

ExpectedEntry = tuple[str, str | None, Decimal]
"""``(kind, block_id, amount)`` of one entry a write is expected to make."""


@dataclass(frozen=True)
class Move:
    """Credit one write took out of a block or gave back to it."""

    at: datetime
    tick: int
    n: int
    kind: str
    """Out of the block: ``burn``, ``capture``, ``void``, ``move_out`` (to a new block by
    ``change_expiry``); back into it: ``return`` (a reversal). (A single-use block's own void
    is not kept: the walk derives it, like an expiry.)"""
    amount: Decimal
    rank: int = 0
    """-1 for a schedule's carry (carries come first at their instant)."""

    @property
    def key(self) -> Key:
        return (self.at, self.tick, self.rank, self.n)


@dataclass(frozen=True)
class DebtChange:
    """A write's change to a customer's debt in one unit."""

    customer: str
    unit: str
    at: datetime
    tick: int
    n: int
    kind: str
    """``debt`` (a burn's uncovered part), ``cancel`` (a reversal cancelling debt still owed)
    or ``unsettle`` (a reversal giving settled debt back to the settling blocks)."""
    amount: Decimal

    @property
    def key(self) -> Key:
        return (self.at, self.tick, 0, self.n)


@dataclass
class RefBlock:
    id: str
    customer: str
    unit: str
    amount: Decimal
    priority: int
    category: str
    cost_basis: Decimal | None
    scope: frozenset[str] | None
    effective_at: datetime
    expires_at: datetime | None
    created_at: datetime
    number: int
    """Creation order (only its order within a customer matters)."""
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    origin: str | None = None
    """The block ``change_expiry`` moved this one's credit from, or ``"carry"`` for a
    schedule's carry block (moved credit is not granted again)."""
    settle_key: Key | None = None
    """When the block pays debt off, if it does: as it is granted, or at ``effective_at``."""
    moves: list[Move] = field(default_factory=list)
    single_use: bool = False
    """The first burn or capture that takes from it voids the rest of its unheld credit."""
    source: str = "grant"
    """``grant``, ``refund``, ``move``, ``schedule``, ``carry`` or ``top_up``."""
    refund_of: str | None = None
    """For a refund's block: the op it refunds."""
    schedule_id: str | None = None
    """For a schedule's grant or carry block: its schedule."""

    def usable_by(self, scope: frozenset[str] | None) -> bool:
        """Unscoped credit serves every call; scoped credit, a call whose scope set meets its own."""
        return self.scope is None or (scope is not None and bool(self.scope & scope))

    def eligible_for(self, scope: frozenset[str] | None, categories: frozenset[str] | None) -> bool:
        """Whether a call with ``scope`` and ``categories`` may use the block: it must pass both the
        scope test and the category test."""
        return self.usable_by(scope) and (categories is None or self.category in categories)

    def expired_at(self, t: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= t

    def active_at(self, t: datetime) -> bool:
        return self.effective_at <= t and not self.expired_at(t)


def burn_order_key(block: RefBlock) -> tuple[Any, ...]:
    """The default burn order, key by key."""
    return (
        block.priority,  # 1. lower priority number first
        block.expires_at is None,  # 2. sooner expiry first, never-expiring last
        block.expires_at or NEVER,
        block.scope is None,  # 3. scoped before unscoped
        block.category != "promotional",  # 4. promotional before paid,
        block.cost_basis if block.cost_basis is not None else ZERO,  # then cost basis (None = 0)
        block.effective_at,  # 5.
        block.number,  # 6. creation order
    )


@dataclass
class RefHold:
    id: str
    customer: str
    unit: str
    amount: Decimal
    scope: frozenset[str] | None
    expires_at: datetime | None
    created_at: datetime
    allocations: list[tuple[str, Decimal]]
    categories: frozenset[str] | None = None
    tick: int = 0
    ended_at: datetime | None = None
    end_kind: str | None = None
    """``capture`` or ``release`` once a call ended it."""
    end_amount: Decimal | None = None
    """What the ending capture asked for (0 for a release), to tell a replay from a conflict."""
    end_tick: int = 0
    end_result: RefResult | None = None

    def status_at(self, t: datetime) -> str:
        if self.ended_at is not None and self.ended_at <= t:
            return "captured" if self.end_kind == "capture" else "released"
        if self.expires_at is not None and self.expires_at <= t:
            return "expired"
        return "active"

    def end_time(self) -> datetime | None:
        """When the pins came off: the capture or release, else the timeout."""
        return self.ended_at if self.ended_at is not None else self.expires_at


@dataclass
class RefOp:
    """A write that succeeded, as ``reverse`` needs it."""

    id: str
    kind: str
    customer: str
    unit: str
    taken: list[tuple[str, Decimal]] = field(default_factory=list)
    """``(block_id, amount)`` a burn or capture drew, in the order it drew them."""
    debt: Decimal = ZERO
    """What a burn recorded as debt."""
    given_back: dict[str, Decimal] = field(default_factory=dict)
    """What its reversals gave back to each drawn block."""
    debt_undone: Decimal = ZERO
    """What its reversals undid of the debt (cancelled or given back to settling blocks)."""
    refunded: Decimal = ZERO
    """What its refunds gave as fresh credit."""
    wrote: bool = True
    """Whether it wrote any entry (a burn with nothing to draw and no debt writes none)."""

    def took(self) -> Decimal:
        """What it took: a burn's draws and debt, a capture's draws."""
        return sum((a for _, a in self.taken), ZERO) + self.debt

    def left(self) -> Decimal:
        """What is left to reverse or refund (reversals and refunds of one op together stay
        within what it took)."""
        return self.took() - sum(self.given_back.values(), ZERO) - self.debt_undone - self.refunded


@dataclass(frozen=True)
class RefResult:
    """What a write returned, as the model sees it."""

    kind: str
    values: Mapping[str, object]
    """Expected attributes of the ledger's result, by dotted path (``"block.remaining"``)."""
    draws: tuple[tuple[str, Decimal], ...] = ()
    """``(block_id, amount)`` the operation drew, in order (burn, hold and capture entries)."""
    replayed: bool = False
    entries: tuple[ExpectedEntry, ...] | None = None
    """Every entry of the operation, in order, where the model spells them out."""


@dataclass(frozen=True)
class BlockFigures:
    remaining: Decimal
    held: Decimal
    available: Decimal
    used: Decimal
    expired: Decimal
    upcoming: bool
    status: str
    voided: Decimal = ZERO
    closed: bool = False
    """A void left it with nothing unheld: credit that comes back is voided at once."""
    lapsed: Decimal = ZERO
    """What its expiry itself took (its unheld credit at ``expires_at``)."""
    first_used_at: datetime | None = None
    """When a burn or capture first took from it."""


@dataclass(frozen=True)
class DebtView:
    """A customer's debt in one unit at some instant, and what settled it."""

    debt: Decimal
    stack: tuple[tuple[str, Decimal], ...]
    """``(block_id, amount)`` of settlements not given back, oldest first."""
    settled: Mapping[str, Decimal]
    """What each settling block paid off (only those that paid something)."""


@dataclass(frozen=True)
class HoldView:
    id: str
    status: str
    amount: Decimal
    captured: Decimal
    allocations: tuple[tuple[str, Decimal], ...]
    expires_at: datetime | None
    settled_at: datetime | None
    scope: frozenset[str] | None = None
    categories: frozenset[str] | None = None


@dataclass
class KeyRecord:
    kind: str
    fingerprint: Fingerprint
    result: RefResult


def replayed(result: RefResult) -> RefResult:
    return RefResult(kind=result.kind, values=result.values, draws=result.draws, replayed=True, entries=result.entries)

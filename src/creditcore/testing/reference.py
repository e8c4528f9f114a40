"""A reference ledger: SPEC.md written down as plainly as possible, for the state machine.

It shares no code with the ledger's rules (``creditcore.rules``, ``state``, ``order``):
blocks and holds are plain dataclasses in dicts and lists, amounts are ``Decimal``, the
default burn order is one sort key spelled out from SPEC §5, and expiry is decided by
comparing times whenever something is read. Nothing is recorded "lazily": every figure at
time ``t`` is recomputed from the events dated at or before ``t``, which also makes reads of
the past and of the future free. It is slow and meant to be obviously right: a bug that
survives the state machine has to be in both.

What the model keeps is what the callers did, dated: each block's :class:`Move` list (credit
a write took out of it or gave back to it: burns, captures, voids, moves to a new block by
``change_expiry``, a reversal's returns), the holds, and each customer's
:class:`DebtChange` list (debt a burn recorded, debt a reversal cancelled or handed back to
the blocks that settled it). Everything that happens by itself is derived when read, in one
walk through a block's events in time order (:meth:`ReferenceLedger.figures`): expiry takes
the unheld credit at ``expires_at``; a hold's credit comes back when it is released or times
out; credit that comes back into an expired block expires at once, into a voided block
(one a void left with nothing unheld) is voided at once; an unscoped block granted with
``settle_debt`` pays off debt the moment it becomes active (at the grant, or at its
``effective_at``). What a block settles depends on the debt then, so settlements come from a
walk through the customer's debt changes and settling blocks in time order
(:meth:`ReferenceLedger.debt_view`). The order of events at one instant is spelled out by
:data:`Key`.

The write methods take the ledger's arguments and raise the ledger's error classes
(:mod:`creditcore.errors`), so the machine can compare outcomes one to one. The machine
passes the ids the ledger made (``block_id``, ``new_block_id``, ``new_op_id``) so that later
calls can name blocks and operations the same way on both.

Where SPEC §3 leaves the order of two checks to judgement, the model follows its stated
order: arguments (types, ranges, precision, ``expires_at`` after an explicit
``effective_at``, a capture within the hold), then the idempotency key (for a capture or
release: the hold's ending call, replayed or refused with ``HoldNotActive``), then time
order, then state. Void, reverse and change_expiry first need their block or operation to
know the unit, so an unknown one raises ``NotFound`` before precision and key are looked at;
what the target is (a reversal of an op that is neither a burn nor a capture) and what it
has left count as state. Choices the README documents are followed: a reversal undoes the
debt part first (cancelling what is still owed, then giving settled debt back to the
settling blocks, latest settlement first), then gives credit back to the drawn blocks in the
reverse of the draw order; ``change_expiry`` refuses ``expires_at`` not after ``at`` (an
argument, checked once ``at`` is known), then an empty block (``Conflict``), then an
``expires_at`` not after the block's ``effective_at``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from creditcore.errors import (
    Conflict,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    ValidationError,
)

ZERO = Decimal(0)
_NEVER = datetime.max.replace(tzinfo=UTC)
_MAX_MINOR = 2**63 - 1
BALANCE_FIELDS = ("available", "held", "granted", "used", "expired", "voided", "upcoming", "debt")

Fingerprint = tuple[tuple[str, object], ...]
Key = tuple[datetime, int, int, int]
"""Where an event falls in a customer's history: ``(at, tick, rank, n)``. A write's events
carry its ``tick`` (``>= 1``, the order of the model's writes) and are ordered by ``rank``
(a capture's captures before its release) and ``n`` (the order they were made in). What
falls due by itself at an instant has tick 0, so it comes before any write at that instant,
ranked: expiries (0), then hold timeouts (1), then upcoming blocks settling debt (2, in
creation order)."""

ExpectedEntry = tuple[str, str | None, Decimal]
"""``(kind, block_id, amount)`` of one entry a write is expected to make."""


# -- values --------------------------------------------------------------------------------


def _number(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError(name, f"{type(value).__name__} is not an amount")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValidationError(name, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValidationError(name, "not finite")
    return number


def check_sign(value: object, name: str = "amount", *, allow_zero: bool = False) -> None:
    """An amount's type and sign, before its unit (and so its precision) is known."""
    number = _number(value, name)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(name, "must be positive")


def parse_amount(value: object, scale: int, name: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """An exact amount with at most ``scale`` decimal places, judged by value (SPEC §1)."""
    number = _number(value, name)
    minor = number.scaleb(scale)
    if minor != minor.to_integral_value():
        raise ValidationError(name, f"more than {scale} decimal places")
    if abs(minor) > _MAX_MINOR:
        raise ValidationError(name, "does not fit in 64 bits")
    if number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(name, "must be positive")
    return number + 0  # normalises -0


def _parse_cost_basis(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError("cost_basis", f"{type(value).__name__} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValidationError("cost_basis", f"{value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValidationError("cost_basis", "must be a finite number >= 0")
    return number


def parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "needs a timezone-aware datetime")
    return value


def parse_optional_time(value: object, name: str) -> datetime | None:
    return None if value is None else parse_time(value, name)


def parse_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationError(name, "needs a non-empty str of at most 200 characters")
    return value


def parse_optional_id(value: object, name: str) -> str | None:
    return None if value is None else parse_id(value, name)


def parse_text(value: object, name: str) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        raise ValidationError(name, "needs a str of at most 2,000 characters")
    return value


# -- what the model keeps -------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """Credit one write took out of a block or gave back to it."""

    at: datetime
    tick: int
    n: int
    kind: str
    """Out of the block: ``burn``, ``capture``, ``void``, ``move_out`` (to a new block by
    ``change_expiry``); back into it: ``return`` (a reversal)."""
    amount: Decimal

    @property
    def key(self) -> Key:
        return (self.at, self.tick, 0, self.n)


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
    """The block ``change_expiry`` moved this one's credit from (it is not granted again)."""
    settle_key: Key | None = None
    """When the block pays debt off, if it does: as it is granted, or at ``effective_at``."""
    moves: list[Move] = field(default_factory=list)

    def usable_by(self, scope: str | None) -> bool:
        return self.scope is None or (scope is not None and scope in self.scope)

    def expired_at(self, t: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= t

    def active_at(self, t: datetime) -> bool:
        return self.effective_at <= t and not self.expired_at(t)


def burn_order_key(block: RefBlock) -> tuple[Any, ...]:
    """SPEC §5, the default order, key by key."""
    return (
        block.priority,  # 1. lower priority number first
        block.expires_at is None,  # 2. sooner expiry first, never-expiring last
        block.expires_at or _NEVER,
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
    scope: str | None
    expires_at: datetime | None
    created_at: datetime
    allocations: list[tuple[str, Decimal]]
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
    wrote: bool = True
    """Whether it wrote any entry (a burn with nothing to draw and no debt writes none)."""

    def left(self) -> Decimal:
        """What is left to reverse."""
        return (
            sum((a for _, a in self.taken), ZERO) + self.debt - sum(self.given_back.values(), ZERO) - self.debt_undone
        )


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


@dataclass
class _KeyRecord:
    kind: str
    fingerprint: Fingerprint
    result: RefResult


# -- the reference ledger --------------------------------------------------------------------


class ReferenceLedger:
    """The naive model the state machine checks the real ledger against."""

    def __init__(self, units: Mapping[str, int], clock: Callable[[], datetime]) -> None:
        self.units = {"credits": 0, **units}
        self.clock = clock
        self.blocks: dict[str, RefBlock] = {}
        self.holds: dict[str, RefHold] = {}
        self.ops: dict[str, RefOp] = {}
        self.debt_changes: list[DebtChange] = []
        self.keys: dict[tuple[str, str], _KeyRecord] = {}
        self.last_entry: dict[str, datetime] = {}
        self._ticks = itertools.count(1)
        self._numbers = itertools.count(1)
        self._n = itertools.count(1)
        self._cache: dict[tuple[object, ...], Any] = {}
        """Figures already worked out since the last change (reads repeat a lot)."""

    def _changed(self) -> None:
        self._cache.clear()

    # -- time --------------------------------------------------------------------------

    def last_entry_at(self, customer: str) -> datetime | None:
        return self.last_entry.get(customer)

    def read_time(self, customer: str, at: datetime | None = None) -> datetime:
        if at is not None:
            return at
        last = self.last_entry.get(customer)
        now = self.clock()
        return last if last is not None and last > now else now

    def _write_time(self, customer: str, at: datetime | None) -> datetime:
        last = self.last_entry.get(customer)
        if at is not None and last is not None and at < last:
            raise ValidationError("at", "earlier than the customer's last entry")
        return self.read_time(customer, at)

    def _wrote(self, customer: str, at: datetime, own_entries: bool) -> None:
        """Move the customer's last entry time: lazily recorded expiries, hold timeouts and
        settlements are entries dated when they fell due, and the write's own entries are
        dated ``at``."""
        self._changed()
        times = [at] if own_entries else []
        for block in self._blocks_of(customer):
            x = block.expires_at
            if x is not None and block.created_at <= x <= at and self.figures(block, x).lapsed > 0:
                times.append(x)
            k = block.settle_key
            if k is not None and k[1] == 0 and k[0] <= at and self._settled_by(block) > 0:
                times.append(k[0])
        for found in self.holds.values():
            timed_out = found.ended_at is None and found.expires_at is not None and found.expires_at <= at
            if found.customer == customer and timed_out:
                assert found.expires_at is not None
                times.append(found.expires_at)
        last = self.last_entry.get(customer)
        if last is not None:
            times.append(last)
        if times:
            self.last_entry[customer] = max(times)

    # -- lookups -----------------------------------------------------------------------

    def _scale(self, unit: object) -> tuple[str, int]:
        name = parse_id(unit, "unit")
        if name not in self.units:
            raise ValidationError("unit", f"unknown unit {name!r}")
        return name, self.units[name]

    def _blocks_of(self, customer: str, unit: str | None = None) -> list[RefBlock]:
        return [b for b in self.blocks.values() if b.customer == customer and (unit is None or b.unit == unit)]

    def _known_block(self, block_id: str) -> RefBlock:
        found = self.blocks.get(block_id)
        if found is None:
            raise NotFound(f"no block {block_id!r}")
        return found

    def _op_id(self, given: str | None) -> str:
        return given if given is not None else f"ref-op-{next(self._n)}"

    def unheld(self, block: RefBlock, t: datetime) -> Decimal:
        """What a void or ``change_expiry`` at ``t`` could take: credit not held, not expired
        (an upcoming block's credit counts)."""
        f = self.figures(block, t)
        return f.remaining - f.held

    # -- debt --------------------------------------------------------------------------

    def debt_view(self, customer: str, unit: str, until: datetime | None = None) -> DebtView:
        """Walk the debt changes and the settling blocks in time order up to ``until`` (all
        of them: ``None``): a settling block pays off what is owed when it becomes active, up
        to its unheld credit then; a reversal's ``unsettle`` takes from the latest
        settlement first."""
        cache_key = ("debt", customer, unit, until)
        if cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[no-any-return]
        events: list[tuple[Key, DebtChange | RefBlock]] = [
            (c.key, c) for c in self.debt_changes if c.customer == customer and c.unit == unit
        ]
        events += [(b.settle_key, b) for b in self._blocks_of(customer, unit) if b.settle_key is not None]
        events.sort(key=lambda item: item[0])
        debt = ZERO
        stack: list[tuple[str, Decimal]] = []
        settled: dict[str, Decimal] = {}
        for key, event in events:
            if until is not None and key[0] > until:
                break
            if isinstance(event, RefBlock):
                # an upcoming block can only have been voided or moved before it settles
                out = sum((m.amount for m in event.moves if m.kind in ("void", "move_out") and m.key < key), ZERO)
                pay = min(debt, event.amount - out)
                if pay > 0:
                    debt -= pay
                    stack.append((event.id, pay))
                    settled[event.id] = pay
            elif event.kind == "debt":
                debt += event.amount
            elif event.kind == "cancel":
                debt -= event.amount
            else:  # unsettle: the latest settlements first
                left = event.amount
                while left:
                    block_id, amount = stack.pop()
                    if amount > left:
                        stack.append((block_id, amount - left))
                    left -= min(left, amount)
        view = DebtView(debt=debt, stack=tuple(stack), settled=settled)
        self._cache[cache_key] = view
        return view

    def _settled_by(self, block: RefBlock) -> Decimal:
        if block.settle_key is None:
            return ZERO
        return self.debt_view(block.customer, block.unit).settled.get(block.id, ZERO)

    # -- one block ---------------------------------------------------------------------

    def figures(self, block: RefBlock, t: datetime) -> BlockFigures:
        """The block at ``t``: its events dated at or before ``t``, in time order."""
        cache_key = ("block", block.id, t)
        if cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[no-any-return]
        events: list[tuple[Key, str, Decimal]] = [(m.key, m.kind, m.amount) for m in block.moves if m.at <= t]
        if block.settle_key is not None and block.settle_key[0] <= t and self._settled_by(block):
            events.append((block.settle_key, "settle", self._settled_by(block)))
        for found in self.holds.values():
            pinned = sum((a for b, a in found.allocations if b == block.id), ZERO)
            if not pinned or found.created_at > t:
                continue
            events.append(((found.created_at, found.tick, 0, 0), "pin", pinned))
            if found.ended_at is not None:
                if found.ended_at <= t:  # what the capture did not take comes back
                    taken = sum(
                        (m.amount for m in block.moves if m.kind == "capture" and m.tick == found.end_tick), ZERO
                    )
                    events.append(((found.ended_at, found.end_tick, 1, 0), "unpin", pinned - taken))
            elif found.expires_at is not None and found.expires_at <= t:
                events.append(((found.expires_at, 0, 1, 0), "unpin", pinned))
        if block.expires_at is not None and block.expires_at <= t:
            events.append(((block.expires_at, 0, 0, 0), "expiry", ZERO))
        events.sort(key=lambda item: item[0])

        remaining, held, used, expired, voided, lapsed = block.amount, ZERO, ZERO, ZERO, ZERO, ZERO
        emptied: str | None = None
        closed = False
        for (when, *_), kind, amount in events:
            out = ZERO
            why = "depleted"
            if kind == "pin":
                held += amount
            elif kind in ("burn", "settle", "capture"):
                out = amount
                used += amount
                held -= amount if kind == "capture" else ZERO
            elif kind == "void":
                out, why = amount, "voided"
                voided += amount
            elif kind == "move_out":
                out = amount
            elif kind == "expiry":
                out, why = remaining - held, "expired"
                expired += out
                lapsed = out
            else:  # credit comes back: a reversal's return, or a hold's release or timeout
                if kind == "return":
                    remaining += amount
                    used -= amount
                else:
                    held -= amount
                if amount and block.expired_at(when):
                    out, why = amount, "expired"
                    expired += amount
                elif amount and closed:
                    out, why = amount, "voided"
                    voided += amount
            if out:
                remaining -= out
                if remaining == 0:
                    emptied = why
            if kind == "void":
                closed = closed or remaining == held

        upcoming = t < block.effective_at
        if remaining == 0 and emptied is not None:
            status = emptied
        elif upcoming:
            status = "upcoming"
        elif block.expired_at(t):
            status = "expired"
        else:
            status = "active"
        available = remaining - held if status == "active" else ZERO
        found_figures = BlockFigures(
            remaining=remaining,
            held=held,
            available=available,
            used=used,
            expired=expired,
            upcoming=upcoming,
            status=status,
            voided=voided,
            closed=closed,
            lapsed=lapsed,
        )
        self._cache[cache_key] = found_figures
        return found_figures

    # -- keys --------------------------------------------------------------------------

    def _replay(self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint) -> RefResult | None:
        if key is None:
            return None
        record = self.keys.get((namespace, key))
        if record is None:
            return None
        if record.kind != kind:
            raise IdempotencyConflict(key, "operation", f"it was a {record.kind}")
        for (name, was), (_, now) in zip(record.fingerprint, fingerprint, strict=True):
            if was != now:
                raise IdempotencyConflict(key, name, f"{was!r} then, {now!r} now")
        return _replayed(record.result)

    def _remember(
        self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint, result: RefResult
    ) -> None:
        if key is not None:
            self.keys[(namespace, key)] = _KeyRecord(kind, fingerprint, result)

    # -- burn order --------------------------------------------------------------------

    def plan(
        self, customer: str, unit: str, scope: str | None, amount: Decimal, t: datetime
    ) -> tuple[list[tuple[str, Decimal]], Decimal]:
        """What a burn of ``amount`` at ``t`` would draw, in order, and the shortfall."""
        eligible = [
            b for b in self._blocks_of(customer, unit)
            if b.created_at <= t and b.active_at(t) and b.usable_by(scope) and self.figures(b, t).available > 0
        ]  # fmt: skip
        eligible.sort(key=burn_order_key)
        plan: list[tuple[str, Decimal]] = []
        need = amount
        for block in eligible:
            if need == 0:
                break
            take = min(need, self.figures(block, t).available)
            plan.append((block.id, take))
            need -= take
        return plan, need

    # -- writes ------------------------------------------------------------------------

    def grant(
        self,
        customer: str,
        amount: object,
        *,
        unit: str = "credits",
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        priority: int = 50,
        category: str = "promotional",
        cost_basis: object = None,
        scope: Iterable[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        settle_debt: bool | None = None,
        at: datetime | None = None,
        block_id: str | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        effective = parse_optional_time(effective_at, "effective_at")
        expires = parse_optional_time(expires_at, "expires_at")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise ValidationError("priority", "an int in 0..1000")
        if category not in ("promotional", "paid"):
            raise ValidationError("category", "promotional or paid")
        basis = None if cost_basis is None else _parse_cost_basis(cost_basis)
        scopes = None if scope is None else frozenset(parse_id(s, "scope") for s in scope)
        if scopes is not None and not scopes:
            raise ValidationError("scope", "must not be empty")
        meta = dict(metadata or {})
        key = parse_optional_id(idempotency_key, "idempotency_key")
        if settle_debt is not None and not isinstance(settle_debt, bool):
            raise ValidationError("settle_debt", "True or False")
        settles = True if settle_debt is None else settle_debt
        when = parse_optional_time(at, "at")
        if effective is not None and expires is not None and expires <= effective:
            raise ValidationError("expires_at", "must be later than effective_at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("effective_at", effective),
            ("expires_at", expires), ("priority", priority), ("category", category), ("cost_basis", basis),
            ("scope", scopes), ("description", description), ("metadata", meta), ("settle_debt", settles),
        )  # fmt: skip
        replay = self._replay("key", key, "grant", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        if expires is not None and expires <= t:
            raise ValidationError("expires_at", "must be later than the grant time")
        tick = next(self._ticks)
        number = next(self._numbers)
        starts = effective if effective is not None else t
        settle_key: Key | None = None
        if settles and scopes is None:  # only unscoped credit pays debt off, when it becomes active
            settle_key = (t, tick, 0, next(self._n)) if starts <= t else (starts, 0, 2, number)
        block = RefBlock(
            id=block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=customer,
            unit=unit,
            amount=value,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scopes,
            effective_at=starts,
            expires_at=expires,
            created_at=t,
            number=number,
            description=description,
            metadata=meta,
            settle_key=settle_key,
        )
        self.blocks[block.id] = block
        self._wrote(customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "grant", customer, unit)
        settled = self._settled_by(block) if starts <= t else ZERO
        entries: list[ExpectedEntry] = [("grant", block.id, value)]
        if settled:
            entries.append(("settle", block.id, settled))
        result = RefResult(
            kind="grant",
            values={"block.id": block.id, **self._block_values(block, t)},
            entries=tuple(entries),
        )
        self._remember("key", key, "grant", fingerprint, result)
        return result

    def _block_values(self, block: RefBlock, t: datetime) -> dict[str, object]:
        """A block in a write's result, as of the write."""
        figures = self.figures(block, t)
        return {
            "block.customer": block.customer,
            "block.unit": block.unit,
            "block.amount": block.amount,
            "block.remaining": figures.remaining,
            "block.held": figures.held,
            "block.available": figures.available,
            "block.status": figures.status,
            "block.priority": block.priority,
            "block.category": block.category,
            "block.cost_basis": block.cost_basis,
            "block.scope": block.scope,
            "block.effective_at": block.effective_at,
            "block.expires_at": block.expires_at,
            "block.created_at": block.created_at,
            "block.description": block.description,
            "block.metadata": block.metadata,
        }

    def burn(
        self,
        customer: str,
        amount: object,
        *,
        unit: str = "credits",
        scope: str | None = None,
        overdraft: str = "reject",
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        if overdraft not in ("reject", "partial", "debt"):
            raise ValidationError("overdraft", "reject, partial or debt")
        meta = dict(metadata or {})
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("scope", scope), ("overdraft", overdraft),
            ("description", description), ("metadata", meta),
        )  # fmt: skip
        replay = self._replay("key", key, "burn", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        plan, shortfall = self.plan(customer, unit, scope, value, t)
        if shortfall and overdraft == "reject":
            raise InsufficientCredits(value, value - shortfall, unit)
        debt = shortfall if overdraft == "debt" else ZERO
        tick = next(self._ticks)
        for block_id, take in plan:
            self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "burn", take))
        if debt:
            self.debt_changes.append(DebtChange(customer, unit, t, tick, next(self._n), "debt", debt))
        burned = value - shortfall
        self._wrote(customer, t, own_entries=burned > 0 or debt > 0)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(
            op_id, "burn", customer, unit, taken=list(plan), debt=debt, wrote=burned > 0 or debt > 0
        )
        entries: list[ExpectedEntry] = [("burn", block_id, take) for block_id, take in plan]
        if debt:
            entries.append(("debt", None, debt))
        result = RefResult(
            kind="burn",
            values={"burned": burned, "shortfall": shortfall, "debt": debt},
            draws=tuple(plan),
            entries=tuple(entries),
        )
        self._remember("key", key, "burn", fingerprint, result)
        return result

    def hold(
        self,
        customer: str,
        amount: object,
        *,
        hold_id: str,
        unit: str = "credits",
        scope: str | None = None,
        expires_at: datetime | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        hold_id = parse_id(hold_id, "hold_id")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        expires = parse_optional_time(expires_at, "expires_at")
        meta = dict(metadata or {})
        when = parse_optional_time(at, "at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("scope", scope), ("expires_at", expires),
            ("description", description), ("metadata", meta),
        )  # fmt: skip
        replay = self._replay("hold", hold_id, "hold", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        if expires is not None and expires <= t:
            raise ValidationError("expires_at", "must be later than the hold time")
        plan, shortfall = self.plan(customer, unit, scope, value, t)
        if shortfall:
            raise InsufficientCredits(value, value - shortfall, unit)
        self.holds[hold_id] = RefHold(
            id=hold_id,
            customer=customer,
            unit=unit,
            amount=value,
            scope=scope,
            expires_at=expires,
            created_at=t,
            allocations=list(plan),
            tick=next(self._ticks),
        )
        self._wrote(customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "hold", customer, unit)
        result = RefResult(
            kind="hold",
            values={
                "hold.id": hold_id,
                "hold.customer": customer,
                "hold.unit": unit,
                "hold.amount": value,
                "hold.status": "active",
                "hold.allocations": tuple(plan),
                "hold.captured": ZERO,
                "hold.expires_at": expires,
                "hold.created_at": t,
                "hold.settled_at": None,
                "hold.scope": scope,
            },
            draws=tuple(plan),
        )
        self._remember("hold", hold_id, "hold", fingerprint, result)
        return result

    def _known_hold(self, hold_id: object) -> RefHold:
        name = parse_id(hold_id, "hold_id")
        found = self.holds.get(name)
        if found is None:
            raise NotFound(f"no hold {name!r}")
        return found

    def _end_replay(self, found: RefHold, kind: str, amount: Decimal) -> RefResult | None:
        """A capture or release is keyed by its hold: the same call again replays, anything
        else after it is refused (SPEC §3)."""
        if found.end_kind is None:
            return None
        if found.end_kind == kind and found.end_amount == amount:
            assert found.end_result is not None
            return _replayed(found.end_result)
        raise HoldNotActive(found.id, found.status_at(_NEVER))

    def capture(
        self, hold_id: str, amount: object = None, *, at: datetime | None = None, new_op_id: str | None = None
    ) -> RefResult:
        when = parse_optional_time(at, "at")
        found = self._known_hold(hold_id)
        scale = self.units[found.unit]
        value = found.amount if amount is None else parse_amount(amount, scale, allow_zero=True)
        if value > found.amount:
            raise ValidationError("amount", "more than the hold holds")
        replay = self._end_replay(found, "capture", value)
        if replay is not None:
            return replay
        t = self._write_time(found.customer, when)
        status = found.status_at(t)
        if status != "active":
            raise HoldNotActive(found.id, status)
        tick = next(self._ticks)
        pinned = sorted(found.allocations, key=lambda item: burn_order_key(self.blocks[item[0]]))
        draws: list[tuple[str, Decimal]] = []
        need = value
        for block_id, pin in pinned:
            take = min(need, pin)
            if take:
                self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "capture", take))
                draws.append((block_id, take))
                need -= take
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "capture", value, tick
        self._wrote(found.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "capture", found.customer, found.unit, taken=draws)
        result = RefResult(kind="capture", values={"captured": value, "released": found.amount - value},
                           draws=tuple(draws))  # fmt: skip
        found.end_result = result
        return result

    def release(self, hold_id: str, *, at: datetime | None = None, new_op_id: str | None = None) -> RefResult:
        when = parse_optional_time(at, "at")
        found = self._known_hold(hold_id)
        replay = self._end_replay(found, "release", ZERO)
        if replay is not None:
            return replay
        t = self._write_time(found.customer, when)
        status = found.status_at(t)
        if status != "active":
            raise HoldNotActive(found.id, status)
        tick = next(self._ticks)
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "release", ZERO, tick
        self._wrote(found.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "release", found.customer, found.unit)
        result = RefResult(kind="release", values={"released": found.amount})
        found.end_result = result
        return result

    def void(
        self,
        block_id: str,
        amount: object = None,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        """SPEC §3 void: up to the block's unheld remaining (default all of it); an upcoming
        block too."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:
            check_sign(amount)
        reason = parse_text(reason, "reason")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        block = self._known_block(block_id)
        value = None if amount is None else parse_amount(amount, self.units[block.unit])
        fingerprint: Fingerprint = (("block_id", block_id), ("amount", value), ("reason", reason))
        replay = self._replay("key", key, "void", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(block.customer, when)
        unheld = self.unheld(block, t)
        if unheld <= 0:
            raise Conflict(f"block {block_id!r} has no unheld credit left to void")
        value = unheld if value is None else value
        if value > unheld:
            raise ValidationError("amount", "more than the block's unheld remaining")
        block.moves.append(Move(t, next(self._ticks), next(self._n), "void", value))
        self._wrote(block.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "void", block.customer, block.unit)
        result = RefResult(kind="void", values={"voided": value}, entries=(("void", block_id, value),))
        self._remember("key", key, "void", fingerprint, result)
        return result

    def change_expiry(
        self,
        block_id: str,
        expires_at: datetime,
        *,
        amount: object = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
        new_block_id: str | None = None,
    ) -> RefResult:
        """SPEC §3 change_expiry: the unheld credit moved (default all of it) goes into a new
        block, the same but for its expiry, created now and last in creation order."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:
            check_sign(amount)
        expires = parse_time(expires_at, "expires_at")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        old = self._known_block(block_id)
        value = None if amount is None else parse_amount(amount, self.units[old.unit])
        fingerprint: Fingerprint = (("block_id", block_id), ("expires_at", expires), ("amount", value))
        replay = self._replay("key", key, "change_expiry", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(old.customer, when)
        if expires <= t:
            raise ValidationError("expires_at", "must be later than the change")
        unheld = self.unheld(old, t)
        if unheld <= 0:
            raise Conflict(f"block {block_id!r} has no unheld credit left to move")
        if expires <= old.effective_at:
            raise ValidationError("expires_at", "must be later than the block's effective_at")
        value = unheld if value is None else value
        if value > unheld:
            raise ValidationError("amount", "more than the block's unheld remaining")
        tick = next(self._ticks)
        old.moves.append(Move(t, tick, next(self._n), "move_out", value))
        number = next(self._numbers)
        # an upcoming block that would settle debt when it starts still does, and so does its
        # moved credit
        upcoming_settler = old.settle_key is not None and old.effective_at > t
        new = RefBlock(
            id=new_block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=old.customer,
            unit=old.unit,
            amount=value,
            priority=old.priority,
            category=old.category,
            cost_basis=old.cost_basis,
            scope=old.scope,
            effective_at=old.effective_at,
            expires_at=expires,
            created_at=t,
            number=number,
            description=old.description,
            metadata=dict(old.metadata),
            origin=old.id,
            settle_key=(old.effective_at, 0, 2, number) if upcoming_settler else None,
        )
        self.blocks[new.id] = new
        self._wrote(old.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "change_expiry", old.customer, old.unit)
        result = RefResult(
            kind="change_expiry",
            values={"block.id": new.id, **self._block_values(new, t)},
            entries=(("move_out", old.id, value), ("move_in", new.id, value)),
        )
        self._remember("key", key, "change_expiry", fingerprint, result)
        return result

    def reverse(
        self,
        op_id: str,
        amount: object = None,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        """SPEC §3 reverse, with the README's order: the debt part first (what is still owed
        is cancelled; what was settled goes back to the settling blocks, latest settlement
        first), then credit back to the drawn blocks, last drawn first. Credit that comes
        back into an expired block expires at once; into a voided one, it is voided at once."""
        target = parse_id(op_id, "op_id")
        if amount is not None:
            check_sign(amount)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        op = self.ops.get(target)
        if op is None:
            raise NotFound(f"no op {target!r}")
        value = None if amount is None else parse_amount(amount, self.units[op.unit])
        fingerprint: Fingerprint = (("op_id", target), ("amount", value))
        replay = self._replay("key", key, "reverse", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(op.customer, when)
        if op.kind not in ("burn", "capture"):
            raise ValidationError("op_id", f"a {op.kind} does not reverse: only burns and captures do")
        left = op.left()
        value = left if value is None else value
        if value > left or value <= 0:
            raise ValidationError("amount", f"{left} is left to reverse")
        need = value
        of_debt = min(need, op.debt - op.debt_undone)
        need -= of_debt
        owed_now = self.debt_view(op.customer, op.unit, t)
        cancel = min(of_debt, owed_now.debt)
        unsettle = of_debt - cancel
        # (block_id, amount, of the debt): settled debt back to the latest settlements first,
        # then credit back to the drawn blocks, last drawn first
        returns: list[tuple[str, Decimal, bool]] = []
        rest = unsettle
        for block_id, settled in reversed(owed_now.stack):
            if not rest:
                break
            returns.append((block_id, min(rest, settled), True))
            rest -= min(rest, settled)
        assert not rest, f"{op.id}: settled debt to give back but no settlement left"
        for block_id, took in reversed(op.taken):
            give = min(need, took - op.given_back.get(block_id, ZERO))
            if give > 0:
                returns.append((block_id, give, False))
                need -= give
        entries: list[ExpectedEntry] = [("reverse", None, cancel)] if cancel else []
        for block_id, give, _ in returns:
            block = self.blocks[block_id]
            entries.append(("reverse", block_id, give))
            if block.expired_at(t):
                entries.append(("expire", block_id, give))
            elif self.figures(block, t).closed:
                entries.append(("void", block_id, give))
        # record it
        tick = next(self._ticks)
        for kind, amount in (("cancel", cancel), ("unsettle", unsettle)):
            if amount:
                self.debt_changes.append(DebtChange(op.customer, op.unit, t, tick, next(self._n), kind, amount))
        for block_id, give, settled_debt in returns:
            self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "return", give))
            if not settled_debt:
                op.given_back[block_id] = op.given_back.get(block_id, ZERO) + give
        op.debt_undone += of_debt
        self._wrote(op.customer, t, own_entries=True)
        new_id = self._op_id(new_op_id)
        self.ops[new_id] = RefOp(new_id, "reverse", op.customer, op.unit)
        result = RefResult(kind="reverse", values={"reversed": value}, entries=tuple(entries))
        self._remember("key", key, "reverse", fingerprint, result)
        return result

    def expire_due(self, *, at: datetime | None = None) -> None:
        """A sweep: for every customer whose history is not ahead of ``at``, what fell due by
        then is now recorded (the figures do not change: the model counts it on read)."""
        horizon = at if at is not None else self.clock()
        for customer in {b.customer for b in self.blocks.values()} | {c.customer for c in self.debt_changes}:
            last = self.last_entry.get(customer)
            if last is None or last <= horizon:
                self._wrote(customer, horizon, own_entries=False)

    # -- for the machine ---------------------------------------------------------------

    def left_to_reverse(self, op_id: str) -> Decimal:
        found = self.ops.get(op_id)
        return found.left() if found is not None else ZERO

    # -- reads -------------------------------------------------------------------------

    def balance(
        self, customer: str, *, unit: str = "credits", at: datetime | None = None, scope: str | None = None
    ) -> dict[str, Decimal]:
        """SPEC §4's Balance fields at ``at`` (default: now)."""
        t = self.read_time(customer, at)
        totals = dict.fromkeys(BALANCE_FIELDS, ZERO)
        for block in self._blocks_of(customer, unit):
            if block.created_at > t:
                continue
            f = self.figures(block, t)
            if block.origin is None:  # moved credit was granted once, in its first block
                totals["granted"] += block.amount
            totals["voided"] += f.voided
            if f.upcoming:
                totals["upcoming"] += f.remaining
                continue
            totals["used"] += f.used
            totals["expired"] += f.expired
            if scope is None or block.usable_by(scope):
                totals["held"] += f.held
                totals["available"] += f.available
        totals["debt"] = self.debt_view(customer, unit, t).debt
        return totals

    def units_with_entries(self, customer: str, at: datetime | None = None) -> set[str]:
        t = self.read_time(customer, at)
        found = {b.unit for b in self._blocks_of(customer) if b.created_at <= t}
        return found | {c.unit for c in self.debt_changes if c.customer == customer and c.at <= t}

    def block_views(self, customer: str, *, unit: str = "credits", at: datetime | None = None
                    ) -> list[tuple[RefBlock, BlockFigures]]:  # fmt: skip
        """Every block granted by ``at``, in burn order, with its figures then."""
        t = self.read_time(customer, at)
        found = sorted((b for b in self._blocks_of(customer, unit) if b.created_at <= t), key=burn_order_key)
        return [(b, self.figures(b, t)) for b in found]

    def hold_views(self, customer: str, *, at: datetime | None = None) -> list[HoldView]:
        """Every hold placed by ``at``, oldest first."""
        t = self.read_time(customer, at)
        views = []
        for found in self.holds.values():
            if found.customer != customer or found.created_at > t:
                continue
            status = found.status_at(t)
            settled = None if status == "active" else found.end_time()
            views.append(HoldView(
                id=found.id,
                status=status,
                amount=found.amount,
                captured=(found.end_amount or ZERO) if status == "captured" else ZERO,
                allocations=tuple(found.allocations),
                expires_at=found.expires_at,
                settled_at=settled,
            ))  # fmt: skip
        return views

    def upcoming_instants(self, after: datetime) -> list[datetime]:
        """Every instant later than ``after`` at which something changes by itself: expiries,
        hold timeouts, blocks becoming effective."""
        found: set[datetime] = set()
        for block in self.blocks.values():
            found.update(x for x in (block.expires_at, block.effective_at) if x is not None and x > after)
        for hold in self.holds.values():
            if hold.ended_at is None and hold.expires_at is not None and hold.expires_at > after:
                found.add(hold.expires_at)
        return sorted(found)


def _replayed(result: RefResult) -> RefResult:
    return RefResult(kind=result.kind, values=result.values, draws=result.draws, replayed=True, entries=result.entries)

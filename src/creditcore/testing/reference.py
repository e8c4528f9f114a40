"""A reference ledger: SPEC.md written down as plainly as possible, for the state machine.

It shares no code with the ledger's rules (``creditcore.rules``, ``state``, ``order``):
blocks and holds are plain dataclasses in dicts and lists, amounts are ``Decimal``, the
default burn order is one sort key spelled out from SPEC §5, and expiry is decided by
comparing times whenever something is read. Nothing is recorded "lazily": every figure at
time ``t`` is recomputed from the events dated at or before ``t``, which also makes reads of
the past and of the future free. It is slow and meant to be obviously right: a bug that
survives the state machine has to be in both.

The write methods take the ledger's arguments and raise the ledger's error classes
(:mod:`creditcore.errors`), so the machine can compare outcomes one to one. New operations
(void, reverse, change_expiry, debt) slot in as more methods that append events to the
blocks (``RefBlock.draws`` is the pattern: a dated list read back with ``at <= t``) and a
term in :meth:`ReferenceLedger._amounts`; an expired block's ``expired`` stays "whatever is
neither used, held nor otherwise accounted for", which keeps the identity by construction.

Where SPEC §3 leaves the order of two checks to judgement, the model follows its stated
order: arguments (types, ranges, precision, ``expires_at`` after an explicit
``effective_at``, a capture within the hold), then the idempotency key (for a capture or
release: the hold's ending call, replayed or refused with ``HoldNotActive``), then time
order, then state.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from creditcore.errors import (
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


# -- values --------------------------------------------------------------------------------


def parse_amount(value: object, scale: int, name: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """An exact amount with at most ``scale`` decimal places, judged by value (SPEC §1)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValidationError(name, f"{type(value).__name__} is not an amount")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValidationError(name, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValidationError(name, "not finite")
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


# -- what the model keeps -------------------------------------------------------------------


@dataclass
class Draw:
    """Credit that left a block for good: a burn or a capture."""

    at: datetime
    kind: str
    amount: Decimal
    tick: int
    """Position among the model's writes, to order events at one instant."""


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
    draws: list[Draw] = field(default_factory=list)

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


@dataclass(frozen=True)
class RefResult:
    """What a write returned, as the model sees it."""

    kind: str
    values: Mapping[str, object]
    """Expected attributes of the ledger's result, by dotted path (``"block.remaining"``)."""
    draws: tuple[tuple[str, Decimal], ...] = ()
    """``(block_id, amount)`` the operation drew, in order (burn, hold and capture entries)."""
    replayed: bool = False


@dataclass(frozen=True)
class BlockFigures:
    remaining: Decimal
    held: Decimal
    available: Decimal
    used: Decimal
    expired: Decimal
    upcoming: bool
    status: str


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
        self.keys: dict[tuple[str, str], _KeyRecord] = {}
        self.last_entry: dict[str, datetime] = {}
        self._ticks = itertools.count(1)
        self._numbers = itertools.count(1)

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
        """Move the customer's last entry time: lazily recorded expiries and timeouts are
        entries dated when they fell due, and the write's own entries are dated ``at``."""
        times = [at] if own_entries else []
        for block in self._blocks_of(customer):
            x = block.expires_at
            if x is not None and block.created_at <= x <= at and self._unheld_at_expiry(block) > 0:
                times.append(x)
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

    def _pins(self, block: RefBlock, t: datetime) -> Decimal:
        """Credit of ``block`` pinned by holds active at ``t``."""
        total = ZERO
        for found in self.holds.values():
            if found.customer == block.customer and found.created_at <= t and found.status_at(t) == "active":
                total += sum((a for b, a in found.allocations if b == block.id), ZERO)
        return total

    def _unheld_at_expiry(self, block: RefBlock) -> Decimal:
        """What the block's expiry itself took: its unheld credit at ``expires_at``."""
        assert block.expires_at is not None
        return self._amounts(block, block.expires_at)[4]

    def _amounts(self, block: RefBlock, t: datetime) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """``(remaining, held, available, used, expired)`` of an effective block at ``t``."""
        used = sum((d.amount for d in block.draws if d.at <= t), ZERO)
        held = self._pins(block, t)
        gross = block.amount - used
        if block.expired_at(t):
            # held credit stays reserved past the expiry; whatever else is left has expired
            return held, held, ZERO, used, gross - held
        return gross, held, gross - held, used, ZERO

    def figures(self, block: RefBlock, t: datetime) -> BlockFigures:
        """The block at ``t``, from its events dated at or before ``t``."""
        if t < block.effective_at:
            return BlockFigures(block.amount, ZERO, ZERO, ZERO, ZERO, True, "upcoming")
        remaining, held, available, used, expired = self._amounts(block, t)
        status = self._status(block, t, remaining, used, expired)
        return BlockFigures(remaining, held, available, used, expired, False, status)

    def _status(self, block: RefBlock, t: datetime, remaining: Decimal, used: Decimal, expired: Decimal) -> str:
        """SPEC §4: ``active`` while credit remains and it has not expired; otherwise what
        emptied it. When both usage and expiry took credit, the later of them decides."""
        if remaining > 0:
            return "expired" if block.expired_at(t) else "active"
        if not block.expired_at(t) or expired == 0:
            return "depleted"
        if used == 0:
            return "expired"
        assert block.expires_at is not None
        x = block.expires_at
        # (time, tick, step, what): events that fell due at an instant come before any write
        # then (tick 0); within one capture, its captures come before its release (step)
        events: list[tuple[datetime, int, int, str]] = []
        if self._unheld_at_expiry(block) > 0:
            events.append((x, 0, 0, "expired"))
        events += [(d.at, d.tick, 0, "depleted") for d in block.draws if d.kind == "capture" and x <= d.at <= t]
        for found in self.holds.values():
            end = found.end_time()
            pinned = sum((a for b, a in found.allocations if b == block.id), ZERO)
            if not pinned or end is None or not x <= end <= t:
                continue
            if found.ended_at is None:  # a timeout: its credit comes back and expires at once
                events.append((end, 0, 1, "expired"))
                continue
            taken = sum((d.amount for d in block.draws if d.kind == "capture" and d.tick == found.end_tick), ZERO)
            if pinned > taken:
                events.append((end, found.end_tick, 1, "expired"))
        return max(events)[3] if events else "depleted"

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
        block = RefBlock(
            id=block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=customer,
            unit=unit,
            amount=value,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scopes,
            effective_at=effective if effective is not None else t,
            expires_at=expires,
            created_at=t,
            number=next(self._numbers),
            description=description,
            metadata=meta,
        )
        self._wrote(customer, t, own_entries=True)
        self.blocks[block.id] = block
        figures = self.figures(block, t)
        result = RefResult(
            kind="grant",
            values={
                "block.id": block.id,
                "block.customer": customer,
                "block.unit": unit,
                "block.amount": value,
                "block.remaining": figures.remaining,
                "block.held": ZERO,
                "block.available": figures.available,
                "block.status": figures.status,
                "block.priority": priority,
                "block.category": category,
                "block.cost_basis": basis,
                "block.scope": scopes,
                "block.effective_at": block.effective_at,
                "block.expires_at": expires,
                "block.created_at": t,
                "block.description": description,
                "block.metadata": meta,
            },
        )
        self._remember("key", key, "grant", fingerprint, result)
        return result

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
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        if overdraft not in ("reject", "partial"):
            # "debt" is not modelled yet: it needs a debt counter and settlement on grants
            raise NotImplementedError(f"overdraft={overdraft!r}")
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
        tick = next(self._ticks)
        for block_id, take in plan:
            self.blocks[block_id].draws.append(Draw(t, "burn", take, tick))
        burned = value - shortfall
        self._wrote(customer, t, own_entries=burned > 0)
        result = RefResult(
            kind="burn",
            values={"burned": burned, "shortfall": shortfall, "debt": ZERO},
            draws=tuple(plan),
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
        self._wrote(customer, t, own_entries=True)
        self.holds[hold_id] = RefHold(
            id=hold_id,
            customer=customer,
            unit=unit,
            amount=value,
            scope=scope,
            expires_at=expires,
            created_at=t,
            allocations=list(plan),
        )
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

    def capture(self, hold_id: str, amount: object = None, *, at: datetime | None = None) -> RefResult:
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
                self.blocks[block_id].draws.append(Draw(t, "capture", take, tick))
                draws.append((block_id, take))
                need -= take
        self._wrote(found.customer, t, own_entries=True)
        result = RefResult(kind="capture", values={"captured": value, "released": found.amount - value},
                           draws=tuple(draws))  # fmt: skip
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "capture", value, tick
        found.end_result = result
        return result

    def release(self, hold_id: str, *, at: datetime | None = None) -> RefResult:
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
        self._wrote(found.customer, t, own_entries=True)
        result = RefResult(kind="release", values={"released": found.amount})
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "release", ZERO, tick
        found.end_result = result
        return result

    def expire_due(self, *, at: datetime | None = None) -> None:
        """A sweep: for every customer whose history is not ahead of ``at``, what fell due by
        then is now recorded (the figures do not change: the model counts expiries on read)."""
        horizon = at if at is not None else self.clock()
        for customer in {b.customer for b in self.blocks.values()}:
            last = self.last_entry.get(customer)
            if last is None or last <= horizon:
                self._wrote(customer, horizon, own_entries=False)

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
            totals["granted"] += block.amount
            if f.upcoming:
                totals["upcoming"] += f.remaining
                continue
            totals["used"] += f.used
            totals["expired"] += f.expired
            if scope is None or block.usable_by(scope):
                totals["held"] += f.held
                totals["available"] += f.available
        return totals

    def units_with_entries(self, customer: str, at: datetime | None = None) -> set[str]:
        t = self.read_time(customer, at)
        return {b.unit for b in self._blocks_of(customer) if b.created_at <= t}

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
    return RefResult(kind=result.kind, values=result.values, draws=result.draws, replayed=True)

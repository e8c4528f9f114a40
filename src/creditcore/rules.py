"""The rules of the ledger: pure functions ``(state, command, at) -> (new state, entries)``.

Nothing here does I/O, reads a clock or generates an id: the caller passes the time and the
ids in. Every write rule first records what fell due up to ``at`` (block expiries, hold
timeouts, upcoming blocks that settle debt when they become active), in time order, then
applies its command. A rule that raises has changed nothing: the state it was given is
immutable.

Amounts are integers of minor units.

>>> from datetime import datetime, UTC
>>> from creditcore import rules, state
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> s = state.AccountState(customer="ada")
>>> s, entries = rules.grant(s, state.Grant(op_id="op1", block_id="b1", unit="credits", amount=10), t)
>>> s, entries = rules.burn(s, state.Burn(op_id="op2", unit="credits", amount=4), t)
>>> rules.tally(s, "credits", t).available
6
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from creditcore.errors import Conflict, HoldNotActive, InsufficientCredits, NotFound, StorageError, ValidationError
from creditcore.order import BurnOrder
from creditcore.state import (
    ENTRY_KINDS,
    AccountState,
    BlockState,
    Burn,
    Capture,
    ChangeExpiry,
    EntryKind,
    EntryState,
    Grant,
    HoldState,
    HoldStatus,
    PlaceHold,
    Release,
    Reverse,
    Tally,
    UnitTotals,
    Void,
)
from creditcore.values import EARLIEST, LATEST, MAX_MINOR, MAX_SCALE, parse_time, to_decimal

DEFAULT_ORDER = BurnOrder.default()
Transition = tuple[AccountState, tuple[EntryState, ...]]

# What an entry does to the block it names: (change to remaining, change to held).
_BLOCK_EFFECT: dict[str, tuple[int, int]] = {
    "grant": (1, 0),
    "move_in": (1, 0),
    "reverse": (1, 0),
    "burn": (-1, 0),
    "settle": (-1, 0),
    "expire": (-1, 0),
    "void": (-1, 0),
    "move_out": (-1, 0),
    "hold": (0, 1),
    "release": (0, -1),
    "capture": (-1, -1),
}
# What emptied a block, by the kind of the entry that took its last credit.
_EMPTIED_BY = {"expire": "expired", "void": "voided"}
# What an entry adds to the customer's running totals of its unit.
_TOTALS_EFFECT: dict[str, tuple[tuple[str, int], ...]] = {
    "grant": (("granted", 1),),
    "burn": (("used", 1),),
    "capture": (("used", 1),),
    "settle": (("used", 1), ("debt", -1)),
    "expire": (("expired", 1),),
    "void": (("voided", 1),),
    "debt": (("debt", 1),),
    # a reversal gives credit back to a block (usage undone) or, with no block, cancels debt
    "reverse": (("used", -1),),
    "reverse_debt": (("debt", -1),),
}


def apply_to_block(block: BlockState, kind: str, amount: int) -> BlockState:
    """The block after an entry of ``kind`` for ``amount`` — the one place block figures move."""
    d_remaining, d_held = _BLOCK_EFFECT[kind]
    remaining = block.remaining + d_remaining * amount
    held = block.held + d_held * amount
    emptied_by = _EMPTIED_BY.get(kind, "depleted") if remaining == 0 and d_remaining < 0 else block.emptied_by
    void_closed = block.void_closed or (kind == "void" and remaining == held)
    # the constructor, field by field: this runs once per entry, and attrs.evolve costs
    # half as much again to reach the same value
    return BlockState(
        id=block.id,
        customer=block.customer,
        unit=block.unit,
        number=block.number,
        amount=block.amount,
        remaining=remaining,
        held=held,
        priority=block.priority,
        category=block.category,
        cost_basis=block.cost_basis,
        scope=block.scope,
        effective_at=block.effective_at,
        expires_at=block.expires_at,
        created_at=block.created_at,
        description=block.description,
        metadata=block.metadata,
        origin=block.origin,
        settles_debt=block.settles_debt,
        settle_pending=block.settle_pending,
        void_closed=void_closed,
        emptied_by=emptied_by,
    )


def apply_to_totals(totals: UnitTotals, kind: str, amount: int, block_id: str | None = None) -> UnitTotals:
    """The unit totals after an entry of ``kind`` for ``amount`` (on ``block_id``, if any)."""
    effect = _TOTALS_EFFECT.get("reverse_debt" if kind == "reverse" and block_id is None else kind)
    if not effect:
        return totals
    figures = {
        "granted": totals.granted,
        "used": totals.used,
        "expired": totals.expired,
        "voided": totals.voided,
        "debt": totals.debt,
    }
    for name, sign in effect:
        figures[name] += sign * amount
    return UnitTotals(**figures)


class _Work:
    """A private working copy of an account while one rule runs."""

    __slots__ = ("blocks", "customer", "entries", "holds", "last_at", "next_number", "settlements", "totals")

    def __init__(self, state: AccountState) -> None:
        self.customer = state.customer
        self.blocks: dict[str, BlockState] = dict(state.blocks)
        self.holds: dict[str, HoldState] = dict(state.holds)
        self.totals: dict[str, UnitTotals] = dict(state.totals)
        self.last_at = state.last_at
        self.next_number = state.next_number
        self.settlements: dict[str, tuple[tuple[str, int], ...]] = dict(state.settlements)
        self.entries: list[EntryState] = []

    def freeze(self) -> Transition:
        if self.last_at is not None:
            # an upcoming block settles debt at effective_at only; once the history has an
            # entry at or after that moment, the moment is past for good
            for block in self.blocks.values():
                if block.settle_pending and block.effective_at <= self.last_at:
                    self.blocks[block.id] = attrs.evolve(block, settle_pending=False)
        new = AccountState(
            customer=self.customer,
            blocks=self.blocks,
            holds=self.holds,
            totals=self.totals,
            last_at=self.last_at,
            next_number=self.next_number,
            settlements=self.settlements,
        )
        return new, tuple(self.entries)

    def apply(self, kind: str, unit: str, amount: int, block: BlockState | None) -> BlockState | None:
        """Move the figures one entry moves: its block's and the unit's totals."""
        if block is not None:
            block = apply_to_block(block, kind, amount)
            self.blocks[block.id] = block
            if kind == "settle":
                self.settlements[unit] = (*self.settlements.get(unit, ()), (block.id, amount))
        self.totals[unit] = apply_to_totals(
            self.totals.get(unit) or UnitTotals(), kind, amount, block.id if block else None
        )
        return block

    def unsettle(self, unit: str, block_id: str, amount: int) -> None:
        """Mark ``amount`` of the latest settlement by ``block_id`` as given back."""
        stack = list(self.settlements.get(unit, ()))
        for index in range(len(stack) - 1, -1, -1):
            settled_by, settled = stack[index]
            if settled_by == block_id:
                take = min(amount, settled)
                if take == settled:
                    del stack[index]
                else:
                    stack[index] = (settled_by, settled - take)
                amount -= take
                if not amount:
                    break
        self.settlements[unit] = tuple(stack)

    def available(self, unit: str, at: datetime) -> int:
        """The running available balance of ``unit`` after the entries recorded so far: the
        unheld credit of every block effective at ``at``.

        A block's expiry takes its credit away with its ``expire`` entry, not before: entries
        are recorded in time order with every expiry due by their time written first, so an
        expired block's unheld credit is 0 once its entry is written, and until then (two
        blocks expiring at one instant, credit released into an expired block just before it
        expires again) each entry's ``available_after`` is the balance after exactly that
        entry."""
        # BlockState.unheld, inlined: this runs once per entry, over every block
        return sum(b.remaining - b.held for b in self.blocks.values() if b.unit == unit and b.effective_at <= at)

    def record(
        self,
        kind: EntryKind,
        unit: str,
        amount: int,
        at: datetime,
        op_id: str,
        *,
        block: BlockState | None = None,
        hold_id: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        ref: str | None = None,
        of_debt: bool = False,
    ) -> BlockState | None:
        """Apply one entry to the block it names and to the totals, and write it down."""
        block = self.apply(kind, unit, amount, block)
        self.entries.append(
            EntryState(
                op_id=op_id,
                customer=self.customer,
                unit=unit,
                kind=kind,
                block_id=block.id if block is not None else None,
                hold_id=hold_id,
                amount=amount,
                available_after=self.available(unit, at),
                at=at,
                description=description,
                metadata=metadata or {},
                ref=ref,
                of_debt=of_debt,
            )
        )
        if self.last_at is None or at > self.last_at:
            self.last_at = at
        return block

    def give_back(
        self,
        block: BlockState,
        kind: EntryKind,
        amount: int,
        at: datetime,
        op_id: str,
        hold_id: str | None = None,
        ref: str | None = None,
        of_debt: bool = False,
    ) -> None:
        """Return credit to a block (a release or a reversal); credit returned to an expired
        block expires at once, to a voided block is voided at once."""
        returned = self.record(
            kind, block.unit, amount, at, op_id, block=block, hold_id=hold_id, ref=ref, of_debt=of_debt
        )
        assert returned is not None
        if returned.is_expired(at):
            self.record("expire", block.unit, amount, at, op_id, block=returned)
        elif returned.void_closed:
            self.record("void", block.unit, amount, at, op_id, block=returned)

    def settle(self, block: BlockState, at: datetime, op_id: str) -> None:
        """Let an unscoped block that has just become active pay the unit's debt off."""
        debt = self.totals.get(block.unit, UnitTotals()).debt
        amount = min(debt, block.unheld)
        if amount > 0:
            self.record("settle", block.unit, amount, at, op_id, block=block)


def _checked(
    state: object,
    at: object,
    command: object = None,
    kind: type | None = None,
    order: object = DEFAULT_ORDER,
    scale: object = 0,
    field: str = "at",
) -> datetime:
    """The arguments every rule takes, checked: ``at`` comes back aware and in UTC.

    Plain type tests and one :func:`~creditcore.values.parse_time`: a rule runs once per
    write."""
    if (
        type(at) is datetime
        and at.tzinfo is UTC
        and EARLIEST <= at <= LATEST
        and type(state) is AccountState
        and (kind is None or type(command) is kind)
        and (order is DEFAULT_ORDER or type(order) is BurnOrder)
        and type(scale) is int
        and 0 <= scale <= MAX_SCALE
    ):
        return at  # the common case in one expression; the checks below word a refusal
    if not isinstance(state, AccountState):
        raise ValidationError("state", f"expected an AccountState, got {type(state).__name__}")
    if kind is not None and not isinstance(command, kind):
        raise ValidationError("command", f"expected a {kind.__name__}, got {type(command).__name__}")
    if order is not DEFAULT_ORDER and not isinstance(order, BurnOrder):
        raise ValidationError("order", f"expected a BurnOrder, got {type(order).__name__}")
    if type(scale) is not int or not 0 <= scale <= MAX_SCALE:
        raise ValidationError("scale", f"expected an int between 0 and {MAX_SCALE}, got {scale!r}")
    return parse_time(at, field)


def _check_amount(amount: object) -> None:
    if type(amount) is not int or not 0 < amount <= MAX_MINOR:
        raise ValidationError("amount", f"expected an int of minor units from 1 to {MAX_MINOR}, got {amount!r}")


def _read_arguments(unit: object, scope: object) -> None:
    if type(unit) is not str or not unit:
        raise ValidationError("unit", f"expected a unit name, got {unit!r}")
    if scope is not None and (type(scope) is not str or not scope):
        raise ValidationError("scope", f"expected None or a scope name, got {scope!r}")


def _check_time(state: AccountState, at: datetime) -> None:
    if state.last_at is not None and at < state.last_at:
        raise ValidationError(
            "at",
            f"{at.isoformat()} is before {state.customer!r}'s last entry at "
            f"{state.last_at.isoformat()}: a customer's history only moves forward",
        )


def _advance(work: _Work, at: datetime) -> None:
    """Record, in time order, everything that fell due up to ``at``."""
    events: list[tuple[datetime, int, int, str]] = []
    for block in work.blocks.values():
        # a fully held block still gets its event: a hold timeout before its expiry may free credit
        if block.expires_at is not None and block.expires_at <= at and block.remaining > 0:
            events.append((block.expires_at, 0, block.number, block.id))
        if block.settle_pending and block.effective_at <= at:
            events.append((block.effective_at, 2, block.number, block.id))
    for hold in work.holds.values():
        if hold.status == "active" and hold.expires_at is not None and hold.expires_at <= at:
            events.append((hold.expires_at, 1, 0, hold.id))
    # Same instant: expiries first, then hold timeouts (their credit then expires at once if
    # its block has), then upcoming blocks settling debt.
    events.sort()
    for when, rank, _number, ident in events:
        if rank == 0:
            block = work.blocks[ident]
            if block.unheld > 0:
                work.record("expire", block.unit, block.unheld, when, f"expire:{ident}", block=block)
        elif rank == 1:
            _end_hold(work, work.holds[ident], 0, when, f"timeout:{ident}", "expired", DEFAULT_ORDER)
        else:
            # the flag stays until the customer's history passes effective_at (see freeze):
            # until then a debt may still be written before the moment the block activates
            work.settle(work.blocks[ident], when, f"settle:{ident}")


def advance(state: AccountState, at: datetime) -> Transition:
    """Record the expiries, hold timeouts and debt settlements that fell due up to ``at``."""
    at = _checked(state, at)
    _check_time(state, at)
    work = _Work(state)
    _advance(work, at)
    return work.freeze()


def view(state: AccountState, at: datetime) -> AccountState:
    """The state as it is at ``at`` (not before the last entry), for reading: what fell due is
    counted whether or not it has been recorded."""
    at = _checked(state, at)
    if state.last_at is not None and at < state.last_at:
        raise ValidationError(
            "at",
            f"{at.isoformat()} is before {state.customer!r}'s last entry at {state.last_at.isoformat()}: "
            "view() shows the state from then on; rebuild() the state of an earlier time",
        )
    work = _Work(state)
    _advance(work, at)
    return work.freeze()[0]


def _begin(state: AccountState, at: datetime) -> _Work:
    _check_time(state, at)
    work = _Work(state)
    _advance(work, at)
    return work


def plan_draw(
    blocks: Iterable[BlockState],
    unit: str,
    scope: str | None,
    amount: int,
    at: datetime,
    order: BurnOrder = DEFAULT_ORDER,
) -> tuple[list[tuple[BlockState, int]], int]:
    """Which blocks a burn of ``amount`` draws from, in order, and the shortfall."""
    at = parse_time(at, "at")
    _read_arguments(unit, scope)
    _check_amount(amount)
    if not isinstance(order, BurnOrder):
        raise ValidationError("order", f"expected a BurnOrder, got {type(order).__name__}")
    return _plan_draw(blocks, unit, scope, amount, at, order)


def _plan_draw(
    blocks: Iterable[BlockState], unit: str, scope: str | None, amount: int, at: datetime, order: BurnOrder
) -> tuple[list[tuple[BlockState, int]], int]:
    # BlockState.unheld, .is_active and .usable_by, inlined: this runs over every block a burn,
    # a hold or a preview considers
    eligible = [
        b for b in blocks
        if b.unit == unit
        and b.remaining > b.held
        and b.effective_at <= at
        and (b.expires_at is None or at < b.expires_at)
        and (b.scope is None or (scope is not None and scope in b.scope))
    ]  # fmt: skip
    eligible.sort(key=order.sort_key)
    plan: list[tuple[BlockState, int]] = []
    need = amount
    for block in eligible:
        if need == 0:
            break
        take = min(need, block.unheld)
        plan.append((block, take))
        need -= take
    return plan, need


def grant(state: AccountState, command: Grant, at: datetime) -> Transition:
    """Create one new block; if it is active and unscoped, it first pays off debt."""
    at = _checked(state, at, command, Grant)
    work = _begin(state, at)
    effective_at = command.effective_at if command.effective_at is not None else at
    if command.expires_at is not None and (command.expires_at <= effective_at or command.expires_at <= at):
        raise ValidationError(
            "expires_at", f"{command.expires_at.isoformat()} must be later than both effective_at and the grant time"
        )
    if command.block_id in work.blocks:
        raise ValidationError("block_id", f"block {command.block_id!r} exists already")
    granted = work.totals.get(command.unit, UnitTotals()).granted
    if granted + command.amount > MAX_MINOR:
        raise ValidationError("amount", "the customer's total granted would not fit in a signed 64-bit amount")
    settles = command.settle_debt and command.scope is None
    block = BlockState(
        id=command.block_id,
        customer=state.customer,
        unit=command.unit,
        number=work.next_number,
        amount=command.amount,
        remaining=0,
        priority=command.priority,
        category=command.category,
        cost_basis=command.cost_basis,
        scope=command.scope,
        effective_at=effective_at,
        expires_at=command.expires_at,
        created_at=at,
        description=command.description,
        metadata=command.metadata,
        settles_debt=settles,
        settle_pending=settles and effective_at > at,
    )
    work.next_number += 1
    block = work.record(
        "grant",
        command.unit,
        command.amount,
        at,
        command.op_id,
        block=block,
        description=command.description,
        metadata=command.metadata,
    )  # type: ignore[assignment]
    if settles and effective_at <= at:
        work.settle(block, at, command.op_id)
    return work.freeze()


def burn(
    state: AccountState, command: Burn, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition:
    """Draw ``amount`` from the eligible blocks in burn order; what no credit covers is
    refused, left as shortfall, or recorded as debt, as ``command.overdraft`` says."""
    at = _checked(state, at, command, Burn, order, scale)
    work = _begin(state, at)
    plan, shortfall = _plan_draw(work.blocks.values(), command.unit, command.scope, command.amount, at, order)
    if shortfall:
        available = command.amount - shortfall
        if command.overdraft == "reject":
            raise _insufficient(
                work, command.unit, command.scope, command.amount, available, at, scale,
                "pass overdraft='partial' or 'debt' to burn what there is",
            )  # fmt: skip
        if command.overdraft == "debt":
            debt = work.totals.get(command.unit, UnitTotals()).debt
            if command.debt_limit is not None and debt + shortfall > command.debt_limit:
                raise _insufficient(
                    work, command.unit, command.scope, command.amount, available, at, scale,
                    f"the debt would reach {to_decimal(debt + shortfall, scale)}, over the limit of "
                    f"{to_decimal(command.debt_limit, scale)}",
                )  # fmt: skip
            if debt + shortfall > MAX_MINOR:
                raise ValidationError("amount", "the customer's debt would not fit in a signed 64-bit amount")
    for block, take in plan:
        work.record(
            "burn",
            command.unit,
            take,
            at,
            command.op_id,
            block=block,
            description=command.description,
            metadata=command.metadata,
        )
    if shortfall and command.overdraft == "debt":
        work.record(
            "debt",
            command.unit,
            shortfall,
            at,
            command.op_id,
            description=command.description,
            metadata=command.metadata,
        )
    return work.freeze()


def _insufficient(
    work: _Work, unit: str, scope: str | None, amount: int, available: int, at: datetime, scale: int, advice: str
) -> InsufficientCredits:
    """The refusal of a burn or hold of ``amount`` that only ``available`` could serve.

    Credit that is active but only usable by other scopes is named, with how to reach it:
    a balance without ``scope`` counts it, so the refusal must say why it was not used."""
    elsewhere: dict[frozenset[str], int] = {}
    for block in work.blocks.values():
        if (
            block.unit == unit
            and block.scope is not None
            and block.remaining > block.held
            and block.is_active(at)
            and not block.usable_by(scope)
        ):
            elsewhere[block.scope] = elsewhere.get(block.scope, 0) + block.unheld
    parts = []
    if elsewhere:
        names = sorted(set().union(*elsewhere))
        more = f"{to_decimal(sum(elsewhere.values()), scale)} {unit} more is available only to "
        if len(names) == 1:
            parts.append(f"{more}scope {names[0]!r}: pass scope={names[0]!r} to use it")
        else:
            each = "; ".join(
                f"{to_decimal(part, scale)} {unit} to {' or '.join(map(repr, sorted(scopes)))}"
                for scopes, part in sorted(elsewhere.items(), key=lambda item: sorted(item[0]))
            )
            parts.append(f"{more}scopes {', '.join(map(repr, names))} ({each}): pass one of them as scope= to use it")
    parts.append(advice)
    return InsufficientCredits(
        to_decimal(amount, scale),
        to_decimal(available, scale),
        unit,
        "; ".join(parts),
        usable_by=("" if not elsewhere else "without a scope" if scope is None else f"to scope {scope!r}"),
    )


def hold(
    state: AccountState, command: PlaceHold, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition:
    """Pin ``amount`` of credit in specific blocks, chosen in burn order; all or nothing."""
    at = _checked(state, at, command, PlaceHold, order, scale)
    work = _begin(state, at)
    if command.expires_at is not None and command.expires_at <= at:
        raise ValidationError("expires_at", f"{command.expires_at.isoformat()} must be later than the hold time")
    if command.hold_id in work.holds:
        raise ValidationError("hold_id", f"hold {command.hold_id!r} exists already")
    plan, shortfall = _plan_draw(work.blocks.values(), command.unit, command.scope, command.amount, at, order)
    if shortfall:
        raise _insufficient(
            work, command.unit, command.scope, command.amount, command.amount - shortfall, at, scale,
            "a hold reserves all of its amount or nothing",
        )  # fmt: skip
    for block, take in plan:
        work.record(
            "hold",
            command.unit,
            take,
            at,
            command.op_id,
            block=block,
            hold_id=command.hold_id,
            description=command.description,
            metadata=command.metadata,
        )
    work.holds[command.hold_id] = HoldState(
        id=command.hold_id,
        customer=state.customer,
        unit=command.unit,
        amount=command.amount,
        allocations=tuple((block.id, take) for block, take in plan),
        scope=command.scope,
        expires_at=command.expires_at,
        created_at=at,
        op_id=command.op_id,
        description=command.description,
        metadata=command.metadata,
    )
    return work.freeze()


def _active_hold(work: _Work, hold_id: str) -> HoldState:
    found = work.holds.get(hold_id)
    if found is None:
        raise NotFound(f"no hold {hold_id!r} for customer {work.customer!r}")
    if found.status != "active":
        raise HoldNotActive(hold_id, found.status)
    return found


def _end_hold(
    work: _Work, found: HoldState, capture: int, at: datetime, op_id: str, status: HoldStatus, order: BurnOrder
) -> None:
    """Consume ``capture`` from the pinned blocks in burn order and release the rest."""
    pinned = dict(found.allocations)
    for block_id in pinned:
        if block_id not in work.blocks:
            raise inconsistent_history(
                work.customer, f"hold {found.id} pins block {block_id}, which is not one of the customer's live blocks"
            )
    captured: dict[str, int] = {}
    need = capture
    for block in order.sort(work.blocks[block_id] for block_id in pinned):
        take = captured[block.id] = min(need, pinned[block.id])
        if take:
            work.record("capture", found.unit, take, at, op_id, block=block, hold_id=found.id)
            need -= take
    for block_id, amount in found.allocations:
        rest = amount - captured[block_id]
        if rest:
            work.give_back(work.blocks[block_id], "release", rest, at, op_id, hold_id=found.id)
    work.holds[found.id] = attrs.evolve(found, status=status, captured=capture, settled_at=at, settled_by=op_id)


def capture(
    state: AccountState, command: Capture, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition:
    """Consume all or part of a hold and release the rest, atomically."""
    at = _checked(state, at, command, Capture, order, scale)
    work = _begin(state, at)
    found = _active_hold(work, command.hold_id)
    amount = found.amount if command.amount is None else command.amount
    if amount > found.amount:
        raise ValidationError(
            "amount",
            f"cannot capture {to_decimal(amount, scale)}: hold {found.id!r} holds {to_decimal(found.amount, scale)}",
        )
    _end_hold(work, found, amount, at, command.op_id, "captured", order)
    return work.freeze()


def release(state: AccountState, command: Release, at: datetime) -> Transition:
    """Give all of a hold's credit back to its blocks."""
    at = _checked(state, at, command, Release)
    work = _begin(state, at)
    found = _active_hold(work, command.hold_id)
    _end_hold(work, found, 0, at, command.op_id, "released", DEFAULT_ORDER)
    return work.freeze()


def _unheld_block(work: _Work, block_id: str, what: str, at: datetime, scale: int) -> BlockState:
    block = work.blocks.get(block_id)
    if block is None:
        raise NotFound(f"no block {block_id!r} for customer {work.customer!r}")
    if block.unheld <= 0:
        status = block.status(at)
        held = f" ({to_decimal(block.held, scale)} is held)" if block.held else ""
        raise Conflict(f"block {block_id!r} has no unheld credit left to {what}: it is {status}{held}")
    return block


def _part(block: BlockState, amount: int | None, scale: int) -> int:
    unheld = block.unheld
    if amount is None:
        return unheld
    if amount > unheld:
        raise ValidationError(
            "amount",
            f"{to_decimal(amount, scale)} is more than the {to_decimal(unheld, scale)} unheld in block {block.id!r}",
        )
    return amount


def void(state: AccountState, command: Void, at: datetime, scale: int = 0) -> Transition:
    """Remove up to the block's unheld remaining (default: all of it); held credit stays."""
    at = _checked(state, at, command, Void, scale=scale)
    work = _begin(state, at)
    block = _unheld_block(work, command.block_id, "void", at, scale)
    amount = _part(block, command.amount, scale)
    work.record("void", block.unit, amount, at, command.op_id, block=block, description=command.reason)
    return work.freeze()


def change_expiry(state: AccountState, command: ChangeExpiry, at: datetime, scale: int = 0) -> Transition:
    """Move credit into a new block that is the same but for its expiry; the balance stays."""
    at = _checked(state, at, command, ChangeExpiry, scale=scale)
    work = _begin(state, at)
    if command.expires_at <= at:
        raise ValidationError("expires_at", f"{command.expires_at.isoformat()} must be later than {at.isoformat()}")
    block = _unheld_block(work, command.block_id, "move", at, scale)
    if command.expires_at <= block.effective_at:
        raise ValidationError(
            "expires_at", f"{command.expires_at.isoformat()} must be later than now and than the block's effective_at"
        )
    amount = _part(block, command.amount, scale)
    work.record("move_out", block.unit, amount, at, command.op_id, block=block)
    moved = attrs.evolve(
        block,
        id=command.new_block_id,
        number=work.next_number,
        amount=amount,
        remaining=0,
        held=0,
        expires_at=command.expires_at,
        created_at=at,
        origin=block.id,
        void_closed=False,
        emptied_by=None,
    )
    work.next_number += 1
    work.record("move_in", block.unit, amount, at, command.op_id, block=moved)
    return work.freeze()


def reverse(state: AccountState, command: Reverse, at: datetime, scale: int = 0) -> Transition:
    """Undo a burn or a capture, fully or partly: the debt it recorded first, then credit
    back to the blocks it drew, in the reverse of the order they were drawn.

    Debt still owed is cancelled; debt already settled gives the credit back to the blocks
    that settled it, latest settlement first. Credit returned to an expired block expires at
    once; to a voided block, it is voided at once. The blocks named must be in ``state``.
    """
    at = _checked(state, at, command, Reverse, scale=scale)
    if command.target_entries[0].customer != state.customer:
        raise ValidationError(
            "target_entries",
            f"op {command.target!r} is customer {command.target_entries[0].customer!r}'s, not {state.customer!r}'s",
        )
    work = _begin(state, at)
    target = command.target
    if command.captured_nothing:
        raise ValidationError("amount", f"op {target!r} captured nothing: nothing is left to reverse")
    kinds = {e.kind for e in command.target_entries}
    # a burn writes burn and debt entries; a capture, capture entries and the release of the
    # rest (which may expire or be voided at once)
    if not kinds & {"burn", "debt", "capture"} or kinds - {"burn", "debt", "capture", "release", "expire", "void"}:
        raise ValidationError(
            "op_id", f"op {target!r} is a {'/'.join(sorted(kinds)) or 'empty op'}: only burns and captures reverse"
        )
    unit = command.target_entries[0].unit
    taken = [(e.block_id, e.amount) for e in command.target_entries if e.kind in ("burn", "capture") and e.block_id]
    debt_part = sum(e.amount for e in command.target_entries if e.kind == "debt")
    back: dict[str, int] = {}
    debt_back = 0
    for entry in command.prior:
        if entry.of_debt:
            debt_back += entry.amount
        elif entry.block_id is not None:
            back[entry.block_id] = back.get(entry.block_id, 0) + entry.amount
    left = sum(amount for _, amount in taken) + debt_part - sum(back.values()) - debt_back
    amount = left if command.amount is None else command.amount
    if amount > left or amount <= 0:
        raise ValidationError(
            "amount",
            f"op {target!r} has {to_decimal(left, scale)} left to reverse; cannot reverse {to_decimal(amount, scale)}",
        )
    need = amount
    # the debt was drawn last, so it is reversed first
    debt = min(need, debt_part - debt_back)
    need -= debt
    owed = min(debt, work.totals.get(unit, UnitTotals()).debt)
    if owed:
        work.record("reverse", unit, owed, at, command.op_id, ref=target, of_debt=True)
    settled = debt - owed
    for block_id, amount_settled in reversed(work.settlements.get(unit, ())):
        if not settled:
            break
        give = min(settled, amount_settled)
        work.unsettle(unit, block_id, give)
        work.give_back(work.blocks[block_id], "reverse", give, at, command.op_id, ref=target, of_debt=True)
        settled -= give
    for block_id, amount_taken in reversed(taken):
        if not need:
            break
        give = min(need, amount_taken - back.get(block_id, 0))
        if give > 0:
            work.give_back(work.blocks[block_id], "reverse", give, at, command.op_id, ref=target)
            need -= give
    return work.freeze()


def next_due(state: AccountState) -> datetime | None:
    """The earliest time something falls due for the account: a block expiry, a hold
    timeout or an upcoming block that settles debt. ``None`` if nothing ever will."""
    if not isinstance(state, AccountState):
        raise ValidationError("state", f"expected an AccountState, got {type(state).__name__}")
    times = [b.expires_at for b in state.blocks.values() if b.expires_at is not None and b.unheld > 0]
    times += [b.effective_at for b in state.blocks.values() if b.settle_pending]
    times += [h.expires_at for h in state.holds.values() if h.status == "active" and h.expires_at is not None]
    return min(times, default=None)


# -- reads ---------------------------------------------------------------------------------


def tally(state: AccountState, unit: str, at: datetime, scope: str | None = None) -> Tally:
    """The balance of ``unit`` in a state already brought to ``at`` (see :func:`view`).

    ``unscoped_available`` is the part of ``available`` in unscoped blocks: what a burn or a
    hold without a scope can use (with ``scope`` given, still that unscoped part)."""
    at = _checked(state, at)
    _read_arguments(unit, scope)
    available = held = upcoming = unscoped = 0
    for block in state.blocks.values():
        if block.unit != unit or not block.remaining:
            continue
        if block.is_upcoming(at):
            upcoming += block.remaining
            continue
        if scope is not None and not block.usable_by(scope):
            continue
        held += block.held
        if not block.is_expired(at):
            available += block.unheld
            if block.scope is None:
                unscoped += block.unheld
    totals = state.unit_totals(unit)
    return Tally(
        available=available,
        unscoped_available=unscoped,
        held=held,
        granted=totals.granted,
        used=totals.used,
        expired=totals.expired,
        voided=totals.voided,
        upcoming=upcoming,
        debt=totals.debt,
    )


def preview_burn(
    state: AccountState,
    unit: str,
    amount: int,
    at: datetime,
    scope: str | None = None,
    order: BurnOrder = DEFAULT_ORDER,
) -> tuple[tuple[tuple[str, int], ...], int]:
    """The allocations a burn would make at ``at`` and its shortfall; writes nothing."""
    at = _checked(state, at, order=order)
    _read_arguments(unit, scope)
    _check_amount(amount)
    plan, shortfall = _plan_draw(state.blocks.values(), unit, scope, amount, at, order)
    return tuple((block.id, take) for block, take in plan), shortfall


def _replay(
    customer: str,
    blocks: Iterable[BlockState],
    entries: Iterable[EntryState],
    until: datetime | None,
    on_entry: Callable[[EntryState, _Work], None] | None = None,
    *,
    before: Callable[[EntryState, _Work], None] | None = None,
    start: AccountState | None = None,
    damaged: Callable[[EntryState, str, str], None] | None = None,
) -> _Work:
    """Apply entries in ``seq`` order, with the functions the rules use, to ``start`` (or to
    nothing); a block that is not in the work yet starts blank.

    An entry that cannot be applied (stored rows altered: it belongs to another customer,
    names a block that is not one of the customer's, ...) goes to ``damaged(entry, field,
    what)`` and is skipped; without ``damaged`` it raises :class:`StorageError`."""
    known = {block.id: block for block in blocks}
    work = _Work(start if start is not None else AccountState(customer=customer))
    for entry in sorted(entries, key=lambda e: e.seq):
        if until is not None and entry.at > until:
            continue
        fault = _entry_fault(entry, customer, known, work)
        if fault is not None:
            if damaged is None:
                raise inconsistent_history(customer, f"entry #{entry.seq} {fault[1]}")
            damaged(entry, *fault)
            continue
        if before is not None:
            before(entry, work)
        if work.last_at is None or entry.at > work.last_at:
            work.last_at = entry.at
        block = None
        if entry.block_id is not None:
            block = work.blocks.get(entry.block_id)
            if block is None:
                block = attrs.evolve(known[entry.block_id], remaining=0, held=0, void_closed=False, emptied_by=None)
            if entry.kind == "reverse" and entry.of_debt:
                work.unsettle(entry.unit, block.id, entry.amount)
        work.apply(entry.kind, entry.unit, entry.amount, block)
        if on_entry is not None:
            on_entry(entry, work)
    return work


# kinds of entry that always name a block ("reverse" may: credit back to a block, or debt
# cancelled) and the one that never does
_NEEDS_BLOCK = frozenset(_BLOCK_EFFECT) - {"reverse"}
_NO_BLOCK = frozenset({"debt"})
_KINDS = frozenset(ENTRY_KINDS)


def inconsistent_history(customer: str, what: str) -> StorageError:
    """The error of a read that meets stored rows that contradict each other."""
    return StorageError(
        f"the stored history of customer {customer!r} is inconsistent ({what}): "
        "its rows were changed outside the ledger; run verify() to list every problem"
    )


def _entry_fault(
    entry: EntryState, customer: str, known: Mapping[str, BlockState], work: _Work
) -> tuple[str, str] | None:
    """Why ``entry`` cannot be applied to ``customer``'s history, as (field, what), or None."""
    if entry.customer != customer:
        return "customer", f"belongs to customer {entry.customer!r}"
    if entry.kind not in _KINDS:
        return "kind", f"has the unknown kind {entry.kind!r}"
    if type(entry.amount) is not int or entry.amount < 0:
        return "amount", f"has the amount {entry.amount!r}"
    block_id = entry.block_id
    if block_id is None:
        if entry.kind in _NEEDS_BLOCK:
            return "block_id", f"is a {entry.kind} entry that names no block"
        return None
    if entry.kind in _NO_BLOCK:
        return "block_id", f"is a {entry.kind} entry that names block {block_id}"
    block = work.blocks.get(block_id) or known.get(block_id)
    if block is None or block.customer != customer:
        return "block_id", f"names block {block_id}, which is not one of customer {customer!r}'s blocks"
    if block.unit != entry.unit:
        return "unit", f"is in {entry.unit!r} but names block {block_id}, which is in {block.unit!r}"
    return None


def rebuild(
    customer: str,
    blocks: Iterable[BlockState],
    holds: Iterable[HoldState],
    entries: Iterable[EntryState],
    until: datetime | None = None,
    *,
    start: AccountState | None = None,
) -> AccountState:
    """The account as its entries say it was at ``until`` (default: after the last entry).

    ``blocks`` and ``holds`` are their latest stored forms; only their fixed attributes are
    used. Entries are applied in ``seq`` order with the same functions the rules use, so a
    rebuilt state equals the stored one when the ledger is sound.

    ``start`` is a snapshot: the state right after some entry dated at or before ``until``
    (see :class:`creditcore.repository.PastHistory`); ``entries`` are then only those after
    it. The result then holds only the blocks and holds the snapshot held or the entries
    name, but counts the same balance as a replay of the whole history.

    Stored rows that contradict each other (an entry of another customer, or naming a block
    that is not the customer's) raise :class:`StorageError`; :func:`audit` lists them.
    """
    if until is not None:
        until = parse_time(until, "until")
    work = _replay(customer, blocks, entries, until, start=start)
    for found in holds:
        if until is not None and found.created_at > until:
            continue
        if found.settled_at is not None and (until is None or found.settled_at <= until):
            work.holds[found.id] = found
        else:
            work.holds[found.id] = attrs.evolve(found, status="active", captured=0, settled_at=None, settled_by=None)
    horizon = until if until is not None else work.last_at
    for block in work.blocks.values():
        pending = block.settles_debt and horizon is not None and block.effective_at > horizon
        if pending != block.settle_pending:
            work.blocks[block.id] = attrs.evolve(block, settle_pending=pending)
    work.next_number = max((b.number for b in work.blocks.values()), default=0) + 1
    if start is not None:
        # blocks used up before the snapshot are not in the work, but they were numbered
        work.next_number = max(work.next_number, start.next_number)
    return work.freeze()[0]


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


def audit(
    stored: AccountState,
    blocks: Iterable[BlockState],
    holds: Iterable[HoldState],
    entries: Iterable[EntryState],
) -> list[Problem]:
    """Recompute an account from its entries alone and list where storage disagrees.

    Made for damaged storage: it reports what it finds and never raises. Besides the figures
    (each block's remaining and held, each unit's totals, each entry's ``available_after``),
    it checks what the entries say about the stored rows: entries of another customer or
    naming a block that is not the customer's, each block's amount (its ``grant`` or
    ``move_in`` entry) and its times (nothing drawn outside ``effective_at <= at <
    expires_at``, an expiry dated ``expires_at``, no credit left unexpired after it), each
    hold's amount, allocations, capture and status against its entries, and an account that
    is missing while its entries exist. An expiry moved to a later time that no entry has
    reached yet leaves no trace in the entries and cannot be seen."""
    customer = stored.customer
    problems: list[Problem] = []
    try:
        _audit(stored, list(blocks), list(holds), list(entries), problems)
    except Exception as error:  # damage of a kind no check foresaw: report it, never raise
        problems.append(
            Problem(
                customer=customer,
                subject="account",
                field="history",
                stored="unreadable",
                recomputed="consistent",
                text=f"customer {customer!r}: the stored history could not be checked to the end "
                f"({type(error).__name__}: {error})",
            )
        )
    return problems


# entries that draw unheld credit from an active block, and those that need a block not yet
# expired (a void or a move may take the credit of an upcoming block)
_DRAWS_ACTIVE = frozenset({"burn", "hold", "settle"})
_BEFORE_EXPIRY = frozenset({"burn", "hold", "settle", "void", "move_out"})


def _audit(
    stored: AccountState,
    blocks: list[BlockState],
    holds: list[HoldState],
    entries: list[EntryState],
    problems: list[Problem],
) -> None:
    customer = stored.customer

    def differ(subject: str, field: str, kept: object, computed: object) -> None:
        if kept != computed:
            problems.append(
                Problem(customer=customer, subject=subject, field=field, stored=str(kept), recomputed=str(computed))
            )

    def note(subject: str, field: str, kept: object, computed: object, text: str) -> None:
        problems.append(
            Problem(
                customer=customer,
                subject=subject,
                field=field,
                stored=str(kept),
                recomputed=str(computed),
                text=f"customer {customer!r}, {subject}: {text}",
            )
        )

    if stored.customer != customer or (stored.last_at is None and not stored.totals and entries):
        note(
            "account",
            "stored account",
            "missing",
            f"{len(entries)} entries",
            f"no stored account, but {len(entries)} entries exist (the account row is missing or empty)",
        )

    last_seq = [0]
    origin: dict[str, int] = {}  # block -> amount of its grant or move_in entries
    origins: dict[str, int] = {}  # block -> how many there are
    held_by: dict[str, dict[str, int]] = {}  # hold -> block -> amount of its hold entries
    captured_by: dict[str, int] = {}  # hold -> amount of its capture entries
    ended: set[str] = set()  # holds with capture or release entries

    def damaged(entry: EntryState, field: str, what: str) -> None:
        note(f"entry #{entry.seq}", field, what, f"an entry of customer {customer!r}", f"entry {what}")

    def check_entry(entry: EntryState, work: _Work) -> None:
        subject = f"entry #{entry.seq}"
        if entry.seq <= last_seq[0]:
            differ(subject, "seq", f"after #{last_seq[0]}", "strictly increasing")
        last_seq[0] = entry.seq
        differ(subject, "available_after", entry.available_after, work.available(entry.unit, entry.at))
        kind, at = entry.kind, entry.at
        if entry.hold_id is not None:
            if kind == "hold" and entry.block_id is not None:
                pins = held_by.setdefault(entry.hold_id, {})
                pins[entry.block_id] = pins.get(entry.block_id, 0) + entry.amount
            elif kind == "capture":
                captured_by[entry.hold_id] = captured_by.get(entry.hold_id, 0) + entry.amount
                ended.add(entry.hold_id)
            elif kind == "release":
                ended.add(entry.hold_id)
        if entry.block_id is None:
            return
        block = work.blocks[entry.block_id]
        if kind in ("grant", "move_in"):
            origin[block.id] = origin.get(block.id, 0) + entry.amount
            origins[block.id] = origins.get(block.id, 0) + 1
        expires = block.expires_at
        drawn_early = kind in _DRAWS_ACTIVE and at < block.effective_at
        drawn_late = kind in _BEFORE_EXPIRY and expires is not None and at >= expires
        if drawn_early or drawn_late:
            window = f"the block is usable from {block.effective_at.isoformat()}" + (
                f" until {expires.isoformat()}" if expires is not None else ""
            )
            note(
                f"block {block.id}",
                "effective_at" if drawn_early else "expires_at",
                block.effective_at.isoformat() if drawn_early else f"{expires.isoformat() if expires else None}",
                f"at or before {at.isoformat()}" if drawn_early else f"after {at.isoformat()}",
                f"entry #{entry.seq} ({kind}) takes its credit at {at.isoformat()}, but {window}",
            )
        if kind == "expire":
            natural = entry.op_id == f"expire:{block.id}"
            if expires is None or at < expires or (natural and at != expires):
                note(
                    f"block {block.id}",
                    "expires_at",
                    "never" if expires is None else expires.isoformat(),
                    at.isoformat() if natural else f"at or before {at.isoformat()}",
                    f"entry #{entry.seq} expires its credit at {at.isoformat()}, but the stored block expires "
                    f"{'never' if expires is None else 'at ' + expires.isoformat()}",
                )

    work = _replay(customer, blocks, entries, None, check_entry, damaged=damaged)
    latest = {b.id: b for b in blocks}
    latest.update(stored.blocks)
    for block in latest.values():
        subject = f"block {block.id}"
        if not 0 <= block.held <= block.remaining <= block.amount:
            differ(
                subject,
                "0 <= held <= remaining <= amount",
                f"{block.held}/{block.remaining}/{block.amount}",
                "within bounds",
            )
        computed = work.blocks.get(block.id)
        if computed is None:
            differ(subject, "entries", "a stored block", "no entry for it")
            continue
        differ(subject, "remaining", block.remaining, computed.remaining)
        differ(subject, "held", block.held, computed.held)
        if origins.get(block.id) != 1:
            differ(subject, "grant or move_in entries", origins.get(block.id, 0), 1)
        else:
            differ(subject, "amount", block.amount, origin[block.id])
        if (
            block.expires_at is not None
            and work.last_at is not None
            and block.expires_at <= work.last_at
            and computed.remaining > computed.held
        ):
            note(
                subject,
                "expires_at",
                block.expires_at.isoformat(),
                f"after {work.last_at.isoformat()}",
                f"it expires at {block.expires_at.isoformat()}, but {computed.remaining - computed.held} of its "
                f"credit was never expired, though entries go on until {work.last_at.isoformat()}",
            )
    pinned: dict[str, int] = {}
    for found in holds:
        subject = f"hold {found.id}"
        allocated = sum(amount for _, amount in found.allocations)
        differ(subject, "amount (the sum of its allocations)", found.amount, allocated)
        differ(subject, "allocations", dict(found.allocations), held_by.get(found.id, {}))
        differ(subject, "captured", found.captured, captured_by.get(found.id, 0))
        if (found.status == "active") == (found.id in ended):
            differ(
                subject,
                "status",
                found.status,
                "ended (it has capture or release entries)" if found.id in ended else "active (nothing ended it)",
            )
        if found.status == "active":
            for block_id, amount in found.allocations:
                pinned[block_id] = pinned.get(block_id, 0) + amount
    for block_id, computed in work.blocks.items():
        differ(f"block {block_id}", "held by active holds", pinned.get(block_id, 0), computed.held)
    for unit in sorted(set(stored.totals) | set(work.totals)):
        kept, computed_totals = stored.unit_totals(unit), work.totals.get(unit) or UnitTotals()
        for name in ("granted", "used", "expired", "voided", "debt"):
            differ(f"unit {unit}", name, getattr(kept, name), getattr(computed_totals, name))
    if stored.last_at is not None:
        try:
            now = view(stored, stored.last_at)
        except StorageError as error:
            note("account", "stored state", "inconsistent", "consistent", str(error))
        else:
            for unit in sorted(stored.totals):
                figures = tally(now, unit, stored.last_at)
                parts = (
                    figures.available
                    + figures.held
                    + figures.used
                    + figures.expired
                    + figures.voided
                    + figures.upcoming
                )
                if figures.granted != parts:
                    problems.append(
                        Problem(
                            customer=customer,
                            subject=f"unit {unit}",
                            field="balance identity",
                            stored=f"granted {figures.granted}",
                            recomputed=f"available + held + used + expired + voided + upcoming = {parts}",
                            text=f"customer {customer!r}, unit {unit}: granted is {figures.granted} but available + "
                            f"held + used + expired + voided + upcoming is {parts}",
                        )
                    )
    differ("account", "last entry time", stored.last_at, work.last_at)


def timeline(
    customer: str,
    blocks: Iterable[BlockState],
    entries: Iterable[EntryState],
    unit: str,
    horizon: datetime | None = None,
) -> list[tuple[datetime, Tally]]:
    """The balance of ``unit`` after each moment it changed: each time entries are dated,
    and each time an upcoming block became active (up to ``horizon``, if given).

    Stored rows that contradict each other raise :class:`StorageError`, as in :func:`rebuild`."""
    if horizon is not None:
        horizon = parse_time(horizon, "horizon")
    blocks = list(blocks)
    activations = sorted(
        {
            b.effective_at
            for b in blocks
            if b.unit == unit and b.effective_at > b.created_at and (horizon is None or b.effective_at <= horizon)
        }
    )
    points: list[tuple[datetime, Tally]] = []
    group: list[datetime] = []

    def mark(at: datetime, work: _Work) -> None:
        figures = tally(work.freeze()[0], unit, at)
        if not points or points[-1][1] != figures:
            points.append((at, figures))

    def before(entry: EntryState, work: _Work) -> None:
        if group and group[0] != entry.at:
            mark(group.pop(), work)
        while activations and activations[0] < entry.at:
            mark(activations.pop(0), work)
        if entry.unit == unit and not group:
            group.append(entry.at)

    work = _replay(customer, blocks, entries, None, before=before)
    if group:
        mark(group.pop(), work)
    for at in activations:
        mark(at, work)
    return points


def decimal_allocations(allocations: Iterable[tuple[str, int]], scale: int) -> tuple[tuple[str, Decimal], ...]:
    return tuple((block_id, to_decimal(amount, scale)) for block_id, amount in allocations)

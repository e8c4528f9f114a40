"""The rules of the ledger: pure functions ``(state, command, at) -> Transition``.

Nothing here does I/O, reads a clock or generates an id: the caller passes the time and the
ids in. Every write rule first records what fell due up to ``at`` (see
:mod:`creditcore.core.due`), in time order, then applies its command. A rule that raises has
changed nothing: the state it was given is immutable.

Each rule returns a :class:`~creditcore.core.outcomes.Transition`: it unpacks as ``(new state,
entries)`` and carries the outcome the rule decided and the balance change it made. Amounts
are integers of minor units.

>>> from datetime import datetime, UTC
>>> from creditcore import rules, state
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> s = state.AccountState(customer="ada")
>>> s, entries = rules.grant(s, state.Grant(op_id="op1", block_id="b1", unit="credits", amount=10), t)
>>> step = rules.burn(s, state.Burn(op_id="op2", unit="credits", amount=4), t)
>>> step.outcome.burned, step.change["credits"].available_after
(4, 6)
>>> rules.tally(step.state, "credits", t).available
6
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import attrs

from creditcore.core import due, recurring
from creditcore.core.commands import (
    AddAlert,
    Burn,
    Capture,
    ChangeExpiry,
    Grant,
    PlaceHold,
    Refund,
    Release,
    Reverse,
    ScheduleGrant,
    SetTopUp,
    Void,
)
from creditcore.core.effects import Work, end_hold
from creditcore.core.index import Index
from creditcore.core.order import DEFAULT_ORDER, BurnOrder
from creditcore.core.outcomes import (
    Advanced,
    Burned,
    Captured,
    Configured,
    Granted,
    Held,
    Moved,
    Refunded,
    Released,
    Reversed,
    Transition,
    Voided,
)
from creditcore.core.settings import AlertState, ScheduleState, TopUpState
from creditcore.core.state import AccountState, BlockState, HoldState, Tally, UnitTotals
from creditcore.errors import Conflict, HoldNotActive, InsufficientCredits, NotFound, ValidationError
from creditcore.values import (
    EARLIEST,
    LATEST,
    MAX_MINOR,
    MAX_SCALE,
    parse_categories,
    parse_scope,
    parse_time,
    to_decimal,
)


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


def _read_arguments(unit: object, scope: object) -> frozenset[str] | None:
    """A read's unit checked, and its scope set (a str is one scope)."""
    if type(unit) is not str or not unit:
        raise ValidationError("unit", f"expected a unit name, got {unit!r}")
    if scope is None or type(scope) is frozenset:
        return scope
    return parse_scope(scope)


def check_time(state: AccountState, at: datetime) -> None:
    """Refuse a write dated before the customer's last write (``ValidationError("at")``)."""
    if state.last_at is not None and at < state.last_at:
        raise ValidationError(
            "at",
            f"{at.isoformat()} is before the last write of customer {state.customer!r} at "
            f"{state.last_at.isoformat()}: a customer's history only moves forward",
        )


OutcomeT = TypeVar("OutcomeT")


def _done(work: Work, outcome: OutcomeT) -> Transition[OutcomeT]:
    """The transition of a rule that has written all its entries: the end of its step (the
    top-up and alerts of the unit it moved), then the bookkeeping of the due events."""
    _end_step(work)
    due.close(work)
    state, entries = work.freeze()
    return Transition(state, entries, outcome, work.change(state), tuple(work.steps))


def _end_step(work: Work) -> None:
    """The end of an operation's step: the top-up and alerts of the unit it moved."""
    watched = work.watched
    if watched is not None and (work.top_ups or work.alerts) and len(work.entries) > watched[4]:
        unit, at, available, debt, first = watched
        recurring.after_step(work, at, {unit: available - debt}, {unit: work.entries[first].op_id})


def advance(state: AccountState, at: datetime) -> Transition[Advanced]:
    """Record the events that fell due up to ``at`` (expiries, hold timeouts, debt
    settlements: see :mod:`creditcore.core.due`), one step per instant."""
    at = _checked(state, at)
    check_time(state, at)
    work = Work(state)
    due.advance(work, at)
    return _done(work, Advanced(steps=len(work.steps)))


def view(state: AccountState, at: datetime) -> AccountState:
    """The state as it is at ``at`` (not before the last entry), for reading: what fell due is
    counted whether or not it has been recorded (the state itself, when nothing has)."""
    at = _checked(state, at)
    if state.last_at is not None and at < state.last_at:
        raise ValidationError(
            "at",
            f"{at.isoformat()} is before the last write of customer {state.customer!r} at "
            f"{state.last_at.isoformat()}: view() shows the state from then on; rebuild() the state of an earlier time",
        )
    upcoming = due.next_due(state)
    if upcoming is None or upcoming > at:
        return state
    work = Work(state)
    due.advance(work, at)
    due.close(work)
    return work.freeze()[0]


def _begin(state: AccountState, at: datetime) -> Work:
    check_time(state, at)
    work = Work(state)
    due.advance(work, at)
    return work


def plan_draw(
    blocks: Iterable[BlockState],
    unit: str,
    scope: str | Iterable[str] | None,
    amount: int,
    at: datetime,
    order: BurnOrder = DEFAULT_ORDER,
    categories: str | Iterable[str] | None = None,
) -> tuple[list[tuple[BlockState, int]], int]:
    """Which blocks a burn of ``amount`` draws from, in order, and the shortfall."""
    at = parse_time(at, "at")
    scopes = _read_arguments(unit, scope)
    chosen = parse_categories(categories)
    _check_amount(amount)
    if not isinstance(order, BurnOrder):
        raise ValidationError("order", f"expected a BurnOrder, got {type(order).__name__}")
    return _plan_draw(blocks, unit, scopes, amount, at, order, chosen)


def _plan_draw(
    blocks: Iterable[BlockState],
    unit: str,
    scope: frozenset[str] | None,
    amount: int,
    at: datetime,
    order: BurnOrder,
    categories: frozenset[str] | None = None,
) -> tuple[list[tuple[BlockState, int]], int]:
    # BlockState.unheld, .is_active and .usable_by, inlined
    eligible = [
        b for b in blocks
        if b.unit == unit
        and b.remaining > b.held
        and b.effective_at <= at
        and (b.expires_at is None or at < b.expires_at)
        and (b.scope is None or (scope is not None and not b.scope.isdisjoint(scope)))
        and (categories is None or b.category in categories)
    ]  # fmt: skip
    eligible.sort(key=order.sort_key)
    return _take(eligible, amount)


def _take(eligible: Iterable[BlockState], amount: int) -> tuple[list[tuple[BlockState, int]], int]:
    plan: list[tuple[BlockState, int]] = []
    need = amount
    for block in eligible:
        take = min(need, block.remaining - block.held)
        plan.append((block, take))
        need -= take
        if need == 0:
            break
    return plan, need


def _eligible(
    index: Index,
    blocks: Mapping[str, BlockState],
    unit: str,
    scope: frozenset[str] | None,
    at: datetime,
    categories: frozenset[str] | None = None,
) -> Iterator[BlockState]:
    """The blocks a burn or a hold of ``unit`` with the scope set ``scope`` and
    ``categories`` may draw at ``at``, in the index's burn order: a walk that stops as soon
    as the draw has what it needs."""
    for _key, block_id in index.in_burn_order(unit, scope):
        b = blocks[block_id]
        # BlockState.unheld and .is_active, inlined (the scope is the index's to match)
        if (
            b.remaining > b.held
            and b.effective_at <= at
            and (b.expires_at is None or at < b.expires_at)
            and (categories is None or b.category in categories)
        ):
            yield b


def _draw(
    work: Work,
    unit: str,
    scope: frozenset[str] | None,
    amount: int,
    at: datetime,
    order: BurnOrder,
    categories: frozenset[str] | None = None,
) -> tuple[list[tuple[BlockState, int]], int]:
    """Which blocks a burn or hold draws from, in ``order``, and the shortfall."""
    index = work.index
    if index.order != order:
        index.reorder(order, list(work.blocks.values()))
    return _take(_eligible(index, work.blocks, unit, scope, at, categories), amount)


def grant(state: AccountState, command: Grant, at: datetime) -> Transition[Granted]:
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
        single_use=command.single_use,
    )
    work.next_number += 1
    work.watch(command.unit, at)
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
    settled = work.settle(block, at, command.op_id) if settles and effective_at <= at else 0
    return _done(work, Granted(unit=command.unit, block_id=command.block_id, granted=command.amount, settled=settled))


def burn(
    state: AccountState, command: Burn, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition[Burned]:
    """Draw ``amount`` from the eligible blocks in burn order; what no credit covers is
    refused, left as shortfall, or recorded as debt, as ``command.overdraft`` says."""
    at = _checked(state, at, command, Burn, order, scale)
    work = _begin(state, at)
    return _done(work, _burn(work, command, at, order, scale))


def burn_each(
    state: AccountState, commands: Sequence[Burn], at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition[tuple[Burned, ...]]:
    """Several burns of one customer as one write at ``at``, one after the other, each a step
    of its own (its op id, then the top-up and alerts it triggers), as if made in turn: an
    invoice's lines."""
    at = _checked(state, at, None, None, order, scale)
    for command in commands:
        if type(command) is not Burn:
            raise ValidationError("command", f"expected Burn commands, got {type(command).__name__}")
    work = _begin(state, at)
    outcomes = []
    for command in commands:
        outcomes.append(_burn(work, command, at, order, scale))
        _end_step(work)
        work.watched = None  # each burn's step ended here
    return _done(work, tuple(outcomes))


def _burn(work: Work, command: Burn, at: datetime, order: BurnOrder, scale: int) -> Burned:
    """One burn's entries in ``work``: its draw, the single-use voids, the debt."""
    plan, shortfall = _draw(work, command.unit, command.scope, command.amount, at, order, command.categories)
    if shortfall:
        available = command.amount - shortfall
        if command.overdraft == "reject":
            raise _insufficient(
                work, command.unit, command, command.amount, available, at, scale,
                "pass overdraft='partial' or 'debt' to burn what there is",
            )  # fmt: skip
        if command.overdraft == "debt":
            debt = work.totals.get(command.unit, UnitTotals()).debt
            if command.debt_limit is not None and debt + shortfall > command.debt_limit:
                raise _insufficient(
                    work, command.unit, command, command.amount, available, at, scale,
                    f"the debt would reach {to_decimal(debt + shortfall, scale)}, over the limit of "
                    f"{to_decimal(command.debt_limit, scale)}",
                )  # fmt: skip
            if debt + shortfall > MAX_MINOR:
                raise ValidationError("amount", "the customer's debt would not fit in a signed 64-bit amount")
    work.watch(command.unit, at)
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
    if any(block.single_use for block, _take in plan):
        work.close_single_use((block.id for block, _take in plan), at, command.op_id)
    debt = shortfall if command.overdraft == "debt" else 0
    if debt:
        work.record(
            "debt",
            command.unit,
            debt,
            at,
            command.op_id,
            description=command.description,
            metadata=command.metadata,
        )
    # positional, unlike the other outcomes: keywords cost a third of the object, once per burn
    return Burned(command.unit, command.amount, command.amount - shortfall, shortfall, debt)


def _insufficient(
    work: Work, unit: str, call: Burn | PlaceHold, amount: int, available: int, at: datetime, scale: int, advice: str
) -> InsufficientCredits:
    """The refusal of a burn or hold of ``amount`` that only ``available`` could serve.

    Credit that is active but only usable by other scopes is named, with how to reach it:
    a balance without ``scope`` counts it, so the refusal must say why it was not used; so is
    credit of the categories the call left out."""
    scope, categories = call.scope, call.categories
    elsewhere: dict[frozenset[str], int] = {}
    left_out = 0
    for block in work.blocks.values():
        if block.unit != unit or block.remaining <= block.held or not block.is_active(at):
            continue
        if block.scope is not None and not block.usable_by(scope):
            elsewhere[block.scope] = elsewhere.get(block.scope, 0) + block.unheld
        elif categories is not None and block.category not in categories:
            left_out += block.unheld
    parts = []
    if left_out:
        parts.append(
            f"{to_decimal(left_out, scale)} {unit} more is credit of a category that categories="
            f"{'/'.join(sorted(categories or ()))} leaves out"
        )
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
        usable_by=("" if not elsewhere else "without a scope" if scope is None else f"to {_scopes_named(scope)}"),
    )


def _scopes_named(scope: frozenset[str]) -> str:
    names = sorted(scope)
    return f"scope {names[0]!r}" if len(names) == 1 else f"scopes {', '.join(map(repr, names))}"


def hold(
    state: AccountState, command: PlaceHold, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition[Held]:
    """Pin ``amount`` of credit in specific blocks, chosen in burn order; all or nothing."""
    at = _checked(state, at, command, PlaceHold, order, scale)
    work = _begin(state, at)
    if command.expires_at is not None and command.expires_at <= at:
        raise ValidationError("expires_at", f"{command.expires_at.isoformat()} must be later than the hold time")
    if command.hold_id in work.holds:
        raise ValidationError("hold_id", f"hold {command.hold_id!r} exists already")
    plan, shortfall = _draw(work, command.unit, command.scope, command.amount, at, order, command.categories)
    if shortfall:
        raise _insufficient(
            work, command.unit, command, command.amount, command.amount - shortfall, at, scale,
            "a hold reserves all of its amount or nothing",
        )  # fmt: skip
    work.watch(command.unit, at)
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
    allocations = tuple((block.id, take) for block, take in plan)
    work.holds[command.hold_id] = HoldState(
        id=command.hold_id,
        customer=state.customer,
        unit=command.unit,
        amount=command.amount,
        allocations=allocations,
        scope=command.scope,
        categories=command.categories,
        expires_at=command.expires_at,
        created_at=at,
        op_id=command.op_id,
        description=command.description,
        metadata=command.metadata,
    )
    return _done(work, Held(unit=command.unit, hold_id=command.hold_id, held=command.amount, allocations=allocations))


def _active_hold(work: Work, hold_id: str) -> HoldState:
    found = work.holds.get(hold_id)
    if found is None:
        raise NotFound(f"no hold {hold_id!r} for customer {work.customer!r}")
    if found.status != "active":
        raise HoldNotActive(hold_id, found.status)
    return found


def capture(
    state: AccountState, command: Capture, at: datetime, order: BurnOrder = DEFAULT_ORDER, scale: int = 0
) -> Transition[Captured]:
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
    work.watch(found.unit, at)
    end_hold(work, found, amount, at, command.op_id, "captured", order)
    return _done(work, Captured(unit=found.unit, hold_id=found.id, captured=amount, released=found.amount - amount))


def release(state: AccountState, command: Release, at: datetime) -> Transition[Released]:
    """Give all of a hold's credit back to its blocks."""
    at = _checked(state, at, command, Release)
    work = _begin(state, at)
    found = _active_hold(work, command.hold_id)
    work.watch(found.unit, at)
    end_hold(work, found, 0, at, command.op_id, "released", DEFAULT_ORDER)
    return _done(work, Released(unit=found.unit, hold_id=found.id, released=found.amount))


def _unheld_block(work: Work, block_id: str, what: str, at: datetime, scale: int) -> BlockState:
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


def void(state: AccountState, command: Void, at: datetime, scale: int = 0) -> Transition[Voided]:
    """Remove up to the block's unheld remaining (default: all of it); held credit stays."""
    at = _checked(state, at, command, Void, scale=scale)
    work = _begin(state, at)
    block = _unheld_block(work, command.block_id, "void", at, scale)
    amount = _part(block, command.amount, scale)
    work.watch(block.unit, at)
    work.record("void", block.unit, amount, at, command.op_id, block=block, description=command.reason)
    return _done(work, Voided(unit=block.unit, block_id=block.id, voided=amount))


def change_expiry(state: AccountState, command: ChangeExpiry, at: datetime, scale: int = 0) -> Transition[Moved]:
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
    work.watch(block.unit, at)
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
        first_used_at=None,
        used=0,
        source="move",
        schedule_id=None,
    )
    work.next_number += 1
    work.record("move_in", block.unit, amount, at, command.op_id, block=moved)
    return _done(work, Moved(unit=block.unit, block_id=block.id, new_block_id=moved.id, moved=amount))


def reverse(state: AccountState, command: Reverse, at: datetime, scale: int = 0) -> Transition[Reversed]:
    """Undo a burn or a capture, fully or partly: the debt it recorded first, then credit
    back to the blocks it drew, in the reverse of the order they were drawn.

    Debt still owed is cancelled; debt already settled gives the credit back to the blocks
    that settled it, latest settlement first. Credit returned to an expired block expires at
    once; to a voided block, it is voided at once. The blocks named must be in ``state``.
    """
    at = _checked(state, at, command, Reverse, scale=scale)
    _same_customer(state, command)
    work = _begin(state, at)
    target = command.target
    taken, amount = _to_give_back(command, "reverse", scale)
    unit, back = taken.unit, taken.back
    work.watch(unit, at)
    need = amount
    # the debt was drawn last, so it is reversed first
    debt = min(need, taken.debt - taken.debt_back)
    need -= debt
    owed = min(debt, work.totals.get(unit, UnitTotals()).debt)
    if owed:
        work.record("reverse", unit, owed, at, command.op_id, ref=target, of_debt=True)
    undone = owed
    settled = debt - owed
    for block_id, amount_settled in reversed(work.settlements.get(unit, ())):
        if not settled:
            break
        give = min(settled, amount_settled)
        work.unsettle(unit, block_id, give)
        work.give_back(work.blocks[block_id], "reverse", give, at, command.op_id, ref=target, of_debt=True)
        settled -= give
        undone += give
    for block_id, amount_taken in reversed(taken.drawn):
        if not need:
            break
        give = min(need, amount_taken - back.get(block_id, 0))
        if give > 0:
            work.give_back(work.blocks[block_id], "reverse", give, at, command.op_id, ref=target)
            need -= give
            undone += give
    return _done(work, Reversed(unit=unit, target=target, reversed=undone, debt_cancelled=owed))


@attrs.frozen
class _Taken:
    """What a burn or capture took, and how much of it its reversals and refunds gave back."""

    unit: str
    drawn: list[tuple[str, int]]
    """``(block_id, amount)`` the op drew, in order."""
    debt: int
    """The debt it recorded."""
    back: dict[str, int]
    """Per block, what reversals gave back."""
    debt_back: int
    """What reversals undid of its debt."""
    left: int
    """What it took less its reversals and refunds: what may still be reversed or refunded."""


def _same_customer(state: AccountState, command: Reverse | Refund) -> None:
    if command.target_entries[0].customer != state.customer:
        raise ValidationError(
            "target_entries",
            f"op {command.target!r} is customer {command.target_entries[0].customer!r}'s, not {state.customer!r}'s",
        )


def _to_give_back(command: Reverse | Refund, verb: str, scale: int) -> tuple[_Taken, int]:
    """What the op took and has left, and the amount to give back (default: all that is
    left); more than that, or nothing, is refused."""
    taken = _taken(command)
    amount = taken.left if command.amount is None else command.amount
    if amount > taken.left or amount <= 0:
        raise ValidationError(
            "amount",
            f"op {command.target!r} has {to_decimal(taken.left, scale)} left to {verb}; cannot {verb} "
            f"{to_decimal(amount, scale)}",
        )
    return taken, amount


def _taken(command: Reverse | Refund) -> _Taken:
    """What the op ``command`` reverses or refunds took and has left (one reckoning for both:
    reversals and refunds of one op together stay within what it took)."""
    target = command.target
    if command.captured_nothing:
        raise ValidationError("amount", f"op {target!r} captured nothing: nothing is left to give back")
    kinds = {e.kind for e in command.target_entries}
    # a burn writes burn and debt entries (and a single-use block's void); a capture, capture
    # entries and the release of the rest (which may expire or be voided at once)
    if not kinds & {"burn", "debt", "capture"} or kinds - {"burn", "debt", "capture", "release", "expire", "void"}:
        what = "reverse" if isinstance(command, Reverse) else "refund"
        raise ValidationError(
            "op_id", f"op {target!r} is a {'/'.join(sorted(kinds)) or 'empty op'}: only burns and captures {what}"
        )
    drawn = [(e.block_id, e.amount) for e in command.target_entries if e.kind in ("burn", "capture") and e.block_id]
    debt = sum(e.amount for e in command.target_entries if e.kind == "debt")
    back: dict[str, int] = {}
    debt_back = refunded = 0
    for entry in command.prior:
        if entry.kind == "refund":
            refunded += entry.amount
        elif entry.of_debt:
            debt_back += entry.amount
        elif entry.block_id is not None:
            back[entry.block_id] = back.get(entry.block_id, 0) + entry.amount
    left = sum(amount for _, amount in drawn) + debt - sum(back.values()) - debt_back - refunded
    return _Taken(
        unit=command.target_entries[0].unit, drawn=drawn, debt=debt, back=back, debt_back=debt_back, left=left
    )


def refund(state: AccountState, command: Refund, at: datetime, scale: int = 0) -> Transition[Refunded]:
    """Fresh credit for an earlier burn or capture: one new unscoped block (``source`` refund,
    ``refund_of`` the op), up to what the op took less its reversals and refunds. Nothing
    goes back to the blocks it drew; an active block pays debt off first, as a grant's."""
    at = _checked(state, at, command, Refund, scale=scale)
    _same_customer(state, command)
    work = _begin(state, at)  # the time order, then the expiry against it, before any state check
    if command.expires_at is not None and command.expires_at <= at:
        raise ValidationError("expires_at", f"{command.expires_at.isoformat()} must be later than {at.isoformat()}")
    taken, amount = _to_give_back(command, "refund", scale)
    if command.block_id in work.blocks:
        raise ValidationError("block_id", f"block {command.block_id!r} exists already")
    unit = taken.unit
    if work.totals.get(unit, UnitTotals()).granted + amount > MAX_MINOR:
        raise ValidationError("amount", "the customer's total granted would not fit in a signed 64-bit amount")
    block = BlockState(
        id=command.block_id,
        customer=state.customer,
        unit=unit,
        number=work.next_number,
        amount=amount,
        remaining=0,
        priority=command.priority,
        category=command.category,
        effective_at=at,
        expires_at=command.expires_at,
        created_at=at,
        description=command.description,
        metadata=command.metadata,
        settles_debt=command.settle_debt,
        source="refund",
        refund_of=command.target,
    )
    work.next_number += 1
    work.watch(unit, at)
    made = work.record(
        "refund",
        unit,
        amount,
        at,
        command.op_id,
        block=block,
        description=command.description,
        metadata=command.metadata,
        ref=command.target,
    )
    assert made is not None
    settled = work.settle(made, at, command.op_id) if command.settle_debt else 0
    return _done(
        work, Refunded(unit=unit, target=command.target, block_id=command.block_id, refunded=amount, settled=settled)
    )


# -- settings (schedules, top-up rules, alerts): none writes an entry of its own, but each change is
# a write to the customer, so its history moves to it (Work.pass_time) -----------------------------


def schedule_grant(state: AccountState, command: ScheduleGrant, at: datetime) -> Transition[Configured]:
    """A recurring grant from ``start``; with ``start`` at ``at`` its period 0 is
    recorded at once, after it."""
    at = _checked(state, at, command, ScheduleGrant)
    work = _begin(state, at)
    anchor = command.anchor if command.anchor is not None else command.start if command.start is not None else at
    start = command.start if command.start is not None else max(anchor, at)
    if start < at:
        raise ValidationError("start", f"{start.isoformat()} is before the schedule's time {at.isoformat()}")
    if command.until is not None and command.until <= start:
        raise ValidationError("until", f"{command.until.isoformat()} must be later than start ({start.isoformat()})")
    if command.schedule_id in work.schedules:
        raise ValidationError("schedule_id", f"schedule {command.schedule_id!r} exists already")
    schedule = ScheduleState(
        id=command.schedule_id,
        customer=state.customer,
        unit=command.unit,
        amount=command.amount,
        first_amount=command.amount if command.first_amount is None else command.first_amount,
        every=command.every,
        anchor=anchor,
        start=start,
        until=command.until,
        timezone=command.timezone,
        rollover_max=command.rollover_max,
        rollover_min=command.rollover_min,
        priority=command.priority,
        category=command.category,
        scope=command.scope,
        single_use=command.single_use,
        cost_basis=command.cost_basis,
        settle_debt=command.settle_debt,
        description=command.description,
        metadata=command.metadata,
        number=work.next_number,
        created_at=at,
        next_at=start,
    )
    recurring.base_index(schedule)  # its boundaries can be computed (a far anchor may not)
    work.next_number += 1
    work.set_schedule(schedule)
    work.pass_time(at)
    due.advance(work, at)  # period 0, if it starts now
    return _done(work, Configured(subject=schedule.id))


def cancel_schedule(state: AccountState, schedule_id: str, at: datetime) -> Transition[Configured]:
    """No period starts after ``at``; the running one keeps its blocks to its end. What fell
    due up to ``at`` (a period starting exactly then included) is recorded first."""
    at = _checked(state, at)
    _id_arguments(schedule_id, "schedule_id")
    work = _begin(state, at)
    schedule = work.schedules.get(schedule_id)
    if schedule is None:
        raise NotFound(f"no schedule {schedule_id!r} running for customer {state.customer!r}")
    if schedule.cancelled_at is not None:
        raise Conflict(f"schedule {schedule_id!r} was cancelled at {schedule.cancelled_at.isoformat()}")
    cancelled = attrs.evolve(schedule, cancelled_at=at)
    if schedule.next_period == 0:  # never started: it ends now
        cancelled = attrs.evolve(cancelled, next_at=None)
    work.set_schedule(cancelled)
    work.pass_time(at)
    return _done(work, Configured(subject=schedule_id))


def set_top_up(state: AccountState, command: SetTopUp, at: datetime) -> Transition[Configured]:
    """Set (or replace) the unit's auto top-up rule; it fires at once if net is at or below
    its threshold. Setting the rule already in force changes nothing."""
    at = _checked(state, at, command, SetTopUp)
    work = _begin(state, at)
    old = work.top_ups.get(command.unit)
    rule = TopUpState(
        customer=state.customer,
        unit=command.unit,
        threshold=command.threshold,
        amount=command.amount,
        target=command.target,
        category=command.category,
        priority=command.priority,
        expires_after=command.expires_after,
        cost_basis=command.cost_basis,
        created_at=old.created_at if old is not None else at,
        updated_at=at,
    )
    if old is not None and attrs.evolve(old, updated_at=at) == rule:
        return _done(work, Configured(subject=command.unit))
    work.set_top_up(command.unit, rule, at)
    work.pass_time(at)
    recurring.after_step(work, at, {command.unit: work.net(command.unit, at)}, {command.unit: None}, rule_set=True)
    return _done(work, Configured(subject=command.unit))


def remove_top_up(state: AccountState, unit: str, at: datetime) -> Transition[Configured]:
    """Remove the unit's auto top-up rule (nothing, if it has none)."""
    at = _checked(state, at)
    _id_arguments(unit, "unit")
    work = _begin(state, at)
    if unit in work.top_ups:
        work.set_top_up(unit, None, at)
        work.pass_time(at)
    return _done(work, Configured(subject=unit))


def add_alert(state: AccountState, command: AddAlert, at: datetime) -> Transition[Configured]:
    """A balance alert; it watches only later steps. One active alert of a kind per unit."""
    at = _checked(state, at, command, AddAlert)
    work = _begin(state, at)
    for alert in work.alerts.values():
        if alert.unit == command.unit and alert.kind == command.kind:
            raise Conflict(f"customer {state.customer!r} has a {command.kind} alert in {command.unit!r}: {alert.id!r}")
        if alert.id == command.alert_id:
            raise ValidationError("alert_id", f"alert {command.alert_id!r} exists already")
    work.set_alert(
        AlertState(
            id=command.alert_id,
            customer=state.customer,
            unit=command.unit,
            kind=command.kind,  # type: ignore[arg-type]
            thresholds=command.thresholds,
            number=work.next_number,
            created_at=at,
        )
    )
    work.next_number += 1
    work.pass_time(at)
    return _done(work, Configured(subject=command.alert_id))


def remove_alert(state: AccountState, alert_id: str, at: datetime) -> Transition[Configured]:
    """Remove an active alert."""
    at = _checked(state, at)
    _id_arguments(alert_id, "alert_id")
    work = _begin(state, at)
    alert = work.alerts.get(alert_id)
    if alert is None:
        raise NotFound(f"no active alert {alert_id!r} for customer {state.customer!r}")
    work.set_alert(attrs.evolve(alert, removed_at=at))
    work.pass_time(at)
    return _done(work, Configured(subject=alert_id))


def _id_arguments(value: object, field: str) -> None:
    if type(value) is not str or not value:
        raise ValidationError(field, f"expected an id, got {value!r}")


def next_due(state: AccountState) -> datetime | None:
    """The earliest time something falls due for the account (a block expiry, a hold
    timeout, an upcoming block that settles debt: see :mod:`creditcore.core.due`). ``None``
    if nothing ever will."""
    if not isinstance(state, AccountState):
        raise ValidationError("state", f"expected an AccountState, got {type(state).__name__}")
    return due.next_due(state)


# -- reads ---------------------------------------------------------------------------------


def tally(state: AccountState, unit: str, at: datetime, scope: str | Iterable[str] | None = None) -> Tally:
    """The balance of ``unit`` in a state already brought to ``at`` (see :func:`view`).

    With a scope set, ``available`` and ``held`` count the blocks a burn with that set could
    use. ``unscoped_available`` is the part of ``available`` in unscoped blocks: what a burn
    or a hold without a scope can use (with ``scope`` given, still that unscoped part)."""
    at = _checked(state, at)
    scopes = _read_arguments(unit, scope)
    return count(state.index(), state.blocks, state.unit_totals(unit), unit, at, scopes)


def count(
    index: Index,
    blocks: Mapping[str, BlockState],
    totals: UnitTotals,
    unit: str,
    at: datetime,
    scope: frozenset[str] | None,
) -> Tally:
    """:func:`tally` from an account's index: its running sums, less the blocks still upcoming
    at ``at``. A block past its expiry whose credit is not yet expired by an entry (a state not
    brought to ``at``) sends it to a walk over every block instead."""
    for when, _number, block_id, block_unit in index.expiries:
        if when > at:
            break
        block = blocks[block_id]
        if block_unit == unit and block.remaining > block.held:
            return _count_blocks(blocks.values(), totals, unit, at, scope)
    available = held = unscoped = upcoming = 0
    for (block_unit, scopes), (unheld_sum, held_sum) in index.sums.items():
        if block_unit == unit and (scope is None or scopes is None or not scopes.isdisjoint(scope)):
            available += unheld_sum
            held += held_sum
            if scopes is None:
                unscoped += unheld_sum
    for _when, _number, block_id, block_unit in index.upcoming_after(at):
        if block_unit != unit:
            continue
        block = blocks[block_id]
        upcoming += block.remaining
        if scope is None or block.usable_by(scope):
            available -= block.remaining - block.held
            held -= block.held
            if block.scope is None:
                unscoped -= block.remaining - block.held
    return _tally(totals, available, unscoped, held, upcoming)


def _tally(totals: UnitTotals, available: int, unscoped: int, held: int, upcoming: int) -> Tally:
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


def _count_blocks(
    blocks: Iterable[BlockState], totals: UnitTotals, unit: str, at: datetime, scope: frozenset[str] | None
) -> Tally:
    available = held = upcoming = unscoped = 0
    for block in blocks:
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
    return _tally(totals, available, unscoped, held, upcoming)


def preview_burn(
    state: AccountState,
    unit: str,
    amount: int,
    at: datetime,
    scope: str | Iterable[str] | None = None,
    order: BurnOrder = DEFAULT_ORDER,
    categories: str | Iterable[str] | None = None,
) -> tuple[tuple[tuple[str, int], ...], int]:
    """The allocations a burn would make at ``at`` and its shortfall; writes nothing."""
    at = _checked(state, at, order=order)
    scopes = _read_arguments(unit, scope)
    chosen = parse_categories(categories)
    _check_amount(amount)
    plan, shortfall = _take(_eligible(state.index(order), state.blocks, unit, scopes, at, chosen), amount)
    return tuple((block.id, take) for block, take in plan), shortfall


def decimal_allocations(allocations: Iterable[tuple[str, int]], scale: int) -> tuple[tuple[str, Decimal], ...]:
    return tuple((block_id, to_decimal(amount, scale)) for block_id, amount in allocations)

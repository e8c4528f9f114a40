"""The writes: each parses its arguments, then goes through the one write path,
:func:`perform` (the key's replay, the future check, load, rule, save, result, the key's
record)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import attrs

from creditcore import rules
from creditcore.errors import NotFound, ValidationError
from creditcore.ids import new_id
from creditcore.model import (
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    Entry,
    GrantResult,
    HoldResult,
    RefundResult,
    ReleaseResult,
    Result,
    ReverseResult,
    Schedule,
    VoidResult,
)
from creditcore.repository import ChangeSet, EntryQuery, OperationRecord, Reader, UnitOfWork, iterate_entries
from creditcore.service import idempotency, lookup, results
from creditcore.service.context import Context
from creditcore.state import (
    AccountState,
    BlockState,
    Burn,
    Capture,
    ChangeExpiry,
    EntryState,
    Grant,
    PlaceHold,
    Refund,
    Release,
    Reverse,
    Void,
)
from creditcore.values import (
    CATEGORIES,
    DEFAULT_UNIT,
    LATEST,
    OVERDRAFT_MODES,
    check_amount,
    parse_amount,
    parse_bool,
    parse_categories,
    parse_choice,
    parse_cost_basis,
    parse_id,
    parse_metadata,
    parse_optional_id,
    parse_optional_time,
    parse_priority,
    parse_scale,
    parse_scope,
    parse_text,
    parse_time,
    to_decimal,
    whole_minor_units,
)

R = TypeVar("R", bound=Result)
Step = Callable[[AccountState, datetime], rules.Transition]


def perform(
    ctx: Context,
    uow: UnitOfWork,
    customer: str,
    at: datetime | None,
    step: Step,
    op_id: str,
    scale: int,
    memo: tuple[str, str | None, str, tuple[tuple[str, str], ...]],
    find: Callable[[], OperationRecord | None] | None = None,
    *,
    also: Sequence[tuple[str, str]] = (),
    schedule: Callable[[str], Schedule] | None = None,
) -> Result:
    """The one write path: lock the customer, replay the call if its key is known, check
    the time, run the rule, save what it changed, build the result and, when the call had
    a key, remember what a replay needs. ``memo`` is (namespace, key, kind, fingerprint);
    ``also`` more ``(namespace, key)`` the call is known by (a schedule's id beside its
    idempotency key: either replays it); ``find`` looks the key up when the default lookup
    does not fit (a hold's end); ``schedule`` finds a schedule the write made or changed."""
    namespace, key, kind, fingerprint = memo
    keys = [(namespace, key), *also] if key is not None else list(also)
    # before the key's lookup: a second call with it waits here
    before = uow.lock(customer, keys[0] if keys and find is None else None)
    if find is not None:
        record = find()
    else:
        record = None
        for space, name in keys:
            record = idempotency.replay(uow, space, name, kind, fingerprint)
            if record is not None:
                break
    if record is not None:
        stored = iterate_entries(uow, EntryQuery(op_id=record.op_id, limit=1000))
        return results.build(
            record.kind,
            record.op_id,
            record.outcome,
            tuple(Entry.from_state(e, scale) for e in stored),
            scale,
            block=lambda block_id: lookup.find_block(uow, block_id),
            hold=lambda hold_id: lookup.find_hold(uow, hold_id),
            schedule=schedule,
            replayed=True,
        )
    transition, saved = apply(ctx, uow, before, at, step)
    after = transition.state
    shown = results.figures(kind, transition.outcome, scale)
    result = results.build(
        kind,
        op_id,
        shown,
        tuple(Entry.from_state(e, scale) for e in saved if e.op_id == op_id),
        scale,
        block=after.blocks.__getitem__,
        hold=after.holds.__getitem__,
        schedule=schedule,
    )
    for space, name in keys:
        uow.record_operation(
            OperationRecord(
                namespace=space,
                key=name,
                kind=kind,
                fingerprint=fingerprint,
                op_id=op_id,
                customer=customer,
                outcome=results.kept(shown),
            )
        )
    return result


def apply(
    ctx: Context, uow: UnitOfWork, before: AccountState, at: datetime | None, step: Step
) -> tuple[rules.Transition, list[EntryState]]:
    """The heart of every write, once its customer is locked (``before``) and its key looked
    up: the time checks, the rule, and the save of what it changed; the transition and the
    entries as stored."""
    ctx.check_future(at)
    when = ctx.write_time(at, before)
    transition = step(before, when)
    after, entries = transition
    return transition, uow.save(ChangeSet.of(before, after, entries))


def define_unit(ctx: Context, name: str, scale: int) -> None:
    name = parse_id(name, "unit")
    scale = parse_scale(scale)
    with ctx.transaction() as uow:
        known = {DEFAULT_UNIT: 0, **uow.units()}
        if name in known:
            if known[name] != scale:
                raise ValidationError("scale", f"unit {name!r} is declared with scale {known[name]}, not {scale}")
        else:
            uow.add_unit(name, scale)
    ctx.remember_unit(name, scale)


def grant(
    ctx: Context,
    customer: str,
    amount: int | Decimal | str,
    *,
    unit: str = DEFAULT_UNIT,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    priority: int = 50,
    category: str = "promotional",
    cost_basis: int | Decimal | str | None = None,
    scope: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    settle_debt: bool | None = None,
    single_use: bool = False,
    at: datetime | None = None,
) -> GrantResult:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    minor = parse_amount(amount, scale)
    effective = parse_optional_time(effective_at, "effective_at")
    expires = parse_optional_time(expires_at, "expires_at")
    priority = parse_priority(priority)
    category = parse_choice(category, "category", CATEGORIES)
    basis = parse_cost_basis(cost_basis)
    scopes = parse_scope(scope)
    description = parse_text(description)
    meta = parse_metadata(metadata)
    key = parse_optional_id(idempotency_key, "idempotency_key")
    settles = ctx.settle_debt if settle_debt is None else parse_bool(settle_debt, "settle_debt")
    once = parse_bool(single_use, "single_use")
    when = parse_optional_time(at, "at")
    # the arguments alone settle this one; expiry against `at` waits until after the key
    # lookup, so a retry of a grant that succeeded replays whenever it comes
    if expires is not None and effective is not None and expires <= effective:
        raise ValidationError("expires_at", f"{expires.isoformat()} must be later than effective_at")
    fingerprint = idempotency.fingerprint(
        key,
        customer=customer,
        amount=to_decimal(minor, scale),
        unit=unit,
        effective_at=effective,
        expires_at=expires,
        priority=priority,
        category=category,
        cost_basis=basis,
        scope=scopes,
        description=description,
        metadata=meta,
        settle_debt=settles,
        **idempotency.unless_default(single_use=once),
    )
    with ctx.transaction() as uow:
        op_id, block_id = new_id("op"), new_id("blk")
        command = Grant(
            op_id=op_id,
            block_id=block_id,
            unit=unit,
            amount=minor,
            effective_at=effective,
            expires_at=expires,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scopes,
            description=description,
            metadata=meta,
            settle_debt=settles,
            single_use=once,
        )

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            customer,
            when,
            lambda s, t: rules.grant(s, command, t),
            op_id,
            scale,
            memo=("key", key, "grant", fingerprint),
        )


def burn(
    ctx: Context,
    customer: str,
    amount: int | Decimal | str,
    *,
    unit: str = DEFAULT_UNIT,
    scope: str | Iterable[str] | None = None,
    categories: str | Iterable[str] | None = None,
    overdraft: str = "reject",
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> BurnResult:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    minor = parse_amount(amount, scale)
    scopes = parse_scope(scope)
    chosen = parse_categories(categories)
    mode = parse_choice(overdraft, "overdraft", OVERDRAFT_MODES)
    description = parse_text(description)
    meta = parse_metadata(metadata)
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    limit = None if ctx.debt_limit is None or mode != "debt" else whole_minor_units(ctx.debt_limit, scale)
    fingerprint = idempotency.fingerprint(
        key,
        customer=customer,
        amount=to_decimal(minor, scale),
        unit=unit,
        scope=idempotency.scope_form(scopes),
        overdraft=mode,
        description=description,
        metadata=meta,
        **idempotency.unless_default(categories=chosen),
    )
    with ctx.transaction() as uow:
        op_id = new_id("op")
        command = Burn(
            op_id=op_id,
            unit=unit,
            amount=minor,
            scope=scopes,
            categories=chosen,
            overdraft=mode,  # type: ignore[arg-type]
            debt_limit=limit,
            description=description,
            metadata=meta,
        )

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            customer,
            when,
            lambda s, t: rules.burn(s, command, t, ctx.order, scale),
            op_id,
            scale,
            memo=("key", key, "burn", fingerprint),
        )


def burn_each(
    ctx: Context, uow: UnitOfWork, customer: str, commands: Sequence[Burn], scale: int, at: datetime | None
) -> list[EntryState]:
    """Burns of one customer as one write in the caller's unit of work, one after the other,
    each with its op id and the top-up and alerts it triggers (an invoice's lines): one lock,
    one load and one save, however many. The entries as stored (none without commands)."""
    if not commands:
        return []
    before = uow.lock(customer)
    _transition, saved = apply(ctx, uow, before, at, lambda s, t: rules.burn_each(s, commands, t, ctx.order, scale))
    return saved


def hold(
    ctx: Context,
    customer: str,
    amount: int | Decimal | str,
    *,
    hold_id: str,
    unit: str = DEFAULT_UNIT,
    scope: str | Iterable[str] | None = None,
    categories: str | Iterable[str] | None = None,
    expires_at: datetime | None = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    at: datetime | None = None,
) -> HoldResult:
    customer = parse_id(customer, "customer")
    hold_id = parse_id(hold_id, "hold_id")
    unit, scale = ctx.unit(unit)
    minor = parse_amount(amount, scale)
    scopes = parse_scope(scope)
    chosen = parse_categories(categories)
    expires = parse_optional_time(expires_at, "expires_at")
    description = parse_text(description)
    meta = parse_metadata(metadata)
    when = parse_optional_time(at, "at")
    fingerprint = idempotency.fingerprint(
        hold_id,
        customer=customer,
        amount=to_decimal(minor, scale),
        unit=unit,
        scope=idempotency.scope_form(scopes),
        expires_at=expires,
        description=description,
        metadata=meta,
        **idempotency.unless_default(categories=chosen),
    )
    with ctx.transaction() as uow:
        op_id = new_id("op")
        command = PlaceHold(
            op_id=op_id,
            hold_id=hold_id,
            unit=unit,
            amount=minor,
            scope=scopes,
            categories=chosen,
            expires_at=expires,
            description=description,
            metadata=meta,
        )

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            customer,
            when,
            lambda s, t: rules.hold(s, command, t, ctx.order, scale),
            op_id,
            scale,
            memo=("hold", hold_id, "hold", fingerprint),
        )


def capture(
    ctx: Context, hold_id: str, amount: int | Decimal | str | None = None, *, at: datetime | None = None
) -> CaptureResult:
    hold_id = parse_id(hold_id, "hold_id")
    if amount is not None:  # type and sign now; the unit's precision once the hold is known
        check_amount(amount, allow_zero=True)
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = lookup.find_hold(uow, hold_id)
        scale = ctx.scale(found.unit, uow)
        minor = found.amount if amount is None else parse_amount(amount, scale, allow_zero=True)
        if minor > found.amount:  # a hold's amount never changes: this is an argument check
            raise ValidationError(
                "amount",
                f"cannot capture {to_decimal(minor, scale)}: hold {hold_id!r} holds {to_decimal(found.amount, scale)}",
            )
        fingerprint = idempotency.fingerprint(hold_id, amount=to_decimal(minor, scale))
        op_id = new_id("op")
        command = Capture(op_id=op_id, hold_id=hold_id, amount=minor)

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            found.customer,
            when,
            lambda s, t: rules.capture(lookup.with_hold(s, found), command, t, ctx.order, scale),
            op_id,
            scale,
            memo=("end", hold_id, "capture", fingerprint),
            find=lambda: idempotency.replay_end(uow, hold_id, "capture", fingerprint, found.status, found.unit, scale),
        )


def release(ctx: Context, hold_id: str, *, at: datetime | None = None) -> ReleaseResult:
    hold_id = parse_id(hold_id, "hold_id")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = lookup.find_hold(uow, hold_id)
        scale = ctx.scale(found.unit, uow)
        fingerprint = idempotency.fingerprint(hold_id)
        op_id = new_id("op")
        command = Release(op_id=op_id, hold_id=hold_id)

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            found.customer,
            when,
            lambda s, t: rules.release(lookup.with_hold(s, found), command, t),
            op_id,
            scale,
            memo=("end", hold_id, "release", fingerprint),
            find=lambda: idempotency.replay_end(uow, hold_id, "release", fingerprint, found.status, found.unit, scale),
        )


def _block_named(ctx: Context, uow: UnitOfWork, block_id: str, at: datetime | None) -> tuple[BlockState, bool]:
    """The block a void or an expiry change names, and whether a write has recorded it: one
    a due event makes (a schedule's period, a top-up) exists from its due time on, recorded
    or not, and the write records it first."""
    stored = uow.find_block(block_id)
    if stored is not None:
        return stored, True
    customer = lookup.due_block_customer(uow, block_id)
    if customer is not None:
        state = uow.load_account(customer)
        due = rules.view(state, ctx.write_time(at, state)).blocks.get(block_id)
        if due is not None:
            return due, False
    raise NotFound(f"no block {block_id!r}")


def void(
    ctx: Context,
    block_id: str,
    amount: int | Decimal | str | None = None,
    *,
    reason: str | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> VoidResult:
    block_id = parse_id(block_id, "block_id")
    if amount is not None:  # type and sign now; the unit's precision once the block is known
        check_amount(amount)
    reason = parse_text(reason, "reason")
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        stored, recorded = _block_named(ctx, uow, block_id, when)
        scale = ctx.scale(stored.unit, uow)
        minor = None if amount is None else parse_amount(amount, scale)
        fingerprint = idempotency.fingerprint(
            key, block_id=block_id, amount=idempotency.shown(minor, scale), reason=reason
        )
        op_id = new_id("op")
        command = Void(op_id=op_id, block_id=block_id, amount=minor, reason=reason)

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            stored.customer,
            when,
            lambda s, t: rules.void(lookup.with_block(s, stored) if recorded else s, command, t, scale),
            op_id,
            scale,
            memo=("key", key, "void", fingerprint),
        )


def reverse(
    ctx: Context,
    op_id: str,
    amount: int | Decimal | str | None = None,
    *,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> ReverseResult:
    target = parse_id(op_id, "op_id")
    if amount is not None:  # type and sign now; the unit's precision once the op is known
        check_amount(amount)
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = _target(ctx, uow, target)
        customer, unit, scale = found.customer, found.unit, found.scale
        minor = None if amount is None else parse_amount(amount, scale)
        fingerprint = idempotency.fingerprint(key, op_id=target, amount=idempotency.shown(minor, scale))
        new_op = new_id("op")

        def step(state: AccountState, t: datetime) -> rules.Transition:
            command = Reverse(
                op_id=new_op,
                target=target,
                target_entries=found.entries,
                prior=_prior(uow, found),  # read under the customer's lock
                amount=minor,
                captured_nothing=found.captured_nothing,
            )
            # the blocks credit may go back to, even those a load leaves out
            wanted = {e.block_id for e in found.entries if e.block_id is not None}
            wanted.update(block_id for block_id, _ in state.settlements.get(unit, ()))
            for block_id in sorted(wanted - set(state.blocks)):
                state = lookup.with_block(state, lookup.find_block(uow, block_id))
            return rules.reverse(state, command, t, scale)

        return perform(  # type: ignore[return-value]
            ctx, uow, customer, when, step, new_op, scale, memo=("key", key, "reverse", fingerprint)
        )


@attrs.frozen
class _Target:
    """The op a reversal or refund names: its entries, and its earlier reversals and refunds."""

    customer: str
    unit: str
    scale: int
    entries: tuple[EntryState, ...]
    captured_nothing: bool
    """A capture of 0 (it wrote only releases: its hold tells it from a release)."""


def _target(ctx: Context, uow: UnitOfWork, target: str) -> _Target:
    entries = tuple(iterate_entries(uow, EntryQuery(op_id=target, limit=1000)))
    if not entries:
        raise NotFound(f"no op {target!r}")
    customer, unit = entries[0].customer, entries[0].unit
    ended = uow.find_hold(entries[0].hold_id or "")
    captured_nothing = (
        {e.kind for e in entries} <= {"release", "expire", "void"}
        and ended is not None
        and ended.settled_by == target
        and ended.status == "captured"
    )
    return _Target(
        customer=customer, unit=unit, scale=ctx.scale(unit, uow), entries=entries, captured_nothing=captured_nothing
    )


def _prior(uow: UnitOfWork, found: _Target) -> tuple[EntryState, ...]:
    """The earlier reversals and refunds of the op: read once its customer is locked, so two
    of them at once cannot both give back what only one may."""
    query = EntryQuery(customer=found.customer, kinds=frozenset({"reverse", "refund"}), ref=found.entries[0].op_id)
    return tuple(iterate_entries(uow, query))


def refund(
    ctx: Context,
    op_id: str,
    amount: int | Decimal | str | None = None,
    *,
    expires_at: datetime | None = None,
    category: str = "paid",
    priority: int = 50,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> RefundResult:
    target = parse_id(op_id, "op_id")
    if amount is not None:  # type and sign now; the unit's precision once the op is known
        check_amount(amount)
    expires = parse_optional_time(expires_at, "expires_at")
    category = parse_choice(category, "category", CATEGORIES)
    priority = parse_priority(priority)
    description = parse_text(description)
    meta = parse_metadata(metadata)
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = _target(ctx, uow, target)
        minor = None if amount is None else parse_amount(amount, found.scale)
        fingerprint = idempotency.fingerprint(
            key,
            op_id=target,
            amount=idempotency.shown(minor, found.scale),
            expires_at=expires,
            category=category,
            priority=priority,
            description=description,
            metadata=meta,
        )
        new_op, block_id = new_id("op"), new_id("blk")

        def step(state: AccountState, t: datetime) -> rules.Transition:
            command = Refund(
                op_id=new_op,
                block_id=block_id,
                target=target,
                target_entries=found.entries,
                prior=_prior(uow, found),  # read under the customer's lock
                amount=minor,
                expires_at=expires,
                priority=priority,
                category=category,
                description=description,
                metadata=meta,
                settle_debt=ctx.settle_debt,
                captured_nothing=found.captured_nothing,
            )
            return rules.refund(state, command, t, found.scale)

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            found.customer,
            when,
            step,
            new_op,
            found.scale,
            memo=("key", key, "refund", fingerprint),
        )


def change_expiry(
    ctx: Context,
    block_id: str,
    expires_at: datetime,
    *,
    amount: int | Decimal | str | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> ChangeExpiryResult:
    block_id = parse_id(block_id, "block_id")
    if amount is not None:  # type and sign now; the unit's precision once the block is known
        check_amount(amount)
    expires = parse_time(expires_at, "expires_at")
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        stored, recorded = _block_named(ctx, uow, block_id, when)
        scale = ctx.scale(stored.unit, uow)
        minor = None if amount is None else parse_amount(amount, scale)
        fingerprint = idempotency.fingerprint(
            key, block_id=block_id, expires_at=expires, amount=idempotency.shown(minor, scale)
        )
        op_id, moved_to = new_id("op"), new_id("blk")
        command = ChangeExpiry(op_id=op_id, block_id=block_id, new_block_id=moved_to, expires_at=expires, amount=minor)

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            stored.customer,
            when,
            lambda s, t: rules.change_expiry(lookup.with_block(s, stored) if recorded else s, command, t, scale),
            op_id,
            scale,
            memo=("key", key, "change_expiry", fingerprint),
        )


def expire_due(ctx: Context, *, at: datetime | None = None) -> list[Entry]:
    when = parse_optional_time(at, "at")
    ctx.check_future(when)
    with ctx.reader() as reader:
        customers = _seen(reader)
    written: list[Entry] = []
    for customer in customers:
        with ctx.transaction() as uow:
            before = uow.lock(customer)
            horizon = when if when is not None else ctx.now()
            if before.last_at is not None and horizon < before.last_at:
                continue  # its history is ahead of the sweep: what fell due is recorded
            due = rules.next_due(before)
            if due is None or due > horizon:
                continue
            after, entries = rules.advance(before, horizon)
            saved = uow.save(ChangeSet.of(before, after, entries))
            written.extend(Entry.from_state(e, ctx.scale(e.unit, uow)) for e in saved)
    return written


def _seen(reader: Reader) -> list[str]:
    """Every customer the ledger has seen (one with only a schedule that starts later has no
    entry yet), in the order first seen."""
    found: list[str] = []
    after = 0
    while True:
        page = reader.customer_page(after, 1000, LATEST)
        found.extend(customer for _, customer in page)
        if len(page) < 1000:
            return found
        after = page[-1][0]

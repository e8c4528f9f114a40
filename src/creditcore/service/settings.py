"""Settings and the event outbox: schedules, auto top-up rules, balance alerts, and
``events()``.

Each change of a setting is a write to its customer and goes through the one write path
(:func:`~creditcore.service.writes.apply`): what fell due up to its time is recorded first,
then the rule runs and the repository stores the change, its entries (a period that starts
at once, a top-up a new rule fires) and its events in one transaction. A call that changes
nothing (a rule already in force, a removal of nothing, a repeat) is not a write: it locks,
reads and returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from creditcore import rules
from creditcore.core import profiles, recurring
from creditcore.core.periods import parse_every, parse_timezone
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.errors import Conflict, IdempotencyConflict, NotFound, ValidationError
from creditcore.ids import new_id
from creditcore.model import Alert, EventPage, LedgerEvent, Schedule, ScheduleResult, TopUp
from creditcore.repository import EventQuery, Reader, UnitOfWork
from creditcore.service import idempotency
from creditcore.service.context import Context
from creditcore.service.reads import decode_cursor, encode_cursor, state_at
from creditcore.service.writes import apply, perform
from creditcore.state import AccountState, AddAlert, ScheduleGrant, SetTopUp
from creditcore.values import (
    CATEGORIES,
    DEFAULT_UNIT,
    parse_amount,
    parse_bool,
    parse_choice,
    parse_cost_basis,
    parse_id,
    parse_limit,
    parse_metadata,
    parse_optional_id,
    parse_optional_time,
    parse_priority,
    parse_scope,
    parse_text,
    to_decimal,
)

# -- schedules -------------------------------------------------------------------------------


def schedule_grant(
    ctx: Context,
    customer: str,
    amount: int | Decimal | str,
    *,
    every: str | timedelta,
    anchor: datetime | None = None,
    start: datetime | None = None,
    until: datetime | None = None,
    first_amount: int | Decimal | str | None = None,
    rollover_max: int | Decimal | str = 0,
    rollover_min: int | Decimal | str = 0,
    timezone: str | None = None,
    unit: str = DEFAULT_UNIT,
    priority: int = 50,
    category: str = "promotional",
    scope: str | Iterable[str] | None = None,
    single_use: bool = False,
    cost_basis: int | Decimal | str | None = None,
    settle_debt: bool | None = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    schedule_id: str | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> ScheduleResult:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    minor = parse_amount(amount, scale, allow_zero=True)
    step = parse_every(every)
    anchor = parse_optional_time(anchor, "anchor")
    start = parse_optional_time(start, "start")
    until = parse_optional_time(until, "until")
    first = None if first_amount is None else parse_amount(first_amount, scale, "first_amount", allow_zero=True)
    most = parse_amount(rollover_max, scale, "rollover_max", allow_zero=True)
    least = parse_amount(rollover_min, scale, "rollover_min", allow_zero=True)
    zone = None if timezone is None else parse_timezone(timezone)
    priority = parse_priority(priority)
    category = parse_choice(category, "category", CATEGORIES)
    scopes = parse_scope(scope)
    once = parse_bool(single_use, "single_use")
    basis = parse_cost_basis(cost_basis)
    settles = ctx.settle_debt if settle_debt is None else parse_bool(settle_debt, "settle_debt")
    description = parse_text(description)
    meta = parse_metadata(metadata)
    given_id = parse_optional_id(schedule_id, "schedule_id")
    key = parse_optional_id(idempotency_key, "idempotency_key")
    when = parse_optional_time(at, "at")
    if minor == 0 and (first is None or first == 0) and least == 0:
        raise ValidationError("amount", "amount, first_amount and rollover_min are all 0: nothing would be granted")
    if until is not None and start is not None and until <= start:
        raise ValidationError("until", f"{until.isoformat()} must be later than start ({start.isoformat()})")
    ident = given_id if given_id is not None else new_id("sch")
    # the arguments as given: defaults computed from `at` (start, anchor, the zone) are not
    # compared, so a retry always replays
    fingerprint = idempotency.fingerprint(
        key if key is not None else given_id,
        customer=customer,
        amount=to_decimal(minor, scale),
        unit=unit,
        every=step.text,
        anchor=anchor,
        start=start,
        until=until,
        first_amount=idempotency.shown(first, scale),
        rollover_max=to_decimal(most, scale),
        rollover_min=to_decimal(least, scale),
        timezone=zone,
        priority=priority,
        category=category,
        scope=scopes,
        single_use=once,
        cost_basis=basis,
        settle_debt=settles,
        description=description,
        metadata=meta,
        schedule_id=given_id,
    )
    # the schedule's id is a key of its own, generated or given: using it again with other
    # arguments is an IdempotencyConflict, found before the time check (as every key)
    keys = [("key", key)] if key is not None else []
    keys.append(("schedule", ident))
    memo = (*keys[0], "schedule_grant", fingerprint)
    with ctx.transaction() as uow:
        op_id = new_id("op")

        def step_(state: AccountState, t: datetime) -> rules.Transition:
            command = ScheduleGrant(
                schedule_id=ident,
                unit=unit,
                amount=minor,
                every=step,
                anchor=anchor,
                start=start,
                until=until,
                first_amount=first,
                rollover_max=most,
                rollover_min=least,
                timezone=zone if zone is not None else _profile_zone(uow, customer, t),
                priority=priority,
                category=category,
                scope=scopes,
                single_use=once,
                cost_basis=basis,
                settle_debt=settles,
                description=description,
                metadata=meta,
            )
            if uow.find_schedule(ident) is not None:  # made before its id was kept as a key
                raise IdempotencyConflict(ident, "schedule_id", f"schedule {ident!r} exists already")
            return rules.schedule_grant(state, command, t)

        return perform(  # type: ignore[return-value]
            ctx, uow, customer, when, step_, op_id, scale, memo, also=keys[1:],
            schedule=lambda made: _schedule_now(ctx, uow, made, when),
        )  # fmt: skip


def cancel_schedule(ctx: Context, schedule_id: str, *, at: datetime | None = None) -> ScheduleResult:
    schedule_id = parse_id(schedule_id, "schedule_id")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = _find_schedule(uow, schedule_id)
        scale = ctx.scale(found.unit, uow)
        fingerprint = idempotency.fingerprint(schedule_id)

        def step(state: AccountState, t: datetime) -> rules.Transition:
            try:
                return rules.cancel_schedule(state, schedule_id, t)
            except NotFound:  # stored, but no longer running: it ended (by `until`)
                raise Conflict(f"schedule {schedule_id!r} has ended: there is nothing to cancel") from None

        return perform(  # type: ignore[return-value]
            ctx,
            uow,
            found.customer,
            when,
            step,
            new_id("op"),
            scale,
            memo=("cancel", schedule_id, "cancel_schedule", fingerprint),
            schedule=lambda made: _schedule_now(ctx, uow, made, when),
        )


def get_schedule(ctx: Context, schedule_id: str, *, at: datetime | None = None) -> Schedule:
    schedule_id = parse_id(schedule_id, "schedule_id")
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        found = _find_schedule(reader, schedule_id)
        state, moment = state_at(ctx, reader, found.customer, when)
        if found.created_at > moment:
            raise NotFound(f"no schedule {schedule_id!r} at {moment.isoformat()}")
        return schedule_view(reader, state, found, moment, ctx.scale(found.unit, reader))


def schedules(ctx: Context, customer: str, *, at: datetime | None = None) -> list[Schedule]:
    customer = parse_id(customer, "customer")
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        stored = reader.schedules(customer)
        if not stored:
            return []
        state, moment = state_at(ctx, reader, customer, when)
        return [
            schedule_view(reader, state, found, moment, ctx.scale(found.unit, reader))
            for found in stored
            if found.created_at <= moment
        ]


def _find_schedule(reader: Reader, schedule_id: str) -> ScheduleState:
    found = reader.find_schedule(schedule_id)
    if found is None:
        raise NotFound(f"no schedule {schedule_id!r}")
    return found


def _profile_zone(reader: Reader, customer: str, at: datetime) -> str:
    """A new schedule's default zone: the customer's profile zone then, else UTC."""
    version = profiles.at_time(reader.profiles(customer), at)
    return version.timezone if version is not None and version.timezone is not None else "UTC"


def _schedule_now(ctx: Context, uow: UnitOfWork, schedule_id: str, when: datetime | None) -> Schedule:
    """The schedule right after a write that made or changed it (for a replay: as it stands
    now)."""
    found = _find_schedule(uow, schedule_id)
    state = uow.load_account(found.customer)
    # a replay of a call dated before the customer's last write shows the schedule now
    moment = ctx.read_time(when if when is not None and when >= (state.last_at or when) else None, state)
    return schedule_view(uow, rules.view(state, moment), found, moment, ctx.scale(found.unit, uow))


def schedule_view(reader: Reader, state: AccountState, found: ScheduleState, at: datetime, scale: int) -> Schedule:
    """``found`` (its stored form) as it stands at ``at``: its periods as they fall from its
    boundaries up to ``at`` (:func:`~creditcore.core.recurring.progress`, as a past read
    replays them), whatever a write or a sweep has recorded since. ``state`` is the customer's
    state at ``at``, for the running period's blocks (a period whose grant and carry were 0
    made none)."""
    cancelled = found.cancelled_at if found.cancelled_at is not None and found.cancelled_at <= at else None
    running = recurring.progress(attrs.evolve(found, cancelled_at=cancelled), at)
    period = period_start = period_end = next_at = None
    blocks: tuple[str, ...] = ()
    if running.ended or (running.next_period == 0 and cancelled is not None):  # a cancel before start ends it
        status = "ended"
    else:
        status = "cancelled" if cancelled is not None else "active"
        n = running.next_period
        if n == 0:
            next_at = running.next_at
        else:
            period = n - 1
            period_start = recurring.period_start(running, period)
            period_end = running.next_at
            if period_end is not None and recurring.may_start(running, period_end):
                next_at = period_end
            blocks = tuple(b for b in running.block_ids if b in state.blocks or reader.find_block(b) is not None)
    return Schedule(
        id=found.id,
        customer=found.customer,
        unit=found.unit,
        amount=to_decimal(found.amount, scale),
        first_amount=to_decimal(found.first_amount, scale),
        every=found.every.text,
        anchor=found.anchor,
        start=found.start,
        until=found.until,
        timezone=found.timezone,
        rollover_max=to_decimal(found.rollover_max, scale),
        rollover_min=to_decimal(found.rollover_min, scale),
        priority=found.priority,
        category=found.category,
        scope=found.scope,
        single_use=found.single_use,
        cost_basis=found.cost_basis,
        settle_debt=found.settle_debt,
        description=found.description,
        metadata=dict(found.metadata),
        status=status,
        period=period,
        period_start=period_start,
        period_end=period_end,
        next_at=next_at,
        block_ids=blocks,
        created_at=found.created_at,
        cancelled_at=cancelled,
    )


# -- auto top-up -------------------------------------------------------------------------------


def set_top_up(
    ctx: Context,
    customer: str,
    *,
    unit: str,
    threshold: int | Decimal | str,
    amount: int | Decimal | str | None = None,
    target: int | Decimal | str | None = None,
    category: str = "paid",
    priority: int = 50,
    expires_after: str | timedelta | None = None,
    cost_basis: int | Decimal | str | None = None,
    at: datetime | None = None,
) -> TopUp:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    floor = parse_amount(threshold, scale, "threshold", signed=True)
    if (amount is None) == (target is None):
        raise ValidationError("amount", "pass exactly one of amount and target")
    each = None if amount is None else parse_amount(amount, scale)
    goal = None if target is None else parse_amount(target, scale, "target", signed=True)
    if goal is not None and goal <= floor:
        raise ValidationError("target", f"{to_decimal(goal, scale)} must be more than the threshold")
    category = parse_choice(category, "category", CATEGORIES)
    priority = parse_priority(priority)
    lasts = None if expires_after is None else parse_every(expires_after, "expires_after")
    basis = parse_cost_basis(cost_basis)
    when = parse_optional_time(at, "at")
    command = SetTopUp(
        unit=unit,
        threshold=floor,
        amount=each,
        target=goal,
        category=category,
        priority=priority,
        expires_after=lasts,
        cost_basis=basis,
    )
    with ctx.transaction() as uow:
        before = uow.lock(customer)
        old = before.top_ups.get(unit)
        if old is None or _rule_of(old) != command:  # the rule in force again is not a write
            after = apply(ctx, uow, before, when, lambda s, t: rules.set_top_up(s, command, t))[0].state
            old = after.top_ups[unit]
        return top_up_view(old, scale)


def get_top_up(ctx: Context, customer: str, *, unit: str, at: datetime | None = None) -> TopUp:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        moment = ctx.read_time(when, reader.load_account(customer))
        rule = None
        for changed, of, version in reader.top_ups(customer):
            if of == unit and changed <= moment:
                rule = version
        if rule is None:
            raise NotFound(f"customer {customer!r} has no top-up rule in {unit!r} at {moment.isoformat()}")
        return top_up_view(rule, scale)


def remove_top_up(ctx: Context, customer: str, *, unit: str, at: datetime | None = None) -> TopUp | None:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        before = uow.lock(customer)
        old = before.top_ups.get(unit)
        if old is None:  # nothing to remove: not a write
            return None
        apply(ctx, uow, before, when, lambda s, t: rules.remove_top_up(s, unit, t))
        return top_up_view(old, scale)


def _rule_of(rule: TopUpState) -> SetTopUp:
    return SetTopUp(
        unit=rule.unit,
        threshold=rule.threshold,
        amount=rule.amount,
        target=rule.target,
        category=rule.category,
        priority=rule.priority,
        expires_after=rule.expires_after,
        cost_basis=rule.cost_basis,
    )


def top_up_view(rule: TopUpState, scale: int) -> TopUp:
    return TopUp(
        customer=rule.customer,
        unit=rule.unit,
        threshold=to_decimal(rule.threshold, scale),
        amount=idempotency.shown(rule.amount, scale),
        target=idempotency.shown(rule.target, scale),
        category=rule.category,
        priority=rule.priority,
        expires_after=None if rule.expires_after is None else rule.expires_after.text,
        cost_basis=rule.cost_basis,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


# -- balance alerts ----------------------------------------------------------------------------


def add_alert(
    ctx: Context,
    customer: str,
    *,
    unit: str,
    kind: str,
    thresholds: Iterable[int | Decimal | str] = (),
    alert_id: str | None = None,
    at: datetime | None = None,
) -> Alert:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    if isinstance(thresholds, (str, bytes, Mapping)) or not isinstance(thresholds, Iterable):
        raise ValidationError("thresholds", f"expected a collection of amounts, got {type(thresholds).__name__}")
    levels = tuple(parse_amount(t, scale, "thresholds", signed=True) for t in thresholds)
    ident = parse_optional_id(alert_id, "alert_id")
    when = parse_optional_time(at, "at")
    command = AddAlert(alert_id=ident or new_id("alr"), unit=unit, kind=kind, thresholds=levels)
    with ctx.transaction() as uow:
        before = uow.lock(customer)
        known = uow.find_alert(command.alert_id) if ident is not None else None
        if known is not None:  # an alert id is a key of its own, as a hold id
            _same_alert(known, customer, command, scale)
            return alert_view(known, scale)
        after = apply(ctx, uow, before, when, lambda s, t: rules.add_alert(s, command, t))[0].state
        return alert_view(after.alerts[command.alert_id], scale)


def _same_alert(known: AlertState, customer: str, command: AddAlert, scale: int) -> None:
    def shown(levels: tuple[int, ...]) -> str:
        return ", ".join(str(to_decimal(t, scale)) for t in levels) or "none"

    then = {"customer": known.customer, "unit": known.unit, "kind": known.kind, "thresholds": shown(known.thresholds)}
    now = {"customer": customer, "unit": command.unit, "kind": command.kind, "thresholds": shown(command.thresholds)}
    for field, value in then.items():
        if now[field] != value:
            raise IdempotencyConflict(known.id, field, f"{value} then, {now[field]} now")


def remove_alert(ctx: Context, alert_id: str, *, at: datetime | None = None) -> Alert:
    alert_id = parse_id(alert_id, "alert_id")
    when = parse_optional_time(at, "at")
    with ctx.transaction() as uow:
        found = uow.find_alert(alert_id)
        if found is None:
            raise NotFound(f"no alert {alert_id!r}")
        scale = ctx.scale(found.unit, uow)
        before = uow.lock(found.customer)
        found = uow.find_alert(alert_id)  # as the customer's lock leaves it
        assert found is not None
        if found.removed_at is not None:  # again: unchanged, not a write
            return alert_view(found, scale)
        apply(ctx, uow, before, when, lambda s, t: rules.remove_alert(s, alert_id, t))
        removed = uow.find_alert(alert_id)
        assert removed is not None
        return alert_view(removed, scale)


def alerts(ctx: Context, customer: str, *, at: datetime | None = None) -> list[Alert]:
    customer = parse_id(customer, "customer")
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        moment = ctx.read_time(when, reader.load_account(customer))
        return [
            alert_view(attrs.evolve(a, removed_at=None), ctx.scale(a.unit, reader))
            for a in reader.alerts(customer)
            if a.created_at <= moment and (a.removed_at is None or a.removed_at > moment)
        ]


def alert_view(alert: AlertState, scale: int) -> Alert:
    return Alert(
        id=alert.id,
        customer=alert.customer,
        unit=alert.unit,
        kind=alert.kind,
        thresholds=tuple(to_decimal(t, scale) for t in alert.thresholds),
        created_at=alert.created_at,
        removed_at=alert.removed_at,
    )


# -- the outbox ----------------------------------------------------------------------------------


def events(ctx: Context, *, customer: str | None = None, after: str | None = None, limit: int = 100) -> EventPage:
    who = parse_optional_id(customer, "customer")
    limit = parse_limit(limit)
    seq, txid = decode_cursor(_CURSOR_PREFIX, after, "events()")
    with ctx.reader() as reader:
        found = reader.list_events(EventQuery(customer=who, after_seq=seq, after_txid=txid, limit=limit))
        items = [event_view(e, ctx.scale(e.unit, reader)) for e in found]
    if found:
        seq, txid = found[-1].seq, found[-1].txid
    return EventPage(items=items, next_cursor=encode_cursor(_CURSOR_PREFIX, seq, txid))


def event_view(event: EventState, scale: int) -> LedgerEvent:
    return LedgerEvent(
        seq=event.seq,
        id=event.id,
        kind=event.kind,
        customer=event.customer,
        unit=event.unit,
        thresholds=tuple(to_decimal(t, scale) for t in event.thresholds),
        previous=to_decimal(event.previous, scale),
        current=to_decimal(event.current, scale),
        amount=idempotency.shown(event.amount, scale),
        op_id=event.op_id,
        at=event.at,
    )


_CURSOR_PREFIX = "creditcore-events:"

"""What recurs and what reacts: a schedule's periods (carry, then grant), and
at the end of every step the auto top-up and the balance alerts of each unit it moved.

A schedule's periods are due events (:mod:`~creditcore.core.due` holds the registry and the
same-instant order); :func:`after_step` runs once per step — a write's own operation, or one
instant of due events — with each unit's net before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from creditcore.core import periods
from creditcore.core.effects import Work
from creditcore.core.order import DEFAULT_ORDER
from creditcore.core.settings import EventState, ScheduleState, TopUpState
from creditcore.core.state import BlockState

# -- schedules -------------------------------------------------------------------------------


def base_index(schedule: ScheduleState) -> int:
    """The boundary index ``k`` with ``B_k <= start < B_k+1``: period 0 ends at ``B_k+1``,
    period ``n >= 1`` runs from ``B_k+n`` to ``B_k+n+1``."""
    return periods.index_at(schedule.anchor, schedule.every, schedule.start, schedule.timezone)


def period_start(schedule: ScheduleState, n: int, base: int | None = None) -> datetime:
    """When period ``n`` starts (``start`` for period 0)."""
    if n == 0:
        return schedule.start
    k = base_index(schedule) if base is None else base
    return periods.add(schedule.anchor, schedule.every, k + n, schedule.timezone)


def may_start(schedule: ScheduleState, at: datetime) -> bool:
    """Whether a period may start at ``at``: not at or after ``until``, not after a cancel."""
    return (schedule.until is None or at < schedule.until) and (
        schedule.cancelled_at is None or at <= schedule.cancelled_at
    )


def progress(schedule: ScheduleState, horizon: datetime | None) -> ScheduleState:
    """The schedule with its periods recorded up to ``horizon`` (the account's last write):
    every period that started at or before it, and the end if that passed too. What a replay
    of stored entries brings back (a period whose grant and carry were 0 wrote no entry)."""
    base = base_index(schedule)
    n = 0
    next_at: datetime | None = schedule.start
    blocks: tuple[str, ...] = ()
    while next_at is not None and horizon is not None and next_at <= horizon:
        if not may_start(schedule, next_at):
            next_at = None
            break
        blocks = (carry_block_id(schedule, n), grant_block_id(schedule, n)) if n else (grant_block_id(schedule, 0),)
        n += 1
        next_at = period_start(schedule, n, base)
    return attrs.evolve(schedule, next_period=n, next_at=next_at, carried=0, block_ids=blocks)


def recorded_instants(schedule: ScheduleState) -> list[datetime]:
    """The latest instants of the schedule's due events recorded so far: the start of the
    last period recorded, and its end if the schedule ended there (one cancelled before its
    start ended at the cancel, which is a setting change of its own)."""
    n = schedule.next_period
    if not n:
        return []
    found = [period_start(schedule, n - 1)]
    if schedule.ended:
        found.append(period_start(schedule, n))
    return found


def grant_block_id(schedule: ScheduleState, n: int) -> str:
    return f"{schedule.id}/{n}"


def carry_block_id(schedule: ScheduleState, n: int) -> str:
    return f"{schedule.id}/{n}/carry"


def _period_block(schedule: ScheduleState, block_id: str, number: int, start: datetime, end: datetime,
                  source: str, settles: bool) -> BlockState:  # fmt: skip
    return BlockState(
        id=block_id,
        customer=schedule.customer,
        unit=schedule.unit,
        number=number,
        amount=0,
        remaining=0,
        priority=schedule.priority,
        category=schedule.category,
        cost_basis=schedule.cost_basis,
        scope=schedule.scope,
        effective_at=start,
        expires_at=end,
        created_at=start,
        description=schedule.description,
        metadata=schedule.metadata,
        settles_debt=settles,
        single_use=schedule.single_use,
        source=source,  # type: ignore[arg-type]
        schedule_id=schedule.id,
    )


def record_carry(work: Work, schedule_id: str, when: datetime) -> None:
    """At the start of period ``n >= 1``: move ``min(r, rollover_max)`` of the unheld credit of
    the schedule's period ``n-1`` blocks into a new carry block (the rest expires by the
    ordinary expiry of those blocks at this instant)."""
    schedule = work.schedules[schedule_id]
    n = schedule.next_period
    if n == 0 or not may_start(schedule, when):
        return
    sources = [work.blocks[b] for b in schedule.block_ids if b in work.blocks]
    # the blocks end now, and their credit expires after this carry (the same-instant order)
    unheld = sum(b.unheld for b in sources)
    carried = min(unheld, schedule.rollover_max)
    if carried > 0:
        end = period_start(schedule, n + 1)
        op_id = f"carry:{schedule.id}:{n}"
        need = carried
        for block in DEFAULT_ORDER.sort(sources):
            take = min(need, block.unheld)
            if take > 0:
                work.record("move_out", schedule.unit, take, when, op_id, block=block)
                need -= take
            if need == 0:
                break
        moved = _period_block(schedule, carry_block_id(schedule, n), work.next_number, when, end, "carry", False)
        work.next_number += 1
        work.record("move_in", schedule.unit, carried, when, op_id, block=attrs.evolve(moved, amount=carried))
    work.set_schedule(attrs.evolve(schedule, carried=carried))


def record_period(work: Work, schedule_id: str, when: datetime) -> None:
    """Period ``n`` starts (its grant: ``first_amount`` for period 0, else
    ``max(amount, rollover_min - carried)``), or the schedule ends here."""
    schedule = work.schedules[schedule_id]
    n = schedule.next_period
    if not may_start(schedule, when):
        work.set_schedule(attrs.evolve(schedule, next_at=None, carried=0, block_ids=()))
        return
    end = period_start(schedule, n + 1)
    fresh = schedule.first_amount if n == 0 else max(schedule.amount, schedule.rollover_min - schedule.carried)
    blocks = (carry_block_id(schedule, n),) if schedule.carried else ()
    if fresh > 0:
        settles = schedule.settle_debt and schedule.scope is None
        made = _period_block(schedule, grant_block_id(schedule, n), work.next_number, when, end, "schedule", settles)
        work.next_number += 1
        op_id = f"schedule:{schedule.id}:{n}"
        block = work.record(
            "grant", schedule.unit, fresh, when, op_id, block=attrs.evolve(made, amount=fresh),
            description=schedule.description, metadata=schedule.metadata,
        )  # fmt: skip
        assert block is not None
        if settles:
            work.settle(block, when, op_id)
        blocks = (*blocks, block.id)
    work.set_schedule(attrs.evolve(schedule, next_period=n + 1, next_at=end, carried=0, block_ids=blocks))


# -- the end of a step: top-ups, then alerts -------------------------------------------------------


def after_step(
    work: Work,
    at: datetime,
    before: Mapping[str, int],
    op_ids: Mapping[str, str | None],
    *,
    rule_set: bool = False,
    due_instant: bool = False,
) -> None:
    """The end of one step at ``at``: for each unit it moved (``before``: its net before the
    step; ``op_ids``: the op each alert names — a write's own, or the last due op of an
    instant), the auto top-up if the step lowered net to its threshold or below
    (``rule_set``: the step set the rule, which fires it whenever net is at or below the
    threshold), then the events of the alerts its net crossed (the step and its top-up as
    one; after a due instant or the setting of a rule, they name the top-up's op). Units in
    name order."""
    if not work.top_ups and not work.alerts:
        return
    for unit in sorted(before):
        previous = before[unit]
        named = op_ids[unit]
        rule = work.top_ups.get(unit)
        if rule is not None:
            current = work.net(unit, at)
            if (current < previous or rule_set) and current <= rule.threshold:
                made = top_up(work, rule, at, current)
                if due_instant or named is None:
                    named = made
        if named is None:
            continue
        _alerts(work, unit, at, previous, work.net(unit, at), named)


def top_up(work: Work, rule: TopUpState, at: datetime, net: int) -> str:
    """Grant what lifts ``net`` above the rule's threshold (``amount`` mode: the smallest
    multiple of the amount; ``target`` mode: up to the target) as a new unscoped block that
    pays debt off first, and write its ``top_up`` event; its op id."""
    if rule.amount is not None:
        granted = ((rule.threshold - net) // rule.amount + 1) * rule.amount
    else:
        assert rule.target is not None
        granted = rule.target - net
    number = work.next_number
    block_id = f"{work.customer}/top_up/{number}"
    op_id = f"top_up:{block_id}"
    expires = None if rule.expires_after is None else periods.add(at, rule.expires_after, 1)
    block = BlockState(
        id=block_id,
        customer=work.customer,
        unit=rule.unit,
        number=number,
        amount=granted,
        remaining=0,
        priority=rule.priority,
        category=rule.category,
        cost_basis=rule.cost_basis,
        effective_at=at,
        expires_at=expires,
        created_at=at,
        settles_debt=True,
        source="top_up",
    )
    work.next_number += 1
    made = work.record("grant", rule.unit, granted, at, op_id, block=block)
    assert made is not None
    work.settle(made, at, op_id)
    work.events.append(
        EventState(
            kind="top_up",
            customer=work.customer,
            unit=rule.unit,
            previous=net,
            current=net + granted,
            amount=granted,
            op_id=op_id,
            at=at,
        )
    )
    return op_id


def _alerts(work: Work, unit: str, at: datetime, previous: int, current: int, op_id: str) -> None:
    if previous == current:
        return
    found = {alert.kind: alert for alert in work.alerts.values() if alert.unit == unit}
    if not found:
        return

    def event(kind: str, thresholds: tuple[int, ...] = ()) -> None:
        work.events.append(
            EventState(
                kind=kind,  # type: ignore[arg-type]
                customer=work.customer,
                unit=unit,
                thresholds=thresholds,
                previous=previous,
                current=current,
                op_id=op_id,
                at=at,
            )
        )

    if "depleted" in found and previous > 0 >= current:
        event("balance_depleted")
    dropped = found.get("dropped")
    if dropped is not None:
        crossed = tuple(t for t in dropped.thresholds if previous > t >= current)
        if crossed:
            event("balance_dropped", crossed)
    if "recovered" in found and previous <= 0 < current:
        event("balance_recovered")

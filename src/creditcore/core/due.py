"""Due events: what falls due on its own, with no caller asking — the one registry of them.

Before any write, the rules record every event due up to the write's time, in time order
(:func:`advance`); reads count them whether recorded or not (:func:`~creditcore.core.rules.view`);
:func:`next_due` says when the next one falls. Each kind is a :class:`DueKind` in
:data:`REGISTRY`, whose order is the order of events that fall due at the same instant:

1. schedule carries, by schedule creation (what a period leaves, up to ``rollover_max``);
2. expiries, by block creation (credit a hold still pins stays until the hold ends);
3. hold timeouts, by hold id (credit that goes back to a block expired meanwhile expires at once);
4. settlements: an upcoming block that settles debt pays it off when it becomes active, by
   block creation;
5. schedule periods (a period's grant, or a schedule's end), by schedule creation;

then the instant's top-ups, by unit name, and its events (:func:`~.recurring.after_step`).

Each instant of due events is a step of its own: :func:`advance` notes, per instant, the op ids
it recorded and the balance change of each unit it touched (:class:`~creditcore.core.outcomes.DueStep`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from creditcore.core import recurring
from creditcore.core.effects import Work, end_hold
from creditcore.core.order import DEFAULT_ORDER
from creditcore.core.outcomes import BalanceChange, DueStep
from creditcore.core.state import AccountState, UnitTotals

#: ``(when, tie-break within the kind, subject id, unit)`` of one event that is due.
Pending = tuple[datetime, int, str, str]


@attrs.frozen(kw_only=True)
class DueKind:
    """One kind of event that falls due on its own."""

    name: str
    find: Callable[[Work, datetime], list[Pending]]
    """The events of this kind due at or before the time given, in the working account."""
    record: Callable[[Work, str, datetime], None]
    """Record the event of the subject named, at its time."""
    earliest: Callable[[AccountState], datetime | None]
    """When the next event of this kind falls, if ever (for :func:`next_due`)."""
    close: Callable[[Work], None] | None = None
    """Bookkeeping once the history has an entry at or after the events' times."""
    restore: Callable[[Work, datetime | None], None] | None = None
    """Bring the kind's bookkeeping back after a replay of stored entries up to a time."""


# -- expiry ---------------------------------------------------------------------------------


# The finders walk the account's index (:mod:`~creditcore.core.index`) in time order and stop
# at the first event not yet due: a write looks only at what fell due.


def _find_expiries(work: Work, at: datetime) -> list[Pending]:
    queue = work.index.expiries
    if not queue or queue.first()[0] > at:
        return []  # most writes find nothing due
    found = []
    # a fully held block still gets its event: a hold timeout before its expiry may free credit
    for when, number, block_id, unit in queue:
        if when > at:
            break
        found.append((when, number, block_id, unit))
    return found


def _record_expiry(work: Work, block_id: str, when: datetime) -> None:
    block = work.blocks[block_id]
    if block.unheld > 0:
        work.record("expire", block.unit, block.unheld, when, f"expire:{block_id}", block=block)


def _next_expiry(state: AccountState) -> datetime | None:
    blocks = state.blocks
    for item in state.index().expiries:
        if blocks[item[2]].unheld > 0:
            when: datetime = item[0]
            return when
    return None


# -- hold timeout ---------------------------------------------------------------------------


def _find_timeouts(work: Work, at: datetime) -> list[Pending]:
    queue = work.index.timeouts
    if not queue or queue.first()[0] > at:
        return []  # most writes find nothing due
    found = []
    for when, hold_id, unit in queue:
        if when > at:
            break
        found.append((when, 0, hold_id, unit))
    return found


def _record_timeout(work: Work, hold_id: str, when: datetime) -> None:
    end_hold(work, work.holds[hold_id], 0, when, f"timeout:{hold_id}", "expired", DEFAULT_ORDER)


def _next_timeout(state: AccountState) -> datetime | None:
    timeouts = state.index().timeouts
    return timeouts.first()[0] if timeouts else None


# -- settlement by an upcoming block --------------------------------------------------------


def _find_settlements(work: Work, at: datetime) -> list[Pending]:
    queue = work.index.settling
    if not queue or queue.first()[0] > at:
        return []  # most writes find nothing due
    found = []
    for when, number, block_id, unit in queue:
        if when > at:
            break
        found.append((when, number, block_id, unit))
    return found


def _record_settlement(work: Work, block_id: str, when: datetime) -> None:
    # the flag stays until the customer's history passes effective_at (see _close_settlements):
    # until then a debt may still be written before the moment the block activates
    work.settle(work.blocks[block_id], when, f"settle:{block_id}")


def _next_settlement(state: AccountState) -> datetime | None:
    settling = state.index().settling
    return settling.first()[0] if settling else None


def _close_settlements(work: Work) -> None:
    # an upcoming block settles debt at effective_at only; once the history has an entry at
    # or after that moment, the moment is past for good (a block that empties stops waiting
    # then: see apply_to_block, so the index's settling blocks are all there is to close)
    last = work.last_at
    if last is None:
        return
    passed = []
    for when, _number, block_id, _unit in work.index.settling:
        if when > last:
            break
        passed.append(block_id)
    for block_id in passed:
        work.blocks[block_id] = attrs.evolve(work.blocks[block_id], settle_pending=False)


def _restore_settlements(work: Work, horizon: datetime | None) -> None:
    for block in list(work.blocks.values()):
        pending = block.settles_debt and block.remaining > 0 and horizon is not None and block.effective_at > horizon
        if pending != block.settle_pending:
            work.blocks[block.id] = attrs.evolve(block, settle_pending=pending)


# -- schedules: a period's carry and its grant -------------------------------------------------------


def _find_carries(work: Work, at: datetime) -> list[Pending]:
    if not work.schedules:
        return []
    return [
        (s.next_at, s.number, s.id, s.unit)
        for s in work.schedules.values()
        if s.next_at is not None and s.next_at <= at and s.next_period > 0
    ]


def _find_periods(work: Work, at: datetime) -> list[Pending]:
    if not work.schedules:
        return []
    return [
        (s.next_at, s.number, s.id, s.unit)
        for s in work.schedules.values()
        if s.next_at is not None and s.next_at <= at
    ]


def _next_period(state: AccountState) -> datetime | None:
    return min((s.next_at for s in state.schedules.values() if s.next_at is not None), default=None)


#: Every kind of due event, in their same-instant order: the top-ups and events of
#: an instant come after all of them (see :func:`advance`).
REGISTRY: tuple[DueKind, ...] = (
    DueKind(name="schedule carry", find=_find_carries, record=recurring.record_carry, earliest=_next_period),
    DueKind(name="expiry", find=_find_expiries, record=_record_expiry, earliest=_next_expiry),
    DueKind(name="hold timeout", find=_find_timeouts, record=_record_timeout, earliest=_next_timeout),
    DueKind(
        name="settlement",
        find=_find_settlements,
        record=_record_settlement,
        earliest=_next_settlement,
        close=_close_settlements,
        restore=_restore_settlements,
    ),
    DueKind(name="schedule period", find=_find_periods, record=recurring.record_period, earliest=_next_period),
)
_FINDERS = tuple((rank, kind.find) for rank, kind in enumerate(REGISTRY))
_NO_TOTALS = UnitTotals()


def pending(work: Work, at: datetime) -> list[tuple[datetime, int, int, str, str]]:
    """Every event due up to ``at``, in the order they are recorded: ``(when, rank in the
    registry, tie-break, subject id, unit)``."""
    events: list[tuple[datetime, int, int, str, str]] = []
    for rank, find in _FINDERS:
        found = find(work, at)
        if found:  # most writes find nothing due
            events += [(when, rank, tie, ident, unit) for when, tie, ident, unit in found]
    if len(events) > 1:
        events.sort()
    return events


def advance(work: Work, at: datetime) -> None:
    """Record, in time order, everything that fell due up to ``at``, one step per instant:
    the instant's events in the registry's order, then the top-ups and alerts of the units
    they moved. An instant may make more due later (a schedule's next period, the expiry of
    the blocks it grants), so each instant is found afresh."""
    events = pending(work, at)
    start = 0
    while start < len(events):
        when = events[start][0]
        end = start
        while end < len(events) and events[end][0] == when:
            end += 1
        now = events[start:end]
        start = end
        made = work.next_number
        units = sorted({event[4] for event in now})
        before = {u: (work.available(u, when), (work.totals.get(u) or _NO_TOTALS).debt) for u in units}
        first = len(work.entries)
        # each unit's alerts name the last due op of the instant that changed its net (a carry
        # or a settlement moves credit without changing it); a unit touched only by those
        # names the last op that touched it, though no alert can fire for an unchanged net
        named: dict[str, str] = {}
        for _when, rank, _tie, ident, unit in now:
            ahead, net = len(work.entries), work.net(unit, when)
            REGISTRY[rank].record(work, ident, when)
            if len(work.entries) > ahead and (unit not in named or work.net(unit, when) != net):
                named[unit] = work.entries[-1].op_id
        written = work.entries[first:]
        if written:
            touched = {entry.unit for entry in written}
            nets = {u: before[u][0] - before[u][1] for u in units if u in touched}
            recurring.after_step(work, when, nets, named, due_instant=True)
        moved_schedule = any(REGISTRY[event[1]].name.startswith("schedule") for event in now)
        if work.next_number != made or moved_schedule:
            # the instant made blocks or moved a schedule: what falls due later is found again
            events, start = [event for event in pending(work, at) if event[0] > when], 0
        if not written:
            if moved_schedule:
                # a period start (or a schedule's end) that wrote nothing still happened: the
                # customer's history has reached it, so no later write may be dated before it
                work.pass_time(when)
            continue
        written = work.entries[first:]
        work.steps.append(
            DueStep(
                at=when,
                ops=tuple(dict.fromkeys(entry.op_id for entry in written)),
                change={
                    u: BalanceChange(
                        unit=u,
                        available_before=before[u][0],
                        available_after=work.available(u, when),
                        debt_before=before[u][1],
                        debt_after=(work.totals.get(u) or _NO_TOTALS).debt,
                    )
                    for u in units
                    if u in touched
                },
            )
        )


def close(work: Work) -> None:
    """Each kind's bookkeeping once the rule is done (before the state is frozen)."""
    for kind in REGISTRY:
        if kind.close is not None:
            kind.close(work)


def restore(work: Work, horizon: datetime | None) -> None:
    """Each kind's bookkeeping after a replay of stored entries up to ``horizon``."""
    for kind in REGISTRY:
        if kind.restore is not None:
            kind.restore(work, horizon)


def next_due(state: AccountState) -> datetime | None:
    """The earliest time an event of any kind falls due, or ``None`` if none ever will."""
    times = [when for kind in REGISTRY if (when := kind.earliest(state)) is not None]
    return min(times, default=None)

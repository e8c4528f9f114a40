"""The reference model's due schedule periods, top-ups and events.

Expiries, hold timeouts and settlements stay derived on read (:mod:`.walks`). What depends on
the balance at an instant — a schedule's carry and fresh grant, a top-up, an alert's event —
is recorded here, instant by instant in time order, when the ledger records it: before a
write to the customer, up to the write's time (:meth:`DueEvents._advance`), and by a sweep.
Each instant is a step: its carries (by schedule creation) move credit into new carry blocks
ahead of the instant's expiries; its period grants (by schedule creation) make new blocks
that settle debt after upcoming blocks do; then, unit by unit in name order, a top-up if the
instant lowered net to the rule's threshold or below, and the alerts' events, naming the
top-up's op or the last due op of the instant that changed the net. A write's own step ends
the same way (:meth:`DueEvents._end_step`), its events naming the write's op.

A read at a time past what is recorded (the clock ran ahead of the last write) works on a
copy advanced to that time (:meth:`DueEvents._speculation`): what a write at an earlier time
would change cannot be recorded yet. A write that fails records nothing: the machine rolls
the model back to the savepoint taken before the write advanced it.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Self

from creditcore import periods
from creditcore.testing.reference.records import ZERO, Move, RefBlock, burn_order_key
from creditcore.testing.reference.settings import RefAlert, RefEvent, RefSchedule, RefTopUp
from creditcore.testing.reference.walks import ReferenceWalks

_TINY = timedelta(microseconds=1)
#: The op id an alert event of a write's step carries until the write names its op.
UNNAMED = ""


class DueEvents(ReferenceWalks):
    """Schedules, top-up rules, alerts and events, and recording what falls due."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedules: dict[str, RefSchedule] = {}
        self.top_up_versions: list[tuple[datetime, str, str, RefTopUp | None]] = []
        """``(at, customer, unit, rule or None when removed)``, oldest first."""
        self.alerts: dict[str, RefAlert] = {}
        self.events: list[RefEvent] = []
        """Recorded events, in the order they were written."""
        self.horizon: dict[str, datetime] = {}
        """How far each customer's due events are recorded."""
        self._step: tuple[str, datetime, dict[str, Decimal]] | None = None
        self._savepoint: tuple[Any, ...] | None = None
        self._recording = False
        self._tick = 0
        """The tick of the instant being recorded: 0, before any write at its time."""

    # -- settings in force -------------------------------------------------------------

    def top_up_rule(self, customer: str, unit: str, at: datetime | None = None) -> RefTopUp | None:
        rule = None
        for when, who, of, version in self.top_up_versions:
            if who == customer and of == unit and (at is None or when <= at):
                rule = version
        return rule

    def has_settings(self, customer: str) -> bool:
        """Whether the customer ever had a schedule, a top-up rule or an alert."""
        return (
            any(s.customer == customer for s in self.schedules.values())
            or any(a.customer == customer for a in self.alerts.values())
            or any(who == customer for _, who, _, _ in self.top_up_versions)
        )

    def _schedules_of(self, customer: str) -> list[RefSchedule]:
        return [s for s in self.schedules.values() if s.customer == customer]

    def _next_number(self, customer: str) -> int:
        """The ledger numbers a customer's blocks, schedules and alerts in one sequence."""
        made = len(self._blocks_of(customer)) + len(self._schedules_of(customer))
        return made + sum(1 for a in self.alerts.values() if a.customer == customer) + 1

    # -- nets ----------------------------------------------------------------------------

    def net(self, customer: str, unit: str, t: datetime) -> Decimal:
        """``available - debt`` at ``t``, every due event up to ``t`` counted."""
        available = sum(
            (self.figures(b, t).available for b in self._blocks_of(customer, unit) if b.created_at <= t), ZERO
        )
        return available - self.debt_view(customer, unit, t).debt

    def _net_before(self, customer: str, unit: str, at: datetime) -> Decimal:
        """Net as the instant ``at`` starts, before its due events: the unheld credit of every
        block effective by then (one becoming effective at ``at`` included: that is no step),
        less the debt before the instant's settlements."""
        t = at - _TINY
        unheld = ZERO
        for block in self._blocks_of(customer, unit):
            if block.created_at <= t and block.effective_at <= at:
                f = self.figures(block, t)
                unheld += f.remaining - f.held
        return unheld - self.debt_view(customer, unit, t).debt

    def _units(self, customer: str) -> list[str]:
        """The units whose net matters at the end of a step: those with a top-up rule in
        force or an active alert (nothing else reacts to net), in name order."""
        alerted = {a.unit for a in self.alerts.values() if a.customer == customer and a.removed_at is None}
        return sorted(u for u in self.units if u in alerted or self.top_up_rule(customer, u) is not None)

    # -- recording what fell due ---------------------------------------------------------

    def _watched(self, customer: str) -> bool:
        return (
            any(not s.finished for s in self._schedules_of(customer))
            or any(self.top_up_rule(customer, u) is not None for u in self.units)
            or any(a.customer == customer and a.removed_at is None for a in self.alerts.values())
        )

    def _instants(self, customer: str, after: datetime, until: datetime) -> list[datetime]:
        """Instants in ``(after, until]`` at which something falls due for ``customer``."""
        found: set[datetime] = set()
        for block in self._blocks_of(customer):
            if block.expires_at is not None and after < block.expires_at <= until:
                found.add(block.expires_at)
        for hold in self.holds.values():
            x = hold.expires_at
            if hold.customer == customer and hold.ended_at is None and x is not None and after < x <= until:
                found.add(x)
        for schedule in self._schedules_of(customer):
            if not schedule.finished:
                x = schedule.start_of(schedule.next_n)
                if after < x <= until:
                    found.add(x)
        return sorted(found)

    def _advance(self, customer: str, t: datetime) -> None:
        """Record the customer's due periods, top-ups and events up to ``t``, instant by
        instant (an instant may make more fall due: its blocks expire later)."""
        done = self.horizon.get(customer)
        if done is not None and done >= t:
            # a sweep went further, but recorded nothing for the customer after its last
            # write (or the write would be refused): a write at t may make more fall due
            # in between, so what is recorded is taken back to t
            self.horizon[customer] = t
            return
        if done is not None and self._watched(customer):
            if self._savepoint is None:
                self._savepoint = self._capture()
            self._recording = True
            try:
                cursor = done
                while instants := self._instants(customer, cursor, t):
                    cursor = instants[0]
                    self._instant(customer, cursor)
            finally:
                self._recording = False
        self._tick = 0
        """The tick of the instant being recorded: 0, before any write at its time."""
        self.horizon[customer] = t

    def _instant(self, customer: str, at: datetime, *, before: dict[str, Decimal] | None = None) -> None:
        """One instant of due events (``before``: the nets it starts from, when not those of
        :meth:`_net_before` — a period 0 recorded right after its schedule is made, after
        the writes at its instant: its events take a tick of their own)."""
        self._tick = 0
        if before is None:
            before = {u: self._net_before(customer, u, at) for u in self._units(customer)}
        else:
            self._tick = next(self._ticks)
        due = [s for s in self._schedules_of(customer) if not s.finished and s.start_of(s.next_n) == at]
        for schedule in due:
            if schedule.next_n > 0 and schedule.may_start(at):
                self._carry(schedule, at)
        granted: dict[str, str] = {}
        for schedule in due:
            op_id = self._period(schedule, at)
            if op_id is not None:
                granted[schedule.unit] = op_id
        self._changed()
        named = {u: self._last_due_op(customer, u, at, granted.get(u)) for u in self._units(customer)}
        self._after_step(customer, at, before, named, due_instant=True)

    def _carry(self, schedule: RefSchedule, at: datetime) -> None:
        """A period start's first step, the carry: ``min(r, rollover_max)`` of the unheld credit
        of the last period's blocks moves into a new carry block, taken in burn order."""
        n = schedule.next_n
        sources = [b for b in self.blocks.values() if b.id in schedule.block_ids(n - 1)]
        just_before = at - _TINY
        unheld = {b.id: self.figures(b, just_before).remaining - self.figures(b, just_before).held for b in sources}
        carried = min(sum(unheld.values(), ZERO), schedule.rollover_max)
        schedule.carried[n] = carried
        if carried <= 0:
            return
        need = carried
        for block in sorted(sources, key=burn_order_key):
            take = min(need, unheld[block.id])
            if take > 0:
                block.moves.append(Move(at, 0, next(self._n), "move_out", take, rank=-1))
                need -= take
        self._period_block(schedule, schedule.block_ids(n)[0], carried, at, source="carry")

    def _period(self, schedule: RefSchedule, at: datetime) -> str | None:
        """A period start's last step (after the rest expired): period ``n`` starts with its
        fresh grant (its op id if it grants anything), or the schedule ends here."""
        self._touch(schedule.customer, at)  # a period start, or the end, changes the schedule: a write
        if not schedule.may_start(at):
            schedule.finished = True
            return None
        n = schedule.next_n
        fresh = schedule.first_amount if n == 0 else max(schedule.amount, schedule.rollover_min - schedule.carried[n])
        schedule.next_n = n + 1
        if fresh <= 0:
            return None
        self._period_block(schedule, schedule.block_ids(n)[1], fresh, at, source="schedule")
        return f"schedule:{schedule.id}:{n}"

    def _period_block(self, schedule: RefSchedule, block_id: str, amount: Decimal, at: datetime, *,
                      source: str) -> None:  # fmt: skip
        number = next(self._numbers)
        settles = source == "schedule" and schedule.settle_debt and schedule.scope is None
        self.blocks[block_id] = RefBlock(
            id=block_id,
            customer=schedule.customer,
            unit=schedule.unit,
            amount=amount,
            priority=schedule.priority,
            category=schedule.category,
            cost_basis=schedule.cost_basis,
            scope=schedule.scope,
            effective_at=at,
            expires_at=schedule.start_of(schedule.next_n if source == "schedule" else schedule.next_n + 1),
            created_at=at,
            number=number,
            description=schedule.description,
            metadata=dict(schedule.metadata),
            origin="carry" if source == "carry" else None,
            settle_key=(at, self._tick, 3, number) if settles else None,
            single_use=schedule.single_use,
            source=source,
            schedule_id=schedule.id,
        )
        self._changed()

    def _last_due_op(self, customer: str, unit: str, at: datetime, granted: str | None) -> str | None:
        """The last due op of the instant that changed ``unit``'s net: a period grant, else a
        hold timeout (by hold id) that gave credit back to a live block, else an expiry (by
        block creation) that took something. Carries and settlements leave net as it is."""
        if granted is not None:
            return granted
        for hold in sorted(self.holds.values(), key=lambda h: h.id, reverse=True):
            if hold.customer == customer and hold.unit == unit and hold.ended_at is None and hold.expires_at == at:
                for block_id, amount in hold.allocations:
                    block = self.blocks[block_id]
                    f = self.figures(block, at - _TINY)
                    spent = f.closed or (block.single_use and f.first_used_at is not None)
                    if amount > 0 and not block.expired_at(at) and not spent:
                        return f"timeout:{hold.id}"
        expired = [b for b in self._blocks_of(customer, unit) if b.expires_at == at and self.figures(b, at).lapsed > 0]
        return f"expire:{max(expired, key=lambda b: b.number).id}" if expired else None

    # -- the end of a step: top-ups, then alerts ------------------------------------------

    def _begin_step(self, customer: str, t: datetime) -> None:
        self._step = (customer, t, {u: self.net(customer, u, t) for u in self._units(customer)})

    def _stepping(self, customer: str) -> bool:
        return self._step is not None and self._step[0] == customer

    def _end_step(self, customer: str, at: datetime) -> None:
        assert self._step is not None
        before = self._step[2]
        self._step = None
        self._after_step(customer, at, before, dict.fromkeys(before, UNNAMED))

    def _name_step(self, op_id: str) -> None:
        for i in range(len(self.events) - 1, -1, -1):
            if self.events[i].op_id != UNNAMED:
                break
            self.events[i] = dataclasses.replace(self.events[i], op_id=op_id)

    def _after_step(self, customer: str, at: datetime, before: dict[str, Decimal], named: dict[str, str | None],
                    *, due_instant: bool = False, rule_set: str | None = None) -> None:  # fmt: skip
        """The end of a step: per unit in name order, the top-up (if the step lowered net to the
        threshold or below; a rule just set fires whenever net is there), then the alerts'
        events over the step and its top-up as one."""
        for unit in self._units(customer):
            if unit not in before:  # a rule set by this very step
                continue
            previous = before[unit]
            op_id = named.get(unit)
            rule = self.top_up_rule(customer, unit)
            if rule is not None:
                current = self.net(customer, unit, at)
                if (current < previous or rule_set == unit) and current <= rule.threshold:
                    made = self._top_up(rule, at, current, due_instant=due_instant)
                    if due_instant or op_id is None:
                        op_id = made
            if op_id is None:
                continue
            self._alert_events(customer, unit, at, previous, self.net(customer, unit, at), op_id)

    def _top_up(self, rule: RefTopUp, at: datetime, net: Decimal, *, due_instant: bool) -> str:
        granted = rule.grant_for(net)
        block_id = f"{rule.customer}/top_up/{self._next_number(rule.customer)}"
        number = next(self._numbers)
        key = (at, self._tick, 4, number) if due_instant else (at, next(self._ticks), 0, next(self._n))
        self.blocks[block_id] = RefBlock(
            id=block_id,
            customer=rule.customer,
            unit=rule.unit,
            amount=granted,
            priority=rule.priority,
            category=rule.category,
            cost_basis=rule.cost_basis,
            scope=None,
            effective_at=at,
            expires_at=None if rule.expires_after is None else periods.add(at, rule.expires_after, 1),
            created_at=at,
            number=number,
            settle_key=key,
            source="top_up",
        )
        self._changed()
        op_id = f"top_up:{block_id}"
        self.events.append(RefEvent("top_up", rule.customer, rule.unit, (), net, net + granted, granted, op_id, at))
        return op_id

    def _alert_events(self, customer: str, unit: str, at: datetime, previous: Decimal, current: Decimal,
                      op_id: str) -> None:  # fmt: skip
        if previous == current:
            return
        found = {a.kind: a for a in self.alerts.values() if a.customer == customer and a.unit == unit
                 and a.removed_at is None}  # fmt: skip

        def event(kind: str, thresholds: tuple[Decimal, ...] = ()) -> None:
            self.events.append(RefEvent(kind, customer, unit, thresholds, previous, current, None, op_id, at))

        if "depleted" in found and previous > 0 >= current:
            event("balance_depleted")
        if "dropped" in found:
            crossed = tuple(t for t in found["dropped"].thresholds if previous > t >= current)
            if crossed:
                event("balance_dropped", crossed)
        if "recovered" in found and previous <= 0 < current:
            event("balance_recovered")

    # -- reads past what is recorded; rolling back a failed write ------------------------

    def _speculation(self, customer: str, t: datetime) -> Self | None:
        """A copy with the customer's due events recorded up to ``t``, if a read at ``t``
        needs one (a period or a top-up falls due after what is recorded); else ``None``."""
        if self._recording:
            return None
        done = self.horizon.get(customer)
        if done is None or t <= done:
            return None
        key = ("spec", customer, t)
        if key in self._cache:
            found: Self | None = self._cache[key]
            return found
        clone: Self | None = None
        if self._pending(customer, done, t):
            clone = copy.copy(self)
            clone._restore(self._capture(), into_copies=True)
            clone._cache = {}
            clone._savepoint = None
            clone._step = None
            clone._advance(customer, t)
        self._cache[key] = clone
        return clone

    def _pending(self, customer: str, done: datetime, t: datetime) -> bool:
        if any(not s.finished and done < s.start_of(s.next_n) <= t for s in self._schedules_of(customer)):
            return True
        ruled = {u for u in self.units if self.top_up_rule(customer, u) is not None}
        return any(
            b.unit in ruled and b.expires_at is not None and done < b.expires_at <= t for b in self._blocks_of(customer)
        )

    def _capture(self) -> tuple[Any, ...]:
        return (
            dict(self.blocks),
            {block_id: list(b.moves) for block_id, b in self.blocks.items()},
            {sid: dataclasses.replace(s, carried=dict(s.carried)) for sid, s in self.schedules.items()},
            list(self.events),
            dict(self.last_entry),
            dict(self.last_write),
            dict(self.horizon),
        )

    def _restore(self, saved: tuple[Any, ...], *, into_copies: bool = False) -> None:
        blocks, moves, schedules, events, last_entry, last_write, horizon = saved
        if into_copies:
            self.blocks = {i: dataclasses.replace(b, moves=list(moves[i])) for i, b in blocks.items()}
        else:
            self.blocks = blocks
            for block_id, block in blocks.items():
                block.moves[:] = moves[block_id]
        self.schedules = schedules
        self.events, self.last_entry, self.last_write, self.horizon = events, last_entry, last_write, horizon

    def commit(self) -> None:
        """The write the model just made stands (or was refused before recording anything)."""
        self._savepoint = None
        self._step = None

    def rollback(self) -> None:
        """The write was refused: what it recorded of the due events is undone."""
        if self._savepoint is not None:
            self._restore(self._savepoint)
            self._changed()
        self._savepoint = None
        self._step = None

"""The reference model's schedules: ``schedule_grant`` and ``cancel_schedule``
(writes with no entry of their own, keyed by the schedule id as a hold by its id), and
``get_schedule``/``schedules`` as a schedule stands at any time, worked out from its
boundaries, its cancel and the blocks its periods made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from creditcore.errors import Conflict, NotFound, ValidationError
from creditcore.testing.reference.arguments import (
    parse_amount,
    parse_cost_basis,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_scope,
    parse_text,
)
from creditcore.testing.reference.due import DueEvents
from creditcore.testing.reference.records import Fingerprint, RefResult, replayed
from creditcore.testing.reference.settings import SCHEDULE_FIELDS, RefSchedule, parse_every

_TINY = timedelta(microseconds=1)


def _zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("timezone", "an IANA zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("timezone", f"unknown zone {value!r}") from None
    return value


class Schedules(DueEvents):
    """``schedule_grant``, ``cancel_schedule``, ``get_schedule`` and ``schedules``."""

    def schedule_grant(
        self,
        customer: str,
        amount: object,
        *,
        every: object,
        anchor: datetime | None = None,
        start: datetime | None = None,
        until: datetime | None = None,
        first_amount: object = None,
        rollover_max: object = 0,
        rollover_min: object = 0,
        timezone: str | None = None,
        unit: str = "credits",
        priority: int = 50,
        category: str = "promotional",
        scope: str | Iterable[str] | None = None,
        single_use: bool = False,
        cost_basis: object = None,
        settle_debt: bool | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        schedule_id: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
        new_schedule_id: str | None = None,
    ) -> RefResult:
        """A recurring grant, checked arguments → key (the idempotency key, else the schedule id) →
        time order → state (``start`` before ``at``, ``until`` not after the start)."""
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale, allow_zero=True)
        step = parse_every(every)
        anchor = parse_optional_time(anchor, "anchor")
        start = parse_optional_time(start, "start")
        until = parse_optional_time(until, "until")
        first = None if first_amount is None else parse_amount(first_amount, scale, "first_amount", allow_zero=True)
        most = parse_amount(rollover_max, scale, "rollover_max", allow_zero=True)
        least = parse_amount(rollover_min, scale, "rollover_min", allow_zero=True)
        zone = None if timezone is None else _zone(timezone)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise ValidationError("priority", "an int in 0..1000")
        if category not in ("promotional", "paid"):
            raise ValidationError("category", "promotional or paid")
        scopes = parse_scope(scope)
        if not isinstance(single_use, bool):
            raise ValidationError("single_use", "True or False")
        basis = None if cost_basis is None else parse_cost_basis(cost_basis)
        if settle_debt is not None and not isinstance(settle_debt, bool):
            raise ValidationError("settle_debt", "True or False")
        settles = True if settle_debt is None else settle_debt
        description = parse_text(description, "description")
        meta = dict(metadata or {})
        given = parse_optional_id(schedule_id, "schedule_id")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        if value == 0 and (first is None or first == 0) and least == 0:
            raise ValidationError("amount", "amount, first_amount and rollover_min all 0")
        if until is not None and start is not None and until <= start:
            raise ValidationError("until", "must be later than start")
        # the arguments as given: defaults computed from `at` are not compared, so a retry replays
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("every", step), ("anchor", anchor),
            ("start", start), ("until", until), ("first_amount", first), ("rollover_max", most),
            ("rollover_min", least), ("timezone", zone), ("priority", priority), ("category", category),
            ("scope", scopes), ("single_use", single_use), ("cost_basis", basis), ("settle_debt", settles),
            ("description", description), ("metadata", meta),
        )  # fmt: skip
        namespace, name = ("key", key) if key is not None else ("schedule", given)
        replay = self._replay(namespace, name, "schedule_grant", fingerprint)
        if replay is None and key is not None and given is not None:
            replay = self._replay("schedule", given, "schedule_grant", fingerprint)
        if replay is not None:
            return self._schedule_replay(replay, when)
        t = self._write_time(customer, when)
        self._step = None  # no entry of its own; period 0, if it starts now, is a step after it
        first_boundary = anchor if anchor is not None else start if start is not None else t
        begins = start if start is not None else max(first_boundary, t)
        if begins < t:
            raise ValidationError("start", "before the schedule's time")
        if until is not None and until <= begins:
            raise ValidationError("until", "must be later than start")
        ident = given if given is not None else new_schedule_id or f"ref-sch-{next(self._n)}"
        number = next(self._numbers)
        schedule = RefSchedule(
            id=ident, customer=customer, unit=unit, amount=value, first_amount=value if first is None else first,
            every=step, anchor=first_boundary, start=begins, until=until, timezone=zone or "UTC",
            rollover_max=most, rollover_min=least, priority=priority, category=category, scope=scopes,
            single_use=single_use, cost_basis=basis, settle_debt=settles, description=description, metadata=meta,
            created_at=t, number=number,
        )  # fmt: skip
        before = {u: self.net(customer, u, t) for u in self._units(customer)}
        self.schedules[ident] = schedule
        self._touch(customer, t)
        if begins == t:  # period 0 at once, after the op, under its own op id
            self._instant(customer, t, before=before)
        self._wrote(customer, t, own_entries=False)
        self._op_id(new_op_id)
        result = RefResult(kind="schedule_grant", values=self._schedule_values(schedule, t), entries=())
        self._remember(namespace, name, "schedule_grant", fingerprint, result)
        if namespace == "key" and given is not None:
            self._remember("schedule", given, "schedule_grant", fingerprint, result)
        elif given is None:  # a generated id is a key of its own too, for any arguments
            self._remember("schedule", ident, "schedule_grant", (), result)
        return result

    def cancel_schedule(self, schedule_id: str, *, at: datetime | None = None, new_op_id: str | None = None
                        ) -> RefResult:  # fmt: skip
        """Cancel: active → cancelled (periods up to ``at`` have happened); a repeat
        replays, ended or not; a schedule ended by ``until`` → ``Conflict``."""
        ident = parse_id(schedule_id, "schedule_id")
        when = parse_optional_time(at, "at")
        schedule = self.schedules.get(ident)
        if schedule is None:
            raise NotFound(f"no schedule {ident!r}")
        replay = self._replay("cancel", ident, "cancel_schedule", ())
        if replay is not None:
            return self._schedule_replay(replay, when)
        t = self._write_time(schedule.customer, when)
        self._step = None
        if self._ended(schedule, t):
            raise Conflict(f"schedule {ident!r} has ended")
        schedule.cancelled_at = t
        if schedule.next_n == 0:
            schedule.finished = True
        self._touch(schedule.customer, t)
        self._wrote(schedule.customer, t, own_entries=False)
        self._op_id(new_op_id)
        result = RefResult(kind="cancel_schedule", values=self._schedule_values(schedule, t), entries=())
        self._remember("cancel", ident, "cancel_schedule", (), result)
        return result

    def _schedule_replay(self, replay: RefResult, when: datetime | None) -> RefResult:
        """A replay shows the schedule as it stands at the call's time, or now if that is
        before the customer's last write."""
        schedule = self.schedules[str(replay.values["schedule.id"])]
        last = self.last_write.get(schedule.customer)
        t = self.read_time(schedule.customer, when if when is not None and (last is None or when >= last) else None)
        return replayed(RefResult(kind=replay.kind, values=self._schedule_values(schedule, t), entries=()))

    # -- reads -------------------------------------------------------------------------

    def get_schedule(self, schedule_id: str, *, at: datetime | None = None) -> dict[str, object]:
        schedule = self.schedules.get(schedule_id)
        if schedule is None:
            raise NotFound(f"no schedule {schedule_id!r}")
        t = self.read_time(schedule.customer, at)
        if schedule.created_at > t:
            raise NotFound(f"no schedule {schedule_id!r} at {t}")
        return self.schedule_view(schedule, t)

    def schedule_list(self, customer: str, *, at: datetime | None = None) -> list[dict[str, object]]:
        t = self.read_time(customer, at)
        return [self.schedule_view(s, t) for s in self._schedules_of(customer) if s.created_at <= t]

    def _ended(self, schedule: RefSchedule, t: datetime) -> bool:
        """Whether the schedule has ended by ``t``: from the end of its last period
        (``until`` or a cancel), or from a cancel before it started."""
        n = schedule.index_at(t)
        if n is None:
            return schedule.cancelled_at is not None and schedule.cancelled_at <= t
        return not schedule.may_start(schedule.start_of(n), t)

    def schedule_view(self, schedule: RefSchedule, t: datetime) -> dict[str, object]:
        """The schedule as it stands at ``t``: every field of a ``Schedule``."""
        cancel = schedule.cancelled_at if schedule.cancelled_at is not None and schedule.cancelled_at <= t else None
        view: dict[str, object] = {name: getattr(schedule, name, None) for name in SCHEDULE_FIELDS}
        view.update(metadata=dict(schedule.metadata), cancelled_at=cancel, period=None, period_start=None,
                    period_end=None, next_at=None, block_ids=())  # fmt: skip
        n = schedule.index_at(t)
        if self._ended(schedule, t):
            view["status"] = "ended"
            return view
        view["status"] = "cancelled" if cancel is not None else "active"
        if n is None:
            view["next_at"] = schedule.start
            return view
        end = schedule.start_of(n + 1)
        view.update(period=n, period_start=schedule.start_of(n), period_end=end)
        if schedule.may_start(end, t):
            view["next_at"] = end
        reader = self._speculation(schedule.customer, t) or self
        view["block_ids"] = tuple(
            b for b in schedule.block_ids(n) if b in reader.blocks and reader.blocks[b].created_at <= t
        )
        return view

    def _schedule_values(self, schedule: RefSchedule, t: datetime) -> dict[str, object]:
        return {f"schedule.{name}": value for name, value in self.schedule_view(schedule, t).items()}

    def _more_instants(self, after: datetime) -> list[datetime]:
        """The next period start of every schedule still running."""
        found = set()
        for schedule in self.schedules.values():
            n = schedule.index_at(after)
            following = schedule.start if n is None else schedule.start_of(n + 1)
            if following > after and schedule.may_start(following):
                found.add(following)
        return sorted(found)

"""What the reference model keeps of a customer's settings: schedules, auto top-up rules,
balance alerts, and the events the outbox holds; and ``every`` read as a schedule takes it.
Boundaries come from :func:`creditcore.periods.add` and ``index_at`` (pure arithmetic on times);
what a period grants is the model's own business (:mod:`.due`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from creditcore import periods
from creditcore.errors import ValidationError

_EVERY = re.compile(r"^\s*([0-9]+)\s*(minute|hour|day|week|month|year)s?\s*$", re.ASCII)
_STEPS = {"minute": ("seconds", 60), "hour": ("seconds", 3600), "day": ("days", 1), "week": ("days", 7),
          "month": ("months", 1), "year": ("months", 12)}  # fmt: skip


def parse_every(value: object, name: str = "every") -> str:
    """A schedule's step: ``"N minute(s)|hour(s)|day(s)|week(s)|month(s)|year(s)"`` (N >= 1) or a
    ``timedelta`` of at least a minute; its canonical text, in the largest whole unit."""
    if isinstance(value, timedelta):
        if value < timedelta(minutes=1) or value.microseconds:
            raise ValidationError(name, "at least a minute, in whole seconds")
        kind, size = "seconds", int(value.total_seconds())
    elif isinstance(value, str) and (found := _EVERY.match(value)):
        count = int(found[1])
        if count < 1:
            raise ValidationError(name, "N must be at least 1")
        kind, unit = _STEPS[found[2]]
        size = count * unit
    else:
        raise ValidationError(name, '"N minutes", "N hours", ... or a timedelta')
    if kind == "months":
        return _plural(size // 12, "year") if size % 12 == 0 else _plural(size, "month")
    if kind == "days":
        return _plural(size // 7, "week") if size % 7 == 0 else _plural(size, "day")
    if size % 3600 == 0:
        return _plural(size // 3600, "hour")
    if size % 60 == 0:
        return _plural(size // 60, "minute")
    return _plural(size, "second")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


@dataclass
class RefSchedule:
    """A schedule as made, with how far its periods have been recorded."""

    id: str
    customer: str
    unit: str
    amount: Decimal
    first_amount: Decimal
    every: str
    anchor: datetime
    start: datetime
    until: datetime | None
    timezone: str
    rollover_max: Decimal
    rollover_min: Decimal
    priority: int
    category: str
    scope: frozenset[str] | None
    single_use: bool
    cost_basis: Decimal | None
    settle_debt: bool
    description: str | None
    metadata: Mapping[str, str]
    created_at: datetime
    number: int
    cancelled_at: datetime | None = None
    next_n: int = 0
    """The next period to record."""
    finished: bool = False
    """Its end is recorded: no period starts any more."""
    carried: dict[int, Decimal] = field(default_factory=dict)
    """What each period's carry moved (0 or missing: nothing)."""

    def base(self) -> int:
        """``k`` with ``B_k <= start < B_k+1``."""
        return periods.index_at(self.anchor, self.every, self.start, self.timezone)

    def start_of(self, n: int) -> datetime:
        """Period ``n``'s start: ``start`` for period 0, else the n-th boundary after it."""
        if n == 0:
            return self.start
        return periods.add(self.anchor, self.every, self.base() + n, self.timezone)

    def may_start(self, at: datetime, seen_at: datetime | None = None) -> bool:
        """A schedule's end: no period starts at or after ``until``, nor after a cancel (one
        made by ``seen_at``, if given: a read of the past does not see a later cancel)."""
        cancel = self.cancelled_at
        if cancel is not None and seen_at is not None and cancel > seen_at:
            cancel = None
        return (self.until is None or at < self.until) and (cancel is None or at <= cancel)

    def index_at(self, t: datetime) -> int | None:
        """The period whose span holds ``t`` by the boundaries alone (``None`` before start)."""
        if t < self.start:
            return None
        return periods.index_at(self.anchor, self.every, t, self.timezone) - self.base()

    def block_ids(self, n: int) -> tuple[str, str]:
        """The ids period ``n``'s carry and grant blocks take (the ledger's naming: ids are
        not outcomes, but a read of an unrecorded period must name them the same)."""
        return f"{self.id}/{n}/carry", f"{self.id}/{n}"


@dataclass(frozen=True)
class RefTopUp:
    customer: str
    unit: str
    threshold: Decimal
    amount: Decimal | None
    target: Decimal | None
    category: str
    priority: int
    expires_after: str | None
    cost_basis: Decimal | None
    created_at: datetime
    updated_at: datetime

    def same_rule(self, other: RefTopUp) -> bool:
        """Idempotent by value: the same rule whatever its times."""
        mine = (self.threshold, self.amount, self.target, self.category, self.priority, self.expires_after,
                self.cost_basis)  # fmt: skip
        theirs = (other.threshold, other.amount, other.target, other.category, other.priority,
                  other.expires_after, other.cost_basis)  # fmt: skip
        return mine == theirs

    def grant_for(self, net: Decimal) -> Decimal:
        """A top-up's grant: the smallest multiple of ``amount`` that lifts ``net`` above the
        threshold, or what brings it up to ``target``."""
        if self.amount is not None:
            return ((self.threshold - net) // self.amount + 1) * self.amount
        assert self.target is not None
        return self.target - net


@dataclass
class RefAlert:
    id: str
    customer: str
    unit: str
    kind: str
    thresholds: tuple[Decimal, ...]
    created_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True)
class RefEvent:
    kind: str
    customer: str
    unit: str
    thresholds: tuple[Decimal, ...]
    previous: Decimal
    current: Decimal
    amount: Decimal | None
    op_id: str
    at: datetime


EVENT_FIELDS = ("kind", "customer", "unit", "thresholds", "previous", "current", "amount", "op_id", "at")
SCHEDULE_FIELDS = (
    "id", "customer", "unit", "amount", "first_amount", "every", "anchor", "start", "until", "timezone",
    "rollover_max", "rollover_min", "priority", "category", "scope", "single_use", "cost_basis", "settle_debt",
    "description", "metadata", "status", "period", "period_start", "period_end", "next_at", "block_ids",
    "created_at", "cancelled_at",
)  # fmt: skip
TOP_UP_FIELDS = ("customer", "unit", "threshold", "amount", "target", "category", "priority", "expires_after",
                 "cost_basis", "created_at", "updated_at")  # fmt: skip
ALERT_FIELDS = ("id", "customer", "unit", "kind", "thresholds", "created_at", "removed_at")

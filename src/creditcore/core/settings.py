"""What a customer's account keeps besides its blocks and holds: recurring grants (schedules),
auto top-up rules and balance alerts, and the events the ledger writes for the app to read (the
outbox). Values only; the rules that use them are in :mod:`~creditcore.core.rules`, and what
falls due in :mod:`~creditcore.core.due`.

Amounts are integers of minor units, as everywhere in the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args

import attrs

from creditcore.core.periods import Every
from creditcore.core.state import frozen_dict

ScheduleStatus = Literal["active", "cancelled", "ended"]
AlertKind = Literal["depleted", "dropped", "recovered"]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
EventKind = Literal["top_up", "balance_depleted", "balance_dropped", "balance_recovered"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


@attrs.frozen(kw_only=True)
class ScheduleState:
    """A recurring grant: ``amount`` every period from ``start``; at each period's start what is
    left of the last one is carried, up to ``rollover_max``, and the fresh grant tops it up to
    ``rollover_min`` at least. ``period`` and ``next_at`` say how far its periods have been
    recorded."""

    id: str
    customer: str
    unit: str
    amount: int
    first_amount: int
    every: Every
    anchor: datetime
    start: datetime
    until: datetime | None = None
    timezone: str = "UTC"
    rollover_max: int = 0
    rollover_min: int = 0
    priority: int = 50
    category: str = "promotional"
    scope: frozenset[str] | None = None
    single_use: bool = False
    cost_basis: Decimal | None = None
    settle_debt: bool = True
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    number: int
    """Creation order within the customer (the same-instant order of its events)."""
    created_at: datetime
    cancelled_at: datetime | None = None
    next_period: int = 0
    """The index of the next period to start (0 until ``start`` has been recorded)."""
    next_at: datetime | None
    """When the next period starts (or, past the last, when the running one ends); ``None``
    once the schedule has ended."""
    carried: int = 0
    """What the carry at ``next_at`` moved, until the period's grant at the same instant."""
    block_ids: tuple[str, ...] = ()
    """The running period's blocks (its grant and its carry)."""

    @property
    def ended(self) -> bool:
        return self.next_at is None


@attrs.frozen(kw_only=True)
class TopUpState:
    """An auto top-up rule of one (customer, unit): when ``net <= threshold`` after a step
    that lowered it, grant ``amount`` (times what lifts net above the threshold) or up to
    ``target``."""

    customer: str
    unit: str
    threshold: int
    amount: int | None = None
    target: int | None = None
    category: str = "paid"
    priority: int = 50
    expires_after: Every | None = None
    cost_basis: Decimal | None = None
    created_at: datetime
    updated_at: datetime


@attrs.frozen(kw_only=True)
class AlertState:
    """A balance alert of one (customer, unit): ``depleted``, ``recovered`` or ``dropped``
    below each of ``thresholds`` (descending)."""

    id: str
    customer: str
    unit: str
    kind: AlertKind
    thresholds: tuple[int, ...] = ()
    number: int
    """Creation order within the customer."""
    created_at: datetime
    removed_at: datetime | None = None


@attrs.frozen(kw_only=True)
class EventState:
    """One event of the outbox, as a step wrote it. ``seq`` is 0 until a repository stores it;
    its ``id`` is made from its op and kind (one event of a kind per step)."""

    seq: int = 0
    kind: EventKind
    customer: str
    unit: str
    thresholds: tuple[int, ...] = ()
    previous: int
    current: int
    amount: int | None = None
    op_id: str
    at: datetime
    txid: int | None = attrs.field(default=None, eq=False, repr=False)
    """As :attr:`EntryState.txid <creditcore.core.state.EntryState.txid>`: a cursor's
    position where the store orders the outbox by writing transaction; ``None`` elsewhere."""

    @property
    def id(self) -> str:
        return f"evt_{self.kind}_{self.op_id}"

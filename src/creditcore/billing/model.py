"""What billing's calls take and return (SPEC_BILLING B2, B3): frozen ``attrs`` values with
exact ``Decimal`` figures and aware times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from creditcore.billing.values import Tier
from creditcore.core.state import frozen_dict
from creditcore.model import Entry

__all__ = [
    "EventStatus", "Meter", "MeterEvent", "Price", "Quote", "RecordEventsResult", "UsagePage", "UsageRecord",
    "UsageResult", "UsageSummary",
]  # fmt: skip


@attrs.frozen(kw_only=True)
class Meter:
    """What a meter counts: the events named ``event_name``, aggregated by ``aggregation``
    (``sum | count | max | unique_count | latest``) over a period."""

    id: str
    name: str
    event_name: str
    aggregation: str
    dimensions: tuple[str, ...]
    scale: int
    """The decimal places of its events' values."""
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    created_at: datetime


@attrs.frozen
class MeterEvent:
    """One usage event for :meth:`~creditcore.billing.meters.Meters.record`: checked there, as
    a whole batch, against its meter."""

    meter_id: str
    customer: str
    value: int | Decimal | str | None = None
    timestamp: datetime | None = attrs.field(default=None, kw_only=True)
    """When it happened (aware); default the call's ``at``."""
    event_id: str | None = attrs.field(default=None, kw_only=True)
    """Kept forever: the same id again is a duplicate (same fields) or a conflict."""
    unique_key: str | None = attrs.field(default=None, kw_only=True)
    """What a ``unique_count`` meter counts distinct values of."""
    dimensions: Mapping[str, str] | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(kw_only=True)
class EventStatus:
    event_id: str
    status: str
    """``"created"`` or ``"duplicate"`` (an event seen before, with the same fields)."""


@attrs.frozen(kw_only=True)
class RecordEventsResult:
    results: tuple[EventStatus, ...]
    """One per event, in the order given."""
    created: int
    duplicates: int


@attrs.frozen(kw_only=True)
class UsageSummary:
    meter_id: str
    customer: str | None
    aggregation: str
    start: datetime
    end: datetime
    value: Decimal
    event_count: int


@attrs.frozen(kw_only=True)
class Price:
    """What a meter's quantity costs in ``unit`` (for ``plan``, or every plan if ``None``)."""

    id: str
    meter_id: str
    plan: str | None
    model: str
    unit: str
    unit_price: Decimal | None
    tiers: tuple[Tier, ...] | None
    package_size: Decimal | None
    package_price: Decimal | None
    free_units: Decimal
    created_at: datetime


@attrs.frozen(kw_only=True)
class UsageResult:
    """What ``usage.record`` did: ``charged == burned + shortfall``; ``status`` is
    ``"skipped"`` (and ``op_id`` ``None``) when it charged nothing."""

    op_id: str | None = None
    entries: tuple[Entry, ...] = ()
    replayed: bool = False
    status: str
    charged: Decimal
    burned: Decimal
    shortfall: Decimal
    debt: Decimal
    event_id: str | None = None


@attrs.frozen(kw_only=True)
class UsageRecord:
    """One ``usage.record`` call as ``usage.list`` shows it."""

    op_id: str | None
    customer: str
    unit: str
    status: str
    charged: Decimal
    burned: Decimal
    shortfall: Decimal
    debt: Decimal
    meter_id: str | None
    quantity: Decimal | None
    event_id: str | None
    request_id: str | None
    at: datetime
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)


@attrs.frozen(kw_only=True)
class UsagePage:
    """One page of ``usage.list``; pass ``next_cursor`` as ``after`` for the next (``None``
    at the end)."""

    items: tuple[UsageRecord, ...]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Quote:
    """What ``quantity`` of a meter costs under the price that applies: ``exact``, and
    ``amount`` rounded once, half-up, to the unit's scale (as an invoice line)."""

    meter_id: str
    price_id: str
    quantity: Decimal
    exact: Decimal
    amount: Decimal

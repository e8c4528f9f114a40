"""Billing's part of the repository protocol: what the memory, SQLite and PostgreSQL adapters
store for billing, inside the ledger's unit of work, so that a billing write and its ledger
entries commit together or not at all.

Two kinds of rows:

- **Objects** (:class:`BillingObject`): meters, prices, vouchers and invoices, each a JSON
  document (``body``) that only billing reads and writes, beside the columns a store finds it
  by: its ``kind`` and ``id``; the ``customer`` it belongs to, if any; a ``status`` lists
  filter on; a ``key`` unique within its kind while set (a meter's event name, the (meter,
  plan) slot of a live price); and ``number``, the order objects of a kind were made in.
- **Meter events** (:class:`MeterEventRecord`), many and small, in a table of their own found
  by ``(meter_id, customer, timestamp)``, numbered ``seq`` in the order they were recorded.

And one **counter** per name (:meth:`BillingWriter.take_number`): the invoice numbers, taken
in the issuing transaction, so gapless and in the order issues commit.

The adapters implement :class:`BillingReader` on their readers and :class:`BillingWriter` on
their units of work (``reader.billing()``, ``uow.billing()``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import attrs

from creditcore.core.state import frozen_dict

__all__ = ["BillingObject", "BillingReader", "BillingWriter", "MeterEventRecord"]


@attrs.frozen(kw_only=True)
class BillingObject:
    """A meter, price, voucher or invoice as stored."""

    kind: str
    id: str
    customer: str | None = None
    status: str | None = None
    key: str | None = None
    """Unique within ``kind`` while not ``None``: a second object with it is refused."""
    body: str
    """The object's JSON document (billing's own codec)."""
    number: int = 0
    """Creation order within ``kind`` (the store sets it on the first put; 0 before)."""


@attrs.frozen(kw_only=True)
class MeterEventRecord:
    """One usage event of a meter, kept forever (its ``event_id`` too)."""

    event_id: str
    meter_id: str
    customer: str
    timestamp: datetime
    value: Decimal | None = None
    unique_key: str | None = None
    dimensions: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    advance: bool = False
    """Charged in advance by ``usage.record``: left out of invoices."""
    recorded_at: datetime
    seq: int = 0
    """The order events were recorded in (the store sets it; 0 before)."""


class BillingReader(Protocol):
    """Billing's reads, on a reader or inside a unit of work (which sees its own writes)."""

    def get_object(self, kind: str, object_id: str) -> BillingObject | None: ...

    def find_key(self, kind: str, key: str) -> BillingObject | None:
        """The object of ``kind`` whose ``key`` is ``key``, if any."""
        ...

    def list_objects(
        self,
        kind: str,
        *,
        customer: str | Collection[str] | None = None,
        statuses: Iterable[str] | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[BillingObject]:
        """Objects of ``kind`` with ``number > after``, in creation order, filtered by customer
        (one, or any of several) and status (``None``: any)."""
        ...

    def find_meter_events(self, event_ids: Sequence[str]) -> dict[str, MeterEventRecord]:
        """The stored events among ``event_ids``, by id."""
        ...

    def meter_events(
        self, meter_id: str, *, customer: str | None, start: datetime, end: datetime
    ) -> list[MeterEventRecord]:
        """The meter's events with ``start <= timestamp < end`` (of ``customer``; ``None``:
        every customer's), in the order they were recorded."""
        ...


class BillingWriter(BillingReader, Protocol):
    """Billing's writes, in the ledger's unit of work."""

    def put_object(self, obj: BillingObject) -> BillingObject:
        """Store ``obj``, new or replacing the stored one of its kind and id (which keeps its
        number); the object as stored, numbered."""
        ...

    def add_meter_events(self, events: Sequence[MeterEventRecord]) -> None:
        """Store new events (their ids unknown to the store), numbered ``seq`` in the given
        order (a batch is one statement where the database allows it: nothing comes back)."""
        ...

    def take_number(self, counter: str) -> int:
        """The next number of ``counter``: 1, 2, 3, ... across the store, never one twice."""
        ...

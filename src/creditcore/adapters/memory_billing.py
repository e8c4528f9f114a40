"""Billing's rows in memory (:mod:`creditcore.billing.repository`): the committed store of a
:class:`~creditcore.adapters.memory.MemoryRepository`, and the overlay a transaction writes
into and publishes with the ledger's own changes."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

import attrs

from creditcore.billing.repository import BillingObject, MeterEventRecord
from creditcore.errors import Conflict, StorageError

_Spot = tuple[datetime, int, str]  # (timestamp, seq, event_id): a meter's events of one customer, by time


class BillingStore:
    """What is committed: objects by (kind, id), each kind's ids in creation order (and per
    customer, so that a customer's objects are found without reading every other's), the keys
    in use, meter events by id and, per (meter, customer), by time; the counters."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], BillingObject] = {}
        self.ordered: dict[str, list[str]] = {}
        self.by_customer: dict[tuple[str, str], list[str]] = {}  # (kind, customer): ids, each once
        self.keys: dict[tuple[str, str], str] = {}
        self.events: dict[str, MeterEventRecord] = {}
        self.by_meter: dict[str, dict[str, list[_Spot]]] = {}
        self.counters: dict[str, int] = {}


class BillingRows:
    """Billing's reads and writes over a :class:`BillingStore`: what a transaction changed
    (nothing, for a reader) seen over what is committed."""

    def __init__(self, store: BillingStore, *, writable: bool) -> None:
        self._store = store
        self._writable = writable
        self._objects: dict[tuple[str, str], BillingObject] = {}
        self._new_ids: dict[str, list[str]] = {}
        self._new_by_customer: dict[tuple[str, str], list[str]] = {}
        self._keys: dict[tuple[str, str], str | None] = {}
        self._events: list[MeterEventRecord] = []
        self._event_ids: dict[str, MeterEventRecord] = {}
        self._counters: dict[str, int] = {}

    # -- reads ---------------------------------------------------------------------------

    def get_object(self, kind: str, object_id: str) -> BillingObject | None:
        found = self._objects.get((kind, object_id))
        return found if found is not None else self._store.objects.get((kind, object_id))

    def find_key(self, kind: str, key: str) -> BillingObject | None:
        spot = (kind, key)
        object_id = self._keys[spot] if spot in self._keys else self._store.keys.get(spot)
        return None if object_id is None else self.get_object(kind, object_id)

    def list_objects(
        self,
        kind: str,
        *,
        customer: str | Collection[str] | None = None,
        statuses: Iterable[str] | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[BillingObject]:
        wanted = None if statuses is None else frozenset(statuses)
        whose: Collection[str] = ()
        objects: Iterable[BillingObject]
        if customer is None:  # numbers are positions + 1
            ids = [*self._store.ordered.get(kind, ()), *self._new_ids.get(kind, ())]
            objects = (self._get(kind, object_id) for object_id in ids[after:])
        else:  # the customers' own ids, merged back into creation order
            whose = frozenset([customer] if isinstance(customer, str) else customer)
            spots = [(kind, c) for c in sorted(whose)]
            mine = dict.fromkeys(
                object_id
                for lists in (self._store.by_customer, self._new_by_customer)
                for spot in spots
                for object_id in lists.get(spot, ())
            )
            objects = sorted(
                (obj for obj in (self._get(kind, object_id) for object_id in mine) if obj.number > after),
                key=lambda obj: obj.number,
            )
        found: list[BillingObject] = []
        for obj in objects:
            if (customer is None or obj.customer in whose) and (wanted is None or obj.status in wanted):
                found.append(obj)
                if limit is not None and len(found) == limit:
                    break
        return found

    def _get(self, kind: str, object_id: str) -> BillingObject:
        found = self.get_object(kind, object_id)
        assert found is not None
        return found

    def find_meter_events(self, event_ids: Sequence[str]) -> dict[str, MeterEventRecord]:
        found = {}
        for event_id in event_ids:
            event = self._event_ids.get(event_id) or self._store.events.get(event_id)
            if event is not None:
                found[event_id] = event
        return found

    def meter_events(
        self, meter_id: str, *, customer: str | None, start: datetime, end: datetime
    ) -> list[MeterEventRecord]:
        store = self._store
        per_customer = store.by_meter.get(meter_id, {})
        lists = [per_customer.get(customer, [])] if customer is not None else list(per_customer.values())
        found = [
            store.events[event_id]
            for spots in lists
            for _t, _seq, event_id in spots[bisect.bisect_left(spots, (start,)) : bisect.bisect_left(spots, (end,))]
        ]
        found += [
            e
            for e in self._events
            if e.meter_id == meter_id and (customer is None or e.customer == customer) and start <= e.timestamp < end
        ]
        found.sort(key=lambda e: e.seq)
        return found

    # -- writes --------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self._writable:
            raise StorageError("a reader cannot write billing rows: write inside a transaction")

    def put_object(self, obj: BillingObject) -> BillingObject:
        self._check_writable()
        spot = (obj.kind, obj.id)
        old = self.get_object(*spot)
        if obj.key is not None:
            holder = self.find_key(obj.kind, obj.key)
            if holder is not None and holder.id != obj.id:
                raise Conflict(f"{obj.kind} key {obj.key!r} is taken by {holder.id!r}")
        if old is None:
            ids = self._new_ids.setdefault(obj.kind, [])
            number = len(self._store.ordered.get(obj.kind, ())) + len(ids) + 1
            ids.append(obj.id)
        else:
            number = old.number
            if old.key is not None and old.key != obj.key:
                self._keys[(obj.kind, old.key)] = None
        if obj.customer is not None and (old is None or old.customer != obj.customer):
            self._new_by_customer.setdefault((obj.kind, obj.customer), []).append(obj.id)
        stored = attrs.evolve(obj, number=number)
        self._objects[spot] = stored
        if obj.key is not None:
            self._keys[(obj.kind, obj.key)] = obj.id
        return stored

    def add_meter_events(self, events: Sequence[MeterEventRecord]) -> None:
        self._check_writable()
        first = len(self._store.events) + len(self._events) + 1
        stored = [attrs.evolve(event, seq=first + n) for n, event in enumerate(events)]
        for event in stored:
            if event.event_id in self._event_ids or event.event_id in self._store.events:
                raise StorageError(f"meter event {event.event_id!r} is stored already")
            self._event_ids[event.event_id] = event
        self._events += stored

    def take_number(self, counter: str) -> int:
        self._check_writable()
        number = self._counters.get(counter, self._store.counters.get(counter, 0)) + 1
        self._counters[counter] = number
        return number

    # -- the end -------------------------------------------------------------------------

    def publish(self) -> None:
        """Make this transaction's rows the committed ones (under the store's publish lock)."""
        store = self._store
        store.objects.update(self._objects)
        for kind, ids in self._new_ids.items():
            store.ordered.setdefault(kind, []).extend(ids)
        for spot, ids in self._new_by_customer.items():
            store.by_customer.setdefault(spot, []).extend(ids)
        for spot, object_id in self._keys.items():
            if object_id is None:
                store.keys.pop(spot, None)
            else:
                store.keys[spot] = object_id
        for event in self._events:
            store.events[event.event_id] = event
            spots = store.by_meter.setdefault(event.meter_id, {}).setdefault(event.customer, [])
            bisect.insort(spots, (event.timestamp, event.seq, event.event_id))
        store.counters.update(self._counters)

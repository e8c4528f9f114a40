"""``billing.meters``: meters, their events in batches, and summaries.

Event ids are kept forever, in a namespace of their own: the same id with the same fields is
a ``"duplicate"`` (nothing written), with another field an ``IdempotencyConflict`` naming it.
A batch is checked whole before anything is written, then written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from creditcore.billing import metering
from creditcore.billing.common import EVENT_CLOCK_SKEW_SECONDS, Part, body, check_replay, need, read_body
from creditcore.billing.model import EventStatus, Invoice, Meter, MeterEvent, RecordEventsResult, UsageSummary
from creditcore.billing.repository import BillingObject, BillingReader, MeterEventRecord
from creditcore.billing.values import (
    AGGREGATIONS,
    MAX_DIMENSIONS,
    MAX_QUANTITY_PLACES,
    ZERO,
    MeterReading,
    parse_meter_id,
    parse_number,
)
from creditcore.errors import Conflict, IdempotencyConflict, NotFound, ValidationError
from creditcore.ids import new_id
from creditcore.service.context import exact, write
from creditcore.values import (
    canonical,
    parse_choice,
    parse_id,
    parse_metadata,
    parse_name,
    parse_optional_id,
    parse_text,
    parse_time,
)

__all__ = ["MAX_EVENTS_PER_BATCH", "Meters"]

#: The most events one ``record`` call takes (Hanzo's batch size).
MAX_EVENTS_PER_BATCH = 100
KIND = "meter"


def _dimension_names(value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("dimensions", f"expected a list of names, got {type(value).__name__}")
    names = tuple(parse_id(name, "dimensions") for name in value)
    if len(set(names)) != len(names):
        raise ValidationError("dimensions", "names must be distinct")
    if len(names) > MAX_DIMENSIONS:
        raise ValidationError("dimensions", f"at most {MAX_DIMENSIONS} names, got {len(names)}")
    return names


def _scale(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY_PLACES:
        raise ValidationError(
            "scale", f"expected a whole number of decimal places 0 to {MAX_QUANTITY_PLACES}, got {value!r}"
        )
    return value


def load(rows: BillingReader, meter_id: str) -> Meter:
    found = rows.get_object(KIND, meter_id)
    if found is None:
        raise NotFound(f"no meter {meter_id!r}")
    meter: Meter = read_body(found.body, Meter)
    return meter


class Meters(Part):
    """Meters and their events."""

    @write
    def create(
        self,
        name: str,
        event_name: str,
        *,
        aggregation: str = "sum",
        meter_id: str | None = None,
        dimensions: Iterable[str] = (),
        scale: int = 0,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> Meter:
        """A new meter (``meter_id`` again with the same arguments returns it)."""
        given = {
            "name": parse_name(name),
            "event_name": parse_id(event_name, "event_name"),
            "aggregation": parse_choice(aggregation, "aggregation", AGGREGATIONS),
            "dimensions": _dimension_names(dimensions),
            "scale": _scale(scale),
            "description": parse_text(description),
            "metadata": parse_metadata(metadata),
        }
        ident = parse_meter_id(meter_id)
        when = self.write_time(at)
        with self.writing() as (_uow, rows):
            if ident is not None:
                stored = rows.get_object(KIND, ident)
                if stored is not None:
                    check_replay(KIND, stored, (Meter,), ident, given)
                    return load(rows, ident)
            taken = rows.find_key(KIND, given["event_name"])  # type: ignore[arg-type]
            if taken is not None:
                raise Conflict(f"event_name {given['event_name']!r} is taken by meter {taken.id!r}")
            meter = Meter(id=ident or new_id("mtr"), created_at=when, **given)  # type: ignore[arg-type]
            rows.put_object(BillingObject(kind=KIND, id=meter.id, key=meter.event_name, body=body(meter)))
            return meter

    @exact
    def get(self, meter_id: str) -> Meter:
        """The meter ``meter_id``; ``NotFound`` if there is none."""
        ident = parse_id(meter_id, "meter_id")
        with self.reading() as (_reader, rows):
            return load(rows, ident)

    @exact
    def list(self) -> list[Meter]:
        """Every meter, in creation order."""
        with self.reading() as (_reader, rows):
            return [read_body(o.body, Meter) for o in rows.list_objects(KIND)]

    @write
    def record(self, events: Sequence[MeterEvent], *, at: datetime | None = None) -> RecordEventsResult:
        """Record 1 to 100 events, all or none."""
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Sequence):
            raise ValidationError("events", f"expected a list of MeterEvent, got {type(events).__name__}")
        if not 0 < len(events) <= MAX_EVENTS_PER_BATCH:
            raise ValidationError("events", f"a batch holds 1 to {MAX_EVENTS_PER_BATCH} events, got {len(events)}")
        for event in events:
            if not isinstance(event, MeterEvent):
                raise ValidationError("events", f"expected MeterEvent values, got {type(event).__name__}")
        when = self.write_time(at)
        with self.writing() as (_uow, rows):
            meters: dict[str, Meter] = {}
            checked = [self._check(rows, meters, event, when) for event in events]
            _refuse_late(rows, [record for record, _ in checked])
            stored = rows.find_meter_events([record.event_id for record, _ in checked if _])
            statuses: list[EventStatus] = []
            new: list[MeterEventRecord] = []
            seen: dict[str, MeterEventRecord] = {}
            for event, (record, identified) in zip(events, checked, strict=True):
                known = (stored.get(record.event_id) or seen.get(record.event_id)) if identified else None
                if known is not None:
                    _compare(known, record, event.timestamp is not None)
                    statuses.append(EventStatus(event_id=record.event_id, status="duplicate"))
                    continue
                seen[record.event_id] = record
                new.append(record)
                statuses.append(EventStatus(event_id=record.event_id, status="created"))
            rows.add_meter_events(new)
        return RecordEventsResult(results=tuple(statuses), created=len(new), duplicates=len(statuses) - len(new))

    def _check(
        self, rows: BillingReader, meters: dict[str, Meter], event: MeterEvent, at: datetime
    ) -> tuple[MeterEventRecord, bool]:
        """The event as stored, checked against its meter; whether the caller gave its id."""
        need(event.meter_id, "meter_id")
        meter_id = parse_id(event.meter_id, "meter_id")
        meter = meters.get(meter_id)
        if meter is None:
            meter = meters[meter_id] = load(rows, meter_id)
        need(event.customer, "customer")
        customer = parse_id(event.customer, "customer")
        value: Decimal | None = None
        if meter.aggregation in ("sum", "max", "latest"):
            need(event.value, "value")
            value = _value(event.value, meter.scale)
        elif meter.aggregation == "count":
            if event.value is not None:
                value = _value(event.value, meter.scale)  # counted, not summed
        elif event.value is not None:
            raise ValidationError("value", "a unique_count event takes no value: give its unique_key")
        unique_key = parse_optional_id(event.unique_key, "unique_key")
        if meter.aggregation == "unique_count":
            need(unique_key, "unique_key")
        elif unique_key is not None:
            raise ValidationError(
                "unique_key", f"only a unique_count meter takes one; {meter_id!r} is {meter.aggregation}"
            )
        dimensions = _dimensions(event.dimensions, meter)
        timestamp = at if event.timestamp is None else parse_time(event.timestamp, "timestamp")
        if timestamp > at + timedelta(seconds=EVENT_CLOCK_SKEW_SECONDS):
            raise ValidationError(
                "timestamp",
                f"{timestamp.isoformat()} is more than {EVENT_CLOCK_SKEW_SECONDS // 60} minutes after the call's "
                f"time ({at.isoformat()})",
            )
        event_id = parse_optional_id(event.event_id, "event_id")
        record = MeterEventRecord(
            event_id=event_id or new_id("evt"),
            meter_id=meter_id,
            customer=customer,
            timestamp=timestamp,
            value=value,
            unique_key=unique_key,
            dimensions=dimensions,
            recorded_at=at,
        )
        return record, event_id is not None

    @exact
    def summary(
        self,
        meter_id: str,
        *,
        customer: str | None = None,
        start: datetime | date,
        end: datetime | date,
        dimensions: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> UsageSummary:
        """The meter's aggregate over ``[start, end)`` (of ``customer``; ``None``: all), of the
        events recorded by ``at``."""
        ident = parse_id(meter_id, "meter_id")
        who = None if customer is None else parse_id(customer, "customer")
        when = self.read_time(at)
        with self.reading() as (reader, rows):
            meter = load(rows, ident)
            zone = self.zone_of(reader, who, when)
            since, until = self.instant(start, "start", zone), self.instant(end, "end", zone)
            if until <= since:
                raise ValidationError("end", f"must be after start ({since.isoformat()}), got {until.isoformat()}")
            found = rows.meter_events(ident, customer=who, start=since, end=until)
        readings = [
            MeterReading.checked(e.timestamp, e.value or ZERO, e.unique_key, e.dimensions)
            for e in found
            if e.recorded_at <= when
        ]
        total = metering.aggregate(meter.aggregation, readings, start=since, end=until, dimensions=dimensions)
        return UsageSummary(
            meter_id=ident,
            customer=who,
            aggregation=meter.aggregation,
            start=since,
            end=until,
            value=total.value,
            event_count=total.event_count,
        )


def _refuse_late(rows: BillingReader, records: Sequence[MeterEventRecord]) -> None:
    """An event dated in the period of an issued or paid invoice of its customer refuses the
    batch: nothing is re-billed silently."""
    from creditcore.billing.invoices import billed  # invoices price meters: imported when used

    periods: dict[str, list[Invoice]] = {}
    for invoice in billed(rows, {record.customer for record in records}):  # one query a batch
        periods.setdefault(invoice.customer, []).append(invoice)
    for record in records:
        for invoice in periods.get(record.customer, ()):
            assert invoice.start is not None and invoice.end is not None
            if invoice.start <= record.timestamp < invoice.end:
                raise Conflict(
                    f"event {record.event_id!r} of {record.customer!r} is dated {record.timestamp.isoformat()}, in the "
                    f"period of invoice {invoice.id!r} ({invoice.number}), which is {invoice.status}: correct it "
                    "with a charge or a refund, or void the invoice first"
                )


def _value(given: object, scale: int) -> Decimal:
    """An event's value in the meter's scale (a whole number in range needs no more checks:
    the common case, thousands of times a second)."""
    if type(given) is int and 0 <= given < _PLAIN_INT_LIMIT:
        return Decimal(given)
    return parse_number(given, "value", places=scale)


#: Whole numbers below this (38 digits, a value's most) are taken as they are.
_PLAIN_INT_LIMIT = 10**38


def _dimensions(value: object, meter: Meter) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("dimensions", f"expected a dict of str to str, got {type(value).__name__}")
    found: dict[str, str] = {}
    for name, given in value.items():
        if name not in meter.dimensions:
            raise ValidationError("dimensions", f"meter {meter.id!r} has no dimension {name!r}")
        if not isinstance(given, str) or not given:
            raise ValidationError("dimensions", f"{name!r}: expected a non-empty str, got {given!r}")
        found[name] = given
    return found


def _compare(known: MeterEventRecord, again: MeterEventRecord, timestamp_given: bool) -> None:
    """An event id seen before: the same fields (the timestamp only when given) or a conflict."""
    fields = ["meter_id", "customer", "value", "unique_key", "dimensions"] + (["timestamp"] if timestamp_given else [])
    for field in fields:
        before, now = getattr(known, field), getattr(again, field)
        if canonical(dict(before) if field == "dimensions" else before) != canonical(
            dict(now) if field == "dimensions" else now
        ):
            raise IdempotencyConflict(
                known.event_id, field, f"event {known.event_id!r} was recorded with another {field}"
            )

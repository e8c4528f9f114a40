"""Billing's rows in SQL (:mod:`creditcore.billing.repository`), the same on SQLite and on
PostgreSQL: the tables a forward migration adds, the statements and the row decoders of the
reads and writes :class:`~creditcore.adapters.sql.session.SqlSession` makes on the ledger's
own connection, in its transaction (``session.billing()`` is the session itself).

- ``billing_objects``: one row per meter, price, voucher or invoice, its JSON ``body``
  beside the columns reads find it by; ``number`` is the row key, so a kind's objects list in
  the order they were made; ``(kind, key)`` is unique where ``key`` is set.
- ``meter_events``: one row per event, ``seq`` its row key (the order recorded), found by
  ``(meter_id, customer, at)``; ``value`` is exact decimal text; ``event_id`` is unique.
- ``billing_counters``: one row per counter (the invoice numbers), taken with an upsert that
  holds the row to the end of the transaction, so numbers follow the order issues commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from creditcore.adapters.sql import codec
from creditcore.adapters.sql.dialect import Dialect
from creditcore.billing.repository import BillingObject, MeterEventRecord

_OBJECT = "kind, id, customer, status, key, body, number"
_EVENT = "seq, event_id, meter_id, customer, at, value, unique_key, dimensions, advance, recorded_at"
_EVENT_INSERT = _EVENT.removeprefix("seq, ")


def billing_tables(d: Dialect) -> tuple[str, ...]:
    """The statements of the migration that adds billing's tables."""
    i, t = d.integer, d.time_type
    return (
        f"""
        CREATE TABLE billing_objects (
            number {d.row_key},
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            customer TEXT,
            status TEXT,
            key TEXT,
            body {d.json} NOT NULL{d.json_check("body", False)}
        ){d.table_options}
        """,
        "CREATE UNIQUE INDEX billing_objects_by_id ON billing_objects (kind, id)",
        "CREATE UNIQUE INDEX billing_objects_by_key ON billing_objects (kind, key) WHERE key IS NOT NULL",
        # a customer's invoices, vouchers and usage records (and the billed periods a batch of
        # events is checked against), however many other customers have
        "CREATE INDEX billing_objects_by_customer ON billing_objects (kind, customer, number)",
        f"""
        CREATE TABLE meter_events (
            seq {d.row_key},
            event_id TEXT NOT NULL UNIQUE,
            meter_id TEXT NOT NULL,
            customer TEXT NOT NULL,
            at {t} NOT NULL,
            value TEXT,
            unique_key TEXT,
            dimensions {d.json} NOT NULL{d.json_check("dimensions", False)},
            advance {i} NOT NULL CHECK (advance IN (0, 1)),
            recorded_at {t} NOT NULL
        ){d.table_options}
        """,
        # a summary reads one customer's events of one period, however many others there are
        "CREATE INDEX meter_events_by_meter ON meter_events (meter_id, customer, at)",
        f"CREATE TABLE billing_counters (name TEXT PRIMARY KEY, value {i} NOT NULL CHECK (value > 0)){d.table_options}",
    )


class BillingStatements:
    """Billing's statement texts in one dialect."""

    def __init__(self, d: Dialect) -> None:
        m, t = d.mark, d.time_value(d.mark)
        self.dialect = d
        self.get_object = f"SELECT {_OBJECT} FROM billing_objects WHERE kind = {m} AND id = {m}"
        self.find_key = f"SELECT {_OBJECT} FROM billing_objects WHERE kind = {m} AND key = {m}"
        self.put_object = (
            f"INSERT INTO billing_objects (kind, id, customer, status, key, body) VALUES ({d.marks(6)}) "
            "ON CONFLICT (kind, id) DO UPDATE SET customer = excluded.customer, status = excluded.status, "
            "key = excluded.key, body = excluded.body RETURNING number"
        )
        self.object_witness = f"SELECT 1 FROM billing_objects WHERE kind = {m} AND id = {m} AND body = {m}"
        self.insert_event = f"({m}, {m}, {m}, {t}, {m}, {m}, {m}, {m}, {t})"
        self.event_witness = f"SELECT 1 FROM meter_events WHERE event_id = {m}"
        self.events_in = (
            f"SELECT {_EVENT} FROM meter_events{d.indexed_by('meter_events_by_meter')} "
            f"WHERE meter_id = {m} AND customer = {m} AND at >= {t} AND at < {t} ORDER BY seq"
        )
        self.events_of_all = (
            f"SELECT {_EVENT} FROM meter_events{d.indexed_by('meter_events_by_meter')} "
            f"WHERE meter_id = {m} AND at >= {t} AND at < {t} ORDER BY seq"
        )
        self.take_number = (
            f"INSERT INTO billing_counters (name, value) VALUES ({m}, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = billing_counters.value + 1 RETURNING value"
        )

    def list_objects(
        self, kind: str, customer: str | Sequence[str] | None, statuses: Sequence[str] | None, after: int,
        limit: int | None,
    ) -> tuple[str, list[object]]:  # fmt: skip
        m = self.dialect.mark
        clauses, params = [f"kind = {m}", f"number > {m}"], [kind, after]
        if isinstance(customer, str):
            clauses.append(f"customer = {m}")
            params.append(customer)
        elif customer is not None:
            clauses.append(f"customer IN ({self.dialect.marks(len(customer))})" if customer else "0 = 1")
            params += customer
        if statuses is not None:
            clauses.append(f"status IN ({self.dialect.marks(len(statuses))})" if statuses else "0 = 1")
            params += statuses
        text = f"SELECT {_OBJECT} FROM billing_objects WHERE {' AND '.join(clauses)} ORDER BY number"
        if limit is not None:
            text += f" LIMIT {m}"
            params.append(limit)
        return text, params

    def find_events(self, count: int) -> str:
        return f"SELECT {_EVENT} FROM meter_events WHERE event_id IN ({self.dialect.marks(count)})"

    def insert_events(self, count: int) -> str:
        return f"INSERT INTO meter_events ({_EVENT_INSERT}) VALUES " + ", ".join([self.insert_event] * count)


def billing_object(row: Sequence[Any]) -> BillingObject:
    kind, object_id, customer, status, key, body, number = row
    return BillingObject(
        kind=kind, id=object_id, customer=customer, status=status, key=key, body=body, number=int(number)
    )


def meter_event(row: Sequence[Any]) -> MeterEventRecord:
    seq, event_id, meter_id, customer, at, value, unique_key, dimensions, advance, recorded_at = row
    return MeterEventRecord(
        seq=int(seq),
        event_id=event_id,
        meter_id=meter_id,
        customer=customer,
        timestamp=codec.time(at),
        value=None if value is None else Decimal(value),
        unique_key=unique_key,
        dimensions={} if dimensions == "{}" else json.loads(dimensions),
        advance=bool(advance),
        recorded_at=codec.time(recorded_at),
    )


def event_row(e: MeterEventRecord) -> tuple[object, ...]:
    """An event's values, in the order of ``BillingStatements.insert_event``."""
    return (
        e.event_id,
        e.meter_id,
        e.customer,
        codec.micros(e.timestamp),
        None if e.value is None else str(e.value),
        e.unique_key,
        codec.json_text(dict(e.dimensions)) if e.dimensions else "{}",
        int(e.advance),
        codec.micros(e.recorded_at),
    )

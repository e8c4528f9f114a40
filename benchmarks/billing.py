"""Billing's bars (issue 15): ``creditcore.billing.Billing`` measured through its public API,
each figure a ratio of two measured in the same run.

- **Recording meter events**: ``billing.meters.record(batch)``, batches of 100 events (each
  its own transaction), on a SQLite ledger at ``durability="normal"``, against a *raw-sqlite3
  usage floor*: the least an app writing its own usage table does. One table with the same
  columns (event id, meter, customer, timestamp, value, unique key, dimensions as JSON, the
  advance flag, the time recorded), an index on ``(meter, customer, timestamp)`` and a unique
  event id; per batch, the events turned into rows and one ``executemany`` INSERT in one
  ``BEGIN IMMEDIATE`` transaction, WAL at the ledger's ``synchronous`` level (checked). Both
  sides take the same ``MeterEvent`` values and write the same number of rows on a new file.
  Ratio: the floor's time over ours (1.0: as fast as the floor).
- **A period summary beside others' events**: one customer's events fixed (10^4, 100 a day
  over 100 days), the meter's other customers' events on the same meter and the same days
  growing from 10^4 to 10^6; ``billing.meters.summary`` of one day of that customer (100
  events: a few ms a call). Summing 10^6 events of one customer in Python would time the
  decoding of 10^6 rows, not the index; the bar is about the others' rows, which the index
  ``meter_events_by_meter (meter_id, customer, at)`` skips. The rows are loaded straight
  into ``meter_events`` with ``sqlite3`` (one transaction, the schema's own columns), checked
  through the API before timing, and the query plan of the summary's statement is recorded.
- **Issuing an invoice**: 20 priced meters, a customer with events on each and credit enough
  for every line; ``billing.invoices.issue(draft_id)`` (the draft made outside the timed
  part, one customer a draft so that every issue does the same work) against one
  ``ledger.burn`` of one line's amount with a line's scope on the same adapter, memory and
  SQLite (``durability="normal"``). Ratio: an issue's time over a burn's.
"""

from __future__ import annotations

import heapq
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks.timing import Rival, contest, per_call, say, timed
from creditcore import Ledger
from creditcore.billing import Billing, MeterEvent

#: Where the clock of these ledgers stands: after every event and period of the runs.
NOW = datetime(2030, 1, 1, tzinfo=UTC)
#: The first day of the events.
DAY0 = NOW - timedelta(days=400)
DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
#: The currency of the invoices (2 decimal places).
UNIT = "usd"
BATCH = 100
#: The summary's customer.
CUSTOMER = "ada"
METER = "calls"
#: The index the summary must use.
INDEX = "meter_events_by_meter"


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def sqlite_billing(directory: str, name: str, synchronous: str = "NORMAL", **options: Any) -> Billing:
    """A ``Billing`` on a new SQLite ledger at ``durability=synchronous``, its clock at
    :data:`NOW`, checked: WAL at that ``synchronous`` level, as its floor runs."""
    path = os.path.join(tempfile.mkdtemp(dir=directory), f"{name}.db")
    ledger = Ledger.sqlite(path, durability=synchronous.lower(), clock=lambda: NOW, **options)
    found = ledger.repository.settings()  # type: ignore[attr-defined]
    if found.get("journal_mode") != "wal" or found.get("synchronous") != {"FULL": 2, "NORMAL": 1}[synchronous]:
        ledger.close()
        raise AssertionError(f"the ledger runs {found}, not WAL at synchronous={synchronous}: fix the floor")
    return Billing(ledger)


# -- recording meter events -------------------------------------------------------------------------


def event_batches(batches: int) -> list[list[MeterEvent]]:
    """``batches`` batches of 100 events of one ``sum`` meter with a dimension, over 100
    customers, each with its id (as an app retrying a batch gives them) and its timestamp."""
    out = []
    for b in range(batches):
        at = DAY0 + timedelta(seconds=b)
        out.append(
            [
                MeterEvent(
                    METER,
                    f"c{i:03d}",
                    1 + (b + i) % 7,
                    timestamp=at + timedelta(microseconds=i),
                    event_id=f"req-{b:06d}-{i:03d}",
                    dimensions={"region": "eu" if i % 2 else "us"},
                )
                for i in range(BATCH)
            ]
        )
    return out


def _create_meter(billing: Billing, meter_id: str = METER) -> None:
    billing.meters.create(meter_id, f"{meter_id}_event", meter_id=meter_id, dimensions=("region",), at=DAY0 - DAY)


def record_ours(batches: Sequence[Sequence[MeterEvent]], directory: str) -> tuple[float, int]:
    """Every batch through ``billing.meters.record`` on a new SQLite file (the meter made
    outside the timed part); the events created."""
    billing = sqlite_billing(directory, "record")
    try:
        _create_meter(billing)

        def run() -> int:
            return sum(billing.meters.record(batch, at=NOW).created for batch in batches)

        return timed(run)
    finally:
        billing.ledger.close()


_FLOOR_SCHEMA = (
    """CREATE TABLE usage_events (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        meter TEXT NOT NULL,
        customer TEXT NOT NULL,
        at INTEGER NOT NULL,  -- microseconds since 1970
        value TEXT,           -- exact decimal text
        unique_key TEXT,
        dimensions TEXT NOT NULL,
        advance INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL
    )""",
    "CREATE INDEX usage_by_meter ON usage_events (meter, customer, at)",
)
_FLOOR_INSERT = (
    "INSERT INTO usage_events (event_id, meter, customer, at, value, unique_key, dimensions, advance, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class UsageFloor:
    """The raw-sqlite3 usage floor: one indexed table, one ``executemany`` INSERT a batch in
    one transaction, WAL at the given ``synchronous`` level."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        for statement in _FLOOR_SCHEMA:
            self.conn.execute(statement)

    def close(self) -> None:
        self.conn.close()

    def record(self, batch: Sequence[MeterEvent], at: datetime) -> int:
        recorded = _micros(at)
        rows = [
            (
                e.event_id,
                e.meter_id,
                e.customer,
                _micros(e.timestamp) if e.timestamp else recorded,  # type: ignore[arg-type]
                None if e.value is None else str(e.value),
                e.unique_key,
                json.dumps(dict(e.dimensions or {}), separators=(",", ":")),
                0,
                recorded,
            )
            for e in batch
        ]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_FLOOR_INSERT, rows)
        conn.execute("COMMIT")
        return len(rows)


def record_floor(batches: Sequence[Sequence[MeterEvent]], directory: str) -> tuple[float, int]:
    floor = UsageFloor(tempfile.mktemp(suffix=".db", dir=directory), "NORMAL")
    try:
        seconds, created = timed(lambda: sum(floor.record(batch, NOW) for batch in batches))
        (stored,) = floor.conn.execute("SELECT count(*) FROM usage_events").fetchone()
        if stored != created:
            raise AssertionError(f"the usage floor stored {stored:,} rows, not {created:,}")
        return seconds, created
    finally:
        floor.close()


def record_events(batches: int, repeats: int, directory: str) -> dict[str, Any]:
    """``record`` against the usage floor, interleaved, best of ``repeats`` each."""
    found = event_batches(batches)
    count = sum(len(batch) for batch in found)
    rival = Rival("usage floor", "floor", lambda: record_floor(found, directory))
    name = "SQLite meter events in batches of 100, one transaction a batch, synchronous=NORMAL"
    figure = contest(name, count, "events", lambda: record_ours(found, directory), [rival], repeats)
    figure["batch"] = BATCH
    figure["batches"] = batches
    return figure


# -- a period summary beside others' events ----------------------------------------------------------


def _rows(customer: str, count: int, days: int, first: int) -> Iterator[tuple[object, ...]]:
    """``count`` events of ``customer`` (or, for ``customer`` ``"*"``, of 1,000 others in
    turn), spread evenly over ``days`` days from :data:`DAY0`, in time order, value 1..7;
    event ids numbered from ``first``."""
    step = days * 86_400_000_000 // count
    start, recorded = _micros(DAY0), _micros(NOW - DAY)
    for n in range(count):
        who = f"o{n % 1_000:03d}" if customer == "*" else customer
        at = start + n * step + (1 if customer == "*" else 0)
        # the columns of meter_events, in _EVENT_INSERT's order
        yield (f"evt_{first + n:09d}", METER, who, at, str(1 + n % 7), None, "{}", 0, recorded)


def _insert_text() -> str:
    from creditcore.adapters.sql.billing import _EVENT_INSERT

    return f"INSERT INTO meter_events ({_EVENT_INSERT}) VALUES ({', '.join('?' * 9)})"


def build_summary(directory: str, own: int, others: int, days: int) -> Billing:
    """A SQLite ledger whose meter holds ``own`` events of :data:`CUSTOMER` and ``others``
    events of 1,000 other customers over the same ``days`` days, interleaved in time order as
    a real stream records them; loaded with ``sqlite3``, then read back through the API."""
    billing = sqlite_billing(directory, f"summary{others}")
    _create_meter(billing)
    path = billing.ledger.repository.path  # type: ignore[attr-defined]
    billing.ledger.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -262144")  # the load only: 256 MiB of page cache
        conn.execute("BEGIN IMMEDIATE")
        merged = heapq.merge(_rows(CUSTOMER, own, days, 0), _rows("*", others, days, own), key=lambda row: row[3])
        conn.executemany(_insert_text(), merged)
        conn.execute("COMMIT")
        (stored,) = conn.execute("SELECT count(*) FROM meter_events").fetchone()
    finally:
        conn.close()
    if stored != own + others:
        raise AssertionError(f"loaded {stored:,} meter events, not {own + others:,}")
    billing = Billing(Ledger.sqlite(path, durability="normal", clock=lambda: NOW))
    whole = billing.meters.summary(METER, customer=CUSTOMER, start=DAY0, end=DAY0 + DAY * days)
    expected = sum(1 + n % 7 for n in range(own))
    if (whole.event_count, whole.value) != (own, Decimal(expected)):
        billing.ledger.close()
        raise AssertionError(f"the loaded events read back as {whole}, not {own:,} events summing to {expected:,}")
    return billing


def query_plan(billing: Billing) -> list[str]:
    """SQLite's plan of the statement a customer's summary runs (EXPLAIN QUERY PLAN)."""
    from creditcore.adapters.sql.billing import BillingStatements
    from creditcore.adapters.sql.dialect import SQLITE

    text = BillingStatements(SQLITE).events_in
    path = billing.ledger.repository.path  # type: ignore[attr-defined]
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {text}", (METER, CUSTOMER, _micros(DAY0), _micros(DAY0 + DAY)))
        return [row[-1] for row in rows]
    finally:
        conn.close()


def summary_flat(
    own: int, others: tuple[int, ...], days: int, calls: int, repeats: int, directory: str
) -> dict[str, Any]:
    """The cost of one day's summary of :data:`CUSTOMER` (``own / days`` events) beside each
    number of other customers' events, a round at a time over every size; each the best
    round. Each call sums another day."""
    built = []
    try:
        for count in others:
            started = time.perf_counter()
            built.append((count, build_summary(directory, own, count, days)))
            say(
                f"  built {own:,} events of {CUSTOMER} and {count:,} of others in {time.perf_counter() - started:.1f} s"
            )
        plan = query_plan(built[-1][1])
        if not any(INDEX in step for step in plan):
            raise AssertionError(f"the summary's statement does not use {INDEX}: {plan}")
        best = dict.fromkeys(others, float("inf"))
        per_day = own // days
        for _ in range(repeats):
            for count, billing in built:

                def one(i: int, billing: Billing = billing) -> None:
                    start = DAY0 + DAY * (i % days)
                    found = billing.meters.summary(METER, customer=CUSTOMER, start=start, end=start + DAY)
                    if found.event_count != per_day:
                        raise AssertionError(f"a day's summary took {found.event_count} events, not {per_day}")

                best[count] = min(best[count], per_call(one, calls))
    finally:
        for _count, billing in built:
            billing.ledger.close()
    rows = [{"others": count, "own": own, "day_events": own // days, "summary": best[count]} for count in others]
    for row in rows:
        say(f"  {row['others']:>9,} events of others: a day's summary ({row['day_events']} events) "
            f"{row['summary'] * 1e3:8.2f} ms")  # fmt: skip
    return {"rows": rows, "plan": plan, "index": INDEX}


# -- issuing an invoice -------------------------------------------------------------------------------


def open_billing(adapter: str, directory: str, name: str) -> Billing:
    if adapter == "memory":
        return Billing(Ledger.memory(units={UNIT: 2}, clock=lambda: NOW))
    return sqlite_billing(directory, name, units={UNIT: 2})


def build_invoices(billing: Billing, lines: int, drafts: int) -> list[str]:
    """``lines`` meters priced per unit, and ``drafts`` customers each with 5 events on every
    meter in one day, credit for all of it and a draft invoice of that day; the drafts' ids."""
    meters = [f"m{n:02d}" for n in range(lines)]
    for meter in meters:
        billing.meters.create(meter, f"{meter}_event", meter_id=meter, at=DAY0 - DAY)
        billing.prices.create(meter, unit=UNIT, unit_price="0.01", at=DAY0 - DAY)
    ids = []
    for d in range(drafts):
        customer = f"inv{d:04d}"
        billing.ledger.grant(customer, "1000.00", unit=UNIT, expires_at=None, at=DAY0)
        events = [
            MeterEvent(meter, customer, 1 + k, timestamp=DAY0 + timedelta(minutes=k + 1))
            for meter in meters
            for k in range(5)
        ]
        for first in range(0, len(events), BATCH):
            billing.meters.record(events[first : first + BATCH], at=DAY0 + DAY)
        ids.append(billing.invoices.create(customer, start=DAY0, end=DAY0 + DAY, at=DAY0 + DAY).id)
    return ids


def invoice_issue(lines: int, calls: int, repeats: int, directory: str) -> dict[str, Any]:
    """Per adapter, an issue of a ``lines``-line draft and one burn, a round of ``calls`` each
    at a time; each the best round."""
    out: dict[str, Any] = {}
    for adapter in ("memory", "sqlite"):
        billing = open_billing(adapter, directory, "invoices")
        try:
            started = time.perf_counter()
            drafts = iter(build_invoices(billing, lines, calls * repeats))
            ledger = billing.ledger
            ledger.grant("burner", "1000000.00", unit=UNIT, expires_at=None, at=DAY0)
            took = time.perf_counter() - started
            say(f"  {adapter}: built {lines} meters and {calls * repeats} drafts in {took:.1f} s")

            def issue(_i: int) -> None:
                done = billing.invoices.issue(next(drafts)).invoice  # noqa: B023 (run before the loop moves on)
                if len(done.lines) != lines or done.status != "paid" or done.credit_applied != done.total:
                    raise AssertionError(f"the issue wrote {len(done.lines)} lines, {done.status}: {done}")

            def burn(_i: int) -> None:
                ledger.burn("burner", "0.15", unit=UNIT, scope="meter:m00", overdraft="partial")  # noqa: B023

            best = {"issue": float("inf"), "burn": float("inf")}
            for _ in range(repeats):
                best["issue"] = min(best["issue"], per_call(issue, calls))
                best["burn"] = min(best["burn"], per_call(burn, calls))
        finally:
            billing.ledger.close()
        out[adapter] = {"lines": lines, **best, "ratio": best["issue"] / best["burn"]}
        say(f"  {adapter}: issue of {lines} lines {best['issue'] * 1e3:8.2f} ms, one burn {best['burn'] * 1e3:8.3f} ms "
            f"(ratio {out[adapter]['ratio']:.2f})")  # fmt: skip
    return out

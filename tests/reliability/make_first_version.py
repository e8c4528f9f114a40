"""Write ``data/first_version.sqlite``: a ledger file as the first version of creditcore (schema
``0001_initial``) left it, and ``data/first_version.json``: what every read of it returned
then. ``test_upgrade.py`` opens a copy of the file with today's code and requires the same.

The same history, written by the code of each later schema (``--name schema_0002`` and so on,
with ``--snapshot-every 3`` so that those files hold snapshots of account state too), makes
``data/schema_*.sqlite`` and ``.json``: a file as each released schema left it.

The file holds two declared units, customers with blocks in every state (active, upcoming,
depleted, expired, voided, moved by ``change_expiry``, scoped), holds that were captured,
released, timed out or are still active, debt settled by a grant, a reversal, expiries
recorded by a sweep and others still due, and idempotency keys of every kind.

Regenerate only with the first version's code (the file stands for files users already
have)::

    python tests/reliability/make_first_version.py

and a file of a later schema only with the code that wrote that schema, from a copy of its
commit (the commits are in ``VERSIONS`` of ``test_upgrade.py``)::

    git archive <commit> src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/reliability/make_first_version.py --name schema_0002 --snapshot-every 3
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import attrs

from creditcore import Ledger
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.testing.contract import ManualClock

DATA = Path(__file__).parent / "data"
FILE = DATA / "first_version.sqlite"
EXPECTED = DATA / "first_version.json"
START = datetime(2030, 1, 1, tzinfo=UTC)
READ_AT = START + timedelta(days=40)  # after every write; some expiries still unrecorded
PAST = (START + timedelta(hours=3), START + timedelta(days=2), START + timedelta(days=8))
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def plain(value: object) -> Any:
    """A value the ledger returned, as JSON: amounts and times as strings, sets sorted."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(cast(Any, type(value)))}
    if isinstance(value, (frozenset, set)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    raise TypeError(f"no plain form for {type(value).__name__}")


def encode_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    def arg(value: object) -> Any:
        if isinstance(value, datetime):
            return {"time": value.isoformat()}
        if isinstance(value, (set, frozenset)):
            return {"set": sorted(value)}
        return value

    return [name, [arg(a) for a in args], {k: arg(v) for k, v in kwargs.items()}]


def decode_call(encoded: list[Any]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    def arg(value: Any) -> Any:
        if isinstance(value, dict) and "time" in value:
            return datetime.fromisoformat(value["time"])
        if isinstance(value, dict) and "set" in value:
            return set(value["set"])
        return value

    name, args, kwargs = encoded
    return name, tuple(arg(a) for a in args), {k: arg(v) for k, v in kwargs.items()}


def read_all(ledger: Ledger) -> dict[str, Any]:
    """Everything the public reads return for the file, at ``READ_AT`` and at past times."""
    with ledger.repository.reader() as reader:
        customers = reader.customers()
    entries = []
    cursor = None
    while True:
        page = ledger.entries(after=cursor, limit=50)
        entries.extend(plain(page.items))
        cursor = page.next_cursor
        if cursor is None:
            break
    found: dict[str, Any] = {"units": ledger.units(), "customers": customers, "entries": entries, "per_customer": {}}
    for customer in customers:
        units = sorted(ledger.balances(customer, at=READ_AT))
        blocks = [b for unit in units for b in ledger.blocks(customer, unit=unit, at=READ_AT, include_inactive=True)]
        holds = ledger.holds(customer, status=None, at=READ_AT)
        found["per_customer"][customer] = {
            "balances": plain(ledger.balances(customer, at=READ_AT)),
            "past_balances": [plain(ledger.balances(customer, at=t)) for t in PAST],
            "blocks": plain(blocks),
            "blocks_by_id": {b.id: plain(ledger.get_block(b.id, at=READ_AT)) for b in blocks},
            "holds": plain(holds),
            "holds_by_id": {h.id: plain(ledger.get_hold(h.id, at=READ_AT)) for h in holds},
            "timeline": {unit: plain(ledger.timeline(customer, unit=unit, until=READ_AT)) for unit in units},
            "entries": plain(ledger.entries(customer, limit=10_000).items),
        }
    return found


def operation_records(ledger: Ledger, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    """The stored idempotency record of each keyed call: namespace, key, kind, op id, customer."""
    found = []
    with ledger.repository.reader() as reader:
        for name, args, kwargs in calls:
            namespace = {"capture": "end", "release": "end", "hold": "hold"}.get(name, "key")
            key = kwargs.get("idempotency_key") or kwargs.get("hold_id") or args[0]
            record = reader.find_operation(namespace, key)
            assert record is not None, (namespace, key)
            found.append([record.namespace, record.key, record.kind, record.op_id, record.customer])
    return found


def write_history(ledger: Ledger, clock: ManualClock) -> list[tuple[str, tuple[Any, ...], dict[str, Any], Any]]:
    """The first version's writes; returns every keyed call with its result."""
    keyed: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []

    def call(name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(ledger, name)(*args, **kwargs)
        keyed.append((name, args, kwargs, result))
        return result

    ledger.define_unit("usd", 2)
    ledger.define_unit("eur", 3)
    soon = call("grant", "ada", 20, priority=10, expires_at=START + DAY, idempotency_key="g-soon")
    call("grant", "ada", 50, category="paid", cost_basis="0.01", metadata={"plan": "pro"}, idempotency_key="g-paid")
    later = call("grant", "ada", 30, effective_at=START + 2 * DAY, expires_at=START + 60 * DAY, idempotency_key="g-up")
    trip = call("grant", "ada", 15, scope={"trip", "food"}, expires_at=START + 30 * DAY, idempotency_key="g-trip")
    call("grant", "ada", "99.95", unit="usd", description="top-up", idempotency_key="g-usd")
    call("grant", "ada", "1.250", unit="eur", idempotency_key="g-eur")
    call("grant", "ada", 25, effective_at=START + 50 * DAY, priority=5, idempotency_key="g-next-quarter")
    refunded = call("grant", "ada", 7, category="paid", idempotency_key="g-refunded")
    clock.advance(HOUR)
    burn = call("burn", "ada", 12, description="job ✓", idempotency_key="b-1")
    call("burn", "ada", 6, scope="trip", idempotency_key="b-trip")
    call("burn", "ada", "10.05", unit="usd", idempotency_key="b-usd")
    call("hold", "ada", 5, hold_id="h-captured")
    call("hold", "ada", 4, hold_id="h-released", expires_at=START + 10 * DAY)
    call("hold", "ada", 3, hold_id="h-timeout", expires_at=START + 2 * HOUR)
    call("hold", "ada", 2, hold_id="h-active")
    call("hold", "ada", "5.00", unit="usd", hold_id="h-usd", scope=None)
    clock.advance(HOUR)
    call("capture", "h-captured", 3)
    call("release", "h-released")
    call("capture", "h-usd")
    call("reverse", burn.op_id, 4, idempotency_key="r-1")
    call("void", soon.block.id, 2, reason="refund", idempotency_key="v-1")
    moved = call("change_expiry", trip.block.id, START + 90 * DAY, amount=5, idempotency_key="m-1")
    call("void", later.block.id, 10, reason="chargeback", idempotency_key="v-up")
    call("void", refunded.block.id, reason="refund", idempotency_key="v-whole")
    # bob runs into debt, which a grant settles
    call("burn", "bob", 25, overdraft="debt", idempotency_key="b-debt")
    call("grant", "bob", 10, idempotency_key="g-bob-1")
    call("grant", "bob", 40, expires_at=START + 5 * DAY, idempotency_key="g-bob-2")
    call("burn", "bob", 7, overdraft="partial", idempotency_key="b-bob")
    # cy: one block used up, one voided whole, one that expires unrecorded
    used_up = call("grant", "cy", 8, idempotency_key="g-cy-1")
    call("burn", "cy", 8, idempotency_key="b-cy")
    gone = call("grant", "cy", 6, idempotency_key="g-cy-2")
    call("void", gone.block.id, idempotency_key="v-cy")
    call("grant", "cy", 9, expires_at=START + 20 * DAY, idempotency_key="g-cy-3")
    assert used_up.block.id != gone.block.id and moved.block.id != trip.block.id
    clock.advance(3 * DAY)
    ledger.expire_due()  # records ada's first expiry and the hold timeout
    clock.advance(DAY)
    call("burn", "ada", 3, idempotency_key="b-late")
    return keyed


def files(name: str) -> tuple[Path, Path]:
    """The ledger file and the expectations of one version's file in ``data/``."""
    return DATA / f"{name}.sqlite", DATA / f"{name}.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="first_version", help="the files' name in data/")
    parser.add_argument("--snapshot-every", type=int, default=None, help="SQLiteRepository's snapshot_every")
    options = parser.parse_args(argv)
    file, expectations = files(options.name)
    DATA.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{file}{suffix}").unlink(missing_ok=True)
    clock = ManualClock(START)
    every = {} if options.snapshot_every is None else {"snapshot_every": options.snapshot_every}
    repository = SQLiteRepository(file, **every)
    ledger = Ledger(repository, clock=clock)
    keyed = write_history(ledger, clock)
    schema = repository.schema_version()
    clock.now = READ_AT
    expected = {
        "written_by_schema": schema,
        "read_at": READ_AT.isoformat(),
        "reads": read_all(ledger),
        "operations": operation_records(ledger, [(name, args, kwargs) for name, args, kwargs, _ in keyed]),
        "keyed": [{"call": encode_call(n, a, k), "result": plain(r)} for n, a, k, r in keyed],
    }
    report = ledger.verify()
    assert report.ok, str(report)
    ledger.close()
    conn = sqlite3.connect(file)
    conn.execute("VACUUM")
    conn.close()
    expectations.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {file} ({file.stat().st_size} bytes) and {expectations}")


if __name__ == "__main__":
    main()

"""What a SQLite write stores, and what each index is for.

A write stores what moved and no more: a burn is one UPDATE of its unit's totals, one UPDATE
of the block it drew on (by row key), one INSERT of its entries, inside ``BEGIN IMMEDIATE``
... ``COMMIT``; it writes no index of the blocks or of the account (only the entries' own),
unless a block empties. Every index of the schema serves a read, which uses it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from creditcore import Ledger
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.billing import Billing, MeterEvent
from creditcore.repository import ChangeSet
from creditcore.state import AccountState, BlockState, EntryState, HoldState
from creditcore.testing.contract import START, ManualClock

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Traced(sqlite3.Connection):
    """Keeps the text of every statement it runs (while ``Traced.on``)."""

    on = False
    statements: list[str] = []  # noqa: RUF012 - one list for the test that turns it on

    def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        if Traced.on:
            Traced.statements.append(" ".join(sql.split()))
        return super().execute(sql, parameters)  # type: ignore[arg-type]

    def executemany(self, sql: str, parameters: object, /) -> sqlite3.Cursor:  # type: ignore[override]
        if Traced.on:
            Traced.statements.append("MANY " + " ".join(sql.split()))
        return super().executemany(sql, parameters)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(path: Path, clock: ManualClock) -> Iterator[Ledger]:
    opened = Ledger(SQLiteRepository(path, durability="normal", connection_factory=Traced), clock=clock)
    yield opened
    opened.close()


def traced(run: Callable[[], object]) -> list[str]:
    Traced.statements = []
    Traced.on = True
    try:
        run()
    finally:
        Traced.on = False
    return Traced.statements


def written_roots(conn: sqlite3.Connection, sql: str) -> set[str]:
    """The tables and indexes a statement opens for writing (from its program)."""
    names = dict(conn.execute("SELECT rootpage, name FROM sqlite_master WHERE rootpage > 0"))
    program = conn.execute(f"EXPLAIN {sql}", [None] * sql.count("?"))
    # addr, opcode, p1 (the cursor), p2 (the root page), ...
    return {names[row[3]] for row in program if row[1] == "OpenWrite" and row[3] in names}


# a unit's totals: only the columns that moved (its row is written whole only if not there)
UNIT_USED = (
    "INSERT INTO account_units (customer, unit, granted, used, expired, voided, debt, settlements, last_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer, unit) DO UPDATE SET used = excluded.used, "
    "last_at = excluded.last_at"
)


def test_a_burn_updates_what_moved_and_inserts_its_entry(ledger: Ledger, clock: ManualClock) -> None:
    ledger.grant("ada", 100)
    ledger.grant("ada", 50, unit="credits", priority=5)
    clock.advance(HOUR)
    ledger.burn("ada", 1)
    clock.advance(HOUR)
    statements = traced(lambda: ledger.burn("ada", 3))
    assert statements == [
        "BEGIN IMMEDIATE",
        "PRAGMA data_version",
        UNIT_USED,
        "UPDATE blocks SET remaining = ?, used = ? WHERE customer = ? AND pos = ?",
        "INSERT INTO entries (seq, op_id, customer, unit, kind, block_pos, hold_pos, amount, available_after, at, "
        "description, metadata, ref, of_debt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "COMMIT",
    ]


def test_a_burn_across_blocks_inserts_its_entries_in_one_statement(ledger: Ledger, clock: ManualClock) -> None:
    for amount in (2, 2, 2):
        ledger.grant("ada", amount)
    clock.advance(HOUR)
    ledger.burn("ada", 1)  # loaded and remembered
    statements = traced(lambda: ledger.burn("ada", 4))
    inserts = [s for s in statements if s.startswith(("INSERT INTO entries", "MANY INSERT INTO entries"))]
    assert len(inserts) == 1 and inserts[0].count("(?, ?") == 3, inserts
    updates = [s for s in statements if s.startswith("UPDATE blocks")]
    # the first two blocks empty: their live flag and how they emptied move too; the last keeps
    # credit; the two burnt for the first time note when
    assert updates == [
        "UPDATE blocks SET remaining = ?, live = ?, emptied_by = ?, used = ? WHERE customer = ? AND pos = ?",
        "UPDATE blocks SET remaining = ?, live = ?, emptied_by = ?, used = ?, first_used_at = ? "
        "WHERE customer = ? AND pos = ?",
        "UPDATE blocks SET remaining = ?, used = ?, first_used_at = ? WHERE customer = ? AND pos = ?",
    ]


def test_a_burn_writes_no_index_of_the_blocks_or_the_account(ledger: Ledger, path: Path) -> None:
    ledger.grant("ada", 10)
    with sqlite3.connect(path) as conn:
        # a burn that leaves credit in its block: the table alone
        assert written_roots(conn, "UPDATE blocks SET remaining = ?, used = ? WHERE customer = ? AND pos = ?") == {
            "blocks"
        }
        assert written_roots(conn, "UPDATE blocks SET held = ? WHERE customer = ? AND pos = ?") == {"blocks"}
        assert written_roots(conn, UNIT_USED) == {"account_units"}
        # one that empties it leaves the index of live blocks
        assert written_roots(conn, "UPDATE blocks SET remaining = ?, live = ? WHERE customer = ? AND pos = ?") == {
            "blocks",
            "blocks_live",
        }


def test_a_hold_and_its_capture_update_only_what_moved(ledger: Ledger, clock: ManualClock) -> None:
    ledger.grant("ada", 10)
    clock.advance(HOUR)
    held = traced(lambda: ledger.hold("ada", 4, hold_id="h"))
    # a hold moves no unit's totals: the account's row keeps the time of the write
    assert (
        "INSERT INTO accounts (customer, last_at, next_number, first_seq, settings) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (customer) DO UPDATE SET last_at = excluded.last_at" in held
    )
    assert "UPDATE blocks SET held = ? WHERE customer = ? AND pos = ?" in held
    assert not [s for s in held if s.startswith("INSERT INTO account_units")]
    clock.advance(HOUR)
    captured = traced(lambda: ledger.capture("h", 3))
    assert (
        "UPDATE holds SET status = ?, captured = ?, settled_at = ?, settled_by = ? WHERE customer = ? AND pos = ?"
        in captured
    )
    assert UNIT_USED in captured
    assert not [s for s in captured if s.startswith("INSERT INTO accounts")]


def test_an_account_of_several_units_reads_back_with_its_last_write(path: Path, clock: ManualClock) -> None:
    ledger = Ledger(SQLiteRepository(path), clock=clock, units={"usd": 2})
    try:
        ledger.grant("ada", 10)
        clock.advance(HOUR)
        ledger.grant("ada", 5, unit="usd")
        ledger.burn("ada", 12, overdraft="debt")  # debt in credits
        clock.advance(HOUR)
        ledger.hold("ada", 1, unit="usd", hold_id="h")  # moves no unit: the account's own time
        clock.advance(DAY)
        ledger.grant("ada", 5, settle_debt=True)  # settles the debt: a settlement is kept
        with ledger.repository.transaction() as uow:
            kept = uow.lock("ada")
    finally:
        ledger.close()
    again = SQLiteRepository(path)
    try:
        with again.reader() as reader:
            loaded = reader.load_account("ada")
    finally:
        again.close()
    assert loaded == kept
    assert loaded.last_at == START + 2 * HOUR + DAY
    assert set(loaded.totals) == {"credits", "usd"}
    assert loaded.totals["credits"].debt == 0 and loaded.settlements["credits"]


def test_a_write_whose_account_this_connection_did_not_load_stores_it_whole(path: Path, clock: ManualClock) -> None:
    ledger = Ledger(SQLiteRepository(path), clock=clock, units={"usd": 2})
    try:
        ledger.grant("ada", 10)
        ledger.grant("ada", 10, unit="usd")
        clock.advance(HOUR)
        with ledger.repository.transaction() as uow:
            state = uow.lock("ada")
        repository = ledger.repository
        assert isinstance(repository, SQLiteRepository)
        smaller = AccountState(
            customer="ada",
            blocks=dict(state.blocks),
            holds=dict(state.holds),
            totals={"credits": state.totals["credits"]},
            last_at=state.last_at,
            next_number=state.next_number,
        )
        with repository.transaction() as session:
            session.accounts.clear()  # as when the connection's memo of accounts is full
            session.save(ChangeSet.of(state, smaller, []))
        with repository.reader() as reader:
            assert reader.load_account("ada") == smaller  # no unit row it no longer has
    finally:
        ledger.close()


INDEXES = {
    "accounts_by_first_seq": "customers()",
    "blocks_by_customer": "blocks(customer)",
    "blocks_live": "load_account: a write's lock, balance()",
    "holds_by_customer": "holds(customer)",
    "holds_active": "load_account: a write's lock, balance()",
    "entries_by_customer": "entries(customer=...), history",
    "entries_by_op": "entries(op_id=...), a keyed replay, reverse",
    "entries_by_block": "entries(block_id=...)",
    "entries_by_ref": "reverse: the op's earlier reversals",
    "snapshots_by_time": "balance(at=...) through a snapshot",
    "customers_in_order": "customers(): a page from a position",
    "schedules_by_id": "get_schedule(), cancel_schedule()",
    "alerts_by_id": "remove_alert(), an alert id's replay",
    "events_by_customer": "events(customer=...)",
    "schedules_in_force": "load_account of an account with settings: a write's lock, balance()",
    "top_ups_in_force": "load_account of an account with settings: a write's lock, balance()",
    "alerts_in_force": "load_account of an account with settings: a write's lock, balance()",
    "billing_objects_by_id": "billing: a meter, price, voucher or invoice by its id",
    "billing_objects_by_key": "billing: a meter by its event name, the live price of (meter, plan)",
    "meter_events_by_meter": "billing.meters.summary(): one customer's events of one period",
    "billing_objects_by_customer": "billing: a customer's invoices, and the billed periods events are checked against",
}


def test_every_index_serves_a_read_that_uses_it(path: Path, clock: ManualClock) -> None:
    ledger = Ledger(
        SQLiteRepository(path, durability="normal", connection_factory=Traced, snapshot_every=2), clock=clock
    )
    try:
        check_every_index(ledger, path, clock)
    finally:
        ledger.close()


def check_every_index(ledger: Ledger, path: Path, clock: ManualClock) -> None:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        found = {name for name, table in rows if not table.startswith("_")}  # sqlite-utils' bookkeeping aside
    assert found == set(INDEXES), "an index was added or dropped: say which read needs it"
    granted = ledger.grant("ada", 100).block
    clock.advance(HOUR)
    burn = ledger.burn("ada", 10)
    for _ in range(4):  # snapshots of ada's account
        clock.advance(HOUR)
        ledger.burn("ada", 1)
    ledger.hold("ada", 1, hold_id="h")
    ledger.schedule_grant("ada", 5, every="1 day", schedule_id="s")
    ledger.add_alert("ada", unit="credits", kind="depleted", alert_id="a")
    billing = Billing(ledger)
    billing.meters.create("API calls", "api_call", meter_id="m")
    billing.prices.create("m", unit="credits", unit_price=1)
    billing.meters.record([MeterEvent("m", "ada", 3)])
    reads: dict[str, Callable[[], object]] = {
        "accounts_by_first_seq": lambda: ledger.verify(),
        "blocks_by_customer": lambda: ledger.blocks("ada", include_inactive=True),
        "blocks_live": lambda: ledger.balance("ada"),
        "holds_by_customer": lambda: ledger.holds("ada", status=None),
        "holds_active": lambda: ledger.balance("ada"),
        "entries_by_customer": lambda: ledger.entries("ada"),
        "entries_by_op": lambda: ledger.entries(op_id=burn.op_id),
        "entries_by_block": lambda: ledger.entries(block_id=granted.id),
        "entries_by_ref": lambda: ledger.reverse(burn.op_id, 1),
        "snapshots_by_time": lambda: ledger.balance("ada", at=START + 2 * HOUR),
        "customers_in_order": lambda: ledger.customers(after=None),
        "schedules_by_id": lambda: ledger.get_schedule("s"),
        "alerts_by_id": lambda: ledger.remove_alert("a"),
        "events_by_customer": lambda: ledger.events(customer="ada"),
        "schedules_in_force": lambda: ledger.balance("ada"),
        "top_ups_in_force": lambda: ledger.balance("ada"),
        "alerts_in_force": lambda: ledger.balance("ada"),
        "billing_objects_by_id": lambda: billing.meters.get("m"),
        "billing_objects_by_key": lambda: billing.prices.quote("m", 5),
        "meter_events_by_meter": lambda: billing.meters.summary("m", customer="ada", start=START, end=clock.now),
        "billing_objects_by_customer": lambda: billing.invoices.list("ada"),
    }
    repository = ledger.repository
    assert isinstance(repository, SQLiteRepository)
    conn = repository.connection()
    for index, read in reads.items():
        clock.advance(HOUR)
        statements = traced(read)
        plans = [
            " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")))
            for sql in statements
            if sql.startswith("SELECT")
        ]
        assert any(index in plan for plan in plans), f"{INDEXES[index]} does not use {index}: {plans}"


def test_a_block_or_hold_this_connection_never_read_is_written_over_not_twice(path: Path) -> None:
    # a new block or hold is a plain INSERT; one whose id turns out to be stored already (here:
    # written by another connection, never read by this one) is written over, and the entries
    # that name it refer to that row
    first = SQLiteRepository(path)
    at = START + HOUR
    block = BlockState(
        id="b1", customer="ada", unit="credits", number=1, amount=10, remaining=10, priority=0,
        category="promotional", effective_at=START, created_at=START,
    )  # fmt: skip
    found = HoldState(
        id="h1", customer="ada", unit="credits", amount=2, allocations=(("b1", 2),), created_at=at, op_id="op2"
    )
    granted = EntryState(
        op_id="op1",
        customer="ada",
        unit="credits",
        kind="grant",
        block_id="b1",
        amount=10,
        available_after=10,
        at=START,
    )
    try:
        with first.transaction() as uow:
            uow.save(ChangeSet.of(AccountState(customer="ada"), AccountState(customer="ada", blocks={"b1": block},
                     last_at=START, next_number=2), [granted]))  # fmt: skip
    finally:
        first.close()
    second = SQLiteRepository(path)
    try:
        held = attrs.evolve(block, held=2)
        hold_entry = EntryState(
            op_id="op2", customer="ada", unit="credits", kind="hold", block_id="b1", hold_id="h1", amount=2,
            available_after=8, at=at,
        )  # fmt: skip
        with second.transaction() as uow:
            uow.save(ChangeSet.of(AccountState(customer="ada"), AccountState(customer="ada", blocks={"b1": held},
                     holds={"h1": found}, last_at=at, next_number=2), [hold_entry]))  # fmt: skip
        with second.reader() as reader:
            blocks, holds, entries = reader.history("ada")
    finally:
        second.close()
    assert blocks == [held] and holds == [found]
    assert [(e.kind, e.block_id, e.hold_id) for e in entries] == [("grant", "b1", None), ("hold", "b1", "h1")]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM blocks").fetchone() == (1,)

"""SPEC §4 verify() on damaged storage: rows altered outside the ledger (raw SQL on a real
SQLite file, or the memory adapter's dictionaries) are reported as problems that name what is
wrong, and verify() never raises. Past balances and timeline() over such a history raise a
clear StorageError (the history is inconsistent: run verify()), never a raw KeyError.

The damage: an entry moved to another customer, a block's amount changed, a block's expiry
changed (after its expiry was recorded, and before credit it still gave), a hold's amount
changed, the account row deleted."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore import CreditError, Ledger, StorageError, rules
from creditcore.adapters.memory import MemoryRepository
from creditcore.adapters.sqlite import SQLiteRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NOW = T0 + 30 * DAY


def micros(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def history(ledger: Ledger) -> dict[str, str]:
    """Two customers with grants, an expiry, a hold and burns; returns the ids the damage needs."""
    ids = {
        "live": ledger.grant("ada", 50, at=T0).block.id,
        "short": ledger.grant("ada", 10, priority=1, expires_at=T0 + DAY, at=T0).block.id,
        "soon": ledger.grant("ada", 20, priority=2, expires_at=T0 + 10 * DAY, at=T0).block.id,
        "bob": ledger.grant("bob", 30, at=T0).block.id,
    }
    ids["burn"] = ledger.burn("ada", 5, at=T0 + HOUR).op_id  # from "short"
    ledger.hold("ada", 3, hold_id="h1", at=T0 + 2 * HOUR)  # from "short", which keeps 2 unheld
    ledger.burn("ada", 4, at=T0 + 3 * DAY)  # "short" has expired (2 with an expire entry): from "soon"
    ledger.burn("bob", 1, at=T0 + 4 * DAY)
    ledger.burn("ada", 1, at=T0 + 5 * DAY)
    assert ledger.verify().ok
    return ids


def damaged_sqlite(path: Path, sql: Callable[[dict[str, str]], list[tuple[str, tuple[Any, ...]]]]) -> Ledger:
    ledger = Ledger.sqlite(path, clock=lambda: NOW)
    ids = history(ledger)
    ledger.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
    for statement, params in sql(ids):
        conn.execute(statement, params)
    conn.commit()
    conn.close()
    return Ledger.sqlite(path, clock=lambda: NOW)


def entry_moved(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    return [("UPDATE entries SET customer = 'bob' WHERE op_id = ?", (ids["burn"],))]


def block_amount(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    return [("UPDATE blocks SET amount = amount + 7 WHERE id = ?", (ids["live"],))]


def expiry_later(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    # "short" expired at T0 + DAY (its expire entry is there): now it claims to expire later
    return [("UPDATE blocks SET expires_at = ? WHERE id = ?", (micros(T0 + 20 * DAY), ids["short"]))]


def expiry_earlier(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    # "soon" gave credit at T0 + 3 days: now it claims to have expired before that
    return [("UPDATE blocks SET expires_at = ? WHERE id = ?", (micros(T0 + 2 * DAY), ids["soon"]))]


def hold_amount(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    return [("UPDATE holds SET amount = amount + 2 WHERE id = 'h1'", ())]


def account_deleted(ids: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    return [("DELETE FROM accounts WHERE customer = 'ada'", ())]


def subjects(ledger: Ledger) -> set[tuple[str, str, str]]:
    report = ledger.verify()  # never raises
    assert not report.ok
    assert str(report).count("\n") == len(report.problems)
    return {(p.customer, p.subject, p.field) for p in report.problems}


def read_everything(ledger: Ledger, times: tuple[datetime | None, ...]) -> None:
    """Every read of both customers at ``times``: each returns, or refuses with a CreditError
    that says what is wrong; a raw KeyError or TypeError fails the test."""
    reads: list[Callable[[str, datetime | None], object]] = [
        lambda customer, at: ledger.balance(customer, at=at),
        lambda customer, at: ledger.balances(customer, at=at),
        lambda customer, at: ledger.blocks(customer, at=at, include_inactive=True),
        lambda customer, at: ledger.holds(customer, status=None, at=at),
        lambda customer, at: ledger.timeline(customer, until=at),
    ]
    for customer in ("ada", "bob"):
        for at in times:
            for read in reads:
                with contextlib.suppress(CreditError):
                    read(customer, at)


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "ledger.db"


# -- SQLite, altered with raw SQL ----------------------------------------------------------------


def test_an_entry_moved_to_another_customer(path: Path) -> None:
    ledger = damaged_sqlite(path, entry_moved)
    found = subjects(ledger)
    moved = [p for p in ledger.verify().problems if p.customer == "bob" and p.subject.startswith("entry #")]
    # an entry refers to its block by (customer, row key): moved to bob, it names none of his
    assert moved and moved[0].field == "block_id" and "names no block" in str(moved[0])
    assert ("ada", "unit credits", "used") in found  # and the customer it left is short of it
    # reads that replay bob's history say it is inconsistent, in a StorageError
    for read in (
        lambda: ledger.balance("bob", at=T0 + 2 * DAY),
        lambda: ledger.balances("bob", at=T0 + 2 * DAY),
        lambda: ledger.timeline("bob"),
        lambda: ledger.blocks("bob", include_inactive=True, at=T0 + 2 * DAY),
    ):
        with pytest.raises(StorageError, match=r"inconsistent.*run verify\(\)"):
            read()
    ledger.close()


def test_a_block_amount_changed(path: Path) -> None:
    ledger = damaged_sqlite(path, block_amount)
    with SQLiteRepository(path) as repository, repository.reader() as reader:
        live = next(b for b in reader.history("ada")[0] if b.amount == 57)
    problem = next(p for p in ledger.verify().problems if p.subject == f"block {live.id}" and p.field == "amount")
    assert (problem.stored, problem.recomputed) == ("57", "50")
    ledger.close()


@pytest.mark.parametrize("damage", [expiry_later, expiry_earlier], ids=["later", "earlier"])
def test_a_block_expiry_changed(path: Path, damage: Callable[..., Any]) -> None:
    ledger = damaged_sqlite(path, damage)
    found = subjects(ledger)
    assert any(customer == "ada" and field == "expires_at" for customer, _, field in found), found
    text = str(ledger.verify())
    assert "expire" in text
    ledger.close()


def test_a_hold_amount_that_no_longer_matches_its_allocations(path: Path) -> None:
    ledger = damaged_sqlite(path, hold_amount)
    problem = next(p for p in ledger.verify().problems if p.subject == "hold h1")
    assert problem.field.startswith("amount") and (problem.stored, problem.recomputed) == ("5", "3")
    ledger.close()


def test_a_deleted_account_row_is_reported_by_audit(path: Path) -> None:
    ledger = damaged_sqlite(path, account_deleted)
    ledger.close()
    with SQLiteRepository(path) as repository, repository.reader() as reader:
        stored = reader.load_account("ada")
        blocks, holds, entries = reader.history("ada")
    assert stored.last_at is None and entries  # the load finds nothing, the entries are there
    problems = rules.audit(stored, blocks, holds, entries)
    assert any(p.subject == "account" and p.field == "stored account" for p in problems), problems
    assert "account row is missing" in str(next(p for p in problems if p.field == "stored account"))


def test_verify_finds_a_deleted_account_row(path: Path) -> None:
    ledger = damaged_sqlite(path, account_deleted)
    assert ("ada", "account", "stored account") in subjects(ledger)
    ledger.close()


@pytest.mark.parametrize(
    "damage", [entry_moved, block_amount, expiry_later, expiry_earlier, hold_amount, account_deleted]
)
def test_no_read_of_a_damaged_file_leaks_a_raw_error(path: Path, damage: Callable[..., Any]) -> None:
    ledger = damaged_sqlite(path, damage)
    ledger.verify()
    read_everything(ledger, (T0 + HOUR, T0 + 2 * DAY, T0 + 4 * DAY, None))
    ledger.close()


# -- the memory adapter, altered in its dictionaries ---------------------------------------------


def store(ledger: Ledger) -> MemoryRepository:
    repository = ledger.repository
    assert isinstance(repository, MemoryRepository)
    return repository


def test_memory_an_entry_moved_to_another_customer() -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    ids = history(ledger)
    repo = store(ledger)
    index = next(i for i, e in enumerate(repo._entries) if e.op_id == ids["burn"])
    repo._entries[index] = attrs.evolve(repo._entries[index], customer="bob")
    repo._customer_entries["ada"].remove(index)
    repo._customer_entries["bob"] = sorted([*repo._customer_entries["bob"], index])
    found = subjects(ledger)
    assert any(c == "bob" and s.startswith("entry #") and f == "block_id" for c, s, f in found), found
    with pytest.raises(StorageError, match="inconsistent"):
        ledger.balance("bob", at=T0 + 2 * DAY)
    with pytest.raises(StorageError, match="inconsistent"):
        ledger.timeline("bob")


def test_memory_a_block_amount_and_a_hold_amount_changed() -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    ids = history(ledger)
    repo = store(ledger)

    def alter_hold(**changes: Any) -> None:
        account = repo._accounts["ada"]
        repo._holds["h1"] = attrs.evolve(account.holds["h1"], **changes)
        repo._accounts["ada"] = attrs.evolve(account, holds={"h1": repo._holds["h1"]})

    repo._blocks[ids["live"]] = attrs.evolve(repo._blocks[ids["live"]], amount=60)
    account = repo._accounts["ada"]
    repo._accounts["ada"] = attrs.evolve(
        account, blocks={**account.blocks, ids["live"]: attrs.evolve(account.blocks[ids["live"]], amount=60)}
    )
    alter_hold(amount=4)
    found = subjects(ledger)
    assert ("ada", f"block {ids['live']}", "amount") in found
    assert ("ada", "hold h1", "amount (the sum of its allocations)") in found
    alter_hold(amount=3, allocations=((ids["soon"], 3),))  # pins another block than its entries
    found = subjects(ledger)
    assert ("ada", "hold h1", "allocations") in found
    assert ("ada", f"block {ids['soon']}", "held by active holds") in found


def test_memory_a_deleted_account() -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    history(ledger)
    del store(ledger)._accounts["ada"]
    assert ("ada", "account", "stored account") in subjects(ledger)


def test_memory_a_hold_whose_block_is_gone_is_a_storage_error_on_reads() -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + DAY, at=T0)
    repo = store(ledger)
    account = repo._accounts["ada"]
    repo._accounts["ada"] = attrs.evolve(account, blocks={})  # the block the hold pins is gone
    with pytest.raises(StorageError, match="inconsistent"):
        ledger.balance("ada", at=T0 + 2 * DAY)  # the timeout must give credit back to it
    report = ledger.verify()
    assert not report.ok


# any one stored value altered: verify() reports or passes, and never raises; reads refuse
# with a CreditError at worst
ALTERATIONS: dict[str, list[Any]] = {
    "customer": ["bob", "zed"],
    "block_id": [None, "bob's"],
    "unit": ["usd", "nope"],
    "kind": ["burn", "debt", "grant", "expire", "reverse", "nonsense"],
    "amount": [0, 1, 7, 10**6, -3],
    "available_after": [-1, 0, 999],
    "at": [T0 - DAY, T0 + HOUR, T0 + 40 * DAY],
    "remaining": [0, 3, 100],
    "held": [0, 2, 100],
    "expires_at": [None, T0, T0 + 2 * DAY, T0 + 50 * DAY],
    "effective_at": [T0 - DAY, T0 + 4 * DAY, T0 + 50 * DAY],
    "allocations": [(), (("nope", 8),)],
    "status": ["active", "captured", "expired"],
    "captured": [0, 8, 50],
}
TARGETS = {
    "entry": ["customer", "block_id", "unit", "kind", "amount", "available_after", "at"],
    "block": ["customer", "unit", "amount", "remaining", "held", "expires_at", "effective_at"],
    "hold": ["amount", "allocations", "status", "captured", "expires_at"],
}


@settings(max_examples=60)
@given(st.data())
def test_verify_never_raises_whatever_one_stored_value_says(data: st.DataObject) -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    ids = history(ledger)
    ledger.hold("bob", 2, hold_id="h2", expires_at=T0 + 20 * DAY, at=T0 + 5 * DAY)
    repo = store(ledger)
    target = data.draw(st.sampled_from(sorted(TARGETS)))
    field = data.draw(st.sampled_from(TARGETS[target]))
    value = data.draw(st.sampled_from(ALTERATIONS[field]))
    if target == "entry":
        index = data.draw(st.integers(0, len(repo._entries) - 1))
        value = ids["bob"] if value == "bob's" else value  # an id the adapter's own indexes know
        repo._entries[index] = attrs.evolve(repo._entries[index], **{field: value})
    elif target == "block":
        block_id = data.draw(st.sampled_from(sorted(ids[k] for k in ("live", "short", "soon", "bob"))))
        changed = attrs.evolve(repo._blocks[block_id], **{field: value})
        repo._blocks[block_id] = changed
        for customer, account in list(repo._accounts.items()):
            if block_id in account.blocks:
                repo._accounts[customer] = attrs.evolve(account, blocks={**account.blocks, block_id: changed})
    else:
        hold_id = data.draw(st.sampled_from(["h1", "h2"]))
        changed_hold = attrs.evolve(repo._holds[hold_id], **{field: value})
        repo._holds[hold_id] = changed_hold
        for customer, account in list(repo._accounts.items()):
            if hold_id in account.holds:
                repo._accounts[customer] = attrs.evolve(account, holds={**account.holds, hold_id: changed_hold})
    report = ledger.verify()
    assert isinstance(report.ok, bool) and str(report)
    read_everything(ledger, (T0 + 2 * HOUR, T0 + 4 * DAY, None))


# -- remembered results and unreadable rows ---------------------------------------------------


def _keyed_history(ledger: Ledger) -> None:
    ledger.grant("ada", 50, at=T0, idempotency_key="g")
    ledger.burn("ada", 5, at=T0 + HOUR, idempotency_key="b")
    ledger.hold("ada", 4, hold_id="h", at=T0 + HOUR)
    ledger.capture("h", 3, at=T0 + 2 * HOUR)
    assert ledger.verify().ok


def _altered_result_sqlite(path: Path, change: Callable[[dict[str, Any]], None]) -> Ledger:
    import json

    ledger = Ledger.sqlite(path, clock=lambda: NOW)
    _keyed_history(ledger)
    ledger.close()
    conn = sqlite3.connect(path)
    (text,) = conn.execute("SELECT outcome FROM operations WHERE key = 'b'").fetchone()
    outcome = json.loads(text)
    change(outcome)
    conn.execute("UPDATE operations SET outcome = ? WHERE key = 'b'", (json.dumps(outcome),))
    conn.commit()
    conn.close()
    return Ledger.sqlite(path, clock=lambda: NOW)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(burned="50"),
        lambda r: r.update(debt="1"),
        lambda r: r.update(burned="5.5"),
        lambda r: r.pop("burned"),
        lambda r: r.update(burned="abc"),
    ],
    ids=["burned", "debt", "fraction", "burned-gone", "not-a-number"],
)
def test_verify_finds_an_altered_stored_result(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    ledger = _altered_result_sqlite(path, change)
    report = ledger.verify()
    assert not report.ok
    assert any("result of burn 'b'" in str(problem) for problem in report.problems), str(report)
    ledger.close()


def test_verify_finds_an_altered_result_in_memory() -> None:
    ledger = Ledger.memory(clock=lambda: NOW)
    _keyed_history(ledger)
    store = ledger.repository
    assert isinstance(store, MemoryRepository)
    record = store._operations[("key", "b")]
    store._operations[("key", "b")] = attrs.evolve(record, outcome={**record.outcome, "burned": 99})
    assert any("result of burn 'b'" in str(problem) for problem in ledger.verify().problems)


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("blocks", "scope", "5"),
        ("blocks", "metadata", "[1]"),
        ("blocks", "cost_basis", "abc"),
        ("account_units", "settlements", "[1]"),
        ("account_units", "used", "-5"),
        ("holds", "allocations", "{}"),
        ("operations", "fingerprint", "{}"),
        ("operations", "outcome", '["not", "an", "object"]'),
    ],
)
def test_verify_reports_rows_it_cannot_read_instead_of_raising(path: Path, table: str, column: str, value: str) -> None:
    ledger = Ledger.sqlite(path, clock=lambda: NOW)
    _keyed_history(ledger)
    ledger.close()
    conn = sqlite3.connect(path)
    names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    assert column in names, f"the schema has no {table}.{column}: this case damages nothing"
    conn.execute("PRAGMA ignore_check_constraints = ON")  # damage a CHECK would keep out, too
    conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
    conn.commit()
    conn.close()
    ledger = Ledger.sqlite(path, clock=lambda: NOW)
    report = ledger.verify()  # never raises
    assert not report.ok, f"{table}.{column} = {value!r} went unnoticed"
    assert all(str(problem) for problem in report.problems)
    for read in (lambda: ledger.balance("ada"), lambda: ledger.blocks("ada"), lambda: ledger.holds("ada")):
        with contextlib.suppress(CreditError):
            read()
    ledger.close()

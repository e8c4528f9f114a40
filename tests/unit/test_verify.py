"""SPEC §4 verify(): clean on a busy ledger (``report.ok``, a readable ``str(report)``), and it
catches stored state that disagrees with the entries: the memory repository's stored blocks,
totals and entries are corrupted directly, and the report must name the customer, the block
(or unit, or entry) and both values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from creditcore import Ledger
from creditcore.adapters.memory import MemoryRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def busy(ledger: Ledger) -> dict[str, str]:
    """Every operation, two customers, two units; returns some block ids."""
    ledger.define_unit("usd", 2)
    ids = {
        "live": ledger.grant("ada", 10, at=T0).block.id,
        "spent": ledger.grant("ada", 5, priority=1, at=T0).block.id,
        "soon": ledger.grant("ada", 8, expires_at=T0 + DAY, at=T0).block.id,
        "usd": ledger.grant("ada", "9.99", unit="usd", at=T0).block.id,
        "bob": ledger.grant("bob", 4, scope={"trip"}, at=T0).block.id,
    }
    burn = ledger.burn("ada", 7, at=T0 + HOUR)
    ledger.hold("ada", 3, hold_id="h1", at=T0 + HOUR)
    ledger.capture("h1", 2, at=T0 + 2 * HOUR)
    ledger.hold("ada", 2, hold_id="h2", expires_at=T0 + 3 * HOUR, at=T0 + 2 * HOUR)
    ledger.hold("ada", 1, hold_id="h3", at=T0 + 2 * HOUR)
    ledger.reverse(burn.op_id, 2, at=T0 + 4 * HOUR)
    ledger.void(ids["live"], 1, at=T0 + 4 * HOUR)
    ledger.change_expiry(ids["live"], T0 + 9 * DAY, amount=2, at=T0 + 5 * HOUR)
    ledger.burn("ada", "0.99", unit="usd", at=T0 + 5 * HOUR)
    ledger.burn("bob", 6, scope="trip", overdraft="debt", at=T0 + HOUR)
    ledger.grant("bob", 3, at=T0 + 2 * HOUR)
    ledger.grant("bob", 5, effective_at=T0 + DAY, at=T0 + 2 * HOUR)
    ledger.expire_due(at=T0 + 2 * DAY)
    return ids


@pytest.fixture
def ledger(clock: Callable[[], datetime]) -> Ledger:
    """These tests damage the memory adapter's own dictionaries (test_verify_damaged.py
    damages SQLite files with raw SQL)."""
    return Ledger.memory(clock=clock, future_tolerance=None)


def repo(ledger: Ledger) -> MemoryRepository:
    repository = ledger.repository
    assert isinstance(repository, MemoryRepository)
    return repository


# -- clean ----------------------------------------------------------------------------------------


def test_verify_is_clean_on_a_busy_ledger(ledger: Ledger) -> None:
    busy(ledger)
    report = ledger.verify()
    assert report.ok, str(report)
    assert report.problems == ()
    assert report.customers == 2
    assert report.entries == len(ledger.entries(limit=10_000).items)
    text = str(report)
    assert "2 customer(s)" in text and f"{report.entries} entries" in text and "no problems" in text
    assert "\n" not in text


def test_verify_is_clean_on_an_empty_ledger(ledger: Ledger) -> None:
    report = ledger.verify()
    assert report.ok and report.customers == 0 and report.entries == 0


def test_verify_writes_nothing(ledger: Ledger) -> None:
    busy(ledger)
    entries = ledger.entries(limit=10_000).items
    ledger.verify()
    assert ledger.entries(limit=10_000).items == entries


def test_verify_is_clean_with_expiries_and_timeouts_due_but_not_recorded(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 12, hold_id="h1", expires_at=T0 + 2 * HOUR, at=T0)
    ledger.burn("bob", 3, overdraft="debt", at=T0)
    ledger.grant("bob", 5, effective_at=T0 + DAY, at=T0)
    assert ledger.verify().ok


# -- tampering ------------------------------------------------------------------------------------


def test_verify_detects_a_wrong_remaining_on_a_stored_live_block(ledger: Ledger) -> None:
    ids = busy(ledger)
    store = repo(ledger)
    account = store._accounts["ada"]
    block = account.blocks[ids["live"]]
    wrong = block.remaining + 3
    store._accounts["ada"] = attrs.evolve(
        account, blocks={**account.blocks, block.id: attrs.evolve(block, remaining=wrong)}
    )
    report = ledger.verify()
    assert not report.ok
    found = [p for p in report.problems if p.subject == f"block {block.id}" and p.field == "remaining"]
    assert len(found) == 1
    problem = found[0]
    assert problem.customer == "ada"
    assert (problem.stored, problem.recomputed) == (str(wrong), str(block.remaining))
    line = str(problem)
    assert "ada" in line and block.id in line and str(wrong) in line and str(block.remaining) in line
    assert line in str(report)
    assert f"{len(report.problems)} problem(s)" in str(report)
    # the other customer is not blamed
    assert all(p.customer == "ada" for p in report.problems)


def test_verify_detects_a_wrong_remaining_on_a_stored_spent_block(ledger: Ledger) -> None:
    ids = busy(ledger)
    store = repo(ledger)
    block = store._blocks[ids["spent"]]
    assert block.remaining == 0 and ids["spent"] not in store._accounts["ada"].blocks
    store._blocks[block.id] = attrs.evolve(block, remaining=2)
    report = ledger.verify()
    assert not report.ok
    problems = [(p.customer, p.subject, p.field, p.stored, p.recomputed) for p in report.problems]
    assert ("ada", f"block {block.id}", "remaining", "2", "0") in problems
    assert block.id in str(report)


def test_verify_detects_a_wrong_held_amount(ledger: Ledger) -> None:
    busy(ledger)
    store = repo(ledger)
    account = store._accounts["ada"]
    holding = next(b for b in account.blocks.values() if b.held)
    store._accounts["ada"] = attrs.evolve(
        account, blocks={**account.blocks, holding.id: attrs.evolve(holding, held=holding.held + 1)}
    )
    report = ledger.verify()
    assert not report.ok
    assert any(p.subject == f"block {holding.id}" and p.field == "held" for p in report.problems)


def test_verify_detects_wrong_unit_totals(ledger: Ledger) -> None:
    busy(ledger)
    store = repo(ledger)
    account = store._accounts["bob"]
    totals = account.totals["credits"]
    store._accounts["bob"] = attrs.evolve(
        account, totals={**account.totals, "credits": attrs.evolve(totals, debt=totals.debt + 5)}
    )
    report = ledger.verify()
    assert not report.ok
    problem = next(p for p in report.problems if p.field == "debt")
    assert (problem.customer, problem.subject) == ("bob", "unit credits")
    assert (problem.stored, problem.recomputed) == (str(totals.debt + 5), str(totals.debt))


def test_verify_detects_a_wrong_available_after_on_an_entry(ledger: Ledger) -> None:
    busy(ledger)
    store = repo(ledger)
    position = 5
    entry = store._entries[position]
    store._entries[position] = attrs.evolve(entry, available_after=entry.available_after + 1)
    report = ledger.verify()
    assert not report.ok
    problem = next(p for p in report.problems if p.subject == f"entry #{entry.seq}")
    assert problem.field == "available_after"
    assert problem.customer == entry.customer
    assert (problem.stored, problem.recomputed) == (str(entry.available_after + 1), str(entry.available_after))


def test_verify_detects_an_entry_amount_that_disagrees_with_the_blocks(ledger: Ledger) -> None:
    ids = busy(ledger)
    store = repo(ledger)
    position, entry = next(
        (i, e) for i, e in enumerate(store._entries) if e.kind == "grant" and e.block_id == ids["usd"]
    )
    store._entries[position] = attrs.evolve(entry, amount=entry.amount + 1)
    report = ledger.verify()
    assert not report.ok
    assert any(p.subject == f"block {ids['usd']}" and p.field == "remaining" for p in report.problems)
    assert any(p.subject == "unit usd" and p.field == "granted" for p in report.problems)


def test_verify_is_clean_again_once_the_tampering_is_undone(ledger: Ledger) -> None:
    ids = busy(ledger)
    store = repo(ledger)
    original = store._accounts["ada"]
    block = original.blocks[ids["live"]]
    store._accounts["ada"] = attrs.evolve(
        original, blocks={**original.blocks, block.id: attrs.evolve(block, remaining=block.remaining - 1)}
    )
    assert not ledger.verify().ok
    store._accounts["ada"] = original
    assert ledger.verify().ok


@pytest.mark.parametrize("field", ["remaining", "held", "amount"])
def test_verify_detects_a_block_out_of_bounds(ledger: Ledger, field: str) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 2, hold_id="h1", at=T0)
    store = repo(ledger)
    account = store._accounts["ada"]
    (block,) = account.blocks.values()
    bad = {"remaining": 11, "held": 11, "amount": 1}[field]
    store._accounts["ada"] = attrs.evolve(account, blocks={block.id: attrs.evolve(block, **{field: bad})})
    report = ledger.verify()
    assert not report.ok
    assert any(p.subject == f"block {block.id}" and "<=" in p.field for p in report.problems)

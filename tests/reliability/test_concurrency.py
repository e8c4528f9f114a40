"""Several processes, and several threads sharing one ``Ledger``, writing to one SQLite file
(or one PostgreSQL database) at once: nothing is overspent, nothing that was acknowledged is
missing, no busy error or lock conflict escapes.

Each worker runs a seeded mix of burns (refused or partial when credit runs short), holds
followed by a capture of part of them or a release, and top-up grants, over a few customers
that every worker uses, so the writers contend on the same accounts; the customers start
from a known balance that the workers' demand exceeds several times. Every worker tallies
what it saw succeed; ``InsufficientCredits`` is an expected refusal, anything else that
escapes (a ``StorageError`` for a busy database above all) is a failure.

Then the store must agree exactly with the tallies: ``used`` is what the workers saw burned
and captured, ``granted`` the start plus the top-ups they saw, nothing held, never more used
than granted, the balance identity, ``verify()`` clean, ``PRAGMA integrity_check`` ok.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reliability_support import HEAVY, integrity, run_forked

from creditcore import InsufficientCredits, Ledger

CUSTOMERS = ("ada", "bob", "cy", "dee")
START_BALANCE = 300
WORKERS = 8


def work(ledger: Ledger, tag: str, seed: int, operations: int, ready: Callable[[], None]) -> dict[str, Any]:
    """Run ``operations`` random writes; return what succeeded, per customer, and what
    failed in a way it must not."""
    rng = random.Random(seed)
    tally: dict[str, Any] = {
        "used": dict.fromkeys(CUSTOMERS, 0),
        "granted": dict.fromkeys(CUSTOMERS, 0),
        "writes": 0,
        "refused": 0,
        "failures": [],
    }
    ready()
    for number in range(operations):
        customer = rng.choice(CUSTOMERS)
        roll = rng.random()
        try:
            if roll < 0.40:
                tally["used"][customer] += int(ledger.burn(customer, rng.randint(1, 5)).burned)
                tally["writes"] += 1
            elif roll < 0.50:
                tally["used"][customer] += int(ledger.burn(customer, rng.randint(1, 8), overdraft="partial").burned)
                tally["writes"] += 1
            elif roll < 0.88:
                hold_id = f"{tag}-{number}"
                amount = rng.randint(1, 6)
                ledger.hold(customer, amount, hold_id=hold_id)
                tally["writes"] += 1
                if rng.random() < 0.6:
                    tally["used"][customer] += int(ledger.capture(hold_id, rng.randint(0, amount)).captured)
                else:
                    ledger.release(hold_id)
                tally["writes"] += 1
            else:
                amount = rng.randint(1, 10)
                ledger.grant(customer, amount)
                tally["granted"][customer] += amount
                tally["writes"] += 1
        except InsufficientCredits:
            tally["refused"] += 1
        except Exception as error:
            tally["failures"].append(f"{type(error).__name__}: {error}")
    return tally


Opener = Callable[[], Ledger]


def seed_file(path: Path) -> None:
    seed(lambda: Ledger.sqlite(path))


def seed(opener: Opener, start: int = START_BALANCE) -> None:
    ledger = opener()
    try:
        for customer in CUSTOMERS:
            ledger.grant(customer, start)
    finally:
        ledger.close()


def check(path: Path, tallies: list[dict[str, Any]], operations: int) -> None:
    assert integrity(path) == ["ok"]
    check_store(lambda: Ledger.sqlite(path), tallies, operations)


def check_store(opener: Opener, tallies: list[dict[str, Any]], operations: int, start: int = START_BALANCE) -> None:
    failures = [f for tally in tallies for f in tally["failures"]]
    assert failures == [], f"{len(failures)} writes failed, e.g. {failures[:3]}"
    ledger = opener()
    try:
        for customer in CUSTOMERS:
            used = sum(t["used"][customer] for t in tallies)
            granted = start + sum(t["granted"][customer] for t in tallies)
            b = ledger.balance(customer)
            assert b.used == used, f"{customer}: the file says {b.used} used, the workers saw {used}"
            assert b.granted == granted, f"{customer}: the file says {b.granted} granted, the workers saw {granted}"
            assert b.used <= b.granted
            assert b.held == 0 and ledger.holds(customer) == []
            assert b.granted == b.available + b.held + b.used + b.expired + b.voided + b.upcoming
            assert b.available == granted - used
            assert b.debt == 0 and b.expired == 0 and b.voided == 0 and b.upcoming == 0
            assert all(block.remaining >= 0 for block in ledger.blocks(customer, include_inactive=True))
        report = ledger.verify()
        assert report.ok, str(report)
    finally:
        ledger.close()
    refused = sum(t["refused"] for t in tallies)
    writes = sum(t["writes"] for t in tallies)
    # the demand outran the credit: refusals happened, and so did plenty of writes
    assert refused > operations * len(tallies) // 10, refused
    assert writes > operations * len(tallies) // 2, writes
    print(f"{len(tallies)} workers x {operations} operations: {writes} writes, {refused} refused")


# -- processes ---------------------------------------------------------------------------------


def run_processes(path: Path, operations: int) -> list[dict[str, Any]]:
    return run_processes_on(lambda: Ledger.sqlite(path), operations)


def run_processes_on(opener: Opener, operations: int) -> list[dict[str, Any]]:
    """Fork the workers; each opens the store itself, waits for the start signal so that all
    begin together, and reports its tally."""

    def child(number: int, ready: Callable[[], None]) -> dict[str, Any]:
        ledger = opener()
        try:
            return work(ledger, f"p{number}", 1000 + number, operations, ready)
        finally:
            ledger.close()

    return run_forked(WORKERS, child)


def test_8_processes_x_500_operations_on_one_file_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    seed_file(path)
    started = time.monotonic()
    tallies = run_processes(path, 500)
    print(f"processes: {time.monotonic() - started:.1f}s")
    check(path, tallies, 500)


@pytest.mark.skipif(not HEAVY, reason="CREDITCORE_HEAVY=1 runs the heavy variant")
def test_heavy_8_processes_x_5000_operations(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    seed_file(path)
    started = time.monotonic()
    tallies = run_processes(path, 5000)
    print(f"processes: {time.monotonic() - started:.1f}s")
    check(path, tallies, 5000)


# -- threads -----------------------------------------------------------------------------------


def run_threads(path: Path, operations: int) -> list[dict[str, Any]]:
    return run_threads_on(lambda: Ledger.sqlite(path), operations)


def run_threads_on(opener: Opener, operations: int) -> list[dict[str, Any]]:
    """The workers as threads of this process, sharing one ``Ledger`` (one connection per
    thread underneath)."""
    ledger = opener()
    start = threading.Barrier(WORKERS)
    tallies: list[dict[str, Any]] = []
    crashed: list[BaseException] = []

    def run(number: int) -> None:
        try:
            tallies.append(work(ledger, f"t{number}", 2000 + number, operations, start.wait))
        except BaseException as error:
            crashed.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WORKERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        ledger.close()
    assert crashed == []
    assert len(tallies) == WORKERS
    return tallies


def test_8_threads_sharing_one_ledger_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    seed_file(path)
    started = time.monotonic()
    tallies = run_threads(path, 500)
    print(f"threads: {time.monotonic() - started:.1f}s")
    check(path, tallies, 500)


@pytest.mark.skipif(not HEAVY, reason="CREDITCORE_HEAVY=1 runs the heavy variant")
def test_heavy_8_threads_x_5000_operations(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    seed_file(path)
    tallies = run_threads(path, 5000)
    check(path, tallies, 5000)


def test_the_balance_the_workers_start_from(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    seed_file(path)
    ledger = Ledger.sqlite(path)
    try:
        assert {c: ledger.balance(c).available for c in CUSTOMERS} == dict.fromkeys(CUSTOMERS, Decimal(START_BALANCE))
    finally:
        ledger.close()


# -- PostgreSQL --------------------------------------------------------------------------------
#
# The processes run as many operations as on SQLite; the threads fewer (they share one
# interpreter, so they add contention, not coverage).


def test_8_processes_x_500_operations_on_one_postgres_database_never_overspend(postgres_dsn: str) -> None:
    seed(lambda: Ledger.postgres(postgres_dsn), start=300)
    started = time.monotonic()
    tallies = run_processes_on(lambda: Ledger.postgres(postgres_dsn, max_size=2), 500)
    print(f"processes: {time.monotonic() - started:.1f}s")
    check_store(lambda: Ledger.postgres(postgres_dsn), tallies, 500, start=300)


def test_8_threads_sharing_one_postgres_ledger_never_overspend(postgres_dsn: str) -> None:
    seed(lambda: Ledger.postgres(postgres_dsn), start=100)
    started = time.monotonic()
    tallies = run_threads_on(lambda: Ledger.postgres(postgres_dsn, max_size=WORKERS), 150)
    print(f"threads: {time.monotonic() - started:.1f}s")
    check_store(lambda: Ledger.postgres(postgres_dsn), tallies, 150, start=100)

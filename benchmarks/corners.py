"""The corners where a cost grew faster than the data (issue 12), built and measured through
the public API only (``Ledger.memory``, ``Ledger.sqlite``, grant, burn, balance, verify,
timeline), so they measure whatever the core and the schema are at the time.

- **Live blocks**: a customer with N live blocks (one big block, then N - 1 blocks of one
  credit, all the same priority and never expiring), then burns of 1 credit, each
  touching only the first block. A burn's cost should not grow with N beyond a logarithm.
  The blocks are granted one write each, outside the timed part (inside one memory
  ``atomic()`` the undo log would be the thing measured: see :mod:`benchmarks.peak`).
- **Verify and timeline**: a customer with many used-up blocks (each granted 10 credits,
  then burned to nothing by one burn: two entries a block), one ledger per size since
  ``verify()`` checks the whole ledger; the cost of ``verify()`` and of
  ``timeline(customer)`` at each size.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta
from typing import Any

from benchmarks.timing import Subject, say
from benchmarks.workload import START, TICK
from creditcore import Ledger

#: The first block of a live-blocks customer: enough for every burn of a run.
_BIG = 10**9
#: Blocks (a grant and a burn each) per ``atomic()`` batch when building a used-up history.
_BATCH = 500
#: Where the clock of these ledgers stands: after every write of the builds and the runs.
NOW = START + timedelta(days=3650)


def open_ledger(adapter: str, directory: str, name: str) -> Ledger:
    """A new ledger whose clock stands at :data:`NOW`; on SQLite, ``durability="normal"``."""
    if adapter == "memory":
        return Ledger.memory(clock=lambda: NOW)
    path = os.path.join(tempfile.mkdtemp(dir=directory), f"{name}.db")
    return Ledger.sqlite(path, durability="normal", clock=lambda: NOW)


def build_live_blocks(ledger: Ledger, customer: str, count: int) -> datetime:
    """``count`` live blocks for ``customer``, granted one millisecond apart; returns the
    time of the last grant. Burns take the first block (same priority, no expiry: the
    earliest goes first), which holds enough for any run."""
    at = START
    ledger.grant(customer, _BIG, priority=50, expires_at=None, at=at)
    for _ in range(count - 1):
        at += TICK
        ledger.grant(customer, 1, priority=50, expires_at=None, at=at)
    return at


def build_used_up(ledger: Ledger, customer: str, entries: int) -> datetime:
    """``entries // 2`` blocks of 10 credits, each burned to nothing right after its grant,
    :data:`_BATCH` blocks per ``atomic()``; returns the time of the last entry."""
    at = START
    blocks = entries // 2
    for first in range(0, blocks, _BATCH):
        with ledger.atomic():
            for _ in range(min(_BATCH, blocks - first)):
                ledger.grant(customer, 10, expires_at=None, at=at)
                ledger.burn(customer, 10, at=at + TICK)
                at += TICK * 2
    return at - TICK


def live_blocks(sizes: tuple[int, ...], calls: int, repeats: int, directory: str) -> dict[str, Any]:
    """Per adapter, a burn's and a balance's cost at each number of live blocks."""
    out: dict[str, Any] = {}
    for adapter in ("memory", "sqlite"):
        ledger = open_ledger(adapter, directory, "live")
        subjects = []
        for count in sizes:
            started = time.perf_counter()
            last = build_live_blocks(ledger, f"live{count}", count)
            say(f"  {adapter}: built {count:,} live blocks in {time.perf_counter() - started:.1f} s")
            # a balance may still walk every live block (28 ms at 10^4 on SQLite once): fewer calls
            balance_calls = max(2, calls // 20)
            subjects.append((count, Subject(ledger, f"live{count}", last, None, balance_calls)))
        for _ in range(repeats):
            for _count, subject in subjects:
                subject.measure_round(calls)
        rows = [{"live_blocks": count, **subject.best} for count, subject in subjects]
        for row in rows:
            say(
                f"  {adapter} live blocks {row['live_blocks']:>7,}: burn {row['burn'] * 1e6:9.1f} us, "
                f"balance {row['balance'] * 1e6:9.1f} us"
            )
        ledger.close()
        out[adapter] = rows
    return out


def verify_and_timeline(sizes: tuple[int, ...], repeats: int, directory: str) -> dict[str, Any]:
    """Per adapter, what ``verify()`` and ``timeline()`` cost at each number of entries."""
    out: dict[str, Any] = {}
    for adapter in ("memory", "sqlite"):
        built = []
        for size in sizes:
            ledger = open_ledger(adapter, directory, f"used{size}")
            started = time.perf_counter()
            last = build_used_up(ledger, "used", size)
            say(f"  {adapter}: built {size:,} entries ({size // 2:,} used-up blocks) in "
                f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            report = ledger.verify()
            if not report.ok:
                raise AssertionError(f"{adapter}, {size:,} entries: verify() found problems:\n{report}")
            built.append((size, ledger, last + timedelta(seconds=1)))
        best: dict[int, dict[str, float]] = {size: {"verify": float("inf"), "timeline": float("inf")} for size in sizes}
        for _ in range(repeats):
            for size, ledger, until in built:
                started = time.perf_counter()
                ledger.verify()
                best[size]["verify"] = min(best[size]["verify"], time.perf_counter() - started)
                started = time.perf_counter()
                ledger.timeline("used", until=until)
                best[size]["timeline"] = min(best[size]["timeline"], time.perf_counter() - started)
        for _size, ledger, _until in built:
            ledger.close()
        rows = [{"entries": size, **best[size]} for size in sizes]
        for row in rows:
            say(
                f"  {adapter} {row['entries']:>7,} entries: verify {row['verify'] * 1e3:9.2f} ms, "
                f"timeline {row['timeline'] * 1e3:9.2f} ms"
            )
        out[adapter] = rows
    return out

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

And the one where the ledger grew (issue 14): schedules, top-up rules, alerts and the event
outbox (SPEC §17 to §19), built and measured the same way (``schedule_grant``,
``cancel_schedule``, ``set_top_up``, ``add_alert``, ``remove_alert``, ``events``).

- **Grown ledger**: a customer whose outbox holds N events (a burn to zero and a grant back,
  over and over, with a ``depleted`` and a ``recovered`` alert in force: one event a write),
  beside N/10 ended schedules and N/10 alerts added and removed; in force at the end, one
  running schedule, a top-up rule and a ``dropped`` alert, all far from firing. Then burns
  of 1 credit from one big block, which fire nothing (checked: the outbox does not move).
  A write's cost should not grow with N.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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
#: Where the clock of a grown ledger stands: after every write of its builds and runs (an hour
#: of writes at the most), before the first period end of its running schedules, so a balance
#: read "now" has no period of theirs to count.
GROWN_NOW = START + timedelta(days=1)
#: The unit every corner writes in (the ledger's default).
_UNIT = "credits"


def open_ledger(adapter: str, directory: str, name: str, now: datetime = NOW) -> Ledger:
    """A new ledger whose clock stands at ``now``; on SQLite, ``durability="normal"``."""
    if adapter == "memory":
        return Ledger.memory(clock=lambda: now)
    path = os.path.join(tempfile.mkdtemp(dir=directory), f"{name}.db")
    return Ledger.sqlite(path, durability="normal", clock=lambda: now)


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


def count_events(ledger: Ledger, customer: str) -> int:
    """How many events the outbox holds for ``customer``."""
    count, after = 0, None
    while True:
        page = ledger.events(customer=customer, after=after, limit=10_000)
        count += len(page.items)
        if not page.items:
            return count
        after = page.next_cursor


def _batches(ledger: Ledger, count: int, write: Callable[[int], object]) -> None:
    """``write(i)`` for each ``i`` below ``count``, :data:`_BATCH` to an ``atomic()``."""
    for first in range(0, count, _BATCH):
        with ledger.atomic():
            for i in range(first, min(first + _BATCH, count)):
                write(i)


def build_grown(ledger: Ledger, customer: str, events: int) -> datetime:
    """A customer with ``events`` events in the outbox (an even number), ``events // 10`` ended
    schedules (every other one cancelled, the rest past their ``until``) and as many alerts
    added and removed; in force at the end, a running monthly schedule, a top-up rule and a
    ``dropped`` alert, none near firing while one big block (burned first) lasts. Returns the
    time of the last write."""
    churn = max(1, events // 10)

    def schedule(i: int) -> None:
        at = START + TICK * (2 * i)
        if i % 2:
            found = ledger.schedule_grant(customer, 1, every="1 minute", at=at)
            ledger.cancel_schedule(found.schedule.id, at=at + TICK)
        else:
            ledger.schedule_grant(customer, 1, every="1 minute", until=at + timedelta(minutes=1), at=at)

    _batches(ledger, churn, schedule)
    # every schedule's period (and block) has ended before the first alert watches the balance
    alerts_at = START + TICK * (2 * churn) + timedelta(minutes=2)

    def alert(i: int) -> None:
        added = ledger.add_alert(customer, unit=_UNIT, kind="dropped", thresholds=(5,), at=alerts_at + TICK * (2 * i))
        ledger.remove_alert(added.id, at=alerts_at + TICK * (2 * i + 1))

    _batches(ledger, churn, alert)
    at = alerts_at + TICK * (2 * churn)
    ledger.grant(customer, 10, expires_at=None, at=at)
    ledger.add_alert(customer, unit=_UNIT, kind="depleted", at=at + TICK)
    ledger.add_alert(customer, unit=_UNIT, kind="recovered", at=at + TICK * 2)
    steps = at + TICK * 3

    # a burn to zero (depleted), a grant back (recovered): one event each; the last grant is
    # the big block, priority 0 so that every timed burn takes from it
    def step(i: int) -> None:
        at = steps + TICK * (2 * i)
        ledger.burn(customer, 10, at=at)
        last = i == events // 2 - 1
        ledger.grant(customer, _BIG if last else 10, priority=0 if last else 50, expires_at=None, at=at + TICK)

    _batches(ledger, events // 2, step)
    at = steps + TICK * events
    ledger.schedule_grant(customer, 1, every="1 month", at=at)
    ledger.set_top_up(customer, unit=_UNIT, threshold=0, amount=100, at=at + TICK)
    ledger.add_alert(customer, unit=_UNIT, kind="dropped", thresholds=(100, 10), at=at + TICK * 2)
    return at + TICK * 2


def _check_grown(ledger: Ledger, customer: str, events: int) -> None:
    """The build holds what :func:`build_grown` says, or the corner measures something else."""
    found = count_events(ledger, customer)
    if found != events:
        raise AssertionError(f"{customer}: {found:,} events in the outbox, not {events:,}")
    statuses = [schedule.status for schedule in ledger.schedules(customer)]
    churn = max(1, events // 10)
    if statuses.count("ended") != churn or statuses[-1:] != ["active"] or len(statuses) != churn + 1:
        raise AssertionError(f"{customer}: schedules {dict(Counter(statuses))}, not {churn:,} ended and 1 active")
    kinds = sorted(alert.kind for alert in ledger.alerts(customer))
    if kinds != ["depleted", "dropped", "recovered"]:
        raise AssertionError(f"{customer}: alerts in force {kinds}")
    ledger.get_top_up(customer, unit=_UNIT)


def grown_ledger(sizes: tuple[int, ...], calls: int, repeats: int, directory: str) -> dict[str, Any]:
    """Per adapter, a burn's and a balance's cost at each number of events in a customer's
    outbox (with a tenth as many ended schedules and removed alerts)."""
    out: dict[str, Any] = {}
    for adapter in ("memory", "sqlite"):
        ledger = open_ledger(adapter, directory, "grown", now=GROWN_NOW)
        subjects = []
        for events in sizes:
            customer = f"grown{events}"
            started = time.perf_counter()
            last = build_grown(ledger, customer, events)
            _check_grown(ledger, customer, events)
            say(f"  {adapter}: built {events:,} events, {max(1, events // 10):,} ended schedules and removed "
                f"alerts in {time.perf_counter() - started:.1f} s")  # fmt: skip
            subjects.append((events, Subject(ledger, customer, last, None)))
        for _ in range(repeats):
            for _events, subject in subjects:
                subject.measure_round(calls)
        for events, subject in subjects:
            found = count_events(ledger, subject.customer)
            if found != events:
                raise AssertionError(f"{subject.customer}: the timed burns wrote {found - events:,} events")
        if max(subject.next_at for _events, subject in subjects) > GROWN_NOW:
            raise AssertionError("the timed burns ran past the ledger's clock: raise GROWN_NOW")
        rows = [{"events": events, **subject.best} for events, subject in subjects]
        for row in rows:
            say(
                f"  {adapter} events {row['events']:>7,}: burn {row['burn'] * 1e6:9.1f} us, "
                f"balance {row['balance'] * 1e6:9.1f} us"
            )
        ledger.close()
        out[adapter] = rows
    return out

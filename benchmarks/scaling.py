"""Scaling curves: what a burn, a current balance and a past balance cost as one
customer's history grows, and what a burn costs as used-up and expired blocks pile up.

Histories are written straight through the repository port (``UnitOfWork.save``, in chunks,
the way a long run of writes would have left them: entries, blocks, totals, and whatever
the adapter keeps alongside) because building 10^6 entries through the public API would
take most of the time budget. Everything is then measured through the public ``Ledger``
(:class:`benchmarks.timing.Subject`), after checking through it that each built customer has
the balance its history adds up to. This is the one benchmark module that uses the port and
the state classes: when they change, the builds below follow them. The other corners (live
blocks, verify and timeline, :mod:`benchmarks.corners`) are built through the public API only.

:func:`curves` builds and measures the curves on one ledger, whatever its adapter: the
scaling group runs it on memory and SQLite, the PostgreSQL group (:mod:`benchmarks.postgres`)
on PostgreSQL.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from benchmarks.timing import Subject, say
from benchmarks.workload import START, TICK
from creditcore import Ledger
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.repository import ChangeSet, Repository
from creditcore.state import AccountState, BlockState, EntryState, UnitTotals

CHUNK = 1_000
#: How long the big block of a history lasts: long enough for 10^6 entries and the
#: measurements after them.
_BIG = 10**9
#: The ledgers' clock: "now" for the current balance, after every history's last entry.
CLOCK = START + timedelta(days=30)


def _block(customer: str, number: int, amount: int, at: datetime, **fields: Any) -> BlockState:
    return BlockState(
        id=f"{customer}-b{number}",
        customer=customer,
        unit="credits",
        number=number,
        amount=amount,
        remaining=amount,
        priority=fields.pop("priority", 50),
        category="promotional",
        effective_at=at,
        created_at=at,
        **fields,
    )


def _entry(customer: str, op: str, kind: str, block: str, amount: int, available: int, at: datetime) -> EntryState:
    return EntryState(
        op_id=op,
        customer=customer,
        unit="credits",
        kind=kind,  # type: ignore[arg-type]
        block_id=block,
        amount=amount,
        available_after=available,
        at=at,
    )


def _save(repository: Repository, before: AccountState, after: AccountState, entries: list[EntryState]) -> None:
    with repository.transaction() as uow:
        uow.lock(before.customer)
        uow.save(ChangeSet.of(before, after, entries))


def build_history(repository: Repository, customer: str, size: int) -> tuple[datetime, datetime]:
    """A customer with ``size`` entries: one big grant, then burns of 1 credit from it, one
    millisecond apart, written ``CHUNK`` entries per save. Returns the time to read a past
    balance at (a little after the middle) and the time of the last entry."""
    big = _block(customer, 1, _BIG, START, priority=0)
    state = AccountState(customer=customer)
    at = START
    first = _entry(customer, f"{customer}-op0", "grant", big.id, _BIG, _BIG, at)
    after = attrs.evolve(
        state,
        blocks={big.id: big},
        totals={"credits": UnitTotals(granted=_BIG)},
        last_at=at,
        next_number=2,
    )
    _save(repository, state, after, [first])
    state = after
    remaining = _BIG
    written = 1
    middle = at
    # the past balance is read a little after the middle of the history, off the chunk
    # boundaries (where snapshots fall), so that it has entries to replay
    past = min(size - 1, size // 2 + CHUNK // 3)
    while written < size:
        count = min(CHUNK, size - written)
        entries = []
        for i in range(written, written + count):
            at = START + TICK * i
            remaining -= 1
            entries.append(_entry(customer, f"{customer}-op{i}", "burn", big.id, 1, remaining, at))
            if i == past:
                middle = at
        block = attrs.evolve(
            state.blocks[big.id], remaining=remaining, used=_BIG - remaining, first_used_at=START + TICK
        )
        totals = UnitTotals(granted=_BIG, used=_BIG - remaining)
        after = attrs.evolve(state, blocks={big.id: block}, totals={"credits": totals}, last_at=at)
        _save(repository, state, after, entries)
        state = after
        written += count
    return middle, at


def build_dead_blocks(repository: Repository, customer: str, dead: int) -> datetime:
    """A customer with ``dead`` blocks that hold nothing any more (half used up, half
    expired) and one live block. Returns the time of the last entry."""
    state = AccountState(customer=customer)
    at = START
    granted = used = expired = 0
    for first in range(1, dead + 1, CHUNK // 2):
        blocks = dict(state.blocks)
        entries = []
        for number in range(first, min(first + CHUNK // 2, dead + 1)):
            at = START + TICK * 2 * number
            used_up = number % 2 == 0
            block = _block(
                customer,
                number,
                10,
                at,
                expires_at=None if used_up else at + TICK,
                emptied_by="depleted" if used_up else "expired",
            )
            entries.append(_entry(customer, f"{customer}-g{number}", "grant", block.id, 10, 10, at))
            if used_up:
                entries.append(_entry(customer, f"{customer}-u{number}", "burn", block.id, 10, 0, at))
                used += 10
            else:
                entries.append(_entry(customer, f"{customer}-x{number}", "expire", block.id, 10, 0, at + TICK))
                expired += 10
            granted += 10
            blocks[block.id] = (
                attrs.evolve(block, remaining=0, used=10, first_used_at=at)
                if used_up
                else attrs.evolve(block, remaining=0)
            )
        totals = UnitTotals(granted=granted, used=used, expired=expired)
        after = attrs.evolve(state, blocks=blocks, totals={"credits": totals}, last_at=at + TICK, next_number=dead + 1)
        _save(repository, state, after, entries)
        # the next chunk starts from the account as a load would give it: live blocks only
        state = attrs.evolve(after, blocks={k: b for k, b in after.blocks.items() if b.remaining})
    number = dead + 1
    at += TICK * 2
    live = _block(customer, number, _BIG, at, priority=0)
    granted += _BIG
    totals = UnitTotals(granted=granted, used=used, expired=expired)
    after = attrs.evolve(state, blocks={live.id: live}, totals={"credits": totals}, last_at=at, next_number=number + 1)
    _save(repository, state, after, [_entry(customer, f"{customer}-live", "grant", live.id, _BIG, _BIG, at)])
    return at


def settle(repository: Repository) -> None:
    """Let the bulk build finish its work before anything is timed: a full collection of
    the objects it left behind and, on SQLite, a checkpoint of the write-ahead log it filled
    (a running ledger checkpoints as it goes; a bulk build would otherwise leave that to the
    first measured writes)."""
    gc.collect()
    if isinstance(repository, SQLiteRepository):
        repository.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _check(ledger: Ledger, customer: str, at: datetime | None, available: int, **totals: int) -> None:
    """The customer's balance (at ``at``, or now) read through the ledger is what was built,
    or the build is wrong and the curve says so instead of timing it."""
    balance = ledger.balance(customer, at=at)
    found = {"available": balance.available, **{name: getattr(balance, name) for name in totals}}
    wanted = {"available": available, **totals}
    if found != wanted:
        when = "now" if at is None else f"at {at.isoformat()}"
        raise RuntimeError(f"the built customer {customer} has {found} {when}, not {wanted}: the build is wrong")


def check_history(ledger: Ledger, customer: str, size: int, middle: datetime) -> None:
    """A history of :func:`build_history` reads as one grant of ``_BIG`` and ``size - 1``
    burns of 1, and as the burns up to ``middle`` at ``middle`` (read from the entries after
    the last snapshot before it)."""
    _check(ledger, customer, None, _BIG - (size - 1), granted=_BIG, used=size - 1)
    burned = (middle - START) // TICK
    _check(ledger, customer, middle, _BIG - burned, granted=_BIG, used=burned)


def check_dead_blocks(ledger: Ledger, customer: str, dead: int) -> None:
    """A customer of :func:`build_dead_blocks` has only its live block's credit left."""
    used = 10 * (dead // 2)
    _check(ledger, customer, None, _BIG, granted=_BIG + 10 * dead, used=used, expired=10 * dead - used)


def curves(
    ledger: Ledger,
    history: Iterable[int],
    dead: Iterable[int],
    calls: int,
    repeats: int,
    settle: Callable[[], None],
) -> dict[str, list[dict[str, Any]]]:
    """The history and dead-block curves on ``ledger`` (its clock at :data:`CLOCK`): a
    customer of each size built through its repository and checked, then ``settle()``, then
    ``repeats`` rounds of :meth:`Subject.measure_round` over every customer, the best of each
    figure kept."""
    repository = ledger.repository
    histories: list[tuple[int, Subject]] = []
    for size in history:
        started = time.perf_counter()
        middle, last = build_history(repository, f"h{size}", size)
        check_history(ledger, f"h{size}", size, middle)
        histories.append((size, Subject(ledger, f"h{size}", last, middle)))
        say(f"  built a history of {size:,} entries in {time.perf_counter() - started:.1f} s")
    deads: list[tuple[int, Subject]] = []
    for size in dead:
        last = build_dead_blocks(repository, f"d{size}", size)
        check_dead_blocks(ledger, f"d{size}", size)
        deads.append((size, Subject(ledger, f"d{size}", last, None)))
    settle()
    for _ in range(repeats):
        for _size, subject in [*histories, *deads]:
            subject.measure_round(calls)
    for size, subject in histories:
        f = subject.best
        say(
            f"  history {size:>9,}: burn {f['burn'] * 1e6:8.1f} us, balance {f['balance'] * 1e6:8.1f} us, "
            f"past balance {f['past_balance'] * 1e6:10.1f} us"
        )
    for size, subject in deads:
        f = subject.best
        say(f"  dead blocks {size:>7,}: burn {f['burn'] * 1e6:8.1f} us, balance {f['balance'] * 1e6:8.1f} us")
    return {
        "history": [{"entries": size, **subject.best} for size, subject in histories],
        "dead_blocks": [{"dead_blocks": size, **subject.best} for size, subject in deads],
    }

"""Scaling curves: what a burn, a current balance and a past balance cost as one
customer's history grows, and what a burn costs as used-up and expired blocks pile up.

Histories are written straight through the repository port (``UnitOfWork.save``, in chunks,
the way a long run of writes would have left them: entries, blocks, totals, and whatever
the adapter keeps alongside) because building 10^6 entries through the public API would
take most of the time budget. Everything is then measured through the public ``Ledger``
(:class:`benchmarks.timing.Subject`). This is the one benchmark module that uses the port
and the state classes: when they change, the builds below follow them. The other corners
(live blocks, verify and timeline, :mod:`benchmarks.corners`) are built through the public
API only.
"""

from __future__ import annotations

import gc
from datetime import datetime
from typing import Any

import attrs

from benchmarks.workload import START, TICK
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.repository import ChangeSet, Repository
from creditcore.state import AccountState, BlockState, EntryState, UnitTotals

CHUNK = 1_000
#: How long the big block of a history lasts: long enough for 10^6 entries and the
#: measurements after them.
_BIG = 10**9


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
        block = attrs.evolve(state.blocks[big.id], remaining=remaining)
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
            blocks[block.id] = attrs.evolve(block, remaining=0)
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

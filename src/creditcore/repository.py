"""The storage port: what a :class:`~creditcore.ledger.Ledger` needs from an adapter.

An adapter stores and loads what the rules decide; it never decides anything itself. A
write goes through a unit of work: the ledger opens a transaction, loads one customer's
state, runs a pure rule, saves the new state and its entries, and the transaction commits
as a whole or not at all.

Any object with these methods is a repository; ``creditcore.testing`` holds the contract
suite that proves one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from creditcore.model import Result
from creditcore.state import AccountState, BlockState, EntryState, HoldState


@attrs.frozen(kw_only=True)
class OperationRecord:
    """What a ledger remembers about a write made with a key, to replay it.

    ``namespace`` keeps the kinds of key apart: ``"key"`` for ``idempotency_key``, ``"hold"``
    for hold ids, ``"end"`` for the capture or release that ended a hold.
    """

    namespace: str
    key: str
    kind: str
    """The operation: ``grant``, ``burn``, ``hold``, ``capture``, ``release``, ..."""
    fingerprint: tuple[tuple[str, str], ...]
    """The call's arguments in a canonical text form, compared field by field on replay."""
    op_id: str
    customer: str
    result: Result


@attrs.frozen(kw_only=True)
class EntryQuery:
    """A filter over the entries, oldest first. ``None`` matches everything."""

    customer: str | None = None
    unit: str | None = None
    kinds: frozenset[str] | None = None
    block_id: str | None = None
    op_id: str | None = None
    ref: str | None = None
    """Only ``reverse`` entries of the reversals of this op."""
    since: datetime | None = None
    """Entries at or after this time."""
    until: datetime | None = None
    """Entries before this time."""
    after_seq: int = 0
    limit: int = 100


@attrs.frozen(kw_only=True)
class PastHistory:
    """What a replay needs to rebuild a customer's state as it was at some past time,
    starting from a snapshot instead of the first entry (see :class:`PastReader`)."""

    start: AccountState | None
    """The customer's state right after some entry dated at or before that time (its blocks
    with credit left and its active holds, as the write that made the entry saved them), or
    ``None`` to start from nothing."""
    blocks: list[BlockState]
    """The latest stored form of every block the entries name that ``start`` does not hold."""
    holds: list[HoldState]
    """The latest stored form of every hold in ``start`` or named by the entries."""
    entries: list[EntryState]
    """The entries after ``start`` that a replay up to that time needs, in ``seq`` order."""


class Reader(Protocol):
    """Reads, consistent with each other for the life of the reader."""

    def units(self) -> dict[str, int]:
        """Every declared unit and its scale."""
        ...

    def load_account(self, customer: str) -> AccountState:
        """The customer's current state: blocks with credit left, active holds, totals, last
        entry time. A customer never written is an empty state."""
        ...

    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        """Every block and hold of the customer in its latest form, and every entry."""
        ...

    def find_block(self, block_id: str) -> BlockState | None: ...

    def find_hold(self, hold_id: str) -> HoldState | None: ...

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None: ...

    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        """Entries matching ``query`` with ``seq > query.after_seq``, oldest first, at most
        ``query.limit`` of them."""
        ...

    def customers(self) -> list[str]:
        """Every customer with at least one entry, in first-write order."""
        ...

    def operations(self) -> list[OperationRecord]:
        """Every remembered keyed write (for ``verify()``), in an order that does not change."""
        ...


@runtime_checkable
class PastReader(Reader, Protocol):
    """A reader that keeps snapshots of account state, so that a past balance replays only
    the entries since the nearest snapshot, not the whole history. Optional: the ledger
    replays everything (``history()``) on a reader without ``past_history``.

    A snapshot is a cache. An adapter takes one after a write when enough entries have
    piled up since the last one, dated by the customer's last entry, and keeps this promise:
    every entry after a snapshot is dated at or after it. A customer's history only moves
    forward, so that holds by itself; should a write still append an entry dated earlier, the
    adapter drops every snapshot of that customer dated after the entry.
    """

    def past_history(self, customer: str, until: datetime) -> PastHistory:
        """The newest snapshot dated at or before ``until`` and the entries after it dated at
        or before ``until``, up to the first snapshot dated after ``until`` (no entry after
        that one can be dated before it)."""
        ...


class UnitOfWork(Reader, Protocol):
    """A write transaction. Its changes are seen by its own reads, by no one else's until
    the transaction ends, and are all kept or all dropped."""

    def add_unit(self, name: str, scale: int) -> None: ...

    def save(self, before: AccountState, after: AccountState, entries: Sequence[EntryState]) -> list[EntryState]:
        """Store ``after`` (which a rule derived from ``before``) and append ``entries``;
        returns the entries with their ``seq`` assigned."""
        ...

    def record_operation(self, record: OperationRecord) -> None: ...


class Repository(Protocol):
    """A store for one ledger."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that commits when the block exits normally and rolls back when it
        raises. Writers are serialised: a second transaction waits for the first (up to a
        timeout, then :class:`~creditcore.errors.StorageError`); one opened in a thread that
        already has a transaction open raises ``StorageError`` at once, since it could never
        get its turn."""
        ...

    def reader(self) -> AbstractContextManager[Reader]:
        """A consistent read-only view of the last committed state. It never shows what an
        open transaction wrote, in this thread or another, and should not wait for one
        (SQLite's WAL readers, the memory adapter's overlay); a reader refuses writes."""
        ...

    def close(self) -> None: ...


def iterate_entries(reader: Reader, query: EntryQuery) -> Iterator[EntryState]:
    """Every entry matching ``query``, page by page."""
    after = query.after_seq
    while True:
        page = reader.list_entries(attrs.evolve(query, after_seq=after))
        yield from page
        if len(page) < query.limit:
            return
        after = page[-1].seq

"""The in-memory adapter: a real, thread-safe repository that lives as long as the process.

Writers are serialised by one re-entrant lock held for the whole transaction; a write
changes the store in place and keeps an undo log, so a transaction that fails is rolled back
to exactly what was there before.

Every ``snapshot_every`` entries of a customer (or more, for an account with more live
blocks and holds than that), a write also keeps the account state it saved as a snapshot,
so that a past balance replays only the entries since the nearest one (see
:class:`~creditcore.repository.PastReader`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from creditcore.errors import ValidationError
from creditcore.repository import EntryQuery, OperationRecord, PastHistory
from creditcore.state import AccountState, BlockState, EntryState, HoldState

_MISSING = object()
# What undoes one change: a list to pop the last item from, or (table, key, the value it had
# or _MISSING) to put back.
_Undo = list[Any] | tuple[dict[Any, Any], Any, Any]
#: Entries of a customer between two snapshots of its account state.
SNAPSHOT_EVERY = 1_000
# (dated, after entry seq, the customer's entry count then, the state)
_Snapshot = tuple[datetime, int, int, AccountState]


class MemoryRepository:
    """Keeps a ledger in dictionaries. Safe to share between threads.

    >>> from creditcore import Ledger
    >>> ledger = Ledger(MemoryRepository())
    """

    def __init__(self, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise ValidationError("snapshot_every", f"expected a whole number of entries >= 1, got {snapshot_every!r}")
        self._snapshot_every = snapshot_every
        self._snapshots: dict[str, list[_Snapshot]] = {}
        self._lock = threading.RLock()
        self._units: dict[str, int] = {}
        # customer -> state with only the blocks that hold credit and the active holds, so a
        # load costs the same however long the customer's history is
        self._accounts: dict[str, AccountState] = {}
        self._blocks: dict[str, BlockState] = {}
        self._holds: dict[str, HoldState] = {}
        self._entries: list[EntryState] = []
        self._customer_blocks: dict[str, list[str]] = {}
        self._customer_holds: dict[str, list[str]] = {}
        self._customer_entries: dict[str, list[int]] = {}
        self._op_entries: dict[str, list[int]] = {}
        self._block_entries: dict[str, list[int]] = {}
        self._operations: dict[tuple[str, str], OperationRecord] = {}
        self._undo: list[_Undo] | None = None

    # -- the port ------------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    @contextmanager
    def reader(self) -> Iterator[MemoryRepository]:
        with self._lock:
            yield self

    def close(self) -> None:
        """Nothing to release."""

    # -- reads ---------------------------------------------------------------------------

    def units(self) -> dict[str, int]:
        return dict(self._units)

    def load_account(self, customer: str) -> AccountState:
        return self._accounts.get(customer) or AccountState(customer=customer)

    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        return (
            [self._blocks[i] for i in self._customer_blocks.get(customer, ())],
            [self._holds[i] for i in self._customer_holds.get(customer, ())],
            [self._entries[i] for i in self._customer_entries.get(customer, ())],
        )

    def past_history(self, customer: str, until: datetime) -> PastHistory:
        snapshots = self._snapshots.get(customer, [])
        index = bisect.bisect_right(snapshots, until, key=lambda snapshot: snapshot[0]) - 1
        start = snapshots[index][3] if index >= 0 else None
        after = snapshots[index][1] if index >= 0 else 0
        # no entry after the next snapshot is dated before it, so none is needed
        last = snapshots[index + 1][1] if index + 1 < len(snapshots) else None
        positions = self._customer_entries.get(customer, [])
        entries = []
        # positions are seq - 1: from the first after the snapshot up to the next snapshot
        for index in range(bisect.bisect_left(positions, after), len(positions)):
            position = positions[index]
            if last is not None and position >= last:
                break
            entry = self._entries[position]
            if entry.at <= until:
                entries.append(entry)
        held = start.blocks if start is not None else {}
        block_ids = {e.block_id for e in entries if e.block_id is not None and e.block_id not in held}
        hold_ids = {e.hold_id for e in entries if e.hold_id is not None}
        if start is not None:
            hold_ids.update(start.holds)
        return PastHistory(
            start=start,
            blocks=[self._blocks[i] for i in sorted(block_ids)],
            holds=[self._holds[i] for i in sorted(hold_ids)],
            entries=entries,
        )

    def find_block(self, block_id: str) -> BlockState | None:
        return self._blocks.get(block_id)

    def find_hold(self, hold_id: str) -> HoldState | None:
        return self._holds.get(hold_id)

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        return self._operations.get((namespace, key))

    def customers(self) -> list[str]:
        return list(self._customer_entries)

    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        # pick the narrowest index, then filter; positions are seq - 1
        if query.op_id is not None:
            positions: Sequence[int] = self._op_entries.get(query.op_id, [])
        elif query.block_id is not None:
            positions = self._block_entries.get(query.block_id, [])
        elif query.customer is not None:
            positions = self._customer_entries.get(query.customer, [])
        else:
            positions = range(len(self._entries))
        start = bisect.bisect_right(positions, query.after_seq - 1)
        found: list[EntryState] = []
        for position in positions[start:]:
            entry = self._entries[position]
            if (
                (query.customer is None or entry.customer == query.customer)
                and (query.unit is None or entry.unit == query.unit)
                and (query.kinds is None or entry.kind in query.kinds)
                and (query.block_id is None or entry.block_id == query.block_id)
                and (query.ref is None or entry.ref == query.ref)
                and (query.since is None or entry.at >= query.since)
                and (query.until is None or entry.at < query.until)
            ):
                found.append(entry)
                if len(found) == query.limit:
                    break
        return found

    # -- writes --------------------------------------------------------------------------

    def _log(self) -> list[_Undo]:
        if self._undo is None:
            raise RuntimeError("writes need a transaction: use `with repository.transaction()`")
        return self._undo

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        log = self._log()
        log.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def _append(self, table: dict[str, list[Any]], key: str, value: Any) -> None:
        log = self._log()
        items = table.get(key)
        if items is None:
            items = table[key] = []
            log.append((table, key, _MISSING))
        items.append(value)
        log.append(items)

    def _roll_back(self, log: list[_Undo]) -> None:
        for undo in reversed(log):
            if isinstance(undo, list):
                undo.pop()  # an append
            else:
                table, key, old = undo
                if old is _MISSING:
                    table.pop(key)
                else:
                    table[key] = old

    def add_unit(self, name: str, scale: int) -> None:
        self._put(self._units, name, scale)

    def save(self, before: AccountState, after: AccountState, entries: Sequence[EntryState]) -> list[EntryState]:
        customer = after.customer
        for block in after.blocks.values():
            if before.blocks.get(block.id) is not block:
                if block.id not in self._blocks:
                    self._append(self._customer_blocks, customer, block.id)
                self._put(self._blocks, block.id, block)
        for found in after.holds.values():
            if before.holds.get(found.id) is not found:
                if found.id not in self._holds:
                    self._append(self._customer_holds, customer, found.id)
                self._put(self._holds, found.id, found)
        # keep only what a later write can touch
        live = after.live()
        self._put(self._accounts, customer, live)
        stored: list[EntryState] = []
        log = self._log()
        for entry in entries:
            position = len(self._entries)
            saved = entry.numbered(position + 1)
            self._entries.append(saved)
            log.append(self._entries)
            self._append(self._customer_entries, entry.customer, position)
            self._append(self._op_entries, entry.op_id, position)
            if entry.block_id is not None:
                self._append(self._block_entries, entry.block_id, position)
            stored.append(saved)
        if stored:
            self._keep_snapshots(customer, stored, live)
        return stored

    def _keep_snapshots(self, customer: str, stored: list[EntryState], live: AccountState) -> None:
        """Drop the snapshots these entries are dated before; take one when enough entries
        have piled up since the last."""
        snapshots = self._snapshots.get(customer, [])
        earliest = min(e.at for e in stored) if snapshots else None
        if earliest is not None and earliest < snapshots[-1][0]:
            snapshots = [s for s in snapshots if s[0] <= earliest]
            self._put(self._snapshots, customer, snapshots)
        count = len(self._customer_entries.get(customer, ()))
        since = count - (snapshots[-1][2] if snapshots else 0)
        if live.last_at is not None and since >= max(self._snapshot_every, len(live.blocks) + len(live.holds)):
            self._append(self._snapshots, customer, (live.last_at, stored[-1].seq, count, live))

    def record_operation(self, record: OperationRecord) -> None:
        self._put(self._operations, (record.namespace, record.key), record)



class _Transaction:
    """The unit of work of a :class:`MemoryRepository`: holds the lock, keeps the undo log,
    and rolls the store back if the block raises."""

    __slots__ = ("_repository",)

    def __init__(self, repository: MemoryRepository) -> None:
        self._repository = repository

    def __enter__(self) -> MemoryRepository:
        repository = self._repository
        repository._lock.acquire()
        if repository._undo is not None:
            repository._lock.release()
            raise RuntimeError("a transaction is already open on this repository")
        repository._undo = []
        return repository

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        repository = self._repository
        try:
            if error is not None and repository._undo is not None:
                repository._roll_back(repository._undo)
        finally:
            repository._undo = None
            repository._lock.release()

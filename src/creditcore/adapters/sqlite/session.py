"""One transaction's reads and writes on one SQLite connection (a Reader and a UnitOfWork).

The rows, statements and snapshots are the shared SQL layer's; what is SQLite's own here is
the write path's cache and how a write is numbered: the write lock is held (``BEGIN
IMMEDIATE``) for the whole transaction, so the next ``seq`` is ``MAX(seq) + 1``, and a
connection keeps what it last loaded or saved until another connection commits.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from creditcore.adapters.sql import codec
from creditcore.adapters.sql.dialect import SQLITE
from creditcore.adapters.sql.snapshots import keep_snapshots, past_history
from creditcore.adapters.sql.statements import Statements
from creditcore.errors import CreditError, StorageError
from creditcore.repository import SNAPSHOT_EVERY, ChangeSet, EntryQuery, OperationRecord, PastHistory
from creditcore.state import AccountState, BlockState, EntryState, HoldState

from .errors import TRANSLATED, storage_error

#: The statements of the shared layer, in SQLite's dialect.
SQL = Statements(SQLITE)

# How many decoded blocks (and holds) a connection keeps to skip decoding unchanged rows.
_DECODED_CACHE = 20_000
# How many accounts a connection keeps for its write transactions (see begin_write).
_ACCOUNTS_KEPT = 20_000

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _storage(
    action: str, *, write: bool = False
) -> Callable[[Callable[Concatenate[Session, _P], _T]], Callable[Concatenate[Session, _P], _T]]:
    """Run a session method inside its transaction and translate what goes wrong; a
    ``write`` runs only in a write transaction (never through a reader)."""

    def wrap(method: Callable[Concatenate[Session, _P], _T]) -> Callable[Concatenate[Session, _P], _T]:
        def run(self: Session, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            if not self.conn.in_transaction:
                # SQLite ends a transaction on its own after some errors (a full disk, I/O):
                # what follows must not run, let alone commit statement by statement
                raise StorageError(
                    f"SQLite could not {action} ({self.where}): the transaction is no longer open "
                    "(SQLite rolled it back after an earlier error, or it has ended); nothing was written"
                )
            if write and not self.writing:
                raise StorageError(
                    f"SQLite could not {action} ({self.where}): this is a reader, which only reads; "
                    "nothing was written: write through SQLiteRepository.transaction()"
                )
            try:
                return method(self, *args, **kwargs)
            except CreditError:
                raise  # already the library's own
            except TRANSLATED as error:
                raise storage_error(action, self.where, error) from error

        functools.update_wrapper(run, method)
        return run

    return wrap


class Session:
    """The reads and writes of one transaction on one connection (a Reader and a UnitOfWork)."""

    def __init__(self, conn: sqlite3.Connection, where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.conn = conn
        self.where = where
        self.snapshot_every = snapshot_every
        self.writing = False
        self.accounts: dict[str, AccountState] = {}
        """Inside write transactions: each customer's state as this connection last loaded
        or saved it (see :meth:`begin_write`)."""
        self.data_version: int | None = None
        self.last_seq: int | None = None
        """The last entry seq this connection wrote, while no other connection has committed
        since (see :meth:`begin_write`)."""
        self.since_snapshot: dict[str, int] = {}
        """Per customer, entries written since its last snapshot, as this connection counts
        them (a hint: a wrong count only takes a snapshot early or late)."""
        self.wrote = False
        self.witness: tuple[str, tuple[object, ...]] | None = None
        """A query that finds a row only if this transaction's first write was committed:
        how a COMMIT that reports an error is told apart from one that took effect."""
        # Decoded rows, by id: a row read back exactly as it was last seen gives back the same
        # (immutable) object instead of being decoded again. Only a byte-identical row is
        # reused, so what other connections write is always seen.
        self._blocks: dict[str, tuple[tuple[Any, ...], BlockState]] = {}
        self._holds: dict[str, tuple[tuple[Any, ...], HoldState]] = {}

    # -- the write path's own cache ------------------------------------------------------------
    #
    # A write transaction loads the account it changes. The connection keeps each account's
    # state as it last loaded or saved it, and inside a write transaction a load returns that
    # state without asking SQLite, as long as no other connection has committed since: PRAGMA
    # data_version changes exactly when another connection (of this process or another)
    # commits to the file, and the check runs after BEGIN IMMEDIATE, when the write lock is
    # held. A write transaction that does not commit drops everything kept. Reads always ask
    # SQLite.

    def begin_write(self) -> None:
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if version != self.data_version:
            self.accounts.clear()
            self.last_seq = None
            self.data_version = version
        self.writing = True

    def end_write(self, *, kept: bool) -> None:
        """After a write transaction: what it did not commit (whatever step failed) leaves
        nothing behind in the session."""
        self.writing = False
        if not kept:
            self.accounts.clear()
            self.last_seq = None
            self.since_snapshot.clear()

    def _remember_account(self, state: AccountState) -> None:
        """Keep the state as a load would give it back: blocks with credit left, active holds."""
        if len(self.accounts) >= _ACCOUNTS_KEPT:
            self.accounts.clear()
        self.accounts[state.customer] = state.live()

    def _block(self, row: tuple[Any, ...]) -> BlockState:
        seen = self._blocks.get(row[0])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_block(row, codec.block(row))

    def _remember_block(self, row: tuple[Any, ...], block: BlockState) -> BlockState:
        if len(self._blocks) >= _DECODED_CACHE:
            self._blocks.clear()
        self._blocks[block.id] = (row, block)
        return block

    def _hold(self, row: tuple[Any, ...]) -> HoldState:
        seen = self._holds.get(row[0])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_hold(row, codec.hold(row))

    def _remember_hold(self, row: tuple[Any, ...], found: HoldState) -> HoldState:
        if len(self._holds) >= _DECODED_CACHE:
            self._holds.clear()
        self._holds[found.id] = (row, found)
        return found

    def _wrote(self, query: str, params: tuple[object, ...]) -> None:
        self.wrote = True
        if self.witness is None:
            self.witness = (query, params)

    # -- reads ---------------------------------------------------------------------------------

    @_storage("read the units")
    def units(self) -> dict[str, int]:
        return dict(self.conn.execute(SQL.units).fetchall())

    @_storage("load an account")
    def load_account(self, customer: str) -> AccountState:
        if self.writing:
            known = self.accounts.get(customer)
            if known is not None:
                return known
        conn = self.conn
        row = conn.execute(SQL.account, (customer,)).fetchone()
        if row is None:
            return AccountState(customer=customer)
        blocks = conn.execute(SQL.live_blocks, (customer,))
        holds = conn.execute(SQL.active_holds, (customer,))
        state = codec.account(
            customer,
            row,
            {b.id: b for b in map(self._block, blocks)},
            {h.id: h for h in map(self._hold, holds)},
        )
        if self.writing:
            self._remember_account(state)
        return state

    @_storage("lock a customer", write=True)
    def lock(self, customer: str) -> AccountState:
        # BEGIN IMMEDIATE already holds the whole file's write lock: loading is locking
        return self.load_account(customer)

    @_storage("read a customer's blocks")
    def blocks(self, customer: str) -> list[BlockState]:
        return [self._block(r) for r in self.conn.execute(SQL.customer_blocks, (customer,))]

    @_storage("read a customer's holds")
    def holds(self, customer: str) -> list[HoldState]:
        return [self._hold(r) for r in self.conn.execute(SQL.customer_holds, (customer,))]

    @_storage("read a customer's history")
    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        conn = self.conn
        return (
            [self._block(r) for r in conn.execute(SQL.customer_blocks, (customer,))],
            [self._hold(r) for r in conn.execute(SQL.customer_holds, (customer,))],
            [codec.entry(r) for r in conn.execute(SQL.customer_entries, (customer,))],
        )

    @_storage("find a block")
    def find_block(self, block_id: str) -> BlockState | None:
        row = self.conn.execute(SQL.block_by_id, (block_id,)).fetchone()
        return None if row is None else self._block(row)

    @_storage("find a hold")
    def find_hold(self, hold_id: str) -> HoldState | None:
        row = self.conn.execute(SQL.hold_by_id, (hold_id,)).fetchone()
        return None if row is None else self._hold(row)

    @_storage("find an idempotency key")
    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        row = self.conn.execute(SQL.operation_by_key, (namespace, key)).fetchone()
        return None if row is None else codec.operation(row)

    @_storage("list the remembered operations")
    def operations(self) -> list[OperationRecord]:
        return [codec.operation(row) for row in self.conn.execute(SQL.all_operations)]

    @_storage("list entries")
    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        filters = [
            (column, value)
            for column, value in (
                ("customer", query.customer),
                ("unit", query.unit),
                ("block_id", query.block_id),
                ("op_id", query.op_id),
                ("ref", query.ref),
            )
            if value is not None
        ]
        found = SQL.list_entries(
            after_seq=query.after_seq,
            limit=query.limit,
            filters=filters,
            kinds=None if query.kinds is None else sorted(query.kinds),
            since=None if query.since is None else codec.micros(query.since),
            until=None if query.until is None else codec.micros(query.until),
        )
        if found is None:
            return []
        sql, params = found
        return [codec.entry(r) for r in self.conn.execute(sql, params)]

    @_storage("list the customers")
    def customers(self) -> list[str]:
        return [customer for (customer,) in self.conn.execute(SQL.customers)]

    @_storage("read a customer's past")
    def past_history(self, customer: str, until: datetime) -> PastHistory:
        return past_history(self.conn, SQL, customer, until, self._block, self._hold)

    # -- writes --------------------------------------------------------------------------------

    @_storage("declare a unit", write=True)
    def add_unit(self, name: str, scale: int) -> None:
        self.conn.execute(SQL.upsert_unit, (name, scale))
        self._wrote(SQL.unit_witness, (name, scale))

    @_storage("save an account", write=True)
    def save(self, changes: ChangeSet) -> list[EntryState]:
        conn = self.conn
        customer = changes.customer
        entries = changes.entries
        after = changes.account
        # the account as this transaction loaded it (lock() keeps it): what a block had before
        before = self.accounts.get(customer) or AccountState(customer=customer)
        stored: list[EntryState] = []
        first: dict[str, int] = {}
        if entries:
            # the write lock is held (BEGIN IMMEDIATE), so the next rowids are ours
            last = self.last_seq
            if last is None:
                (last,) = conn.execute(SQL.last_seq).fetchone()
            for number, entry in enumerate(entries, start=last + 1):
                stored.append(entry.numbered(number))
                first.setdefault(entry.customer, number)
            self.last_seq = stored[-1].seq
        account = codec.account_row(after, first.get(customer))
        # an account with a last entry has its row: an UPDATE (an upsert costs more), unless
        # the row is not there after all
        if before.last_at is None or conn.execute(SQL.update_account, (*account[1:], customer)).rowcount != 1:
            conn.execute(SQL.upsert_account, account)
        for other, seq in first.items():
            if other != customer:
                conn.execute(SQL.update_first_seq, (seq, other))
        if changes.blocks:
            self._save_blocks(before, list(changes.blocks))
        changed_holds = changes.holds
        if changed_holds:
            rows = [codec.hold_row(h) for h in changed_holds]
            if len(rows) == 1:  # execute costs less than executemany over one row
                conn.execute(SQL.upsert_hold, rows[0])
            else:
                conn.executemany(SQL.upsert_hold, rows)
            for row, found in zip(rows, changed_holds, strict=True):
                self._remember_hold(row, found)
        if stored:
            if len(stored) == 1:
                conn.execute(SQL.insert_entry, codec.entry_row(stored[0]))
            else:
                conn.executemany(SQL.insert_entry, map(codec.entry_row, stored))
            self._wrote(SQL.entry_witness, (stored[0].seq, stored[0].op_id))
            keep_snapshots(conn, SQL, self.since_snapshot, self.snapshot_every, before, after, stored)
        else:
            self.wrote = True
        if self.writing:
            self._remember_account(after)
        return stored

    def _save_blocks(self, before: AccountState, changed: list[BlockState]) -> None:
        """A block the account had before whose figures alone moved is an UPDATE of those
        columns (its indexed columns stay put); any other is written whole."""
        figures: list[tuple[object, ...]] = []
        whole: list[BlockState] = []
        for block in changed:
            old = before.blocks.get(block.id)
            if old is not None and codec.block_fixed(old) == codec.block_fixed(block):
                figures.append(codec.block_figures(block))
                self._blocks.pop(block.id, None)  # decoded again from its new row when next read
            else:
                whole.append(block)
        # execute costs less than executemany over one row, the usual case
        if len(figures) == 1:
            self.conn.execute(SQL.update_block_figures, figures[0])
        elif figures:
            self.conn.executemany(SQL.update_block_figures, figures)
        if whole:
            rows = [codec.block_row(b) for b in whole]
            if len(rows) == 1:
                self.conn.execute(SQL.upsert_block, rows[0])
            else:
                self.conn.executemany(SQL.upsert_block, rows)
            for row, block in zip(rows, whole, strict=True):
                self._remember_block(row, block)

    @_storage("record an idempotency key", write=True)
    def record_operation(self, record: OperationRecord) -> None:
        self.conn.execute(SQL.upsert_operation, codec.operation_row(record))
        self._wrote(SQL.operation_witness, (record.namespace, record.key, record.op_id))

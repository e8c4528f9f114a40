"""One transaction's reads and writes on one PostgreSQL connection: the shared
:class:`~creditcore.adapters.sql.session.SqlSession` with what is PostgreSQL's own.

- A write locks its customer's account row (``FOR NO KEY UPDATE``, the row made first if the
  customer is new) before any read the rule or the idempotency lookup uses; under READ
  COMMITTED each later statement sees what the last holder of the lock committed.
- Entries are numbered from a sequence, by numbers drawn after the lock of every customer
  they are for: within one customer, in the order its writes commit (they hold its lock
  until they do).
- A new block's or hold's row key comes back from its INSERT.
- Round trips, not statements, are what a write costs on a server: statements whose outcome
  the write does not read wait (:class:`Batch`) and go with the next one that is read, or
  with ``COMMIT``; the lock goes in one round trip with ``BEGIN``, the account's loads, the
  idempotency key's lookup and a few entry numbers. A burn is two round trips.
- Nothing is kept between transactions but decoded rows, reused only for a byte-identical
  row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from creditcore.adapters.sql import codec
from creditcore.adapters.sql.dialect import POSTGRES
from creditcore.adapters.sql.session import SqlSession, storage
from creditcore.adapters.sql.statements import Statements
from creditcore.errors import ConcurrencyConflict, StorageError
from creditcore.repository import SNAPSHOT_EVERY, OperationRecord
from creditcore.state import AccountState

#: The statements of the shared layer, in PostgreSQL's dialect.
SQL = Statements(POSTGRES)

_LOCK = "SELECT creditcore_lock(%s)"
_NUMBERS = "SELECT nextval('entries_seq') FROM generate_series(1, %s)"
# entry numbers drawn with each lock (most writes make fewer entries; a write that needs more
# draws the rest when it saves; what a transaction leaves unused is a gap in seq)
_SPARE = 4
_NEW = " ON CONFLICT (customer, id) DO NOTHING RETURNING pos"

#: What a statement, or the decoding of a row altered outside the ledger, can raise.
TRANSLATED: tuple[type[BaseException], ...] = (psycopg.Error, *codec.UNREADABLE)
# SQLSTATEs after which the same write, run again from the start, may well succeed
_RETRYABLE = {
    "40001": "a serialization failure",
    "40P01": "a deadlock with another transaction",
}
_HINTS = {
    "55P03": "another transaction held the customer for longer than lock_timeout",
    "57014": "the statement ran past statement_timeout, or was cancelled",
    "25P03": "the transaction was idle for longer than idle_in_transaction_session_timeout",
    "53300": "the server has no connection to spare (max_connections)",
    "23": "a row broke a constraint of the schema; nothing was written",
}


# the tables whose unique keys two writes of the same key or hold id at once can both reach
_RACED = frozenset({"operations", "holds", "blocks", "external_ids", "billing_objects", "meter_events"})


def _table(error: pg_errors.UniqueViolation) -> str:
    """The table of a unique violation (a partition's name ends in ``_p<number>``)."""
    name = error.diag.table_name or ""
    stem, _, number = name.rpartition("_p")
    return stem if stem and number.isdigit() else name


def storage_error(action: str, where: str, error: BaseException) -> StorageError:
    """The ``StorageError`` a psycopg error (or a row that cannot be read) becomes."""
    state = getattr(error, "sqlstate", None)
    detail = str(error).strip() or type(error).__name__
    if state in _RETRYABLE:
        return ConcurrencyConflict(
            f"PostgreSQL could not {action} ({where}): {_RETRYABLE[state]} [{state}]; nothing was written, "
            "and the same write may be run again"
        )
    if isinstance(error, pg_errors.UniqueViolation) and _table(error) in _RACED:
        return ConcurrencyConflict(
            f"PostgreSQL could not {action} ({where}): another transaction wrote the same idempotency key or "
            "hold id at the same time [23505]; nothing was written, and the same write run again replays it "
            "(or says whose it is)"
        )
    if state:
        detail += f" [{state}]"
        hint = next((text for prefix, text in _HINTS.items() if state.startswith(prefix)), None)
        if hint:
            detail += f"; {hint}"
    return StorageError(f"PostgreSQL could not {action} ({where}): {detail}")


class Batch:
    """The statements of one transaction on one connection, sent in as few round trips as
    they can be: those whose outcome is not read (:meth:`later`) wait, and go with the next
    one that is, in one text (the simple query protocol, values bound by psycopg on the
    client, each statement its own snapshot under READ COMMITTED). A failing statement fails
    the text: PostgreSQL runs none after it, and the transaction is aborted."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._binder = psycopg.ClientCursor(conn)
        self.pending: list[str] = []
        self.begun = False
        """A BEGIN waits in :attr:`pending`: the transaction is open, for what the session
        checks, though the server has not seen it."""

    def later(self, sql: str, params: Sequence[object] | None = None) -> None:
        self.pending.append(self._bound(sql, params))

    def begin(self, sql: str) -> None:
        self.pending.clear()
        self.pending.append(sql)
        self.begun = True

    def clear(self) -> None:
        self.pending.clear()
        self.begun = False

    def execute(self, sql: str, params: Sequence[object] | None = None) -> psycopg.Cursor[Any]:
        """What waits, then ``sql``: a cursor on ``sql``'s result."""
        if not self.pending:
            return self.conn.execute(sql, params)  # prepared, once it recurs
        self.pending.append(self._bound(sql, params))
        cursor = self._send()
        while cursor.nextset():
            pass
        return cursor

    def results(self, statements: Sequence[tuple[str, Sequence[object] | None]]) -> list[list[Any]]:
        """What waits, then each of ``statements``: the rows of each."""
        for sql, params in statements:
            self.pending.append(self._bound(sql, params))
        skip = len(self.pending) - len(statements)
        cursor = self._send()
        found: list[list[Any]] = []
        for index in range(skip + len(statements)):
            if index >= skip:
                found.append(cursor.fetchall() if cursor.description is not None else [])
            if index + 1 < skip + len(statements):
                cursor.nextset()
        return found

    def flush(self, last: str | None = None) -> None:
        """Send what waits (and ``last``, e.g. ``COMMIT``), reading no result."""
        if last is not None:
            self.pending.append(last)
        if self.pending:
            self._send()

    def _bound(self, sql: str, params: Sequence[object] | None) -> str:
        if not params:
            return sql
        return self._binder.mogrify(sql, params)

    def _send(self) -> psycopg.ClientCursor[Any]:
        text, self.pending = ";\n".join(self.pending), []
        self.begun = False
        cursor = psycopg.ClientCursor(self.conn)
        cursor.execute(text)
        return cursor


class Session(SqlSession):
    """The reads and writes of one transaction on one PostgreSQL connection."""

    sql: ClassVar[Statements] = SQL
    database: ClassVar[str] = "PostgreSQL"
    repository_name: ClassVar[str] = "PostgresRepository"
    translated: ClassVar[tuple[type[BaseException], ...]] = TRANSLATED

    def __init__(self, conn: psycopg.Connection[Any], where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        super().__init__(Batch(conn), where, snapshot_every)
        self.conn: Batch
        self.raw = conn
        self.spare: list[int] = []
        """Entry numbers drawn after this transaction's last lock."""
        self.looked_up: dict[tuple[str, str], OperationRecord | None] = {}
        """Idempotency keys read along with a lock in this transaction."""

    # -- the transaction ---------------------------------------------------------------------

    def begin(self, sql: str, *, write: bool) -> None:
        """Open a transaction with ``sql`` (it goes with the first statement)."""
        self.conn.begin(sql)
        self.spare.clear()
        self.looked_up.clear()
        if write:
            self.begin_write()

    def commit(self) -> None:
        """Send what waits with ``COMMIT``, in one round trip."""
        self.conn.flush("COMMIT")

    def end(self) -> None:
        """After the transaction, however it ended: nothing it left waiting is sent."""
        self.conn.clear()
        self.spare.clear()
        self.looked_up.clear()

    def send(self, sql: str, params: Sequence[object]) -> None:
        self.conn.later(sql, params)

    def check_open(self, action: str) -> None:
        status = self.raw.info.transaction_status
        if status == TransactionStatus.INERROR:
            raise StorageError(
                f"PostgreSQL could not {action} ({self.where}): an earlier statement of this transaction failed, "
                "so PostgreSQL refuses the rest; nothing was written"
            )
        if status != TransactionStatus.INTRANS and not (status == TransactionStatus.IDLE and self.conn.begun):
            raise StorageError(f"PostgreSQL could not {action} ({self.where}): the transaction has ended")

    def storage_error(self, action: str, error: BaseException) -> StorageError:
        return storage_error(action, self.where, error)

    def begin_write(self) -> None:
        # another server may have written since: nothing loaded in an earlier transaction holds
        self.accounts.clear()
        self.writing = True

    @storage("lock a customer", write=True)
    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        if customer in self.accounts:
            return self.load_account(customer)  # this transaction holds it already
        # one round trip: the lock (creditcore_lock: the row made if new, then locked), then
        # the loads, each a later statement that sees what the lock's last holder committed,
        # the key's record, and entry numbers drawn after the lock. Not psycopg's pipeline
        # mode: it ends a pipeline with a Flush after its Sync, and a backend that last read a
        # Flush waits without idle_in_transaction_session_timeout, so a lost app server would
        # hold the customer for good (tests/reliability/test_postgres_races.py finds it)
        sql = self.sql
        statements: list[tuple[str, Sequence[object] | None]] = [
            (_LOCK, (customer,)),
            (sql.account, (customer,)),
            (sql.live_blocks, (customer,)),
            (sql.active_holds, (customer,)),
            (_NUMBERS, (_SPARE,)),
        ]
        if key is not None:
            statements.append((sql.operation_by_key, key))
        _lock, rows, blocks, holds, numbers, *found = self.conn.results(statements)
        self.spare = sorted(n for (n,) in numbers)  # drawn after every lock this transaction holds
        if key is not None:
            self.looked_up[key] = codec.operation(found[0][0]) if found[0] else None
        return self.loaded(customer, rows, blocks, holds)

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        if (namespace, key) in self.looked_up:
            return self.looked_up.pop((namespace, key))
        return super().find_operation(namespace, key)

    def number(self, count: int) -> list[int]:
        spare = self.spare
        if len(spare) < count:
            spare += sorted(n for (n,) in self.conn.execute(_NUMBERS, (count - len(spare),)))
        taken, self.spare = spare[:count], spare[count:]
        return taken

    def insert_new(self, insert: str, row: tuple[object, ...]) -> int | None:
        found = self.conn.execute(insert + _NEW, row).fetchone()
        return None if found is None else int(found[0])

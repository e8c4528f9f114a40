"""One transaction's reads and writes on one PostgreSQL connection: the shared
:class:`~creditcore.adapters.sql.session.SqlSession` with what is PostgreSQL's own.

- A write locks its customer's account row (``FOR NO KEY UPDATE``, the row made first if the
  customer is new) before any read the rule or the idempotency lookup uses; under READ
  COMMITTED each later statement sees what the last holder of the lock committed.
- Entries are numbered from a sequence: within one customer, in the order its writes
  commit (they hold its lock until they do).
- A new block's or hold's row key comes back from its INSERT.
- Nothing is kept between transactions but decoded rows, reused only for a byte-identical
  row.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from creditcore.adapters.sql import codec
from creditcore.adapters.sql.dialect import POSTGRES
from creditcore.adapters.sql.session import SqlSession, storage
from creditcore.adapters.sql.statements import Statements
from creditcore.errors import ConcurrencyConflict, StorageError
from creditcore.repository import SNAPSHOT_EVERY
from creditcore.state import AccountState

#: The statements of the shared layer, in PostgreSQL's dialect.
SQL = Statements(POSTGRES)

_LOCK = "SELECT creditcore_lock(%s)"
_NUMBERS = "SELECT nextval('entries_seq') FROM generate_series(1, %s)"
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
_RACED = frozenset({"operations", "holds", "blocks"})


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


class Session(SqlSession):
    """The reads and writes of one transaction on one PostgreSQL connection."""

    sql: ClassVar[Statements] = SQL
    database: ClassVar[str] = "PostgreSQL"
    repository_name: ClassVar[str] = "PostgresRepository"
    translated: ClassVar[tuple[type[BaseException], ...]] = TRANSLATED

    def __init__(self, conn: psycopg.Connection[Any], where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        super().__init__(conn, where, snapshot_every)
        self.conn: psycopg.Connection[Any] = conn

    def check_open(self, action: str) -> None:
        status = self.conn.info.transaction_status
        if status == TransactionStatus.INERROR:
            raise StorageError(
                f"PostgreSQL could not {action} ({self.where}): an earlier statement of this transaction failed, "
                "so PostgreSQL refuses the rest; nothing was written"
            )
        if status != TransactionStatus.INTRANS:
            raise StorageError(f"PostgreSQL could not {action} ({self.where}): the transaction has ended")

    def storage_error(self, action: str, error: BaseException) -> StorageError:
        return storage_error(action, self.where, error)

    def begin_write(self) -> None:
        # another server may have written since: nothing loaded in an earlier transaction holds
        self.accounts.clear()
        self.writing = True

    @storage("lock a customer", write=True)
    def lock(self, customer: str) -> AccountState:
        if customer in self.accounts:
            return self.load_account(customer)  # this transaction holds it already
        # one round trip (creditcore_lock: the row made if new, then locked), then the loads,
        # each a later statement that sees what the lock's last holder committed. Not in
        # pipeline mode, which would save more: psycopg ends a pipeline with a Flush after its
        # Sync, and a backend that last read a Flush waits without
        # idle_in_transaction_session_timeout, so a lost app server would hold the customer
        # for good (tests/reliability/test_postgres_races.py finds it)
        self.conn.execute(_LOCK, (customer,))
        return self.load_account(customer)

    def number(self, count: int) -> list[int]:
        return sorted(n for (n,) in self.conn.execute(_NUMBERS, (count,)))

    def insert_new(self, insert: str, row: tuple[object, ...]) -> int | None:
        found = self.conn.execute(insert + _NEW, row).fetchone()
        return None if found is None else int(found[0])

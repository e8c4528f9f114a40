"""One transaction's reads and writes on one SQLite connection: the shared
:class:`~creditcore.adapters.sql.session.SqlSession` with what is SQLite's own.

That is the write path's cache and how a write is numbered: the write lock is held (``BEGIN
IMMEDIATE``) for the whole transaction, so the next ``seq`` is ``MAX(seq) + 1``, a new row's
key is its rowid, and a connection keeps what it last loaded or saved until another
connection commits.
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from creditcore.adapters.sql.dialect import SQLITE
from creditcore.adapters.sql.session import SqlSession, storage
from creditcore.adapters.sql.statements import Statements
from creditcore.errors import StorageError
from creditcore.repository import SNAPSHOT_EVERY
from creditcore.state import AccountState

from .errors import TRANSLATED, storage_error

#: The statements of the shared layer, in SQLite's dialect.
SQL = Statements(SQLITE)


class Session(SqlSession):
    """The reads and writes of one transaction on one SQLite connection."""

    sql: ClassVar[Statements] = SQL
    database: ClassVar[str] = "SQLite"
    repository_name: ClassVar[str] = "SQLiteRepository"
    translated: ClassVar[tuple[type[BaseException], ...]] = TRANSLATED

    def __init__(self, conn: sqlite3.Connection, where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        super().__init__(conn, where, snapshot_every)
        self.conn: sqlite3.Connection = conn
        self.data_version: int | None = None
        self.last_seq: int | None = None
        """The last entry seq this connection wrote, while no other connection has committed
        since (see :meth:`begin_write`)."""

    def check_open(self, action: str) -> None:
        if not self.conn.in_transaction:
            # SQLite ends a transaction on its own after some errors (a full disk, I/O): what
            # follows must not run, let alone commit statement by statement
            raise StorageError(
                f"SQLite could not {action} ({self.where}): the transaction is no longer open "
                "(SQLite rolled it back after an earlier error, or it has ended); nothing was written"
            )

    def storage_error(self, action: str, error: BaseException) -> StorageError:
        return storage_error(action, self.where, error)

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

    def forget(self) -> None:
        super().forget()
        self.last_seq = None

    @storage("lock a customer", write=True)
    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        # BEGIN IMMEDIATE already holds the whole file's write lock: loading is locking
        return self.load_account(customer)

    def number(self, count: int) -> range:
        # the write lock is held (BEGIN IMMEDIATE), so the next rowids are ours
        last = self.last_seq
        if last is None:
            (last,) = self.conn.execute(SQL.last_seq).fetchone()
        self.last_seq = last + count
        return range(last + 1, last + 1 + count)

    def insert_new(self, insert: str, row: tuple[object, ...]) -> int | None:
        # the row key is the rowid SQLite gave it (RETURNING costs about as much again)
        try:
            pos = self.conn.execute(insert, row).lastrowid
        except sqlite3.IntegrityError as error:
            if getattr(error, "sqlite_errorname", None) != "SQLITE_CONSTRAINT_UNIQUE":
                raise
            return None  # its id was there after all: SQLite undid that statement alone
        assert pos is not None  # an INSERT into a table with a rowid gives one
        return pos

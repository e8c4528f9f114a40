"""``SQLiteRepository``: the storage port on a SQLite file that several threads and processes
share. See the package's docstring for how it talks to SQLite."""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from creditcore.adapters.sql.schema import MIGRATIONS
from creditcore.errors import StorageError, ValidationError
from creditcore.repository import SNAPSHOT_EVERY

from .connections import DURABILITY, MEMORY, Connections, Link, Settings
from .errors import storage_error
from .schema import applied, apply_migrations, check_ledger_file
from .session import Session
from .transactions import begin, end, rollback

#: The largest ``busy_timeout`` in seconds: SQLite takes it in milliseconds as a signed 32-bit
#: int (a larger value would wrap around to no waiting at all).
MAX_BUSY_TIMEOUT = (2**31 - 1) / 1000


class SQLiteRepository:
    """A ledger stored in a SQLite file. Safe to share between threads; several processes
    may open the same file.

    ``durability="full"`` (default) makes every acknowledged write survive a power loss;
    ``"normal"`` is faster and survives a crash of the process, but may lose the last
    writes if the machine loses power. ``busy_timeout`` is SQLite's ``busy_timeout``, in
    seconds: how long a write waits for another connection's write to finish. A write that
    still finds the database locked is retried at ``BEGIN`` a few times with a short backoff
    (in all at most about ``4 * busy_timeout``) before it raises ``StorageError``.
    ``connection_factory`` is the ``sqlite3.Connection`` subclass every connection is made
    with (``sqlite3.connect``'s ``factory``): a seam to trace the statements the adapter runs,
    or to make one of them fail in a test.

    >>> from creditcore import Ledger
    >>> ledger = Ledger(SQLiteRepository(":memory:"))
    >>> ledger.grant("ada", 10).block.remaining
    Decimal('10')
    >>> ledger.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "full",
        busy_timeout: float = 5.0,
        connection_factory: type[sqlite3.Connection] = sqlite3.Connection,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        if not isinstance(durability, str) or durability not in DURABILITY:
            raise ValidationError("durability", f"{durability!r} is not one of: {', '.join(map(repr, DURABILITY))}")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or not math.isfinite(busy_timeout)
            or not 0 <= busy_timeout <= MAX_BUSY_TIMEOUT
        ):
            raise ValidationError(
                "busy_timeout",
                f"expected a number of seconds from 0 to {MAX_BUSY_TIMEOUT} (SQLite counts it in milliseconds "
                f"in a 32-bit int), got {busy_timeout!r}",
            )
        if not (isinstance(connection_factory, type) and issubclass(connection_factory, sqlite3.Connection)):
            raise ValidationError(
                "connection_factory", f"expected a subclass of sqlite3.Connection, got {connection_factory!r}"
            )
        path = _file_path(path)
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise ValidationError("snapshot_every", f"expected a whole number of entries >= 1, got {snapshot_every!r}")
        self._settings = Settings(
            path=path,
            where="in memory" if path in (MEMORY, "") else repr(path),
            durability=durability,
            busy_timeout=float(busy_timeout),
            factory=connection_factory,
            snapshot_every=snapshot_every,
        )
        self._where = self._settings.where
        self._connections = Connections(self._settings)
        link = self._connections.open_link(first=True)
        try:
            self._migrate(link)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        state = "closed" if self._connections.closed else self._settings.durability
        return f"SQLiteRepository({self._settings.path!r}, {state})"

    @property
    def path(self) -> str:
        return self._settings.path

    @property
    def durability(self) -> str:
        return self._settings.durability

    # -- the port ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write: ``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises.

        Writes are serialised: a write waits (``busy_timeout``) for another thread's or
        process's. One that this thread has open already is not waited for (it could never
        finish while this thread waits): a second write of the thread raises
        ``StorageError`` at once."""
        connections = self._connections
        with connections.here() as links:
            if any(link.mode == "write" for link in links):
                raise StorageError(
                    f"SQLite could not start a transaction ({self._where}): this thread already has a write "
                    "transaction open (a batch, Ledger.atomic(), opened by another asyncio task or by a "
                    "suspended generator of this thread, or a transaction() not yet ended); waiting for it here "
                    "would block the thread for good: end that batch first, or write from another thread"
                )
            link = connections.free_link(links, "start a transaction")
            for other in links:
                if other.mode == "read":
                    other.stale = True  # it will not see what this write commits
            begin(connections, link, "BEGIN IMMEDIATE")
            link.mode = "write"
            try:
                link.session.begin_write()
                yield link.session
            except BaseException as error:
                link.mode = None
                link.session.end_write(kept=False)
                end(connections, link, ok=False)
                if isinstance(error, sqlite3.Error):
                    raise storage_error("write", self._where, error) from error
                raise
            link.mode = None
            try:
                end(connections, link, ok=True)
            except BaseException:
                link.session.end_write(kept=False)
                raise
            link.session.end_write(kept=True)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A consistent snapshot of what is committed: a deferred ``BEGIN``, ended with
        ``ROLLBACK`` (a read has nothing to commit). Reads only: a write through it raises
        ``StorageError``.

        A read never sees a write transaction that is still open, not even one of its own
        thread (a batch of another asyncio task): while this thread has one open, the read
        runs on another connection of the thread (WAL: it does not wait). An in-memory
        database has one connection: there, such a read raises ``StorageError``. A read
        inside a read of the same thread shares its snapshot."""
        connections = self._connections
        with connections.here() as links:
            for link in reversed(links):
                if link.mode == "read" and not link.stale:
                    yield link.session  # a read inside a read: the same snapshot
                    return
            link = connections.free_link(links, "read")
            begin(connections, link, "BEGIN")
            link.mode = "read"
            try:
                yield link.session
            except sqlite3.Error as error:
                raise storage_error("read", self._where, error) from error
            finally:
                link.mode = None
                link.stale = False
                rollback(connections, link)  # a read has nothing to commit

    def __enter__(self) -> SQLiteRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this repository opened, in every thread (call it once no
        operation is running). Closing twice is fine; using it afterwards raises
        ``StorageError``."""
        self._connections.close()

    # -- inspection ----------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for inspection (``PRAGMA``, ``EXPLAIN``) and tests.

        Do not open or end transactions on it: use :meth:`transaction` and :meth:`reader`.
        """
        with self._connections.link() as link:
            return link.conn

    def settings(self) -> dict[str, object]:
        """The settings of this thread's connection as SQLite reports them, e.g.
        ``{"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}``."""
        with self._connections.link() as link:
            try:
                return {
                    name: link.conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }
            except sqlite3.Error as error:
                raise storage_error("read its settings", self._where, error) from error

    def schema_version(self) -> list[str]:
        """The names of the migrations applied to the file, oldest first."""
        with self.reader(), self._connections.link() as link:
            try:
                return applied(link.conn)
            except sqlite3.Error as error:
                raise storage_error("read the schema version", self._where, error) from error

    # -- schema --------------------------------------------------------------------------------

    def _migrate(self, link: Link) -> None:
        """Bring the schema forward. Runs under the write lock, so that two processes opening
        a new file at once do not both create it."""
        known = [name for name, _ in MIGRATIONS]
        connections = self._connections
        try:
            done = applied(link.conn)
            newer = [name for name in done if name not in known]
            if newer:
                raise StorageError(
                    f"{self._where} was written by a newer version of creditcore (schema migrations "
                    f"{', '.join(newer)} are unknown to this one): upgrade creditcore to open it"
                )
            if all(name in done for name in known):
                return
            begin(connections, link, "BEGIN IMMEDIATE")
            try:
                check_ledger_file(link.conn, self._where, self._settings.path)  # again, now that no one else writes
                apply_migrations(link.conn)
            except BaseException:
                end(connections, link, ok=False)
                raise
            end(connections, link, ok=True)
            missing = [name for name in known if name not in applied(link.conn)]
            if missing:
                raise StorageError(f"SQLite could not migrate {self._where}: {', '.join(missing)} did not apply")
            if not self._settings.memory:
                # The connection that rebuilt tables (0003 and 0005 drop and rename them) was seen to
                # read pages other processes had since reused as if they were still its own
                # ("database disk image is malformed" on a sound file): it is not used again;
                # the next use opens a fresh one.
                connections.discard(link)
        except sqlite3.Error as error:
            raise storage_error("create or migrate the schema", self._where, error) from error


def _file_path(path: object) -> str:
    """``path`` as the text ``sqlite3.connect`` takes, or ``ValidationError(field="path")``."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError("path", f"expected a file path or ':memory:', got {type(path).__name__}")
    try:
        text = os.fspath(path)
    except TypeError as error:  # a PathLike whose __fspath__ gives something else
        raise ValidationError("path", f"{path!r} is not a file path: {error}") from None
    if not isinstance(text, str):
        raise ValidationError("path", f"expected a file path as text, got {type(text).__name__} from {path!r}")
    if "\0" in text:
        raise ValidationError("path", f"{text!r} contains a NUL character, which no file name can hold")
    return text

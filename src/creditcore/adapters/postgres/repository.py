"""The PostgreSQL adapter: the repository port over psycopg 3 and a connection pool.

Writes run at READ COMMITTED, each locking its customer's account row before it reads
anything the rule or the idempotency lookup uses (see :mod:`.session`), so writes of
different customers run in parallel and two writes of one customer take turns. Readers run
in a REPEATABLE READ, READ ONLY transaction: one consistent snapshot for all their
statements, never waiting for a writer.

Every connection runs in UTC with ``lock_timeout`` and ``idle_in_transaction_session_timeout``
set, so that an app server that stops half-way through a transaction (a crash, a network
partition) cannot hold a customer for longer than that.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.types.datetime import TimestamptzLoader
from psycopg_pool import ConnectionPool

from creditcore.adapters.sql import codec
from creditcore.errors import StorageError, ValidationError
from creditcore.repository import SNAPSHOT_EVERY

from . import schema
from .session import Session, storage_error


class _Micros(TimestamptzLoader):
    """A ``timestamptz`` as the codec reads times: integer microseconds since the epoch."""

    def load(self, data: Any) -> Any:
        return codec.micros(super().load(data))


class _Text(Loader):
    """A ``jsonb`` document as the codec reads it: its JSON text."""

    def load(self, data: Any) -> Any:
        return bytes(data).decode()


def _settings(lock_timeout: float, idle_timeout: float) -> dict[str, str]:
    return {
        "timezone": "UTC",
        "lock_timeout": f"{int(lock_timeout * 1000)}ms",
        "idle_in_transaction_session_timeout": f"{int(idle_timeout * 1000)}ms",
    }


class PostgresRepository:
    """A ledger's store in PostgreSQL (``pip install "creditcore[postgres]"``).

    ``dsn_or_pool`` is a connection string (the repository opens and owns a pool of up to
    ``max_size`` connections) or a ``psycopg_pool.ConnectionPool`` of the app's (closed by
    the app). ``migrate`` brings an older schema forward on open (under a lock: one process
    does it, the others wait); with ``migrate=False`` an old schema is refused.
    ``lock_timeout`` is how long a write waits for a customer another transaction holds
    (seconds), ``idle_timeout`` how long PostgreSQL lets a transaction sit idle before it
    ends it (and frees its customers). ``prepare_threshold`` is psycopg's (``None`` behind
    pgbouncer older than 1.21). ``partitions`` hash-partitions the tables by customer when
    this repository creates the schema (ignored for an existing one)."""

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool[Any],
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
        migrate: bool = True,
        max_size: int = 10,
        lock_timeout: float = 5.0,
        idle_timeout: float = 30.0,
        prepare_threshold: int | None = 5,
        partitions: int | None = None,
    ) -> None:
        if partitions is not None and (
            isinstance(partitions, bool) or not isinstance(partitions, int) or not 2 <= partitions <= 1024
        ):
            raise ValidationError("partitions", f"expected None or an int from 2 to 1024, got {partitions!r}")
        self._partitions = partitions
        for name, value in (("lock_timeout", lock_timeout), ("idle_timeout", idle_timeout)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
                raise ValidationError(name, f"expected seconds, more than 0 and at most a day, got {value!r}")
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValidationError("max_size", f"expected an int >= 1, got {max_size!r}")
        self._settings = _settings(lock_timeout, idle_timeout)
        self._snapshot_every = snapshot_every
        self._prepare_threshold = prepare_threshold
        self._sessions: weakref.WeakKeyDictionary[psycopg.Connection[Any], Session] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._closed = False
        self._clock_local = threading.local()
        self._clock_connections: list[psycopg.Connection[Any]] = []
        if isinstance(dsn_or_pool, ConnectionPool):
            self._pool: ConnectionPool[Any] = dsn_or_pool
            self._owns_pool = False
            self._conninfo: str | Callable[[], str] = dsn_or_pool.conninfo
            self._where = f"pool {dsn_or_pool.name}"
        elif isinstance(dsn_or_pool, str) and dsn_or_pool.strip():
            self._where = _describe(dsn_or_pool)
            self._conninfo = dsn_or_pool
            options = " ".join(f"-c {name}={value}" for name, value in self._settings.items())
            self._pool = ConnectionPool(
                dsn_or_pool,
                min_size=1,
                max_size=max_size,
                kwargs={"autocommit": True, "options": options, "application_name": "creditcore"},
                configure=self._configure,
                # no check on checkout: a round trip per write; a connection the server
                # dropped fails its transaction's first statement (nothing written) and
                # leaves the pool
                open=False,
                name="creditcore",
            )
            self._owns_pool = True
            try:
                # one connection first: a wrong address or password fails now, with the
                # server's own words, instead of after the pool's wait
                psycopg.connect(dsn_or_pool, connect_timeout=10).close()
                self._pool.open(wait=True, timeout=30.0)
            except psycopg.Error as error:
                self._pool.close()
                raise storage_error("connect", self._where, error) from error
            except Exception as error:  # the pool's own PoolTimeout
                self._pool.close()
                raise StorageError(f"PostgreSQL could not connect ({self._where}): {error}") from error
        else:
            raise ValidationError(
                "dsn_or_pool",
                f"expected a connection string or a psycopg_pool.ConnectionPool, got {dsn_or_pool!r}",
            )
        try:
            self._open_schema(migrate)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresRepository({self._where})"

    # -- connections -----------------------------------------------------------------------

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.adapters.register_loader("timestamptz", _Micros)
        conn.adapters.register_loader("jsonb", _Text)
        conn.prepare_threshold = self._prepare_threshold

    @contextmanager
    def _connection(self, action: str) -> Iterator[tuple[psycopg.Connection[Any], Session]]:
        if self._closed:
            raise StorageError(f"PostgreSQL could not {action} ({self._where}): the repository is closed")
        try:
            with self._pool.connection() as conn:
                session = self._sessions.get(conn)
                if session is None:
                    if not self._owns_pool:
                        conn.autocommit = True
                        self._configure(conn)
                    session = self._sessions[conn] = Session(conn, self._where, self._snapshot_every)
                yield conn, session
        except psycopg.Error as error:
            raise storage_error(action, self._where, error) from error

    def _begin(self, session: Session, sql: str, *, write: bool) -> None:
        session.begin(sql, write=write)
        if not self._owns_pool:  # an app's pool: the settings for this transaction alone
            session.send(
                "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in self._settings),
                [part for pair in self._settings.items() for part in pair],
            )

    # -- the port ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write: ``BEGIN`` (READ COMMITTED) … ``COMMIT``, or ``ROLLBACK`` if the block
        raises. A COMMIT whose outcome cannot be known (the connection lost while it ran)
        raises ``StorageError`` saying so: a retry with the same idempotency key is safe."""
        with self._connection("start a transaction") as (conn, session):
            self._begin(session, "BEGIN ISOLATION LEVEL READ COMMITTED", write=True)
            kept = False
            try:
                yield session
                try:
                    session.commit()  # with the statements still waiting to be sent
                except psycopg.OperationalError as error:
                    if conn.closed or conn.broken:
                        raise StorageError(
                            f"PostgreSQL could not confirm the commit ({self._where}): the connection was lost "
                            "while it ran, so whether the write took effect is unknown. Run it again with the "
                            "same idempotency key: it replays the write if it was committed, and applies it if "
                            "not (a write without a key cannot be told apart: read the ledger first)"
                        ) from error
                    raise storage_error("commit", self._where, error) from error
                except psycopg.Error as error:
                    raise storage_error("commit", self._where, error) from error
                kept = True
            finally:
                session.end()
                session.end_write(kept=kept)
                if not kept:
                    _rollback(conn)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A consistent snapshot of what is committed (REPEATABLE READ, READ ONLY), ended
        with ``ROLLBACK``: it never waits for a writer."""
        with self._connection("read") as (conn, session):
            self._begin(session, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", write=False)
            try:
                yield session
            finally:
                session.end()
                _rollback(conn)

    def __enter__(self) -> PostgresRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool this repository opened (an app's pool stays open). Closing twice
        is fine; using it afterwards raises ``StorageError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_pool:
            self._pool.close()
        with self._lock:
            clocks, self._clock_connections = self._clock_connections, []
        for conn in clocks:
            conn.close()

    # -- the schema --------------------------------------------------------------------------

    def _open_schema(self, migrate: bool) -> None:
        with self._connection("open the schema") as (conn, _session):
            found = schema.applied(conn)
            missing = [version for version, _step in schema.MIGRATIONS if version not in found]
            unknown = sorted(set(found) - {version for version, _step in schema.MIGRATIONS})
            if unknown:
                raise StorageError(
                    f"PostgreSQL schema ({self._where}) has migrations this version of creditcore does not know "
                    f"({', '.join(unknown)}): it was written by a newer version; upgrade creditcore"
                )
            if not missing:
                return
            if not migrate:
                raise StorageError(
                    f"PostgreSQL schema ({self._where}) lacks migrations {', '.join(missing)}: run "
                    "`creditcore db upgrade`, or open with migrate=True"
                )
            schema.upgrade(conn, self._partitions)

    # -- the database's clock ----------------------------------------------------------------

    def database_time(self) -> datetime:
        """The database server's clock (``clock_timestamp()``, not the transaction's start),
        read on a connection of this thread's own, outside any pool: a ledger opened with
        ``clock="database"`` dates its writes by it, after it holds the customer, so app
        servers with skewed clocks cannot reorder a customer's history."""
        if self._closed:
            raise StorageError(f"PostgreSQL could not read the clock ({self._where}): the repository is closed")
        conn = getattr(self._clock_local, "conn", None)
        try:
            if conn is None or conn.closed:
                info = self._conninfo if isinstance(self._conninfo, str) else self._conninfo()
                conn = self._clock_local.conn = psycopg.connect(info, autocommit=True, connect_timeout=10)
                with self._lock:
                    self._clock_connections.append(conn)
            row = conn.execute("SELECT clock_timestamp()").fetchone()
        except psycopg.Error as error:
            if conn is not None:
                conn.close()
            raise storage_error("read the clock", self._where, error) from error
        assert row is not None
        now: datetime = row[0]
        return now.astimezone(UTC)

    def schema_version(self) -> list[str]:
        """The migrations applied, in order."""
        with self._connection("read the schema version") as (conn, _session):
            return sorted(schema.applied(conn))


def _rollback(conn: psycopg.Connection[Any]) -> None:
    if conn.closed or conn.broken:
        return  # the server ends what the lost connection had open
    if conn.info.transaction_status == TransactionStatus.IDLE:
        return  # nothing open (it ended, or never began)
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        conn.close()  # the pool drops it; PostgreSQL rolls back a closed connection's work
    except BaseException:
        conn.close()  # an interrupt: the connection never goes back inside a transaction
        raise


def _describe(dsn: str) -> str:
    """A connection string without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "a PostgreSQL server"
    host, port, name = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname", "")
    return f"{host}:{port}/{name}" if name else f"{host}:{port}"

"""SQLite's connections: one per thread (per process after a ``fork``), configured with the
PRAGMAs a ledger needs, and the transactions on them.

Every connection is opened with ``isolation_level=None`` so that this adapter, not the
``sqlite3`` module, says where a transaction starts and ends. A thread opens a second one only
to read while a transaction of its own (a batch of another asyncio task, a suspended
generator) is open. ``":memory:"`` is one database per connection: there, one connection is
shared, and threads take turns on it.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TypeVar

import attrs

from creditcore.errors import StorageError

from .errors import is_busy, storage_error
from .schema import check_ledger_file
from .session import Session

#: ``durability=`` value -> ``PRAGMA synchronous`` level (FULL = 2, NORMAL = 1).
DURABILITY: Mapping[str, int] = {"full": 2, "normal": 1}
_SYNCHRONOUS_NAMES = {2: "FULL", 1: "NORMAL"}
MEMORY = ":memory:"
# BEGIN IMMEDIATE already waits busy_timeout for the write lock; these are the extra tries
# (with a jittered backoff) when SQLite answers SQLITE_BUSY without waiting.
_BEGIN_ATTEMPTS = 4
_BACKOFF = 0.01
_PREPARED = 512

_T = TypeVar("_T")


@attrs.define(eq=False)
class Link:
    """One connection and what it is doing: ``mode`` is ``None``, ``"read"`` or ``"write"``."""

    conn: sqlite3.Connection
    session: Session
    pid: int
    thread: threading.Thread
    mode: str | None = None
    stale: bool = False
    """A read that a write of the same thread committed after: a nested read must not reuse
    its snapshot."""


@attrs.frozen(kw_only=True)
class Settings:
    """How every connection to one database is opened."""

    path: str
    where: str
    """The database as messages name it."""
    durability: str
    busy_timeout: float
    factory: type[sqlite3.Connection]
    snapshot_every: int

    @property
    def memory(self) -> bool:
        return self.path in (MEMORY, "")


def with_busy_retry(attempt: Callable[[], _T]) -> _T:
    """``attempt()``, tried again a few times with a jittered backoff while SQLite answers busy."""
    delay = _BACKOFF
    for remaining in range(_BEGIN_ATTEMPTS - 1, -1, -1):
        try:
            return attempt()
        except sqlite3.OperationalError as error:
            if not remaining or not is_busy(error):
                raise
        time.sleep(delay * (1 + random.random()))
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.close()


def _connect(settings: Settings, *, first: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            settings.path,
            timeout=settings.busy_timeout,
            isolation_level=None,  # we issue BEGIN / COMMIT / ROLLBACK ourselves
            check_same_thread=False,  # only its own thread uses it; close() may come from another
            factory=settings.factory,
            # every statement stays prepared: a write's UPDATEs have one text per set of columns
            # that moved, and its INSERT one per number of entries (the default keeps 128)
            cached_statements=_PREPARED,
        )
    except sqlite3.Error as error:
        raise storage_error("open the database", settings.where, error) from error
    try:
        _configure(settings, conn, first=first)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(settings: Settings, conn: sqlite3.Connection, *, first: bool = False) -> None:
    level = DURABILITY[settings.durability]
    where = settings.where
    try:
        conn.execute(f"PRAGMA busy_timeout = {round(settings.busy_timeout * 1000)}")
        if first and not settings.memory:
            # before anything (journal_mode too) changes the file
            with_busy_retry(lambda: check_ledger_file(conn, where, settings.path))
        if not settings.memory:
            mode = with_busy_retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise StorageError(
                    f"SQLite could not switch {where} to WAL mode (journal_mode is {mode!r}); "
                    "the file system may not support it"
                )
        conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS_NAMES[level]}")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA synchronous").fetchone()[0] != level:
            raise StorageError(f"SQLite did not accept synchronous={_SYNCHRONOUS_NAMES[level]} for {where}")
        if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
            raise StorageError(f"SQLite did not accept foreign_keys=ON for {where}")
    except sqlite3.Error as error:
        raise storage_error("open the database", where, error) from error


class Connections:
    """The connections one repository opened: per thread for a file, one shared for
    ``":memory:"``. Safe to use from any thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closed = False
        self._guard = threading.Lock()
        self._local = threading.local()
        self.links: list[Link] = []
        self._pid = os.getpid()
        # ":memory:" is one database per connection: one connection, used by one thread at a time
        self._turn = threading.RLock()
        self._shared: Link | None = None

    def open_link(self, *, first: bool = False) -> Link:
        settings = self.settings
        conn = _connect(settings, first=first)
        link = Link(
            conn=conn,
            session=Session(conn, settings.where, settings.snapshot_every),
            pid=os.getpid(),
            thread=threading.current_thread(),
        )
        with self._guard:
            # connections of threads that have ended are closed here, not leaked
            for dead in [x for x in self.links if not x.thread.is_alive()]:
                self.links.remove(dead)
                close_quietly(dead.conn)
            self.links.append(link)
        if settings.memory:
            self._shared = link
        else:
            self._thread_links().append(link)
        return link

    def _thread_links(self) -> list[Link]:
        """This thread's connections (a file only): the first for writes and reads, more only
        while one of them has a transaction open (see ``SQLiteRepository.reader``)."""
        if os.getpid() != self._pid:
            self._after_fork()
        links: list[Link] | None = getattr(self._local, "links", None)
        if links is None:
            links = self._local.links = []
        return links

    def _after_fork(self) -> None:
        # a connection must never cross a fork: forget the parent's without closing them
        # (closing would release locks that belong to the parent), and open new ones
        self._pid = os.getpid()
        self._guard = threading.Lock()
        self._local = threading.local()
        self.links = []

    @contextmanager
    def here(self) -> Iterator[list[Link]]:
        """This thread's connections, for the life of the block: for ``":memory:"`` the one
        shared connection, which the thread holds (its turn) until the block ends."""
        settings = self.settings
        if self.closed:
            raise StorageError(f"this SQLiteRepository ({settings.where}) is closed")
        if not settings.memory:
            yield self._thread_links()
            return
        if not self._turn.acquire(timeout=settings.busy_timeout):
            raise StorageError(
                f"SQLite could not start a transaction ({settings.where}): another thread held the database "
                f"for longer than busy_timeout={settings.busy_timeout}s"
            )
        try:
            if self.closed or self._shared is None:
                raise StorageError(f"this SQLiteRepository ({settings.where}) is closed")
            yield [self._shared]
        finally:
            self._turn.release()

    @contextmanager
    def link(self) -> Iterator[Link]:
        """This thread's first connection."""
        with self.here() as links:
            yield links[0] if links else self.open_link()

    def free_link(self, links: list[Link], purpose: str) -> Link:
        """A connection of this thread with no transaction open (a new one if every one has)."""
        for link in links:
            if link.mode is None:
                return link
        if self.settings.memory:
            raise StorageError(
                f"SQLite could not {purpose} ({self.settings.where}): this thread already has a transaction open on "
                "the in-memory database (a batch, Ledger.atomic(), or a read opened by another asyncio task or a "
                "suspended generator of this thread), and an in-memory database has one connection: finish "
                "that one first, or use a file, whose reads never wait"
            )
        return self.open_link()

    def discard(self, link: Link) -> None:
        with self._guard:
            if link in self.links:
                self.links.remove(link)
        close_quietly(link.conn)
        if self.settings.memory:
            self._shared = None
        else:
            links: list[Link] | None = getattr(self._local, "links", None)
            if links is not None and link in links:
                links.remove(link)

    def close(self) -> None:
        """Close every connection, in every thread (of this process)."""
        self.closed = True
        if self.settings.memory and self._turn.acquire(timeout=self.settings.busy_timeout):
            self._turn.release()  # the thread that was using it has finished
        with self._guard:
            links, self.links = self.links, []
        self._shared = None
        self._local = threading.local()
        errors = []
        for link in links:
            if link.pid != os.getpid():
                continue  # the parent process's: not ours to close
            try:
                link.conn.close()
            except sqlite3.Error as error:
                errors.append(error)
        if errors:
            raise storage_error("close the database", self.settings.where, errors[0]) from errors[0]

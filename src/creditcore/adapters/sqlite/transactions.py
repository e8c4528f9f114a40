"""Starting and ending a transaction on one connection, so that an error always means
"nothing was written" and a transaction never stays open holding the write lock."""

from __future__ import annotations

import sqlite3

from creditcore.errors import StorageError

from .connections import Connections, Link, with_busy_retry
from .errors import storage_error


def begin(connections: Connections, link: Link, sql: str) -> None:
    """``sql`` (``BEGIN`` or ``BEGIN IMMEDIATE``) on the link, retried while busy."""
    link.session.wrote = False
    link.session.witness = None
    if link.conn.in_transaction:
        # left open by something that failed half-way: it holds nothing of ours
        rollback(connections, link)
    try:
        with_busy_retry(lambda: link.conn.execute(sql))
    except sqlite3.Error as error:
        # an interrupted BEGIN may have opened the transaction without its lock
        rollback(connections, link)
        raise storage_error("start a transaction", connections.settings.where, error) from error
    except BaseException:
        # interrupted (KeyboardInterrupt, an exception from a signal handler) once BEGIN
        # ran: the transaction must not stay open, holding the write lock
        rollback(connections, link)
        raise


def end(connections: Connections, link: Link, ok: bool) -> None:
    """COMMIT (``ok``) or ROLLBACK the link's transaction.

    A COMMIT that fails with the transaction still open is rolled back and raises. One
    that fails after SQLite ended the transaction may have rolled back (a full disk) or
    taken effect (an interruption at its very end): the session's witness tells which,
    so that an error always means "nothing was written".
    """
    conn = link.conn
    if not ok:
        rollback(connections, link)
        return
    try:
        conn.execute("COMMIT")
        return
    except sqlite3.Error as error:
        failure = storage_error("commit", connections.settings.where, error)
        if conn.in_transaction:
            rollback(connections, link)
            raise failure from error
        if _committed(connections, link):
            return
        raise failure from error
    except BaseException:
        # interrupted before COMMIT ran: end the transaction, or it keeps the write lock
        # (and what it wrote) until this thread's next use of the connection
        if conn.in_transaction:
            rollback(connections, link)
        raise


def _committed(connections: Connections, link: Link) -> bool:
    session = link.session
    where = connections.settings.where
    if not session.wrote:
        return True  # nothing to lose
    if session.witness is None:
        raise StorageError(
            f"SQLite could not commit ({where}) and whether the write took effect is unknown: "
            "read the ledger before retrying it"
        )
    query, params = session.witness
    try:
        return link.conn.execute(query, params).fetchone() is not None
    except sqlite3.Error as error:
        raise StorageError(
            f"SQLite could not commit ({where}) and whether the write took effect is unknown "
            f"({error}): read the ledger before retrying it"
        ) from error


def rollback(connections: Connections, link: Link) -> None:
    """End the link's transaction, if one is open, without keeping what it wrote.

    A ROLLBACK that fails is tried once more; if that fails too, the connection is in an
    unknown state: it is dropped (the next use opens a new one), and SQLite rolls back
    what was not committed when the connection closes (which it does only once no
    cursor of it is still referenced, e.g. by the traceback of the error being raised:
    hence the second try). An interruption is let through only once the transaction has
    ended.
    """
    interrupted: BaseException | None = None
    for _ in range(2):
        try:
            if link.conn.in_transaction:
                link.conn.execute("ROLLBACK")
            break
        except sqlite3.Error:
            continue
        except BaseException as error:
            interrupted = interrupted or error
    else:
        connections.discard(link)
    if interrupted is not None:
        raise interrupted

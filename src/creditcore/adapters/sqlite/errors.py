"""Every ``sqlite3`` error becomes a :class:`~creditcore.errors.StorageError` that says what
to do about it (the original is chained as ``__cause__``)."""

from __future__ import annotations

import sqlite3

from creditcore.adapters.sql import codec
from creditcore.errors import StorageError

_HINTS = {
    "SQLITE_BUSY": "another connection held the write lock for longer than busy_timeout",
    "SQLITE_LOCKED": "another connection held the write lock for longer than busy_timeout",
    "SQLITE_READONLY": "the file or its directory cannot be written: check the permissions",
    "SQLITE_CANTOPEN": "the file cannot be opened: check that the path and its directory exist",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CORRUPT": "the file is damaged: restore it from a backup",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk failed to read or write",
    "SQLITE_CONSTRAINT": "a row broke a constraint of the schema; nothing was written",
}
#: What a statement, or the decoding of a row that was altered outside the ledger (or the
#: encoding of a value that cannot be stored), can raise.
TRANSLATED: tuple[type[Exception], ...] = (sqlite3.Error, *codec.UNREADABLE)


def storage_error(action: str, where: str, error: BaseException) -> StorageError:
    name = getattr(error, "sqlite_errorname", None)
    detail = str(error) or type(error).__name__
    hint = next((text for prefix, text in _HINTS.items() if name and name.startswith(prefix)), None)
    if name:
        detail += f" [{name}]"
    if hint:
        detail += f"; {hint}"
    return StorageError(f"SQLite could not {action} ({where}): {detail}")


def is_busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

"""Helpers the reliability tests share: what a file holds, read as another program would
read it, and the checks every test ends with."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from creditcore import Ledger
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.model import Result

#: CREDITCORE_HEAVY=1 turns on the long variants (skipped otherwise).
HEAVY = os.environ.get("CREDITCORE_HEAVY", "") not in ("", "0")


@contextmanager
def raw(path: Path | str, timeout: float = 5.0) -> Iterator[sqlite3.Connection]:
    """A connection of our own to the file, opened as another program would open it."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        yield conn
    finally:
        conn.close()


def dump(path: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the file (the schema's own bookkeeping included), as
    committed: a full logical dump to compare before and after."""
    with raw(path) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}


def integrity(path: Path | str) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` on the file: ``["ok"]`` when sound."""
    with raw(path) as conn:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        found += [repr(row) for row in conn.execute("PRAGMA foreign_key_check")]
    return found


def write_lock_is_free(path: Path | str) -> bool:
    """Whether another connection can take the write lock at once."""
    with raw(path, timeout=0) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        conn.execute("ROLLBACK")
        return True


def repository_of(ledger: Ledger) -> SQLiteRepository:
    repository = ledger.repository
    assert isinstance(repository, SQLiteRepository)
    return repository


def fresh(result: Result) -> Result:
    """``result`` as its first call returned it (a replay differs only in ``replayed``)."""
    return attrs.evolve(result, replayed=False)


def known(found: Any, expected: Any) -> Any:
    """``found`` with only the keys ``expected`` has, at every depth (a key missing from
    ``found`` stays missing, so the comparison still fails on it)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        return {key: known(found[key], value) for key, value in expected.items() if key in found}
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        return [known(item, want) for item, want in zip(found, expected, strict=True)]
    return found

"""Helpers the reliability tests share: what a file holds, read as another program would
read it, and the checks every test ends with."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
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


# -- worker processes that start together ---------------------------------------------------

#: A worker's body: its number and a function that waits for the start signal; what it
#: returns (JSON) is its report.
Child = Callable[[int, Callable[[], None]], Any]


def run_forked(workers: int, child: Child) -> list[Any]:
    """Fork ``workers`` children (no connection may be open in this process when it forks:
    each child opens its store itself), start them together once all are forked, and return
    what each reported, in order. A child that raised fails the caller with its error."""
    go_read, go_write = os.pipe()
    children: list[tuple[int, int]] = []
    gc.freeze()  # the children never finalise objects of this process
    try:
        for number in range(workers):
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                status = 1
                try:
                    os.close(go_write)
                    os.close(result_read)

                    def ready() -> None:
                        os.read(go_read, 1)

                    payload = json.dumps({"report": child(number, ready)}).encode()
                    status = 0
                except BaseException as error:  # report it rather than die silently
                    payload = json.dumps({"crashed": f"{type(error).__name__}: {error}"}).encode()
                finally:
                    try:
                        view = memoryview(payload)
                        while view:
                            view = view[os.write(result_write, view) :]
                    finally:
                        os._exit(status)
            os.close(result_write)
            children.append((pid, result_read))
    finally:
        gc.unfreeze()
        os.close(go_read)
    os.write(go_write, b"x" * workers)  # go
    os.close(go_write)
    reports = []
    for pid, result_read in children:
        chunks = []
        while chunk := os.read(result_read, 65536):
            chunks.append(chunk)
        os.close(result_read)
        _, status = os.waitpid(pid, 0)
        report = json.loads(b"".join(chunks))
        assert "crashed" not in report, report["crashed"]
        assert os.waitstatus_to_exitcode(status) == 0
        reports.append(report["report"])
    return reports

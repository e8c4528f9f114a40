"""The SQLite adapter's write path keeps each account as it last saved it: whatever another
connection commits, and whatever a failed write left behind, the next write still starts from
what the file holds."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from creditcore import InsufficientCredits, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "credits.db"


@pytest.fixture
def two(path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one file: two connections, as two processes would have."""
    first, second = Ledger.sqlite(path, durability="normal"), Ledger.sqlite(path, durability="normal")
    yield first, second
    first.close()
    second.close()


def test_a_write_sees_what_another_connection_committed(two: tuple[Ledger, Ledger]) -> None:
    first, second = two
    first.grant("ada", 10, at=T0)
    first.burn("ada", 3, at=T0 + SECOND)  # the first connection now knows ada's account
    second.burn("ada", 5, at=T0 + 2 * SECOND)
    assert first.burn("ada", 5, overdraft="partial", at=T0 + 3 * SECOND).burned == 2
    with pytest.raises(InsufficientCredits):
        second.burn("ada", 1, at=T0 + 4 * SECOND)
    assert first.verify().ok and first.balance("ada").used == 10


def test_a_write_sees_a_row_changed_directly_in_the_file(two: tuple[Ledger, Ledger], path: Path) -> None:
    first, _ = two
    block = first.grant("ada", 10, at=T0).block.id
    first.burn("ada", 1, at=T0 + SECOND)
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("UPDATE blocks SET remaining = 2 WHERE id = ?", (block,))
    finally:
        raw.close()
    assert first.burn("ada", 5, overdraft="partial", at=T0 + 2 * SECOND).burned == 2


def test_a_batch_that_rolls_back_leaves_nothing_for_the_next_write(two: tuple[Ledger, Ledger]) -> None:
    first, _ = two
    first.grant("ada", 10, at=T0)
    with pytest.raises(RuntimeError), first.atomic():
        first.burn("ada", 8, at=T0 + SECOND)
        raise RuntimeError("the batch fails")
    assert first.burn("ada", 10, at=T0 + 2 * SECOND).burned == 10


def test_a_refused_write_after_a_save_in_a_batch_rolls_the_save_back(two: tuple[Ledger, Ledger]) -> None:
    first, second = two
    first.grant("ada", 10, at=T0)
    with pytest.raises(InsufficientCredits), first.atomic():
        first.burn("ada", 6, at=T0 + SECOND)
        first.burn("ada", 6, at=T0 + 2 * SECOND)
    assert first.balance("ada").available == 10
    assert second.burn("ada", 10, at=T0 + 3 * SECOND).burned == 10
    with pytest.raises(InsufficientCredits):
        first.burn("ada", 1, at=T0 + 4 * SECOND)


def test_threads_sharing_a_ledger_never_overspend(path: Path) -> None:
    ledger = Ledger.sqlite(path, durability="normal")
    try:
        ledger.grant("ada", 300, at=T0)
        burned: list[int] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(60):
                result = ledger.burn("ada", 2, overdraft="partial")
                with lock:
                    burned.append(int(result.burned))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(burned) == 300
        assert ledger.balance("ada").available == 0
        assert ledger.verify().ok
    finally:
        ledger.close()

"""Misuse of the SQLite adapter is a CreditError naming what to change, never an
AttributeError, TypeError, RuntimeError, ValueError or OverflowError from inside it: bad
constructor arguments, a busy_timeout SQLite's int cannot hold, a cursor past SQLite's
integers, writes through a reader, a second write transaction on one thread. Values at the
edges of what the ledger accepts (the largest amount, the first and last representable
times) are stored and read back exactly."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from creditcore import Ledger, StorageError, ValidationError
from creditcore.adapters.sqlite import MAX_BUSY_TIMEOUT, SQLiteRepository
from creditcore.repository import ChangeSet, EntryQuery, OperationRecord, iterate_entries
from creditcore.testing.contract import ManualClock, snapshot
from creditcore.values import EARLIEST, LATEST

INT64_MAX = 2**63 - 1


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture(params=["file", "memory"])
def repository(request: pytest.FixtureRequest, path: Path) -> Iterator[SQLiteRepository]:
    opened = SQLiteRepository(path if request.param == "file" else ":memory:")
    yield opened
    opened.close()


class BytesPath:
    def __fspath__(self) -> bytes:
        return b"ledger.db"

    def __repr__(self) -> str:  # a stable test id
        return "BytesPath()"


class BrokenPath:
    def __fspath__(self) -> Any:
        return 42

    def __repr__(self) -> str:  # a stable test id
        return "BrokenPath()"


@pytest.mark.parametrize(
    "options",
    [
        {"durability": ["full"]},
        {"durability": {"full": 1}},
        {"durability": None},
        {"durability": 2},
        {"durability": "FULL"},
        {"busy_timeout": MAX_BUSY_TIMEOUT + 0.001},
        {"busy_timeout": (2**31) / 1000},  # 2**31 ms wraps to a negative int in SQLite
        {"busy_timeout": (2**32) / 1000},  # 2**32 ms wraps to 0: no waiting at all
        {"busy_timeout": 1e10},
        {"busy_timeout": 1e300},
        {"busy_timeout": 2**70},
        {"busy_timeout": -0.001},
        {"busy_timeout": float("inf")},
        {"busy_timeout": float("nan")},
        {"busy_timeout": "5"},
        {"busy_timeout": True},
    ],
    ids=repr,
)
def test_bad_options_raise_validation_error_naming_the_option(path: Path, options: dict[str, Any]) -> None:
    (field,) = options
    with pytest.raises(ValidationError) as raised:
        SQLiteRepository(path, **options)
    assert raised.value.field == field
    if field == "durability":
        with pytest.raises(ValidationError) as raised:
            Ledger.sqlite(path, **options)
        assert raised.value.field == field
    assert not path.exists()


@pytest.mark.parametrize(
    "bad",
    [
        "ledger\0.db",
        Path("dir\0name") / "ledger.db",
        5,
        1.5,
        None,
        b"ledger.db",
        ["ledger.db"],
        BytesPath(),
        BrokenPath(),
    ],
    ids=repr,
)
def test_a_path_that_is_not_a_file_name_raises_validation_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError) as raised:
        Ledger.sqlite(bad)
    assert raised.value.field == "path"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seconds", [0, 0.001, 5, 3600.5, MAX_BUSY_TIMEOUT])
def test_every_busy_timeout_accepted_is_the_one_sqlite_applies(path: Path, seconds: float) -> None:
    repository = SQLiteRepository(path, busy_timeout=seconds)
    try:
        assert repository.settings()["busy_timeout"] == round(seconds * 1000)
    finally:
        repository.close()


def test_the_largest_busy_timeout_still_waits_and_the_lock_is_taken_when_free(path: Path) -> None:
    repository = SQLiteRepository(path, busy_timeout=MAX_BUSY_TIMEOUT)
    try:
        assert repository.settings()["busy_timeout"] == 2**31 - 1  # not wrapped to 0 or below
        with repository.transaction() as uow:
            uow.add_unit("eur", 2)
        with repository.reader() as reader:
            assert reader.units() == {"eur": 2}
    finally:
        repository.close()


# -- cursors and limits past SQLite's integers ------------------------------------------------------


@pytest.mark.parametrize("after", [INT64_MAX, INT64_MAX + 1, 2**64, 10**30, -1, -(2**63) - 1])
def test_a_cursor_past_sqlites_integers_lists_what_follows_it(repository: SQLiteRepository, after: int) -> None:
    ledger = Ledger(repository, clock=ManualClock())
    ledger.grant("ada", 5)
    ledger.burn("ada", 2)
    with repository.reader() as reader:
        found = reader.list_entries(EntryQuery(after_seq=after, limit=10))
        assert [e.kind for e in found] == ([] if after > 0 else ["grant", "burn"])
        for limit in (INT64_MAX, INT64_MAX + 1, 2**80):
            assert len(reader.list_entries(EntryQuery(after_seq=0, limit=limit))) == 2
        assert len(list(iterate_entries(reader, EntryQuery(after_seq=after, limit=2**64)))) == (0 if after > 0 else 2)


def test_a_ledger_cursor_past_sqlites_integers_gives_an_empty_page(repository: SQLiteRepository) -> None:
    import base64

    ledger = Ledger(repository, clock=ManualClock())
    ledger.grant("ada", 5)
    ledger.grant("ada", 6)
    cursor = ledger.entries(limit=1).next_cursor
    assert cursor is not None
    prefix = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rstrip("0123456789")
    for seq in (2**63, 2**64 + 7):
        past = base64.urlsafe_b64encode(f"{prefix}{seq}".encode()).decode().rstrip("=")
        page = ledger.entries(after=past)
        assert list(page.items) == [] and page.next_cursor is None


# -- writes through a reader ------------------------------------------------------------------------


@pytest.mark.parametrize("write", ["add_unit", "save", "record_operation"])
def test_a_write_through_a_reader_raises_storage_error_and_writes_nothing(
    repository: SQLiteRepository, write: str
) -> None:
    ledger = Ledger(repository, clock=ManualClock())
    granted = ledger.grant("ada", 5)
    before = snapshot(ledger)
    record = OperationRecord(
        namespace="key",
        key="k",
        kind="grant",
        fingerprint=(),
        op_id=granted.op_id,
        customer="ada",
        outcome={"block_id": granted.block.id},
    )
    with repository.reader() as reader:
        state = reader.load_account("ada")
        calls = {
            "add_unit": lambda: reader.add_unit("eur", 2),
            "save": lambda: reader.save(ChangeSet.of(state, attrs.evolve(state, next_number=99), [])),
            "record_operation": lambda: reader.record_operation(record),
        }
        with pytest.raises(StorageError, match="reader, which only reads; nothing was written"):
            calls[write]()
        assert reader.units() == {}  # the reader goes on reading
    assert snapshot(ledger) == before
    assert ledger.grant("ada", 1).block.amount == 1  # and writes go on


# -- a second write transaction on one thread ---------------------------------------------------------


def test_a_second_write_transaction_on_one_thread_raises_storage_error_at_once(path: Path) -> None:
    repository = SQLiteRepository(path, busy_timeout=30)
    try:
        with repository.transaction() as uow:
            uow.add_unit("eur", 2)
            started = time.monotonic()
            with (
                pytest.raises(StorageError, match="already has a write transaction open") as raised,
                repository.transaction(),
            ):
                pass
            assert time.monotonic() - started < 5  # not busy_timeout
            assert "asyncio task" in str(raised.value)
            uow.add_unit("jpy", 0)  # the first goes on, and commits
        with repository.reader() as reader:
            assert reader.units() == {"eur": 2, "jpy": 0}
    finally:
        repository.close()


# -- the edges of amounts and times ------------------------------------------------------------------


def test_the_largest_amount_and_the_extreme_times_round_trip(path: Path) -> None:
    clock = ManualClock()
    ledger = Ledger.sqlite(path, clock=clock)
    try:
        granted = ledger.grant("ada", INT64_MAX, expires_at=LATEST)
        assert granted.block.amount == INT64_MAX and granted.block.expires_at == LATEST
        ledger.hold("ada", INT64_MAX - 1, hold_id="h", expires_at=LATEST - timedelta(microseconds=1))
        assert ledger.balance("ada", at=LATEST - timedelta(microseconds=2)).held == INT64_MAX - 1
        assert ledger.balance("ada", at=LATEST).available == 0  # expired at its last instant
        assert ledger.balance("ada", at=EARLIEST).available == 0
        everything = ledger.entries(since=EARLIEST, until=LATEST).items
        assert [e.kind for e in everything] == ["grant", "hold"]
        assert ledger.verify().ok
    finally:
        ledger.close()
    again = Ledger.sqlite(path, clock=clock)
    try:
        (block,) = again.blocks("ada")
        assert block.amount == INT64_MAX and block.expires_at == LATEST
        assert again.get_hold("h").expires_at == LATEST - timedelta(microseconds=1)
    finally:
        again.close()
    assert os.path.exists(path)

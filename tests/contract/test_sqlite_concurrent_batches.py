"""Transactions that another execution context of the same thread holds open: an asyncio task
suspended inside a batch, or a generator suspended inside one.

A read never sees a write transaction that has not committed, not even one of its own thread: on
a file it runs on another connection of the thread and reads the last committed state without
waiting; an in-memory database (one connection) refuses it with StorageError. A second write
transaction on the thread cannot wait for the first (the thread would wait for itself for good):
it raises StorageError at once, saying why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditcore import Ledger, StorageError
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.repository import ChangeSet, EntryQuery
from creditcore.testing.contract import ManualClock


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def on_file(path: Path) -> Iterator[SQLiteRepository]:
    repository = SQLiteRepository(path, busy_timeout=30)
    yield repository
    repository.close()


@pytest.fixture
def in_memory() -> Iterator[SQLiteRepository]:
    repository = SQLiteRepository(":memory:", busy_timeout=30)
    yield repository
    repository.close()


def units(repository: SQLiteRepository) -> dict[str, int]:
    with repository.reader() as reader:
        return reader.units()


def test_a_read_during_a_write_of_the_same_thread_reads_what_is_committed(on_file: SQLiteRepository) -> None:
    ledger = Ledger(on_file, clock=ManualClock())
    ledger.grant("ada", 10)
    with on_file.transaction() as uow:
        uow.add_unit("eur", 2)
        state = uow.load_account("ada")
        uow.save(ChangeSet.of(state, state, []))
        started = time.monotonic()
        with on_file.reader() as reader:  # the write lock is held by this very thread
            assert reader.units() == {}
            assert [e.kind for e in reader.list_entries(EntryQuery())] == ["grant"]
            with on_file.reader() as nested:  # a read inside it shares its snapshot
                assert nested.units() == {}
        assert time.monotonic() - started < 5  # it did not wait for the write
        assert ledger.balance("ada").available == 10
        assert uow.units() == {"eur": 2}  # the write sees its own
    assert units(on_file) == {"eur": 2}


def test_a_read_during_a_write_of_the_same_thread_is_refused_in_memory(in_memory: SQLiteRepository) -> None:
    with in_memory.transaction() as uow:
        uow.add_unit("eur", 2)
        started = time.monotonic()
        with pytest.raises(StorageError, match="in-memory database has one connection"), in_memory.reader():
            pass
        assert time.monotonic() - started < 5
        assert uow.units() == {"eur": 2}  # the write goes on
    assert units(in_memory) == {"eur": 2}


@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_second_write_of_the_same_thread_is_refused_at_once(
    on_file: SQLiteRepository, in_memory: SQLiteRepository, where: str
) -> None:
    repository = on_file if where == "file" else in_memory
    with repository.transaction() as uow:
        uow.add_unit("eur", 2)
        started = time.monotonic()
        with (
            pytest.raises(StorageError, match="already has a write transaction open") as raised,
            repository.transaction() as other,
        ):
            other.add_unit("jpy", 0)
        assert time.monotonic() - started < 5  # not busy_timeout (30 s)
        message = str(raised.value)
        assert "asyncio task" in message and "generator" in message
        uow.add_unit("usd", 2)
    assert units(repository) == {"eur": 2, "usd": 2}


def test_asyncio_tasks_of_one_thread_never_see_or_join_each_others_transaction(on_file: SQLiteRepository) -> None:
    async def main() -> list[object]:
        inside = asyncio.Event()
        finish = asyncio.Event()
        seen: list[object] = []

        async def batch() -> None:
            with on_file.transaction() as uow:
                uow.add_unit("eur", 2)
                inside.set()
                await finish.wait()  # suspended with its transaction open

        async def other() -> None:
            await inside.wait()
            seen.append(units(on_file))  # committed state, without waiting
            try:
                with on_file.transaction() as uow:
                    uow.add_unit("jpy", 0)
            except StorageError as error:
                seen.append(type(error))
            finish.set()

        await asyncio.gather(batch(), other())
        seen.append(units(on_file))
        return seen

    assert asyncio.run(asyncio.wait_for(main(), timeout=20)) == [{}, StorageError, {"eur": 2}]


def test_a_generator_suspended_in_a_transaction_holds_nothing_others_see(on_file: SQLiteRepository) -> None:
    def writer() -> Iterator[None]:
        with on_file.transaction() as uow:
            uow.add_unit("eur", 2)
            yield

    suspended = writer()
    next(suspended)
    assert units(on_file) == {}
    with pytest.raises(StorageError, match="generator"), on_file.transaction():
        pass
    suspended.close()  # its transaction ends without committing
    assert units(on_file) == {}
    with on_file.transaction() as uow:  # and the thread writes again
        uow.add_unit("jpy", 0)
    assert units(on_file) == {"jpy": 0}


def test_a_write_during_a_read_of_the_same_thread_commits_and_later_reads_see_it(on_file: SQLiteRepository) -> None:
    def reading() -> Iterator[dict[str, int]]:
        with on_file.reader() as reader:
            while True:
                yield reader.units()

    suspended = reading()
    assert next(suspended) == {}
    with on_file.transaction() as uow:  # on another connection of the thread
        uow.add_unit("eur", 2)
    assert units(on_file) == {"eur": 2}  # a new read sees the commit
    assert next(suspended) == {}  # the older read keeps its snapshot
    suspended.close()
    assert units(on_file) == {"eur": 2}


def test_a_write_during_a_read_of_the_same_thread_is_refused_in_memory(in_memory: SQLiteRepository) -> None:
    with (
        in_memory.reader(),
        pytest.raises(StorageError, match="in-memory database has one connection"),
        in_memory.transaction(),
    ):
        pass
    with in_memory.transaction() as uow:
        uow.add_unit("eur", 2)
    assert units(in_memory) == {"eur": 2}


def test_the_connections_a_thread_opens_are_reused_and_closed(on_file: SQLiteRepository) -> None:
    for _ in range(3):
        with on_file.transaction(), on_file.reader():
            pass
    assert len(on_file._connections.links) == 2  # one for writes, one for reads during them
    connections = [link.conn for link in on_file._connections.links]
    on_file.close()
    for conn in connections:
        with pytest.raises(Exception, match="closed"):
            conn.execute("SELECT 1")

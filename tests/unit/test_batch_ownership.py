"""A batch (``atomic()``) belongs to the code inside its ``with`` block — not to the thread.

Another asyncio task, a callback, or the code around a generator suspended inside its
``atomic()`` is not in the batch: its writes never join it (they are refused at once, since
waiting in the batch's own thread would never end), and its reads see the last committed
state without waiting. A write from another thread waits for the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from creditcore import Ledger, StorageError
from creditcore.adapters.memory import MemoryRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        made = Ledger.memory(clock=lambda: T0)
    else:
        made = Ledger.sqlite(tmp_path / "ledger.db", clock=lambda: T0)
    made.grant("ada", 100)
    yield made
    made.close()


def available(ledger: Ledger) -> Decimal:
    return ledger.balance("ada").available


def test_a_write_from_another_task_does_not_join_the_batch_nor_share_its_fate(ledger: Ledger) -> None:
    seen: dict[str, object] = {}

    async def batch_a(opened: asyncio.Event, b_done: asyncio.Event) -> None:
        with pytest.raises(RuntimeError), ledger.atomic():
            ledger.burn("ada", 10)
            opened.set()
            await b_done.wait()
            raise RuntimeError("task A fails")

    async def task_b(opened: asyncio.Event, b_done: asyncio.Event) -> None:
        await opened.wait()
        seen["read"] = available(ledger)  # A's burn is not committed: not seen
        with pytest.raises(StorageError, match="another asyncio task"):
            ledger.burn("ada", 1, idempotency_key="b-1")
        b_done.set()

    async def main() -> None:
        opened, b_done = asyncio.Event(), asyncio.Event()
        await asyncio.gather(batch_a(opened, b_done), task_b(opened, b_done))

    asyncio.run(main())
    assert seen["read"] == 100
    assert available(ledger) == 100
    # B's key was never used: its retry burns, once
    assert not ledger.burn("ada", 1, idempotency_key="b-1").replayed
    assert available(ledger) == 99


def test_a_task_started_inside_the_batch_is_not_in_it(ledger: Ledger) -> None:
    async def child() -> None:
        with pytest.raises(StorageError):
            ledger.burn("ada", 1)

    async def main() -> None:
        with ledger.atomic():
            ledger.burn("ada", 10)
            await asyncio.create_task(child())  # a copy of this context, not this batch

    asyncio.run(main())
    assert available(ledger) == 90


def test_writes_inside_a_coroutine_batch_join_it_across_awaits(ledger: Ledger) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError), ledger.atomic():
            ledger.burn("ada", 10)
            await asyncio.sleep(0)
            ledger.burn("ada", 20)
            raise RuntimeError("undo both")

    asyncio.run(main())
    assert available(ledger) == 100


def test_the_code_around_a_suspended_generator_is_not_in_its_batch(ledger: Ledger) -> None:
    def generator() -> Iterator[None]:
        with ledger.atomic():
            ledger.burn("ada", 10)
            yield
            ledger.burn("ada", 5)  # resumed: inside its batch again
            yield

    running = generator()
    next(running)
    assert available(ledger) == 100  # reads the last commit, without waiting
    with pytest.raises(StorageError, match="generator"):
        ledger.burn("ada", 1)
    next(running)
    with contextlib.suppress(StopIteration):
        next(running)
    assert available(ledger) == 85


def test_an_abandoned_generator_batch_rolls_back(ledger: Ledger) -> None:
    def generator() -> Iterator[None]:
        with ledger.atomic():
            ledger.burn("ada", 10)
            yield

    running = generator()
    next(running)
    running.close()  # GeneratorExit inside the with block
    assert available(ledger) == 100
    ledger.burn("ada", 1)  # the thread is free again
    assert available(ledger) == 99


def test_an_exit_stack_batch_takes_the_writes_of_the_code_that_opened_it(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), contextlib.ExitStack() as stack:
        stack.enter_context(ledger.atomic())
        ledger.burn("ada", 10)
        raise RuntimeError("undo")
    assert available(ledger) == 100


def test_nested_batches_join_the_outer_one(ledger: Ledger) -> None:
    def inner() -> None:
        with ledger.atomic():
            ledger.burn("ada", 5)

    with pytest.raises(RuntimeError), ledger.atomic():
        inner()
        ledger.burn("ada", 5)
        raise RuntimeError("undo all")
    assert available(ledger) == 100


def test_a_second_batch_from_another_context_of_the_thread_is_refused(ledger: Ledger) -> None:
    def generator() -> Iterator[None]:
        with ledger.atomic():
            yield

    running = generator()
    next(running)
    with pytest.raises(StorageError), ledger.atomic():
        pass
    running.close()


def _run_batch_in_thread(ledger: Ledger, opened: threading.Event, finish: threading.Event) -> threading.Thread:
    def work() -> None:
        with ledger.atomic():
            ledger.burn("ada", 10)
            opened.set()
            finish.wait(10)

    thread = threading.Thread(target=work)
    thread.start()
    assert opened.wait(10)
    return thread


def test_a_read_from_another_thread_does_not_wait_for_a_batch(ledger: Ledger) -> None:
    opened, finish = threading.Event(), threading.Event()
    thread = _run_batch_in_thread(ledger, opened, finish)
    try:
        started = time.monotonic()
        assert available(ledger) == 100  # the last commit
        assert ledger.entries("ada").items[-1].kind == "grant"
        assert time.monotonic() - started < 2
    finally:
        finish.set()
        thread.join()
    assert available(ledger) == 90


def test_a_write_from_another_thread_waits_for_the_batch(ledger: Ledger) -> None:
    opened, finish = threading.Event(), threading.Event()
    thread = _run_batch_in_thread(ledger, opened, finish)
    threading.Timer(0.2, finish.set).start()
    ledger.burn("ada", 1)  # waits, then runs on its own
    thread.join()
    assert available(ledger) == 89


def test_a_write_that_waits_too_long_for_a_memory_batch_raises_storage_error() -> None:
    ledger = Ledger(MemoryRepository(busy_timeout=0.1), clock=lambda: T0)
    ledger.grant("ada", 100)
    opened, finish = threading.Event(), threading.Event()
    thread = _run_batch_in_thread(ledger, opened, finish)
    try:
        with pytest.raises(StorageError, match="busy_timeout"):
            ledger.burn("ada", 1)
    finally:
        finish.set()
        thread.join()
    assert available(ledger) == 90


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan"), "5", True, 10**12])
def test_a_bad_memory_busy_timeout_names_its_field(bad: object) -> None:
    from creditcore import ValidationError

    with pytest.raises(ValidationError) as raised:
        MemoryRepository(busy_timeout=bad)  # type: ignore[arg-type]
    assert raised.value.field == "busy_timeout"


def test_a_memory_reader_cannot_write() -> None:
    repository = MemoryRepository()
    with repository.reader() as reader, pytest.raises(StorageError, match="reader"):
        reader.add_unit("eur", 2)  # type: ignore[attr-defined]


def test_writes_through_a_memory_transaction_after_it_ended_are_refused() -> None:
    repository = MemoryRepository()
    with repository.transaction() as uow:
        pass
    with pytest.raises(StorageError, match="ended"):
        uow.add_unit("eur", 2)
    with repository.reader() as reader:
        assert reader.units() == {}

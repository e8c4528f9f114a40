"""Batches (``atomic()``): a unit of work shared by the writes of one ``with`` block.

A batch belongs to the code inside its ``with`` statement: the thread that opened it and,
in that thread, the code whose call stack passes through the frame of the ``with``
statement. So another asyncio task, a callback, or the code around a generator suspended
inside its ``atomic()`` is not in the batch although it runs in the same thread (and, for a
task started inside the batch or a generator's caller, in the same ``contextvars``
context — which is why a context variable cannot tell them apart).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from contextlib import AbstractContextManager
from typing import Any

from creditcore.errors import StorageError
from creditcore.repository import Repository, UnitOfWork

# frames of these files stand between atomic() and the code that opened it (contextlib's
# ExitStack, for one), so the batch belongs to the first frame outside them
_PLUMBING = frozenset({contextlib.__file__, __file__})


class Batch:
    """An open ``atomic()`` block: its unit of work, the first error of a write inside it,
    the units it declared (known to the ledger only once it commits), and the frame of the
    ``with`` statement that opened it."""

    __slots__ = ("failure", "frame", "scales", "uow")

    def __init__(self, uow: UnitOfWork, frame: Any) -> None:
        self.uow = uow
        self.frame = frame
        self.failure: BaseException | None = None
        self.scales: dict[str, int] = {}

    def includes_caller(self) -> bool:
        """Whether the code running now is inside the ``with`` block (its frame is on the
        stack)."""
        frame: Any = sys._getframe(1)
        target = self.frame
        while frame is not None:
            if frame is target:
                return True
            frame = frame.f_back
        return False

    def where(self) -> str:
        code = self.frame.f_code
        return f"{code.co_filename}:{self.frame.f_lineno} ({code.co_name})"


class Batches:
    """The batch each thread has open, at most one (a second could never get its turn)."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[int, Batch] = {}

    def current(self) -> Batch | None:
        """The batch the caller is inside, if any."""
        batch = self._open.get(threading.get_ident())
        if batch is None or not batch.includes_caller():
            return None
        return batch

    def doom(self, error: BaseException) -> None:
        """Inside a batch, the first error of a write — even one the caller catches — rolls
        the whole batch back when the block ends."""
        batch = self._open.get(threading.get_ident())
        if batch is not None and batch.failure is None and batch.includes_caller():
            batch.failure = error

    def atomic(self, repository: Repository, commit: Any) -> AbstractContextManager[None]:
        """A ``with`` block whose writes commit together; ``commit(batch)`` runs once the
        batch is committed."""
        return _Atomic(self, repository, commit)

    def transaction(self, repository: Repository) -> AbstractContextManager[UnitOfWork]:
        """The caller's batch's unit of work, or a transaction of its own."""
        return _WriteScope(self, repository)


def busy_thread(batch: Batch) -> StorageError:
    return StorageError(
        "this thread has a ledger batch open elsewhere (another asyncio task, a callback, or a suspended "
        f"generator; opened at {batch.where()}): a write here would have to wait for it, and it cannot "
        "finish while this thread waits. Write inside that `with ledger.atomic():` block, or after it ends"
    )


class _Atomic:
    __slots__ = ("_batch", "_batches", "_commit", "_inner", "_repository", "_thread")

    def __init__(self, batches: Batches, repository: Repository, commit: Any) -> None:
        self._batches = batches
        self._repository = repository
        self._commit = commit
        self._batch: Batch | None = None
        self._inner: AbstractContextManager[UnitOfWork] | None = None
        self._thread = 0

    def __enter__(self) -> None:
        batches = self._batches
        if batches.current() is not None:
            return None  # nested: joins the batch the caller is in
        thread = threading.get_ident()
        open_batch = batches._open.get(thread)
        if open_batch is not None:
            raise busy_thread(open_batch)
        frame: Any = sys._getframe(1)
        while frame.f_back is not None and frame.f_code.co_filename in _PLUMBING:
            frame = frame.f_back
        inner = self._repository.transaction()
        uow = inner.__enter__()
        self._inner = inner
        self._thread = thread
        self._batch = batches._open[thread] = Batch(uow, frame)
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool | None:
        batch, inner = self._batch, self._inner
        if batch is None or inner is None:
            return None  # a nested block: the outer one decides
        self._batch = self._inner = None
        # by the thread that opened it: a generator holding a batch may be closed by another
        if self._batches._open.get(self._thread) is batch:
            del self._batches._open[self._thread]
        failure = batch.failure if error is None else error
        batch.frame = None
        if failure is None:
            inner.__exit__(None, None, None)  # COMMIT; raises (and keeps nothing) if it fails
            self._commit(batch)
            return None
        inner.__exit__(type(failure), failure, failure.__traceback__)
        if error is None:
            raise failure  # a write failed and the code inside caught it: the batch is void
        return None


class _WriteScope:
    """The caller's batch, or a transaction of its own (a class rather than a generator:
    every write enters one)."""

    __slots__ = ("_batches", "_inner", "_repository")

    def __init__(self, batches: Batches, repository: Repository) -> None:
        self._batches = batches
        self._repository = repository
        self._inner: AbstractContextManager[UnitOfWork] | None = None

    def __enter__(self) -> UnitOfWork:
        open_batch = self._batches._open.get(threading.get_ident())
        if open_batch is not None:
            if open_batch.includes_caller():
                return open_batch.uow
            raise busy_thread(open_batch)
        self._inner = self._repository.transaction()
        return self._inner.__enter__()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool | None:
        if self._inner is None:
            return None  # the batch's: the write's error dooms it (Batches.doom)
        return self._inner.__exit__(kind, error, trace)

"""Nothing a Ledger caches outlives a transaction that did not commit, whatever step failed:
a unit declared in a batch is known only once the batch commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creditcore import Ledger, StorageError, ValidationError
from creditcore.adapters.memory import MemoryRepository
from creditcore.repository import UnitOfWork

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FailingCommit:
    """A repository whose next commit fails (as a full disk fails a COMMIT): the
    transaction's changes are dropped and the commit raises StorageError."""

    def __init__(self, inner: MemoryRepository) -> None:
        self.inner = inner
        self.fail_next = False

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        with self.inner.transaction() as uow:
            try:
                yield uow
            except BaseException:
                raise
            if self.fail_next:
                self.fail_next = False
                raise StorageError("could not commit: database or disk is full")

    def reader(self) -> AbstractContextManager[Any]:
        return self.inner.reader()

    def close(self) -> None:
        self.inner.close()


def test_a_unit_declared_in_a_batch_whose_commit_fails_is_unknown_afterwards() -> None:
    repository = FailingCommit(MemoryRepository())
    ledger = Ledger(repository, clock=lambda: T0)  # type: ignore[arg-type]
    repository.fail_next = True
    with pytest.raises(StorageError), ledger.atomic():
        ledger.define_unit("jpy", 0)
        ledger.grant("ada", 5, unit="jpy")
    with pytest.raises(ValidationError) as raised:
        ledger.grant("ada", 5, unit="jpy")
    assert raised.value.field == "unit"
    assert ledger.units() == {"credits": 0}
    # declaring it again with another scale is a first declaration, not a revaluation
    ledger.define_unit("jpy", 3)
    assert ledger.grant("ada", "1.5", unit="jpy").block.remaining == Decimal("1.5")


def test_a_unit_declared_alone_whose_commit_fails_is_unknown_afterwards() -> None:
    repository = FailingCommit(MemoryRepository())
    ledger = Ledger(repository, clock=lambda: T0)  # type: ignore[arg-type]
    repository.fail_next = True
    with pytest.raises(StorageError):
        ledger.define_unit("jpy", 0)
    assert ledger.units() == {"credits": 0}
    with pytest.raises(ValidationError):
        ledger.burn("ada", 1, unit="jpy")


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger.memory(clock=lambda: T0) if request.param == "memory" else Ledger.sqlite(tmp_path / "l.db")
    yield made
    made.close()


def test_a_unit_declared_in_a_batch_that_rolls_back_is_unknown(ledger: Ledger) -> None:
    with pytest.raises(ValidationError), ledger.atomic():
        ledger.define_unit("jpy", 3)
        ledger.grant("ada", "-1", unit="jpy")  # refused: the batch rolls back with the declaration
    assert "jpy" not in ledger.units()
    with pytest.raises(ValidationError):
        ledger.grant("ada", 1, unit="jpy")
    ledger.define_unit("jpy", 0)
    assert ledger.units()["jpy"] == 0


def test_a_unit_read_inside_a_batch_that_declared_it_is_not_cached_for_others(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), ledger.atomic():
        ledger.define_unit("eur", 2)
        assert ledger.balance("ada", unit="eur").available == 0  # known inside its batch
        raise RuntimeError("roll back")
    with pytest.raises(ValidationError):
        ledger.balance("ada", unit="eur")


def test_a_unit_declared_in_a_batch_that_commits_is_known(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.define_unit("eur", 2)
        ledger.grant("ada", "1.25", unit="eur")
    assert ledger.balance("ada", unit="eur").available == Decimal("1.25")
    assert ledger.units()["eur"] == 2

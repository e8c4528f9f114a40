"""What every part of the repository contract stands on: the adapter's factory, an
optional way to reopen its store, and the fixtures (a clock moved by hand, a fresh
repository, a ledger over it) the tests take by name."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditcore.ledger import Ledger
from creditcore.repository import Repository
from creditcore.testing.contract.script import UNITS, ManualClock


class ContractBase(abc.ABC):
    """The factory and fixtures of :class:`~creditcore.testing.contract.RepositoryContract`.

    Subclasses implement :meth:`make_repository`; adapters that keep data beyond the
    repository object also implement :meth:`reopen` (otherwise the reopening tests skip).
    """

    units = UNITS
    #: Whether a reader in one thread runs while a write transaction is open in another
    #: (every adapter but one whose threads share a single connection, like SQLite ``:memory:``).
    concurrent_readers = True

    @abc.abstractmethod
    def make_repository(self, tmp_path: Path) -> Repository:
        """A new, empty repository (``tmp_path`` is a fresh directory for this test)."""

    def reopen(self, repository: Repository, tmp_path: Path) -> Repository | None:
        """Close ``repository`` and open the same store again; ``None`` if the adapter keeps
        nothing once closed (the reopening tests then skip)."""
        return None

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def repository(self, tmp_path: Path) -> Iterator[Repository]:
        repository = self.make_repository(tmp_path)
        yield repository
        repository.close()

    @pytest.fixture
    def ledger(self, repository: Repository, clock: ManualClock) -> Ledger:
        return Ledger(repository, clock=clock, units=self.units)

    def reopened(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> Ledger:
        """A new ledger over the reopened store of ``ledger``; skips if the adapter cannot."""
        repository = self.reopen(ledger.repository, tmp_path)
        if repository is None:
            pytest.skip("this adapter keeps nothing once closed: no reopen()")
        return Ledger(repository, clock=clock)

"""The repository contract: behaviour every storage adapter must show, run through a
:class:`~creditcore.Ledger`.

Prove an adapter by subclassing :class:`RepositoryContract` in a test module and giving it a
factory (and, for an adapter that persists, a way to reopen the store)::

    from creditcore.testing.contract import RepositoryContract

    class TestMyRepository(RepositoryContract):
        def make_repository(self, tmp_path):
            return MyRepository(tmp_path / "ledger.db")

        def reopen(self, repository, tmp_path):
            repository.close()
            return MyRepository(tmp_path / "ledger.db")

pytest collects the subclass (its name starts with ``Test``), never the base class. The
tests use pytest's ``tmp_path`` and a clock they move by hand; none reads the wall clock.
Importing this module needs pytest (``pip install "creditcore[test]"``).

The tests come in groups, one mixin each, all combined into :class:`RepositoryContract`:
:class:`~creditcore.testing.contract.writes.WriteContract` (writes round-trip, keys replay),
:class:`~creditcore.testing.contract.reads.ReadContract` (entries, paging, filters, the past),
:class:`~creditcore.testing.contract.transactions.TransactionContract` (atomicity, readers and
writers, threads), :class:`~creditcore.testing.contract.reopening.ReopeningContract` (what
survives a reopen) and :class:`~creditcore.testing.contract.settings.SettingsContract`
(schedules, top-up rules, alerts and the event outbox) and
:class:`~creditcore.testing.contract.billing.BillingStorageContract` (billing's rows). Their factory and fixtures are in
:class:`~creditcore.testing.contract.base.ContractBase`; the seeded workload and the helpers
other suites import from here (:class:`ManualClock`, :func:`snapshot`, :func:`run_script`, ...)
are in :mod:`creditcore.testing.contract.script`.
"""

from __future__ import annotations

from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.billing import BillingStorageContract
from creditcore.testing.contract.reads import ReadContract
from creditcore.testing.contract.reopening import ReopeningContract
from creditcore.testing.contract.script import (
    DAY,
    HOUR,
    START,
    UNITS,
    D,
    ManualClock,
    assert_same_transcript,
    describe,
    normalise_ids,
    run_script,
    snapshot,
)
from creditcore.testing.contract.settings import SettingsContract
from creditcore.testing.contract.transactions import TransactionContract
from creditcore.testing.contract.writes import WriteContract

__all__ = [
    "DAY",
    "HOUR",
    "START",
    "UNITS",
    "BillingStorageContract",
    "ContractBase",
    "D",
    "ManualClock",
    "ReadContract",
    "ReopeningContract",
    "RepositoryContract",
    "SettingsContract",
    "TransactionContract",
    "WriteContract",
    "assert_same_transcript",
    "describe",
    "normalise_ids",
    "run_script",
    "snapshot",
]


class RepositoryContract(
    WriteContract, ReadContract, TransactionContract, ReopeningContract, SettingsContract, BillingStorageContract
):
    """Behaviour tests every :class:`~creditcore.repository.Repository` must pass.

    Subclasses implement :meth:`make_repository`; adapters that keep data beyond the
    repository object also implement :meth:`reopen` (otherwise the reopening tests skip).
    """

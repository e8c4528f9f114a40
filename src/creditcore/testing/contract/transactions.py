"""The contract's transactions: an atomic block commits or leaves nothing, a failed unit of
work writes nothing, readers are not held up by a writer, and threads sharing a ledger
never overspend."""

from __future__ import annotations

import threading
import time

import attrs
import pytest

from creditcore.errors import InsufficientCredits, NotFound
from creditcore.ledger import Ledger
from creditcore.repository import ChangeSet, Repository
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import ManualClock, snapshot


class TransactionContract(ContractBase):
    """Atomic writes, isolation between a reader and a writer, and concurrent writers."""

    def test_atomic_rollback_leaves_nothing(self, ledger: Ledger) -> None:
        ledger.grant("ada", 1)
        before = snapshot(ledger)
        with pytest.raises(RuntimeError, match="boom"), ledger.atomic():
            ledger.define_unit("eur", 2)
            ledger.grant("ada", 10, idempotency_key="k")
            ledger.grant("bob", "1.5", unit="eur")
            ledger.hold("ada", 5, hold_id="h")
            ledger.burn("ada", 2)
            raise RuntimeError("boom")
        assert snapshot(ledger) == before
        assert ledger.units() == {"credits": 0, "usd": 2}
        with pytest.raises(NotFound):
            ledger.get_hold("h")
        assert ledger.grant("ada", 3, idempotency_key="k").replayed is False  # the key was not kept

    def test_atomic_commits_its_writes_together(self, ledger: Ledger) -> None:
        with ledger.atomic():
            ledger.grant("ada", 10)
            ledger.burn("ada", 4)
            assert ledger.balance("ada").available == 6  # reads inside see the writes
        assert [e.kind for e in ledger.entries().items] == ["grant", "burn"]

    def test_a_transaction_reads_its_own_writes(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            uow.add_unit("eur", 2)
            assert uow.units()["eur"] == 2

    def test_a_reader_sees_the_last_commit_and_never_waits_for_a_transaction(
        self, repository: Repository, clock: ManualClock
    ) -> None:
        if not self.concurrent_readers:
            pytest.skip("this adapter serves every thread from one connection: a reader waits for a writer")
        ledger = Ledger(repository, clock=clock)
        ledger.grant("ada", 5)
        opened, finish = threading.Event(), threading.Event()

        def write() -> None:
            with ledger.atomic():
                ledger.define_unit("eur", 2)
                ledger.grant("ada", 7)
                opened.set()
                finish.wait(10)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert opened.wait(10)
            started = time.monotonic()
            with repository.reader() as reader:
                assert "eur" not in reader.units()
                assert len(reader.history("ada")[2]) == 1
            assert ledger.balance("ada").available == 5
            assert time.monotonic() - started < 2, "a read waited for a write transaction"
        finally:
            finish.set()
            writer.join()
        assert ledger.balance("ada").available == 12

    def test_a_failed_unit_of_work_writes_nothing(self, repository: Repository, clock: ManualClock) -> None:
        ledger = Ledger(repository, clock=clock)
        ledger.grant("ada", 5)
        before = snapshot(ledger)
        with pytest.raises(RuntimeError), repository.transaction() as uow:
            uow.add_unit("eur", 2)
            state = uow.load_account("ada")
            uow.save(ChangeSet.of(state, attrs.evolve(state, next_number=99), []))
            raise RuntimeError("abandon")
        assert snapshot(ledger) == before

    def test_threads_sharing_a_ledger_never_overspend(self, ledger: Ledger) -> None:
        ledger.grant("ada", 60)
        outcomes: list[str] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(25):
                try:
                    ledger.burn("ada", 1)
                    outcome = "burned"
                except InsufficientCredits:
                    outcome = "refused"
                with lock:
                    outcomes.append(outcome)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("burned") == 60 and outcomes.count("refused") == 40
        assert ledger.balance("ada").available == 0
        assert ledger.verify().ok

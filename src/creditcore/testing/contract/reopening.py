"""The contract's reopening: units, every stored value and the idempotency keys survive
closing the store and opening it again (adapters without :meth:`reopen` skip these)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from creditcore.errors import IdempotencyConflict, ValidationError
from creditcore.ledger import Ledger
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import DAY, HOUR, START, ManualClock, snapshot


class ReopeningContract(ContractBase):
    """What must outlive the repository object: units, state, history and keys."""

    def test_units_are_persisted(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        ledger.define_unit("eur", 3)
        other = Ledger(ledger.repository, clock=clock)
        assert other.units() == {"credits": 0, "usd": 2, "eur": 3}
        assert other.grant("ada", "1.005", unit="eur").block.amount == Decimal("1.005")
        with pytest.raises(ValidationError):
            other.define_unit("eur", 2)
        repository = self.reopen(ledger.repository, tmp_path)
        if repository is None:
            return
        reopened = Ledger(repository, clock=clock)
        try:
            assert reopened.units() == {"credits": 0, "usd": 2, "eur": 3}
            assert reopened.balance("ada", unit="eur").available == Decimal("1.005")
        finally:
            reopened.close()

    def test_replays_survive_reopening(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        grant = ledger.grant("ada", "2.50", unit="usd", idempotency_key="g", expires_at=START + DAY)
        burn = ledger.burn("ada", 1, unit="usd", idempotency_key="b")
        held = ledger.hold("ada", "0.5", unit="usd", hold_id="h")
        captured = ledger.capture("h")
        reversed_ = ledger.reverse(burn.op_id, idempotency_key="r")
        reopened = self.reopened(ledger, clock, tmp_path)
        try:
            assert reopened.grant("ada", "2.50", unit="usd", idempotency_key="g", expires_at=START + DAY) == (
                attrs.evolve(grant, replayed=True)
            )
            assert reopened.burn("ada", 1, unit="usd", idempotency_key="b") == attrs.evolve(burn, replayed=True)
            assert reopened.hold("ada", "0.5", unit="usd", hold_id="h") == attrs.evolve(held, replayed=True)
            assert reopened.capture("h") == attrs.evolve(captured, replayed=True)
            assert reopened.reverse(burn.op_id, idempotency_key="r") == attrs.evolve(reversed_, replayed=True)
            with pytest.raises(IdempotencyConflict):
                reopened.burn("ada", 2, unit="usd", idempotency_key="b")
        finally:
            reopened.close()

    def test_everything_survives_reopening(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        ledger.define_unit("eur", 3)
        block = ledger.grant("ada", 10, expires_at=START + DAY, metadata={"a": "b"}).block
        ledger.grant("bob", "1.5", unit="usd", scope={"trip"}, effective_at=START + HOUR)
        ledger.hold("ada", 4, hold_id="h1", expires_at=START + 2 * HOUR)
        ledger.void(block.id, 2, reason="refund")
        ledger.burn("ada", 9, overdraft="debt", idempotency_key="b")
        before = snapshot(ledger)
        balances = {c: ledger.balances(c) for c in ("ada", "bob")}
        reopened = self.reopened(ledger, clock, tmp_path)
        try:
            assert snapshot(reopened) == before
            assert reopened.units() == {"credits": 0, "usd": 2, "eur": 3}
            assert {c: reopened.balances(c) for c in ("ada", "bob")} == balances
            assert reopened.verify().ok
        finally:
            reopened.close()

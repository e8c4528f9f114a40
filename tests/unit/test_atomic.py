"""SPEC §3 atomic(): the writes inside commit together or not at all; nested blocks join."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import InsufficientCredits, Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Boom(Exception):
    pass


def test_writes_inside_atomic_commit_together(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        ledger.grant("bob", 5, at=T0)
        ledger.burn("ada", 3, at=T0)
        ledger.hold("bob", 2, hold_id="h1", at=T0)
    assert ledger.balance("ada").available == Decimal(7)
    assert ledger.balance("bob").held == Decimal(2)
    assert [e.kind for e in ledger.entries().items] == ["grant", "grant", "burn", "hold"]


def test_reads_inside_atomic_see_its_own_writes(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        assert ledger.balance("ada").available == Decimal(10)
        ledger.burn("ada", 4, at=T0)
        assert ledger.balance("ada").available == Decimal(6)


def test_an_error_inside_atomic_rolls_every_write_back(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    before = ledger.entries().items
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 10, at=T0 + DAY)
        ledger.grant("bob", 10, at=T0 + DAY)
        ledger.hold("ada", 5, hold_id="h1", at=T0 + DAY)
        raise Boom
    assert ledger.entries().items == before
    assert ledger.balance("ada").available == Decimal(1)
    assert ledger.balances("bob") == {}
    assert ledger.holds("ada", status=None) == []
    # the rolled-back history does not hold the customer's time back
    assert ledger.grant("ada", 1, at=T0).entries[0].at == T0


def test_a_ledger_error_inside_atomic_rolls_back_and_propagates(ledger: Ledger) -> None:
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        ledger.burn("ada", 11, at=T0)
    assert ledger.entries().items == ()
    assert ledger.balance("ada").granted == Decimal(0)


def test_a_caught_ledger_error_still_rolls_the_block_back(ledger: Ledger) -> None:
    with pytest.raises(InsufficientCredits), ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        with contextlib.suppress(InsufficientCredits):
            ledger.burn("ada", 11, at=T0)
        ledger.grant("ada", 5, at=T0)
    assert ledger.entries().items == ()


def test_idempotency_keys_written_in_a_rolled_back_block_are_forgotten(ledger: Ledger) -> None:
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 10, idempotency_key="g1", at=T0)
        ledger.hold("ada", 4, hold_id="h1", at=T0)
        raise Boom
    result = ledger.grant("ada", 20, idempotency_key="g1", at=T0)
    assert (result.replayed, result.block.amount) == (False, Decimal(20))
    assert ledger.hold("ada", 5, hold_id="h1", at=T0).replayed is False


def test_nested_atomic_joins_the_outer_block(ledger: Ledger) -> None:
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        with ledger.atomic():
            ledger.grant("bob", 10, at=T0)
        # the inner block has not committed on its own
        raise Boom
    assert ledger.entries().items == ()


def test_an_error_in_a_nested_block_rolls_back_the_outer_one(ledger: Ledger) -> None:
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        with ledger.atomic():
            ledger.grant("bob", 10, at=T0)
            raise Boom
    assert ledger.entries().items == ()


def test_nested_blocks_commit_with_the_outer_one(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        with ledger.atomic():
            ledger.burn("ada", 4, at=T0)
    assert ledger.balance("ada").available == Decimal(6)
    assert [e.kind for e in ledger.entries().items] == ["grant", "burn"]


def test_seq_stays_strictly_increasing_after_a_rollback(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 1, at=T0)
        raise Boom
    ledger.grant("ada", 1, at=T0)
    seqs = [e.seq for e in ledger.entries().items]
    assert len(seqs) == 2
    assert seqs[0] < seqs[1]


def test_the_ledger_works_normally_after_a_rolled_back_block(ledger: Ledger) -> None:
    with pytest.raises(Boom), ledger.atomic():
        ledger.grant("ada", 10, at=T0)
        raise Boom
    with ledger.atomic():
        ledger.grant("ada", 3, at=T0)
    ledger.burn("ada", 1, at=T0)
    assert ledger.balance("ada").available == Decimal(2)


def test_a_unit_declared_in_a_rolled_back_block_is_undeclared(ledger: Ledger) -> None:
    with pytest.raises(Boom), ledger.atomic():
        ledger.define_unit("usd", 2)
        raise Boom
    assert ledger.units() == {"credits": 0}
    with pytest.raises(ValidationError) as caught:
        ledger.grant("ada", "1.50", unit="usd", at=T0)
    assert caught.value.field == "unit"

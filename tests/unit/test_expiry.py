"""SPEC §1 intervals and §3 expiry: half-open validity, lazy recording in time order, and the
rule that a failed write records nothing — not even what fell due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, InsufficientCredits, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def test_block_is_usable_until_one_microsecond_before_it_expires(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    assert ledger.burn("ada", 1, at=T0 + DAY - US).burned == Decimal(1)


def test_block_is_not_usable_at_its_expires_at(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 1, at=T0 + DAY)
    assert caught.value.available == Decimal(0)
    with pytest.raises(InsufficientCredits):
        ledger.hold("ada", 1, hold_id="h1", at=T0 + DAY)


def test_upcoming_block_becomes_usable_exactly_at_effective_at(ledger: Ledger) -> None:
    ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0)
    assert ledger.balance("ada", at=T0 + DAY - US).available == Decimal(0)
    assert ledger.balance("ada", at=T0 + DAY - US).upcoming == Decimal(10)
    assert ledger.balance("ada", at=T0 + DAY).available == Decimal(10)
    assert ledger.balance("ada", at=T0 + DAY).upcoming == Decimal(0)
    assert ledger.hold("ada", 10, hold_id="h1", at=T0 + DAY).hold.amount == Decimal(10)


def test_expiry_is_recorded_lazily_before_the_next_write(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.burn("ada", 3, at=T0)
    assert ledger.entries("ada", kinds=["expire"]).items == ()
    result = ledger.grant("ada", 5, at=T0 + 3 * DAY)
    # the expiry is not part of the grant's own result, but it is written before it
    assert [e.kind for e in result.entries] == ["grant"]
    items = ledger.entries("ada").items
    assert [(e.kind, e.amount, e.at) for e in items] == [
        ("grant", Decimal(10), T0),
        ("burn", Decimal(3), T0),
        ("expire", Decimal(7), T0 + DAY),
        ("grant", Decimal(5), T0 + 3 * DAY),
    ]
    assert items[2].block_id == block
    assert items[2].available_after == Decimal(0)
    assert ledger.get_block(block).status == "expired"


def test_reads_count_an_expiry_without_writing_it(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    later = T0 + 2 * DAY
    balance = ledger.balance("ada", at=later)
    assert (balance.available, balance.expired) == (Decimal(0), Decimal(10))
    identity(balance)
    assert ledger.get_block(block, at=later).status == "expired"
    assert ledger.get_block(block, at=later).available == Decimal(0)
    assert ledger.blocks("ada", at=later) == []
    assert ledger.preview_burn("ada", 1, at=later).shortfall == Decimal(1)
    assert ledger.entries("ada", kinds=["expire"]).items == ()


def test_expiry_records_only_the_unheld_remaining(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.burn("ada", 2, at=T0)
    ledger.hold("ada", 3, hold_id="h1", at=T0)
    ledger.grant("ada", 1, at=T0 + 2 * DAY)
    (expire,) = ledger.entries("ada", kinds=["expire"]).items
    assert (expire.amount, expire.at) == (Decimal(5), T0 + DAY)


def test_due_expiries_and_timeouts_are_recorded_in_time_order(ledger: Ledger) -> None:
    late = ledger.grant("ada", 3, expires_at=T0 + 3 * DAY, at=T0).block.id
    early = ledger.grant("ada", 4, expires_at=T0 + DAY, at=T0).block.id
    ledger.grant("ada", 20, at=T0)
    ledger.hold("ada", 5, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)  # pins 4 of early + 1 of late
    ledger.burn("ada", 1, at=T0 + 4 * DAY)
    due = [
        (e.kind, e.block_id, e.amount, e.at)
        for e in ledger.entries("ada", kinds=["expire", "release"]).items
    ]  # fmt: skip
    assert due == [
        ("release", early, Decimal(4), T0 + 2 * DAY),
        ("expire", early, Decimal(4), T0 + 2 * DAY),
        ("release", late, Decimal(1), T0 + 2 * DAY),
        ("expire", late, Decimal(3), T0 + 3 * DAY),
    ]
    times = [e.at for e in ledger.entries("ada").items]
    assert times == sorted(times)


def test_failed_write_records_no_expiry_that_fell_due(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    before = snapshot()
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, at=T0 + 2 * DAY)
    assert snapshot() == before
    # the next successful write records it
    ledger.burn("ada", 1, overdraft="partial", at=T0 + 2 * DAY)
    assert [e.at for e in ledger.entries("ada", kinds=["expire"]).items] == [T0 + DAY]


def test_expiry_of_one_customer_is_not_recorded_by_a_write_to_another(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("bob", 10, at=T0 + 2 * DAY)
    assert ledger.entries(kinds=["expire"]).items == ()
    assert ledger.balance("ada", at=T0 + 2 * DAY).expired == Decimal(10)


def test_expiry_leaves_other_blocks_usable(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    keeper = ledger.grant("ada", 5, at=T0).block.id
    result = ledger.burn("ada", 5, at=T0 + DAY)
    assert [(e.block_id, e.amount) for e in result.entries] == [(keeper, Decimal(5))]


def test_depleted_block_writes_no_expire_entry(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.burn("ada", 10, at=T0)
    ledger.grant("ada", 1, at=T0 + 2 * DAY)
    assert ledger.entries("ada", kinds=["expire"]).items == ()
    assert ledger.get_block(block).status == "depleted"
    assert ledger.balance("ada").expired == Decimal(0)


def test_hold_timeout_is_recorded_lazily_before_the_next_write(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    assert ledger.holds("ada", status="active", at=T0 + HOUR - US)[0].id == "h1"
    assert ledger.entries("ada", kinds=["release"]).items == ()
    result = ledger.burn("ada", 10, at=T0 + DAY)  # needs the timed-out credit back
    assert result.burned == Decimal(10)
    (release,) = ledger.entries("ada", kinds=["release"]).items
    assert (release.amount, release.at, release.hold_id) == (Decimal(6), T0 + HOUR, "h1")


def test_a_burn_at_the_timeout_instant_uses_the_freed_credit(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 10, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, at=T0 + HOUR - US)
    result = ledger.burn("ada", 10, at=T0 + HOUR)
    assert result.burned == Decimal(10)
    assert [e.kind for e in ledger.entries("ada").items] == ["grant", "hold", "release", "burn"]

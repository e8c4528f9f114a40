"""SPEC §3 hold / capture / release: pinning, partial capture, replays, ends, timeouts and the
held-block-expires cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import (
    Balance,
    Conflict,
    HoldNotActive,
    InsufficientCredits,
    Ledger,
    NotFound,
    ValidationError,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def kinds(result: object) -> list[tuple[str, str | None, Decimal]]:
    return [(e.kind, e.block_id, e.amount) for e in result.entries]  # type: ignore[attr-defined]


# -- placing a hold -------------------------------------------------------------------------------


def test_hold_pins_blocks_in_burn_order(ledger: Ledger) -> None:
    c = ledger.grant("ada", 10, priority=30, at=T0).block.id
    a = ledger.grant("ada", 4, priority=10, at=T0).block.id
    b = ledger.grant("ada", 3, priority=20, at=T0).block.id
    result = ledger.hold("ada", 9, hold_id="job-1", at=T0)
    assert result.hold.allocations == ((a, Decimal(4)), (b, Decimal(3)), (c, Decimal(2)))
    assert kinds(result) == [("hold", a, Decimal(4)), ("hold", b, Decimal(3)), ("hold", c, Decimal(2))]
    assert all(e.hold_id == "job-1" for e in result.entries)
    assert ledger.get_block(c).held == Decimal(2)
    assert ledger.get_block(c).available == Decimal(8)


def test_held_credit_stops_being_available_at_once(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 7, hold_id="h1", at=T0)
    balance = ledger.balance("ada", at=T0)
    assert (balance.available, balance.held, balance.used) == (Decimal(3), Decimal(7), Decimal(0))
    identity(balance)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 4, at=T0)
    assert caught.value.available == Decimal(3)
    with pytest.raises(InsufficientCredits):
        ledger.hold("ada", 4, hold_id="h2", at=T0)


def test_hold_is_all_or_nothing(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 5, at=T0)
    before = snapshot()
    with pytest.raises(InsufficientCredits) as caught:
        ledger.hold("ada", 6, hold_id="h1", at=T0)
    assert (caught.value.requested, caught.value.available) == (Decimal(6), Decimal(5))
    assert snapshot() == before
    assert ledger.holds("ada") == []
    with pytest.raises(NotFound):
        ledger.get_hold("h1")


def test_hold_for_an_unknown_customer_finds_no_credit(ledger: Ledger) -> None:
    with pytest.raises(InsufficientCredits):
        ledger.hold("ghost", 1, hold_id="h1")


def test_scoped_hold_uses_scoped_then_unscoped_credit(ledger: Ledger) -> None:
    unscoped = ledger.grant("ada", 10, at=T0).block.id
    scoped = ledger.grant("ada", 2, scope={"trip"}, at=T0).block.id
    ledger.grant("ada", 50, scope={"food"}, at=T0)
    hold = ledger.hold("ada", 5, hold_id="h1", scope="trip", at=T0).hold
    assert hold.allocations == ((scoped, Decimal(2)), (unscoped, Decimal(3)))
    assert hold.scope == frozenset({"trip"})


def test_unscoped_hold_never_pins_scoped_credit(ledger: Ledger) -> None:
    ledger.grant("ada", 10, scope={"trip"}, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.hold("ada", 1, hold_id="h1", at=T0)


def test_hold_records_its_fields(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    result = ledger.hold(
        "ada", 6, hold_id="h1", expires_at=T0 + HOUR, description="render", metadata={"job": "9"}, at=T0
    )
    hold = ledger.get_hold("h1", at=T0)
    assert hold == result.hold
    assert (hold.id, hold.customer, hold.unit, hold.amount, hold.status) == (
        "h1", "ada", "credits", Decimal(6), "active",
    )  # fmt: skip
    assert hold.allocations == ((block, Decimal(6)),)
    assert hold.captured == Decimal(0)
    assert (hold.expires_at, hold.created_at, hold.settled_at) == (T0 + HOUR, T0, None)
    assert (hold.scope, hold.description, hold.metadata) == (None, "render", {"job": "9"})


@pytest.mark.parametrize("expires_at", [T0, T0 - US])
def test_hold_expires_at_must_be_later_than_at(ledger: Ledger, expires_at: datetime) -> None:
    ledger.grant("ada", 10, at=T0)
    with pytest.raises(ValidationError) as caught:
        ledger.hold("ada", 1, hold_id="h1", expires_at=expires_at, at=T0)
    assert caught.value.field == "expires_at"
    assert ledger.holds("ada") == []


# -- capture ----------------------------------------------------------------------------------------


def test_full_capture_consumes_everything_held(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    result = ledger.capture("h1", at=T0 + HOUR)
    assert (result.captured, result.released, result.replayed) == (Decimal(6), Decimal(0), False)
    assert kinds(result) == [("capture", block, Decimal(6))]
    hold = ledger.get_hold("h1")
    assert (hold.status, hold.captured, hold.settled_at) == ("captured", Decimal(6), T0 + HOUR)
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.used) == (Decimal(4), Decimal(0), Decimal(6))
    identity(balance)


def test_partial_capture_releases_the_rest(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    result = ledger.capture("h1", 4, at=T0)
    assert (result.captured, result.released) == (Decimal(4), Decimal(2))
    assert kinds(result) == [("capture", block, Decimal(4)), ("release", block, Decimal(2))]
    assert {e.op_id for e in result.entries} == {result.op_id}
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.used) == (Decimal(6), Decimal(0), Decimal(4))
    identity(balance)
    assert ledger.get_hold("h1").captured == Decimal(4)


def test_capture_of_zero_releases_everything(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    result = ledger.capture("h1", 0, at=T0)
    assert (result.captured, result.released) == (Decimal(0), Decimal(6))
    assert [e.kind for e in result.entries] == ["release"]
    assert ledger.balance("ada").available == Decimal(10)
    assert ledger.get_hold("h1").status == "captured"


def test_capture_consumes_pinned_blocks_in_burn_order(ledger: Ledger) -> None:
    second = ledger.grant("ada", 5, priority=20, at=T0).block.id
    first = ledger.grant("ada", 5, priority=10, at=T0).block.id
    ledger.hold("ada", 8, hold_id="h1", at=T0)
    result = ledger.capture("h1", 6, at=T0)
    assert kinds(result) == [
        ("capture", first, Decimal(5)),
        ("capture", second, Decimal(1)),
        ("release", second, Decimal(2)),
    ]
    assert ledger.get_block(first).status == "depleted"
    assert ledger.get_block(second).remaining == Decimal(4)


def test_capture_draws_only_from_pinned_blocks(ledger: Ledger) -> None:
    pinned = ledger.grant("ada", 10, priority=50, at=T0).block.id
    ledger.hold("ada", 5, hold_id="h1", at=T0)
    better = ledger.grant("ada", 10, priority=1, at=T0).block.id
    result = ledger.capture("h1", at=T0)
    assert kinds(result) == [("capture", pinned, Decimal(5))]
    assert ledger.get_block(better).remaining == Decimal(10)


def test_capture_more_than_held_raises_validation_error(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        ledger.capture("h1", 7, at=T0)
    assert caught.value.field == "amount"
    assert snapshot() == before
    assert ledger.get_hold("h1").status == "active"
    assert ledger.capture("h1", 6, at=T0).captured == Decimal(6)  # the hold is still usable


def test_capture_of_a_negative_amount_is_rejected(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    with pytest.raises(ValidationError):
        ledger.capture("h1", -1, at=T0)


# -- release ------------------------------------------------------------------------------------------


def test_release_returns_the_credit_to_its_blocks(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    a = ledger.grant("ada", 3, priority=1, at=T0).block.id
    b = ledger.grant("ada", 10, priority=2, at=T0).block.id
    ledger.hold("ada", 5, hold_id="h1", at=T0)
    result = ledger.release("h1", at=T0 + HOUR)
    assert result.released == Decimal(5)
    assert kinds(result) == [("release", a, Decimal(3)), ("release", b, Decimal(2))]
    assert ledger.get_block(a).held == Decimal(0)
    assert ledger.get_block(a).available == Decimal(3)
    hold = ledger.get_hold("h1")
    assert (hold.status, hold.captured, hold.settled_at) == ("released", Decimal(0), T0 + HOUR)
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.used) == (Decimal(13), Decimal(0), Decimal(0))
    identity(balance)


# -- a hold ends exactly once ---------------------------------------------------------------------------


def test_repeating_a_capture_replays_the_original_result(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    first = ledger.capture("h1", 4, at=T0)
    entries = ledger.entries().items
    again = ledger.capture("h1", "4", at=T0 + DAY)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.captured, again.released) == (
        first.op_id, first.entries, Decimal(4), Decimal(2),
    )  # fmt: skip
    assert ledger.entries().items == entries


def test_repeating_a_release_replays_the_original_result(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    first = ledger.release("h1", at=T0)
    entries = ledger.entries().items
    again = ledger.release("h1", at=T0 + DAY)
    assert again.replayed is True
    assert (again.op_id, again.entries, again.released) == (first.op_id, first.entries, Decimal(6))
    assert ledger.entries().items == entries


def test_capture_without_amount_replays_a_full_capture_and_vice_versa(ledger: Ledger) -> None:
    ledger.grant("ada", 20, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    ledger.hold("ada", 6, hold_id="h2", at=T0)
    ledger.capture("h1", at=T0)
    assert ledger.capture("h1", 6, at=T0).replayed is True
    ledger.capture("h2", 6, at=T0)
    assert ledger.capture("h2", at=T0).replayed is True


def test_capture_after_release_raises_hold_not_active(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    ledger.release("h1", at=T0)
    with pytest.raises(HoldNotActive) as caught:
        ledger.capture("h1", at=T0)
    assert isinstance(caught.value, Conflict)
    assert caught.value.status == "released"
    assert ledger.balance("ada").available == Decimal(10)


def test_release_after_capture_raises_hold_not_active(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    ledger.capture("h1", 2, at=T0)
    with pytest.raises(HoldNotActive) as caught:
        ledger.release("h1", at=T0)
    assert caught.value.status == "captured"
    assert ledger.balance("ada").available == Decimal(8)


def test_capture_with_another_amount_raises_hold_not_active(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    ledger.capture("h1", 2, at=T0)
    for amount in (3, None):
        with pytest.raises(HoldNotActive) as caught:
            ledger.capture("h1", amount, at=T0)
        assert caught.value.status == "captured"
    assert ledger.balance("ada").used == Decimal(2)


@pytest.mark.parametrize("call", ["capture", "release", "get_hold"])
def test_unknown_hold_raises_not_found(ledger: Ledger, call: str) -> None:
    ledger.grant("ada", 10, at=T0)
    with pytest.raises(NotFound) as caught:
        getattr(ledger, call)("nope")
    assert isinstance(caught.value, LookupError)


# -- hold timeouts --------------------------------------------------------------------------------------


def test_hold_timeout_is_dated_at_its_expires_at(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 1, at=T0 + DAY)  # the next write records the timeout first
    (release,) = ledger.entries("ada", kinds=["release"]).items
    assert (release.block_id, release.hold_id, release.amount, release.at) == (block, "h1", Decimal(6), T0 + HOUR)
    assert release.available_after == Decimal(10)
    hold = ledger.get_hold("h1")
    assert (hold.status, hold.settled_at, hold.captured) == ("expired", T0 + HOUR, Decimal(0))


def test_hold_timeout_counts_in_reads_before_it_is_recorded(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    assert ledger.get_hold("h1", at=T0 + HOUR - US).status == "active"
    hold = ledger.get_hold("h1", at=T0 + HOUR)
    assert (hold.status, hold.settled_at) == ("expired", T0 + HOUR)
    balance = ledger.balance("ada", at=T0 + HOUR)
    assert (balance.available, balance.held) == (Decimal(10), Decimal(0))
    assert ledger.entries("ada", kinds=["release"]).items == ()


@pytest.mark.parametrize("recorded", [False, True], ids=["timeout-not-yet-recorded", "timeout-recorded"])
def test_capture_after_hold_timeout_raises_hold_not_active_expired(ledger: Ledger, recorded: bool) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    if recorded:
        ledger.grant("ada", 1, at=T0 + 2 * HOUR)
    with pytest.raises(HoldNotActive) as caught:
        ledger.capture("h1", at=T0 + 2 * HOUR)
    assert caught.value.status == "expired"
    with pytest.raises(HoldNotActive) as caught:
        ledger.release("h1", at=T0 + 2 * HOUR)
    assert caught.value.status == "expired"
    assert ledger.balance("ada").used == Decimal(0)


def test_capture_at_the_timeout_instant_is_too_late(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    with pytest.raises(HoldNotActive):
        ledger.capture("h1", at=T0 + HOUR)
    assert ledger.capture("h1", at=T0 + HOUR - US).captured == Decimal(6)


def test_failed_capture_after_timeout_records_nothing(ledger: Ledger, snapshot: Callable[[], object]) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    before = snapshot()
    with pytest.raises(HoldNotActive):
        ledger.capture("h1", at=T0 + 2 * HOUR)
    assert snapshot() == before  # not even the timeout that fell due


def test_captured_hold_does_not_time_out_later(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    ledger.capture("h1", 6, at=T0)
    ledger.grant("ada", 1, at=T0 + DAY)
    assert ledger.entries("ada", kinds=["release"]).items == ()
    assert ledger.get_hold("h1").status == "captured"
    assert ledger.balance("ada").available == Decimal(5)


# -- a pinned block that expires while held ----------------------------------------------------------


def test_held_credit_of_an_expired_block_stays_reserved(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    balance = ledger.balance("ada", at=T0 + 2 * DAY)
    assert (balance.available, balance.held, balance.expired) == (Decimal(0), Decimal(4), Decimal(6))
    identity(balance)
    ledger.grant("bob", 1, at=T0 + 2 * DAY)
    ledger.burn("ada", 1, overdraft="partial", at=T0 + 2 * DAY)  # records the expiry of the unheld 6
    (expire,) = ledger.entries("ada", kinds=["expire"]).items
    assert (expire.amount, expire.at) == (Decimal(6), T0 + DAY)
    assert ledger.get_hold("h1").status == "active"


def test_capture_after_block_expiry_still_consumes_held_credit(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    result = ledger.capture("h1", at=T0 + 2 * DAY)
    assert (result.captured, result.released) == (Decimal(4), Decimal(0))
    assert [(e.kind, e.amount) for e in result.entries] == [("capture", Decimal(4))]
    assert result.entries[0].block_id == block
    balance = ledger.balance("ada")
    assert (balance.used, balance.expired, balance.held, balance.available) == (
        Decimal(4), Decimal(6), Decimal(0), Decimal(0),
    )  # fmt: skip
    identity(balance)


def test_partial_capture_after_block_expiry_expires_the_released_rest(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    result = ledger.capture("h1", 1, at=T0 + 2 * DAY)
    assert [(e.kind, e.block_id, e.amount, e.at) for e in result.entries] == [
        ("capture", block, Decimal(1), T0 + 2 * DAY),
        ("release", block, Decimal(3), T0 + 2 * DAY),
        ("expire", block, Decimal(3), T0 + 2 * DAY),
    ]
    balance = ledger.balance("ada")
    assert (balance.used, balance.expired, balance.held) == (Decimal(1), Decimal(9), Decimal(0))
    identity(balance)


def test_release_after_block_expiry_expires_the_credit(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    result = ledger.release("h1", at=T0 + 2 * DAY)
    assert result.released == Decimal(4)
    assert [(e.kind, e.block_id, e.amount, e.at) for e in result.entries] == [
        ("release", block, Decimal(4), T0 + 2 * DAY),
        ("expire", block, Decimal(4), T0 + 2 * DAY),
    ]
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.expired) == (Decimal(0), Decimal(0), Decimal(10))
    identity(balance)
    assert ledger.get_block(block).status == "expired"


def test_hold_timeout_after_block_expiry_expires_the_credit(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)
    future = ledger.balance("ada", at=T0 + 3 * DAY)
    assert (future.available, future.held, future.expired) == (Decimal(0), Decimal(0), Decimal(10))
    identity(future)
    ledger.grant("ada", 1, at=T0 + 3 * DAY)
    recorded = [(e.kind, e.block_id, e.amount, e.at) for e in ledger.entries("ada", kinds=["release", "expire"]).items]
    assert recorded == [
        ("release", block, Decimal(10), T0 + 2 * DAY),
        ("expire", block, Decimal(10), T0 + 2 * DAY),
    ]


def test_block_freed_by_a_hold_timeout_then_expires_at_its_own_expiry(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + 2 * DAY, at=T0).block.id
    ledger.hold("ada", 10, hold_id="h1", expires_at=T0 + DAY, at=T0)
    future = ledger.balance("ada", at=T0 + 3 * DAY)
    identity(future)
    assert (future.available, future.held, future.expired) == (Decimal(0), Decimal(0), Decimal(10))
    ledger.grant("ada", 1, at=T0 + 3 * DAY)
    recorded = [(e.kind, e.block_id, e.amount, e.at) for e in ledger.entries("ada").items]
    assert recorded[2:] == [
        ("release", block, Decimal(10), T0 + DAY),
        ("expire", block, Decimal(10), T0 + 2 * DAY),
        ("grant", recorded[-1][1], Decimal(1), T0 + 3 * DAY),
    ]


def test_hold_timing_out_when_its_block_expires_gives_back_credit_that_expires_at_once(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 1, at=T0 + 2 * DAY)
    recorded = [(e.kind, e.block_id, e.amount, e.at) for e in ledger.entries("ada", kinds=["release", "expire"]).items]
    assert recorded == [
        ("expire", block, Decimal(6), T0 + DAY),
        ("release", block, Decimal(4), T0 + DAY),
        ("expire", block, Decimal(4), T0 + DAY),
    ]
    balance = ledger.balance("ada")
    assert (balance.expired, balance.held, balance.available) == (Decimal(10), Decimal(0), Decimal(1))
    identity(balance)

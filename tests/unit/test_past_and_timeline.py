"""SPEC §1 "reads at any time" and §4 timeline: ``balance(at=)``, ``blocks(at=)``,
``get_block(at=)``, ``holds(at=)``, ``get_hold(at=)`` show exactly what was true at a past
instant (to the microsecond, on both sides of an expiry and of a hold timeout, nothing later
leaking in), and ``timeline()`` gives one BalancePoint per moment the balance changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditcore import Balance, BalancePoint, Ledger, NotFound

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def reads(ledger: Ledger, at: datetime, blocks: list[str], holds: list[str]) -> dict[str, Any]:
    """Everything a reader can see of ada at ``at``."""
    seen: dict[str, Any] = {
        "balance": ledger.balance("ada", at=at),
        "balances": ledger.balances("ada", at=at),
        "trip": ledger.balance("ada", at=at, scope="trip"),
        "blocks": ledger.blocks("ada", at=at),
        "holds": ledger.holds("ada", status=None, at=at),
        "active": ledger.holds("ada", at=at),
        "preview": ledger.preview_burn("ada", 1000, at=at),
    }
    for block in blocks:
        seen[block] = ledger.get_block(block, at=at)
    for hold in holds:
        seen[hold] = ledger.get_hold(hold, at=at)
    return seen


def test_past_reads_show_exactly_what_the_live_reads_showed_then(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    """Reads taken while the history was being written equal the same reads made afterwards."""
    live: dict[datetime, tuple[list[str], list[str], dict[str, Any]]] = {}
    blocks: list[str] = []
    holds: list[str] = []

    def checkpoint(*times: datetime) -> None:
        for at in times:
            live[at] = (list(blocks), list(holds), reads(ledger, at, blocks, holds))

    blocks.append(ledger.grant("ada", 10, expires_at=T0 + 2 * DAY, at=T0).block.id)
    blocks.append(ledger.grant("ada", 20, priority=60, at=T0).block.id)
    blocks.append(ledger.grant("ada", 5, scope={"trip"}, expires_at=T0 + 8 * DAY, at=T0).block.id)
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + 3 * DAY, at=T0 + HOUR)
    ledger.hold("ada", 3, hold_id="h2", at=T0 + HOUR)
    holds.extend(["h1", "h2"])
    checkpoint(T0 + HOUR)
    burn = ledger.burn("ada", 2, at=T0 + DAY)
    checkpoint(T0 + DAY)
    ledger.void(blocks[1], 5, at=T0 + DAY + HOUR)
    ledger.capture("h2", 1, at=T0 + DAY + HOUR)
    checkpoint(T0 + DAY + HOUR)
    blocks.append(ledger.change_expiry(blocks[1], T0 + 8 * DAY, amount=6, at=T0 + DAY + 2 * HOUR).block.id)
    checkpoint(T0 + DAY + 2 * HOUR, T0 + 2 * DAY - US, T0 + 2 * DAY, T0 + 2 * DAY + US)
    ledger.reverse(burn.op_id, at=T0 + 2 * DAY + HOUR)  # back into an expired block
    checkpoint(T0 + 2 * DAY + HOUR, T0 + 3 * DAY - US, T0 + 3 * DAY, T0 + 3 * DAY + US)
    debt = ledger.burn("ada", 40, overdraft="debt", at=T0 + 4 * DAY)
    checkpoint(T0 + 4 * DAY)
    blocks.append(ledger.grant("ada", 7, effective_at=T0 + 5 * DAY, at=T0 + 4 * DAY + HOUR).block.id)
    checkpoint(T0 + 4 * DAY + HOUR, T0 + 5 * DAY - US, T0 + 5 * DAY)
    blocks.append(ledger.grant("ada", 9, at=T0 + 6 * DAY).block.id)
    ledger.hold("ada", 2, hold_id="h3", scope="trip", expires_at=T0 + 7 * DAY, at=T0 + 6 * DAY)
    holds.append("h3")
    checkpoint(T0 + 6 * DAY)
    ledger.reverse(debt.op_id, 3, at=T0 + 6 * DAY + HOUR)
    checkpoint(T0 + 6 * DAY + HOUR, T0 + 7 * DAY - US, T0 + 7 * DAY, T0 + 8 * DAY - US, T0 + 8 * DAY)
    ledger.expire_due(at=T0 + 10 * DAY)
    ledger.grant("ada", 100, effective_at=T0, at=T0 + 10 * DAY)  # back-dated: still invisible before

    assert len(live) == 21
    for at, (known_blocks, known_holds, seen) in live.items():
        assert reads(ledger, at, known_blocks, known_holds) == seen, at
        identity(seen["balance"])
    assert ledger.verify().ok


def test_grant_after_t_is_invisible_at_t(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    late = ledger.grant("ada", 5, effective_at=T0, at=T0 + HOUR).block.id
    before = ledger.balance("ada", at=T0 + HOUR - US)
    assert (before.granted, before.available) == (Decimal(10), Decimal(10))
    assert late not in [b.id for b in ledger.blocks("ada", at=T0 + HOUR - US)]
    with pytest.raises(NotFound):
        ledger.get_block(late, at=T0 + HOUR - US)
    assert ledger.get_block(late, at=T0 + HOUR).remaining == 5
    assert ledger.balance("ada", at=T0 + HOUR).available == 15


def test_past_read_of_a_customer_before_their_first_entry_is_all_zero(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0 + DAY)
    balance = ledger.balance("ada", at=T0)
    assert balance.granted == balance.available == 0
    assert ledger.blocks("ada", at=T0) == []
    assert ledger.holds("ada", status=None, at=T0) == []
    assert ledger.balances("ada", at=T0) == {}


def test_past_read_shows_units_only_once_they_have_entries() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2}, future_tolerance=None)
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", "1.00", unit="usd", at=T0 + HOUR)
    assert set(ledger.balances("ada", at=T0)) == {"credits"}
    assert set(ledger.balances("ada", at=T0 + HOUR)) == {"credits", "usd"}


def test_past_balance_does_not_count_a_later_burn_hold_or_void(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.burn("ada", 2, at=T0 + HOUR)
    ledger.hold("ada", 3, hold_id="h1", at=T0 + 2 * HOUR)
    ledger.void(block, 1, at=T0 + 3 * HOUR)
    expected = [
        (T0 + HOUR - US, (10, 0, 0, 0)),
        (T0 + HOUR, (8, 0, 2, 0)),
        (T0 + 2 * HOUR - US, (8, 0, 2, 0)),
        (T0 + 2 * HOUR, (5, 3, 2, 0)),
        (T0 + 3 * HOUR, (4, 3, 2, 1)),
    ]
    for at, figures in expected:
        b = ledger.balance("ada", at=at)
        assert (b.available, b.held, b.used, b.voided) == tuple(Decimal(x) for x in figures), at


# -- both sides of an expiry ----------------------------------------------------------------------


@pytest.mark.parametrize("recorded", [False, True], ids=["due", "recorded"])
def test_get_block_and_blocks_on_each_side_of_an_expiry_to_the_microsecond(ledger: Ledger, recorded: bool) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 3, hold_id="h1", at=T0)
    if recorded:
        ledger.expire_due(at=T0 + 2 * DAY)
    just_before = ledger.get_block(block, at=T0 + DAY - US)
    assert (just_before.status, just_before.remaining, just_before.held, just_before.available) == (
        "active", Decimal(10), Decimal(3), Decimal(7),
    )  # fmt: skip
    at_expiry = ledger.get_block(block, at=T0 + DAY)
    assert (at_expiry.status, at_expiry.remaining, at_expiry.held, at_expiry.available) == (
        "expired", Decimal(3), Decimal(3), Decimal(0),
    )  # fmt: skip
    assert [b.id for b in ledger.blocks("ada", at=T0 + DAY - US)] == [block]
    assert ledger.blocks("ada", at=T0 + DAY) == []
    assert ledger.balance("ada", at=T0 + DAY - US).expired == 0
    assert ledger.balance("ada", at=T0 + DAY).expired == 7


@pytest.mark.parametrize("recorded", [False, True], ids=["due", "recorded"])
def test_holds_on_each_side_of_a_hold_timeout_to_the_microsecond(ledger: Ledger, recorded: bool) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    if recorded:
        ledger.expire_due(at=T0 + DAY)
    before = ledger.holds("ada", at=T0 + HOUR - US)
    assert [(h.id, h.status, h.settled_at) for h in before] == [("h1", "active", None)]
    assert ledger.holds("ada", at=T0 + HOUR) == []
    after = ledger.holds("ada", status="expired", at=T0 + HOUR)
    assert [(h.id, h.status, h.settled_at) for h in after] == [("h1", "expired", T0 + HOUR)]
    assert ledger.get_hold("h1", at=T0 + HOUR - US).status == "active"
    assert ledger.get_hold("h1", at=T0 + HOUR).status == "expired"
    assert ledger.get_block(block, at=T0 + HOUR - US).held == 4
    assert ledger.get_block(block, at=T0 + HOUR).held == 0
    assert ledger.balance("ada", at=T0 + HOUR - US).available == 6
    assert ledger.balance("ada", at=T0 + HOUR).available == 10


def test_holds_before_a_hold_was_placed_do_not_list_it(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 4, hold_id="h1", at=T0 + HOUR)
    assert ledger.holds("ada", status=None, at=T0 + HOUR - US) == []
    with pytest.raises(NotFound):
        ledger.get_hold("h1", at=T0 + HOUR - US)
    assert [h.id for h in ledger.holds("ada", at=T0 + HOUR)] == ["h1"]


def test_past_holds_show_a_later_capture_or_release_as_not_yet_happened(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.hold("ada", 2, hold_id="h2", at=T0)
    ledger.capture("h1", 3, at=T0 + HOUR)
    ledger.release("h2", at=T0 + 2 * HOUR)
    assert {h.id: h.status for h in ledger.holds("ada", status=None, at=T0 + HOUR - US)} == {
        "h1": "active", "h2": "active",
    }  # fmt: skip
    assert {h.id: h.status for h in ledger.holds("ada", status=None, at=T0 + HOUR)} == {
        "h1": "captured", "h2": "active",
    }  # fmt: skip
    assert ledger.get_hold("h1", at=T0 + HOUR - US).captured == 0
    assert ledger.get_hold("h1", at=T0 + HOUR).captured == 3
    assert ledger.get_hold("h2", at=T0 + 2 * HOUR).status == "released"


def test_future_read_counts_expiries_timeouts_and_activations(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + 2 * DAY, at=T0)
    ledger.grant("ada", 6, effective_at=T0 + DAY, at=T0)
    ledger.hold("ada", 3, hold_id="h1", expires_at=T0 + 3 * DAY, at=T0)
    future = ledger.balance("ada", at=T0 + 3 * DAY)
    assert (future.available, future.held, future.expired, future.upcoming) == (
        Decimal(6), Decimal(0), Decimal(10), Decimal(0),
    )  # fmt: skip
    assert ledger.entries("ada").items[-1].kind == "hold"  # nothing written by the read


# -- timeline -------------------------------------------------------------------------------------


def points(timeline: list[BalancePoint]) -> list[tuple[datetime, int, int, int, int, int]]:
    return [(p.at, int(p.available), int(p.held), int(p.used), int(p.expired), int(p.debt)) for p in timeline]


def test_timeline_has_one_point_per_moment_the_balance_changed(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 5, at=T0)  # same moment: one point
    ledger.burn("ada", 3, at=T0 + HOUR)
    ledger.hold("ada", 4, hold_id="h1", at=T0 + 2 * HOUR)
    ledger.capture("h1", 1, at=T0 + 3 * HOUR)
    ledger.burn("ada", 20, overdraft="debt", at=T0 + 4 * HOUR)
    clock.now = T0 + DAY  # type: ignore[attr-defined]
    assert points(ledger.timeline("ada")) == [
        (T0, 15, 0, 0, 0, 0),
        (T0 + HOUR, 12, 0, 3, 0, 0),
        (T0 + 2 * HOUR, 8, 4, 3, 0, 0),
        (T0 + 3 * HOUR, 11, 0, 4, 0, 0),
        (T0 + 4 * HOUR, 0, 0, 15, 0, 9),
    ]


def test_timeline_skips_moments_when_the_balance_did_not_change(ledger: Ledger, clock: object) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.change_expiry(block, T0 + 9 * DAY, at=T0 + HOUR)
    ledger.burn("ada", 1, at=T0 + 2 * HOUR)
    clock.now = T0 + DAY  # type: ignore[attr-defined]
    assert [p.at for p in ledger.timeline("ada")] == [T0, T0 + 2 * HOUR]


def test_timeline_includes_expiries_and_timeouts_due_but_not_recorded(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)  # 6 of the expiring block
    clock.now = T0 + 5 * DAY  # type: ignore[attr-defined]
    entries = ledger.entries(limit=10_000).items
    assert points(ledger.timeline("ada")) == [
        (T0, 9, 6, 0, 0, 0),
        (T0 + DAY, 5, 6, 0, 4, 0),
        (T0 + 2 * DAY, 5, 0, 0, 10, 0),
    ]
    assert ledger.entries(limit=10_000).items == entries  # the timeline wrote nothing
    ledger.expire_due()
    assert points(ledger.timeline("ada")) == [
        (T0, 9, 6, 0, 0, 0),
        (T0 + DAY, 5, 6, 0, 4, 0),
        (T0 + 2 * DAY, 5, 0, 0, 10, 0),
    ]


def test_timeline_includes_upcoming_blocks_becoming_active(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 4, effective_at=T0 + DAY, at=T0)
    ledger.burn("ada", 2, at=T0 + 2 * DAY)
    clock.now = T0 + 3 * DAY  # type: ignore[attr-defined]
    assert points(ledger.timeline("ada")) == [
        (T0, 10, 0, 0, 0, 0),
        (T0 + DAY, 14, 0, 0, 0, 0),
        (T0 + 2 * DAY, 12, 0, 2, 0, 0),
    ]


def test_timeline_shows_an_upcoming_block_settling_debt(ledger: Ledger, clock: object) -> None:
    ledger.burn("ada", 6, overdraft="debt", at=T0)
    ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0)
    clock.now = T0 + 2 * DAY  # type: ignore[attr-defined]
    assert points(ledger.timeline("ada")) == [(T0, 0, 0, 0, 0, 6), (T0 + DAY, 4, 0, 6, 0, 0)]


def test_timeline_since_is_inclusive_and_until_exclusive(ledger: Ledger, clock: object) -> None:
    for hour in range(5):
        ledger.grant("ada", 1, at=T0 + hour * HOUR)
    clock.now = T0 + DAY  # type: ignore[attr-defined]
    got = ledger.timeline("ada", since=T0 + HOUR, until=T0 + 3 * HOUR)
    assert [(p.at, p.available) for p in got] == [(T0 + HOUR, Decimal(2)), (T0 + 2 * HOUR, Decimal(3))]
    assert [p.at for p in ledger.timeline("ada", since=T0 + 4 * HOUR)] == [T0 + 4 * HOUR]
    assert [p.at for p in ledger.timeline("ada", until=T0 + HOUR)] == [T0]
    assert ledger.timeline("ada", since=T0 + HOUR + US, until=T0 + 2 * HOUR) == []


def test_timeline_until_leaves_out_later_changes(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, expires_at=T0 + 2 * DAY, at=T0)
    ledger.burn("ada", 1, at=T0 + DAY)
    clock.now = T0 + 5 * DAY  # type: ignore[attr-defined]
    assert [p.at for p in ledger.timeline("ada", until=T0 + DAY)] == [T0]
    assert [p.at for p in ledger.timeline("ada", until=T0 + 3 * DAY)] == [T0, T0 + DAY, T0 + 2 * DAY]


def test_timeline_is_per_unit_and_empty_for_an_unknown_customer() -> None:
    ledger = Ledger.memory(clock=lambda: T0 + DAY, units={"usd": 2})
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", "2.50", unit="usd", at=T0 + HOUR)
    assert [(p.at, p.available) for p in ledger.timeline("ada", unit="usd")] == [(T0 + HOUR, Decimal("2.50"))]
    assert [p.at for p in ledger.timeline("ada")] == [T0]
    assert ledger.timeline("ghost") == []


def busy_history(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + 2 * DAY, at=T0)
    b = ledger.grant("ada", 20, priority=60, at=T0).block.id
    ledger.grant("ada", 5, effective_at=T0 + DAY + HOUR, at=T0)
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + 3 * DAY, at=T0 + HOUR)
    burn = ledger.burn("ada", 8, at=T0 + DAY)
    ledger.void(b, 1, at=T0 + DAY + 2 * HOUR)
    ledger.reverse(burn.op_id, 3, at=T0 + 2 * DAY + HOUR)
    ledger.burn("ada", 50, overdraft="debt", at=T0 + 4 * DAY)
    ledger.grant("ada", 7, effective_at=T0 + 5 * DAY, at=T0 + 4 * DAY + HOUR)


def test_every_timeline_point_is_the_balance_at_that_moment(ledger: Ledger, clock: object) -> None:
    busy_history(ledger)
    clock.now = T0 + 6 * DAY  # type: ignore[attr-defined]
    timeline = ledger.timeline("ada")
    assert len(timeline) >= 8
    for p in timeline:
        b = ledger.balance("ada", at=p.at)
        assert (p.available, p.held, p.used, p.expired, p.debt) == (b.available, b.held, b.used, b.expired, b.debt)
    times = [p.at for p in timeline]
    assert times == sorted(set(times))


def test_timeline_point_of_a_future_activation_counts_the_expiry_before_it(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 3, expires_at=T0 + 3 * DAY, at=T0)
    ledger.grant("ada", 5, effective_at=T0 + 5 * DAY, at=T0)
    for p in ledger.timeline("ada"):  # the clock stands at T0
        b = ledger.balance("ada", at=p.at)
        assert (p.at, p.available, p.expired) == (p.at, b.available, b.expired)

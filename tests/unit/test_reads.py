"""SPEC §4 reads: balance (identity, scope, net), balances, blocks, get_block, get_hold, holds,
entries (filters, paging, seq, available_after) and reads at past and future times."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Balance, Entry, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)
ZERO = Decimal(0)


# -- balance ---------------------------------------------------------------------------------------


def test_unknown_customer_reads_all_zero_and_empty(ledger: Ledger) -> None:
    balance = ledger.balance("ghost")
    assert (balance.available, balance.held, balance.granted, balance.used, balance.expired) == (ZERO,) * 5
    assert (balance.voided, balance.upcoming, balance.debt, balance.net) == (ZERO,) * 4
    assert balance.unit == "credits"
    assert ledger.balances("ghost") == {}
    assert ledger.blocks("ghost", include_inactive=True) == []
    assert ledger.holds("ghost", status=None) == []
    page = ledger.entries("ghost")
    assert (page.items, page.next_cursor) == ((), None)


def test_balance_identity_holds_through_a_lifecycle(
    ledger: Ledger, clock: object, identity: Callable[[Balance], None]
) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 20, at=T0)
    ledger.grant("ada", 7, effective_at=T0 + 5 * DAY, at=T0)
    ledger.grant("ada", 4, scope={"trip"}, at=T0)
    ledger.burn("ada", 3, at=T0)
    ledger.hold("ada", 5, hold_id="h1", at=T0)
    ledger.hold("ada", 2, hold_id="h2", expires_at=T0 + HOUR, at=T0)
    balance = ledger.balance("ada", at=T0)
    assert (balance.granted, balance.available, balance.held, balance.used, balance.upcoming) == (
        Decimal(41), Decimal(24), Decimal(7), Decimal(3), Decimal(7),
    )  # fmt: skip
    identity(balance)
    ledger.capture("h1", 2, at=T0 + HOUR)
    for at in (T0 + HOUR, T0 + DAY - US, T0 + DAY, T0 + 5 * DAY - US, T0 + 5 * DAY, T0 + 9 * DAY):
        identity(ledger.balance("ada", at=at))
    end = ledger.balance("ada", at=T0 + 9 * DAY)
    assert (end.granted, end.available, end.held, end.used, end.expired, end.upcoming) == (
        Decimal(41), Decimal(31), ZERO, Decimal(5), Decimal(5), ZERO,
    )  # fmt: skip


def test_balance_net_is_available_minus_debt(ledger: Ledger) -> None:
    ledger.burn("ada", 5, overdraft="debt", at=T0)
    ledger.grant("ada", 8, settle_debt=False, at=T0)
    balance = ledger.balance("ada")
    assert (balance.available, balance.debt, balance.net) == (Decimal(8), Decimal(5), Decimal(3))


def test_balance_without_scope_counts_scoped_credit(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 4, scope={"trip"}, at=T0)
    ledger.hold("ada", 1, hold_id="h1", scope="trip", at=T0)
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.granted) == (Decimal(13), Decimal(1), Decimal(14))


def test_balance_with_scope_counts_only_credit_usable_by_that_scope(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 4, scope={"trip"}, at=T0)
    ledger.grant("ada", 30, scope={"food"}, at=T0)
    ledger.hold("ada", 6, hold_id="h1", scope="trip", at=T0)  # 4 trip + 2 unscoped
    ledger.hold("ada", 5, hold_id="h2", scope="food", at=T0)  # 5 food
    trip = ledger.balance("ada", scope="trip")
    assert (trip.available, trip.held) == (Decimal(8), Decimal(6))
    food = ledger.balance("ada", scope="food")
    assert (food.available, food.held) == (Decimal(33), Decimal(7))
    other = ledger.balance("ada", scope="video")
    assert (other.available, other.held) == (Decimal(8), Decimal(2))


def test_balances_has_one_balance_per_unit_with_entries(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    ledger.define_unit("eur", 2)
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", "2.50", unit="usd", at=T0 + DAY)
    found = ledger.balances("ada")
    assert sorted(found) == ["credits", "usd"]
    assert found["usd"].available == Decimal("2.50")
    assert found["credits"] == ledger.balance("ada")
    assert sorted(ledger.balances("ada", at=T0)) == ["credits"]
    assert ledger.balances("ada", at=T0 - US) == {}


def test_balance_reports_its_unit_and_instant(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    balance = ledger.balance("ada", at=T0 + DAY)
    assert (balance.unit, balance.at) == ("credits", T0 + DAY)


# -- reads at other times --------------------------------------------------------------------------


def test_past_balance_shows_nothing_later(ledger: Ledger, identity: Callable[[Balance], None]) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.burn("ada", 3, at=T0 + DAY)
    ledger.hold("ada", 2, hold_id="h1", at=T0 + 2 * DAY)
    ledger.burn("ada", 10, overdraft="debt", at=T0 + 3 * DAY)
    ledger.grant("ada", 50, settle_debt=False, at=T0 + 4 * DAY)
    views = {
        T0 - US: (ZERO, ZERO, ZERO, ZERO, ZERO),
        T0: (Decimal(10), ZERO, Decimal(10), ZERO, ZERO),
        T0 + DAY - US: (Decimal(10), ZERO, Decimal(10), ZERO, ZERO),
        T0 + DAY: (Decimal(7), ZERO, Decimal(10), Decimal(3), ZERO),
        T0 + 2 * DAY: (Decimal(5), Decimal(2), Decimal(10), Decimal(3), ZERO),
        T0 + 3 * DAY: (ZERO, Decimal(2), Decimal(10), Decimal(8), Decimal(5)),
        T0 + 4 * DAY: (Decimal(50), Decimal(2), Decimal(60), Decimal(8), Decimal(5)),
    }
    for at, expected in views.items():
        balance = ledger.balance("ada", at=at)
        assert (balance.available, balance.held, balance.granted, balance.used, balance.debt) == expected, at
        identity(balance)


def test_past_reads_show_a_later_capture_as_not_yet_happened(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h1", at=T0)
    ledger.capture("h1", 4, at=T0 + DAY)
    hold = ledger.get_hold("h1", at=T0 + DAY - US)
    assert (hold.status, hold.captured, hold.settled_at) == ("active", ZERO, None)
    past = ledger.get_block(block, at=T0 + DAY - US)
    assert (past.remaining, past.held, past.available) == (Decimal(10), Decimal(6), Decimal(4))
    now = ledger.get_block(block)
    assert (now.remaining, now.held, now.available) == (Decimal(6), ZERO, Decimal(6))
    assert [h.id for h in ledger.holds("ada", status="active", at=T0 + DAY - US)] == ["h1"]
    assert ledger.holds("ada", status="active") == []


def test_past_read_shows_a_depleted_block_as_it_was(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.burn("ada", 10, at=T0 + DAY)
    assert ledger.get_block(block).status == "depleted"
    past = ledger.get_block(block, at=T0 + HOUR)
    assert (past.status, past.remaining, past.available) == ("active", Decimal(10), Decimal(10))
    assert [b.id for b in ledger.blocks("ada", at=T0 + HOUR)] == [block]


def test_past_block_list_shows_no_block_granted_later(ledger: Ledger) -> None:
    first = ledger.grant("ada", 5, at=T0).block.id
    ledger.grant("ada", 7, at=T0 + DAY)
    assert [b.id for b in ledger.blocks("ada", at=T0, include_inactive=True)] == [first]


def test_balance_on_each_side_of_an_unrecorded_expiry_to_the_microsecond(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    before = ledger.balance("ada", at=T0 + DAY - US)
    after = ledger.balance("ada", at=T0 + DAY)
    assert (before.available, before.expired) == (Decimal(10), ZERO)
    assert (after.available, after.expired) == (ZERO, Decimal(10))


def test_balance_on_each_side_of_a_recorded_expiry_to_the_microsecond(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 1, at=T0 + 2 * DAY)  # records the expiry, dated T0 + DAY
    before = ledger.balance("ada", at=T0 + DAY - US)
    after = ledger.balance("ada", at=T0 + DAY)
    assert (before.available, before.expired, before.granted) == (Decimal(10), ZERO, Decimal(10))
    assert (after.available, after.expired, after.granted) == (ZERO, Decimal(10), Decimal(10))


@pytest.mark.parametrize("recorded", [False, True])
def test_balance_on_each_side_of_a_hold_timeout_to_the_microsecond(ledger: Ledger, recorded: bool) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    if recorded:
        ledger.grant("ada", 1, settle_debt=False, at=T0 + DAY)
    before = ledger.balance("ada", at=T0 + HOUR - US)
    after = ledger.balance("ada", at=T0 + HOUR)
    assert (before.available, before.held) == (Decimal(4), Decimal(6))
    assert (after.available, after.held) == (Decimal(10), ZERO)
    assert ledger.get_hold("h1", at=T0 + HOUR - US).status == "active"
    assert ledger.get_hold("h1", at=T0 + HOUR).status == "expired"


def test_future_read_counts_upcoming_blocks_that_become_active(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, effective_at=T0 + DAY, at=T0).block.id
    assert ledger.get_block(block).status == "upcoming"
    assert ledger.blocks("ada") == []
    future = ledger.get_block(block, at=T0 + DAY)
    assert (future.status, future.available) == ("active", Decimal(10))
    assert [b.id for b in ledger.blocks("ada", at=T0 + DAY)] == [block]


def test_default_read_time_is_the_clock_but_never_before_the_last_entry(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    clock.now = T0 + 2 * DAY  # type: ignore[attr-defined]
    assert ledger.balance("ada").available == ZERO
    assert ledger.balance("ada").at == T0 + 2 * DAY
    ledger.grant("bob", 5, at=T0 + 10 * DAY)
    clock.now = T0  # type: ignore[attr-defined]
    assert ledger.balance("bob").at == T0 + 10 * DAY
    assert ledger.balance("ada").at == T0


def test_reads_reject_naive_times(ledger: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.balance("ada", at=datetime(2026, 1, 1))
    assert caught.value.field == "at"


# -- blocks and get_block ------------------------------------------------------------------------


def test_blocks_are_listed_in_burn_order(ledger: Ledger) -> None:
    c = ledger.grant("ada", 1, priority=3, at=T0).block.id
    a = ledger.grant("ada", 1, priority=1, at=T0).block.id
    b = ledger.grant("ada", 1, priority=2, at=T0).block.id
    assert [blk.id for blk in ledger.blocks("ada")] == [a, b, c]


def test_blocks_lists_only_active_blocks_of_the_unit_by_default(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    active = ledger.grant("ada", 5, at=T0).block.id
    held = ledger.grant("ada", 5, priority=1, at=T0).block.id
    ledger.hold("ada", 5, hold_id="h1", at=T0)  # fully held: still active
    ledger.grant("ada", 5, effective_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, expires_at=T0 + HOUR, at=T0)
    depleted = ledger.grant("ada", 1, priority=0, at=T0).block.id
    ledger.burn("ada", 1, at=T0)
    ledger.grant("ada", "1.00", unit="usd", at=T0)
    assert ledger.get_block(depleted).status == "depleted"
    assert [b.id for b in ledger.blocks("ada", at=T0 + 2 * HOUR)] == [held, active]
    assert [b.unit for b in ledger.blocks("ada", unit="usd")] == ["usd"]


def test_blocks_include_inactive_shows_every_status(ledger: Ledger) -> None:
    depleted = ledger.grant("ada", 1, priority=0, at=T0).block.id
    ledger.burn("ada", 1, at=T0)
    expired = ledger.grant("ada", 5, expires_at=T0 + HOUR, at=T0).block.id
    upcoming = ledger.grant("ada", 5, effective_at=T0 + DAY, at=T0).block.id
    active = ledger.grant("ada", 5, at=T0).block.id
    listed = {b.id: b.status for b in ledger.blocks("ada", include_inactive=True, at=T0 + 2 * HOUR)}
    assert listed == {depleted: "depleted", expired: "expired", upcoming: "upcoming", active: "active"}
    assert [b.id for b in ledger.blocks("ada", at=T0 + 2 * HOUR)] == [active]


def test_block_status_follows_what_emptied_it(ledger: Ledger) -> None:
    used = ledger.grant("ada", 5, priority=1, at=T0).block.id
    captured = ledger.grant("ada", 5, priority=2, at=T0).block.id
    expiring = ledger.grant("ada", 5, priority=3, expires_at=T0 + DAY, at=T0).block.id
    ledger.burn("ada", 5, at=T0)
    ledger.hold("ada", 5, hold_id="h1", at=T0)
    assert ledger.get_block(captured).status == "active"  # fully held is still active
    assert ledger.get_block(captured).available == ZERO
    ledger.capture("h1", at=T0)
    ledger.burn("ada", 2, at=T0)
    assert ledger.get_block(used).status == "depleted"
    assert ledger.get_block(captured).status == "depleted"
    assert ledger.get_block(expiring).status == "active"
    gone = ledger.get_block(expiring, at=T0 + DAY)
    assert (gone.status, gone.available) == ("expired", ZERO)


def test_block_available_is_remaining_minus_held_while_active(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 3, hold_id="h1", at=T0)
    now = ledger.get_block(block)
    assert (now.remaining, now.held, now.available) == (Decimal(10), Decimal(3), Decimal(7))
    later = ledger.get_block(block, at=T0 + DAY)
    assert (later.held, later.available, later.status) == (Decimal(3), ZERO, "expired")


def test_past_reads_of_a_block_or_hold_not_yet_created_raise_not_found(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0 + DAY).block.id
    ledger.hold("ada", 1, hold_id="h1", at=T0 + DAY)
    with pytest.raises(NotFound):
        ledger.get_block(block, at=T0 + DAY - US)
    with pytest.raises(NotFound):
        ledger.get_hold("h1", at=T0 + DAY - US)
    assert ledger.holds("ada", status=None, at=T0 + DAY - US) == []
    assert ledger.get_block(block, at=T0 + DAY).amount == Decimal(10)


def test_get_block_of_an_unknown_id_raises_not_found(ledger: Ledger) -> None:
    ledger.grant("ada", 1)
    with pytest.raises(NotFound):
        ledger.get_block("blk_nope")


# -- holds -------------------------------------------------------------------------------------------


def test_holds_lists_holds_by_status_oldest_first(ledger: Ledger) -> None:
    ledger.grant("ada", 100, at=T0)
    ledger.hold("ada", 1, hold_id="active-1", at=T0)
    ledger.hold("ada", 1, hold_id="captured", at=T0)
    ledger.hold("ada", 1, hold_id="released", at=T0)
    ledger.hold("ada", 1, hold_id="expired", expires_at=T0 + HOUR, at=T0)
    ledger.hold("ada", 1, hold_id="active-2", at=T0 + US)
    ledger.capture("captured", at=T0 + US)
    ledger.release("released", at=T0 + US)
    at = T0 + 2 * HOUR
    assert [h.id for h in ledger.holds("ada", at=at)] == ["active-1", "active-2"]
    assert [h.id for h in ledger.holds("ada", status="active", at=at)] == ["active-1", "active-2"]
    assert [h.id for h in ledger.holds("ada", status="captured", at=at)] == ["captured"]
    assert [h.id for h in ledger.holds("ada", status="released", at=at)] == ["released"]
    assert [h.id for h in ledger.holds("ada", status="expired", at=at)] == ["expired"]
    assert [h.id for h in ledger.holds("ada", status=None, at=at)] == [
        "active-1", "captured", "released", "expired", "active-2",
    ]  # fmt: skip
    assert ledger.holds("bob") == []


def test_holds_rejects_an_unknown_status(ledger: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.holds("ada", status="pending")
    assert caught.value.field == "status"


# -- entries -------------------------------------------------------------------------------------------


def test_entries_list_oldest_first_with_their_fields(ledger: Ledger) -> None:
    grant = ledger.grant("ada", 10, description="gift", metadata={"k": "v"}, at=T0)
    burn = ledger.burn("ada", 4, at=T0 + DAY)
    items = ledger.entries().items
    assert all(isinstance(e, Entry) for e in items)
    assert items == (*grant.entries, *burn.entries)
    first = items[0]
    assert (first.op_id, first.customer, first.unit, first.kind, first.block_id, first.hold_id) == (
        grant.op_id, "ada", "credits", "grant", grant.block.id, None,
    )  # fmt: skip
    assert (first.amount, first.available_after, first.at, first.description, first.metadata) == (
        Decimal(10), Decimal(10), T0, "gift", {"k": "v"},
    )  # fmt: skip


def test_entry_seq_is_strictly_increasing_across_the_ledger(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    ledger.grant("bob", 10, at=T0)
    ledger.hold("ada", 3, hold_id="h1", at=T0)
    ledger.burn("bob", 4, at=T0)
    ledger.capture("h1", 1, at=T0)
    seqs = [e.seq for e in ledger.entries().items]
    assert len(seqs) == 6
    assert all(a < b for a, b in itertools.pairwise(seqs))


def test_entry_available_after_tracks_the_customer_balance_in_that_unit(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    ledger.grant("ada", 10, at=T0)
    ledger.grant("ada", 5, scope={"trip"}, at=T0)
    ledger.grant("ada", "3.00", unit="usd", at=T0)
    ledger.grant("ada", 7, effective_at=T0 + DAY, at=T0)
    ledger.grant("bob", 100, at=T0)
    ledger.hold("ada", 4, hold_id="h1", at=T0)
    ledger.capture("h1", 1, at=T0)
    ledger.burn("ada", 2, scope="trip", at=T0)
    ledger.burn("ada", 20, at=T0 + DAY, overdraft="debt")
    after = [(e.kind, e.unit, e.amount, e.available_after) for e in ledger.entries("ada").items]
    assert after == [
        ("grant", "credits", Decimal(10), Decimal(10)),
        ("grant", "credits", Decimal(5), Decimal(15)),
        ("grant", "usd", Decimal(3), Decimal(3)),
        ("grant", "credits", Decimal(7), Decimal(15)),  # upcoming: not available yet
        ("hold", "credits", Decimal(4), Decimal(11)),
        ("capture", "credits", Decimal(1), Decimal(11)),
        ("release", "credits", Decimal(3), Decimal(14)),
        ("burn", "credits", Decimal(2), Decimal(12)),
        ("burn", "credits", Decimal(9), Decimal(10)),  # unscoped burn: never the scoped 3
        ("burn", "credits", Decimal(7), Decimal(3)),
        ("debt", "credits", Decimal(4), Decimal(3)),
    ]


def test_entries_filters(ledger: Ledger) -> None:
    ledger.define_unit("usd", 2)
    g1 = ledger.grant("ada", 10, at=T0)
    ledger.grant("bob", 10, at=T0 + HOUR)
    u = ledger.grant("ada", "1.00", unit="usd", at=T0 + 2 * HOUR)
    b = ledger.burn("ada", 4, at=T0 + 3 * HOUR)
    ledger.hold("ada", 2, hold_id="h1", at=T0 + 4 * HOUR)
    assert [e.customer for e in ledger.entries().items] == ["ada", "bob", "ada", "ada", "ada"]
    assert [e.kind for e in ledger.entries("ada").items] == ["grant", "grant", "burn", "hold"]
    assert ledger.entries("ada", unit="usd").items == u.entries
    assert [e.customer for e in ledger.entries(kinds=["grant"]).items] == ["ada", "bob", "ada"]
    assert [e.kind for e in ledger.entries("ada", kinds=["burn", "hold"]).items] == ["burn", "hold"]
    assert [e.kind for e in ledger.entries(block_id=g1.block.id).items] == ["grant", "burn", "hold"]
    assert ledger.entries(op_id=b.op_id).items == b.entries
    # since is inclusive, until exclusive
    window = ledger.entries(since=T0 + HOUR, until=T0 + 3 * HOUR).items
    assert [e.at for e in window] == [T0 + HOUR, T0 + 2 * HOUR]
    assert ledger.entries("ada", since=T0 + 3 * HOUR, kinds=["burn"], unit="credits").items == b.entries


def test_entries_filters_never_raise_not_found(ledger: Ledger) -> None:
    ledger.grant("ada", 1)
    assert ledger.entries("nobody").items == ()
    assert ledger.entries(block_id="blk_nope").items == ()
    assert ledger.entries(op_id="op_nope").items == ()
    assert ledger.entries(unit="nounit").items == ()


def test_entries_rejects_an_unknown_kind(ledger: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.entries(kinds=["gift"])
    assert caught.value.field == "kinds"


def test_entries_cursor_pages_through_everything_once(ledger: Ledger) -> None:
    for n in range(7):
        ledger.grant("ada", n + 1, at=T0)
    ledger.grant("bob", 1, at=T0)
    everything = ledger.entries("ada").items
    seen: list[Entry] = []
    cursor = None
    pages = 0
    while True:
        page = ledger.entries("ada", limit=3, after=cursor)
        pages += 1
        assert len(page.items) <= 3
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert tuple(seen) == everything
    assert pages == 3
    # an exact fit leaves no dangling cursor
    exact = ledger.entries("ada", limit=7)
    assert (len(exact.items), exact.next_cursor) == (7, None)


def test_entries_cursor_sees_entries_written_after_it(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    ledger.grant("ada", 2, at=T0)
    page = ledger.entries("ada", limit=1)
    assert page.next_cursor is not None
    ledger.grant("ada", 3, at=T0)
    rest = ledger.entries("ada", limit=10, after=page.next_cursor)
    assert [e.amount for e in rest.items] == [Decimal(2), Decimal(3)]
    assert rest.next_cursor is None


def test_entries_rejects_a_forged_cursor(ledger: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.entries(after="not-a-cursor")
    assert caught.value.field == "after"

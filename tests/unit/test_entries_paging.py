"""SPEC §4 entries(): every filter (customer, unit, kinds, block_id, op_id, since inclusive, until
exclusive), ``limit``, the opaque cursor (``after`` / ``next_cursor``, None once nothing is
left), paging that never repeats or skips an entry while writes go on between pages, ``seq``
strictly increasing, and ``available_after`` right on every entry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Entry, InsufficientCredits, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def everything(ledger: Ledger, **filters: object) -> list[Entry]:
    return list(ledger.entries(limit=10_000, **filters).items)  # type: ignore[arg-type]


def paged(ledger: Ledger, limit: int, **filters: object) -> list[Entry]:
    items: list[Entry] = []
    cursor: str | None = None
    while True:
        page = ledger.entries(after=cursor, limit=limit, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= limit
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items
        assert page.items, "a page with a cursor has items"


def busy(ledger: Ledger) -> dict[str, str]:
    """Two customers, two units, every kind of entry; returns some ids."""
    ledger.define_unit("usd", 2)
    ids: dict[str, str] = {}
    ids["a"] = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ids["b"] = ledger.grant("ada", 20, at=T0).block.id
    ids["usd"] = ledger.grant("ada", "5.00", unit="usd", at=T0).block.id
    ids["bob"] = ledger.grant("bob", 7, at=T0 + HOUR).block.id
    ids["burn"] = ledger.burn("ada", 4, at=T0 + HOUR).op_id
    ledger.hold("ada", 6, hold_id="h1", at=T0 + 2 * HOUR)
    ids["capture"] = ledger.capture("h1", 2, at=T0 + 3 * HOUR).op_id
    ledger.void(ids["b"], 3, at=T0 + 4 * HOUR)
    ledger.reverse(ids["burn"], 1, at=T0 + 5 * HOUR)
    ids["move"] = ledger.change_expiry(ids["b"], T0 + 9 * DAY, amount=2, at=T0 + 6 * HOUR).block.id
    ledger.burn("bob", 9, overdraft="debt", at=T0 + 7 * HOUR)
    ledger.grant("bob", 5, at=T0 + DAY)  # settles
    ledger.burn("ada", "1.25", unit="usd", at=T0 + DAY)
    ledger.expire_due(at=T0 + 2 * DAY)
    return ids


# -- order and seq --------------------------------------------------------------------------------


def test_entries_are_oldest_first_with_strictly_increasing_seq(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    seqs = [e.seq for e in items]
    assert all(a < b for a, b in itertools.pairwise(seqs))
    assert {e.kind for e in items} == {
        "grant", "burn", "debt", "settle", "hold", "capture", "release", "expire", "void", "reverse",
        "move_out", "move_in",
    }  # fmt: skip
    assert all(e.amount > 0 for e in items)


def test_seq_keeps_increasing_across_customers_and_failed_writes(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("bob", 5, at=T0)
    ledger.grant("bob", 1, at=T0)
    ledger.grant("ada", 1, at=T0)
    seqs = [e.seq for e in everything(ledger)]
    assert seqs == sorted(set(seqs)) and len(seqs) == 3


# -- filters --------------------------------------------------------------------------------------


def test_entries_filter_by_customer(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    assert everything(ledger, customer="bob") == [e for e in items if e.customer == "bob"]
    assert everything(ledger, customer="ada") == [e for e in items if e.customer == "ada"]
    assert ledger.entries("bob", limit=10_000).items == tuple(everything(ledger, customer="bob"))
    assert everything(ledger, customer="ghost") == []


def test_entries_filter_by_unit(ledger: Ledger) -> None:
    busy(ledger)
    usd = everything(ledger, unit="usd")
    assert [(e.kind, e.amount) for e in usd] == [("grant", Decimal("5.00")), ("burn", Decimal("1.25"))]
    assert everything(ledger, unit="credits") == [e for e in everything(ledger) if e.unit == "credits"]


def test_entries_filter_by_kinds(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    for chosen in ({"burn"}, {"move_out", "move_in"}, ["settle", "debt"], ("expire",)):
        assert everything(ledger, kinds=chosen) == [e for e in items if e.kind in set(chosen)]
    assert everything(ledger, kinds="void") == [e for e in items if e.kind == "void"]
    assert everything(ledger, kinds=[]) == []


def test_entries_filter_by_block_id(ledger: Ledger) -> None:
    ids = busy(ledger)
    got = everything(ledger, block_id=ids["a"])
    assert got == [e for e in everything(ledger) if e.block_id == ids["a"]]
    assert [e.kind for e in got] == ["grant", "burn", "hold", "capture", "release", "reverse", "expire"]
    assert [e.kind for e in everything(ledger, block_id=ids["b"])] == ["grant", "void", "move_out"]
    assert [e.kind for e in everything(ledger, block_id=ids["move"])] == ["move_in"]


def test_entries_filter_by_op_id(ledger: Ledger) -> None:
    ids = busy(ledger)
    got = everything(ledger, op_id=ids["capture"])
    assert [(e.kind, e.amount) for e in got] == [("capture", Decimal(2)), ("release", Decimal(4))]
    assert all(e.op_id == ids["capture"] for e in got)
    expiry = f"expire:{ids['a']}"
    assert [(e.kind, e.at) for e in everything(ledger, op_id=expiry)] == [("expire", T0 + DAY)]


def test_entries_since_is_inclusive_and_until_exclusive(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    lo, hi = T0 + HOUR, T0 + 4 * HOUR
    got = everything(ledger, since=lo, until=hi)
    assert got == [e for e in items if lo <= e.at < hi]
    assert {e.at for e in got} == {T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR}
    assert everything(ledger, since=hi, until=hi) == []
    assert everything(ledger, since=hi - US, until=hi + US) == [e for e in items if e.at == hi]
    assert everything(ledger, until=T0) == []
    assert everything(ledger, since=T0 + 3 * DAY) == []


def test_entries_filters_combine(ledger: Ledger) -> None:
    ids = busy(ledger)
    got = everything(ledger, customer="ada", unit="credits", kinds={"burn", "capture"}, since=T0 + HOUR)
    assert [(e.kind, e.block_id) for e in got] == [("burn", ids["a"]), ("capture", ids["a"])]
    assert everything(ledger, customer="bob", block_id=ids["b"]) == []
    assert everything(ledger, op_id=ids["burn"], kinds={"grant"}) == []


def test_entries_filters_never_raise_not_found(ledger: Ledger) -> None:
    busy(ledger)
    assert everything(ledger, customer="nobody", unit="nothing", block_id="blk_no", op_id="op_no") == []


# -- limit and cursor -----------------------------------------------------------------------------


def test_entries_limit_caps_the_page_and_next_cursor_continues(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    first = ledger.entries(limit=3)
    assert first.items == tuple(items[:3])
    assert isinstance(first.next_cursor, str) and first.next_cursor
    second = ledger.entries(after=first.next_cursor, limit=3)
    assert second.items == tuple(items[3:6])


def test_next_cursor_is_none_once_nothing_is_left(ledger: Ledger) -> None:
    for i in range(6):
        ledger.grant("ada", 1 + i, at=T0)
    assert ledger.entries(limit=6).next_cursor is None  # exactly the rest: nothing left
    assert ledger.entries(limit=7).next_cursor is None
    page = ledger.entries(limit=5)
    assert page.next_cursor is not None
    last = ledger.entries(after=page.next_cursor, limit=5)
    assert len(last.items) == 1 and last.next_cursor is None


def test_entries_of_an_empty_ledger(ledger: Ledger) -> None:
    page = ledger.entries()
    assert (page.items, page.next_cursor) == ((), None)


def test_default_limit_is_100(ledger: Ledger) -> None:
    for _ in range(101):
        ledger.grant("ada", 1, at=T0)
    page = ledger.entries()
    assert len(page.items) == 100 and page.next_cursor is not None
    assert len(ledger.entries(after=page.next_cursor).items) == 1


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_paging_returns_every_entry_once(ledger: Ledger, limit: int) -> None:
    busy(ledger)
    assert paged(ledger, limit) == everything(ledger)


@pytest.mark.parametrize(
    "filters",
    [{"customer": "ada"}, {"kinds": {"grant", "burn"}}, {"unit": "credits", "since": T0 + HOUR}],
    ids=["customer", "kinds", "unit-since"],
)
def test_paging_with_filters_returns_every_match_once(ledger: Ledger, filters: dict[str, object]) -> None:
    busy(ledger)
    assert paged(ledger, 2, **filters) == everything(ledger, **filters)


def test_paging_never_repeats_or_skips_while_writes_continue(ledger: Ledger) -> None:
    for i in range(5):
        ledger.grant("ada", 1, at=T0 + i * US)
    seen: list[Entry] = []
    cursor: str | None = None
    step = 0
    while True:
        page = ledger.entries(after=cursor, limit=2)
        seen.extend(page.items)
        # between pages: more writes, for the customer read and for another
        if step < 6:
            ledger.grant("ada", 1, at=T0 + HOUR + step * US)
            ledger.burn("ada", 1, at=T0 + HOUR + step * US)
            ledger.grant("bob", 1, at=T0 + step * US)
            step += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything(ledger)
    seqs = [e.seq for e in seen]
    assert len(seqs) == len(set(seqs))


def test_filtered_paging_sees_matches_written_after_the_cursor(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    ledger.grant("bob", 1, at=T0)
    page = ledger.entries("ada", limit=1)
    assert page.next_cursor is None
    # a cursor from a full page keeps working when more entries arrive
    first = ledger.entries(limit=1)
    ledger.grant("ada", 2, at=T0)
    ledger.grant("bob", 2, at=T0)
    rest = paged(ledger, 1, customer="ada")
    assert [e.amount for e in rest] == [Decimal(1), Decimal(2)]
    after = ledger.entries("ada", after=first.next_cursor, limit=10).items
    assert [e.amount for e in after] == [Decimal(2)]


def test_cursor_is_opaque_text(ledger: Ledger) -> None:
    for _ in range(3):
        ledger.grant("ada", 1, at=T0)
    cursor = ledger.entries(limit=1).next_cursor
    assert isinstance(cursor, str)
    assert cursor not in {"1", "2"}  # not just the seq


# -- available_after ------------------------------------------------------------------------------


def test_available_after_is_right_on_every_entry(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    trip = ledger.grant("ada", 5, scope={"trip"}, at=T0).block.id
    later = ledger.grant("ada", 3, effective_at=T0 + 2 * HOUR, at=T0).block.id
    names = {a: "a", trip: "trip", later: "later"}
    ledger.burn("ada", 4, scope="trip", at=T0 + HOUR)  # a expires sooner: it goes first
    ledger.hold("ada", 6, hold_id="h1", at=T0 + HOUR)
    ledger.capture("h1", 2, at=T0 + 3 * HOUR)
    ledger.void(trip, 1, at=T0 + 3 * HOUR)
    ledger.burn("ada", 20, overdraft="debt", at=T0 + 4 * HOUR)
    names[ledger.grant("ada", 8, at=T0 + 5 * HOUR).block.id] = "settling"
    ledger.expire_due(at=T0 + 2 * DAY)
    got = [(e.kind, names.get(e.block_id or ""), e.amount, e.available_after) for e in everything(ledger)]
    assert got == [
        ("grant", "a", Decimal(10), Decimal(10)),
        ("grant", "trip", Decimal(5), Decimal(15)),
        ("grant", "later", Decimal(3), Decimal(15)),  # upcoming: not available yet
        ("burn", "a", Decimal(4), Decimal(11)),
        ("hold", "a", Decimal(6), Decimal(5)),
        ("capture", "a", Decimal(2), Decimal(8)),  # "later" has been active since T0 + 2h
        ("release", "a", Decimal(4), Decimal(12)),
        ("void", "trip", Decimal(1), Decimal(11)),
        ("burn", "a", Decimal(4), Decimal(7)),
        ("burn", "later", Decimal(3), Decimal(4)),  # only the scoped credit is left
        ("debt", None, Decimal(13), Decimal(4)),
        ("grant", "settling", Decimal(8), Decimal(12)),
        ("settle", "settling", Decimal(8), Decimal(4)),
    ]


def test_available_after_matches_the_balance_after_each_moment(ledger: Ledger) -> None:
    busy(ledger)
    items = everything(ledger)
    last: dict[tuple[str, str, datetime], Entry] = {}
    for e in items:
        last[(e.customer, e.unit, e.at)] = e
    for (customer, unit, at), e in last.items():
        assert e.available_after == ledger.balance(customer, unit=unit, at=at).available, e


def test_available_after_is_per_unit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    ledger.grant("ada", 10, at=T0)
    e = ledger.grant("ada", "2.50", unit="usd", at=T0).entries[0]
    assert e.available_after == Decimal("2.50")
    assert ledger.burn("ada", 1, at=T0).entries[0].available_after == 9

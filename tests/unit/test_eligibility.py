"""SPEC §14: scope sets, category filters and single-use blocks, on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import IdempotencyConflict, InsufficientCredits, Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
D = Decimal


def moves(result: object) -> list[tuple[str, str | None, Decimal, str | None]]:
    return [(e.kind, e.block_id, e.amount, e.description) for e in result.entries]  # type: ignore[attr-defined]


# -- scope sets ---------------------------------------------------------------------------------


def test_a_trip_charge_reaches_every_scope_of_its_set(ledger: Ledger) -> None:
    # an Aima credit is LOCAL or GLOBAL and for TRIP, REGISTRATION, PRODUCTS or ALL
    local_trip = ledger.grant("ada", 3, scope={"local:trip"}, at=T0).block.id
    global_all = ledger.grant("ada", 4, scope={"global:all"}, at=T0).block.id
    ledger.grant("ada", 50, scope={"local:products"}, at=T0)
    burned = ledger.burn("ada", 6, scope={"local:trip", "local:all", "global:trip", "global:all"}, at=T0)
    assert [(e.block_id, e.amount) for e in burned.entries] == [(local_trip, D(3)), (global_all, D(3))]


def test_without_a_scope_only_unscoped_blocks_serve(ledger: Ledger) -> None:
    ledger.grant("ada", 5, scope="trip", at=T0)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 1, at=T0)
    assert caught.value.available == 0


def test_a_scoped_block_burns_before_unscoped_ones_however_many_scopes_match(ledger: Ledger) -> None:
    unscoped = ledger.grant("ada", 10, priority=10, at=T0).block.id
    one = ledger.grant("ada", 2, scope={"a"}, priority=10, at=T0).block.id
    both = ledger.grant("ada", 2, scope={"a", "b"}, priority=10, at=T0).block.id
    burned = ledger.burn("ada", 5, scope=["a", "b"], at=T0)
    assert [e.block_id for e in burned.entries] == [one, both, unscoped]


def test_a_balance_with_a_scope_set_counts_what_a_burn_with_it_could_use(ledger: Ledger) -> None:
    ledger.grant("ada", 1, at=T0)
    ledger.grant("ada", 2, scope={"a"}, at=T0)
    ledger.grant("ada", 4, scope={"b", "c"}, at=T0)
    ledger.grant("ada", 8, scope={"d"}, at=T0)
    ledger.hold("ada", 1, hold_id="h", scope="c", at=T0)
    balance = ledger.balance("ada", scope={"a", "c"}, at=T0)
    assert (balance.available, balance.held, balance.unscoped_available) == (D(6), D(1), D(1))
    assert ledger.balance("ada", scope="a", at=T0).available == ledger.balance("ada", scope={"a"}, at=T0).available


def test_a_str_scope_and_its_one_element_set_are_one_call_for_a_key(ledger: Ledger) -> None:
    ledger.grant("ada", 10, scope={"a", "b"}, at=T0)
    first = ledger.burn("ada", 1, scope="a", idempotency_key="k", at=T0)
    again = ledger.burn("ada", 1, scope={"a"}, idempotency_key="k", at=T0)
    assert again.replayed and again.op_id == first.op_id
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.burn("ada", 1, scope={"a", "b"}, idempotency_key="k", at=T0)
    assert caught.value.field == "scope"


def test_a_hold_keeps_its_scope_set_and_categories(ledger: Ledger) -> None:
    ledger.grant("ada", 10, scope={"a"}, category="paid", at=T0)
    hold = ledger.hold("ada", 3, hold_id="h", scope=["a", "b", "a"], categories="paid", at=T0).hold
    assert (hold.scope, hold.categories) == (frozenset({"a", "b"}), frozenset({"paid"}))
    assert ledger.get_hold("h").scope == frozenset({"a", "b"})
    assert ledger.get_hold("h").categories == frozenset({"paid"})


@pytest.mark.parametrize("scope", [set(), "", [""], ["a", 5], {"a": "b"}, 5, "x" * 201])
def test_a_bad_scope_set_is_refused_and_writes_nothing(ledger: Ledger, scope: object) -> None:
    ledger.grant("ada", 10, at=T0)
    before = ledger.entries(limit=1000).items
    for call in (
        lambda: ledger.burn("ada", 1, scope=scope, at=T0),  # type: ignore[arg-type]
        lambda: ledger.hold("ada", 1, hold_id="h", scope=scope, at=T0),  # type: ignore[arg-type]
        lambda: ledger.preview_burn("ada", 1, scope=scope, at=T0),  # type: ignore[arg-type]
        lambda: ledger.balance("ada", scope=scope, at=T0),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == "scope"
    assert ledger.entries(limit=1000).items == before


# -- categories -----------------------------------------------------------------------------------


def test_gpu_spend_uses_only_paid_credit(ledger: Ledger) -> None:
    # Hanzo: "GPU spend uses only paid credit"
    ledger.grant("ada", 10, category="promotional", at=T0)
    paid = ledger.grant("ada", 4, category="paid", at=T0).block.id
    burned = ledger.burn("ada", 3, categories="paid", at=T0)
    assert [(e.block_id, e.amount) for e in burned.entries] == [(paid, D(3))]
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 2, categories={"paid"}, at=T0)
    assert caught.value.available == D(1)
    assert "leaves out" in str(caught.value)


def test_a_preview_honours_categories(ledger: Ledger) -> None:
    ledger.grant("ada", 10, at=T0)
    paid = ledger.grant("ada", 4, category="paid", at=T0).block.id
    preview = ledger.preview_burn("ada", 5, categories=["paid"], at=T0)
    assert preview.allocations == ((paid, D(4)),) and preview.shortfall == D(1)


def test_a_capture_consumes_its_pinned_blocks_whatever_their_category(ledger: Ledger) -> None:
    paid = ledger.grant("ada", 4, category="paid", at=T0).block.id
    ledger.hold("ada", 4, hold_id="h", categories="paid", at=T0)
    captured = ledger.capture("h", 4, at=T0)
    assert [(e.kind, e.block_id) for e in captured.entries] == [("capture", paid)]


def test_debt_of_a_filtered_burn_is_settled_by_any_block(ledger: Ledger) -> None:
    ledger.burn("ada", 5, categories="paid", overdraft="debt", at=T0)
    granted = ledger.grant("ada", 8, category="promotional", at=T0 + HOUR)
    assert [e.kind for e in granted.entries] == ["grant", "settle"]
    assert ledger.balance("ada", at=T0 + HOUR).debt == 0


@pytest.mark.parametrize("categories", [set(), "free", ["paid", "gift"], 5, {"paid": 1}])
def test_bad_categories_are_refused_and_write_nothing(ledger: Ledger, categories: object) -> None:
    ledger.grant("ada", 10, at=T0)
    before = ledger.entries(limit=1000).items
    for call in (
        lambda: ledger.burn("ada", 1, categories=categories, at=T0),  # type: ignore[arg-type]
        lambda: ledger.hold("ada", 1, hold_id="h", categories=categories, at=T0),  # type: ignore[arg-type]
        lambda: ledger.preview_burn("ada", 1, categories=categories, at=T0),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == "categories"
    assert ledger.entries(limit=1000).items == before


# -- single-use blocks ---------------------------------------------------------------------------


def test_the_first_use_voids_the_rest_of_a_single_use_block(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, at=T0).block
    assert (once.single_use, once.first_used_at, once.used, once.source) == (True, None, D(0), "grant")
    burned = ledger.burn("ada", 3, at=T0 + HOUR)
    assert moves(burned) == [("burn", once.id, D(3), None), ("void", once.id, D(7), "single_use")]
    block = ledger.get_block(once.id)
    assert (block.status, block.first_used_at, block.used, block.remaining) == ("voided", T0 + HOUR, D(3), D(0))
    balance = ledger.balance("ada")
    assert (balance.used, balance.voided, balance.available) == (D(3), D(7), D(0))


def test_a_use_that_takes_all_of_a_single_use_block_writes_no_void(ledger: Ledger) -> None:
    once = ledger.grant("ada", 4, single_use=True, at=T0).block.id
    ledger.grant("ada", 10, priority=90, at=T0)
    burned = ledger.burn("ada", 6, at=T0)
    assert [e.kind for e in burned.entries] == ["burn", "burn"] and burned.entries[0].block_id == once


def test_held_credit_of_a_used_single_use_block_stays_reserved_and_captures(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h", at=T0)  # a hold pins; it is not a use
    assert ledger.get_block(once).first_used_at is None
    burned = ledger.burn("ada", 1, at=T0)
    assert moves(burned) == [("burn", once, D(1), None), ("void", once, D(5), "single_use")]
    captured = ledger.capture("h", 4, at=T0)
    assert [e.kind for e in captured.entries] == ["capture"]
    assert ledger.balance("ada").used == D(5)


def test_a_partial_capture_releases_the_rest_then_one_void_ends_the_block(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, at=T0).block.id
    ledger.hold("ada", 6, hold_id="h", at=T0)
    captured = ledger.capture("h", 2, at=T0)
    assert moves(captured) == [
        ("capture", once, D(2), None),
        ("release", once, D(4), None),
        ("void", once, D(8), "single_use"),
    ]
    assert ledger.balance("ada").available == 0


def test_credit_that_comes_back_to_a_spent_block_is_voided_at_once(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, at=T0).block.id
    ledger.hold("ada", 2, hold_id="h", expires_at=T0 + 2 * HOUR, at=T0)
    burn = ledger.burn("ada", 3, at=T0)
    released = ledger.release("h", at=T0 + HOUR)
    assert moves(released) == [("release", once, D(2), None), ("void", once, D(2), "single_use")]
    reversed_ = ledger.reverse(burn.op_id, at=T0 + HOUR)
    assert [e.kind for e in reversed_.entries] == ["reverse", "void"]
    assert ledger.balance("ada").available == 0
    assert ledger.get_block(once).used == 0


def test_a_settlement_and_a_hold_are_not_uses(ledger: Ledger) -> None:
    ledger.burn("ada", 3, overdraft="debt", at=T0)
    once = ledger.grant("ada", 10, single_use=True, at=T0 + HOUR).block
    assert once.first_used_at is None and once.used == D(3) and once.remaining == D(7)
    burned = ledger.burn("ada", 1, at=T0 + HOUR)
    assert [e.kind for e in burned.entries] == ["burn", "void"]


def test_moving_an_unused_single_use_block_makes_a_single_use_block(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, expires_at=T0 + 10 * HOUR, at=T0).block.id
    moved = ledger.change_expiry(once, T0 + 20 * HOUR, at=T0).block
    assert (moved.single_use, moved.source, moved.used) == (True, "move", D(0))
    burned = ledger.burn("ada", 1, at=T0)
    assert [e.kind for e in burned.entries] == ["burn", "void"]


def test_a_past_read_shows_a_single_use_block_as_it_was(ledger: Ledger) -> None:
    once = ledger.grant("ada", 10, single_use=True, at=T0).block.id
    ledger.burn("ada", 3, at=T0 + HOUR)
    before = ledger.get_block(once, at=T0 + HOUR / 2)
    assert (before.first_used_at, before.used, before.remaining) == (None, D(0), D(10))
    assert ledger.verify().ok

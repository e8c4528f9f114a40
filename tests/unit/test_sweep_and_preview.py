"""SPEC §3 expiry in bulk (``expire_due``: every customer, entries dated when they fell due, in
time order with hold timeouts, returns what it wrote, idempotent) and ``preview_burn`` (the
allocations a burn would make, in draw order, and the shortfall, writing nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from creditcore import Balance, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def all_entries(ledger: Ledger) -> list[object]:
    return list(ledger.entries(limit=10_000).items)


def view(entries: object) -> list[tuple[str, str, str | None, str | None, Decimal, datetime]]:
    return [(e.customer, e.kind, e.block_id, e.hold_id, e.amount, e.at) for e in entries]  # type: ignore[attr-defined]


# -- expire_due -----------------------------------------------------------------------------------


def test_expire_due_records_every_customer_dated_at_each_expires_at(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    b = ledger.grant("bob", 5, expires_at=T0 + 2 * DAY, at=T0).block.id
    ledger.grant("cy", 7, at=T0)  # never expires
    written = ledger.expire_due(at=T0 + 3 * DAY)
    assert view(written) == [
        ("ada", "expire", a, None, Decimal(10), T0 + DAY),
        ("bob", "expire", b, None, Decimal(5), T0 + 2 * DAY),
    ]
    assert ledger.balance("ada").expired == 10 and ledger.balance("bob").expired == 5
    assert ledger.balance("cy").available == 7


def test_expire_due_returns_exactly_the_entries_it_wrote(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("bob", 5, expires_at=T0 + DAY, at=T0)
    ledger.hold("bob", 2, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    before = all_entries(ledger)
    written = ledger.expire_due(at=T0 + 2 * DAY)
    assert all_entries(ledger) == before + list(written)
    seqs = [e.seq for e in written]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_expire_due_records_expiries_and_hold_timeouts_in_time_order(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, expires_at=T0 + 3 * DAY, at=T0).block.id
    b = ledger.grant("ada", 5, expires_at=T0 + DAY, at=T0).block.id
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)  # pins b, which expires sooner
    ledger.hold("ada", 3, hold_id="h2", expires_at=T0 + 12 * HOUR, at=T0)  # pins b's last 1, then a
    written = ledger.expire_due(at=T0 + 4 * DAY)
    assert view(written) == [
        ("ada", "release", b, "h2", Decimal(1), T0 + 12 * HOUR),
        ("ada", "release", a, "h2", Decimal(2), T0 + 12 * HOUR),
        ("ada", "expire", b, None, Decimal(1), T0 + DAY),  # the unheld part only
        ("ada", "release", b, "h1", Decimal(4), T0 + 2 * DAY),
        ("ada", "expire", b, None, Decimal(4), T0 + 2 * DAY),  # given back to an expired block
        ("ada", "expire", a, None, Decimal(10), T0 + 3 * DAY),
    ]
    times = [e.at for e in written]
    assert times == sorted(times)
    assert [h.status for h in ledger.holds("ada", status=None)] == ["expired", "expired"]
    assert ledger.balance("ada").expired == 15


def test_expire_due_gives_each_event_its_own_op_id(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    ledger.grant("ada", 10, at=T0)
    ledger.hold("ada", 12, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    written = ledger.expire_due(at=T0 + DAY)
    by_op = {e.op_id for e in written}
    assert len(by_op) == 2
    for op_id in by_op:
        assert ledger.entries(op_id=op_id).items == tuple(e for e in written if e.op_id == op_id)
    assert any(block in op_id for op_id in by_op) and any("h1" in op_id for op_id in by_op)


def test_expire_due_is_idempotent(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.hold("ada", 3, hold_id="h1", expires_at=T0 + HOUR, at=T0)
    first = ledger.expire_due(at=T0 + 2 * DAY)
    assert first
    entries = all_entries(ledger)
    assert ledger.expire_due(at=T0 + 2 * DAY) == []
    assert ledger.expire_due(at=T0 + 3 * DAY) == []
    assert all_entries(ledger) == entries


def test_expire_due_records_only_what_fell_due_by_at(ledger: Ledger) -> None:
    a = ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0).block.id
    b = ledger.grant("ada", 5, expires_at=T0 + 2 * DAY, at=T0).block.id
    assert ledger.expire_due(at=T0 + DAY - US) == []
    assert [e.block_id for e in ledger.expire_due(at=T0 + DAY)] == [a]
    assert [e.block_id for e in ledger.expire_due(at=T0 + 2 * DAY)] == [b]


def test_expire_due_defaults_to_the_clock(ledger: Ledger, clock: object) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    assert ledger.expire_due() == []
    clock.now = T0 + 2 * DAY  # type: ignore[attr-defined]
    written = ledger.expire_due()
    assert [(e.kind, e.at) for e in written] == [("expire", T0 + DAY)]


def test_expire_due_writes_nothing_when_nothing_is_due(ledger: Ledger) -> None:
    assert ledger.expire_due(at=T0) == []  # an empty ledger
    ledger.grant("ada", 10, at=T0)
    block = ledger.grant("ada", 5, expires_at=T0 + DAY, at=T0).block.id
    ledger.burn("ada", 15, at=T0)
    assert ledger.get_block(block).status == "depleted"
    entries = all_entries(ledger)
    assert ledger.expire_due(at=T0 + 2 * DAY) == []  # a used-up block leaves nothing to expire
    assert all_entries(ledger) == entries


def test_expire_due_skips_a_customer_whose_history_is_past_at(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("bob", 5, at=T0 + 3 * DAY)  # bob's history is ahead of the sweep
    written = ledger.expire_due(at=T0 + 2 * DAY)
    assert [e.customer for e in written] == ["ada"]


def test_expired_credit_counts_the_same_before_and_after_the_sweep(
    ledger: Ledger, identity: Callable[[Balance], None]
) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 4, at=T0)
    ledger.hold("ada", 6, hold_id="h1", expires_at=T0 + 2 * DAY, at=T0)
    before = ledger.balance("ada", at=T0 + 3 * DAY)
    ledger.expire_due(at=T0 + 3 * DAY)
    after = ledger.balance("ada", at=T0 + 3 * DAY)
    assert after == before
    assert (after.expired, after.available, after.held) == (Decimal(10), Decimal(4), Decimal(0))
    identity(after)


def test_a_write_after_the_sweep_finds_nothing_left_to_record(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, at=T0)
    ledger.expire_due(at=T0 + 2 * DAY)
    r = ledger.burn("ada", 1, at=T0 + 2 * DAY)
    assert [e.kind for e in ledger.entries("ada", since=T0 + HOUR).items] == ["expire", "burn"]
    assert [e.kind for e in r.entries] == ["burn"]


def test_sweep_after_lazy_recording_writes_nothing_more(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, at=T0)
    ledger.burn("ada", 1, at=T0 + 2 * DAY)  # records the expiry lazily
    assert ledger.expire_due(at=T0 + 2 * DAY) == []


def test_sweep_result_verifies_clean(ledger: Ledger) -> None:
    for customer in ("ada", "bob", "cy"):
        ledger.grant(customer, 10, expires_at=T0 + DAY, at=T0)
        ledger.grant(customer, 10, expires_at=T0 + 3 * DAY, at=T0)
        ledger.hold(customer, 12, hold_id=f"h-{customer}", expires_at=T0 + 2 * DAY, at=T0)
    ledger.expire_due(at=T0 + DAY + HOUR)
    ledger.expire_due(at=T0 + 5 * DAY)
    report = ledger.verify()
    assert report.ok, str(report)
    assert all(ledger.balance(c).expired == 20 for c in ("ada", "bob", "cy"))


# -- preview_burn ---------------------------------------------------------------------------------


def test_preview_burn_returns_allocations_in_draw_order(ledger: Ledger) -> None:
    late = ledger.grant("ada", 5, priority=50, at=T0).block.id
    soon = ledger.grant("ada", 3, priority=50, expires_at=T0 + DAY, at=T0).block.id
    first = ledger.grant("ada", 2, priority=10, at=T0).block.id
    preview = ledger.preview_burn("ada", 7, at=T0)
    assert preview.allocations == ((first, Decimal(2)), (soon, Decimal(3)), (late, Decimal(2)))
    assert preview.shortfall == 0


def test_preview_burn_matches_what_the_burn_then_draws(ledger: Ledger) -> None:
    ledger.grant("ada", 5, priority=50, at=T0)
    ledger.grant("ada", 3, priority=50, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 2, priority=10, at=T0)
    ledger.grant("ada", 4, scope={"trip"}, at=T0)
    preview = ledger.preview_burn("ada", 12, scope="trip", at=T0)
    burn = ledger.burn("ada", 12, scope="trip", at=T0)
    assert preview.allocations == tuple((e.block_id, e.amount) for e in burn.entries)


def test_preview_burn_reports_the_shortfall(ledger: Ledger) -> None:
    block = ledger.grant("ada", 5, at=T0).block.id
    preview = ledger.preview_burn("ada", 8, at=T0)
    assert preview.allocations == ((block, Decimal(5)),)
    assert preview.shortfall == 3


def test_preview_burn_for_an_unknown_customer_is_all_shortfall(ledger: Ledger) -> None:
    preview = ledger.preview_burn("ghost", 8, at=T0)
    assert (preview.allocations, preview.shortfall) == ((), Decimal(8))


def test_preview_burn_writes_nothing(ledger: Ledger) -> None:
    ledger.grant("ada", 10, expires_at=T0 + DAY, at=T0)
    ledger.grant("ada", 5, effective_at=T0 + 2 * DAY, at=T0)
    ledger.burn("ada", 1, overdraft="debt", at=T0)
    entries = all_entries(ledger)
    balance = ledger.balance("ada", at=T0)
    for at in (T0, T0 + DAY, T0 + 3 * DAY):
        ledger.preview_burn("ada", 100, at=at)
    assert all_entries(ledger) == entries
    assert ledger.balance("ada", at=T0) == balance
    assert ledger.expire_due(at=T0 + HOUR) == []


def test_preview_burn_skips_held_expired_upcoming_voided_and_other_scopes(ledger: Ledger) -> None:
    held = ledger.grant("ada", 5, priority=1, at=T0).block.id
    ledger.hold("ada", 3, hold_id="h1", at=T0)
    ledger.grant("ada", 5, priority=2, expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 5, priority=3, effective_at=T0 + DAY, at=T0)
    voided = ledger.grant("ada", 5, priority=4, at=T0).block.id
    ledger.void(voided, at=T0)
    ledger.grant("ada", 5, priority=5, scope={"trip"}, at=T0)
    plain = ledger.grant("ada", 5, priority=6, at=T0).block.id
    preview = ledger.preview_burn("ada", 20, at=T0 + HOUR)
    assert preview.allocations == ((held, Decimal(2)), (plain, Decimal(5)))
    assert preview.shortfall == 13


def test_preview_burn_at_a_future_time_counts_expiries_and_upcoming_blocks(ledger: Ledger) -> None:
    soon = ledger.grant("ada", 5, expires_at=T0 + DAY, at=T0).block.id
    upcoming = ledger.grant("ada", 4, effective_at=T0 + DAY, at=T0).block.id
    assert ledger.preview_burn("ada", 9, at=T0 + DAY - US).allocations == ((soon, Decimal(5)),)
    later = ledger.preview_burn("ada", 9, at=T0 + DAY)
    assert (later.allocations, later.shortfall) == (((upcoming, Decimal(4)),), Decimal(5))


def test_preview_burn_at_a_past_time_shows_the_blocks_as_they_were(ledger: Ledger) -> None:
    block = ledger.grant("ada", 10, at=T0).block.id
    ledger.burn("ada", 8, at=T0 + HOUR)
    ledger.grant("ada", 5, at=T0 + 2 * HOUR)
    preview = ledger.preview_burn("ada", 10, at=T0 + HOUR - US)
    assert (preview.allocations, preview.shortfall) == (((block, Decimal(10)),), Decimal(0))


def test_preview_burn_in_another_unit() -> None:
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    block = ledger.grant("ada", "1.50", unit="usd", at=T0).block.id
    ledger.grant("ada", 10, at=T0)
    preview = ledger.preview_burn("ada", "2.25", unit="usd", at=T0)
    assert (preview.allocations, preview.shortfall) == (((block, Decimal("1.50")),), Decimal("0.75"))

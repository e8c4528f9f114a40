"""Edges of a schedule's due events (SPEC §13, §17, §19, §20) that the state machine found,
on every adapter: a period start that writes nothing still moves the customer's history; a
block a period start makes can be voided or moved before any write records it; an alert
at a due instant names the op that changed the net; a schedule's id, generated or given,
is a key of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from creditcore import IdempotencyConflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _spent_first_period(ledger: Ledger) -> None:
    """A schedule whose later periods grant nothing: 10 in period 0, then 0 a day."""
    ledger.schedule_grant("c", 0, first_amount=10, every="1 day", schedule_id="s", at=T0)
    ledger.burn("c", 10, at=T0 + HOUR)


def test_a_period_start_that_writes_nothing_moves_the_last_write(ledger: Ledger) -> None:
    _spent_first_period(ledger)
    assert ledger.expire_due(at=T0 + DAY + HOUR) == []  # period 1 started at T0 + 1 day, writing nothing
    with pytest.raises(ValidationError) as refused:
        ledger.grant("c", 5, at=T0 + DAY - HOUR)
    assert refused.value.field == "at"
    assert ledger.get_schedule("s").period == 1
    # a rebuild from the stored rows agrees with the stored account (last write included)
    assert ledger.verify().ok
    ledger.grant("c", 5, at=T0 + DAY)  # at the boundary itself: allowed
    assert ledger.balance("c").available == 5


def test_a_cancel_after_a_silent_period_start_agrees_with_the_reads(ledger: Ledger) -> None:
    _spent_first_period(ledger)
    ledger.expire_due(at=T0 + DAY + HOUR)
    with pytest.raises(ValidationError):
        ledger.cancel_schedule("s", at=T0 + DAY - HOUR)
    cancelled = ledger.cancel_schedule("s", at=T0 + DAY + HOUR).schedule
    assert cancelled.status == ledger.get_schedule("s", at=T0 + DAY + HOUR).status == "cancelled"


@pytest.mark.parametrize("block_id", ["s/1", "s/1/carry"])
def test_a_due_block_no_write_recorded_can_be_voided(ledger: Ledger, block_id: str) -> None:
    ledger.schedule_grant("c", 10, every="1 day", rollover_max=4, schedule_id="s", at=T0)
    # period 1 starts at T0 + 1 day: 4 carried from period 0, 10 granted; nothing recorded yet
    assert ledger.get_block(block_id, at=T0 + DAY + HOUR).remaining == (4 if block_id.endswith("carry") else 10)
    voided = ledger.void(block_id, at=T0 + DAY + HOUR)
    assert [(e.kind, e.block_id) for e in voided.entries] == [("void", block_id)]
    assert ledger.get_block(block_id).remaining == 0
    assert ledger.balance("c", at=T0 + DAY + HOUR).available == (10 if block_id.endswith("carry") else 4)


def test_a_due_block_no_write_recorded_can_change_expiry(ledger: Ledger) -> None:
    ledger.schedule_grant("c", 10, every="1 day", schedule_id="s", at=T0)
    moved = ledger.change_expiry("s/1", T0 + 5 * DAY, at=T0 + DAY + HOUR)
    [new_block] = {e.block_id for e in moved.entries if e.kind == "move_in"}
    assert ledger.get_block(new_block).expires_at == T0 + 5 * DAY
    assert ledger.balance("c", at=T0 + 3 * DAY).available == 10 + 10  # periods 2 and the moved block


def test_a_due_block_is_not_found_before_its_period(ledger: Ledger) -> None:
    ledger.schedule_grant("c", 10, every="1 day", schedule_id="s", at=T0)
    with pytest.raises(NotFound):
        ledger.void("s/1", at=T0 + HOUR)
    with pytest.raises(NotFound):
        ledger.change_expiry("s/1", T0 + 5 * DAY, at=T0 + HOUR)
    assert ledger.balance("c", at=T0 + HOUR).available == 10


def test_an_alert_at_a_due_instant_names_the_op_that_changed_the_net(ledger: Ledger) -> None:
    # at T0 + 1 day the schedule's scoped period-0 block expires (net falls), then an upcoming
    # grant settles debt (a settlement moves credit without changing net): the alert names
    # the expiry, not the settlement written after it
    ledger.schedule_grant("c", 0, first_amount=10, scope="x", every="1 day", schedule_id="s", at=T0)
    ledger.burn("c", 2, overdraft="debt", at=T0 + HOUR)  # unscoped: the scoped block cannot pay it
    ledger.grant("c", 1, effective_at=T0 + DAY, at=T0 + 2 * HOUR)
    ledger.add_alert("c", unit="credits", kind="depleted", at=T0 + 3 * HOUR)
    entries = ledger.expire_due(at=T0 + 2 * DAY)
    assert [e.op_id.split(":")[0] for e in entries] == ["expire", "settle"]
    [depleted] = ledger.events(customer="c").items
    assert (depleted.kind, depleted.at, depleted.op_id) == ("balance_depleted", T0 + DAY, "expire:s/0")
    assert (depleted.previous, depleted.current) == (9, -1)


def test_a_generated_schedule_id_is_a_key_of_its_own(ledger: Ledger) -> None:
    made = ledger.schedule_grant("c", 10, every="1 day", at=T0 + DAY).schedule
    assert made.id.startswith("sch_")
    # again with other arguments, dated before the last write: the key is checked first
    with pytest.raises(IdempotencyConflict):
        ledger.schedule_grant("c", 5, every="1 day", schedule_id=made.id, at=T0)
    with pytest.raises(IdempotencyConflict):
        ledger.schedule_grant("other", 10, every="1 day", schedule_id=made.id, at=T0 + 2 * DAY)
    assert [s.id for s in ledger.schedules("c")] == [made.id]
    assert ledger.schedules("other") == []

"""SPEC §13: a write dated later than the clock plus ``future_tolerance`` is refused, so a
mistaken ``at=`` cannot move a customer's history ahead for good."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from creditcore import Ledger, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = timedelta(days=30)


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    opened: list[Ledger] = []

    def build(**options: Any) -> Ledger:
        options.setdefault("clock", lambda: T0)
        if request.param == "memory":
            ledger = Ledger.memory(**options)
        else:
            ledger = Ledger.sqlite(tmp_path / f"l{len(opened)}.db", **options)
        opened.append(ledger)
        return ledger

    yield build
    for ledger in opened:
        ledger.close()


def _writes(ledger: Ledger, at: datetime) -> dict[str, Callable[[], object]]:
    """One call of every kind of write, dated ``at`` (each on state made before, at T0)."""
    block = ledger.grant("ada", 100, at=T0).block.id
    burn = ledger.burn("ada", 5, at=T0).op_id
    ledger.hold("ada", 5, hold_id="h1", at=T0)
    ledger.hold("ada", 5, hold_id="h2", at=T0)
    return {
        "grant": lambda: ledger.grant("ada", 1, at=at),
        "burn": lambda: ledger.burn("ada", 1, at=at),
        "hold": lambda: ledger.hold("ada", 1, hold_id="h3", at=at),
        "capture": lambda: ledger.capture("h1", at=at),
        "release": lambda: ledger.release("h2", at=at),
        "void": lambda: ledger.void(block, 1, at=at),
        "reverse": lambda: ledger.reverse(burn, at=at),
        "change_expiry": lambda: ledger.change_expiry(block, at + MONTH, at=at),
        "expire_due": lambda: ledger.expire_due(at=at),
    }


def test_every_write_dated_past_the_tolerance_is_refused_and_writes_nothing(make: Callable[..., Ledger]) -> None:
    ledger = make()
    writes = _writes(ledger, T0 + MONTH)
    before = ledger.entries(limit=1000).items
    for name, write in writes.items():
        with pytest.raises(ValidationError) as raised:
            write()
        assert raised.value.field == "at", name
        assert "future_tolerance" in str(raised.value), name
    assert ledger.entries(limit=1000).items == before
    # the customer's history did not move: a write now is still dated now
    assert ledger.burn("ada", 1).entries[0].at == T0


def test_a_write_within_the_tolerance_is_accepted(make: Callable[..., Ledger]) -> None:
    ledger = make()
    for name, write in _writes(ledger, T0 + timedelta(minutes=5)).items():
        write()  # exactly clock + tolerance is allowed
        assert name


def test_none_turns_the_check_off_for_simulations_and_backfills(make: Callable[..., Ledger]) -> None:
    ledger = make(future_tolerance=None)
    assert ledger.future_tolerance is None
    for write in _writes(ledger, T0 + 10 * MONTH).values():
        write()


def test_the_tolerance_is_a_ledger_option(make: Callable[..., Ledger]) -> None:
    ledger = make(future_tolerance=timedelta(days=1))
    assert ledger.future_tolerance == timedelta(days=1)
    ledger.grant("ada", 1, at=T0 + timedelta(hours=23))
    with pytest.raises(ValidationError, match="future_tolerance"):
        ledger.grant("ada", 1, at=T0 + timedelta(days=1, seconds=1))


def test_the_default_is_five_minutes() -> None:
    assert Ledger.memory().future_tolerance == timedelta(minutes=5)


@pytest.mark.parametrize("bad", [timedelta(seconds=-1), 300, "5m", 5.0, True])
def test_a_bad_tolerance_names_its_field(bad: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Ledger.memory(future_tolerance=bad)
    assert raised.value.field == "future_tolerance"


def test_a_retry_of_a_write_that_succeeded_still_replays() -> None:
    now = [T0]
    ledger = Ledger.memory(clock=lambda: now[0])
    first = ledger.burn("ada", 1, overdraft="debt", idempotency_key="k", at=T0 + timedelta(minutes=4))
    now[0] = T0 - timedelta(hours=1)  # the clock stepped back: the same call would now be "future"
    again = ledger.burn("ada", 1, overdraft="debt", idempotency_key="k", at=T0 + timedelta(minutes=4))
    assert again.replayed and again.op_id == first.op_id


def test_reads_may_look_at_any_time(make: Callable[..., Ledger]) -> None:
    ledger = make()
    ledger.grant("ada", 10, at=T0, expires_at=T0 + MONTH)
    assert ledger.balance("ada", at=T0 + 2 * MONTH).expired == 10
    assert ledger.preview_burn("ada", 5, at=T0 + 2 * MONTH).shortfall == 5


def test_future_effective_and_expiry_times_are_still_fine(make: Callable[..., Ledger]) -> None:
    ledger = make()
    block = ledger.grant("ada", 10, effective_at=T0 + MONTH, expires_at=T0 + 2 * MONTH).block
    assert block.status == "upcoming"


def test_a_history_already_ahead_of_the_clock_keeps_being_written_at_its_last_time() -> None:
    ledger = Ledger.memory(clock=lambda: T0, future_tolerance=None)
    ledger.grant("ada", 10, at=T0 + MONTH)
    checked = Ledger(ledger.repository, clock=lambda: T0)
    assert checked.burn("ada", 1).entries[0].at == T0 + MONTH

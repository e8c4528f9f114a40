"""Snapshots of account state: a past balance replays from the nearest snapshot, and always
shows what a replay of the whole history shows.

Each adapter here takes a snapshot every few entries, so that short histories have many.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditcore import Ledger, rules
from creditcore.adapters.memory import MemoryRepository
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.errors import CreditError, ValidationError
from creditcore.repository import ChangeSet, PastReader
from creditcore.state import BlockState, EntryState

T0 = datetime(2026, 1, 1, tzinfo=UTC)

HOUR = timedelta(hours=1)
ADAPTERS: dict[str, Callable[[int], MemoryRepository | SQLiteRepository]] = {
    "memory": lambda every: MemoryRepository(snapshot_every=every),
    "sqlite": lambda every: SQLiteRepository(":memory:", snapshot_every=every),
}


@pytest.fixture(params=sorted(ADAPTERS))
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[int], Ledger]]:
    opened: list[Ledger] = []

    def make(every: int) -> Ledger:
        if request.param == "sqlite":
            # a file: a reader during a batch reads the last commit on a second connection
            repository: MemoryRepository | SQLiteRepository = SQLiteRepository(
                tmp_path / f"ledger-{len(opened)}.db", snapshot_every=every
            )
        else:
            repository = ADAPTERS[request.param](every)
        ledger = Ledger(repository, clock=lambda: T0 + 1000 * HOUR)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def replayed_in_full(ledger: Ledger, customer: str, at: datetime, scope: str | None = None) -> rules.Tally:
    """The balance at ``at`` from a replay of every entry, as if there were no snapshot."""
    with ledger.repository.reader() as reader:
        blocks, holds, entries = reader.history(customer)
    return rules.tally(rules.view(rules.rebuild(customer, blocks, holds, entries, until=at), at), "credits", at, scope)


def shown(ledger: Ledger, customer: str, at: datetime, scope: str | None = None) -> rules.Tally:
    balance = ledger.balance(customer, at=at, scope=scope)
    return rules.Tally(**{name: int(getattr(balance, name)) for name in attrs.fields_dict(rules.Tally)})


def snapshot_start(ledger: Ledger, customer: str, until: datetime) -> datetime | None:
    """When the snapshot a past read at ``until`` starts from is dated (None: no snapshot)."""
    with ledger.repository.reader() as reader:
        assert isinstance(reader, PastReader)
        start = reader.past_history(customer, until).start
    return None if start is None else start.last_at


def every_moment(ledger: Ledger, customer: str) -> list[datetime]:
    """Each entry's time, and a moment between each two."""
    times = sorted({e.at for e in ledger.entries(customer, limit=10_000).items})
    return times + [a + (b - a) / 2 for a, b in itertools.pairwise(times)]


# -- a random history of everything a customer can do --------------------------------------

_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("grant"),
            st.integers(1, 60),
            st.sampled_from([0, 50]),
            st.sampled_from([None, 2, 6, 30]),
            st.sampled_from([None, "trip"]),
        ),
        st.tuples(st.just("burn"), st.integers(1, 80), st.sampled_from(["partial", "debt"])),
        st.tuples(st.just("hold"), st.integers(1, 30), st.sampled_from([None, 1, 4])),
        st.tuples(st.just("capture"), st.integers(0, 30)),
        st.tuples(
            st.just("release"),
        ),
        st.tuples(st.just("void"), st.integers(0, 5)),
        st.tuples(
            st.just("reverse"),
        ),
        st.tuples(st.just("change_expiry"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=25,
)


def play(ledger: Ledger, steps: list[tuple[object, ...]], gaps: list[int]) -> None:
    at = T0
    holds: list[str] = []
    ops: list[str] = []
    for number, (step, gap) in enumerate(zip(steps, gaps, strict=False)):
        at += timedelta(minutes=gap)
        kind, *args = step
        blocks = [b.id for b in ledger.blocks("ada", at=at)]
        try:
            if kind == "grant":
                amount, priority, hours, scope = args
                expires = None if hours is None else at + int(hours) * HOUR  # type: ignore[call-overload]
                ledger.grant(
                    "ada",
                    amount,
                    priority=priority,
                    expires_at=expires,
                    scope=scope and {scope},
                    at=at,  # type: ignore[arg-type]
                )
            elif kind == "burn":
                ops.append(ledger.burn("ada", args[0], overdraft=args[1], at=at).op_id)  # type: ignore[arg-type]
            elif kind == "hold":
                hours = args[1]
                expires = None if hours is None else at + int(hours) * HOUR  # type: ignore[call-overload]
                ledger.hold("ada", args[0], hold_id=f"h{number}", expires_at=expires, at=at)  # type: ignore[arg-type]
                holds.append(f"h{number}")
            elif kind == "capture" and holds:
                held = ledger.get_hold(holds[-1], at=at).amount
                ops.append(ledger.capture(holds.pop(), min(Decimal(args[0]), held), at=at).op_id)  # type: ignore[arg-type]
            elif kind == "release" and holds:
                ledger.release(holds.pop(), at=at)
            elif kind == "void" and blocks:
                ledger.void(blocks[int(args[0]) % len(blocks)], at=at)  # type: ignore[call-overload]
            elif kind == "reverse" and ops:
                ledger.reverse(ops.pop(), at=at)
            elif kind == "change_expiry" and blocks:
                block = blocks[int(args[0]) % len(blocks)]  # type: ignore[call-overload]
                ledger.change_expiry(block, at + 3 * HOUR, at=at)
        except CreditError:
            pass  # a refused step writes nothing; the history goes on


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@given(steps=_steps, gaps=st.lists(st.integers(0, 180), min_size=25, max_size=25), every=st.integers(1, 4))
def test_a_past_balance_from_a_snapshot_equals_a_replay_of_the_whole_history(
    adapter: str, steps: list[tuple[object, ...]], gaps: list[int], every: int
) -> None:
    ledger = Ledger(ADAPTERS[adapter](every), clock=lambda: T0 + 1000 * HOUR)
    try:
        play(ledger, steps, gaps)
        for at in every_moment(ledger, "ada"):
            assert shown(ledger, "ada", at) == replayed_in_full(ledger, "ada", at), at
            assert shown(ledger, "ada", at, "trip") == replayed_in_full(ledger, "ada", at, "trip"), at
    finally:
        ledger.close()


def test_a_past_balance_starts_from_the_nearest_snapshot_before_it(make_ledger: Callable[[int], Ledger]) -> None:
    ledger = make_ledger(2)
    ledger.grant("ada", 100, at=T0)
    for hour in range(1, 10):
        ledger.burn("ada", 1, at=T0 + hour * HOUR)
    start = snapshot_start(ledger, "ada", T0 + 5.5 * HOUR)
    assert start is not None and T0 + 3 * HOUR <= start <= T0 + 5 * HOUR
    assert ledger.balance("ada", at=T0 + 5.5 * HOUR).available == 95
    assert snapshot_start(ledger, "ada", T0 + HOUR / 2) is None  # before the first snapshot: from nothing


def test_an_entry_dated_before_a_snapshot_drops_it(make_ledger: Callable[[int], Ledger]) -> None:
    """A customer's history only moves forward, so no write of the ledger does this; the
    adapter still keeps its promise if one ever did: every entry after a snapshot is dated at
    or after it, or the snapshot goes."""
    ledger = make_ledger(2)
    ledger.grant("ada", 100, at=T0)
    for hour in range(1, 10):
        ledger.burn("ada", 1, at=T0 + hour * HOUR)
    assert snapshot_start(ledger, "ada", T0 + 5.5 * HOUR) is not None
    late = T0 + 2.5 * HOUR
    with ledger.repository.transaction() as uow:
        before = uow.load_account("ada")
        block = BlockState(
            id="blk_late", customer="ada", unit="credits", number=before.next_number, amount=7, remaining=7,
            priority=50, category="promotional", effective_at=late, created_at=late,
        )  # fmt: skip
        totals = before.unit_totals("credits")
        after = attrs.evolve(
            before,
            blocks={**before.blocks, block.id: block},
            totals={"credits": attrs.evolve(totals, granted=totals.granted + 7)},
            next_number=before.next_number + 1,
        )
        available = sum(b.remaining for b in after.blocks.values())
        entry = EntryState(
            op_id="op_late", customer="ada", unit="credits", kind="grant", block_id=block.id, amount=7,
            available_after=available, at=late,
        )  # fmt: skip
        uow.save(ChangeSet.of(before, after, [entry]))
    start = snapshot_start(ledger, "ada", T0 + 5.5 * HOUR)
    assert start is None or start <= late, "a snapshot dated after the late entry survived it"
    for at in every_moment(ledger, "ada"):
        assert shown(ledger, "ada", at) == replayed_in_full(ledger, "ada", at), at
    assert ledger.balance("ada", at=T0 + 5.5 * HOUR).available == 95 + 7


def test_snapshots_taken_in_a_batch_that_rolls_back_go_with_it(make_ledger: Callable[[int], Ledger]) -> None:
    ledger = make_ledger(2)
    ledger.grant("ada", 100, at=T0)
    with pytest.raises(RuntimeError), ledger.atomic():
        for hour in range(1, 6):
            ledger.burn("ada", 1, at=T0 + hour * HOUR)
        # a reader sees what is committed only, so not the batch's snapshots either
        assert snapshot_start(ledger, "ada", T0 + 5 * HOUR) is None
        raise RuntimeError("the batch fails")
    assert snapshot_start(ledger, "ada", T0 + 5 * HOUR) is None
    ledger.burn("ada", 2, at=T0 + 2 * HOUR)
    for at in every_moment(ledger, "ada"):
        assert shown(ledger, "ada", at) == replayed_in_full(ledger, "ada", at), at
    # the same batch committed keeps the snapshots it took
    with ledger.atomic():
        for hour in range(3, 8):
            ledger.burn("ada", 1, at=T0 + hour * HOUR)
    assert snapshot_start(ledger, "ada", T0 + 7 * HOUR) is not None
    for at in every_moment(ledger, "ada"):
        assert shown(ledger, "ada", at) == replayed_in_full(ledger, "ada", at), at


def test_a_used_up_block_read_in_the_past_shows_how_it_stood_then(make_ledger: Callable[[int], Ledger]) -> None:
    ledger = make_ledger(1)
    block = ledger.grant("ada", 5, priority=0, at=T0).block.id
    ledger.grant("ada", 50, at=T0)
    burned = ledger.burn("ada", 5, at=T0 + HOUR).op_id
    for hour in range(2, 6):
        ledger.burn("ada", 1, at=T0 + hour * HOUR)
    ledger.reverse(burned, at=T0 + 6 * HOUR)
    assert ledger.get_block(block, at=T0 + 3 * HOUR).status == "depleted"
    assert ledger.get_block(block, at=T0 + 7 * HOUR).remaining == 5
    listed = {b.id: b.status for b in ledger.blocks("ada", at=T0 + 3 * HOUR, include_inactive=True)}
    assert listed[block] == "depleted"


def test_units_totals_survive_a_snapshot(make_ledger: Callable[[int], Ledger]) -> None:
    ledger = make_ledger(1)
    ledger.define_unit("usd", 2)
    ledger.grant("ada", "10.50", unit="usd", at=T0)
    ledger.burn("ada", "0.25", unit="usd", at=T0 + HOUR)
    ledger.burn("ada", "20", unit="usd", overdraft="debt", at=T0 + 2 * HOUR)
    ledger.grant("ada", "1", unit="usd", at=T0 + 3 * HOUR)
    past = ledger.balance("ada", unit="usd", at=T0 + 2.5 * HOUR)
    assert (past.available, past.debt) == (Decimal("0.00"), Decimal("9.75"))
    assert ledger.balances("ada", at=T0 + 3.5 * HOUR)["usd"].debt == Decimal("8.75")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
@pytest.mark.parametrize("every", [0, -1, 1.5, True, "10", None])
def test_a_bad_snapshot_interval_is_refused_naming_it(name: str, every: object) -> None:
    with pytest.raises(ValidationError) as refused:
        ADAPTERS[name](every)  # type: ignore[arg-type]
    assert refused.value.field == "snapshot_every"

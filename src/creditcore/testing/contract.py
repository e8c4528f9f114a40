"""The repository contract: behaviour every storage adapter must show, run through a
:class:`~creditcore.Ledger`.

Prove an adapter by subclassing :class:`RepositoryContract` in a test module and giving it a
factory (and, for an adapter that persists, a way to reopen the store)::

    from creditcore.testing.contract import RepositoryContract

    class TestMyRepository(RepositoryContract):
        def make_repository(self, tmp_path):
            return MyRepository(tmp_path / "ledger.db")

        def reopen(self, repository, tmp_path):
            repository.close()
            return MyRepository(tmp_path / "ledger.db")

pytest collects the subclass (its name starts with ``Test``), never the base class. The
tests use pytest's ``tmp_path`` and a clock they move by hand; none reads the wall clock.
Importing this module needs pytest (``pip install "creditcore[test]"``).
"""

from __future__ import annotations

import abc
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from creditcore.adapters.memory import MemoryRepository
from creditcore.errors import (
    Conflict,
    CreditError,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    ValidationError,
)
from creditcore.ledger import Ledger
from creditcore.model import Balance, Result
from creditcore.repository import ChangeSet, EntryQuery, Repository, iterate_entries

__all__ = [
    "START",
    "ManualClock",
    "RepositoryContract",
    "assert_same_transcript",
    "describe",
    "normalise_ids",
    "run_script",
    "snapshot",
]

START = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
UNITS = {"usd": 2}
D = Decimal


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Everything a ledger stores, read through its repository, as one comparable value:
    units, customers, and per customer the account, every block, hold and entry."""
    with ledger.repository.reader() as reader:
        customers = reader.customers()
        return {
            "units": reader.units(),
            "customers": customers,
            "accounts": {c: reader.load_account(c) for c in customers},
            "history": {c: reader.history(c) for c in customers},
            "entries": list(iterate_entries(reader, EntryQuery(limit=500))),
        }


def describe(value: object) -> str:
    """``repr(value)``, except that sets are listed sorted: the same value always reads the
    same, whatever order its sets were built in."""
    if attrs.has(type(value)):
        fields = attrs.fields(cast(Any, type(value)))
        return f"{type(value).__name__}({', '.join(f'{f.name}={describe(getattr(value, f.name))}' for f in fields)})"
    if isinstance(value, (frozenset, set)):
        return f"{type(value).__name__}({{{', '.join(sorted(describe(v) for v in value))}}})"
    if isinstance(value, tuple):
        return f"({describe(value[0])},)" if len(value) == 1 else f"({', '.join(describe(v) for v in value)})"
    if isinstance(value, list):
        return f"[{', '.join(describe(v) for v in value)}]"
    if isinstance(value, Mapping):
        return f"{{{', '.join(f'{describe(k)}: {describe(v)}' for k, v in value.items())}}}"
    return repr(value)


_ID = re.compile(r"\b(blk|op)_[0-9a-f]{32}\b")


def normalise_ids(texts: list[str]) -> list[str]:
    """``texts`` with every generated block and op id replaced by its first-seen order
    (``blk#1``, ``op#2``, ...), so two ledgers that did the same things compare equal."""
    seen: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"{match.group(1)}#{len(seen) + 1}")

    return [_ID.sub(name, text) for text in texts]


def run_script(ledger: Ledger, clock: ManualClock, seed: int, steps: int = 200) -> list[str]:
    """Drive ``ledger`` through ``steps`` random operations chosen by ``seed`` alone, and
    return a transcript: each call's outcome (result or error), then the final balances,
    blocks, holds and entries, and the verify report.

    The choices depend only on the seed and on what earlier calls returned, so two ledgers
    that behave the same produce the same transcript (once ids are normalised with
    :func:`normalise_ids`).
    """
    rng = random.Random(seed)
    customers = ("ada", "bob", "cy")
    blocks: list[str] = []
    holds: list[str] = []
    drawn: list[str] = []  # op ids of burns and captures, for reversals
    keyed: list[tuple[Callable[..., Result], tuple[Any, ...], dict[str, Any]]] = []
    transcript: list[str] = []

    def amount(unit: str, low: int, high: int) -> str:
        value = rng.randint(low, high)
        return f"{value}.{rng.randint(0, 99):02d}" if unit == "usd" else str(value)

    def key(prefix: str, step: int) -> str | None:
        return f"{prefix}{step}" if rng.random() < 0.4 else None

    for step in range(steps):
        clock.advance(rng.choice((timedelta(0), timedelta(microseconds=1), timedelta(minutes=7), HOUR, DAY)))
        now = clock.now
        customer = rng.choice(customers)
        unit = rng.choice(("credits", "credits", "usd"))
        roll = rng.random()
        call: Callable[..., Result]
        args: tuple[Any, ...]
        kwargs: dict[str, Any]
        if roll < 0.24:
            call, args = ledger.grant, (customer, amount(unit, 1, 60))
            kwargs = {
                "unit": unit,
                "expires_at": rng.choice((None, now + HOUR, now + DAY, now + 3 * DAY)),
                "effective_at": rng.choice((None, None, None, now + 2 * HOUR)),
                "priority": rng.choice((10, 50, 90)),
                "category": rng.choice(("promotional", "paid")),
                "cost_basis": rng.choice((None, "0.01", "1.5")),
                "scope": rng.choice((None, None, {"trip"}, {"trip", "food"})),
                "metadata": rng.choice((None, {"plan": "pro"})),
                "idempotency_key": key("g", step),
            }
        elif roll < 0.48:
            call, args = ledger.burn, (customer, amount(unit, 1, 40))
            kwargs = {
                "unit": unit,
                "scope": rng.choice((None, None, "trip")),
                "overdraft": rng.choice(("reject", "partial", "debt")),
                "description": rng.choice((None, "job ✓")),
                "idempotency_key": key("b", step),
            }
        elif roll < 0.60:
            call, args = ledger.hold, (customer, amount(unit, 1, 30))
            kwargs = {
                "unit": unit,
                "hold_id": f"h{step}",
                "scope": rng.choice((None, None, "trip")),
                "expires_at": rng.choice((None, now + 2 * HOUR)),
            }
        elif roll < 0.68 and holds:
            choice = rng.choice((None, "0", "1", "5", "50"))
            call, args, kwargs = ledger.capture, (rng.choice(holds), choice), {}
        elif roll < 0.73 and holds:
            call, args, kwargs = ledger.release, (rng.choice(holds),), {}
        elif roll < 0.78 and blocks:
            call, args = ledger.void, (rng.choice(blocks), rng.choice((None, "1", "2")))
            kwargs = {"reason": "refund", "idempotency_key": key("v", step)}
        elif roll < 0.84 and drawn:
            call, args = ledger.reverse, (rng.choice(drawn), rng.choice((None, "1")))
            kwargs = {"idempotency_key": key("r", step)}
        elif roll < 0.89 and blocks:
            call, args = ledger.change_expiry, (rng.choice(blocks), now + rng.choice((HOUR, 5 * DAY)))
            kwargs = {"amount": rng.choice((None, "1")), "idempotency_key": key("c", step)}
        elif roll < 0.94 and keyed:
            call, args, kwargs = rng.choice(keyed)  # a retry: replays (or conflicts, for a hold id)
        else:
            transcript.append(f"{step} expire_due -> {describe(ledger.expire_due())}")
            continue
        try:
            result = call(*args, **kwargs)
        except CreditError as error:
            transcript.append(f"{step} {call.__name__}{args!r} -> {type(error).__name__}: {error}")
            continue
        transcript.append(f"{step} {call.__name__}{args!r} -> {describe(result)}")
        if result.replayed:
            continue
        block = getattr(result, "block", None)
        if block is not None:
            blocks.append(block.id)
        if call == ledger.hold:
            holds.append(kwargs["hold_id"])
        if call in (ledger.burn, ledger.capture):
            drawn.append(result.op_id)
        if kwargs.get("idempotency_key") or call == ledger.hold:
            keyed.append((call, args, kwargs))
    for customer in customers:
        transcript.append(f"balances {customer}: {describe(ledger.balances(customer))}")
        for unit in ("credits", "usd"):
            transcript.append(
                f"blocks {customer} {unit}: {describe(ledger.blocks(customer, unit=unit, include_inactive=True))}"
            )
        transcript.append(f"holds {customer}: {describe(ledger.holds(customer, status=None))}")
    with ledger.repository.reader() as reader:
        transcript.extend(describe(e) for e in iterate_entries(reader, EntryQuery(limit=500)))
        transcript.append(f"customers: {reader.customers()!r}")
    transcript.append(f"verify: {ledger.verify()}")
    return normalise_ids(transcript)


class RepositoryContract(abc.ABC):
    """Behaviour tests every :class:`~creditcore.repository.Repository` must pass.

    Subclasses implement :meth:`make_repository`; adapters that keep data beyond the
    repository object also implement :meth:`reopen` (otherwise the reopening tests skip).
    """

    units = UNITS
    #: Whether a reader in one thread runs while a write transaction is open in another
    #: (every adapter but one whose threads share a single connection, like SQLite ``:memory:``).
    concurrent_readers = True

    @abc.abstractmethod
    def make_repository(self, tmp_path: Path) -> Repository:
        """A new, empty repository (``tmp_path`` is a fresh directory for this test)."""

    def reopen(self, repository: Repository, tmp_path: Path) -> Repository | None:
        """Close ``repository`` and open the same store again; ``None`` if the adapter keeps
        nothing once closed (the reopening tests then skip)."""
        return None

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def repository(self, tmp_path: Path) -> Iterator[Repository]:
        repository = self.make_repository(tmp_path)
        yield repository
        repository.close()

    @pytest.fixture
    def ledger(self, repository: Repository, clock: ManualClock) -> Ledger:
        return Ledger(repository, clock=clock, units=self.units)

    def reopened(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> Ledger:
        """A new ledger over the reopened store of ``ledger``; skips if the adapter cannot."""
        repository = self.reopen(ledger.repository, tmp_path)
        if repository is None:
            pytest.skip("this adapter keeps nothing once closed: no reopen()")
        return Ledger(repository, clock=clock)

    # -- writes round-trip -----------------------------------------------------------------

    def test_a_grant_is_stored_with_every_attribute(self, ledger: Ledger, clock: ManualClock) -> None:
        result = ledger.grant(
            "ada",
            "12.34",
            unit="usd",
            expires_at=START + 3 * DAY,
            priority=7,
            category="paid",
            cost_basis="0.125",
            scope={"trip", "food"},
            description="top-up ✓",
            metadata={"plan": "pro", "order": "42"},
        )
        block = ledger.get_block(result.block.id)
        assert block == result.block
        assert (block.amount, block.remaining, block.available) == (Decimal("12.34"),) * 3
        assert (block.priority, block.category, block.cost_basis) == (7, "paid", Decimal("0.125"))
        assert block.scope == frozenset({"trip", "food"})
        assert (block.effective_at, block.expires_at, block.created_at) == (START, START + 3 * DAY, START)
        assert (block.description, block.metadata) == ("top-up ✓", {"plan": "pro", "order": "42"})
        assert ledger.blocks("ada", unit="usd") == [block]
        assert [(e.kind, e.amount, e.block_id) for e in result.entries] == [("grant", Decimal("12.34"), block.id)]
        assert ledger.balance("ada", unit="usd").available == Decimal("12.34")

    def test_an_upcoming_grant_becomes_available_at_its_effective_time(
        self, ledger: Ledger, clock: ManualClock
    ) -> None:
        block = ledger.grant("ada", 10, effective_at=START + HOUR).block
        assert block.status == "upcoming"
        assert ledger.balance("ada").upcoming == 10
        clock.advance(HOUR)
        assert ledger.balance("ada").available == 10
        assert ledger.get_block(block.id).status == "active"

    def test_a_burn_draws_blocks_in_burn_order(self, ledger: Ledger) -> None:
        late = ledger.grant("ada", 10, priority=90).block
        early = ledger.grant("ada", 5, priority=10).block
        result = ledger.burn("ada", 8, description="job", metadata={"job": "1"})
        assert (result.burned, result.shortfall, result.debt) == (D(8), D(0), D(0))
        assert [(e.block_id, e.amount) for e in result.entries] == [(early.id, D(5)), (late.id, D(3))]
        assert [e.metadata for e in result.entries] == [{"job": "1"}] * 2
        assert ledger.get_block(early.id).status == "depleted"
        assert ledger.get_block(late.id).remaining == 7
        balance = ledger.balance("ada")
        assert (balance.available, balance.used, balance.granted) == (D(7), D(8), D(15))

    def test_a_burn_beyond_the_credit_is_refused_and_writes_nothing(self, ledger: Ledger) -> None:
        ledger.grant("ada", 3)
        before = snapshot(ledger)
        with pytest.raises(InsufficientCredits):
            ledger.burn("ada", 4, idempotency_key="k")
        assert snapshot(ledger) == before
        assert ledger.burn("ada", 3, idempotency_key="k").burned == 3  # the key was not recorded

    def test_debt_is_recorded_and_settled_by_the_next_grant(self, ledger: Ledger) -> None:
        ledger.grant("ada", 2)
        result = ledger.burn("ada", 5, overdraft="debt")
        assert (result.burned, result.debt) == (D(2), D(3))
        assert ledger.balance("ada").debt == 3
        grant = ledger.grant("ada", 10)
        assert [e.kind for e in grant.entries] == ["grant", "settle"]
        assert grant.block.remaining == 7
        assert (ledger.balance("ada").debt, ledger.balance("ada").available) == (D(0), D(7))

    def test_a_hold_pins_credit_until_it_is_captured(self, ledger: Ledger, clock: ManualClock) -> None:
        block = ledger.grant("ada", 10).block
        held = ledger.hold("ada", 6, hold_id="job-1", description="render", metadata={"job": "1"})
        assert held.hold.allocations == ((block.id, Decimal(6)),)
        assert ledger.get_hold("job-1") == held.hold
        assert (ledger.balance("ada").available, ledger.balance("ada").held) == (D(4), D(6))
        clock.advance(HOUR)
        captured = ledger.capture("job-1", 4)
        assert (captured.captured, captured.released) == (D(4), D(2))
        stored = ledger.get_hold("job-1")
        assert (stored.status, stored.captured, stored.settled_at) == ("captured", D(4), START + HOUR)
        assert ledger.holds("ada") == []
        assert [h.id for h in ledger.holds("ada", status="captured")] == ["job-1"]
        balance = ledger.balance("ada")
        assert (balance.available, balance.held, balance.used) == (D(6), D(0), D(4))

    def test_a_released_hold_gives_its_credit_back(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10)
        ledger.hold("ada", 6, hold_id="job-1")
        assert ledger.release("job-1").released == 6
        assert ledger.get_hold("job-1").status == "released"
        assert ledger.balance("ada").available == 10
        with pytest.raises(HoldNotActive):
            ledger.capture("job-1")

    def test_a_hold_times_out_at_its_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 10)
        ledger.hold("ada", 6, hold_id="job-1", expires_at=START + HOUR)
        clock.advance(2 * HOUR)
        assert ledger.get_hold("job-1").status == "expired"
        assert ledger.balance("ada").available == 10
        ledger.burn("ada", 1)  # a write records the timeout
        assert [e.kind for e in ledger.entries(kinds=["release"]).items] == ["release"]
        with pytest.raises(HoldNotActive):
            ledger.release("job-1")

    def test_a_void_removes_unheld_credit(self, ledger: Ledger) -> None:
        block = ledger.grant("ada", 10).block
        ledger.hold("ada", 3, hold_id="h")
        assert ledger.void(block.id, 2, reason="refund").voided == 2
        assert ledger.void(block.id).voided == 5
        assert ledger.balance("ada").voided == 7
        with pytest.raises(Conflict):
            ledger.void(block.id)

    def test_a_reversal_gives_credit_back_to_the_blocks_it_came_from(self, ledger: Ledger) -> None:
        first = ledger.grant("ada", 5, priority=10).block
        second = ledger.grant("ada", 5, priority=20).block
        burn = ledger.burn("ada", 8)
        part = ledger.reverse(burn.op_id, 2)
        assert part.reversed == 2
        assert [(e.block_id, e.amount) for e in part.entries] == [(second.id, D(2))]
        rest = ledger.reverse(burn.op_id)
        assert [(e.block_id, e.amount) for e in rest.entries] == [(second.id, D(1)), (first.id, D(5))]
        assert ledger.balance("ada").available == 10
        with pytest.raises(ValidationError):
            ledger.reverse(burn.op_id, 1)
        with pytest.raises(NotFound):
            ledger.reverse("op_unknown")

    def test_change_expiry_moves_credit_into_a_new_block(self, ledger: Ledger) -> None:
        old = ledger.grant("ada", 10, expires_at=START + DAY, scope={"trip"}).block
        result = ledger.change_expiry(old.id, START + 5 * DAY, amount=4)
        moved = ledger.get_block(result.block.id)
        assert moved == result.block
        assert (moved.amount, moved.expires_at, moved.scope) == (D(4), START + 5 * DAY, frozenset({"trip"}))
        assert [e.kind for e in result.entries] == ["move_out", "move_in"]
        assert ledger.get_block(old.id).remaining == 6
        assert ledger.balance("ada").granted == 10

    def test_expire_due_records_every_due_expiry(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 10, expires_at=START + HOUR)
        ledger.grant("bob", 4, expires_at=START + 2 * HOUR)
        ledger.grant("cy", 1)
        clock.advance(3 * HOUR)
        written = ledger.expire_due()
        assert sorted((e.customer, e.kind, e.amount, e.at) for e in written) == [
            ("ada", "expire", D(10), START + HOUR),
            ("bob", "expire", D(4), START + 2 * HOUR),
        ]
        assert ledger.expire_due() == []
        assert ledger.balance("ada").expired == 10

    # -- idempotency -------------------------------------------------------------------------

    def test_a_repeated_key_replays_the_original_result(self, ledger: Ledger, clock: ManualClock) -> None:
        calls: list[Callable[[], Result]] = [
            lambda: ledger.grant("ada", "10.50", unit="usd", scope={"a"}, cost_basis="0.2", idempotency_key="g"),
            lambda: ledger.grant("ada", 10, metadata={"m": "1"}, idempotency_key="g2"),
            lambda: ledger.burn("ada", 3, idempotency_key="b"),
        ]
        firsts = [call() for call in calls]
        block_id = firsts[1].block.id  # type: ignore[attr-defined]
        calls += [
            lambda: ledger.void(block_id, 1, idempotency_key="v"),
            lambda: ledger.reverse(firsts[2].op_id, 1, idempotency_key="r"),
            lambda: ledger.change_expiry(block_id, START + DAY, idempotency_key="c"),
        ]
        firsts += [call() for call in calls[3:]]
        before = snapshot(ledger)
        clock.advance(HOUR)
        for call, first in zip(calls, firsts, strict=True):
            again = call()
            assert again.replayed
            assert attrs.evolve(again, replayed=False) == first
        assert snapshot(ledger) == before

    def test_a_repeated_hold_capture_and_release_replay(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10)
        held = ledger.hold("ada", 4, hold_id="h1")
        ledger.hold("ada", 2, hold_id="h2")
        captured = ledger.capture("h1", 3)
        released = ledger.release("h2")
        before = snapshot(ledger)
        assert ledger.hold("ada", 4, hold_id="h1") == attrs.evolve(held, replayed=True)
        assert ledger.capture("h1", 3) == attrs.evolve(captured, replayed=True)
        assert ledger.release("h2") == attrs.evolve(released, replayed=True)
        assert snapshot(ledger) == before

    def test_a_key_reused_with_other_arguments_conflicts(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10, idempotency_key="k")
        before = snapshot(ledger)
        with pytest.raises(IdempotencyConflict) as raised:
            ledger.grant("ada", 11, idempotency_key="k")
        assert raised.value.field == "amount"
        with pytest.raises(IdempotencyConflict):
            ledger.burn("ada", 1, idempotency_key="k")
        assert snapshot(ledger) == before

    def test_replays_survive_reopening(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        grant = ledger.grant("ada", "2.50", unit="usd", idempotency_key="g", expires_at=START + DAY)
        burn = ledger.burn("ada", 1, unit="usd", idempotency_key="b")
        held = ledger.hold("ada", "0.5", unit="usd", hold_id="h")
        captured = ledger.capture("h")
        reversed_ = ledger.reverse(burn.op_id, idempotency_key="r")
        reopened = self.reopened(ledger, clock, tmp_path)
        try:
            assert reopened.grant("ada", "2.50", unit="usd", idempotency_key="g", expires_at=START + DAY) == (
                attrs.evolve(grant, replayed=True)
            )
            assert reopened.burn("ada", 1, unit="usd", idempotency_key="b") == attrs.evolve(burn, replayed=True)
            assert reopened.hold("ada", "0.5", unit="usd", hold_id="h") == attrs.evolve(held, replayed=True)
            assert reopened.capture("h") == attrs.evolve(captured, replayed=True)
            assert reopened.reverse(burn.op_id, idempotency_key="r") == attrs.evolve(reversed_, replayed=True)
            with pytest.raises(IdempotencyConflict):
                reopened.burn("ada", 2, unit="usd", idempotency_key="b")
        finally:
            reopened.close()

    def test_everything_survives_reopening(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        ledger.define_unit("eur", 3)
        block = ledger.grant("ada", 10, expires_at=START + DAY, metadata={"a": "b"}).block
        ledger.grant("bob", "1.5", unit="usd", scope={"trip"}, effective_at=START + HOUR)
        ledger.hold("ada", 4, hold_id="h1", expires_at=START + 2 * HOUR)
        ledger.void(block.id, 2, reason="refund")
        ledger.burn("ada", 9, overdraft="debt", idempotency_key="b")
        before = snapshot(ledger)
        balances = {c: ledger.balances(c) for c in ("ada", "bob")}
        reopened = self.reopened(ledger, clock, tmp_path)
        try:
            assert snapshot(reopened) == before
            assert reopened.units() == {"credits": 0, "usd": 2, "eur": 3}
            assert {c: reopened.balances(c) for c in ("ada", "bob")} == balances
            assert reopened.verify().ok
        finally:
            reopened.close()

    # -- reads --------------------------------------------------------------------------------

    def test_entries_page_through_in_order(self, ledger: Ledger, clock: ManualClock) -> None:
        for i in range(7):
            ledger.grant(("ada", "bob")[i % 2], i + 1)
            clock.advance(HOUR)
        everything = ledger.entries(limit=100).items
        seqs = [e.seq for e in everything]
        assert len(seqs) == 7 and seqs == sorted(set(seqs))
        pages, cursor = [], None
        while True:
            page = ledger.entries(limit=3, after=cursor)
            pages.append(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert tuple(e for p in pages for e in p) == everything

    def test_entries_filters(self, ledger: Ledger, clock: ManualClock) -> None:
        a = ledger.grant("ada", 10).block
        ledger.grant("bob", "3", unit="usd")
        clock.advance(HOUR)
        burn = ledger.burn("ada", 4)
        ledger.hold("ada", 2, hold_id="h")
        clock.advance(HOUR)
        ledger.reverse(burn.op_id, 1)

        def kinds(**filters: Any) -> list[str]:
            return [e.kind for e in ledger.entries(**filters).items]

        assert kinds(customer="ada") == ["grant", "burn", "hold", "reverse"]
        assert kinds(unit="usd") == ["grant"]
        assert kinds(kinds=["burn", "reverse"]) == ["burn", "reverse"]
        assert kinds(block_id=a.id) == ["grant", "burn", "hold", "reverse"]
        assert kinds(op_id=burn.op_id) == ["burn"]
        assert kinds(since=START + HOUR) == ["burn", "hold", "reverse"]
        assert kinds(until=START + HOUR) == ["grant", "grant"]
        assert kinds(customer="ada", since=START + HOUR, until=START + 2 * HOUR, kinds=["hold"]) == ["hold"]
        assert kinds(customer="nobody") == kinds(block_id="blk_nope") == kinds(op_id="op_nope") == []

    def test_a_past_balance_shows_exactly_what_was_true_then(self, ledger: Ledger, clock: ManualClock) -> None:
        seen: list[tuple[datetime, Balance]] = []
        steps: list[Callable[[], object]] = [
            lambda: ledger.grant("ada", 10, expires_at=START + 5 * HOUR),
            lambda: ledger.burn("ada", 3),
            lambda: ledger.hold("ada", 2, hold_id="h"),
            lambda: ledger.grant("ada", 4, effective_at=START + 10 * HOUR),
            lambda: ledger.capture("h", 1),
            lambda: ledger.burn("ada", 9, overdraft="debt"),
        ]
        for step in steps:
            step()
            seen.append((clock.now, ledger.balance("ada")))
            clock.advance(HOUR)
        clock.advance(DAY)
        ledger.burn("ada", 1, overdraft="partial")
        for when, balance in seen:
            assert ledger.balance("ada", at=when) == balance
        assert ledger.balance("ada", at=START - HOUR).granted == 0

    def test_verify_is_clean_after_a_mixed_workload(self, ledger: Ledger, clock: ManualClock) -> None:
        run_script(ledger, clock, seed=7, steps=80)
        report = ledger.verify()
        assert report.ok, str(report)
        assert report.customers > 0

    def test_agrees_with_the_memory_adapter_on_a_scripted_workload(self, ledger: Ledger, clock: ManualClock) -> None:
        reference_clock = ManualClock()
        reference = Ledger(MemoryRepository(), clock=reference_clock, units=self.units)
        expected = run_script(reference, reference_clock, seed=2030, steps=120)
        actual = run_script(ledger, clock, seed=2030, steps=120)
        assert_same_transcript(actual, expected)

    # -- transactions ----------------------------------------------------------------------------

    def test_atomic_rollback_leaves_nothing(self, ledger: Ledger) -> None:
        ledger.grant("ada", 1)
        before = snapshot(ledger)
        with pytest.raises(RuntimeError, match="boom"), ledger.atomic():
            ledger.define_unit("eur", 2)
            ledger.grant("ada", 10, idempotency_key="k")
            ledger.grant("bob", "1.5", unit="eur")
            ledger.hold("ada", 5, hold_id="h")
            ledger.burn("ada", 2)
            raise RuntimeError("boom")
        assert snapshot(ledger) == before
        assert ledger.units() == {"credits": 0, "usd": 2}
        with pytest.raises(NotFound):
            ledger.get_hold("h")
        assert ledger.grant("ada", 3, idempotency_key="k").replayed is False  # the key was not kept

    def test_atomic_commits_its_writes_together(self, ledger: Ledger) -> None:
        with ledger.atomic():
            ledger.grant("ada", 10)
            ledger.burn("ada", 4)
            assert ledger.balance("ada").available == 6  # reads inside see the writes
        assert [e.kind for e in ledger.entries().items] == ["grant", "burn"]

    def test_a_customers_blocks_and_holds_read_alone(self, ledger: Ledger, repository: Repository) -> None:
        spent = ledger.grant("ada", 5).block.id
        kept = ledger.grant("ada", 10).block.id
        ledger.burn("ada", 7)
        ledger.hold("ada", 2, hold_id="h1")
        ledger.release("h1")
        ledger.hold("ada", 1, hold_id="h2")
        ledger.grant("bob", 3)
        with repository.reader() as reader:
            assert [b.id for b in reader.blocks("ada")] == [spent, kept]  # used up ones too
            assert [(b.remaining, b.held) for b in reader.blocks("ada")] == [(0, 0), (8, 1)]
            assert [(h.id, h.status) for h in reader.holds("ada")] == [("h1", "released"), ("h2", "active")]
            assert reader.blocks("nobody") == [] and reader.holds("nobody") == []
            history = reader.history("ada")
            assert (history[0], history[1]) == (reader.blocks("ada"), reader.holds("ada"))

    def test_a_transaction_reads_its_own_writes(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            uow.add_unit("eur", 2)
            assert uow.units()["eur"] == 2

    def test_a_reader_sees_the_last_commit_and_never_waits_for_a_transaction(
        self, repository: Repository, clock: ManualClock
    ) -> None:
        if not self.concurrent_readers:
            pytest.skip("this adapter serves every thread from one connection: a reader waits for a writer")
        ledger = Ledger(repository, clock=clock)
        ledger.grant("ada", 5)
        opened, finish = threading.Event(), threading.Event()

        def write() -> None:
            with ledger.atomic():
                ledger.define_unit("eur", 2)
                ledger.grant("ada", 7)
                opened.set()
                finish.wait(10)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert opened.wait(10)
            started = time.monotonic()
            with repository.reader() as reader:
                assert "eur" not in reader.units()
                assert len(reader.history("ada")[2]) == 1
            assert ledger.balance("ada").available == 5
            assert time.monotonic() - started < 2, "a read waited for a write transaction"
        finally:
            finish.set()
            writer.join()
        assert ledger.balance("ada").available == 12

    def test_a_failed_unit_of_work_writes_nothing(self, repository: Repository, clock: ManualClock) -> None:
        ledger = Ledger(repository, clock=clock)
        ledger.grant("ada", 5)
        before = snapshot(ledger)
        with pytest.raises(RuntimeError), repository.transaction() as uow:
            uow.add_unit("eur", 2)
            state = uow.load_account("ada")
            uow.save(ChangeSet.of(state, attrs.evolve(state, next_number=99), []))
            raise RuntimeError("abandon")
        assert snapshot(ledger) == before

    def test_an_unknown_customer_loads_as_an_empty_account(self, repository: Repository) -> None:
        with repository.reader() as reader:
            state = reader.load_account("nobody")
            assert (dict(state.blocks), dict(state.holds), state.last_at) == ({}, {}, None)
            assert reader.history("nobody") == ([], [], [])
            assert reader.find_block("blk_x") is None
            assert reader.find_hold("h") is None
            assert reader.find_operation("key", "k") is None
            assert reader.customers() == []

    def test_customers_are_listed_in_first_write_order(self, ledger: Ledger) -> None:
        for customer in ("cy", "ada", "bob", "ada"):
            ledger.grant(customer, 1)
        with ledger.repository.reader() as reader:
            assert reader.customers() == ["cy", "ada", "bob"]

    def test_threads_sharing_a_ledger_never_overspend(self, ledger: Ledger) -> None:
        ledger.grant("ada", 60)
        outcomes: list[str] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(25):
                try:
                    ledger.burn("ada", 1)
                    outcome = "burned"
                except InsufficientCredits:
                    outcome = "refused"
                with lock:
                    outcomes.append(outcome)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("burned") == 60 and outcomes.count("refused") == 40
        assert ledger.balance("ada").available == 0
        assert ledger.verify().ok

    # -- units --------------------------------------------------------------------------------------

    def test_units_are_persisted(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        ledger.define_unit("eur", 3)
        other = Ledger(ledger.repository, clock=clock)
        assert other.units() == {"credits": 0, "usd": 2, "eur": 3}
        assert other.grant("ada", "1.005", unit="eur").block.amount == Decimal("1.005")
        with pytest.raises(ValidationError):
            other.define_unit("eur", 2)
        repository = self.reopen(ledger.repository, tmp_path)
        if repository is None:
            return
        reopened = Ledger(repository, clock=clock)
        try:
            assert reopened.units() == {"credits": 0, "usd": 2, "eur": 3}
            assert reopened.balance("ada", unit="eur").available == Decimal("1.005")
        finally:
            reopened.close()


def assert_same_transcript(actual: list[str], expected: list[str]) -> None:
    """Fail with the first line where two transcripts of :func:`run_script` differ."""
    for number, (got, want) in enumerate(zip(actual, expected, strict=False)):
        assert got == want, f"the transcripts differ at line {number}:\n  got:  {got}\n  want: {want}"
    assert len(actual) == len(expected), f"{len(actual)} transcript lines, expected {len(expected)}"

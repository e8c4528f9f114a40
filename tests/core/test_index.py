"""The index a rule keeps up to date says what a walk over the blocks and holds would say.

Every write finds what fell due, what a burn draws and what the balance is from the account's
:class:`~creditcore.core.index.Index`, which the rules change entry by entry instead of
building it again. Random runs of every rule at non-decreasing times check, after each step,
on the state the rule returned and on its ``live()`` form: the index against one built from
scratch; the balance, the next due time, a burn's plan, the live blocks and a write's change
set against a plain walk over the blocks; the blocks a burn or hold drew against a sort of
them all; that nothing due by the rule's time is left unrecorded; that a replay of the
entries makes the same blocks and holds; and that pickling, a load (``live()`` with ended
blocks put back by ``with_block``) or a state built by hand leaves a state the next rule can use.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore.core import history, rules, sequence
from creditcore.core.commands import Burn, Capture, ChangeExpiry, Grant, PlaceHold, Release, Reverse, Void
from creditcore.core.index import Index
from creditcore.core.order import DEFAULT_ORDER, BurnOrder
from creditcore.core.outcomes import Burned, Captured, Transition
from creditcore.core.state import AccountState, BlockState, EntryState, HoldState, UnitTotals
from creditcore.errors import CreditError
from creditcore.repository import ChangeSet

START = datetime(2026, 1, 1, tzinfo=UTC)
UNITS = ("credits", "tokens")
units = st.sampled_from(["credits", "credits", "credits", "tokens"])  # most steps meet on one unit
GRANT_SCOPES = (None, frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"}))
BURN_SCOPES = (None, "a", "b")
FIFO = BurnOrder.fifo()
ORDERS = (DEFAULT_ORDER, FIFO)
MINUTES = timedelta(minutes=1)
HOUR = timedelta(hours=1)

# -- the steps ---------------------------------------------------------------------------------

grants = st.tuples(
    st.just("grant"),
    units,
    st.integers(1, 80),
    st.sampled_from([0, 50, 100]),  # priority
    st.sampled_from(["promotional", "paid"]),
    st.sampled_from([None, Decimal("0.5"), Decimal(2)]),  # cost basis
    st.sampled_from(GRANT_SCOPES),
    st.sampled_from([0, 0, 0, -3, 1, 3, 10]),  # effective in, minutes (before the grant, sometimes)
    st.sampled_from([None, None, 1, 4, 20]),  # expires, minutes after it is effective
    st.booleans(),  # settle_debt
)
burns = st.tuples(
    st.just("burn"),
    units,
    st.integers(1, 60),
    st.sampled_from(BURN_SCOPES),
    st.sampled_from(["reject", "partial", "debt"]),
    st.sampled_from([None, None, 10]),  # debt limit
    st.sampled_from(ORDERS),
)
holds = st.tuples(
    st.just("hold"),
    units,
    st.integers(1, 12),
    st.sampled_from(BURN_SCOPES),
    st.sampled_from([None, None, 1, 3, 10]),  # expires in, minutes
    st.sampled_from(ORDERS),
)
reversals = st.tuples(st.just("reverse"), st.integers(0, 9), st.sampled_from([None, 1, 4]))
# a step's weight is how often it is listed
steps = st.one_of(
    grants,
    burns,
    holds,
    holds,
    holds,
    # a hold, a block or an op to name: an even pick names one still active, an odd one any
    st.tuples(st.just("capture"), st.integers(0, 9), st.sampled_from([None, 0, 1, 5, 100]), st.sampled_from(ORDERS)),
    st.tuples(st.just("capture"), st.integers(0, 9), st.sampled_from([None, 0, 1, 5, 100]), st.sampled_from(ORDERS)),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("void"), st.integers(0, 9), st.sampled_from([None, 1, 3])),
    st.tuples(st.just("move"), st.integers(0, 9), st.sampled_from([1, 4, 30]), st.sampled_from([None, 1, 4])),
    reversals,
    reversals,
    st.tuples(st.just("advance"), st.sampled_from([1, 2, 5, 30])),
)
# what the next step starts from: the state the rule returned, the state a repository would
# load back, a pickled copy, or the same state built by hand (its index built on first use)
CARRIES = ("full", "full", "live", "live", "pickled", "by hand")
moves = st.tuples(
    st.sampled_from([0, 0, 0, 1, 2, 5, 15]),  # minutes to wait first
    st.sampled_from(CARRIES),
    st.integers(1, 100),  # an amount to preview a burn of
    st.sampled_from(ORDERS),  # the burn order the reads leave the index in, for the next rule
    steps,
)


# -- plain walks over the blocks and holds ------------------------------------------------------


def afresh(state: AccountState) -> AccountState:
    """The same account built anew by hand: no index until first use, no record of changes."""
    return AccountState(
        customer=state.customer,
        blocks=dict(state.blocks),
        holds=dict(state.holds),
        totals=dict(state.totals),
        last_at=state.last_at,
        next_number=state.next_number,
        settlements=dict(state.settlements),
    )


def nonzero(found: dict[Any, Any]) -> dict[Any, Any]:
    """A dict without its empty entries: a kept index may keep a key whose blocks are gone."""
    return {key: value for key, value in found.items() if value and value != (0, 0)}


def check_index(state: AccountState, what: str) -> None:
    """The index the rules kept equals one built from the state's blocks and holds."""
    index = state.index()
    fresh = Index.build(state.blocks.values(), state.holds.values(), index.order, state.last_at)
    kept_burn = {key: list(seq) for key, seq in index.burn.items()}
    built_burn = {key: list(seq) for key, seq in fresh.burn.items()}
    assert nonzero(kept_burn) == built_burn, f"{what}: the burn sequences differ from the blocks'"
    for name in ("expiries", "timeouts", "settling"):
        assert list(getattr(index, name)) == list(getattr(fresh, name)), f"{what}: index.{name} differs"
    # a kept index may still list blocks that became effective by the account's last entry (the
    # next rule drops them); those effective after it must all be there
    last = state.last_at
    upcoming = [item for item in index.upcoming if last is None or item[0] > last]
    assert upcoming == list(fresh.upcoming), f"{what}: index.upcoming differs"
    assert index.horizon is None or (last is not None and index.horizon <= last)
    assert nonzero(index.sums) == fresh.sums, f"{what}: the unheld and held sums differ from the blocks'"
    assert nonzero(index.unheld) == nonzero(fresh.unheld), f"{what}: the unheld credit per unit differs"
    assert index.live_blocks == fresh.live_blocks, f"{what}: the count of blocks with credit differs"
    assert index.active_holds == fresh.active_holds, f"{what}: the count of active holds differs"


def brute_next_due(state: AccountState) -> datetime | None:
    times = [b.expires_at for b in state.blocks.values() if b.expires_at is not None and b.unheld > 0]
    times += [h.expires_at for h in state.holds.values() if h.status == "active" and h.expires_at is not None]
    times += [b.effective_at for b in state.blocks.values() if b.settle_pending and b.remaining > 0]
    return min(times, default=None)


def check_reads(state: AccountState, at: datetime, amount: int, what: str) -> None:
    """Balance, next due time and a burn's plan from the index equal a walk over the blocks."""
    assert rules.next_due(state) == brute_next_due(state), f"{what}: next_due is not the earliest event"
    start = at if state.last_at is None else max(at, state.last_at)
    for t in (start, start + 2 * MINUTES, start + 30 * MINUTES):
        seen = rules.view(state, t)
        seen_afresh = rules.view(afresh(state), t)
        assert seen == seen_afresh, f"{what}: view at {t} differs from the view of the state built afresh"
        check_index(seen, f"{what}, view at {t}")
        for unit in UNITS:
            totals = seen_afresh.unit_totals(unit)
            for scope in BURN_SCOPES:
                walked = rules._count_blocks(seen_afresh.blocks.values(), totals, unit, t, scope)
                assert rules.tally(seen, unit, t, scope) == walked, f"{what}: tally of {unit}/{scope} at {t}"
                # a state not brought to t: the walk the fast path falls back to agrees with it
                unviewed = rules._count_blocks(state.blocks.values(), state.unit_totals(unit), unit, t, scope)
                assert rules.tally(state, unit, t, scope) == unviewed, f"{what}: tally of {unit}/{scope} at {t}"
    for t in (start, start + 5 * MINUTES):
        for order in (DEFAULT_ORDER, FIFO, DEFAULT_ORDER):  # each change of order rebuilds the burn order
            for unit in UNITS:
                for scope in BURN_SCOPES:
                    plan, shortfall = rules.plan_draw(state.blocks.values(), unit, scope, amount, t, order)
                    sorted_plan = (tuple((block.id, take) for block, take in plan), shortfall)
                    assert rules.preview_burn(state, unit, amount, t, scope, order) == sorted_plan, (
                        f"{what}: a burn of {amount} {unit}/{scope} at {t} in {order.keys} draws otherwise"
                    )
            check_index(state, f"{what}, in order {order.keys}")


def check_draw(before: AccountState, transition: Transition[Any], step: tuple[Any, ...], at: datetime) -> None:
    """A burn or a hold drew the blocks a sort of every block puts first, in its order."""
    if step[0] not in ("burn", "hold"):
        return
    kind, unit, amount, scope, *_rest, order = step
    seen = rules.view(afresh(before), at)
    plan, _shortfall = rules.plan_draw(seen.blocks.values(), unit, scope, amount, at, order)
    drawn = [(e.block_id, e.amount) for e in transition.entries if e.kind == kind and e.at == at]
    assert drawn == [(b.id, take) for b, take in plan], f"the {kind} drew {drawn} in the order {order.keys}"


def check_nothing_left_due(after: AccountState, at: datetime) -> None:
    """A rule at ``at`` recorded every event due by then (an upcoming block that settles debt
    waits, with nothing to settle, until the history has an entry at its effective time)."""
    for b in after.blocks.values():
        assert b.expires_at is None or b.expires_at > at or b.unheld == 0, f"block {b.id} was not expired"
        assert not (b.settle_pending and b.remaining > 0 and after.last_at is not None) or (
            b.effective_at > after.last_at
        ), f"block {b.id} still waits to settle debt at {b.effective_at}, before the last entry"
    for h in after.holds.values():
        assert h.status != "active" or h.expires_at is None or h.expires_at > at, f"hold {h.id} did not time out"


def check_live(state: AccountState, what: str) -> AccountState:
    live = state.live()
    assert dict(live.blocks) == {key: b for key, b in state.blocks.items() if b.remaining > 0}, (
        f"{what}: live() does not hold exactly the blocks with credit left"
    )
    assert dict(live.holds) == {key: h for key, h in state.holds.items() if h.status == "active"}, (
        f"{what}: live() does not hold exactly the active holds"
    )
    assert (live.customer, live.totals, live.last_at, live.next_number, live.settlements) == (
        state.customer,
        state.totals,
        state.last_at,
        state.next_number,
        state.settlements,
    )
    assert live.live() is live
    return live


def check_change_set(before: AccountState, after: AccountState, entries: tuple[EntryState, ...]) -> None:
    """A change set lists every block and hold whose value the rule changed, and no other
    than those it replaced; the same with the rule's record and without it (the walk)."""
    assert set(before.blocks) <= set(after.blocks) and set(before.holds) <= set(after.holds)
    for found in (ChangeSet.of(before, after, entries), ChangeSet.of(before, afresh(after), entries)):
        assert found.entries == entries and found.account == after.live()
        for listed, now, then in (
            (found.blocks, after.blocks, before.blocks),
            (found.holds, after.holds, before.holds),
        ):
            ids = [item.id for item in listed]
            assert len(ids) == len(set(ids)), f"a change set lists {ids} (one twice)"
            assert all(now[item.id] == item for item in listed), "a change set lists an earlier form"
            changed = {key for key, value in now.items() if then.get(key) != value}
            replaced = {key for key, value in now.items() if then.get(key) is not value}
            assert changed <= set(ids) <= replaced, (
                f"the change set lists {sorted(ids)}; changed were {sorted(changed)}, replaced {sorted(replaced)}"
            )


def check_available_after(after: AccountState, entries: tuple[EntryState, ...]) -> None:
    """The last entry of each unit says the balance a walk finds at its time."""
    last: dict[str, EntryState] = {}
    for entry in entries:
        last[entry.unit] = entry
    for unit, entry in last.items():
        walked = rules._count_blocks(after.blocks.values(), UnitTotals(), unit, entry.at, None)
        assert entry.available_after == walked.available, f"the last {unit} entry, {entry.kind}, says otherwise"


# -- the account under test ----------------------------------------------------------------------


class Account:
    """Runs the steps against the pure rules and checks every state they return."""

    def __init__(self) -> None:
        self.state = AccountState(customer="ada")
        self.at = START
        self.count = 0
        self.op = ""  # the op id of the step running
        self.block_ids: list[str] = []
        self.hold_ids: list[str] = []
        self.ops: list[tuple[str, tuple[EntryState, ...], bool]] = []  # (op id, its entries, captured nothing)
        self.reversals: list[EntryState] = []
        self.known_blocks: dict[str, BlockState] = {}  # the latest form of every block, ended or not
        self.known_holds: dict[str, HoldState] = {}
        self.history: list[EntryState] = []

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def run(self, wait: int, carry: str, amount: int, leave: BurnOrder, step: tuple[Any, ...]) -> None:
        self.at += wait * MINUTES
        rule = self.rule(step)
        if rule is None:
            return
        before = self.state
        snapshot = pickle.loads(pickle.dumps(before))
        try:
            transition = rule(before)
        except CreditError:
            assert before == snapshot, "a refused rule changed the state it was given"
            check_index(before, "the state a rule refused")
            return
        after, entries = transition
        self.check(before, transition, rule, step[0])
        check_draw(before, transition, step, self.at)
        check_nothing_left_due(after, step[1] * MINUTES + self.at if step[0] == "advance" else self.at)
        self.known_blocks.update(after.blocks)
        self.known_holds.update(after.holds)
        self.history += [e.numbered(len(self.history) + n + 1) for n, e in enumerate(entries)]
        self.check_replay(after, step[0])
        self.reversals += [e for e in entries if e.kind == "reverse"]
        self.note(transition)
        live = check_live(after, step[0])
        for state, what in ((after, f"{step[0]}, as returned"), (live, f"{step[0]}, live")):
            check_index(state, what)
            check_reads(state, self.at, amount, what)
        if carry == "full":
            self.state = after
        elif carry == "live":
            self.state = live
        elif carry == "pickled":
            self.state = pickle.loads(pickle.dumps(after))
            assert self.state == after
            check_index(self.state, f"{step[0]}, pickled")
        else:
            self.state = afresh(after)
            return  # its index is built on first use
        self.state.index(leave)

    def check(
        self,
        before: AccountState,
        transition: Transition[Any],
        rule: Callable[[AccountState], Transition[Any]],
        what: str,
    ) -> None:
        after, entries = transition
        check_index(before, f"{what}: the state the rule was given")
        again = rule(before)
        assert (again.state, again.entries) == (after, entries), f"{what}: the same rule on the same state differs"
        check_change_set(before, after, entries)
        check_available_after(after, entries)

    @staticmethod
    def pick(ids: list[str], choice: int, alive: Callable[[str], bool]) -> str:
        """One of ``ids``: for an even choice one that is still ``alive``, if there is one."""
        if choice % 2 == 0:
            living = [ident for ident in ids if alive(ident)]
            if living:
                return living[choice // 2 % len(living)]
        return ids[choice // 2 % len(ids)]

    def check_replay(self, after: AccountState, what: str) -> None:
        """Every block and hold the rule returned is what a replay of the entries makes of it
        (a replay builds its index afresh, from the entries only)."""
        replayed = history.rebuild(
            "ada", list(self.known_blocks.values()), list(self.known_holds.values()), self.history
        )
        assert replayed.live() == after.live(), f"{what}: a replay of the entries gives another account"
        for block_id, found in after.blocks.items():
            again = replayed.blocks[block_id]
            assert again == found, f"{what}: a replay of the entries makes block {block_id} otherwise"
        for hold_id, found_hold in after.holds.items():
            assert replayed.holds[hold_id] == found_hold, f"{what}: a replay makes hold {hold_id} otherwise"

    def put_back_block(self, block_id: str) -> None:
        """What a shell does before a write that names a block a load left out."""
        if block_id not in self.state.blocks and block_id in self.known_blocks:
            self.state = self.state.with_block(self.known_blocks[block_id])
            check_index(self.state, f"with_block({block_id!r})")

    def put_back_hold(self, hold_id: str) -> None:
        if hold_id not in self.state.holds and hold_id in self.known_holds:
            self.state = self.state.with_hold(self.known_holds[hold_id])
            check_index(self.state, f"with_hold({hold_id!r})")

    def rule(self, step: tuple[Any, ...]) -> Callable[[AccountState], Transition[Any]] | None:
        """The rule a step runs, as a function of the state (None if there is nothing to name)."""
        kind, *args = step
        at = self.at
        op = self.op = self.new_id("op")
        if kind == "grant":
            unit, amount, priority, category, cost_basis, scope, effective_in, expires_in, settle = args
            effective_at = at + effective_in * MINUTES
            block = self.new_id("b")
            self.block_ids.append(block)
            grant = Grant(
                op_id=op,
                block_id=block,
                unit=unit,
                amount=amount,
                priority=priority,
                category=category,
                cost_basis=cost_basis,
                scope=scope,
                effective_at=effective_at,
                expires_at=None if expires_in is None else effective_at + expires_in * MINUTES,
                settle_debt=settle,
            )
            return lambda state: rules.grant(state, grant, at)
        if kind == "burn":
            unit, amount, scope, overdraft, limit, order = args
            burn = Burn(op_id=op, unit=unit, amount=amount, scope=scope, overdraft=overdraft, debt_limit=limit)
            return lambda state: rules.burn(state, burn, at, order)
        if kind == "hold":
            unit, amount, scope, expires_in, order = args
            hold_id = self.new_id("h")
            self.hold_ids.append(hold_id)
            expires_at = None if expires_in is None else at + expires_in * MINUTES
            hold = PlaceHold(op_id=op, hold_id=hold_id, unit=unit, amount=amount, scope=scope, expires_at=expires_at)
            return lambda state: rules.hold(state, hold, at, order)
        if kind == "advance":
            (minutes,) = args
            return lambda state: rules.advance(state, at + minutes * MINUTES)
        if kind in ("capture", "release"):
            if not self.hold_ids:
                return None
            hold_id = self.pick(
                self.hold_ids, args[0], lambda h: h in self.state.holds and self.state.holds[h].status == "active"
            )
            self.put_back_hold(hold_id)
            if kind == "release":
                release = Release(op_id=op, hold_id=hold_id)
                return lambda state: rules.release(state, release, at)
            capture = Capture(op_id=op, hold_id=hold_id, amount=args[1])
            order = args[2]
            return lambda state: rules.capture(state, capture, at, order)
        if kind in ("void", "move"):
            if not self.block_ids:
                return None
            block_id = self.pick(
                self.block_ids, args[0], lambda b: b in self.state.blocks and self.state.blocks[b].unheld > 0
            )
            self.put_back_block(block_id)
            if kind == "void":
                void = Void(op_id=op, block_id=block_id, amount=args[1])
                return lambda state: rules.void(state, void, at)
            new_id = self.new_id("b")
            self.block_ids.append(new_id)
            move = ChangeExpiry(
                op_id=op, block_id=block_id, new_block_id=new_id, expires_at=at + args[1] * MINUTES, amount=args[2]
            )
            return lambda state: rules.change_expiry(state, move, at)
        assert kind == "reverse"
        if not self.ops:
            return None
        target, target_entries, captured_nothing = self.ops[args[0] % len(self.ops)]
        # as service.writes.reverse builds it: the op's entries, the earlier reversals of it,
        # and the blocks credit may go back to put back into a loaded state
        reverse = Reverse(
            op_id=op,
            target=target,
            target_entries=target_entries,
            prior=tuple(e for e in self.reversals if e.ref == target),
            amount=args[1],
            captured_nothing=captured_nothing,
        )
        unit = target_entries[0].unit
        wanted = {e.block_id for e in target_entries if e.block_id is not None}
        wanted.update(block_id for block_id, _ in self.state.settlements.get(unit, ()))
        for block_id in sorted(wanted):
            self.put_back_block(block_id)
        return lambda state: rules.reverse(state, reverse, at)

    def note(self, transition: Transition[Any]) -> None:
        """Remember the burns and captures a later step may reverse."""
        outcome = transition.outcome
        own = tuple(e for e in transition.entries if e.op_id == self.op)
        if isinstance(outcome, (Burned, Captured)) and own:
            self.ops.append((self.op, own, isinstance(outcome, Captured) and outcome.captured == 0))


@given(
    st.sampled_from([1, 2, sequence.LOAD]),
    st.lists(grants, min_size=2, max_size=10),
    st.lists(moves, min_size=10, max_size=30),
)
@settings(max_examples=150, deadline=None)
def test_the_kept_index_says_what_a_walk_over_the_blocks_says(
    load: int, first: list[tuple[Any, ...]], then: list[tuple[int, str, int, BurnOrder, tuple[Any, ...]]]
) -> None:
    account = Account()
    saved = sequence.LOAD
    sequence.LOAD = load  # small chunks split and empty within a few blocks
    try:
        for step in first:
            account.run(0, "full", 5, DEFAULT_ORDER, step)
        for wait, carry, amount, leave, step in then:
            account.run(wait, carry, amount, leave, step)
    finally:
        sequence.LOAD = saved


# -- a state built by hand ---------------------------------------------------------------------


def block(block_id: str, number: int, remaining: int, **fields: Any) -> BlockState:
    fields.setdefault("amount", remaining)
    fields.setdefault("effective_at", START)
    return BlockState(
        id=block_id,
        customer="ada",
        unit="credits",
        number=number,
        remaining=remaining,
        priority=fields.pop("priority", 50),
        category="promotional",
        created_at=START,
        **fields,
    )


def by_hand(last_at: datetime | None = START) -> AccountState:
    """An account as a caller of the pure core builds it: plain dicts, no index yet."""
    return AccountState(
        customer="ada",
        blocks={
            "cheap": block("cheap", 1, 10, priority=10),
            "held": block("held", 2, 8, held=3),
            "scoped": block("scoped", 3, 6, scope=frozenset({"a"})),
            "expiring": block("expiring", 4, 5, expires_at=START + 10 * MINUTES),
            "later": block("later", 5, 7, effective_at=START + 5 * MINUTES, settles_debt=True, settle_pending=True),
            "spent": block("spent", 6, 0, amount=4, emptied_by="depleted"),
        },
        holds={
            "h1": HoldState(
                id="h1",
                customer="ada",
                unit="credits",
                amount=3,
                allocations=(("held", 3),),
                expires_at=START + 20 * MINUTES,
                created_at=START,
                op_id="op-h1",
            ),
            "old": HoldState(
                id="old",
                customer="ada",
                unit="credits",
                amount=2,
                allocations=(("spent", 2),),
                status="released",
                created_at=START,
                settled_at=START,
                settled_by="op-r",
                op_id="op-old",
            ),
        },
        totals={"credits": UnitTotals(granted=40, used=4)},
        last_at=last_at,
        next_number=7,
    )


def burned_by_hand() -> tuple[AccountState, tuple[EntryState, ...]]:
    """A burn of 12 on the account built by hand, and the account after it built by hand again."""
    after, entries = rules.burn(by_hand(), Burn(op_id="burn", unit="credits", amount=12), START)
    return afresh(after), tuple(e for e in entries if e.op_id == "burn")


AT = START + MINUTES
RULES: dict[str, Callable[[AccountState], Transition[Any]]] = {
    "grant": lambda s: rules.grant(s, Grant(op_id="g", block_id="new", unit="credits", amount=4), AT),
    "burn": lambda s: rules.burn(s, Burn(op_id="o", unit="credits", amount=12), AT),
    "burn with a scope": lambda s: rules.burn(s, Burn(op_id="o", unit="credits", amount=20, scope="a"), AT),
    "burn into debt": lambda s: rules.burn(s, Burn(op_id="o", unit="credits", amount=90, overdraft="debt"), AT),
    "burn oldest first": lambda s: rules.burn(s, Burn(op_id="o", unit="credits", amount=12), AT, FIFO),
    "hold": lambda s: rules.hold(
        s, PlaceHold(op_id="o", hold_id="h2", unit="credits", amount=4, expires_at=AT + MINUTES), AT
    ),
    "capture": lambda s: rules.capture(s, Capture(op_id="o", hold_id="h1", amount=2), AT),
    "release": lambda s: rules.release(s, Release(op_id="o", hold_id="h1"), AT),
    "void": lambda s: rules.void(s, Void(op_id="o", block_id="cheap", amount=4), AT),
    "change_expiry": lambda s: rules.change_expiry(
        s, ChangeExpiry(op_id="o", block_id="held", new_block_id="moved", expires_at=AT + 5 * MINUTES), AT
    ),
    "advance past every event": lambda s: rules.advance(s, START + 30 * MINUTES),
}


@pytest.mark.parametrize("last_at", [START, None], ids=["with a last entry", "without one"])
@pytest.mark.parametrize("name", list(RULES))
def test_a_state_built_by_hand_builds_its_index_on_first_use_by_any_rule(name: str, last_at: datetime | None) -> None:
    given = by_hand(last_at)
    assert given._index is None, "a state built by hand has no index until it is used"
    after, _entries = RULES[name](given)
    assert given == by_hand(last_at), "the rule changed the state it was given"
    check_index(given, f"{name}: the state built by hand")
    check_index(after, name)
    check_live(after, name)
    check_reads(after, AT, 7, name)
    check_reads(by_hand(last_at), START, 7, f"{name}: reads on the state built by hand")


def test_a_burn_on_a_state_built_by_hand_draws_in_burn_order() -> None:
    step = rules.burn(by_hand(), Burn(op_id="o", unit="credits", amount=20, scope="a"), AT)
    # priority 10 first, then the block that expires, then scoped credit before unscoped
    assert step.outcome.burned == 20
    assert [(e.block_id, e.amount) for e in step.entries] == [("cheap", 10), ("expiring", 5), ("scoped", 5)]


def test_reads_on_a_state_built_by_hand() -> None:
    given = by_hand()
    assert rules.next_due(given) == START + 5 * MINUTES, "the upcoming block that settles debt falls due first"
    seen = rules.tally(given, "credits", START)
    assert (seen.available, seen.unscoped_available, seen.held, seen.upcoming) == (26, 20, 3, 7)
    assert rules.preview_burn(given, "credits", 12, START, order=FIFO) == ((("cheap", 10), ("held", 2)), 0)
    assert rules.view(given, START) is given, "nothing is due at the last entry: the view is the state itself"
    live = given.live()
    assert set(live.blocks) == {"cheap", "held", "scoped", "expiring", "later"} and set(live.holds) == {"h1"}


def test_a_reversal_on_a_state_built_by_hand_gives_the_credit_back() -> None:
    state, burn_entries = burned_by_hand()
    assert [(e.block_id, e.amount) for e in burn_entries] == [("cheap", 10), ("expiring", 2)]
    command = Reverse(op_id="rev", target="burn", target_entries=burn_entries)
    after, _entries = rules.reverse(state, command, AT)
    check_index(after, "reverse")
    check_reads(after, AT, 7, "reverse")
    assert (after.blocks["cheap"].remaining, after.blocks["expiring"].remaining) == (10, 5)


def test_with_block_and_with_hold_on_a_state_built_by_hand_keep_its_index() -> None:
    live = by_hand().live()
    state = live.with_block(by_hand().blocks["spent"]).with_hold(by_hand().holds["old"])
    assert state.blocks["spent"].remaining == 0 and state.holds["old"].status == "released"
    check_index(state, "with_block and with_hold")
    assert state.live() == live


def test_evolve_starts_a_state_with_a_fresh_index() -> None:
    state, _entries = rules.grant(by_hand(), Grant(op_id="g", block_id="new", unit="credits", amount=4), AT)
    kept = state.index()
    without = {key: b for key, b in state.blocks.items() if key != "cheap"}
    evolved = attrs.evolve(state, blocks=without)
    assert evolved._index is None, "attrs.evolve copied the old state's index"
    assert evolved.index() is not kept
    check_index(evolved, "evolved without a block")
    step = rules.burn(evolved, Burn(op_id="o", unit="credits", amount=12, overdraft="partial"), AT)
    assert "cheap" not in {e.block_id for e in step.entries}, "a burn drew a block the evolved state does not hold"
    assert rules.tally(evolved, "credits", AT).available == rules.tally(state, "credits", AT).available - 10
    later = attrs.evolve(state, last_at=START + 6 * MINUTES)
    assert later.index().horizon == START + 6 * MINUTES
    check_index(later, "evolved to a later last entry")
    ended = attrs.evolve(state, holds={})
    assert ended.index().active_holds == 0 and ended.index().timeouts == Index.build((), (), FIFO, None).timeouts
    check_reads(ended, AT, 7, "evolved without holds")


def test_with_block_counts_the_credit_of_a_block_put_back() -> None:
    live = by_hand().live()
    extra = block("extra", 9, 4, scope=frozenset({"b"}), expires_at=START + 3 * MINUTES)
    state = live.with_block(extra)
    assert state.index() is not live.index() and live.index().live_blocks == 5
    check_index(state, "with_block of a block with credit")
    check_reads(state, START, 7, "with_block of a block with credit")


def test_a_block_used_up_as_it_becomes_effective_no_longer_waits_to_settle_debt() -> None:
    grant = Grant(op_id="g", block_id="b", unit="credits", amount=10, effective_at=START + 5 * MINUTES)
    granted, grant_entries = rules.grant(AccountState(customer="ada"), grant, START)
    assert granted.blocks["b"].settle_pending
    # the block becomes effective at +5; the next write, at +10, burns all of it
    after, burn_entries = rules.burn(granted, Burn(op_id="o", unit="credits", amount=10), START + 10 * MINUTES)
    assert after.blocks["b"].remaining == 0
    entries = [e.numbered(n + 1) for n, e in enumerate(grant_entries + burn_entries)]
    replayed = history.rebuild("ada", list(after.blocks.values()), [], entries)
    assert replayed.blocks["b"].settle_pending is False
    assert after.blocks["b"].settle_pending is False, "the moment to settle debt is past, but the block still waits"


@pytest.mark.parametrize("empty", ["void", "change_expiry"])
def test_a_block_emptied_while_upcoming_stops_waiting_to_settle_debt(empty: str) -> None:
    grant = Grant(op_id="g", block_id="b", unit="credits", amount=10, effective_at=START + 5 * MINUTES)
    state, grant_entries = rules.grant(AccountState(customer="ada"), grant, START)
    if empty == "void":
        state, emptied = rules.void(state, Void(op_id="e", block_id="b"), START)
    else:
        move = ChangeExpiry(op_id="e", block_id="b", new_block_id="b2", expires_at=START + HOUR)
        state, emptied = rules.change_expiry(state, move, START)
    # still upcoming, but with nothing left to settle with: it stops waiting as it empties
    assert state.blocks["b"].remaining == 0 and not state.blocks["b"].settle_pending
    assert "b" not in {block_id for _when, _number, block_id, _unit in state.index().settling}
    # the next write comes after the block's effective_at, and does not touch it
    after, later = rules.grant(state, Grant(op_id="g2", block_id="c", unit="credits", amount=1), START + 10 * MINUTES)
    entries = [e.numbered(n + 1) for n, e in enumerate(grant_entries + emptied + later)]
    replayed = history.rebuild("ada", list(after.blocks.values()), [], entries)
    assert replayed.blocks["b"].settle_pending is False
    assert after.blocks["b"].settle_pending is False, "the moment to settle debt is past, but the block still waits"

"""A rule's outcome and balance change say what its entries say, over random operation sequences.

The outcome is decided by the rule and the entries are written by it; nothing re-sums entries
to build a result, so this property is what keeps the two from drifting apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from creditcore.core import rules
from creditcore.core.commands import Burn, Capture, ChangeExpiry, Grant, PlaceHold, Release, Reverse, Void
from creditcore.core.outcomes import (
    Burned,
    Captured,
    Granted,
    Held,
    Moved,
    Released,
    Reversed,
    Transition,
    Voided,
)
from creditcore.core.state import AccountState, EntryState, Tally
from creditcore.errors import CreditError

START = datetime(2026, 1, 1, tzinfo=UTC)
UNITS = ("credits", "tokens")

grants = st.tuples(
    st.just("grant"),
    st.sampled_from(UNITS),
    st.integers(1, 50),
    st.sampled_from([None, 1, 5, 30]),  # expires in, minutes
    st.sampled_from([0, 0, 3]),  # effective in, minutes
    st.sampled_from([None, frozenset({"gpu"})]),
)
step_strategy = st.one_of(
    grants,
    st.tuples(
        st.just("grant"),
        st.sampled_from(UNITS),
        st.integers(1, 50),
        st.sampled_from([None, 1, 5, 30]),  # expires in, minutes
        st.sampled_from([0, 0, 3]),  # effective in, minutes
        st.sampled_from([None, frozenset({"gpu"})]),
    ),
    st.tuples(
        st.just("burn"),
        st.sampled_from(UNITS),
        st.integers(1, 60),
        st.sampled_from(["reject", "partial", "debt"]),
        st.sampled_from([None, "gpu"]),
    ),
    st.tuples(st.just("hold"), st.sampled_from(UNITS), st.integers(1, 30), st.sampled_from([None, 2, 10])),
    st.tuples(st.just("hold"), st.sampled_from(UNITS), st.integers(1, 10), st.sampled_from([None, 1, 4])),
    st.tuples(st.just("capture"), st.integers(0, 9), st.sampled_from([None, 0, 1, 5, 100])),
    st.tuples(st.just("capture"), st.integers(0, 9), st.sampled_from([None, 2])),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("void"), st.integers(0, 9), st.sampled_from([None, 1, 3])),
    st.tuples(st.just("move"), st.integers(0, 9), st.integers(1, 40), st.sampled_from([None, 1, 4])),
    st.tuples(st.just("burn"), st.sampled_from(UNITS), st.integers(20, 80), st.just("debt"), st.none()),
    st.tuples(st.just("reverse"), st.integers(0, 9), st.sampled_from([None, 1, 4])),
    st.tuples(st.just("reverse"), st.integers(0, 9), st.sampled_from([None, 1, 4])),
    st.tuples(st.just("wait"), st.integers(1, 8)),
)


def total(entries: tuple[EntryState, ...], *kinds: str) -> int:
    return sum(e.amount for e in entries if e.kind in kinds)


class Account:
    """Runs the steps against the pure core and checks every transition it gets back."""

    def __init__(self) -> None:
        self.state = AccountState(customer="ada")
        self.at = START
        self.count = 0
        self.blocks: list[str] = []
        self.holds: list[tuple[str, int]] = []  # (hold id, amount)
        self.ops: list[tuple[str, tuple[EntryState, ...]]] = []  # burns and captures: (op id, entries)
        self.entries: list[EntryState] = []

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def run(self, step: tuple[object, ...]) -> None:
        kind = step[0]
        if kind == "wait":
            self.at += timedelta(minutes=int(step[1]))
            self.check(rules.advance(self.state, self.at), None, None)
            return
        command, unit = self.command(step)
        if command is None:
            return
        rule = {
            Grant: rules.grant,
            Burn: rules.burn,
            PlaceHold: rules.hold,
            Capture: rules.capture,
            Release: rules.release,
            Void: rules.void,
            ChangeExpiry: rules.change_expiry,
            Reverse: rules.reverse,
        }[type(command)]
        try:
            transition = rule(self.state, command, self.at)
        except CreditError:
            return  # a refusal changes nothing: nothing to compare
        self.check(transition, command, unit)

    def command(self, step: tuple[object, ...]) -> tuple[object | None, str | None]:
        kind, *args = step
        op = self.new_id("op")
        if kind == "grant":
            unit, amount, expires, effective, scope = args
            effective_at = self.at + timedelta(minutes=effective)
            expires_at = None if expires is None else effective_at + timedelta(minutes=expires)
            block = self.new_id("b")
            self.blocks.append(block)
            return Grant(
                op_id=op,
                block_id=block,
                unit=unit,
                amount=amount,
                effective_at=effective_at,
                expires_at=expires_at,
                scope=scope,
            ), unit
        if kind == "burn":
            unit, amount, overdraft, scope = args
            return Burn(op_id=op, unit=unit, amount=amount, overdraft=overdraft, scope=scope), unit
        if kind == "hold":
            unit, amount, expires = args
            hold = self.new_id("h")
            expires_at = None if expires is None else self.at + timedelta(minutes=expires)
            return PlaceHold(op_id=op, hold_id=hold, unit=unit, amount=amount, expires_at=expires_at), unit
        if kind in ("capture", "release"):
            active = [h for h in self.state.holds.values() if h.status == "active"]
            if not active:
                return None, None
            hold = active[int(args[0]) % len(active)].id
            if kind == "release":
                return Release(op_id=op, hold_id=hold), None
            return Capture(op_id=op, hold_id=hold, amount=args[1]), None
        if kind in ("void", "move"):
            if not self.blocks:
                return None, None
            block = self.blocks[int(args[0]) % len(self.blocks)]
            if kind == "void":
                return Void(op_id=op, block_id=block, amount=args[1]), None
            new = self.new_id("b")
            self.blocks.append(new)
            expires_at = self.at + timedelta(minutes=int(args[1]))
            return ChangeExpiry(op_id=op, block_id=block, new_block_id=new, expires_at=expires_at, amount=args[2]), None
        if not self.ops:
            return None, None
        target, target_entries = self.ops[int(args[0]) % len(self.ops)]
        prior = tuple(e for e in self.entries if e.kind == "reverse" and e.ref == target)
        captured_nothing = not any(e.kind == "capture" for e in target_entries) and any(
            e.kind == "release" for e in target_entries
        )
        return Reverse(
            op_id=op,
            target=target,
            target_entries=target_entries,
            prior=prior,
            amount=args[1],
            captured_nothing=captured_nothing,
        ), None

    def check(self, transition: Transition[object], command: object, unit: str | None) -> None:
        before = self.state
        after, entries = transition
        assert (after, entries) == (transition.state, transition.entries)
        op = getattr(command, "op_id", None)
        own = tuple(e for e in entries if e.op_id == op)
        due_entries = tuple(e for e in entries if e.op_id != op)
        assert entries == due_entries + own, "the due events come first, then the operation's own entries"
        self.check_due(transition, due_entries)
        outcome = transition.outcome
        if isinstance(outcome, Granted):
            assert isinstance(command, Grant)
            assert (outcome.block_id, outcome.granted) == (command.block_id, total(own, "grant"))
            assert outcome.settled == total(own, "settle")
        elif isinstance(outcome, Burned):
            assert isinstance(command, Burn)
            assert outcome.burned == total(own, "burn"), "burned is the sum of the burn entries"
            assert outcome.burned + outcome.shortfall == command.amount
            assert outcome.debt == total(own, "debt"), "debt is the debt entry"
            assert outcome.debt in (0, outcome.shortfall) and (outcome.debt == 0 or command.overdraft == "debt")
            if outcome.burned or outcome.debt:
                self.ops.append((op, own))
        elif isinstance(outcome, Held):
            assert isinstance(command, PlaceHold)
            assert outcome.held == total(own, "hold") == command.amount
            assert outcome.allocations == tuple((e.block_id, e.amount) for e in own if e.kind == "hold")
            self.holds.append((outcome.hold_id, outcome.held))
        elif isinstance(outcome, Captured):
            assert isinstance(command, Capture)
            held = dict(self.holds)[command.hold_id]
            assert outcome.captured == total(own, "capture")
            assert outcome.captured + outcome.released == held, "captured + released is the hold"
            assert outcome.released == total(own, "release")
            self.ops.append((op, own))
        elif isinstance(outcome, Released):
            assert outcome.released == total(own, "release") == dict(self.holds)[outcome.hold_id]
        elif isinstance(outcome, Voided):
            assert outcome.voided == total(own, "void")
        elif isinstance(outcome, Moved):
            assert outcome.moved == total(own, "move_out") == total(own, "move_in")
            assert outcome.new_block_id in after.blocks
        elif isinstance(outcome, Reversed):
            assert outcome.reversed == total(own, "reverse"), "reversed is the sum of the reverse entries"
            assert outcome.debt_cancelled == sum(e.amount for e in own if e.kind == "reverse" and e.block_id is None)
        else:
            assert command is None and not own
        if unit is None and own:
            unit = own[0].unit
        if command is None:
            assert transition.change == {}
        else:
            assert unit is not None
            assert set(transition.change) == {unit}, "the change names the operation's unit"
            change = transition.change[unit]
            seen = rules.tally(rules.view(before, self.at), unit, self.at)
            now = rules.tally(after, unit, self.at)
            assert (change.available_before, change.debt_before) == (seen.available, seen.debt)
            assert (change.available_after, change.debt_after) == (now.available, now.debt)
            assert change.net_after - change.net_before == (now.available - now.debt) - (seen.available - seen.debt)
        self.state = after
        self.entries.extend(entries)

    def check_due(self, transition: Transition[object], due_entries: tuple[EntryState, ...]) -> None:
        """Each due step is one instant: its ops are its entries' ops, and its change ends
        where its entries' running balance ends."""
        assert sum(1 for _ in transition.due) == len({e.at for e in due_entries})
        written = list(due_entries)
        for step in transition.due:
            mine = [e for e in written if e.at == step.at]
            assert tuple(dict.fromkeys(e.op_id for e in mine)) == step.ops
            assert all(op.split(":")[0] in ("expire", "timeout", "settle") for op in step.ops)
            for unit, change in step.change.items():
                last = [e for e in mine if e.unit == unit][-1]
                assert change.available_after == last.available_after
            for entry in mine:
                written.remove(entry)
        assert not written


@given(st.lists(grants, min_size=1, max_size=4), st.lists(step_strategy, min_size=5, max_size=40))
def test_every_outcome_and_change_equal_what_the_entries_and_tally_say(
    first: list[tuple[object, ...]], steps: list[tuple[object, ...]]
) -> None:
    account = Account()
    for step in first + steps:
        account.run(step)


def test_a_burn_with_debt_says_burned_shortfall_and_debt() -> None:
    s, _ = rules.grant(AccountState(customer="ada"), Grant(op_id="g", block_id="b", unit="credits", amount=3), START)
    step = rules.burn(s, Burn(op_id="o", unit="credits", amount=5, overdraft="debt"), START)
    assert step.outcome == Burned("credits", 5, 3, 2, 2)
    change = step.change["credits"]
    assert (change.available_before, change.available_after, change.debt_before, change.debt_after) == (3, 0, 0, 2)
    assert (change.net_before, change.net_after, change.lowered) == (3, -2, True)
    assert rules.tally(step.state, "credits", START) == Tally(granted=3, used=3, debt=2)

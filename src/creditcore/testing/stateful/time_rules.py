"""The state machine's time: clock jumps and sweeps, jumps to the next thing that falls due
or to the expiry of a pinned block, and reads at other times, past or future."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from creditcore.testing.reference import parse_categories, parse_scope
from creditcore.testing.stateful.calls import (
    CUSTOMERS,
    JUMPS,
    TINY,
    UNITS,
    Names,
    burn_categories,
    burn_scopes,
    customers,
)
from creditcore.testing.stateful.side_by_side import SideBySide


class TimeRules(SideBySide):
    """``advance_clock``, ``jump_to_an_event``, ``jump_past_a_pinned_expiry`` and ``read_at_another_time``."""

    @rule(delta=st.sampled_from(JUMPS), sweep=st.booleans())
    def advance_clock(self, delta: timedelta, sweep: bool) -> None:
        """Time passes; then perhaps ``expire_due()`` sweeps every customer."""
        self.now += delta
        self.instants.append(self.now)
        if sweep:
            self.expire_due()

    def expire_due(self) -> None:
        """A sweep records what fell due for every customer, and nothing else."""
        note("expire_due()")
        swept = self.ledger.expire_due()
        self.model.expire_due()
        self.model.commit()
        for customer in CUSTOMERS:
            last = self.model.last_write_at(customer)
            if last is not None and last <= self.now:
                self.advanced[customer] = self.now
        new = self._new_entries()
        assert [e.seq for e in new] == [e.seq for e in swept], f"expire_due returned {swept}, stored {new}"
        self._check_history_order("expire_due()", new)
        self._check_due_entries("expire_due()", new, self.now)

    @precondition(lambda self: bool(self.model.upcoming_instants(self.now)))
    @rule(index=st.integers(min_value=0, max_value=100), nudge=st.sampled_from((timedelta(0), -TINY, TINY)))
    def jump_to_an_event(self, index: int, nudge: timedelta) -> None:
        """Move the clock to an expiry, hold timeout or effective time (or a microsecond either
        side of it)."""
        upcoming = self.model.upcoming_instants(self.now)
        self.now = max(self.now, upcoming[index % len(upcoming)] + nudge)
        self.instants.append(self.now)

    @precondition(lambda self: bool(self._pinned_expiries()))
    @rule(index=st.integers(min_value=0, max_value=100), nudge=st.sampled_from((timedelta(0), TINY)))
    def jump_past_a_pinned_expiry(self, index: int, nudge: timedelta) -> None:
        """Move the clock to the expiry of a block an active hold pins: its held credit must
        stay reserved: a capture after it still takes that credit, a release gives it back to
        the block, where it expires at once."""
        found = self._pinned_expiries()
        self.now = max(self.now, found[index % len(found)] + nudge)
        self.instants.append(self.now)

    def _pinned_expiries(self) -> list[datetime]:
        found = set()
        for hold in self.model.holds.values():
            if hold.status_at(self.now) == "active":
                for block_id, _ in hold.allocations:
                    expires = self.model.blocks[block_id].expires_at
                    outlives = hold.expires_at is None or (expires is not None and expires < hold.expires_at)
                    if expires is not None and expires > self.now and outlives:
                        found.add(expires)
        return sorted(found)

    @rule(
        customer=customers,
        unit=st.sampled_from(sorted(UNITS)),
        scope=burn_scopes,
        categories=burn_categories,
        past=st.booleans(),
        index=st.integers(min_value=0, max_value=10**6),
        amount=st.integers(min_value=1, max_value=80),
    )
    def read_at_another_time(self, customer: str, unit: str, scope: Names, categories: Names, past: bool,
                             index: int, amount: int) -> None:  # fmt: skip
        """Reads at a past instant (nothing later leaks in) or a future one (expiries and
        timeouts counted before they are recorded) agree with the model: balances (with a
        scope set too), blocks, holds, and a preview with a scope set and categories."""
        if past:
            at = self.instants[index % len(self.instants)]
        else:
            at = self.now + JUMPS[index % len(JUMPS)] * (1 + index % 5)
        note(f"read {customer} {unit} scope={scope} at={at.isoformat()}")
        self._check_balance(customer, unit, at)
        real = self.ledger.balance(customer, unit=unit, at=at, scope=scope)
        expected = self.model.balance(customer, unit=unit, at=at, scope=scope)
        assert (real.available, real.held) == (expected["available"], expected["held"]), (
            f"scoped balance {real}, model {expected}"
        )
        self._check_blocks(customer, unit, at)
        self._check_holds(customer, at)
        for expected_hold in self.model.hold_views(customer, at=at):
            found = self.ledger.get_hold(expected_hold.id, at=at)
            assert (found.status, found.captured, found.settled_at) == (
                expected_hold.status,
                expected_hold.captured,
                expected_hold.settled_at,
            ), f"get_hold({expected_hold.id!r}, at={at}) gave {found}, the model {expected_hold}"
        preview = self.ledger.preview_burn(customer, amount, unit=unit, scope=scope, categories=categories, at=at)
        plan, shortfall = self.model.plan(
            customer, unit, parse_scope(scope), Decimal(amount), at, parse_categories(categories)
        )
        assert (preview.allocations, preview.shortfall) == (tuple(plan), shortfall), (
            f"preview_burn at {at}: {preview}, model: {plan} short {shortfall}"
        )

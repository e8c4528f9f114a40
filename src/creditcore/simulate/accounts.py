"""The accounts of a run: each customer's state, kept small, and the population's running totals.

Like the memory adapter, a run keeps only the blocks that still hold credit and the active
holds, so an account stays small however long it runs, and it keeps no entry: the timeline is
a stream of sampled points, built from the changes each rule reports.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

import attrs

from creditcore import rules
from creditcore.simulate.figures import Counts, Figures, Outcome, Point, _figures
from creditcore.simulate.model import Scenario
from creditcore.state import AccountState


class _Accounts:
    """Every customer's account during a run, and the running totals the timeline reads.

    :meth:`commit` keeps the account a rule returned and adds its changes to the totals;
    :meth:`sample` reads them as a :class:`Point`; :meth:`outcome` tallies the end.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.unit = scenario.unit
        self.states = [AccountState(customer=c) for c in scenario.customers]
        self.group_of = scenario.customer_group
        self.shortfall = [0] * len(scenario.customers)
        self.series = {rule.name: i for i, rule in enumerate(scenario.grants)}
        self.remaining = [0] * len(scenario.grants)
        self.upcoming = [0] * len(scenario.grants)
        self.held = 0
        # running totals of the whole population, for the timeline
        self.granted = self.used = self.expired = self.voided = self.debt = self.short = 0
        self.expiries: list[tuple[datetime, int, int]] = []
        self.counts: dict[str, int] = dict.fromkeys(attrs.fields_dict(Counts), 0)

    def commit(self, index: int, before: AccountState, after: AccountState, entries: tuple[Any, ...], at: datetime,
               ended_hold: str | None = None) -> None:  # fmt: skip
        """Keep ``after`` as the customer's account and add its changes to the timeline."""
        if entries:
            touched: dict[str, None] = {}
            for entry in entries:
                if entry.block_id is not None:
                    touched[entry.block_id] = None
                if entry.kind == "settle":
                    self.counts["settlements"] += 1
            emptied = []
            old_blocks, new_blocks = before.blocks, after.blocks
            for block_id in touched:
                new = new_blocks[block_id]
                old = old_blocks.get(block_id)
                change = new.remaining - (old.remaining if old is not None else 0)
                series = self.series[new.description]  # type: ignore[index]
                if new.effective_at > at:
                    self.upcoming[series] += change
                else:
                    self.remaining[series] += change
                self.held += new.held - (old.held if old is not None else 0)
                if not new.remaining:
                    emptied.append(block_id)
            was, now = before.totals.get(self.unit), after.totals[self.unit]
            if was is None:
                self.granted += now.granted
                self.used += now.used
                self.expired += now.expired
                self.voided += now.voided
                self.debt += now.debt
            else:
                self.granted += now.granted - was.granted
                self.used += now.used - was.used
                self.expired += now.expired - was.expired
                self.voided += now.voided - was.voided
                self.debt += now.debt - was.debt
            if emptied or ended_hold is not None:
                # as the memory adapter does: keep only what a later rule can touch
                blocks = dict(new_blocks)
                for block_id in emptied:
                    del blocks[block_id]
                holds = after.holds
                if ended_hold is not None:
                    holds = dict(holds)
                    del holds[ended_hold]
                after = attrs.evolve(after, blocks=blocks, holds=holds)
        self.states[index] = after

    def refuse(self, index: int, amount: int) -> None:
        self.shortfall[index] += amount
        self.short += amount

    def sample(self, at: datetime) -> Point:
        """Record the expiries due by ``at`` (as ``expire_due`` would), then read the totals."""
        due: set[int] = set()
        while self.expiries and self.expiries[0][0] <= at:
            due.add(heapq.heappop(self.expiries)[2])
        for index in sorted(due):
            before = self.states[index]
            after, entries = rules.advance(before, at)
            self.commit(index, before, after, entries, at)
        remaining = sum(self.remaining)
        figures = Figures(
            granted=self.granted,
            used=self.used,
            expired=self.expired,
            voided=self.voided,
            available=remaining - self.held,
            held=self.held,
            upcoming=sum(self.upcoming),
            shortfall=self.short,
            debt=self.debt,
        )
        return Point(at=at, figures=figures, remaining=tuple(self.remaining))

    def outcome(self) -> Outcome:
        s = self.s
        per_customer: dict[str, Figures] = {}
        groups = [Figures() for _ in s.groups]
        for index, state in enumerate(self.states):
            figures = _figures(rules.tally(rules.view(state, s.end), s.unit, s.end), self.shortfall[index])
            per_customer[s.customers[index]] = figures
            groups[self.group_of[index]] += figures
        totals = sum(groups, Figures())
        return Outcome(
            scenario=s,
            totals=totals,
            groups=dict(zip(s.groups, groups, strict=True)),
            counts=Counts(**self.counts),
            customers=per_customer,
        )

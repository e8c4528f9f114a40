"""The simulation: a scenario's events, in time order, applied to the pure core.

Each customer's account is an :class:`~creditcore.state.AccountState` in a dict; every event
calls a rule (``rules.grant``, ``rules.burn``, ``rules.hold``, ``rules.capture``,
``rules.release``, ``rules.void``) directly, with no repository in between. Like the memory
adapter, the engine keeps only the blocks that still hold credit and the active holds, so an
account stays small however long it runs, and it keeps no entry: the timeline is a stream
of sampled points, built from the changes each rule reports.

The scenario's end is exclusive: nothing dated at or after it is applied. A job that is still
running at the end keeps its hold, a void or a block's activation that would fall later is not
made (an activation at the end itself counts, as a read at the end would count it), and the
totals are the state at the end, the same as the timeline's last point.

Order is fixed: events are taken by time, then by kind (a block becoming active, grants,
voids, job ends, then usage and job starts, then the timeline sample), then by the rule they
come from, then by the order they were made. Every rule draws from its own
``random.Random`` seeded from the scenario's seed and the rule's place, so a seed gives the
same run every time.

With a ``ledger`` (``creditcore simulate --db``) every operation the core applied is also
written through that :class:`~creditcore.ledger.Ledger`, at the same instant, so the file
holds the whole history; its balances equal the summary.

The parts live beside it: :mod:`~creditcore.simulate.accounts` (the accounts and running
totals), :mod:`~creditcore.simulate.figures` (what a run reports) and
:mod:`~creditcore.simulate.mirror` (the ``--db`` ledger); their public names are importable
from here too.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from decimal import localcontext
from typing import Any

from creditcore import rules
from creditcore.errors import Conflict, InsufficientCredits, NotFound, ValidationError
from creditcore.ledger import Ledger
from creditcore.simulate.accounts import _Accounts
from creditcore.simulate.figures import FIGURES, Counts, Figures, Outcome, Point
from creditcore.simulate.mirror import _Mirror, open_ledger
from creditcore.simulate.scenario import (
    Duration,
    GrantRule,
    JobRule,
    Scenario,
    ScenarioError,
    UsageRule,
    Window,
    rule_where,
)
from creditcore.state import Burn, Capture, Grant, PlaceHold, Release, Void
from creditcore.values import DECIMAL_CONTEXT

__all__ = ["FIGURES", "Counts", "Figures", "Outcome", "Point", "open_ledger", "run"]

# event kinds, in the order they run at the same instant
_ACTIVATE, _GRANT, _VOID, _JOB_END, _USE, _SAMPLE = 0, 1, 2, 3, 4, 9
_JOB_START = _USE  # job starts and usage share a rank: their rule's place orders them


def _rng(scenario: Scenario, kind: str, index: int, purpose: str) -> random.Random:
    return random.Random(f"{scenario.seed}/{kind}/{index}/{purpose}")


def _after(duration: Duration, moment: datetime, times: int = 1) -> datetime | None:
    """``duration.after(moment, times)``, or ``None`` past the last date a ``datetime`` holds
    (which is after any scenario's end)."""
    try:
        return duration.after(moment, times)
    except (OverflowError, ValueError):
        return None


def _ticks(first: datetime, every: Duration | None, ends: datetime) -> Iterator[datetime]:
    """``first``, ``first + every``, ... before ``ends`` (one tick if ``every`` is None)."""
    if every is None:
        if first < ends:
            yield first
        return
    k = 0
    while (moment := _after(every, first, k)) is not None and moment < ends:
        yield moment
        k += 1


Event = tuple[datetime, int, tuple[Any, ...]]
"""(when, kind, payload) as a source makes it."""


def _every_customer(window: Window, kind: int, rule: int, every: Any) -> Iterator[Event]:
    for moment in _ticks(window.begins, every, window.ends):
        for customer in window.customers:
            yield moment, kind, (kind, customer, rule)


def _poisson(window: Window, per_day: float, rng: random.Random, kind: int, rule: int) -> Iterator[Event]:
    """Arrivals of a Poisson process per customer, drawn as one process for the whole
    window (rate = customers x per_day) whose arrivals pick a customer at random."""
    count = len(window.customers)
    if not count or per_day <= 0:
        return
    mean_gap = 86400.0 / (count * per_day)
    offset = 0.0
    span = (window.ends - window.begins).total_seconds()
    while True:
        offset += rng.expovariate(1.0) * mean_gap
        if offset >= span:
            return
        moment = window.begins + timedelta(seconds=offset)
        yield moment, kind, (kind, window.customers[rng.randrange(count)], rule)


class _Run(_Accounts):
    """One run of a scenario: its events in time order, each applied through a rule."""

    def __init__(self, scenario: Scenario, ledger: Ledger | None) -> None:
        super().__init__(scenario)
        self.factor = scenario.factor
        self.heap: list[tuple[datetime, int, int, int, tuple[Any, ...]]] = []
        self.sources: list[Iterator[Event]] = []
        self.counter = 0
        self.ids = 0
        self.mirror = _Mirror(ledger, scenario) if ledger is not None else None
        self.grant_rng = [_rng(scenario, "grants", i, "voids") for i in range(len(scenario.grants))]
        self.usage_rng = [_rng(scenario, "usage", i, "amounts") for i in range(len(scenario.usage))]
        self.job_rng = [_rng(scenario, "jobs", i, "amounts") for i in range(len(scenario.jobs))]
        self.end_rng = [_rng(scenario, "jobs", i, "ends") for i in range(len(scenario.jobs))]
        # where each source's events come from, for an error that names the rule
        self.origins: list[tuple[str, int] | None] = []

    # -- the event queue -------------------------------------------------------------------

    def add_source(self, events: Iterator[Event], origin: tuple[str, int] | None) -> None:
        self.sources.append(events)
        self.origins.append(origin)
        self.pull(len(self.sources) - 1)

    def pull(self, source: int) -> None:
        found = next(self.sources[source], None)
        if found is not None:
            self.counter += 1
            heapq.heappush(self.heap, (found[0], found[1], source, self.counter, found[2]))

    def later(self, moment: datetime | None, kind: int, payload: tuple[Any, ...]) -> None:
        """An event made by another one (a job's end, a void, a block becoming active).

        The end is exclusive: an operation at or after it is not made (a job still running
        keeps its hold). A block becoming active at the end itself is counted, as a read of
        the state at the end counts it."""
        end = self.s.end
        if moment is None or moment > end or (moment == end and kind != _ACTIVATE):
            return
        self.counter += 1
        heapq.heappush(self.heap, (moment, kind, -1, self.counter, payload))

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    # -- events ------------------------------------------------------------------------------

    def grant(self, index: int, rule_index: int, at: datetime) -> None:
        rule: GrantRule = self.s.grants[rule_index]
        effective = rule.effective_after.after(at) if rule.effective_after is not None else None
        expires = rule.expires_after.after(effective or at) if rule.expires_after is not None else None
        block_id = self.next_id("b")
        command = Grant(
            op_id=self.next_id("o"), block_id=block_id, unit=self.unit, amount=rule.amount, effective_at=effective,
            expires_at=expires, priority=rule.priority, category=rule.category, cost_basis=rule.cost_basis,
            scope=rule.scope, description=rule.name,
        )  # fmt: skip
        before = self.states[index]
        after, entries = rules.grant(before, command, at)
        self.commit(index, before, after, entries, at)
        self.counts["grants"] += 1
        voided = rule.void_share > 0 and self.grant_rng[rule_index].random() < rule.void_share
        if self.mirror is not None:
            self.mirror.grant(self.s.customers[index], command, at, keep_id=voided)
        if expires is not None:
            heapq.heappush(self.expiries, (expires, self.counter, index))
            self.counter += 1
        if effective is not None:
            self.later(effective, _ACTIVATE, (_ACTIVATE, index, block_id))
        if voided:
            self.later(_after(rule.void_after, at), _VOID, (_VOID, index, block_id, rule.name))

    def activate(self, index: int, block_id: str, at: datetime) -> None:
        before = self.states[index]
        block = before.blocks.get(block_id)
        if block is None:
            return  # voided before it became active
        series = self.series[block.description]  # type: ignore[index]
        self.upcoming[series] -= block.remaining
        self.remaining[series] += block.remaining
        if block.settle_pending:
            after, entries = rules.advance(before, at)
            self.commit(index, before, after, entries, at)

    def void(self, index: int, block_id: str, reason: str, at: datetime) -> None:
        before = self.states[index]
        command = Void(op_id=self.next_id("o"), block_id=block_id, reason=f"refund: {reason}")
        try:
            after, entries = rules.void(before, command, at, self.s.scale)
        except (NotFound, Conflict):
            if self.mirror is not None:
                self.mirror.forget(block_id)
            return  # nothing unheld was left to void
        self.commit(index, before, after, entries, at)
        self.counts["voids"] += 1
        if self.mirror is not None:
            self.mirror.void(command, at)

    def use(self, index: int, amount: int, scope: str | None, at: datetime) -> None:
        command = Burn(
            op_id=self.next_id("o"), unit=self.unit, amount=amount, scope=scope, overdraft=self.s.overdraft,
            debt_limit=self.s.debt_limit,
        )  # fmt: skip
        before = self.states[index]
        try:
            done = rules.burn(before, command, at, rules.DEFAULT_ORDER, self.s.scale)
        except InsufficientCredits:
            self.refuse(index, amount)
            self.counts["burns_refused"] += 1
            return
        after, entries = done
        shortfall = done.outcome.shortfall  # what the rule decided no credit covered
        if shortfall:
            self.refuse(index, shortfall)
        self.commit(index, before, after, entries, at)
        self.counts["burns"] += 1
        if self.mirror is not None:
            self.mirror.burn(self.s.customers[index], command, at)

    def start_job(self, index: int, rule_index: int, at: datetime) -> None:
        rule: JobRule = self.s.jobs[rule_index]
        amount = rule.amount.draw_minor(self.job_rng[rule_index], self.factor)
        hold_id = self.next_id("job")
        command = PlaceHold(op_id=self.next_id("o"), hold_id=hold_id, unit=self.unit, amount=amount, scope=rule.scope)
        before = self.states[index]
        try:
            after, entries = rules.hold(before, command, at, rules.DEFAULT_ORDER, self.s.scale)
        except InsufficientCredits:
            self.refuse(index, amount)
            self.counts["holds_refused"] += 1
            return
        self.commit(index, before, after, entries, at)
        self.counts["holds"] += 1
        if self.mirror is not None:
            self.mirror.hold(self.s.customers[index], command, at)
        self.later(_after(rule.duration, at), _JOB_END, (_JOB_END, index, rule_index, hold_id, amount))

    def end_job(self, index: int, rule_index: int, hold_id: str, amount: int, at: datetime) -> None:
        rule: JobRule = self.s.jobs[rule_index]
        rng = self.end_rng[rule_index]
        before = self.states[index]
        if rule.release_share and rng.random() < rule.release_share:
            release = Release(op_id=self.next_id("o"), hold_id=hold_id)
            after, entries = rules.release(before, release, at)
            self.counts["releases"] += 1
            if self.mirror is not None:
                self.mirror.release(release, at)
        else:
            used = min(amount, max(0, round(amount * rule.capture_ratio.draw(rng))))
            capture = Capture(op_id=self.next_id("o"), hold_id=hold_id, amount=used)
            after, entries = rules.capture(before, capture, at, rules.DEFAULT_ORDER, self.s.scale)
            self.counts["captures"] += 1
            if self.mirror is not None:
                self.mirror.capture(capture, at)
        self.commit(index, before, after, entries, at, ended_hold=hold_id)

    # -- the run ---------------------------------------------------------------------------

    def samples(self) -> Iterator[Event]:
        s = self.s
        for moment in _ticks(s.start, s.sample_every, s.end):
            yield moment, _SAMPLE, (_SAMPLE,)
        yield s.end, _SAMPLE, (_SAMPLE,)

    def run(self, on_point: Callable[[Point], None], on_progress: Callable[[datetime], None] | None) -> Outcome:
        s = self.s
        for i, rule in enumerate(s.grants):
            self.add_source(_every_customer(rule.window, _GRANT, i, rule.every), ("grants", i))
        for i, usage in enumerate(s.usage):
            self.add_source(self.usage_events(i, usage), ("usage", i))
        for i, job in enumerate(s.jobs):
            arrivals = _poisson(job.window, job.per_day, _rng(s, "jobs", i, "arrivals"), _JOB_START, i)
            self.add_source(arrivals, ("jobs", i))
        self.add_source(self.samples(), None)
        heap = self.heap
        pop = heapq.heappop
        steps = 0
        with self.mirror if self.mirror is not None else ExitStack():
            while heap:
                at, kind, source, _, payload = pop(heap)
                if source >= 0:
                    self.pull(source)
                try:
                    if kind == _USE:
                        if len(payload) == 3:  # a job start
                            self.start_job(payload[1], payload[2], at)
                        else:
                            self.use(payload[1], payload[2], payload[3], at)
                    elif kind == _GRANT:
                        self.grant(payload[1], payload[2], at)
                    elif kind == _JOB_END:
                        self.end_job(payload[1], payload[2], payload[3], payload[4], at)
                    elif kind == _SAMPLE:
                        on_point(self.sample(at))
                    elif kind == _VOID:
                        self.void(payload[1], payload[2], payload[3], at)
                    else:
                        self.activate(payload[1], payload[2], at)
                except ValidationError as problem:
                    raise self.stopped(problem, at, kind, source, payload) from None
                steps += 1
                if on_progress is not None and not steps & 4095:
                    on_progress(at)
        if self.mirror is not None:
            self.mirror.finish(s.end)
        return self.outcome()

    def stopped(self, problem: ValidationError, at: datetime, kind: int, source: int,
                payload: tuple[Any, ...]) -> ScenarioError:  # fmt: skip
        """A rule refused an operation the scenario asks for as invalid (a total past the
        64-bit range, say): the run cannot go on; name the rule that made it."""
        if source >= 0:
            origin = self.origins[source]
        elif kind == _JOB_END:
            origin = ("jobs", payload[2])
        else:  # a void or an activation: the grant rule that made the block
            block = self.states[payload[1]].blocks.get(payload[2])
            name = block.description if block is not None else payload[-1]
            origin = ("grants", self.series[name]) if name in self.series else None
        line, where = rule_where(self.s, origin)
        customer = self.s.customers[payload[1]] if len(payload) > 1 else ""
        return ScenarioError(
            self.s.source, line, where,
            f"the run stopped at {at.isoformat()} (customer {customer!r}): {problem.message}",
        )  # fmt: skip

    def usage_events(self, index: int, rule: UsageRule) -> Iterator[Event]:
        """Burns of one usage rule: ``(_USE, customer, amount, scope)``; amounts are drawn
        when the event is made, from the rule's own generator."""
        rng = self.usage_rng[index]
        factor = self.factor
        if rule.pattern == "replay":
            for event in rule.events:
                yield event.at, _USE, (_USE, event.customer, event.amount, event.scope or rule.scope)
            return
        assert rule.amount is not None
        arrivals = (
            _every_customer(rule.window, _USE, index, rule.every)
            if rule.pattern == "fixed"
            else _poisson(rule.window, rule.per_day, _rng(self.s, "usage", index, "arrivals"), _USE, index)
        )
        draw = rule.amount.draw_minor
        for moment, kind, payload in arrivals:
            yield moment, kind, (_USE, payload[1], draw(rng, factor), rule.scope)


def run(
    scenario: Scenario,
    *,
    ledger: Ledger | None = None,
    on_point: Callable[[Point], None] | None = None,
    on_progress: Callable[[datetime], None] | None = None,
) -> Outcome:
    """Simulate ``scenario``; ``on_point`` receives each sampled point of the timeline as it
    is made (nothing else keeps them), ``on_progress`` the simulated time every few thousand
    events. With ``ledger`` (see :func:`open_ledger`), every operation is also written
    through it."""
    with localcontext(DECIMAL_CONTEXT):
        return _Run(scenario, ledger).run(on_point or (lambda point: None), on_progress)

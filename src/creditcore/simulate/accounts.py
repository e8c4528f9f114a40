"""One customer at a time: each customer's events in time order, applied through the rules.

A part of a run is a scenario's customers (all of them, or a slice that
:mod:`~creditcore.simulate.parts` cut out). :func:`run_part` runs them one after the other; each
customer's account is an :class:`~creditcore.state.AccountState`, and every event calls a rule
(``rules.grant``, ``rules.burn``, ``rules.hold``, ``rules.capture``, ``rules.release``,
``rules.void``, ``rules.schedule_grant``, ``rules.set_top_up``, ``rules.remove_top_up``)
directly, with no repository in between. A schedule's periods (carry, then grant) and the
top-ups are the core's own due events and reactions: the rules record them before each write and
at each sampled instant, and the run counts what they did from the entries they wrote. Customers
never touch each other's accounts, and every random draw comes from the customer's own streams
(:mod:`~creditcore.simulate.streams`), so a customer's run is the same whichever part it is in.

Like the memory adapter, an account keeps only the blocks that still hold credit and the
active holds, and no entry: the timeline is kept as what each sampled interval changed
(:mod:`~creditcore.simulate.timeline`), read from the account at each instant it changed in.
The entries each rule returns are read once as they come: what they moved on each block adds
to the figures of the block's rule (breakage by grant, :mod:`~creditcore.simulate.breakage`).

Within a customer, events are taken by time, then by kind (a period invoice, a block becoming
active, grants, voids, job ends, then usage and job starts), then by the rule they come from,
then by the order they were made; at each sampled instant, after every event at that instant,
the expiries due by then are recorded (as ``expire_due`` would) and the account is read.

Metered usage (a ``[[usage]]`` with ``meter``) burns nothing when it happens: its quantities
add up on the customer's meters, and at each billing period's end, before anything else at
that instant, the period invoice prices them and burns credit line by line
(:mod:`~creditcore.simulate.invoicing`), as ``billing.invoices.issue`` does.
"""

from __future__ import annotations

import heapq
import itertools
import random
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime
from operator import add, sub
from typing import Any

import attrs

from creditcore import rules
from creditcore.billing.values import meter_scope
from creditcore.errors import Conflict, CreditError, InsufficientCredits, NotFound, ValidationError
from creditcore.ledger import Ledger
from creditcore.periods import parse_every
from creditcore.simulate.breakage import FLOW_OF
from creditcore.simulate.figures import FLOWS, GRANT_FIGURES, Counts
from creditcore.simulate.invoicing import line_amount
from creditcore.simulate.mirror import InvoiceLine, _Mirror
from creditcore.simulate.model import GrantRule, JobRule, ReplayEvent, Scenario, ScheduleRule, TopUpRule, UsageRule
from creditcore.simulate.scenario import ScenarioError, metered_customers, rule_where
from creditcore.simulate.streams import after, arrivals, stream, ticks
from creditcore.simulate.timeline import Changes, by_rule, compared_groups, row, sample_times, width
from creditcore.state import (
    AccountState,
    Burn,
    Capture,
    EntryState,
    Grant,
    PlaceHold,
    Release,
    ScheduleGrant,
    SetTopUp,
    Void,
)
from creditcore.values import MAX_MINOR

# event kinds, in the order they run at the same instant (job starts share usage's rank: the
# place of their rule orders them); a period invoice comes before them all (its rank: -1)
_ACTIVATE, _GRANT, _VOID, _JOB_END, _USE = 0, 1, 2, 3, 4
_INVOICE_RANK = -1
# what a source's events are
_GRANTS, _USAGE, _REPLAY, _JOBS, _SCHEDULES, _TOP_UPS = 0, 1, 2, 3, 4, 5
# the table each kind of source comes from (the name a stopped run gives)
_TABLE_OF = {_GRANTS: "grants", _USAGE: "usage", _REPLAY: "usage", _JOBS: "jobs", _SCHEDULES: "schedules",
             _TOP_UPS: "top_ups"}  # fmt: skip
# sources whose events run with grants at an instant (before usage): they make credit
_SETTINGS = (_GRANTS, _SCHEDULES, _TOP_UPS)
# burn commands kept per rule and amount (a command is immutable, and building one costs more
# than the rest of an event's bookkeeping); a rule with more distinct amounts starts afresh
_KEPT_BURNS = 4096

Heaped = tuple[datetime, int, int, int, Any]
"""(when, rank, number, source, payload): rank orders kinds, then sources; number, the order
events were made in (so the payload is never compared). Events a rule's source makes have
``source`` >= 0; events other events make (a job's end, a void, an activation) have -1."""


@attrs.frozen(kw_only=True)
class PartResult:
    """What a part found: each of its customers' figures, the timeline's changes, the counts,
    and where it stopped if a rule refused an operation the scenario asks for."""

    figures: list[tuple[int, ...]]
    """Per customer (in order, up to the one it stopped at): its figures in
    :data:`~creditcore.simulate.figures.ALL_FIGURES` order."""
    changes: Changes
    counts: tuple[int, ...]
    """In :class:`~creditcore.simulate.figures.Counts` field order."""
    stopped: tuple[int, ScenarioError] | None = None
    """The first of its customers (its place in the part) whose run a rule stopped, and why."""
    invoiced: tuple[tuple[int, int, int], ...] = ()
    """With meters: per customer (as ``figures``), what its invoices came to (revenue, credit
    applied, amount due)."""
    by_period: tuple[int, ...] = ()
    """With meters: per billing period, per group, revenue, credit applied and amount due
    (``(period * groups + group) * 3 + figure``)."""
    by_grant: tuple[int, ...] = ()
    """Per group, per rule that makes blocks, its figures at the end in
    :data:`~creditcore.simulate.figures.GRANT_FIGURES` order (flat): read from its blocks'
    entries and what its blocks hold."""


_COUNTS = tuple(attrs.fields_dict(Counts))


Progress = Callable[[int, int, bool], None]
"""Receives (customer index, events run for it so far, whether its run is over), every few
thousand events and at the end of each customer."""

#: How many events a customer runs between two reports of its progress.
PROGRESS_EVERY = 4096


def run_part(scenario: Scenario, *, ledger: Ledger | None = None, on_progress: Progress | None = None) -> PartResult:
    """Run every customer of ``scenario``, one after the other. A rule that refuses an
    operation the scenario asks for as invalid stops the part at that customer."""
    return _Part(scenario, ledger, on_progress).run()


class _Part:
    """The customers of one part, run one after the other; ``self.state`` and the fields next
    to it belong to the customer being run."""

    def __init__(self, scenario: Scenario, ledger: Ledger | None, on_progress: Progress | None) -> None:
        s = self.s = scenario
        self.on_progress = on_progress
        self.unit = s.unit
        self.scale = s.scale
        self.factor = s.factor
        self.end = s.end
        self.overdraft = s.overdraft
        self.debt_limit = s.debt_limit
        self.mirror = _Mirror(ledger, s) if ledger is not None else None
        # the place of each rule that makes blocks, by the description its blocks carry (a
        # top-up's blocks carry none: see customer())
        self.all_series: dict[str | None, int] = {rule.name: i for i, rule in enumerate(s.sources)}
        self.series = self.all_series
        self.rules = len(s.sources)
        self.groups = compared_groups(s)
        self.width_of_row = width(s)
        # per group, per rule: its figures at the end, as its customers' last rows say
        self.by_grant = [0] * (len(s.groups) * self.rules * len(GRANT_FIGURES))
        # the top-up rule of each customer that has one (a customer has one at most)
        self.top_up_of = {c: i for i, rule in enumerate(s.top_ups) for c in rule.window.customers}
        self.times = sample_times(s)
        self.changes: Changes = [None] * len(self.times)
        self.counts = dict.fromkeys(_COUNTS, 0)
        # every rule in file order (grants, schedules, top-ups, usage, jobs) is a source of
        # events; its place orders its events after those of the rules before it
        self.sources: list[tuple[int, int, GrantRule | ScheduleRule | TopUpRule | UsageRule | JobRule]] = [
            *((_GRANTS, i, rule) for i, rule in enumerate(s.grants)),
            *((_SCHEDULES, i, rule) for i, rule in enumerate(s.schedules)),
            *((_TOP_UPS, i, rule) for i, rule in enumerate(s.top_ups)),
            *((_REPLAY if rule.pattern == "replay" else _USAGE, i, rule) for i, rule in enumerate(s.usage)),
            *((_JOBS, i, rule) for i, rule in enumerate(s.jobs)),
        ]
        self.width = len(self.sources) + 1
        self.ranks = [(_GRANT if what in _SETTINGS else _USE) * self.width + place + 1
                      for place, (what, _, _) in enumerate(self.sources)]  # fmt: skip
        handler_of = {_GRANTS: self.grant, _USAGE: self.use, _REPLAY: self.use, _JOBS: self.start_job,
                      _SCHEDULES: self.schedule, _TOP_UPS: self.top_up}  # fmt: skip
        self.handlers = [
            self.meter_use if isinstance(rule, UsageRule) and rule.meter is not None else handler_of[what]
            for what, _, rule in self.sources
        ]
        # the replayed events of each customer, per usage rule
        self.replays: dict[int, dict[int, list[ReplayEvent]]] = {}
        for i, rule in enumerate(s.usage):
            if rule.pattern == "replay":
                by_customer: dict[int, list[ReplayEvent]] = {}
                for event in rule.events:
                    by_customer.setdefault(event.customer, []).append(event)
                self.replays[i] = by_customer
        # the customers of each source, ascending (parse makes windows so)
        self.members = [
            tuple(sorted(self.replays[i])) if what == _REPLAY else rule.window.customers
            for what, i, rule in self.sources
        ]
        self.burns: list[dict[tuple[int, str | None], Burn]] = [{} for _ in s.usage]
        self.usage_scopes = [rule.scope for rule in s.usage]
        self.usage_amounts = [
            rule.amount.minor_drawer(s.factor if rule.meter is None else 10 ** s.meters[rule.meter].scale)
            if rule.amount else None
            for rule in s.usage
        ]  # fmt: skip
        self.job_amounts = [rule.amount.minor_drawer(s.factor) for rule in s.jobs]
        self.billed = s.billed
        if self.billed:
            self.bill_setup()

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> PartResult:
        s = self.s
        figures: list[tuple[int, ...]] = []
        stopped = None
        members = self.members
        cursors = [0] * len(members)  # per source, its next customer not yet run
        with self.mirror if self.mirror is not None else nullcontext():
            for index, customer in enumerate(s.customers):
                covered = []
                for place, found in enumerate(members):
                    at = cursors[place]
                    if at < len(found) and found[at] == index:
                        covered.append(place)
                        cursors[place] = at + 1
                try:
                    figures.append(self.customer(index, customer, covered))
                except _Stopped as problem:
                    stopped = (index, problem.error)
                    break
                if self.on_progress is not None:
                    self.on_progress(index, 0, True)
            if self.mirror is not None and stopped is None:
                self.mirror.finish(s.end)
        counts = tuple(self.counts[name] for name in _COUNTS)
        by_grant = tuple(self.by_grant)
        if not self.billed:
            return PartResult(figures=figures, changes=self.changes, counts=counts, stopped=stopped, by_grant=by_grant)
        return PartResult(
            figures=figures, changes=self.changes, counts=counts, stopped=stopped,
            invoiced=tuple(self.customer_invoiced), by_period=tuple(self.by_period), by_grant=by_grant,
        )  # fmt: skip

    def customer(self, index: int, customer: str, covered: list[int]) -> tuple[int, ...]:
        """Run one customer's events; its figures at the end."""
        s = self.s
        self.customer_id = customer
        self.index = index
        self.state = AccountState(customer=customer)
        self.shortfall = 0
        self.scheduled = self.carried = self.topped_up = 0
        self.group = s.customer_group[index]
        # schedules and top-ups make due events and grants of their own: this customer's
        # entries are then read for them, and its next due event is queued after each step
        self.recurring = any(self.sources[place][0] in (_SCHEDULES, _TOP_UPS) for place in covered)
        self.queued: dict[str, datetime] = {}
        """Each schedule's next period start, once queued."""
        top_up = self.top_up_of.get(index)
        self.series = self.all_series if top_up is None else {
            **self.all_series, None: len(s.grants) + len(s.schedules) + top_up
        }  # fmt: skip
        self.ids = 0
        self.invoiced = [0, 0, 0] if self.billed else []
        self.flows = [0] * (len(FLOWS) * self.rules)
        """Per rule that makes blocks, what its blocks' entries granted, used, expired and voided."""
        self.rngs: dict[tuple[str, int, str], random.Random] = {}
        self.amount_streams: list[random.Random | None] = [None] * len(s.usage)
        self.numbers = numbers = itertools.count()
        self.expiries: list[datetime] = []
        heap: list[Heaped] = []
        self.heap = heap
        iterators: list[Iterator[Any]] = []
        ranks, push, pop = self.ranks, heapq.heappush, heapq.heappop
        for place in covered:
            iterator = self.events_of(place, index, customer)
            iterators.append(iterator)
            found = next(iterator, None)
            if found is not None:
                at = found if type(found) is datetime else found.at
                push(heap, (at, ranks[place], next(numbers), len(iterators) - 1, found))
        steps = [(self.handlers[place], self.sources[place][1]) for place in covered]
        if self.billed and index in self.metered:
            self.quantities: list[int] = [0] * len(s.meters)
            push(heap, (self.period_ends[0], _INVOICE_RANK, next(numbers), -1, 0))
        # the sampled instant whose interval events now fall in, and whether the account
        # changed since it was last read
        self.bucket = 0
        self.limit = limit = self.times[0]
        self.dirty = False
        self.last = [0] * self.width_of_row
        # events left until the next report of progress (never, without a receiver)
        countdown = PROGRESS_EVERY if self.on_progress is not None else -1
        ran = 0
        while heap:
            countdown -= 1
            if not countdown:
                assert self.on_progress is not None
                ran += PROGRESS_EVERY
                self.on_progress(index, ran, False)
                countdown = PROGRESS_EVERY
            at, rank, _, source, payload = pop(heap)
            if at > limit:
                self.read_until(at)
                limit = self.limit
            try:
                if source >= 0:
                    found = next(iterators[source], None)  # the source's next event, queued
                    if found is not None:
                        when = found if type(found) is datetime else found.at
                        push(heap, (when, rank, next(numbers), source, found))
                    handler, rule_index = steps[source]
                    handler(rule_index, payload, at)
                elif rank == _INVOICE_RANK:
                    self.invoice(payload, at)
                else:
                    kind = rank // self.width
                    if kind == _JOB_END:
                        self.end_job(payload[0], payload[1], payload[2], at)
                    elif kind == _VOID:
                        self.void(payload[0], payload[1], at)
                    else:
                        self.activate(payload[1], at)
            except CreditError as problem:
                origin = self.sources[covered[source]] if source >= 0 else None
                raise _Stopped(self.stopped(problem, at, rank // self.width, origin, payload)) from None
            self.dirty = True
        try:
            self.read_until(None)
        except CreditError as problem:
            raise _Stopped(self.stopped(problem, self.limit, -1, None, None)) from None
        end = s.end
        tally = rules.tally(rules.view(self.state, end), self.unit, end)
        # the last row read is the account at the end (every expiry due by then recorded)
        size = self.rules * len(GRANT_FIGURES)
        start = self.group * size
        self.by_grant[start : start + size] = map(
            add, self.by_grant[start : start + size], by_rule(self.last, self.rules)
        )
        if self.billed:
            revenue, applied, due = self.invoiced
            self.customer_invoiced.append((revenue, applied, due))
        return (
            tally.granted, tally.used, tally.expired, tally.voided, tally.available, tally.held, tally.upcoming,
            self.shortfall, tally.debt, self.scheduled, self.carried, self.topped_up,
        )  # fmt: skip

    # -- the event queue -------------------------------------------------------------------

    def events_of(self, place: int, index: int, customer: str) -> Iterator[Any]:
        """The events of source ``place`` for this customer: times, or replayed events."""
        what, i, rule = self.sources[place]
        window = rule.window
        if what == _GRANTS:
            assert isinstance(rule, GrantRule)
            return ticks(window.begins, rule.every, window.ends)
        if what == _SCHEDULES:
            return iter((window.begins,))  # set once: its periods are the core's due events
        if what == _TOP_UPS:  # set, then removed at ``until`` if the run gets there
            return iter((window.begins,) if window.ends >= self.end else (window.begins, window.ends))
        if what == _REPLAY:
            return iter(self.replays[i][index])
        if what == _JOBS:
            assert isinstance(rule, JobRule)
            rng = stream(self.s, "jobs", i, "arrivals", customer)
            return arrivals(rng, window.begins, window.ends, rule.per_day)
        assert isinstance(rule, UsageRule)
        if rule.pattern == "fixed":
            return ticks(window.begins, rule.every, window.ends)
        return arrivals(stream(self.s, "usage", i, "arrivals", customer), window.begins, window.ends, rule.per_day)

    def later(self, moment: datetime | None, kind: int, payload: tuple[Any, ...]) -> None:
        """An event made by another one (a job's end, a void, a block becoming active).

        The end is exclusive: an operation at or after it is not made (a job still running
        keeps its hold). A block becoming active at the end itself is counted, as a read of
        the state at the end counts it."""
        end = self.end
        if moment is None or moment > end or (moment == end and kind != _ACTIVATE):
            return
        heapq.heappush(self.heap, (moment, kind * self.width, next(self.numbers), -1, payload))

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def draws(self, kind: str, index: int, purpose: str) -> random.Random:
        """This customer's stream for ``purpose`` of rule ``kind`` #``index``, made when first
        needed."""
        key = (kind, index, purpose)
        found = self.rngs.get(key)
        if found is None:
            found = self.rngs[key] = stream(self.s, kind, index, purpose, self.customer_id)
        return found

    # -- the timeline ------------------------------------------------------------------------

    def read_until(self, moment: datetime | None) -> None:
        """Close the sampled instants before ``moment`` (``None``: every one left) at which
        this customer has something to record: the instant its last events fell in, and each
        instant an expiry falls due by. At each, the expiries due are recorded, as
        ``expire_due`` would, and the account is read if it changed."""
        times, expiries = self.times, self.expiries
        last = len(times) - 1
        k = self.bucket
        while True:
            at = times[k]
            if expiries and expiries[0] <= at:
                while expiries and expiries[0] <= at:
                    heapq.heappop(expiries)
                self.commit(rules.advance(self.state, at))
                self.dirty = True
            if self.dirty:
                self.read(k, at)
            if k == last:
                return  # the end: an expiry after it is never recorded
            if moment is not None and moment <= times[k + 1]:
                following = k + 1  # the usual case: the next instant (its expiries come after its events)
            else:
                following = last + 1 if moment is None else bisect_left(times, moment, k + 1)
                if expiries and (following > last or expiries[0] <= times[following - 1]):
                    following = bisect_left(times, expiries[0], k + 1)  # an expiry falls due first
                if following > last:
                    return
            self.bucket, self.limit = following, times[following]
            if moment is not None and moment <= times[following]:
                return
            k = following

    def read(self, k: int, at: datetime) -> None:
        """Add what the account changed since it was last read to instant ``k``."""
        counted = (self.shortfall, self.scheduled, self.carried, self.topped_up)
        now = row(self.state, counted, at, self.unit, self.series, self.rules, self.group, self.groups, self.flows,
                  self.invoiced)  # fmt: skip
        last, kept = self.last, self.changes[k]
        # map() over operators: twice as fast as a comprehension, and this runs at most once
        # per customer and instant (rows are all timeline.width() long)
        change = map(sub, now, last)
        self.changes[k] = list(change) if kept is None else list(map(add, kept, change))
        self.last = now
        self.dirty = False

    def commit(self, done: tuple[AccountState, tuple[Any, ...]]) -> None:
        """Keep the account a rule returned as the memory adapter would load it back (only
        blocks with credit left, only active holds), counting the debt settlements and what the
        entries moved per rule (:meth:`count`)."""
        after, entries = done
        self.count(after, entries)
        self.state = after.live()
        if self.recurring:
            self.recur(entries)

    def count(self, after: AccountState, entries: tuple[EntryState, ...]) -> None:
        """Count the debt settlements in ``entries``, and add what each entry on a block moved to
        the flows of that block's rule (granted, used, expired, voided: as the core's own effects
        move the totals, see :mod:`~creditcore.simulate.breakage`); ``after`` still has the
        blocks the entries emptied."""
        flows, series, blocks = self.flows, self.series, after.blocks
        width = len(FLOWS)
        for entry in entries:
            kind = entry.kind
            if kind == "settle":
                self.counts["settlements"] += 1
            moves = FLOW_OF.get(kind)
            if moves is not None and entry.block_id is not None:
                place = width * series[blocks[entry.block_id].description]
                for figure, sign in moves:
                    flows[place + figure] += sign * entry.amount

    def recur(self, entries: tuple[EntryState, ...]) -> None:
        """Count what schedules and top-ups did in ``entries`` (period grants, carries,
        top-ups: the core's due events and reactions, recorded with the step), stop the run
        if top-ups took the customer's total past 64 bits, and queue the due events they
        make (each schedule's next period start, which is also when its blocks expire, and
        a top-up block's expiry), so that the timeline records them at the first sampled
        instant after them."""
        counts, state, end = self.counts, self.state, self.end
        for entry in entries:
            kind = entry.kind
            if kind == "grant":
                op_id = entry.op_id
                if op_id.startswith("schedule:"):
                    counts["schedule_grants"] += 1
                    self.scheduled += entry.amount
                elif op_id.startswith("top_up:"):
                    counts["top_ups"] += 1
                    self.topped_up += entry.amount
                    block = state.blocks.get(entry.block_id or "")
                    if block is not None and block.expires_at is not None and block.expires_at <= end:
                        heapq.heappush(self.expiries, block.expires_at)
            elif kind == "move_in":
                counts["carries"] += 1
                self.carried += entry.amount
        totals = state.totals.get(self.unit)
        if totals is not None and totals.granted > MAX_MINOR:
            raise _Stopped(self.past_64_bits(entries[-1].at if entries else end))
        queued = self.queued
        for schedule in state.schedules.values():  # a period start may write nothing: look at each
            when = schedule.next_at
            if when is not None and when <= end and queued.get(schedule.id) != when:
                heapq.heappush(self.expiries, when)
                queued[schedule.id] = when

    def past_64_bits(self, at: datetime) -> ScenarioError:
        """What grants no rule checks before it runs (top-ups) took the customer's total
        granted past what a ledger holds: name the customer's top-up rule."""
        found = self.top_up_of.get(self.index)
        origin = ("top_ups", found) if found is not None else None
        line, where = rule_where(self.s, origin)
        return ScenarioError(
            self.s.source, line, where,
            f"the run stopped at {at.isoformat()} (customer {self.customer_id!r}): the customer's total granted "
            f"would not fit in a signed 64-bit amount",
        )  # fmt: skip

    # -- events ------------------------------------------------------------------------------

    def grant(self, rule_index: int, _: object, at: datetime) -> None:
        rule: GrantRule = self.s.grants[rule_index]
        effective = rule.effective_after.after(at) if rule.effective_after is not None else None
        expires = rule.expires_after.after(effective or at) if rule.expires_after is not None else None
        block_id = self.next_id("b")
        command = Grant(
            op_id=self.next_id("o"), block_id=block_id, unit=self.unit, amount=rule.amount, effective_at=effective,
            expires_at=expires, priority=rule.priority, category=rule.category, cost_basis=rule.cost_basis,
            scope=rule.scope, description=rule.name, single_use=rule.single_use,
        )  # fmt: skip
        self.commit(rules.grant(self.state, command, at))
        self.counts["grants"] += 1
        voided = rule.void_share > 0 and self.draws("grants", rule_index, "voids").random() < rule.void_share
        if self.mirror is not None:
            self.mirror.grant(self.customer_id, command, at, keep_id=voided)
        if expires is not None:
            heapq.heappush(self.expiries, expires)
        if effective is not None:
            self.later(effective, _ACTIVATE, (rule_index, block_id))
        if voided:
            self.later(after(rule.void_after, at), _VOID, (rule_index, block_id))

    def schedule(self, rule_index: int, _: object, at: datetime) -> None:
        rule: ScheduleRule = self.s.schedules[rule_index]
        # no period starts at or after the end (the run's end is exclusive); the last one's
        # leftover expires at its own end, as a grant's does at its expiry
        command = ScheduleGrant(
            schedule_id=rule.schedule_id(rule_index, self.customer_id), unit=self.unit, amount=rule.amount,
            every=parse_every(rule.every.text), start=at, until=rule.window.ends, first_amount=rule.first_amount,
            rollover_max=rule.rollover_max, rollover_min=rule.rollover_min, priority=rule.priority,
            category=rule.category, scope=rule.scope, single_use=rule.single_use, cost_basis=rule.cost_basis,
            description=rule.name,
        )  # fmt: skip
        self.commit(rules.schedule_grant(self.state, command, at))
        self.counts["schedules"] += 1
        if self.mirror is not None:
            self.mirror.schedule(self.customer_id, command, at)

    def top_up(self, rule_index: int, _: object, at: datetime) -> None:
        rule: TopUpRule = self.s.top_ups[rule_index]
        if at >= rule.window.ends:  # its ``until``
            self.commit(rules.remove_top_up(self.state, self.unit, at))
            self.counts["top_up_rules"] += 1
            if self.mirror is not None:
                self.mirror.remove_top_up(self.customer_id, at)
            return
        command = SetTopUp(
            unit=self.unit, threshold=rule.threshold, amount=rule.amount, target=rule.target,
            category=rule.category, priority=rule.priority,
            expires_after=parse_every(rule.expires_after.text) if rule.expires_after is not None else None,
            cost_basis=rule.cost_basis,
        )  # fmt: skip
        self.commit(rules.set_top_up(self.state, command, at))
        self.counts["top_up_rules"] += 1
        if self.mirror is not None:
            self.mirror.set_top_up(self.customer_id, command, at)

    def activate(self, block_id: str, at: datetime) -> None:
        # the timeline counts its credit as effective from now on (the instant is marked changed)
        block = self.state.blocks.get(block_id)
        if block is not None and block.settle_pending:  # debt it pays off from now on
            self.commit(rules.advance(self.state, at))

    def void(self, rule_index: int, block_id: str, at: datetime) -> None:
        name = self.s.grants[rule_index].name
        command = Void(op_id=self.next_id("o"), block_id=block_id, reason=f"refund: {name}")
        try:
            done = rules.void(self.state, command, at, self.scale)
        except (NotFound, Conflict):
            if self.mirror is not None:
                self.mirror.forget(self.customer_id, block_id)
            return  # nothing unheld was left to void
        self.commit(done)
        self.counts["voids"] += 1
        if self.mirror is not None:
            self.mirror.void(self.customer_id, command, at)

    def use(self, rule_index: int, event: datetime | ReplayEvent, at: datetime) -> None:
        if type(event) is datetime:
            rng = self.amount_streams[rule_index]
            if rng is None:
                rng = self.amount_streams[rule_index] = stream(self.s, "usage", rule_index, "amounts", self.customer_id)
            amount = self.usage_amounts[rule_index](rng)  # type: ignore[misc]
            scope = self.usage_scopes[rule_index]
        else:
            assert isinstance(event, ReplayEvent)
            amount, scope = event.amount, event.scope or self.usage_scopes[rule_index]
        kept = self.burns[rule_index]
        command = kept.get((amount, scope))
        if command is None:
            if len(kept) >= _KEPT_BURNS:
                kept.clear()
            command = kept[amount, scope] = Burn(
                op_id="use", unit=self.unit, amount=amount, scope=None if scope is None else frozenset((scope,)),
                overdraft=self.overdraft,
                debt_limit=self.debt_limit,
            )  # fmt: skip
        try:
            done = rules.burn(self.state, command, at, rules.DEFAULT_ORDER, self.scale)
        except InsufficientCredits:
            self.shortfall += amount
            self.counts["burns_refused"] += 1
            return
        self.shortfall += done.outcome.shortfall  # what the rule decided no credit covered
        after, entries = done
        self.count(after, entries)  # commit(), inlined: this is most events
        self.state = after.live()
        if self.recurring:
            self.recur(entries)
        self.counts["burns"] += 1
        if self.mirror is not None:
            self.mirror.burn(self.customer_id, command, at)

    # -- billing -----------------------------------------------------------------------------

    def bill_setup(self) -> None:
        """What metering and invoicing need: the meters' aggregations, the priced meters in
        meter order (an invoice's lines), the customers with metered usage, the tallies."""
        s = self.s
        self.periods = s.periods
        self.period_ends = [period.end for period in s.periods]
        self.usage_meters = [rule.meter for rule in s.usage]
        self.aggregations = [meter.aggregation for meter in s.meters]
        price_of = {rule.meter: (place, rule) for place, rule in enumerate(s.prices)}
        self.lines = [
            (m, price_of[m][0], price_of[m][1].model, frozenset((meter_scope(meter.id),)))
            for m, meter in enumerate(s.meters)
            if m in price_of
        ]
        self.metered = set(metered_customers(s.usage))
        self.quantities = []
        self.customer_invoiced: list[tuple[int, int, int]] = []
        self.by_period = [0] * (3 * len(s.periods) * len(s.groups))

    def meter_use(self, rule_index: int, event: datetime | ReplayEvent, at: datetime) -> None:
        """A metered usage event: its quantity adds up on its meter for the period's invoice."""
        if type(event) is datetime:
            drawer = self.usage_amounts[rule_index]
            if drawer is None:  # a count meter counts the event, whatever its value
                quantity = 1
            else:
                rng = self.amount_streams[rule_index]
                if rng is None:
                    rng = self.amount_streams[rule_index] = stream(
                        self.s, "usage", rule_index, "amounts", self.customer_id
                    )
                quantity = drawer(rng)
        else:
            assert isinstance(event, ReplayEvent)
            quantity = event.amount
        m = self.usage_meters[rule_index]
        assert m is not None
        how, quantities = self.aggregations[m], self.quantities
        if how == "sum":
            quantities[m] += quantity
        elif how == "count":
            quantities[m] += 1
        elif how == "max":
            quantities[m] = max(quantities[m], quantity)
        else:  # latest: the events come in time order, the last recorded last
            quantities[m] = quantity
        self.counts["meter_events"] += 1
        if self.mirror is not None:
            meter = self.s.meters[m]
            self.mirror.meter_event(self.customer_id, meter.id, None if how == "count" else quantity, meter.scale, at)

    def invoice(self, k: int, at: datetime) -> None:
        """Period ``k``'s invoice, issued at its end: a line per priced meter with usage, each
        paid with credit (a burn of at most its amount, with its meter's scope, what there is)."""
        s = self.s
        lines: list[InvoiceLine] = []
        revenue = applied = 0
        quantities = self.quantities
        for m, place, model, scope in self.lines:
            quantity = quantities[m]
            if quantity <= 0:
                continue
            meter = s.meters[m]
            amount = line_amount(model, quantity, meter.scale, self.scale)
            credit = 0
            if amount > 0:
                try:
                    if amount > MAX_MINOR:
                        raise ValidationError("amount", "the line's amount would not fit in a signed 64-bit amount")
                    command = Burn(op_id="invoice", unit=self.unit, amount=amount, scope=scope, overdraft="partial")
                    done = rules.burn(self.state, command, at, rules.DEFAULT_ORDER, self.scale)
                except CreditError as problem:
                    message = problem.message if isinstance(problem, ValidationError) else str(problem)
                    line, where = rule_where(s, ("prices", place))
                    raise _Stopped(ScenarioError(
                        s.source, line, where,
                        f"the run stopped at {at.isoformat()} (customer {self.customer_id!r}, the invoice of "
                        f"{self.periods[k].label}, meter {meter.id!r}): {message}",
                    )) from None  # fmt: skip
                self.commit(done)
                credit = done.outcome.burned
            lines.append(
                InvoiceLine(meter=meter.id, quantity=quantity, scale=meter.scale, amount=amount, credit=credit)
            )
            revenue += amount
            applied += credit
        self.quantities = [0] * len(quantities)
        due = revenue - applied
        invoiced = self.invoiced
        invoiced[0] += revenue
        invoiced[1] += applied
        invoiced[2] += due
        place = 3 * (k * len(s.groups) + self.group)
        tallies = self.by_period
        tallies[place] += revenue
        tallies[place + 1] += applied
        tallies[place + 2] += due
        self.counts["invoices"] += 1
        if self.mirror is not None:
            self.mirror.invoice(self.customer_id, self.periods[k], at, tuple(lines))
        if k + 1 < len(self.period_ends):
            heapq.heappush(self.heap, (self.period_ends[k + 1], _INVOICE_RANK, next(self.numbers), -1, k + 1))

    def start_job(self, rule_index: int, _: object, at: datetime) -> None:
        rule: JobRule = self.s.jobs[rule_index]
        amount = self.job_amounts[rule_index](self.draws("jobs", rule_index, "amounts"))
        hold_id = self.next_id("job")
        scope = None if rule.scope is None else frozenset((rule.scope,))
        command = PlaceHold(op_id=self.next_id("o"), hold_id=hold_id, unit=self.unit, amount=amount, scope=scope)
        try:
            done = rules.hold(self.state, command, at, rules.DEFAULT_ORDER, self.scale)
        except InsufficientCredits:
            self.shortfall += amount
            self.counts["holds_refused"] += 1
            return
        self.commit(done)
        self.counts["holds"] += 1
        if self.mirror is not None:
            self.mirror.hold(self.customer_id, command, at)
        self.later(after(rule.duration, at), _JOB_END, (rule_index, hold_id, amount))

    def end_job(self, rule_index: int, hold_id: str, amount: int, at: datetime) -> None:
        rule: JobRule = self.s.jobs[rule_index]
        rng = self.draws("jobs", rule_index, "ends")
        if rule.release_share and rng.random() < rule.release_share:
            release = Release(op_id=self.next_id("o"), hold_id=hold_id)
            self.commit(rules.release(self.state, release, at))
            self.counts["releases"] += 1
            if self.mirror is not None:
                self.mirror.release(self.customer_id, release, at)
        else:
            used = min(amount, max(0, round(amount * rule.capture_ratio.draw(rng))))
            capture = Capture(op_id=self.next_id("o"), hold_id=hold_id, amount=used)
            self.commit(rules.capture(self.state, capture, at, rules.DEFAULT_ORDER, self.scale))
            self.counts["captures"] += 1
            if self.mirror is not None:
                self.mirror.capture(self.customer_id, capture, at)

    def stopped(self, problem: CreditError, at: datetime, kind: int,
                source: tuple[int, int, object] | None, payload: Any) -> ScenarioError:  # fmt: skip
        """A rule refused an operation the scenario asks for as invalid (a total past the
        64-bit range, say): this customer's run cannot go on; name the rule that made it."""
        origin: tuple[str, int] | None = None
        if source is not None:
            what, index, _ = source
            origin = (_TABLE_OF[what], index)
        elif kind in (_JOB_END, _VOID, _ACTIVATE):
            origin = ("jobs" if kind == _JOB_END else "grants", payload[0])
        line, where = rule_where(self.s, origin)
        message = problem.message if isinstance(problem, ValidationError) else f"{type(problem).__name__}: {problem}"
        return ScenarioError(
            self.s.source, line, where,
            f"the run stopped at {at.isoformat()} (customer {self.customer_id!r}): {message}",
        )  # fmt: skip


class _Stopped(Exception):
    def __init__(self, error: ScenarioError) -> None:
        self.error = error

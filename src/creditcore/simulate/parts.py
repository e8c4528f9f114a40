"""Splitting a run's customers into parts, and adding the parts' results up.

A part is a slice of the scenario's customers, cut out as a scenario of its own (its rules'
windows and replayed events narrowed to those customers), so that a worker receives only what
it runs: the rules and a few customers, never the whole population. Parts are cut where the
work the scenario's rates ask for is about equal, so that no worker waits for one big part.

Customers do not touch each other and draw from their own random streams, so a part's figures
do not depend on the other parts; adding the parts up (:func:`merge`) gives the figures of a run
of every customer at once, to the last unit, however many parts there are.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import datetime

import attrs

from creditcore.simulate.accounts import PartResult
from creditcore.simulate.breakage import by_grant, check
from creditcore.simulate.figures import ALL_FIGURES, GRANT_FIGURES, Counts, Figures, Outcome
from creditcore.simulate.invoicing import Billed, Invoiced
from creditcore.simulate.model import ReplayEvent, Scenario, Window
from creditcore.simulate.scenario import ScenarioError, metered_customers
from creditcore.simulate.timeline import Changes, add


def work(scenario: Scenario) -> list[int]:
    """The work each customer's run asks for, in events, estimated from the rates (one more
    for the customer itself): what parts are balanced by and progress is counted in."""
    s = scenario
    cost = [1.0] * len(s.customers)

    def each(window: Window, events: float) -> None:
        for customer in window.customers:
            cost[customer] += events

    for grant in s.grants:
        each(grant.window, _ticks(grant.window, grant.every.seconds + grant.every.months * 2_629_746)
             if grant.every is not None else 1.0)  # fmt: skip
    for schedule in s.schedules:
        each(schedule.window, 2 * _ticks(schedule.window, schedule.every.seconds + schedule.every.months * 2_629_746))
    for top_up in s.top_ups:
        each(top_up.window, 1.0)
    for use in s.usage:
        if use.pattern == "replay":
            for event in use.events:
                cost[event.customer] += 1
        elif use.pattern == "fixed":
            assert use.every is not None
            each(use.window, _ticks(use.window, use.every.seconds + use.every.months * 2_629_746))
        else:
            each(use.window, use.per_day * _days(use.window))
    for job in s.jobs:
        each(job.window, 2 * job.per_day * _days(job.window))
    if s.periods:
        for customer in metered_customers(s.usage):  # an invoice a period
            cost[customer] += len(s.periods)
    return [math.ceil(each) for each in cost]


def _days(window: Window) -> float:
    return (window.ends - window.begins).total_seconds() / 86400


def _ticks(window: Window, seconds: int) -> float:
    return 1 + (window.ends - window.begins).total_seconds() / seconds


def split(cost: Sequence[int], parts: int) -> list[range]:
    """At most ``parts`` consecutive, non-empty ranges of customers, each about the same work."""
    count = len(cost)
    parts = max(1, min(parts, count))
    total = sum(cost)
    stops: list[int] = []
    done = 0
    for customer, each in enumerate(cost[:-1]):
        done += each
        cut = len(stops) + 1
        # cut where the work reaches its share, or where each part left needs its customer
        if cut < parts and (done >= total * cut / parts or count - customer - 1 == parts - cut):
            stops.append(customer + 1)
    return [range(first, stop) for first, stop in zip([0, *stops], [*stops, count], strict=True)]


def narrow(scenario: Scenario, customers: range) -> Scenario:
    """The scenario of ``customers`` only (a consecutive range), numbered from 0: its rules'
    windows and replayed events narrowed to them."""
    return next(cut(scenario, [customers]))


def cut(scenario: Scenario, ranges: Sequence[range]) -> Iterator[Scenario]:
    """The scenario of each range of customers (consecutive, ascending, not overlapping), as
    :func:`narrow` makes it; replayed events are sorted into their parts in one pass."""
    s = scenario
    starts = [customers.start for customers in ranges]
    replayed: dict[int, list[list[ReplayEvent]]] = {}
    for i, rule in enumerate(s.usage):
        if rule.events:
            into: list[list[ReplayEvent]] = [[] for _ in ranges]
            for event in rule.events:
                place = bisect_right(starts, event.customer) - 1
                if place >= 0 and event.customer < ranges[place].stop:
                    into[place].append(event)
            replayed[i] = into
    for place, customers in enumerate(ranges):
        if customers == range(len(s.customers)):
            yield s
            continue
        first, stop = customers.start, customers.stop

        def window(found: Window, first: int = first, stop: int = stop) -> Window:
            members = found.customers
            inside = members[bisect_left(members, first) : bisect_left(members, stop)]
            return attrs.evolve(found, customers=tuple(c - first for c in inside))

        usage = tuple(
            attrs.evolve(
                rule,
                window=window(rule.window),
                events=tuple(attrs.evolve(e, customer=e.customer - first) for e in replayed[i][place])
                if i in replayed
                else (),
            )
            for i, rule in enumerate(s.usage)
        )
        yield attrs.evolve(
            s,
            customers=s.customers[first:stop],
            customer_group=s.customer_group[first:stop],
            grants=tuple(attrs.evolve(rule, window=window(rule.window)) for rule in s.grants),
            schedules=tuple(attrs.evolve(rule, window=window(rule.window)) for rule in s.schedules),
            top_ups=tuple(attrs.evolve(rule, window=window(rule.window)) for rule in s.top_ups),
            usage=usage,
            jobs=tuple(attrs.evolve(rule, window=window(rule.window)) for rule in s.jobs),
        )


@attrs.frozen(kw_only=True)
class Merged:
    """Every part's results added up, in the scenario's customer order."""

    outcome: Outcome
    changes: Changes


def merge(scenario: Scenario, results: Sequence[tuple[range, PartResult]], times: Sequence[datetime]) -> Merged:
    """Add the parts' results up; raise the error of the first customer (in the scenario's
    order) whose run a rule stopped, the same error whatever the parts were."""
    s = scenario
    first_stop: tuple[int, ScenarioError] | None = None
    for customers, result in results:
        if result.stopped is not None:
            where = customers.start + result.stopped[0]
            if first_stop is None or where < first_stop[0]:
                first_stop = (where, result.stopped[1])
    if first_stop is not None:
        raise first_stop[1]
    changes: Changes = [None] * len(times)
    counts = [0] * len(attrs.fields(Counts))
    per_customer: dict[str, Figures] = {}
    groups = [[0] * len(ALL_FIGURES) for _ in s.groups]
    grants = [0] * (len(s.groups) * len(s.sources) * len(GRANT_FIGURES))
    for customers, result in sorted(results, key=lambda found: found[0].start):
        add(changes, result.changes)
        counts = [a + b for a, b in zip(counts, result.counts, strict=True)]
        grants = [a + b for a, b in zip(grants, result.by_grant or [0] * len(grants), strict=True)]
        for index, figures in zip(customers, result.figures, strict=True):
            per_customer[s.customers[index]] = Figures(**dict(zip(ALL_FIGURES, figures, strict=True)))
            group = groups[s.customer_group[index]]
            for place, value in enumerate(figures):
                group[place] += value
    totals = [sum(column) for column in zip(*groups, strict=True)]
    billing = _billed(s, results) if s.billed else None
    found = by_grant([rule.name for rule in s.sources], s.groups, grants)
    outcome = Outcome(
        scenario=s,
        totals=Figures(**dict(zip(ALL_FIGURES, totals, strict=True))),
        groups={name: Figures(**dict(zip(ALL_FIGURES, group, strict=True))) for name, group in zip(s.groups, groups,
                                                                                                strict=True)},
        counts=Counts(**dict(zip(attrs.fields_dict(Counts), counts, strict=True))),
        customers=per_customer,
        billing=billing,
        by_grant=found,
    )  # fmt: skip
    check(found, outcome.totals, outcome.groups)  # the figures by grant add up to the run's own
    return Merged(outcome=outcome, changes=changes)


def _billed(scenario: Scenario, results: Sequence[tuple[range, PartResult]]) -> Billed:
    """What every part's invoices came to, added up."""
    s = scenario
    width = 3 * len(s.periods) * len(s.groups)
    tallies = [0] * width
    customers: dict[str, Invoiced] = {}
    metered = set(metered_customers(s.usage))
    for found, result in sorted(results, key=lambda part: part[0].start):
        tallies = [a + b for a, b in zip(tallies, result.by_period or [0] * width, strict=True)]
        for index, (revenue, applied, due) in zip(found, result.invoiced, strict=True):
            if index in metered:
                customers[s.customers[index]] = Invoiced(revenue=revenue, credit_applied=applied, amount_due=due)

    def at(place: int) -> Invoiced:
        return Invoiced(revenue=tallies[place], credit_applied=tallies[place + 1], amount_due=tallies[place + 2])

    groups = len(s.groups)
    by_period = tuple(tuple(at(3 * (k * groups + g)) for g in range(groups)) for k in range(len(s.periods)))
    per_group = {name: sum((row[g] for row in by_period), Invoiced()) for g, name in enumerate(s.groups)}
    return Billed(
        periods=s.periods,
        by_period=by_period,
        groups=per_group,
        totals=sum(per_group.values(), Invoiced()),
        customers=customers,
        invoices=len(metered) * len(s.periods),
    )

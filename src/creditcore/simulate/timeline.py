"""The timeline: the population's credit at each sampled instant, kept as what each interval
changed, so that any set of customers can be run on its own and the parts added up.

A point at instant ``T`` is the sum over every customer of that customer's figures at ``T``
(after every event at or before ``T`` and the expiries due by then). A run of some customers
records, per sampled instant, how much their figures changed since the instant before (a
:class:`Changes`); the changes of disjoint sets of customers add up, in any order, to the
changes of all of them, and the running sum of those is the timeline. Only integers are
added, so the sum is exact and the same however the customers were split.

A customer's figures are one row of integers (:func:`width` long): the totals in
:data:`_TOTALS` order, then the credit left in effective blocks per rule that makes blocks
(:attr:`Scenario.sources <creditcore.simulate.model.Scenario.sources>`), then the credit per
such rule not yet effective (upcoming), then per such rule what its blocks' entries so far
granted, used, expired and voided (:mod:`~creditcore.simulate.breakage`), then, when the
scenario compares its groups (:func:`compared_groups`), the credit expired and the shortfall
per group (a customer's own group holds its figures, the others 0), then, when it names
meters, what the customer's invoices so far came to (revenue, credit applied, amount due).

With meters, the timeline also samples the end of each billing period (where its invoices
are issued), so that what each period invoiced is the difference of two points.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from creditcore.simulate.breakage import per_grant
from creditcore.simulate.figures import FLOWS, Figures, Point
from creditcore.simulate.invoicing import Invoiced
from creditcore.simulate.model import Scenario
from creditcore.simulate.streams import ticks
from creditcore.state import AccountState

_TOTALS = ("granted", "used", "expired", "voided", "held", "debt", "shortfall", "scheduled", "carried", "topped_up")
WIDTH = len(_TOTALS)
"""Where the credit left per rule starts in a row."""
#: The most groups the timeline and the chart compare side by side.
MOST_COMPARED = 12
# per rule that makes blocks: its remaining and its upcoming credit, then its flows
_PER_RULE = 2 + len(FLOWS)

Changes = list[list[int] | None]
"""Per sampled instant, what the figures changed since the instant before (``None``: nothing)."""


def sample_times(scenario: Scenario) -> list[datetime]:
    """Every ``sample_every`` from the start, then the end itself: the timeline's instants;
    with meters, each billing period's end too."""
    times = [*ticks(scenario.start, scenario.sample_every, scenario.end), scenario.end]
    if scenario.periods:
        times = sorted({*times, *(period.end for period in scenario.periods)})
    return times


def compared_groups(scenario: Scenario) -> int:
    """How many groups the timeline follows one by one (their expiries and shortfall): every
    group of a scenario with schedules or top-ups and 2 to :data:`MOST_COMPARED` groups (the
    comparison such a scenario is made for: "refill to 100" against "carry up to 50"); else 0."""
    count = len(scenario.groups)
    return count if scenario.recurring and 2 <= count <= MOST_COMPARED else 0


def width(scenario: Scenario) -> int:
    """The length of a row of figures."""
    return WIDTH + _PER_RULE * len(scenario.sources) + 2 * compared_groups(scenario) + (3 if scenario.billed else 0)


def by_rule(figures: Sequence[int], rules: int) -> list[int]:
    """From a row (a customer's, or a running sum of them), each rule's figures, flat, in
    :data:`~creditcore.simulate.figures.GRANT_FIGURES` order."""
    remaining = figures[WIDTH : WIDTH + rules]
    upcoming = figures[WIDTH + rules : WIDTH + 2 * rules]
    flows = len(FLOWS)
    found: list[int] = []
    for i in range(rules):
        start = WIDTH + 2 * rules + flows * i
        found.extend((*figures[start : start + flows], remaining[i], upcoming[i]))
    return found


def row(state: AccountState, counted: tuple[int, int, int, int], at: datetime, unit: str,
        series: Mapping[str | None, int], rules: int, group: int, groups: int, flows: Sequence[int],
        invoiced: Sequence[int] = ()) -> list[int]:  # fmt: skip
    """One customer's figures at ``at`` (its expiries due by then recorded). ``counted``: what
    the run counted for it (shortfall, scheduled, carried, topped up); ``series``: the place
    of each block's rule by its description; ``group``: its group's place among ``groups``
    compared ones; ``flows``: per rule, what its blocks' entries so far granted, used, expired
    and voided; ``invoiced``: with meters, what its invoices so far came to."""
    remaining = [0] * (2 * rules)
    held = 0
    for block in state.blocks.values():
        place = series[block.description]
        if block.effective_at > at:
            place += rules  # upcoming
        remaining[place] += block.remaining
        held += block.held
    totals = state.totals.get(unit)
    if totals is None:
        figures = [0, 0, 0, 0, held, 0, *counted, *remaining]
    else:
        figures = [totals.granted, totals.used, totals.expired, totals.voided, held, totals.debt, *counted, *remaining]
    figures.extend(flows)
    if groups:
        by_group = [0] * (2 * groups)
        by_group[group] = figures[2]  # expired
        by_group[groups + group] = counted[0]  # shortfall
        figures += by_group
    if invoiced:
        figures.extend(invoiced)
    return figures


def add(into: Changes, changes: Changes) -> None:
    """Add ``changes`` (of other customers) into ``into``."""
    for k, found in enumerate(changes):
        if found is None:
            continue
        kept = into[k]
        into[k] = found if kept is None else list(map(operator.add, kept, found))


def points(scenario: Scenario, times: list[datetime], changes: Changes) -> Iterator[Point]:
    """The timeline: the running sum of ``changes``, one :class:`Point` per sampled instant."""
    rules = len(scenario.sources)
    groups = compared_groups(scenario)
    running = [0] * width(scenario)
    by_group = WIDTH + _PER_RULE * rules
    billed = by_group + 2 * groups
    for at, found in zip(times, changes, strict=True):
        if found is not None:
            running = list(map(operator.add, running, found))
        granted, used, expired, voided, held, debt, shortfall, scheduled, carried, topped_up = running[:WIDTH]
        remaining = tuple(running[WIDTH : WIDTH + rules])
        figures = Figures(
            granted=granted,
            used=used,
            expired=expired,
            voided=voided,
            available=sum(remaining) - held,
            held=held,
            upcoming=sum(running[WIDTH + rules : WIDTH + 2 * rules]),
            shortfall=shortfall,
            debt=debt,
            scheduled=scheduled,
            carried=carried,
            topped_up=topped_up,
        )
        yield Point(
            at=at,
            figures=figures,
            remaining=remaining,
            grants=per_grant(by_rule(running, rules)),
            expired_by_group=tuple(running[by_group : by_group + groups]),
            shortfall_by_group=tuple(running[by_group + groups : billed]),
            invoiced=Invoiced(revenue=running[billed], credit_applied=running[billed + 1],
                              amount_due=running[billed + 2]) if scenario.billed else None,
        )  # fmt: skip

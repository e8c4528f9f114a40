"""The timeline: the population's credit at each sampled instant, kept as what each interval
changed, so that any set of customers can be run on its own and the parts added up.

A point at instant ``T`` is the sum over every customer of that customer's figures at ``T``
(after every event at or before ``T`` and the expiries due by then). A run of some customers
records, per sampled instant, how much their figures changed since the instant before (a
:class:`Changes`); the changes of disjoint sets of customers add up, in any order, to the
changes of all of them, and the running sum of those is the timeline. Only integers are
added, so the sum is exact and the same however the customers were split.

A customer's figures are one row of integers, :data:`WIDTH` + 2 per grant rule long: the
totals in :data:`_TOTALS` order, then the credit left per grant rule in effective blocks,
then the credit per grant rule not yet effective (upcoming).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from datetime import datetime

from creditcore.simulate.figures import Figures, Point
from creditcore.simulate.model import Scenario
from creditcore.simulate.streams import ticks
from creditcore.state import AccountState

_TOTALS = ("granted", "used", "expired", "voided", "held", "debt", "shortfall")
WIDTH = len(_TOTALS)
"""Where the credit left per grant rule starts in a row."""

Changes = list[list[int] | None]
"""Per sampled instant, what the figures changed since the instant before (``None``: nothing)."""


def sample_times(scenario: Scenario) -> list[datetime]:
    """Every ``sample_every`` from the start, then the end itself: the timeline's instants."""
    return [*ticks(scenario.start, scenario.sample_every, scenario.end), scenario.end]


def row(state: AccountState, shortfall: int, at: datetime, unit: str, series: Mapping[str | None, int],
        rules: int) -> list[int]:  # fmt: skip
    """One customer's figures at ``at`` (its expiries due by then recorded)."""
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
        return [0, 0, 0, 0, held, 0, shortfall, *remaining]
    return [totals.granted, totals.used, totals.expired, totals.voided, held, totals.debt, shortfall, *remaining]


def add(into: Changes, changes: Changes) -> None:
    """Add ``changes`` (of other customers) into ``into``."""
    for k, found in enumerate(changes):
        if found is None:
            continue
        kept = into[k]
        into[k] = found if kept is None else list(map(operator.add, kept, found))


def points(scenario: Scenario, times: list[datetime], changes: Changes) -> Iterator[Point]:
    """The timeline: the running sum of ``changes``, one :class:`Point` per sampled instant."""
    rules = len(scenario.grants)
    running = [0] * (WIDTH + 2 * rules)
    for at, found in zip(times, changes, strict=True):
        if found is not None:
            running = list(map(operator.add, running, found))
        granted, used, expired, voided, held, debt, shortfall = running[:WIDTH]
        remaining = tuple(running[WIDTH : WIDTH + rules])
        figures = Figures(
            granted=granted,
            used=used,
            expired=expired,
            voided=voided,
            available=sum(remaining) - held,
            held=held,
            upcoming=sum(running[WIDTH + rules :]),
            shortfall=shortfall,
            debt=debt,
        )
        yield Point(at=at, figures=figures, remaining=remaining)

"""What a run prints and writes: the summary table, the JSON summary, the timeline CSV.

A scenario with schedules or top-ups (:attr:`Scenario.recurring
<creditcore.simulate.model.Scenario.recurring>`) also shows what they did: how much of
``granted`` the schedules' periods and the top-ups granted, how much was carried over, and how
many of each there were; and, when it has a few groups, the expiries and shortfall of each
group over time. A scenario without them prints and writes what it always has.

Every amount is turned into a ``Decimal`` in the library's own context
(:data:`~creditcore.values.DECIMAL_CONTEXT`), so the output is the same whatever the
caller's ``decimal`` context is.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, Any

from rich.table import Table

from creditcore.simulate.figures import FIGURES, RECURRING, Figures, Outcome, Point
from creditcore.simulate.model import Scenario
from creditcore.simulate.timeline import compared_groups
from creditcore.values import to_decimal

_HEADINGS = {
    "granted": "granted",
    "used": "used",
    "expired": "expired\n(breakage)",
    "voided": "voided",
    "available": "available",
    "held": "held",
    "upcoming": "upcoming",
    "shortfall": "shortfall",
    "debt": "debt",
    "scheduled": "of which\nscheduled",
    "topped_up": "of which\ntopped up",
    "carried": "carried\nover",
}


def figures_json(figures: Figures, scale: int, names: Sequence[str] = FIGURES) -> dict[str, str]:
    """Every figure (of ``names``) as an exact decimal string."""
    return {name: str(to_decimal(getattr(figures, name), scale)) for name in names}


def columns(scenario: Scenario) -> tuple[str, ...]:
    """The figures the summary table shows, in order: with schedules or top-ups, what they
    granted and carried next to ``granted``."""
    if not scenario.recurring:
        return FIGURES
    return ("granted", "scheduled", "topped_up", "carried", *FIGURES[1:])


def as_json(outcome: Outcome) -> dict[str, Any]:
    """``{"events": N, "customers": N, "totals": {...}, "groups": {...}, ...}``; amounts are
    strings."""
    s = outcome.scenario
    counts = outcome.counts
    summary: dict[str, Any] = {
        "events": outcome.events,
        "customers": len(s.customers),
        "totals": figures_json(outcome.totals, s.scale),
        "groups": {name: figures_json(figures, s.scale) for name, figures in outcome.groups.items()},
        "operations": {
            "grants": counts.grants,
            "burns": counts.burns,
            "burns_refused": counts.burns_refused,
            "holds": counts.holds,
            "holds_refused": counts.holds_refused,
            "captures": counts.captures,
            "releases": counts.releases,
            "voids": counts.voids,
            "settlements": counts.settlements,
        },
        "scenario": {
            "title": s.title,
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "seed": s.seed,
            "unit": s.unit,
            "overdraft": s.overdraft,
        },
    }
    if s.recurring:
        summary["operations"].update(
            schedules=counts.schedules,
            schedule_grants=counts.schedule_grants,
            carries=counts.carries,
            top_up_rules=counts.top_up_rules,
            top_ups=counts.top_ups,
        )
        summary["schedules_and_top_ups"] = {
            "totals": figures_json(outcome.totals, s.scale, RECURRING),
            "groups": {name: figures_json(figures, s.scale, RECURRING) for name, figures in outcome.groups.items()},
        }
    return summary


def summary_table(outcome: Outcome) -> Table:
    """One row per customer group and a total row."""
    s = outcome.scenario
    table = Table(
        title=f"{s.title}: {s.start:%Y-%m-%d} to {s.end:%Y-%m-%d}, seed {s.seed}, amounts in {s.unit}",
        title_justify="left",
    )
    table.add_column("group")
    table.add_column("customers", justify="right")
    shown = columns(s)
    for name in shown:
        table.add_column(_HEADINGS[name], justify="right")
    sizes = [0] * len(s.groups)
    for group in s.customer_group:
        sizes[group] += 1
    rows = list(zip(s.groups, sizes, outcome.groups.values(), strict=True))
    for name, size, figures in rows:
        table.add_row(name, f"{size:,}", *_cells(figures, s.scale, shown))
    if len(rows) > 1:
        table.add_section()
    table.add_row("total", f"{len(s.customers):,}", *_cells(outcome.totals, s.scale, shown), style="bold")
    return table


def _cells(figures: Figures, scale: int, names: Sequence[str]) -> list[str]:
    return [f"{to_decimal(getattr(figures, name), scale):,}" for name in names]


def operations_line(outcome: Outcome) -> str:
    c = outcome.counts

    def n(count: int, what: str) -> str:
        return f"{count:,} {what}{'' if count == 1 else 's'}"

    line = (
        f"{n(outcome.events, 'event')}: {n(c.grants, 'grant')}, {n(c.burns, 'burn')} ({c.burns_refused:,} refused), "
        f"{n(c.holds, 'job hold')} ({c.holds_refused:,} refused), {n(c.captures, 'capture')}, "
        f"{n(c.releases, 'release')}, {n(c.voids, 'void')}; {n(c.settlements, 'debt settlement')}"
    )
    s = outcome.scenario
    if not s.recurring:
        return line
    totals = outcome.totals

    def amount(minor: int) -> str:
        return f"{to_decimal(minor, s.scale):,} {s.unit}"

    return (
        f"{line}; {n(c.schedules, 'schedule')}: {n(c.schedule_grants, 'period grant')} "
        f"({amount(totals.scheduled)}), {c.carries:,} {'carry' if c.carries == 1 else 'carries'} "
        f"({amount(totals.carried)} carried over); {n(c.top_ups, 'top-up')} ({amount(totals.topped_up)})"
    )


class TimelineCSV:
    """Writes each sampled point as it comes: ``at``, the totals (with schedules or top-ups,
    also ``scheduled``, ``carried`` and ``topped_up``), then the credit left per rule that
    makes blocks (``remaining[<name>]``), then, when the scenario compares its groups, the
    credit expired and the shortfall so far per group (``expired[<group>]``,
    ``shortfall[<group>]``)."""

    def __init__(self, handle: IO[str], scenario: Scenario) -> None:
        self.scale = scenario.scale
        self.names = FIGURES + RECURRING if scenario.recurring else FIGURES
        groups = scenario.groups if compared_groups(scenario) else ()
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(
            [
                "at",
                *self.names,
                *(f"remaining[{rule.name}]" for rule in scenario.sources),
                *(f"expired[{group}]" for group in groups),
                *(f"shortfall[{group}]" for group in groups),
            ]
        )

    def __call__(self, point: Point) -> None:
        scale = self.scale
        self.writer.writerow(
            [
                point.at.isoformat(),
                *(str(to_decimal(getattr(point.figures, name), scale)) for name in self.names),
                *(
                    str(to_decimal(value, scale))
                    for value in (*point.remaining, *point.expired_by_group, *point.shortfall_by_group)
                ),
            ]
        )

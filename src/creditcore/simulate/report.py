"""What a run prints and writes: the summary table, the JSON summary, the timeline CSV.

Every amount is turned into a ``Decimal`` in the library's own context
(:data:`~creditcore.values.DECIMAL_CONTEXT`), so the output is the same whatever the
caller's ``decimal`` context is.
"""

from __future__ import annotations

import csv
from typing import IO, Any

from rich.table import Table

from creditcore.simulate.figures import FIGURES, Figures, Outcome, Point
from creditcore.simulate.model import Scenario
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
}


def figures_json(figures: Figures, scale: int) -> dict[str, str]:
    """Every figure as an exact decimal string."""
    return {name: str(to_decimal(getattr(figures, name), scale)) for name in FIGURES}


def as_json(outcome: Outcome) -> dict[str, Any]:
    """``{"events": N, "customers": N, "totals": {...}, "groups": {...}, ...}``; amounts are
    strings."""
    s = outcome.scenario
    counts = outcome.counts
    return {
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


def summary_table(outcome: Outcome) -> Table:
    """One row per customer group and a total row."""
    s = outcome.scenario
    table = Table(
        title=f"{s.title}: {s.start:%Y-%m-%d} to {s.end:%Y-%m-%d}, seed {s.seed}, amounts in {s.unit}",
        title_justify="left",
    )
    table.add_column("group")
    table.add_column("customers", justify="right")
    for name in FIGURES:
        table.add_column(_HEADINGS[name], justify="right")
    sizes = [0] * len(s.groups)
    for group in s.customer_group:
        sizes[group] += 1
    rows = list(zip(s.groups, sizes, outcome.groups.values(), strict=True))
    for name, size, figures in rows:
        table.add_row(name, f"{size:,}", *_cells(figures, s.scale))
    if len(rows) > 1:
        table.add_section()
    table.add_row("total", f"{len(s.customers):,}", *_cells(outcome.totals, s.scale), style="bold")
    return table


def _cells(figures: Figures, scale: int) -> list[str]:
    return [f"{to_decimal(getattr(figures, name), scale):,}" for name in FIGURES]


def operations_line(outcome: Outcome) -> str:
    c = outcome.counts

    def n(count: int, what: str) -> str:
        return f"{count:,} {what}{'' if count == 1 else 's'}"

    return (
        f"{n(outcome.events, 'event')}: {n(c.grants, 'grant')}, {n(c.burns, 'burn')} ({c.burns_refused:,} refused), "
        f"{n(c.holds, 'job hold')} ({c.holds_refused:,} refused), {n(c.captures, 'capture')}, "
        f"{n(c.releases, 'release')}, {n(c.voids, 'void')}; {n(c.settlements, 'debt settlement')}"
    )


class TimelineCSV:
    """Writes each sampled point as it comes: ``at``, the totals, then the credit left per
    grant rule (``remaining[<name>]``)."""

    def __init__(self, handle: IO[str], scenario: Scenario) -> None:
        self.scale = scenario.scale
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(["at", *FIGURES, *(f"remaining[{rule.name}]" for rule in scenario.grants)])

    def __call__(self, point: Point) -> None:
        scale = self.scale
        self.writer.writerow(
            [
                point.at.isoformat(),
                *(str(to_decimal(getattr(point.figures, name), scale)) for name in FIGURES),
                *(str(to_decimal(value, scale)) for value in point.remaining),
            ]
        )

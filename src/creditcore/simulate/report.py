"""What a run prints and writes: the summary table, the JSON summary, the timeline CSV.

A scenario with schedules or top-ups (:attr:`Scenario.recurring
<creditcore.simulate.model.Scenario.recurring>`) also shows what they did: how much of
``granted`` the schedules' periods and the top-ups granted, how much was carried over, and how
many of each there were; and, when it has a few groups, the expiries and shortfall of each
group over time. A scenario without them prints and writes what it always has.

Every run also shows each grant's breakage (:mod:`~creditcore.simulate.breakage`): per rule that
makes blocks, what it granted, and of that what was used, expired unused, voided and is left, in
a table, in the JSON summary (``by_grant``) and, over time, in the timeline CSV.

A scenario with meters (:attr:`Scenario.billed <creditcore.simulate.model.Scenario.billed>`)
also shows what its period invoices came to: a table of revenue, credit applied and amount
due per billing month and group, the same in the JSON summary (``billing``), and in the
timeline CSV what the invoices issued so far came to.

Every amount is turned into a ``Decimal`` in the library's own context
(:data:`~creditcore.values.DECIMAL_CONTEXT`), so the output is the same whatever the
caller's ``decimal`` context is.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Group, RenderableType
from rich.table import Table

from creditcore.simulate.figures import (
    FIGURES,
    GRANT_FIGURES,
    RECURRING,
    ByGrant,
    Figures,
    GrantFigures,
    Outcome,
    Point,
)
from creditcore.simulate.invoicing import INVOICED, Billed, Invoiced
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
    "revenue": "revenue",
    "credit_applied": "credit\napplied",
    "amount_due": "amount\ndue",
    "remaining": "remaining",
}
#: The timeline CSV's name of each grant figure (``breakage``: ``expired[<name>]`` is a group's).
_GRANT_COLUMNS = {"granted": "granted", "used": "used", "expired": "breakage", "voided": "voided",
                  "upcoming": "upcoming"}  # fmt: skip


def figures_json(
    figures: Figures | Invoiced | GrantFigures, scale: int, names: Sequence[str] = FIGURES
) -> dict[str, str]:
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
    summary["by_grant"] = by_grant_json(outcome.by_grant, s.scale)
    if outcome.billing is not None:
        summary["operations"].update(meter_events=counts.meter_events, invoices=counts.invoices)
        summary["billing"] = billing_json(outcome.billing, s)
    return summary


def by_grant_json(found: ByGrant, scale: int) -> dict[str, Any]:
    """``{"totals": {"<grant>": {"granted": ..., "used": ..., "expired": ..., "voided": ...,
    "remaining": ..., "upcoming": ...}, ...}, "groups": {"<group>": {"<grant>": {...}}}}``;
    amounts are strings."""

    def each(figures: Sequence[GrantFigures]) -> dict[str, dict[str, str]]:
        return {name: figures_json(grant, scale, GRANT_FIGURES) for name, grant in zip(found.names, figures,
                                                                                        strict=True)}  # fmt: skip

    return {"totals": each(found.totals), "groups": {name: each(figures) for name, figures in found.groups.items()}}


def billing_json(billed: Billed, scenario: Scenario) -> dict[str, Any]:
    """``{"timezone": ..., "totals": {...}, "groups": {...}, "periods": [{"period": "2026-01",
    "start": ..., "end": ..., "totals": {...}, "groups": {...}}, ...]}``; amounts are strings."""
    scale = scenario.scale
    return {
        "timezone": scenario.timezone,
        "totals": figures_json(billed.totals, scale, INVOICED),
        "groups": {name: figures_json(found, scale, INVOICED) for name, found in billed.groups.items()},
        "periods": [
            {
                "period": period.label,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "totals": figures_json(total, scale, INVOICED),
                "groups": {
                    name: figures_json(found, scale, INVOICED)
                    for name, found in zip(scenario.groups, groups, strict=True)
                },
            }
            for period, total, groups in zip(billed.periods, billed.period_totals(), billed.by_period, strict=True)
        ],
    }


def summary_table(outcome: Outcome) -> RenderableType:
    """One row per customer group and a total row, then each grant's breakage
    (:func:`by_grant_table`); with meters, then a table of what the invoices came to per
    billing month (:func:`billing_table`)."""
    tables: list[RenderableType] = [burn_down_table(outcome), by_grant_table(outcome.by_grant, outcome.scenario)]
    if outcome.billing is not None:
        tables.append(billing_table(outcome.billing, outcome.scenario))
    return Group(*tables)


def by_grant_table(found: ByGrant, scenario: Scenario) -> Table:
    """Per grant (schedule, top-up rule): what it granted, used, lost to expiry (and that as a
    share of what it granted), voided and has left; with several groups, a row per group that
    it granted to, then the grant's total; the last row, every grant's (the run's totals)."""
    s = scenario
    table = Table(title=f"Breakage by grant, amounts in {s.unit}", title_justify="left")
    table.add_column("grant")
    several = len(found.groups) > 1
    if several:
        table.add_column("group")
    names = ("granted", "used", "expired", "share", "voided", "remaining", "upcoming")
    for name in names:
        table.add_column("expired\nshare" if name == "share" else _HEADINGS[name], justify="right")

    def cells(grant: GrantFigures) -> list[str]:
        return [_share(grant) if name == "share" else f"{to_decimal(getattr(grant, name), s.scale):,}"
                for name in names]  # fmt: skip

    for r, name in enumerate(found.names):
        if not several:
            table.add_row(name, *cells(found.totals[r]))
            continue
        rows = [(group, figures[r]) for group, figures in found.groups.items() if figures[r] != GrantFigures()]
        for group, grant in rows:
            table.add_row(name, group, *cells(grant), end_section=len(rows) == 1)
        if len(rows) != 1:  # a grant to one group: its row is the grant's total
            table.add_row(name, "all", *cells(found.totals[r]), style="bold", end_section=True)
    if not several:
        table.add_section()
    table.add_row("total", *(("",) if several else ()), *cells(sum(found.totals, GrantFigures())), style="bold")
    return table


def _share(grant: GrantFigures) -> str:
    share = grant.expired_share
    return "-" if share is None else f"{share}%"


def billing_table(billed: Billed, scenario: Scenario) -> Table:
    """Revenue, credit applied and amount due per billing month: a row per group (with
    several groups) and the month's total, then the whole run's."""
    s = scenario
    zone = "" if s.timezone == "UTC" else f" ({s.timezone})"
    table = Table(title=f"Invoices per billing month{zone}, amounts in {s.unit}", title_justify="left")
    table.add_column("month")
    table.add_column("group")
    for name in INVOICED:
        table.add_column(_HEADINGS[name], justify="right")
    several = len(s.groups) > 1
    for period, total, groups in zip(billed.periods, billed.period_totals(), billed.by_period, strict=True):
        if several:
            for name, found in zip(s.groups, groups, strict=True):
                table.add_row(period.label, name, *_cells(found, s.scale, INVOICED))
        table.add_row(period.label, "total" if several else s.groups[0], *_cells(total, s.scale, INVOICED),
                      style="bold" if several else None, end_section=several)  # fmt: skip
    if not several:
        table.add_section()
    if several:
        for name, found in billed.groups.items():
            table.add_row("all", name, *_cells(found, s.scale, INVOICED))
    table.add_row("all", "total" if several else s.groups[0], *_cells(billed.totals, s.scale, INVOICED), style="bold")
    return table


def burn_down_table(outcome: Outcome) -> Table:
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


def _cells(figures: Figures | Invoiced, scale: int, names: Sequence[str]) -> list[str]:
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
    totals = outcome.totals

    def amount(minor: int) -> str:
        return f"{to_decimal(minor, s.scale):,} {s.unit}"

    if s.recurring:
        line = (
            f"{line}; {n(c.schedules, 'schedule')}: {n(c.schedule_grants, 'period grant')} "
            f"({amount(totals.scheduled)}), {c.carries:,} {'carry' if c.carries == 1 else 'carries'} "
            f"({amount(totals.carried)} carried over); {n(c.top_ups, 'top-up')} ({amount(totals.topped_up)})"
        )
    billed = outcome.billing
    if billed is None:
        return line
    invoiced = billed.totals
    return (
        f"{line}; {n(c.meter_events, 'metered event')}, {n(c.invoices, 'invoice')}: revenue "
        f"{amount(invoiced.revenue)}, credit applied {amount(invoiced.credit_applied)}, amount due "
        f"{amount(invoiced.amount_due)}"
    )


class TimelineCSV:
    """Writes each sampled point as it comes: ``at``, the totals (with schedules or top-ups,
    also ``scheduled``, ``carried`` and ``topped_up``), then the credit left per rule that
    makes blocks (``remaining[<name>]``), then what each such rule granted so far and what of
    it was used, expired unused, voided, or is still upcoming (``granted[<name>]``,
    ``used[<name>]``, ``breakage[<name>]``, ``voided[<name>]``, ``upcoming[<name>]``), then,
    when the scenario compares its groups, the credit expired and the shortfall so far per
    group (``expired[<group>]``, ``shortfall[<group>]``), then, with meters, what the invoices
    issued so far came to
    (``revenue``, ``credit_applied``, ``amount_due``; the timeline samples each billing
    period's end, where its invoices are issued)."""

    def __init__(self, handle: IO[str], scenario: Scenario) -> None:
        self.scale = scenario.scale
        self.names = FIGURES + RECURRING if scenario.recurring else FIGURES
        self.billed = scenario.billed
        groups = scenario.groups if compared_groups(scenario) else ()
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(
            [
                "at",
                *self.names,
                *(f"remaining[{rule.name}]" for rule in scenario.sources),
                *(f"{column}[{rule.name}]" for column in _GRANT_COLUMNS.values() for rule in scenario.sources),
                *(f"expired[{group}]" for group in groups),
                *(f"shortfall[{group}]" for group in groups),
                *(INVOICED if self.billed else ()),
            ]
        )

    def __call__(self, point: Point) -> None:
        scale = self.scale
        invoiced = point.invoiced
        self.writer.writerow(
            [
                point.at.isoformat(),
                *(str(to_decimal(getattr(point.figures, name), scale)) for name in self.names),
                *(str(to_decimal(value, scale)) for value in point.remaining),
                *(str(to_decimal(getattr(grant, name), scale)) for name in _GRANT_COLUMNS for grant in point.grants),
                *(str(to_decimal(value, scale)) for value in (*point.expired_by_group, *point.shortfall_by_group)),
                *(str(to_decimal(getattr(invoiced, name), scale)) for name in INVOICED if invoiced is not None),
            ]
        )

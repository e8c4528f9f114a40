"""The breakage chart (``creditcore simulate --plot FILE --chart breakage``): a horizontal bar
per grant (schedule, top-up rule), what it granted as 100%, split into the shares that were
used, expired unused (its breakage), were voided, and are left at the end (effective, then
upcoming), each bar labelled with its breakage and what it granted. When the scenario has 2 to
12 groups, each grant has a bar per group it granted to.

It draws a run's :class:`~creditcore.simulate.figures.ByGrant` (read from its entries, see
:mod:`~creditcore.simulate.breakage`), the figures of the summary's breakage table, so the
bars add up to the run's totals. matplotlib is imported only here and in
:mod:`~creditcore.simulate.chart`, only when a chart is drawn; amounts become floats only to be
drawn.
"""

from __future__ import annotations

from decimal import localcontext
from pathlib import Path
from typing import Any

from creditcore.simulate.chart import EXPIRED, USED, VOIDED, need_matplotlib, rule_details, save
from creditcore.simulate.figures import ByGrant, GrantFigures
from creditcore.simulate.model import Scenario
from creditcore.simulate.timeline import MOST_COMPARED
from creditcore.values import DECIMAL_CONTEXT, to_decimal

_REMAINING, _UPCOMING = "#4e79a7", "#a0cbe8"
#: Each part of a bar: its figure, colour, and what the legend calls it.
_PARTS = (
    ("used", USED, "used"),
    ("expired", EXPIRED, "expired unused: breakage"),
    ("voided", VOIDED, "voided (refunds, clawbacks)"),
    ("remaining", _REMAINING, "left at the end"),
    ("upcoming", _UPCOMING, "left at the end, not yet effective"),
)


def draw_breakage(found: ByGrant, scenario: Scenario, path: str | Path) -> None:
    """Draw the breakage by grant of a run (``outcome.by_grant``) to ``path`` (``.png`` or
    ``.svg``)."""
    save(breakage_figure(found, scenario), path)


def bars(found: ByGrant, scenario: Scenario) -> list[tuple[str, GrantFigures]]:
    """The bars, top to bottom: per grant, its figures (with 2 to :data:`MOST_COMPARED` groups,
    a bar per group it granted to, labelled with the group), and what each bar is called."""
    rules = scenario.sources
    several = 2 <= len(found.groups) <= MOST_COMPARED
    drawn: list[tuple[str, GrantFigures]] = []
    for r, (name, rule) in enumerate(zip(found.names, rules, strict=True)):
        details = rule_details(rule, scenario)
        per_group = [(group, figures[r]) for group, figures in found.groups.items() if figures[r] != GrantFigures()]
        if several and per_group:
            drawn.extend((f"{name}: {group}\n({details})", figures) for group, figures in per_group)
        else:
            drawn.append((f"{name}\n({details})", found.totals[r]))
    return drawn


def breakage_figure(found: ByGrant, scenario: Scenario) -> Any:
    """The breakage by grant as a matplotlib ``Figure`` (not drawn anywhere yet). Each bar is
    one grant's credit as 100%, so that a small promotion reads as well as a large paid grant;
    its label says how much that is."""
    need_matplotlib()
    from matplotlib import ticker
    from matplotlib.figure import Figure

    unit = scenario.unit

    def amount(minor: int) -> str:
        with localcontext(DECIMAL_CONTEXT):
            return f"{to_decimal(minor, scenario.scale):,}"

    drawn = bars(found, scenario)
    every = sum(found.totals, GrantFigures())
    chart = Figure(figsize=(11, max(4.6, 2.2 + 0.62 * len(drawn))), dpi=110, layout="constrained")
    axes = chart.subplots()
    rows = list(range(len(drawn)))
    base = [0.0] * len(drawn)
    for name, colour, what in _PARTS:
        total = getattr(every, name)
        if not total and name in ("voided", "upcoming"):
            continue  # none anywhere: no empty legend entry
        values = [100 * getattr(figures, name) / (figures.granted or 1) for _, figures in drawn]
        axes.barh(rows, values, left=base, height=0.62, color=colour, edgecolor="white", linewidth=0.6,
                  label=f"{what} (in all {amount(total)} {unit})")  # fmt: skip
        base = [b + v for b, v in zip(base, values, strict=True)]
    for row, (_, figures) in zip(rows, drawn, strict=True):
        label = (
            f"expired {amount(figures.expired)} of {amount(figures.granted)} {unit} ({_share(figures)})"
            if figures.granted
            else "nothing granted"
        )
        axes.annotate(label, (100, row), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8.5)
    axes.set_yticks(rows, [label for label, _ in drawn], fontsize=8.5)
    axes.invert_yaxis()  # the scenario's order, top to bottom
    axes.set_xlim(0, 140)  # the right of 100% for the labels
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.xaxis.set_major_formatter(ticker.PercentFormatter())
    axes.set_xlabel("share of what the grant granted")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(
        f"{scenario.title}\nBreakage by grant: what became of what each grant gave all {len(scenario.customers):,} "
        f"customers (seed {scenario.seed})\nin all, {amount(every.expired)} of {amount(every.granted)} {unit} "
        f"expired unused ({_share(every)})",
        loc="left",
    )  # fmt: skip
    chart.legend(loc="outside lower center", ncols=3, fontsize=8.5, frameon=False)
    return chart


def _share(figures: GrantFigures) -> str:
    share = figures.expired_share
    return "nothing granted" if share is None else f"{share}%"

"""The burn-down chart: credit left over time, by grant (schedule, top-up) and category, with
expiries and voids marked, and below it what each interval used, lost and could not cover. A
scenario that compares its groups (schedules or top-ups, and 2 to 12 groups: "refill to 100"
against "carry up to 50") gets a third panel: each group's breakage and shortfall so far. A
scenario with meters gets a panel under the burn-down: per billing month, what its invoices
came to (revenue), split into the credit applied to them and the amount due.

:func:`chart_data` turns the sampled points into the series the chart draws, in exact minor
units; :func:`draw` draws them. The chart ends on the run's final state: its last point is
the sample at the scenario's end, which is the state the summary table shows, and every
step is drawn as the value reached at the end of its interval (``step="pre"``), so the last
interval shows the final figures.

matplotlib is an optional dependency (``pip install "creditcore[plot]"``); it is imported
only when a chart is drawn. The figure is drawn without pyplot, so no window or global
state is involved. Amounts become floats in :func:`draw` and only there: they are the y
values of a picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import localcontext
from pathlib import Path
from typing import Any

import attrs

from creditcore.simulate.figures import Figures, Point
from creditcore.simulate.invoicing import Invoiced
from creditcore.simulate.model import BillingPeriod, GrantRule, Scenario, ScheduleRule, TopUpRule
from creditcore.simulate.timeline import compared_groups
from creditcore.values import DECIMAL_CONTEXT, to_decimal

FORMATS = (".png", ".svg")
# promotional credit in warm colours, paid credit in cool ones
_WARM = ("#f28e2b", "#e15759", "#edc948", "#ff9d9a", "#b07aa1", "#d37295")
_COOL = ("#4e79a7", "#59a14f", "#76b7b2", "#86bcb6", "#9c755f", "#499894")
USED, EXPIRED, VOIDED, _SHORT = "#8c8c8c", "#c0392b", "#7b3294", "#222222"
_APPLIED, _DUE = "#59a14f", "#9c755f"
# one per compared group (at most MOST_COMPARED)
_GROUPS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4",
           "#b2df8a", "#fb9a99", "#cab2d6")  # fmt: skip


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


@attrs.frozen(kw_only=True)
class ChartData:
    """What the chart draws, in minor units, one value per sampled instant."""

    times: tuple[datetime, ...]
    remaining: tuple[tuple[int, ...], ...]
    """Per rule that makes blocks (grants, schedules, top-ups): credit left in its effective
    blocks (held included)."""
    held: tuple[int, ...]
    used: tuple[int, ...]
    """Cumulative; so are ``expired``, ``voided`` and ``shortfall``."""
    expired: tuple[int, ...]
    voided: tuple[int, ...]
    shortfall: tuple[int, ...]
    """Usage no credit covered (unmet demand)."""
    final: Figures
    """The state at the last instant: the run's final totals."""
    expired_by_group: tuple[tuple[int, ...], ...] = ()
    """Per compared group (none unless the scenario compares its groups): credit expired so far."""
    shortfall_by_group: tuple[tuple[int, ...], ...] = ()
    """Per compared group: usage no credit covered so far."""
    periods: tuple[BillingPeriod, ...] = ()
    """With meters: the billing periods."""
    invoiced: tuple[Invoiced, ...] = ()
    """With meters: per billing period, what its invoices came to."""

    def per_interval(self, name: str) -> tuple[int, ...]:
        """What ``name`` (``used``, ``expired``, ``voided``, ``shortfall``) added in the
        interval that ends at each instant (the first: everything up to the first instant);
        they add up to the final total."""
        cumulative: tuple[int, ...] = getattr(self, name)
        return tuple(later - earlier for earlier, later in zip((0, *cumulative[:-1]), cumulative, strict=True))


def chart_data(points: Sequence[Point], scenario: Scenario) -> ChartData:
    """The series of the burn-down chart of ``points`` (a run's whole timeline)."""
    if not points:
        raise ValueError("a chart needs at least one sampled point")
    groups = compared_groups(scenario)
    invoiced: list[Invoiced] = []
    if scenario.billed:
        at = {p.at: p.invoiced for p in points}
        before = Invoiced()
        for period in scenario.periods:
            now = at.get(period.end) or before  # the timeline samples each period's end
            invoiced.append(Invoiced(revenue=now.revenue - before.revenue,
                                     credit_applied=now.credit_applied - before.credit_applied,
                                     amount_due=now.amount_due - before.amount_due))  # fmt: skip
            before = now
    return ChartData(
        times=tuple(p.at for p in points),
        remaining=tuple(tuple(p.remaining[i] for p in points) for i in range(len(scenario.sources))),
        held=tuple(p.figures.held for p in points),
        used=tuple(p.figures.used for p in points),
        expired=tuple(p.figures.expired for p in points),
        voided=tuple(p.figures.voided for p in points),
        shortfall=tuple(p.figures.shortfall for p in points),
        final=points[-1].figures,
        expired_by_group=tuple(tuple(p.expired_by_group[g] for p in points) for g in range(groups)),
        shortfall_by_group=tuple(tuple(p.shortfall_by_group[g] for p in points) for g in range(groups)),
        periods=scenario.periods if scenario.billed else (),
        invoiced=tuple(invoiced),
    )


def series_label(rule: GrantRule | ScheduleRule | TopUpRule, scenario: Scenario) -> str:
    """How the chart names a rule's credit: its name, category and how long it lasts."""
    return f"{rule.name} ({rule_details(rule, scenario)})"


def rule_details(rule: GrantRule | ScheduleRule | TopUpRule, scenario: Scenario) -> str:
    """A rule's category and how long its credit lasts, as the charts say it."""

    def amount(minor: int) -> str:
        with localcontext(DECIMAL_CONTEXT):
            return f"{to_decimal(minor, scenario.scale):,}"

    if isinstance(rule, GrantRule):
        lasts = f", expires after {rule.expires_after.text}" if rule.expires_after else ", never expires"
        return f"{rule.category}{lasts}"
    if isinstance(rule, ScheduleRule):
        carry = f"carries up to {amount(rule.rollover_max)}" if rule.rollover_max else "refills, nothing carried"
        return f"{rule.category}, {amount(rule.amount)} every {rule.every.text}, {carry}"
    lasts = f", expires after {rule.expires_after.text}" if rule.expires_after else ""
    return f"{rule.category} top-up at {amount(rule.threshold)} or less{lasts}"


def draw(points: Sequence[Point], scenario: Scenario, path: str | Path) -> None:
    """Draw the burn-down of ``points`` to ``path`` (``.png`` or ``.svg``). The file is the
    same for the same points: an SVG carries no date, and its ids are not random."""
    save(figure(points, scenario), path)


def save(chart: Any, path: str | Path) -> None:
    """Write a chart's ``Figure`` to ``path`` (``.png`` or ``.svg``), the same file for the same
    figure: an SVG carries no date, and its ids are not random."""
    import matplotlib

    if Path(path).suffix.lower() == ".svg":
        with matplotlib.rc_context({"svg.hashsalt": "creditcore"}):
            chart.savefig(str(path), metadata={"Date": None})
    else:
        chart.savefig(str(path))


def need_matplotlib() -> None:
    """Make sure matplotlib can be imported, and draws without a display (no pyplot, no window)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise ChartUnavailable('drawing a chart needs matplotlib: pip install "creditcore[plot]"') from None


def figure(points: Sequence[Point], scenario: Scenario) -> Any:
    """The burn-down of ``points`` as a matplotlib ``Figure`` (not drawn anywhere yet)."""
    need_matplotlib()
    from matplotlib import dates as mdates
    from matplotlib import ticker
    from matplotlib.figure import Figure

    data = chart_data(points, scenario)
    factor = float(scenario.factor)
    unit = scenario.unit

    def floats(values: Sequence[int]) -> list[float]:
        return [value / factor for value in values]

    def total(minor: int) -> str:
        with localcontext(DECIMAL_CONTEXT):
            return f"{to_decimal(minor, scenario.scale):,} {unit}"

    times = list(data.times)
    warm, cool = iter(_WARM), iter(_COOL)
    series: list[tuple[str, list[float], str]] = []
    for i, rule in enumerate(scenario.sources):
        colour = next(warm, "#bab0ac") if rule.category == "promotional" else next(cool, "#bab0ac")
        series.append((series_label(rule, scenario), floats(data.remaining[i]), colour))
    left = [sum(values) for values in zip(*(values for _, values, _ in series), strict=True)]

    billing = bool(data.periods)
    heights = (3, *((1.6,) if billing else ()), 1.5, *((1.6,) if data.expired_by_group else ()))
    chart = Figure(figsize=(11, 7.6 + 2.6 * (len(heights) - 2)), dpi=110, layout="constrained")
    panels = list(chart.subplots(len(heights), 1, sharex=True, height_ratios=heights))
    top = panels.pop(0)
    invoices = panels.pop(0) if billing else None
    bottom = panels.pop(0)
    groups = panels.pop(0) if data.expired_by_group else None
    top.stackplot(
        times,
        *[values for _, values, _ in series],
        labels=[label for label, _, _ in series],
        colors=[colour for _, _, colour in series],
        alpha=0.9,
        step="pre",
    )
    held = floats(data.held)
    if max(held, default=0) > 0.01 * max(left, default=0):
        top.step(times, held, where="pre", color="black", linewidth=1.2, linestyle="--",
                 label="of which held by running jobs")  # fmt: skip
    final = data.final
    top.set_ylabel(f"credit left ({unit})")
    at_end = f"at the end: {total(final.available)} available, {total(final.held)} held"
    if final.upcoming:
        at_end += f", {total(final.upcoming)} upcoming"
    if final.debt:
        at_end += f", {total(final.debt)} owed as debt"
    top.set_title(
        f"{scenario.title}\nCredit left in all {len(scenario.customers):,} customers' blocks, stacked by grant "
        f"(seed {scenario.seed}); {at_end}",
        loc="left",
    )
    top.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    top.grid(axis="y", alpha=0.3)
    top.margins(x=0)
    # an expiry or a void is counted at the first sample at or after it: mark it there
    for name, colour, marker, what in (
        ("expired", EXPIRED, "v", "credit expired unused"),
        ("voided", VOIDED, "X", "credit voided (refunds, clawbacks)"),
    ):
        steps = floats(data.per_interval(name))
        marks = [(t, amount) for t, amount in zip(times, steps, strict=True) if amount > 0]
        if marks:
            peak = max(amount for _, amount in marks)
            top.scatter(
                [t for t, _ in marks], [0] * len(marks), s=[24 + 120 * amount / peak for _, amount in marks],
                marker=marker, color=colour, zorder=5, clip_on=False,
                label=f"{what} (total {total(getattr(final, name))})",
            )  # fmt: skip
    # list the stack top first, as it is drawn
    handles, labels = top.get_legend_handles_labels()
    stacked = len(series)
    order = [*reversed(range(stacked)), *range(stacked, len(handles))]
    top.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left", fontsize=8.5,
               framealpha=0.95, ncols=2)  # fmt: skip
    top.set_ylim(0, max(left, default=0.0) * 1.35 or 1.0)

    # each bar covers the interval that ends at the sample which counted it (what the first
    # sample counted, at the start itself, joins the first interval)
    ends = times[1:]
    widths = [-(later - earlier).total_seconds() / 86400 for earlier, later in itertools.pairwise(times)]

    def bars(name: str) -> list[float]:
        steps = floats(data.per_interval(name))
        return [steps[0] + steps[1], *steps[2:]] if len(steps) > 1 else []

    used, expired, voided = bars("used"), bars("expired"), bars("voided")
    short = [-value for value in bars("shortfall")]
    base: list[float] = [0.0] * len(ends)
    for values, colour, label in (
        (used, USED, f"used (total {total(final.used)})"),
        (expired, EXPIRED, f"expired (total {total(final.expired)})"),
        (voided, VOIDED, f"voided (total {total(final.voided)})"),
    ):
        bottom.bar(ends, values, width=widths, align="edge", bottom=base, color=colour, label=label)
        base = [b + v for b, v in zip(base, values, strict=True)]
    bottom.bar(ends, short, width=widths, align="edge", color="white", edgecolor=_SHORT, hatch="////", linewidth=0.6,
               label=f"usage no credit covered: shortfall (total {total(final.shortfall)})")  # fmt: skip
    bottom.axhline(0, color="black", linewidth=0.8)
    every = scenario.sample_every.text.removeprefix("1 ")
    bottom.set_ylabel(f"{unit} per {every}")
    bottom.set_title(
        f"Per {every}: credit used, expired and voided (above the line); demand no credit covered (below it)",
        loc="left", fontsize=10,
    )  # fmt: skip
    bottom.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    bottom.grid(axis="y", alpha=0.3)
    lowest = min(short, default=0.0)
    highest = max(base, default=0.0)
    bottom.set_ylim(lowest * 1.15 if lowest < 0 else -0.05 * (highest or 1.0), (highest or 1.0) * 1.45)
    bottom.legend(loc="upper left", fontsize=8.5, ncols=2, framealpha=0.9)
    last = bottom
    if invoices is not None:
        _invoices(invoices, data, scenario, total)
    if groups is not None:
        _compare(groups, data, scenario, times, floats, total)
        last = groups
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    last.xaxis.set_major_locator(locator)
    last.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    last.set_xlabel("date (UTC)")
    return chart


def _invoices(axes: Any, data: ChartData, scenario: Scenario, total: Callable[[int], str]) -> None:
    """The billing panel: per billing month, its invoices' revenue (the outline) as the credit
    applied to them and the amount due (stacked)."""
    from matplotlib import ticker

    factor = float(scenario.factor)
    starts = [period.start for period in data.periods]
    widths = [(period.end - period.start).total_seconds() / 86400 for period in data.periods]
    applied = [found.credit_applied / factor for found in data.invoiced]
    due = [found.amount_due / factor for found in data.invoiced]
    revenue = [found.revenue / factor for found in data.invoiced]
    whole = sum(data.invoiced, Invoiced())
    axes.bar(starts, applied, width=widths, align="edge", color=_APPLIED, edgecolor="white", linewidth=0.8,
             label=f"credit applied (total {total(whole.credit_applied)})")  # fmt: skip
    axes.bar(starts, due, width=widths, align="edge", bottom=applied, color=_DUE, edgecolor="white", linewidth=0.8,
             label=f"amount due (total {total(whole.amount_due)})")  # fmt: skip
    axes.bar(starts, revenue, width=widths, align="edge", fill=False, edgecolor="black", linewidth=1.0,
             label=f"revenue: the invoices' totals (total {total(whole.revenue)})")  # fmt: skip
    highest = max(revenue, default=0.0)
    for start, width, value in zip(starts, widths, revenue, strict=True):
        if value > 0:
            axes.annotate(_thousands(value), (start + timedelta(days=width / 2), value), ha="center", va="bottom",
                          fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    zone = "" if scenario.timezone == "UTC" else f" in {scenario.timezone}"
    axes.set_ylabel(f"{scenario.unit} per month")
    axes.set_title(
        f"Per billing month{zone} (invoiced at its end): revenue, paid by credit applied and by the amount due",
        loc="left", fontsize=10,
    )  # fmt: skip
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    axes.grid(axis="y", alpha=0.3)
    axes.set_ylim(0, (highest or 1.0) * 1.5)
    axes.legend(loc="upper left", fontsize=8.5, ncols=3, framealpha=0.9)


def _compare(axes: Any, data: ChartData, scenario: Scenario, times: list[datetime],
             floats: Callable[[Sequence[int]], list[float]], total: Callable[[int], str]) -> None:  # fmt: skip
    """The third panel: each compared group's breakage (solid) and shortfall (dashed) so far."""
    from matplotlib import ticker

    highest = 0.0
    for g, name in enumerate(scenario.groups):
        colour = _GROUPS[g % len(_GROUPS)]
        expired, short = floats(data.expired_by_group[g]), floats(data.shortfall_by_group[g])
        axes.step(times, expired, where="pre", color=colour, linewidth=2,
                  label=f"{name}: expired (total {total(data.expired_by_group[g][-1])})")  # fmt: skip
        axes.step(times, short, where="pre", color=colour, linewidth=1.3, linestyle="--",
                  label=f"{name}: shortfall (total {total(data.shortfall_by_group[g][-1])})")  # fmt: skip
        highest = max(highest, *expired, *short)
    axes.set_ylabel(f"{scenario.unit} so far")
    axes.set_title(
        "Per group, so far: credit expired unused (breakage, solid) and demand no credit covered (shortfall, dashed)",
        loc="left", fontsize=10,
    )  # fmt: skip
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    axes.grid(axis="y", alpha=0.3)
    axes.set_ylim(0, (highest or 1.0) * 1.35)
    axes.legend(loc="upper left", fontsize=8.5, ncols=2, framealpha=0.9)


def _thousands(value: float, _position: Any = None) -> str:
    if abs(value) >= 1e9:
        return f"{value:.3g}"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}"

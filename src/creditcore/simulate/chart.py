"""The burn-down chart: credit left over time, by grant and category, with expiries marked.

matplotlib is an optional dependency (``pip install "creditcore[plot]"``); it is imported
only when a chart is drawn. The figure is drawn without pyplot, so no window or global
state is involved. Amounts become floats here and only here: they are the y values of a
picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from creditcore.simulate.engine import Point
from creditcore.simulate.scenario import Scenario

FORMATS = (".png", ".svg")
# promotional credit in warm colours, paid credit in cool ones
_WARM = ("#f28e2b", "#e15759", "#edc948", "#ff9d9a", "#b07aa1", "#d37295")
_COOL = ("#4e79a7", "#59a14f", "#76b7b2", "#86bcb6", "#9c755f", "#499894")


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def draw(points: Sequence[Point], scenario: Scenario, path: str | Path) -> None:
    """Draw the burn-down of ``points`` to ``path`` (``.png`` or ``.svg``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import dates as mdates
        from matplotlib import ticker
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartUnavailable('drawing a chart needs matplotlib: pip install "creditcore[plot]"') from None

    factor = float(scenario.factor)
    times = [p.at for p in points]
    warm, cool = iter(_WARM), iter(_COOL)
    series: list[tuple[str, list[float], str]] = []
    for i, rule in enumerate(scenario.grants):
        colour = next(warm, "#bab0ac") if rule.category == "promotional" else next(cool, "#bab0ac")
        lasts = f", expires after {rule.expires_after.text}" if rule.expires_after else ", never expires"
        label = f"{rule.name} ({rule.category}{lasts})"
        series.append((label, [p.remaining[i] / factor for p in points], colour))
    # expired and used in each interval between two samples
    expired = _steps([p.figures.expired / factor for p in points])
    used = _steps([p.figures.used / factor for p in points])

    figure = Figure(figsize=(11, 7.2), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    top.stackplot(
        times,
        *[values for _, values, _ in series],
        labels=[label for label, _, _ in series],
        colors=[colour for _, _, colour in series],
        alpha=0.9,
        step="post",
    )
    held = [p.figures.held / factor for p in points]
    if max(held, default=0) > 0.01 * max((sum(p.remaining) / factor for p in points), default=0):
        top.plot(times, held, color="black", linewidth=1.2, linestyle="--", label="of which held by running jobs")
    unit = scenario.unit
    top.set_ylabel(f"credit left ({unit})")
    top.set_title(
        f"{scenario.title}\nCredit left in all {len(scenario.customers):,} customers' blocks, stacked by grant "
        f"(seed {scenario.seed})",
        loc="left",
    )
    top.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    top.grid(axis="y", alpha=0.3)
    top.margins(x=0)
    total_expired = points[-1].figures.expired / factor if points else 0.0
    # an expiry is counted at the first sample at or after it: mark it there
    marks = [(t, e) for t, e in zip(times[1:], expired, strict=False) if e > 0]
    if marks:
        peak = max(e for _, e in marks)
        top.scatter(
            [t for t, _ in marks],
            [0] * len(marks),
            s=[24 + 120 * e / peak for _, e in marks],
            marker="v",
            color="#c0392b",
            zorder=5,
            clip_on=False,
            label=f"credit expired unused (total {_thousands(total_expired)} {unit})",
        )
    # list the stack top first, as it is drawn
    handles, labels = top.get_legend_handles_labels()
    stacked = len(series)
    order = [*reversed(range(stacked)), *range(stacked, len(handles))]
    top.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left", fontsize=8.5,
               framealpha=0.95, ncols=2)  # fmt: skip
    peak_left = max((sum(p.remaining) / factor for p in points), default=0.0)
    top.set_ylim(0, peak_left * 1.3 or 1.0)

    # each bar covers the interval that ends at the sample which counted it
    width = -_bar_width(times)
    ends = times[1:]
    bottom.bar(ends, used[:-1], width=width, align="edge", color="#8c8c8c", label=f"used ({unit})")
    bottom.bar(ends, expired[:-1], width=width, align="edge", bottom=used[:-1], color="#c0392b",
               label=f"expired ({unit})")  # fmt: skip
    every = scenario.sample_every.text.removeprefix("1 ")
    bottom.set_ylabel(f"{unit} per {every}")
    bottom.set_title(f"Credit used and expired, per {every}", loc="left", fontsize=10)
    bottom.yaxis.set_major_formatter(ticker.FuncFormatter(_thousands))
    bottom.grid(axis="y", alpha=0.3)
    bottom.legend(loc="upper left", fontsize=8.5, ncols=2, framealpha=0.9)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    bottom.set_xlabel("date (UTC)")
    figure.savefig(str(path))


def _steps(cumulative: list[float]) -> list[float]:
    """What was added between each sample and the next (the first sample is the start)."""
    return [later - earlier for earlier, later in itertools.pairwise(cumulative)] + [0.0]


def _bar_width(times: list[datetime]) -> float:
    """The sampling interval in days (matplotlib's unit for dates)."""
    if len(times) < 2:
        return 1.0
    return (times[1] - times[0]).total_seconds() / 86400


def _thousands(value: float, _position: object = None) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}"

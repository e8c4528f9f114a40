"""The chart of ``creditcore timeline --plot``: one customer's available balance over time as a
step chart (each point of :meth:`~creditcore.Ledger.timeline` holds until the next), with what
is held and owed, and the moments credit expired marked on the time axis.

It shares the simulator's burn-down's colours and file writing
(:mod:`creditcore.simulate.chart`). matplotlib is optional (``pip install
"creditcore[plot]"``) and imported only when a chart is drawn, with the Agg backend and
without pyplot: no window, no global state. Amounts become floats only here: they are the y
values of a picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from creditcore.model import BalancePoint
from creditcore.simulate.chart import EXPIRED, VOIDED, ChartUnavailable, need_matplotlib, save

__all__ = ["AVAILABLE", "ChartUnavailable", "draw", "figure"]

#: The available balance's colour: matplotlib's first.
AVAILABLE = "tab:blue"


def draw(points: Sequence[BalancePoint], path: str | Path, *, customer: str, unit: str, end: datetime) -> None:
    """Draw ``points`` to ``path`` (``.png`` or ``.svg``), the last point held until ``end``.
    Raises :class:`~creditcore.simulate.chart.ChartUnavailable` without matplotlib."""
    save(figure(points, customer=customer, unit=unit, end=end), path)


def figure(points: Sequence[BalancePoint], *, customer: str, unit: str, end: datetime) -> Any:
    """The chart of ``points`` as a matplotlib ``Figure`` (not drawn anywhere yet)."""
    if not points:
        raise ValueError("a chart needs at least one balance point")
    need_matplotlib()
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    # each point holds until the next; the last one until the end of the range
    times = [p.at for p in points]
    last = points[-1]
    if end > last.at:
        times.append(end)
        points = [*points, last]
    available = [float(p.available) for p in points]
    held = [float(p.held) for p in points]
    debt = [float(p.debt) for p in points]

    chart = Figure(figsize=(10, 5), dpi=110, layout="constrained")
    axes: Any = chart.subplots()  # matplotlib's stubs take no datetimes, which it plots
    axes.step(times, available, where="post", color=AVAILABLE, linewidth=2, label=f"available (last: {last.available})")
    axes.fill_between(times, available, step="post", color=AVAILABLE, alpha=0.15)
    if any(held):
        axes.step(times, held, where="post", color="black", linewidth=1.2, linestyle="--",
                  label=f"held by running jobs (last: {last.held})")  # fmt: skip
    if any(debt):
        axes.step(times, debt, where="post", color=VOIDED, linewidth=1.5, linestyle=":",
                  label=f"debt (last: {last.debt})")  # fmt: skip
    # a moment credit expired: the expired total rose there
    expiries = [(now.at, float(now.expired - before.expired)) for before, now in itertools.pairwise(points)
                if now.expired > before.expired]  # fmt: skip
    if expiries:
        peak = max(amount for _, amount in expiries)
        axes.scatter([at for at, _ in expiries], [0] * len(expiries),
                     s=[24 + 120 * amount / peak for _, amount in expiries], marker="v", color=EXPIRED, zorder=5,
                     clip_on=False, label=f"credit expired (total {last.expired})")  # fmt: skip
    axes.set_title(
        f"{customer}: available balance in {unit}, {points[0].at:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
        loc="left",
    )
    axes.set_ylabel(f"{unit}")
    axes.grid(axis="y", alpha=0.3)
    axes.margins(x=0)
    highest = max([*available, *held, *debt, 0.0])
    axes.set_ylim(0, highest * 1.25 or 1.0)
    axes.legend(loc="upper left", fontsize=8.5, framealpha=0.95)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_xlabel("date (UTC)")
    return chart

"""The printed table and the scaling chart of a run's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.bars import shown


def _bars(results: dict[str, Any]) -> list[str]:
    lines = []
    for source in dict.fromkeys(row["source"] for row in results["bars"]):
        lines += ["", f"== bars: {source} ==", f"{'bar':<80} {'measured':>9}  verdict"]
        for row in results["bars"]:
            if row["source"] == source:
                lines.append(f"{row['bar']:<80} {shown(row):>9}  {row['verdict']}")
                if row["detail"]:
                    lines.append(f"{'':<6}{row['detail']}")
    return lines


def _floors(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "== floors (ratio = creditcore's speed / the floor's) ==",
        f"{'figure':<70} {'creditcore/s':>12}  {'against':<14} {'other/s':>10} {'ratio':>7}",
    ]
    for figure in results["floors"].values():
        if "failed" in figure:
            lines.append(f"{figure['name']:<70} FAILED: {figure['failed']}")
            continue
        lines += _contest_rows(figure, 70, 14)
    return lines


def _contest_rows(figure: dict[str, Any], name_width: int, rival_width: int) -> list[str]:
    """A contest's rows: creditcore's rate once, then each rival's rate and ratio."""
    rows = []
    name, ours = figure["name"], f"{figure['creditcore_per_s']:,.0f}"
    for row in figure["against"]:
        start = f"{name:<{name_width}} {ours:>12}  {row['name']:<{rival_width}}"
        if "ratio" in row:
            rows.append(f"{start} {row['per_s']:>10,.0f} {row['ratio']:>7.3f}")
        else:
            rows.append(f"{start} {row.get('failed') or row.get('note')}")
        name = ours = ""
    return rows


def _postgres(results: dict[str, Any]) -> list[str]:
    postgres = results["postgres"]
    lines = ["", "== PostgreSQL (ratio = creditcore's speed / the floor's; processes: N processes / 1) =="]
    if "failed" in postgres:
        return [*lines, f"FAILED: {postgres['failed']}"]
    each = postgres.get("each_burn") or {}
    if "failed" in each:
        lines.append(f"{each['name']:<70} FAILED: {each['failed']}")
    elif each:
        lines += _contest_rows(each, 40, 20)
    processes = postgres.get("processes") or {}
    if "failed" in processes:
        lines.append(f"processes: FAILED: {processes['failed']}")
    elif processes:
        lines.append(
            f"{processes['name']:<40} {processes['many_per_s']:>12,.0f}  {'1 process':<20} "
            f"{processes['one_per_s']:>10,.0f} {processes['ratio']:>7.3f}  "
            f"({processes['burns_per_process']:,} burns a process; wall clock "
            f"{processes['many_seconds']:.2f} s vs {processes['one_seconds']:.2f} s)"
        )
    if "scaling" in postgres:
        lines += ["", "== PostgreSQL scaling, as on SQLite (microseconds per call) =="]
        lines += _curve_rows("postgres", postgres["scaling"])
    return lines


def _peers(results: dict[str, Any]) -> list[str]:
    lines = ["", "== peers (ratio = the peer's time / creditcore's: above 1, creditcore is faster) =="]
    for row in results.get("peers") or ():
        if "ratio" in row:
            lines.append(
                f"{row['name']:<16} {row['operations']:>7,} {row['unit']}: "
                f"creditcore {row['creditcore_per_s']:,.0f}/s, peer {row['per_s']:,.0f}/s, ratio {row['ratio']:.2f}"
            )
        else:
            lines.append(f"{row['name']:<16} {row.get('failed') or row.get('note')}")
        lines.append(f"{'':<17}{row['what']}")
    return lines


def _curve_rows(adapter: str, curves: dict[str, Any]) -> list[str]:
    """An adapter's history and dead-block curves (:func:`benchmarks.scaling.curves`)."""
    if "failed" in curves:
        return [f"{adapter:<7} FAILED: {curves['failed']}"]
    lines = []
    for row in curves["history"]:
        lines.append(
            f"{adapter:<7} history {row['entries']:>9,}: burn {row['burn'] * 1e6:8.1f}  balance "
            f"{row['balance'] * 1e6:8.1f}  past balance {row['past_balance'] * 1e6:10.1f}"
        )
    for row in curves["dead_blocks"]:
        lines.append(
            f"{adapter:<7} dead blocks {row['dead_blocks']:>6,}: burn {row['burn'] * 1e6:8.1f}  balance "
            f"{row['balance'] * 1e6:8.1f}"
        )
    return lines


def _curves(results: dict[str, Any]) -> list[str]:
    lines = []
    scaling = results.get("scaling") or {}
    if scaling:
        lines += ["", "== scaling (microseconds per call) =="]
    for adapter, curves in scaling.items():
        lines += _curve_rows(adapter, curves)
    corners = results.get("corners") or {}
    live = corners.get("live_blocks") or {}
    if live:
        lines += ["", "== live blocks (microseconds per call) =="]
        if "failed" in live:
            lines.append(f"FAILED: {live['failed']}")
        for adapter, rows in live.items() if "failed" not in live else ():
            for row in rows:
                lines.append(
                    f"{adapter:<7} live blocks {row['live_blocks']:>7,}: burn {row['burn'] * 1e6:9.1f}  "
                    f"balance {row['balance'] * 1e6:9.1f}"
                )
    checks = corners.get("verify_timeline") or {}
    if checks:
        lines += ["", "== verify() and timeline() over used-up blocks (milliseconds per call) =="]
        if "failed" in checks:
            lines.append(f"FAILED: {checks['failed']}")
        for adapter, rows in checks.items() if "failed" not in checks else ():
            for row in rows:
                lines.append(
                    f"{adapter:<7} {row['entries']:>7,} entries: verify {row['verify'] * 1e3:9.2f}  "
                    f"timeline {row['timeline'] * 1e3:9.2f}"
                )
    grown = corners.get("grown_ledger") or {}
    if grown:
        lines += ["", "== grown ledger: N events, N/10 ended schedules and removed alerts (microseconds per call) =="]
        if "failed" in grown:
            lines.append(f"FAILED: {grown['failed']}")
        for adapter, rows in grown.items() if "failed" not in grown else ():
            for row in rows:
                lines.append(
                    f"{adapter:<7} events {row['events']:>7,}: burn {row['burn'] * 1e6:9.1f}  "
                    f"balance {row['balance'] * 1e6:9.1f}"
                )
    return lines


def _billing(results: dict[str, Any]) -> list[str]:
    billing = results["billing"]
    lines = ["", "== billing (issue 15) =="]
    record = billing.get("record") or {}
    if "failed" in record:
        lines.append(f"record FAILED: {record['failed']}")
    elif record:
        lines += _contest_rows(record, 70, 14)
    summary = billing.get("summary") or {}
    if "failed" in summary:
        lines.append(f"summary FAILED: {summary['failed']}")
    elif summary:
        for row in summary["rows"]:
            lines.append(
                f"summary of {row['day_events']:,} of {row['own']:,} events beside {row['others']:>9,} others': "
                f"{row['summary'] * 1e3:8.2f} ms"
            )
        lines.append(f"plan: {'; '.join(summary['plan'])}")
    issue = billing.get("issue") or {}
    if "failed" in issue:
        lines.append(f"issue FAILED: {issue['failed']}")
    for adapter, found in issue.items() if "failed" not in issue else ():
        lines.append(
            f"{adapter:<7} issue of {found['lines']} lines {found['issue'] * 1e3:8.2f} ms, one burn "
            f"{found['burn'] * 1e6:8.1f} us: {found['ratio']:.1f}x"
        )
    return lines


def table(results: dict[str, Any]) -> str:
    lines = _bars(results)
    if "floors" in results:
        lines += _floors(results) + _peers(results)
    if "postgres" in results:
        lines += _postgres(results)
    lines += _curves(results)
    if results.get("billing"):
        lines += _billing(results)
    if results.get("peak"):
        lines += ["", "== peak memory ==", json.dumps(results["peak"], default=str)]
    if results.get("simulation"):
        lines += ["", "== simulation ==", json.dumps(results["simulation"], default=str)]
    if results.get("failures"):
        lines += ["", "== FAILED =="] + results["failures"]
    info = results["machine"]
    lines.append(
        f"\nmachine: {info['platform']}, {info['cpus']} CPUs, Python {info['python']}, SQLite {info['sqlite']}, "
        f"load average {info['load_average']}"
    )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(12, 9))
    history_axis, dead_axis, live_axis, check_axis = axes.flat
    styles = {"memory": "-", "sqlite": "--", "postgres": ":"}
    scaling = dict(results.get("scaling") or {})
    if "scaling" in (results.get("postgres") or {}):
        scaling["postgres"] = results["postgres"]["scaling"]
    for adapter, curves in scaling.items():
        if "failed" in curves:
            continue
        xs = [row["entries"] for row in curves["history"]]
        for name, marker in (("burn", "o"), ("balance", "s"), ("past_balance", "^")):
            ys = [row[name] * 1e6 for row in curves["history"]]
            history_axis.plot(xs, ys, styles[adapter], marker=marker, label=f"{adapter}: {name.replace('_', ' ')}")
        xs = [row["dead_blocks"] for row in curves["dead_blocks"]]
        for name, marker in (("burn", "o"), ("balance", "s")):
            ys = [row[name] * 1e6 for row in curves["dead_blocks"]]
            dead_axis.plot(xs, ys, styles[adapter], marker=marker, label=f"{adapter}: {name}")
    corners = results.get("corners") or {}
    live = corners.get("live_blocks") or {}
    for adapter, rows in live.items() if "failed" not in live else ():
        xs = [row["live_blocks"] for row in rows]
        for name, marker in (("burn", "o"), ("balance", "s")):
            live_axis.plot(
                xs, [row[name] * 1e6 for row in rows], styles[adapter], marker=marker, label=f"{adapter}: {name}"
            )
    checks = corners.get("verify_timeline") or {}
    for adapter, rows in checks.items() if "failed" not in checks else ():
        xs = [row["entries"] for row in rows]
        for name, marker in (("verify", "o"), ("timeline", "s")):
            ys = [row[name] * 1e6 for row in rows]
            check_axis.plot(xs, ys, styles[adapter], marker=marker, label=f"{adapter}: {name}()")
    for axis, xlabel, title in (
        (history_axis, "entries in the customer's history", "cost vs history"),
        (dead_axis, "used-up and expired blocks", "cost vs dead blocks"),
        (live_axis, "live blocks of the customer", "cost vs live blocks"),
        (check_axis, "entries (half of them used-up blocks)", "verify() and timeline() vs entries"),
    ):
        axis.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="microseconds per call", title=title)
        axis.grid(True, which="both", alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    info = results["machine"]
    figure.suptitle(f"creditcore scaling ({info['cpus']} CPUs, Python {info['python']}, {results['mode']} run)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

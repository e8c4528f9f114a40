"""The bars: each a ratio of figures measured in the same run, with its verdict.

Four sets. Issue 12's (the lean floor, the SQLAlchemy peer, the superlinear corners, the
simulator), issue 14's (the ledger grows: a write stays flat as a customer's schedules, alerts
and events pile up), issue 15's (billing: recording events against a raw usage table, a
summary beside others' events, an invoice's issue against a burn) and the earlier SPEC §11
bars (the floor on the ledger's own schema, the history curves, the simulation's memory,
PostgreSQL against its raw-psycopg floor, across processes and over a growing history), kept
so the sets can be read side by side. A bar whose figures a
run did not produce (a case that failed, a peer not installed, an option the command line
does not have yet, a group not run) says so instead of a verdict.
"""

from __future__ import annotations

from typing import Any

PASS, SHORT, NOT_MEASURED, NOT_AVAILABLE = "PASS", "FALL SHORT", "NOT MEASURED", "NOT AVAILABLE"
ISSUE_12, SPEC_11 = "issue 12", "SPEC §11"
ISSUE_14 = "the ledger grows (issue 14)"
ISSUE_15 = "billing (issue 15)"


class _Bars:
    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []

    def add(
        self,
        source: str,
        text: str,
        comparison: str,
        limit: float,
        measured: float | None,
        detail: str = "",
        verdict: str | None = None,
    ) -> None:
        if verdict is None:
            if measured is None:
                verdict = NOT_MEASURED
            else:
                ok = {
                    ">=": measured >= limit,
                    ">": measured > limit,
                    "<=": measured <= limit,
                    "<": measured < limit,
                }[comparison]
                verdict = PASS if ok else SHORT
        self.found.append(
            {
                "source": source,
                "bar": text,
                "measured": measured,
                "limit": limit,
                "comparison": comparison,
                "verdict": verdict,
                "detail": detail,
            }
        )


def _against(results: dict[str, Any], case: str, rival: str) -> tuple[float | None, str]:
    """The ratio of creditcore to ``rival`` in a floors case, and the two rates."""
    figure = results.get("floors", {}).get(case) or {}
    for row in figure.get("against", ()):
        if row["name"] == rival:
            if "ratio" not in row:
                return None, row.get("failed") or row.get("note") or ""
            unit = figure["unit"]
            return row["ratio"], f"{figure['creditcore_per_s']:,.0f} vs {row['per_s']:,.0f} {unit}/s"
    return None, figure.get("failed", "")


def _peer(results: dict[str, Any], name: str) -> tuple[float | None, str]:
    """The ratio of a peer's time to creditcore's, and the two rates."""
    for row in results.get("peers") or ():
        if row["name"] == name:
            if "ratio" not in row:
                return None, row.get("failed") or row.get("note") or ""
            return row["ratio"], f"{row['creditcore_per_s']:,.0f} vs {row['per_s']:,.0f} burns/s"
    return None, ""


def _rows(results: dict[str, Any], *path: str) -> list[dict[str, Any]] | None:
    found: Any = results
    for key in path:
        if not isinstance(found, dict) or key not in found:
            return None
        found = found[key]
    return found if isinstance(found, list) and len(found) >= 2 else None


def _growth(rows: list[dict[str, Any]], size: str, figure: str) -> tuple[float, str]:
    first, last = rows[0], rows[-1]
    return (
        last[figure] / first[figure],
        f"{first[figure] * 1e6:,.1f} → {last[figure] * 1e6:,.1f} µs at {first[size]:,} → {last[size]:,}",
    )


def compute(results: dict[str, Any]) -> list[dict[str, Any]]:
    bars = _Bars()
    add = bars.add

    # -- issue 12 --------------------------------------------------------------------------
    add(ISSUE_12, "memory burns ≥ 0.10x the dict floor", ">=", 0.10, *_against(results, "memory_burns", "dict floor"))
    ratio, detail = _against(results, "sqlite_each_normal", "lean floor")
    add(ISSUE_12, "SQLite, one transaction per burn, NORMAL ≥ 0.5x the lean floor", ">=", 0.5, ratio, detail)
    ratio, detail = _against(results, "sqlite_each_full", "lean floor")
    add(ISSUE_12, "SQLite, one transaction per burn, FULL ≥ 0.8x the lean floor", ">=", 0.8, ratio, detail)
    ratio, detail = _against(results, "sqlite_atomic", "lean floor")
    add(ISSUE_12, "burns inside atomic() ≥ 0.35x the lean one-transaction floor", ">=", 0.35, ratio, detail)
    ratio, detail = _against(results, "sqlite_atomic_grants", "lean floor")
    add(ISSUE_12, "grants inside atomic() ≥ 0.4x the lean one-transaction floor", ">=", 0.4, ratio, detail)
    ratio, detail = _peer(results, "SQLAlchemy Core")
    add(ISSUE_12, "faster than a hand-rolled SQLAlchemy Core burn at NORMAL (> 1x)", ">", 1.0, ratio, detail)

    corners = results.get("corners") or {}
    for adapter in ("memory", "sqlite"):
        rows = _rows(corners, "live_blocks", adapter)
        text = "a burn with 10⁴ live blocks ≤ 2x a burn with 10"
        if rows is None:
            add(ISSUE_12, f"{adapter}: {text}", "<=", 2.0, None, _failed(corners, "live_blocks"))
        else:
            text = f"a burn with {rows[-1]['live_blocks']:,} live blocks ≤ 2x a burn with {rows[0]['live_blocks']:,}"
            add(ISSUE_12, f"{adapter}: {text}", "<=", 2.0, *_growth(rows, "live_blocks", "burn"))
    for adapter in ("memory", "sqlite"):
        rows = _rows(corners, "verify_timeline", adapter)
        for call in ("verify", "timeline"):
            if rows is None:
                text = f"{adapter}: {call}() at 10x the entries ≤ 12x"
                add(ISSUE_12, text, "<=", 12.0, None, _failed(corners, "verify_timeline"))
                continue
            times = rows[-1]["entries"] / rows[0]["entries"]
            limit = 1.2 * times
            text = f"{adapter}: {call}() at {times:g}x the entries ≤ {limit:g}x"
            first, last = rows[0], rows[-1]
            detail = (
                f"{first[call] * 1e3:,.2f} → {last[call] * 1e3:,.2f} ms at {first['entries']:,} → "
                f"{last['entries']:,} entries"
            )
            add(ISSUE_12, text, "<=", limit, last[call] / first[call], detail)
    for adapter in ("memory", "sqlite"):
        rows = _rows(corners, "grown_ledger", adapter)
        if rows is None:
            text = f"{adapter}: a burn beside 10⁴ events ≤ 1.25x a burn beside 10"
            add(ISSUE_14, text, "<=", 1.25, None, _failed(corners, "grown_ledger"))
        else:
            text = f"{adapter}: a burn beside {rows[-1]['events']:,} events ≤ 1.25x a burn beside {rows[0]['events']:,}"
            add(ISSUE_14, text, "<=", 1.25, *_growth(rows, "events", "burn"))

    _billing(results.get("billing") or {}, add)

    peak = results.get("peak") or {}
    grants = peak.get("grants", 16_000)
    text = f"{grants:,} grants to one customer in one memory atomic(): peak < 100 MiB"
    if "peak_mib" in peak:
        add(ISSUE_12, text, "<", 100.0, peak["peak_mib"], f"{peak['method']}; {peak['seconds']:.1f} s")
    elif peak.get("over_limit"):
        add(ISSUE_12, text, "<", 100.0, None, "over the child's 3 GiB address-space limit", verdict=SHORT)
    elif peak.get("timed_out"):
        add(ISSUE_12, text, "<", 100.0, None, f"did not finish in {peak['seconds']:.0f} s", verdict=SHORT)
    else:
        add(ISSUE_12, text, "<", 100.0, None, peak.get("failed", ""))

    simulation = results.get("simulation") or {}
    base = simulation.get("baseline") or {}
    text = f"simulator ≥ 3x faster per event on one core than at {str(base.get('commit', ''))[:7]}"
    if base.get("speedup_by_floor") is not None:
        detail = (
            f"{simulation['us_per_event']:.2f} µs per event vs {base['us_per_event']:.2f}: "
            f"{base['speedup']:.2f}x on the clock; the verdict is against this run's floor"
        )
        add(ISSUE_12, text, ">=", 3.0, base["speedup_by_floor"], detail)
    else:
        add(ISSUE_12, text, ">=", 3.0, None, base.get("note") or simulation.get("failed", ""))
    workers = simulation.get("workers") or {}
    text = "simulate --workers 2 ≥ 1.7x faster than --workers 1, identical output"
    if workers.get("available") is False:
        add(ISSUE_12, text, ">=", 1.7, None, workers["note"], verdict=NOT_AVAILABLE)
    elif "speedup" in workers:
        detail = f"{workers['seconds_1']:.1f} s vs {workers['seconds_2']:.1f} s on {workers['cpus']} CPUs"
        if not workers["identical"]:
            add(ISSUE_12, text, ">=", 1.7, workers["speedup"], detail + "; THE OUTPUTS DIFFER", verdict=SHORT)
        else:
            add(ISSUE_12, text, ">=", 1.7, workers["speedup"], detail + "; identical output")
    else:
        add(ISSUE_12, text, ">=", 1.7, None, workers.get("failed") or simulation.get("failed", ""))

    # -- SPEC §11 ----------------------------------------------------------------------------
    add(SPEC_11, "memory burns ≥ 0.2x the dict floor", ">=", 0.2, *_against(results, "memory_burns", "dict floor"))
    for case, level in (("sqlite_each_full", "FULL"), ("sqlite_each_normal", "NORMAL")):
        ratio, detail = _against(results, case, "schema floor")
        add(SPEC_11, f"SQLite, one transaction per burn, {level} ≥ 0.7x the schema floor", ">=", 0.7, ratio, detail)
    ratio, detail = _against(results, "sqlite_atomic", "schema floor")
    add(SPEC_11, "burns inside atomic() ≥ 0.4x the schema one-transaction floor", ">=", 0.4, ratio, detail)
    ratio, detail = _against(results, "sqlite_atomic_grants", "schema floor")
    add(SPEC_11, "grants inside atomic() ≥ 0.4x the schema one-transaction floor", ">=", 0.4, ratio, detail)
    scaling = results.get("scaling") or {}
    for adapter in ("memory", "sqlite"):
        history = _rows(scaling, adapter, "history")
        dead = _rows(scaling, adapter, "dead_blocks")
        if history is None or dead is None:
            why = _failed(scaling, adapter)
            for text, limit in (("burn and balance flat over history and dead blocks", 1.25), ("past balance", 3.0)):
                add(SPEC_11, f"{adapter}: {text}", "<=", limit, None, why)
            continue
        first, last = history[0], history[-1]
        span = f"{first['entries']:,} → {last['entries']:,} entries"
        add(SPEC_11, f"{adapter}: burn, {span} ≤ 1.25x", "<=", 1.25, *_growth(history, "entries", "burn"))
        text = f"{adapter}: burn, {dead[0]['dead_blocks']:,} → {dead[-1]['dead_blocks']:,} dead blocks ≤ 1.25x"
        add(SPEC_11, text, "<=", 1.25, *_growth(dead, "dead_blocks", "burn"))
        add(SPEC_11, f"{adapter}: current balance, {span} ≤ 1.25x", "<=", 1.25, *_growth(history, "entries", "balance"))
        base = next((row for row in history if row["entries"] == 1_000), first)
        text = f"{adapter}: past balance at {last['entries']:,} ≤ 3x at {base['entries']:,} entries"
        add(SPEC_11, text, "<=", 3.0, *_growth([base, last], "entries", "past_balance"))
    postgres = results.get("postgres") or {}
    each = postgres.get("each_burn") or {}
    ratio, detail = _against({"floors": {"each": each}}, "each", "psycopg lean floor")
    text = "PostgreSQL, one transaction per burn ≥ 0.6x the raw-psycopg floor"
    add(SPEC_11, text, ">=", 0.6, ratio, detail or postgres.get("failed", ""))
    processes = postgres.get("processes") or {}
    text = "8 processes on 8 customers ≥ 3x one process (PostgreSQL)"
    if "ratio" in processes:
        detail = (
            f"{processes['many_per_s']:,.0f} vs {processes['one_per_s']:,.0f} burns/s, "
            f"{processes['burns_per_process']:,} burns a process"
        )
        if processes["processes"] != 8:
            text = f"{processes['processes']} processes on as many customers ≥ 3x one process (PostgreSQL)"
        add(SPEC_11, text, ">=", 3.0, processes["ratio"], detail)
    else:
        add(SPEC_11, text, ">=", 3.0, None, processes.get("failed") or postgres.get("failed", ""))
    pg_scaling = postgres.get("scaling") or {}
    history = _rows(pg_scaling, "history")
    text = "PostgreSQL: burn, 100 → 1,000,000 entries ≤ 1.25x, as on SQLite"
    if history is None:
        add(SPEC_11, text, "<=", 1.25, None, pg_scaling.get("failed") or postgres.get("failed", ""))
    else:
        text = f"PostgreSQL: burn, {history[0]['entries']:,} → {history[-1]['entries']:,} entries ≤ 1.25x, as on SQLite"
        add(SPEC_11, text, "<=", 1.25, *_growth(history, "entries", "burn"))
    peak_mib = simulation.get("peak_memory_mib")
    events = simulation.get("usage_events")
    text = f"simulation of {events or 0:,} usage events: peak < 1 GiB"
    add(SPEC_11, text, "<", 1.0, None if peak_mib is None else peak_mib / 1024, f"{peak_mib} MiB")
    return bars.found


def _billing(billing: dict[str, Any], add: Any) -> None:
    """Issue 15's bars: each says what it is measured against and what it shows."""
    record = billing.get("record") or {}
    ratio, detail = _against({"floors": {"record": record}}, "record", "usage floor")
    if ratio is not None:
        ours = record["creditcore_per_s"]
        floor = ours / ratio  # the ratio is the floor's time over ours
        detail += f"; {BATCH_US / ours:,.0f} vs {BATCH_US / floor:,.0f} µs a batch"
    text = "SQLite: meters.record, batches of 100, ≥ 0.5x a raw-sqlite3 executemany into an indexed usage table"
    add(ISSUE_15, text, ">=", 0.5, ratio, detail)

    summary = billing.get("summary") or {}
    rows = _rows(summary, "rows")
    text = "SQLite: a customer's period summary beside 10⁶ others' events ≤ 1.25x beside 10⁴ (index, not scan)"
    if rows is None:
        add(ISSUE_15, text, "<=", 1.25, None, str(summary.get("failed", "")))
    else:
        first, last = rows[0], rows[-1]
        text = (
            f"SQLite: a summary of {first['day_events']:,} of a customer's {first['own']:,} events beside "
            f"{last['others']:,} others' events ≤ 1.25x beside {first['others']:,} (index, not scan)"
        )
        detail = f"{first['summary'] * 1e3:,.2f} → {last['summary'] * 1e3:,.2f} ms; plan: {'; '.join(summary['plan'])}"
        ratio = last["summary"] / first["summary"]
        if not any(summary["index"] in step for step in summary["plan"]):
            add(ISSUE_15, text, "<=", 1.25, ratio, detail + f" (not {summary['index']})", verdict=SHORT)
        else:
            add(ISSUE_15, text, "<=", 1.25, ratio, detail)

    issue = billing.get("issue") or {}
    for adapter in ("memory", "sqlite"):
        found = issue.get(adapter) or {}
        lines = found.get("lines", 20)
        text = f"{adapter}: invoices.issue of a {lines}-line invoice ≤ 20x one ledger.burn"
        if "ratio" not in found:
            add(ISSUE_15, text, "<=", 20.0, None, str(issue.get("failed", "")))
        else:
            detail = f"{found['issue'] * 1e3:,.2f} ms vs {found['burn'] * 1e6:,.0f} µs"
            add(ISSUE_15, text, "<=", 20.0, found["ratio"], detail)


#: A batch's events in microseconds a second: events/s -> µs a batch of 100.
BATCH_US = 100 * 1e6


def _failed(group: dict[str, Any], key: str) -> str:
    found = group.get(key)
    return str(found.get("failed", "")) if isinstance(found, dict) else ""


def shown(row: dict[str, Any]) -> str:
    return "-" if row["measured"] is None else f"{row['measured']:.3g}"


def markdown(results: dict[str, Any]) -> str:
    """The bars as a Markdown table for the README, with the run they come from."""
    info = results["machine"]
    lines = [
        f"Bars of a `python -m benchmarks` run ({results['mode']}): {info['when']}, {info['cpus']} CPUs, "
        f"{info['platform']}, Python {info['python']}, SQLite {info['sqlite']}.",
        "",
        "| bar | measured | verdict |",
        "|---|---|---|",
    ]
    for row in results["bars"]:
        measured = shown(row) if not row["detail"] else f"{shown(row)} ({row['detail']})"
        verdict = "pass" if row["verdict"] == PASS else f"**{row['verdict'].lower()}**"
        lines.append(f"| {row['bar']} ({row['source']}) | {measured} | {verdict} |")
    return "\n".join(lines) + "\n"

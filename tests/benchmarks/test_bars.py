"""The bars read a run's figures as the issue states them: the verdict follows the ratio and
its limit, and a figure that is missing says so instead of passing."""

from __future__ import annotations

from typing import Any

from benchmarks import bars, simulation


def _find(found: list[dict[str, Any]], words: str) -> dict[str, Any]:
    (row,) = [row for row in found if words in row["bar"] and row["source"] == bars.ISSUE_12]
    return row


def _run(**figures: Any) -> dict[str, Any]:
    return {"machine": {}, "mode": "test", **figures}


def test_a_run_without_figures_measures_no_bar() -> None:
    found = bars.compute(_run())
    assert {row["verdict"] for row in found} == {bars.NOT_MEASURED}


def test_the_lean_floor_bars_pass_at_their_ratio_and_fall_short_below_it() -> None:
    def normal(ratio: float) -> dict[str, Any]:
        against = [{"name": "lean floor", "kind": "floor", "per_s": 100.0, "ratio": ratio}]
        figure = {"name": "n", "operations": 10, "unit": "burns", "creditcore_per_s": 50.0, "against": against}
        return _run(floors={"sqlite_each_normal": figure})

    assert _find(bars.compute(normal(0.5)), "NORMAL ≥ 0.5x the lean floor")["verdict"] == bars.PASS
    assert _find(bars.compute(normal(0.49)), "NORMAL ≥ 0.5x the lean floor")["verdict"] == bars.SHORT


def test_the_sqlalchemy_bar_needs_creditcore_strictly_faster() -> None:
    def core(ratio: float) -> dict[str, Any]:
        row = {"name": "SQLAlchemy Core", "kind": "peer", "per_s": 1.0, "ratio": ratio, "creditcore_per_s": 1.0}
        return _run(peers=[row])

    assert _find(bars.compute(core(1.0)), "SQLAlchemy Core")["verdict"] == bars.SHORT
    assert _find(bars.compute(core(1.01)), "SQLAlchemy Core")["verdict"] == bars.PASS


def test_live_blocks_compare_the_largest_customer_with_the_smallest() -> None:
    rows = [{"live_blocks": 10, "burn": 1.0}, {"live_blocks": 100, "burn": 9.0}, {"live_blocks": 10_000, "burn": 2.5}]
    found = bars.compute(_run(corners={"live_blocks": {"memory": rows}}))
    row = _find(found, "memory: a burn with 10,000 live blocks ≤ 2x a burn with 10")
    assert (row["measured"], row["verdict"]) == (2.5, bars.SHORT)


def test_verify_and_timeline_allow_twelve_times_the_cost_for_ten_times_the_entries() -> None:
    rows = [{"entries": 1_000, "verify": 1.0, "timeline": 1.0}, {"entries": 10_000, "verify": 12.0, "timeline": 12.1}]
    found = bars.compute(_run(corners={"verify_timeline": {"sqlite": rows}}))
    assert _find(found, "sqlite: verify() at 10x the entries ≤ 12x")["verdict"] == bars.PASS
    assert _find(found, "sqlite: timeline() at 10x the entries ≤ 12x")["verdict"] == bars.SHORT


def test_the_atomic_grants_peak_is_over_the_bar_when_the_child_hit_its_memory_limit() -> None:
    found = bars.compute(_run(peak={"grants": 16_000, "over_limit": True}))
    assert _find(found, "16,000 grants")["verdict"] == bars.SHORT


def test_the_simulator_speed_up_is_judged_against_the_floor_of_the_same_run() -> None:
    # twice as fast on the clock, but the machine was twice as fast too (its floor): no gain
    figures = {
        "us_per_event": simulation.BASELINE["us_per_event"] / 2,
        "baseline": {
            **simulation.BASELINE,
            "speedup": 2.0,
            "speedup_by_floor": 1.0,
        },
    }
    row = _find(bars.compute(_run(simulation=figures)), "simulator ≥ 3x faster")
    assert (row["measured"], row["verdict"]) == (1.0, bars.SHORT)


def test_workers_are_not_available_until_the_command_line_has_the_option() -> None:
    figures = {"workers": {"available": False, "note": "creditcore simulate has no --workers option here"}}
    row = _find(bars.compute(_run(simulation=figures)), "--workers 2")
    assert row["verdict"] == bars.NOT_AVAILABLE


def test_workers_that_print_different_summaries_fall_short_however_fast() -> None:
    workers = {"available": True, "cpus": 2, "seconds_1": 4.0, "seconds_2": 1.0, "speedup": 4.0, "identical": False}
    row = _find(bars.compute(_run(simulation={"workers": workers})), "--workers 2")
    assert row["verdict"] == bars.SHORT
    assert "DIFFER" in row["detail"]


def test_the_postgres_history_bar_compares_the_burn_at_the_largest_history_with_the_smallest() -> None:
    def run(last: float) -> dict[str, Any]:
        rows = [
            {"entries": 100, "burn": 0.002, "balance": 0.001, "past_balance": 0.004},
            {"entries": 10_000, "burn": 0.009, "balance": 0.001, "past_balance": 0.004},
            {"entries": 1_000_000, "burn": last, "balance": 0.001, "past_balance": 0.004},
        ]
        return _run(postgres={"scaling": {"history": rows, "dead_blocks": []}})

    def bar(found: list[dict[str, Any]]) -> dict[str, Any]:
        (row,) = [row for row in found if row["bar"].startswith("PostgreSQL: burn, ")]
        assert row["source"] == bars.SPEC_11
        return row

    row = bar(bars.compute(run(0.0025)))
    assert row["bar"] == "PostgreSQL: burn, 100 → 1,000,000 entries ≤ 1.25x, as on SQLite"
    assert (row["measured"], row["verdict"]) == (1.25, bars.PASS)
    assert bar(bars.compute(run(0.0026)))["verdict"] == bars.SHORT
    failed = bar(bars.compute(_run(postgres={"scaling": {"failed": "RuntimeError: the build is wrong"}})))
    assert (failed["verdict"], failed["detail"]) == (bars.NOT_MEASURED, "RuntimeError: the build is wrong")


def test_a_grown_ledger_compares_the_most_events_with_the_fewest() -> None:
    rows = [{"events": 10, "burn": 2.0}, {"events": 1_000, "burn": 9.0}, {"events": 10_000, "burn": 2.5}]
    found = bars.compute(_run(corners={"grown_ledger": {"sqlite": rows}}))
    (row,) = [row for row in found if row["source"] == bars.ISSUE_14 and row["bar"].startswith("sqlite")]
    assert row["bar"] == "sqlite: a burn beside 10,000 events ≤ 1.25x a burn beside 10"
    assert (row["measured"], row["verdict"]) == (1.25, bars.PASS)
    rows[-1]["burn"] = 2.6
    (row,) = [
        row
        for row in bars.compute(_run(corners={"grown_ledger": {"sqlite": rows}}))
        if "sqlite: a burn beside" in row["bar"]
    ]
    assert row["verdict"] == bars.SHORT
    (memory,) = [row for row in found if row["source"] == bars.ISSUE_14 and row["bar"].startswith("memory")]
    assert memory["verdict"] == bars.NOT_MEASURED


def _billing(found: list[dict[str, Any]], words: str) -> dict[str, Any]:
    (row,) = [row for row in found if words in row["bar"] and row["source"] == bars.ISSUE_15]
    return row


def test_billing_bars_read_their_ratios() -> None:
    record = {
        "name": "r", "operations": 200, "unit": "events", "creditcore_per_s": 50_000.0,
        "against": [{"name": "usage floor", "kind": "floor", "per_s": 100_000.0, "ratio": 0.5}],
    }  # fmt: skip
    rows = [
        {"others": 10_000, "own": 10_000, "day_events": 100, "summary": 0.004},
        {"others": 1_000_000, "own": 10_000, "day_events": 100, "summary": 0.005},
    ]
    plan = ["SEARCH meter_events USING INDEX meter_events_by_meter (meter_id=? AND customer=? AND at>? AND at<?)"]
    issue = {"memory": {"lines": 20, "issue": 0.002, "burn": 0.0001, "ratio": 20.0}}
    billing = {
        "record": record,
        "summary": {"rows": rows, "plan": plan, "index": "meter_events_by_meter"},
        "issue": issue,
    }
    found = bars.compute(_run(billing=billing))
    assert sum(row["source"] == bars.ISSUE_15 for row in found) == 4
    row = _billing(found, "meters.record")
    assert (row["measured"], row["verdict"]) == (0.5, bars.PASS)
    assert "2,000 vs 1,000 µs a batch" in row["detail"]
    row = _billing(found, "beside 1,000,000 others' events ≤ 1.25x beside 10,000")
    assert (row["measured"], row["verdict"]) == (1.25, bars.PASS)
    assert (_billing(found, "memory: invoices.issue")["verdict"]) == bars.PASS
    assert _billing(found, "sqlite: invoices.issue")["verdict"] == bars.NOT_MEASURED

    record["against"][0]["ratio"] = 0.49
    issue["memory"]["ratio"] = 20.1
    found = bars.compute(_run(billing=billing))
    assert _billing(found, "meters.record")["verdict"] == bars.SHORT
    assert _billing(found, "memory: invoices.issue")["verdict"] == bars.SHORT


def test_a_flat_summary_that_scans_the_table_falls_short() -> None:
    rows = [
        {"others": 10_000, "own": 10_000, "day_events": 100, "summary": 0.004},
        {"others": 1_000_000, "own": 10_000, "day_events": 100, "summary": 0.004},
    ]
    summary = {"rows": rows, "plan": ["SCAN meter_events"], "index": "meter_events_by_meter"}
    row = _billing(bars.compute(_run(billing={"summary": summary})), "summary")
    assert (row["measured"], row["verdict"]) == (1.0, bars.SHORT)
    assert "not meter_events_by_meter" in row["detail"]

"""The benchmark harness runs end to end on tiny sizes, so it cannot rot unnoticed.

This times nothing: ``--smoke`` sizes measure nothing worth reading. The figures come from
``python -m benchmarks`` (see benchmarks/run.py). A case that fails makes the runner exit 1,
so a change to the ledger that breaks a floor or a curve fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runner_writes_every_figure_and_bar(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the benchmark runner failed:\n{done.stdout}\n{done.stderr}"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["failures"] == []
    assert set(results["floors"]) == {
        "memory_burns", "memory_holds", "sqlite_each_full", "sqlite_each_normal", "sqlite_atomic",
        "sqlite_atomic_grants",
    }  # fmt: skip
    for key, figure in results["floors"].items():
        rivals = {row["name"]: row for row in figure["against"]}
        expected = {"dict floor"} if key.startswith("memory") else {"lean floor", "schema floor"}
        assert set(rivals) == expected, f"{key} is measured against {set(rivals)}"
        assert all(row["ratio"] > 0 for row in rivals.values())
    assert {row["name"] for row in results["peers"]} == {"SQLAlchemy Core", "SQLAlchemy ORM"}
    assert all("ratio" in row or "not installed" in row["note"] for row in results["peers"])
    assert set(results["postgres"]) == {"each_burn", "processes", "scaling"}
    (floor,) = results["postgres"]["each_burn"]["against"]
    assert floor["name"] == "psycopg lean floor" and floor["ratio"] > 0
    assert results["postgres"]["processes"]["processes"] == 8 and results["postgres"]["processes"]["ratio"] > 0
    history = results["postgres"]["scaling"]["history"]
    assert [row["entries"] for row in history] == [100, 1_000] and all(row["burn"] > 0 for row in history)
    assert set(results["scaling"]) == {"memory", "sqlite"}
    assert set(results["corners"]["live_blocks"]) == {"memory", "sqlite"}
    assert set(results["corners"]["verify_timeline"]) == {"memory", "sqlite"}
    grown = results["corners"]["grown_ledger"]
    assert set(grown) == {"memory", "sqlite"}
    assert all([row["events"] for row in rows] == [10, 100] for rows in grown.values())
    billing = results["billing"]
    assert billing["record"]["against"][0]["name"] == "usage floor" and billing["record"]["against"][0]["ratio"] > 0
    assert [row["others"] for row in billing["summary"]["rows"]] == [100, 1_000]
    assert any("meter_events_by_meter" in step for step in billing["summary"]["plan"])
    assert set(billing["issue"]) == {"memory", "sqlite"}
    assert results["peak"]["peak_mib"] >= 0
    assert results["simulation"]["us_per_event"] > 0
    assert "available" in results["simulation"]["workers"]

    verdicts = {row["verdict"] for row in results["bars"]}
    assert verdicts <= {"PASS", "FALL SHORT", "NOT MEASURED", "NOT AVAILABLE"}
    sources = [row["source"] for row in results["bars"]]
    assert sources.count("issue 12") == 15, "a bar of issue 12 is missing from the report"
    assert sources.count("SPEC §11") == 17, "a bar of SPEC §11 is missing from the report"
    assert sources.count("the ledger grows (issue 14)") == 2, "a bar of issue 14 is missing from the report"
    assert sources.count("billing (issue 15)") == 4, "a bar of issue 15 is missing from the report"
    measured = {row["bar"] for row in results["bars"] if row["verdict"] != "NOT MEASURED"}
    # at smoke sizes only the simulator's speed-up (measured at the baseline's size only) and
    # the SQLAlchemy bar (when SQLAlchemy is not installed) may go unmeasured
    unmeasured = {row["bar"] for row in results["bars"]} - measured
    assert all("simulator" in bar or "SQLAlchemy" in bar for bar in unmeasured), unmeasured

    assert (tmp_path / "scaling.png").stat().st_size > 0
    table = (tmp_path / "bars.md").read_text()
    assert table.count("\n| ") == len(results["bars"]) + 1  # the header, then one row a bar
    assert "== bars: issue 12 ==" in done.stdout
    assert "== bars: SPEC §11 ==" in done.stdout
    assert "== bars: the ledger grows (issue 14) ==" in done.stdout
    assert "== bars: billing (issue 15) ==" in done.stdout


def test_the_smoke_run_leaves_the_real_results_alone() -> None:
    """Without ``--out``, a smoke run writes to a new temporary directory, never over the
    figures of a full run in benchmarks/results."""
    results = ROOT / "benchmarks" / "results"
    before = {path.name: path.stat().st_mtime_ns for path in results.iterdir()} if results.exists() else {}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--only", "peak"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    after = {path.name: path.stat().st_mtime_ns for path in results.iterdir()} if results.exists() else {}
    assert after == before
    assert "creditcore-smoke-" in done.stdout


def test_the_profiles_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the profiles failed:\n{done.stdout}\n{done.stderr}"
    for name in ("profile_memory_burns.txt", "profile_sqlite_normal.txt", "profile_sqlite_grants.txt"):
        text = (tmp_path / name).read_text()
        assert "creditcore" in text or "memory ledger" in text, f"{name} is empty"

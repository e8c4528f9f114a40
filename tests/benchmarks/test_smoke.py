"""The benchmark harness runs end to end on tiny sizes, so it cannot rot unnoticed.

This times nothing: ``--smoke`` sizes measure nothing worth reading. The figures come from
``python -m benchmarks`` (see benchmarks/run.py).
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
    assert set(results["floors"]) == {
        "memory_burns", "memory_holds", "sqlite_each_full", "sqlite_each_normal", "sqlite_atomic",
        "sqlite_atomic_grants",
    }  # fmt: skip
    assert all(row["ratio"] > 0 for row in results["floors"].values())
    assert set(results["scaling"]) == {"memory", "sqlite"}
    verdicts = {row["verdict"] for row in results["bars"]}
    assert verdicts <= {"PASS", "FALL SHORT", "NOT MEASURED"}
    assert len(results["bars"]) >= 12, "a bar of SPEC §11 is missing from the report"
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert "== bars (SPEC §11) ==" in done.stdout

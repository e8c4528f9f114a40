"""Every scenario in examples/ simulates through the console script, with a chart and a CSV."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from simstorage import Storage

from creditcore.simulate import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
SCRIPT = Path(sys.executable).parent / "creditcore"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("granted", "used", "expired", "voided", "available", "held", "upcoming", "shortfall", "debt")


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "simulate", *args], capture_output=True, text=True, timeout=300)


def test_the_three_promised_examples_exist() -> None:
    assert {"ai_app.toml", "mobility.toml", "starter_credit.toml"} <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_each_example_simulates_with_a_readable_chart_and_a_timeline(example: Path, tmp_path: Path) -> None:
    from matplotlib import image

    chart, timeline = tmp_path / "chart.png", tmp_path / "timeline.csv"
    done = simulate(str(example), "--plot", str(chart), "--csv", str(timeline), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    assert summary["events"] > 1000 and summary["customers"] > 1
    assert set(summary["totals"]) == set(FIGURES)
    totals = {name: Decimal(value) for name, value in summary["totals"].items()}
    assert totals["granted"] == sum(totals[k] for k in ("available", "held", "used", "expired", "voided", "upcoming"))
    assert totals["granted"] > 0 and totals["used"] > 0
    # what the example is there to show shows: voids, expiries, debt paid off by a purchase,
    # schedules' grants and carries, top-ups
    found = load(example)
    operations = summary["operations"]
    if any(rule.void_share > 0 for rule in found.grants):
        assert operations["voids"] > 0 and totals["voided"] > 0
    if any(rule.expires_after is not None for rule in found.grants):
        assert totals["expired"] > 0
    if found.overdraft == "debt":
        assert operations["settlements"] > 0
    if found.schedules:
        assert operations["schedule_grants"] > 0 and summary["schedules_and_top_ups"]["totals"]["scheduled"] != "0"
    if any(rule.rollover_max > 0 for rule in found.schedules):
        assert operations["carries"] > 0
    if found.top_ups:
        assert operations["top_ups"] > 0

    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 30_000
    pixels = image.imread(str(chart))
    height, width = pixels.shape[:2]
    assert width >= 1000 and height >= 700
    assert pixels.std() > 0.05  # not a blank canvas

    with timeline.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 20
    assert list(rows[0])[: 1 + len(FIGURES)] == ["at", *FIGURES]
    assert {name: rows[-1][name] for name in FIGURES} == summary["totals"]


def test_the_table_summary_and_an_svg_chart(tmp_path: Path) -> None:
    chart = tmp_path / "chart.svg"
    done = simulate(str(ROOT / "examples" / "starter_credit.toml"), "--plot", str(chart))
    assert done.returncode == 0, done.stderr
    for word in ("granted", "used", "breakage", "shortfall", "debt", "stayed on trial", "bought credit", "total"):
        assert word in done.stdout, word
    assert chart.read_text().lstrip().startswith("<?xml") and "<svg" in chart.read_text()


def test_a_bad_scenario_exits_1_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[simulation]\nstart = 2026-01-01\nduration = "a while"\n')
    done = simulate(str(bad))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f'error: {bad}, line 3: simulation: duration: expected a duration such as "30 days", '
        '"12 hours" or "1 month", got \'a while\''
    )


def test_db_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "ledger.db"
    existing.write_bytes(b"")
    done = simulate(str(ROOT / "examples" / "starter_credit.toml"), "--db", str(existing))
    assert done.returncode == 2 and "exists already" in done.stderr


def test_simulate_db_leaves_a_ledger_the_admin_commands_can_read(tmp_path: Path, storage: Storage) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(
        '[simulation]\nstart = 2026-01-01\nduration = "40 days"\nseed = 9\noverdraft = "partial"\n'
        '[[customers]]\nid = "ada"\ngroup = "solo"\n'
        '[[grants]]\namount = 100\nevery = "2 weeks"\nexpires_after = "10 days"\n'
        '[[usage]]\npattern = "poisson"\nper_day = 1\namount = { distribution = "uniform", min = 1, max = 6 }\n'
        "[[jobs]]\nper_day = 0.3\namount = 20\ncapture_ratio = 0.5\n"
    )
    done = simulate(str(scenario), "--db", storage.db, "--json")
    assert done.returncode == 0, done.stderr
    group = json.loads(done.stdout)["groups"]["solo"]

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), *args, "--db", storage.db], capture_output=True, text=True, timeout=60)

    verified = admin("verify")
    assert verified.returncode == 0 and "no problems" in verified.stdout, verified.stdout
    balance = json.loads(admin("balance", "ada", "--at", "2026-02-10T00:00:00Z", "--json").stdout)
    assert {name: balance[name] for name in FIGURES if name != "shortfall"} == {
        name: group[name] for name in FIGURES if name != "shortfall"
    }
    kinds = {e["kind"] for e in json.loads(admin("entries", "ada", "--limit", "10000", "--json").stdout)["items"]}
    assert {"grant", "burn", "hold", "capture", "release", "expire"} <= kinds

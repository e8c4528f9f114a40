"""The end of a run is exclusive: whatever would fall at or after it (a job's end, a void, a
block becoming active, an expiry) is not applied, and no run crashes on it, whatever the seed."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import attrs
import pytest
from simstorage import Storage

from creditcore.simulate import Figures, Outcome, Point, Scenario, parse, run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def identity_holds(f: Figures) -> bool:
    return f.granted == f.available + f.held + f.used + f.expired + f.voided + f.upcoming


def run_keeping_points(scenario: Scenario) -> tuple[Outcome, list[Point]]:
    points: list[Point] = []
    return run(scenario, on_point=points.append), points


def smaller(example: Path, divide: int) -> Scenario:
    """The example with its populations ``divide`` times smaller (its rates, windows and
    duration as written), so that a sweep of seeds stays fast."""
    text = re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // divide)}", example.read_text())
    return parse(text, source=str(example), base=example.parent)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_for_every_seed(example: Path) -> None:
    base = smaller(example, 25)
    for seed in range(31):
        outcome, points = run_keeping_points(attrs.evolve(base, seed=seed))
        assert identity_holds(outcome.totals), seed
        assert points[-1].at == base.end and points[-1].figures == outcome.totals, seed


def test_the_ai_app_example_with_seed_13_runs_to_its_end() -> None:
    # a render started in the last minutes of the run used to end after it, and crash the run
    found = parse((ROOT / "examples" / "ai_app.toml").read_text().replace("seed = 7", "seed = 13"))
    outcome, points = run_keeping_points(found)
    assert identity_holds(outcome.totals) and points[-1].figures == outcome.totals


SHORT = """\
[simulation]
start = 2027-03-01
duration = "2 days"
seed = {seed}
overdraft = "partial"

[[customers]]
count = 6
prefix = "c-"

[[grants]]
amount = 500
every = "12 hours"
{grant}

[[jobs]]
per_day = 12
amount = 20
capture_ratio = 0.5
{job}
"""

# what each case makes fall at or after the end
LATE = {
    "jobs-longer-than-the-run": ("", 'duration = "3 days"'),
    "jobs-of-two-hours": ("", 'duration = "2 hours"'),
    "voids-after-the-end": ('void_share = 1\nvoid_after = "30 days"', ""),
    "voids-of-the-last-grants": ('void_share = 1\nvoid_after = "13 hours"', ""),
    "activations-after-the-end": ('effective_after = "1 day"\nexpires_after = "5 hours"', ""),
    "activations-at-the-end": ('effective_after = "12 hours"', ""),
    "expiries-at-and-after-the-end": ('expires_after = "12 hours"', 'duration = "9 hours"'),
}


@pytest.mark.parametrize("case", LATE.values(), ids=LATE.keys())
def test_nothing_at_or_after_the_end_is_applied(case: tuple[str, str]) -> None:
    grant, job = case
    for seed in range(5):
        found = parse(SHORT.format(seed=seed, grant=grant, job=job))
        outcome, points = run_keeping_points(found)
        assert identity_holds(outcome.totals)
        for figures in outcome.customers.values():
            assert identity_holds(figures)
        # the timeline's last point is the state at the end, as the table shows it
        assert points[-1].at == found.end and points[-1].figures == outcome.totals
        if "hours" in job or "days" in job:
            assert outcome.totals.held > 0  # jobs still running at the end keep their holds
        assert outcome.counts.holds == outcome.counts.captures + outcome.counts.releases + _running(outcome)


def _running(outcome: Outcome) -> int:
    """Holds still active at the end (each job holds the same amount)."""
    return int(outcome.totals.held // 20)


def test_a_db_run_writes_nothing_after_the_end(storage: Storage) -> None:
    grant = 'void_share = 1\nvoid_after = "13 hours"\neffective_after = "12 hours"\nexpires_after = "6 hours"'
    found = parse(SHORT.format(seed=1, grant=grant, job='duration = "3 hours"'))
    ledger = storage.open(found)
    try:
        outcome = run(found, ledger=ledger)
        assert ledger.verify().ok
        entries = ledger.entries(limit=10_000).items
        assert entries and max(e.at for e in entries) <= found.end
        # at the end itself only what the end's sweep records: expiries (and settlements)
        assert {e.kind for e in entries if e.at == found.end} <= {"expire", "settle"}
        for customer, figures in outcome.customers.items():
            balance = ledger.balance(customer, at=found.end)
            assert (balance.held, balance.available, balance.upcoming) == (
                figures.held, figures.available, figures.upcoming,
            )  # fmt: skip
    finally:
        ledger.close()


def test_a_scenario_may_start_in_the_future_with_db(storage: Storage) -> None:
    # the ledger of a --db run checks no write against the clock (future_tolerance=None)
    future = SHORT.format(seed=2, grant="", job="").replace("start = 2027-03-01", "start = 2999-01-01")
    found = parse(future)
    assert found.start > datetime.now(found.start.tzinfo)
    ledger = storage.open(found)
    try:
        outcome = run(found, ledger=ledger)
        assert ledger.future_tolerance is None
        assert ledger.balance("c-1", at=found.end).granted == outcome.customers["c-1"].granted
    finally:
        ledger.close()

"""A run on many workers gives exactly the run on one: the same summary, timeline, chart data
and per-customer figures for 1, 2 or 3 workers, any number of parts, any executor; a customer's
figures depend on nothing but the scenario and that customer."""

from __future__ import annotations

import io
import random
import re
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_engine import EVENTS, SCENARIO  # the scenario with every feature

from creditcore.simulate import Point, Scenario, ScenarioError, load, parse, run
from creditcore.simulate.chart import chart_data
from creditcore.simulate.distributions import _distribution
from creditcore.simulate.parts import narrow, split, work
from creditcore.simulate.report import TimelineCSV, as_json
from creditcore.values import MAX_MINOR, parse_amount

ROOT = Path(__file__).resolve().parents[2]


def everything(tmp_path: Path, seed: int = 3) -> Scenario:
    """Every feature at once: replays, voids, delayed grants, jobs, debt with a limit."""
    (tmp_path / "events.csv").write_text(EVENTS)
    return parse(SCENARIO.format(seed=seed), source="everything.toml", base=tmp_path)


def smaller(example: Path, divide: int) -> Scenario:
    text = re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // divide)}", example.read_text())
    return parse(text, source=str(example), base=example.parent)


def everything_a_run_shows(found: Scenario, **how: Any) -> tuple[object, ...]:
    """The summary, the CSV timeline, the chart's data and every customer's figures."""
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    outcome = run(found, on_point=keep, **how)
    return as_json(outcome), text.getvalue(), chart_data(points, found), outcome.customers, outcome.counts


@pytest.fixture(scope="module")
def processes() -> Any:
    with ProcessPoolExecutor(2) as pool:
        yield pool


def test_threads_and_any_number_of_parts_give_the_run_in_process(tmp_path: Path) -> None:
    found = everything(tmp_path)
    expected = everything_a_run_shows(found)
    with ThreadPoolExecutor(3) as pool:
        for parts in (1, 2, 3, 7, 31, 1000):
            assert everything_a_run_shows(found, executor=pool, parts=parts) == expected, parts


def test_processes_give_the_run_in_process(tmp_path: Path, processes: ProcessPoolExecutor) -> None:
    found = everything(tmp_path)
    expected = everything_a_run_shows(found)
    for parts in (None, 2, 3, 5):
        assert everything_a_run_shows(found, executor=processes, parts=parts) == expected, parts


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_gives_the_same_run_on_one_two_and_three_workers(example: Path) -> None:
    found = smaller(example, 5)
    expected = everything_a_run_shows(found)
    for workers in (1, 2, 3):
        with ThreadPoolExecutor(workers) as pool:
            assert everything_a_run_shows(found, executor=pool) == expected, workers


def test_a_customers_figures_do_not_depend_on_the_other_customers(tmp_path: Path) -> None:
    found = everything(tmp_path)
    whole = run(found)
    for customers in (range(0, 1), range(5, 12), range(30, 31)):  # acme, the replayed customer, is last
        alone = run(narrow(found, customers))
        assert alone.customers == {name: whole.customers[name] for name in found.customers[customers.start :
                                                                                          customers.stop]}  # fmt: skip


def test_more_customers_leave_the_first_ones_figures_as_they_were(tmp_path: Path) -> None:
    found = everything(tmp_path)
    # user-01 .. user-30 keep their names in a population of 60
    bigger = parse(SCENARIO.format(seed=3).replace("count = 30", "count = 60"), source="x.toml", base=tmp_path)
    first, more = run(found), run(bigger)
    assert len(more.customers) == 61
    for name, figures in first.customers.items():
        assert more.customers[name] == figures, name


def test_replayed_usage_is_run_for_its_customer(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(EVENTS)
    text = """\
[simulation]
start = 2026-01-01
duration = "60 days"
unit = "usd"
scale = 2
overdraft = "partial"

[[customers]]
count = 3
prefix = "user-"

[[customers]]
id = "acme"

[[grants]]
amount = "100.00"

[[usage]]
pattern = "replay"
file = "events.csv"
"""
    found = parse(text, base=tmp_path)
    outcome = run(found)
    assert outcome.counts.burns == 4
    assert outcome.customers["acme"].used == 420 + 105 + 2200 + 99
    assert all(outcome.customers[f"user-{i}"].used == 0 for i in (1, 2, 3))
    with ThreadPoolExecutor(2) as pool:
        assert run(found, executor=pool, parts=4) == outcome


OVERFLOW = """\
[simulation]
start = 2027-01-01
duration = "20 days"
seed = 1
overdraft = "debt"

[[customers]]
count = 9
prefix = "c-"

[[grants]]
amount = 10

[[usage]]
pattern = "poisson"
per_day = 1
customers = ["c-4", "c-7"]
amount = "9223372036854775807"
"""


def test_a_stopped_run_names_the_first_customer_that_stopped_whatever_the_workers() -> None:
    found = parse(OVERFLOW, source="s.toml")
    with pytest.raises(ScenarioError) as raised:
        run(found)
    expected = str(raised.value)
    assert "(customer 'c-4')" in expected and "64-bit" in expected and raised.value.where == "usage #1"
    with ThreadPoolExecutor(3) as pool:
        for parts in (2, 3, 9):
            with pytest.raises(ScenarioError) as again:
                run(found, executor=pool, parts=parts)
            assert str(again.value) == expected, parts


def test_a_stopped_run_in_a_worker_process_arrives_whole(processes: ProcessPoolExecutor) -> None:
    with pytest.raises(ScenarioError) as raised:
        run(parse(OVERFLOW, source="s.toml"), executor=processes, parts=3)
    assert (raised.value.source, raised.value.line, raised.value.where) == ("s.toml", 14, "usage #1")


def test_run_refuses_a_ledger_with_an_executor_and_parts_below_one(tmp_path: Path) -> None:
    found = everything(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ValueError, match="ledger or executor"):
            run(found, ledger=object(), executor=pool)  # type: ignore[arg-type]
        for parts in (0, -1, 1.5):
            with pytest.raises(ValueError, match="parts"):
                run(found, executor=pool, parts=parts)  # type: ignore[arg-type]


def progress_of(found: Scenario, **how: Any) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    run(found, on_progress=lambda done, total: seen.append((done, total)), **how)
    return seen


def test_progress_counts_up_to_the_estimated_work_in_process_and_on_workers(tmp_path: Path) -> None:
    found = everything(tmp_path)
    total = sum(work(found))
    with ThreadPoolExecutor(2) as pool:
        for seen in (progress_of(found), progress_of(found, executor=pool, parts=4)):
            assert seen[0] == (0, total) and seen[-1] == (total, total)
            assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_progress_moves_within_one_long_customers_run() -> None:
    found = parse("""\
[simulation]
start = 2026-01-01
duration = "30 days"

[[customers]]
id = "busy"

[[grants]]
amount = 1000000

[[usage]]
pattern = "poisson"
per_day = 1000
amount = 1
""")
    seen = progress_of(found)
    total = sum(work(found))
    assert len(seen) >= 2 + 30_000 // 4096 - 1 and seen[-1] == (total, total)
    assert 0 < seen[1][0] < seen[-2][0] < total


def test_an_amount_drawer_draws_what_the_distribution_draws() -> None:
    # the lognormal drawer is inlined for speed: it must round exactly the distribution's draws
    for value in (
        {"distribution": "lognormal", "median": 4, "sigma": 0.6, "max": 60},
        {"distribution": "lognormal", "median": 1e18, "sigma": 10},
        {"distribution": "uniform", "min": 1, "max": 4},
    ):
        distribution = _distribution(value, lambda v: parse_amount(str(v), 2))
        for factor in (1, 100):
            drawer, one, other = distribution.minor_drawer(factor), random.Random(5), random.Random(5)
            for _ in range(2000):
                scaled = distribution.draw(other) * factor
                assert drawer(one) == (MAX_MINOR if not scaled < MAX_MINOR else max(1, round(scaled)))


def test_parts_are_consecutive_cover_every_customer_and_share_the_work() -> None:
    found = load(ROOT / "examples" / "ai_app.toml")
    cost = work(found)
    for parts in (1, 2, 3, 8, 201, 500):
        ranges = split(cost, parts)
        assert len(ranges) == min(parts, len(cost))
        assert [c for r in ranges for c in r] == list(range(len(cost)))
    # the heavy studio customers come last: they get parts of their own
    shares = [sum(cost[r.start : r.stop]) for r in split(cost, 8)]
    assert max(shares) < 2.5 * sum(cost) / 8, shares

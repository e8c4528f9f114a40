"""The burn-down chart ends on the final state and shows shortfall and voids; a run's output
does not depend on the caller's ``decimal`` context."""

from __future__ import annotations

import decimal
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from creditcore.cli import main
from creditcore.simulate import Point, Scenario, parse, run
from creditcore.simulate.chart import chart_data, figure
from creditcore.simulate.report import TimelineCSV, as_json, operations_line, summary_table

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
FLOWS = ("used", "expired", "voided", "shortfall")


def smaller(example: Path, divide: int) -> Scenario:
    text = re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // divide)}", example.read_text())
    return parse(text, source=str(example), base=example.parent)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_chart_data_ends_on_the_final_totals(example: Path) -> None:
    fewer = smaller(example, 4)  # its own seed, then others with fewer still
    for found in (fewer, *(attrs.evolve(smaller(example, 10), seed=seed) for seed in (13, 14))):
        points: list[Point] = []
        outcome = run(found, on_point=points.append)
        data = chart_data(points, found)
        totals = outcome.totals
        assert data.times[-1] == found.end and data.final == totals
        # the stack's last value is the credit left in the table: available + held
        assert sum(series[-1] for series in data.remaining) == totals.available + totals.held
        assert data.held[-1] == totals.held
        for name in FLOWS:
            assert getattr(data, name)[-1] == getattr(totals, name), name
            assert sum(data.per_interval(name)) == getattr(totals, name), name  # the bars add up


def test_the_chart_shows_shortfall_and_voids_with_the_final_totals() -> None:
    pytest.importorskip("matplotlib")
    assert EXAMPLES[0].name == "ai_app.toml"
    text = EXAMPLES[0].read_text().replace("void_share = 0.05", "void_share = 0.5")
    found = parse(re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // 4)}", text))
    points: list[Point] = []
    outcome = run(found, on_point=points.append)
    assert outcome.totals.voided > 0 and outcome.totals.shortfall > 0
    chart = figure(points, found)
    labels = [label for axes in chart.axes for label in axes.get_legend_handles_labels()[1]]
    text = " | ".join(labels) + " | " + " ".join(axes.get_title(loc="left") for axes in chart.axes)
    for name in ("shortfall", "voided", "expired", "used"):
        assert f"{name} (total {getattr(outcome.totals, name):,} credits)" in text, (name, text)
    assert f"{outcome.totals.available:,} credits available" in text


# amounts of 8 to 12 significant digits: a context of 6 digits would round every one
CONTEXT_SCENARIO = """\
[simulation]
start = 2027-01-01
duration = "40 days"
seed = 4
unit = "usd"
scale = 2
overdraft = "debt"
debt_limit = "999.99"

[[customers]]
count = 4
prefix = "c-"

[[grants]]
amount = "123456.78"
every = "2 weeks"
expires_after = "20 days"
cost_basis = "0.0123456789"
void_share = 0.3

[[usage]]
pattern = "poisson"
per_day = 6
amount = { distribution = "lognormal", median = 4321.09, sigma = 0.8, max = 99999.99 }

[[jobs]]
per_day = 1
amount = { distribution = "uniform", min = 1000, max = 98765.43 }
capture_ratio = { distribution = "beta", a = 3, b = 2 }
"""


@contextmanager
def narrow_context() -> Iterator[None]:
    """What a host app may have set: 6 digits, and rounding raises."""
    with decimal.localcontext() as context:
        context.prec = 6
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        yield


def outputs(found: Scenario) -> tuple[object, ...]:
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    outcome = run(found, on_point=keep)
    table = io.StringIO()
    from rich.console import Console

    Console(file=table, width=250).print(summary_table(outcome))
    return (
        as_json(outcome), text.getvalue(), table.getvalue(), operations_line(outcome), chart_data(points, found),
        outcome.decimal(outcome.totals.used),
    )  # fmt: skip


def test_a_run_gives_the_same_output_whatever_the_callers_decimal_context() -> None:
    found = parse(CONTEXT_SCENARIO)
    expected = outputs(found)
    summary = expected[0]
    assert isinstance(summary, dict) and len(summary["totals"]["granted"]) > 8  # more digits than 6
    with narrow_context():
        assert outputs(found) == expected


def test_the_command_line_gives_the_same_output_whatever_the_callers_decimal_context(tmp_path: Path) -> None:
    scenario = tmp_path / "context.toml"
    scenario.write_text(CONTEXT_SCENARIO)

    def simulate(csv_name: str) -> tuple[str, str]:
        done = CliRunner().invoke(main, ["simulate", str(scenario), "--json", "--csv", str(tmp_path / csv_name)])
        assert done.exit_code == 0, (done.output, done.exception)
        return done.stdout, (tmp_path / csv_name).read_text()

    expected = simulate("default.csv")
    with narrow_context():
        assert simulate("narrow.csv") == expected

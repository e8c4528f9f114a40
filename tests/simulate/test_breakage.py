"""Breakage by grant: what each grant (schedule, top-up rule) granted, and how much of it was
used, expired unused, voided and is left, read from the run's own entries; the same in the
table, the JSON summary, the timeline CSV and the breakage chart, and always adding up to the
run's own totals."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from creditcore.cli import main
from creditcore.simulate import Outcome, Point, Scenario, open_ledger, parse, run
from creditcore.simulate.breakage import Unbalanced, check
from creditcore.simulate.figures import GrantFigures
from creditcore.simulate.report import TimelineCSV, as_json, summary_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# ada pays 1.50 a day, bob nothing; every grant goes to both. By hand, for ada: the welcome
# credit pays days 0, 1, 2 and 4 (6.00) and its 4.00 left expires at 4.5 days; the flash promo
# (granted at 2.5 days, burns first) pays day 3 (1.50) and its 1.50 left expires at 3.5 days;
# the purchase pays days 5 to 17 (19.50) and keeps 0.50, too little for day 18 on (refused);
# the gift is voided whole on day 11 (it burns last, after the purchase); the later bonus is
# granted on day 20 and is not effective until day 35, after the end. bob keeps nothing of the
# promotions, all 20.00 of his purchase, and his later bonus; his gift is voided too.
HAND = """\
[simulation]
title = "By hand"
start = 2026-01-01
duration = "30 days"
unit = "usd"
scale = 2

[[customers]]
id = "ada"
group = "pays"

[[customers]]
id = "bob"
group = "idle"

[[grants]]
name = "Welcome"
amount = "10.00"
expires_after = "108 hours"
priority = 10

[[grants]]
name = "Flash"
amount = "3.00"
from = "60 hours"
expires_after = "1 day"
priority = 5

[[grants]]
name = "Purchase"
amount = "20.00"
category = "paid"

[[grants]]
name = "Later bonus"
amount = "4.00"
from = "20 days"
effective_after = "15 days"

[[grants]]
name = "Gift"
amount = "2.00"
from = "10 days"
priority = 90
void_share = 1
void_after = "1 day"

[[usage]]
customers = ["ada"]
pattern = "fixed"
every = "1 day"
amount = "1.50"
"""


def cents(**figures: str) -> GrantFigures:
    return GrantFigures(**{name: int(Decimal(value) * 100) for name, value in figures.items()})


EXPECTED_ADA = (
    cents(granted="10.00", used="6.00", expired="4.00"),
    cents(granted="3.00", used="1.50", expired="1.50"),
    cents(granted="20.00", used="19.50", remaining="0.50"),
    cents(granted="4.00", upcoming="4.00"),
    cents(granted="2.00", voided="2.00"),
)
EXPECTED_BOB = (
    cents(granted="10.00", expired="10.00"),
    cents(granted="3.00", expired="3.00"),
    cents(granted="20.00", remaining="20.00"),
    cents(granted="4.00", upcoming="4.00"),
    cents(granted="2.00", voided="2.00"),
)


def simulate(found: Scenario) -> tuple[Outcome, list[Point], str]:
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    return run(found, on_point=keep), points, text.getvalue()


def test_each_grant_of_a_hand_checked_run_to_the_cent() -> None:
    outcome, _, _ = simulate(parse(HAND))
    found = outcome.by_grant
    assert found.names == ("Welcome", "Flash", "Purchase", "Later bonus", "Gift")
    assert found.groups == {"pays": EXPECTED_ADA, "idle": EXPECTED_BOB}
    assert found.totals == tuple(a + b for a, b in zip(EXPECTED_ADA, EXPECTED_BOB, strict=True))
    # the run's breakage is the welcome credit's and the flash promo's, 14.00 + 4.50
    assert outcome.totals.expired == 1850 == found.totals[0].expired + found.totals[1].expired
    assert outcome.totals.shortfall == 12 * 150  # days 18 to 29 refused


def test_the_summary_json_has_each_grant_as_exact_decimals() -> None:
    summary = as_json(run(parse(HAND)))
    assert summary["by_grant"]["totals"]["Welcome"] == {
        "granted": "20.00", "used": "6.00", "expired": "14.00", "voided": "0.00", "remaining": "0.00",
        "upcoming": "0.00",
    }  # fmt: skip
    assert summary["by_grant"]["groups"]["idle"]["Purchase"] == {
        "granted": "20.00", "used": "0.00", "expired": "0.00", "voided": "0.00", "remaining": "20.00",
        "upcoming": "0.00",
    }  # fmt: skip
    assert list(summary["by_grant"]["totals"]) == ["Welcome", "Flash", "Purchase", "Later bonus", "Gift"]
    assert list(summary["by_grant"]["groups"]) == ["pays", "idle"]
    added = sum(Decimal(grant["expired"]) for grant in summary["by_grant"]["totals"].values())
    assert added == Decimal(summary["totals"]["expired"]) == Decimal("18.50")


def test_the_timeline_csv_has_each_grants_figures_so_far() -> None:
    outcome, _, text = simulate(parse(HAND))
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0])
    names = outcome.by_grant.names
    at = header.index("remaining[Welcome]")
    assert header[at : at + 6 * len(names)] == [
        f"{column}[{name}]"
        for column in ("remaining", "granted", "used", "breakage", "voided", "upcoming")
        for name in names
    ]
    last = rows[-1]
    assert (last["breakage[Welcome]"], last["breakage[Flash]"], last["expired"]) == ("14.00", "4.50", "18.50")
    left = (last["remaining[Purchase]"], last["upcoming[Later bonus]"], last["voided[Gift]"])
    assert left == ("20.50", "8.00", "4.00")
    for row in rows:  # every grant adds up at every instant
        for name in names:
            granted, used, expired, voided, remaining, upcoming = (
                Decimal(row[f"{column}[{name}]"])
                for column in ("granted", "used", "breakage", "voided", "remaining", "upcoming")
            )
            assert granted == used + expired + voided + remaining + upcoming, (row["at"], name)
    # before the welcome credit lapses (4.5 days) nothing of it has broken
    day_4 = next(row for row in rows if row["at"].startswith("2026-01-05T00:00"))
    assert (day_4["breakage[Welcome]"], day_4["breakage[Flash]"]) == ("0.00", "4.50")


def test_the_table_shows_each_grant_per_group_and_in_all() -> None:
    table = io.StringIO()
    Console(file=table, width=250).print(summary_table(run(parse(HAND))))
    text = table.getvalue()
    assert "Breakage by grant, amounts in usd" in text
    lines = [line for line in text.splitlines() if "│" in line]

    def row(*cells: str) -> list[str]:
        found = [line for line in lines if [c.strip() for c in line.split("│")[1:3]] == list(cells)]
        assert len(found) == 1, (cells, text)
        return [c.strip() for c in found[0].split("│")[3:-1]]

    # granted, used, expired, expired share, voided, remaining, upcoming
    assert row("Welcome", "pays") == ["10.00", "6.00", "4.00", "40.0%", "0.00", "0.00", "0.00"]
    assert row("Welcome", "all") == ["20.00", "6.00", "14.00", "70.0%", "0.00", "0.00", "0.00"]
    assert row("Flash", "idle") == ["3.00", "0.00", "3.00", "100.0%", "0.00", "0.00", "0.00"]
    assert row("total", "") == ["78.00", "27.00", "18.50", "23.7%", "4.00", "20.50", "8.00"]


def test_a_grant_to_one_group_has_one_row_and_one_group_no_group_column() -> None:
    one_group = HAND.replace('group = "idle"', 'group = "pays"')
    table = io.StringIO()
    Console(file=table, width=250).print(summary_table(run(parse(one_group))))
    text = table.getvalue()
    breakage = text[text.index("Breakage by grant") :]
    assert "group" not in breakage.splitlines()[2] and "all" not in breakage


def test_the_figures_are_the_same_in_parts_on_an_executor() -> None:
    found = rich(5, "debt")
    whole = run(found)
    with ThreadPoolExecutor(2) as pool:
        assert run(found, executor=pool, parts=3).by_grant == whole.by_grant


# schedules with rollover, top-ups, jobs, single-use and scoped grants, voids and debt
RICH = """\
[simulation]
start = 2026-01-01
duration = "45 days"
seed = {seed}
unit = "usd"
scale = 2
overdraft = "{overdraft}"{limit}
sample_every = "1 day"

[[customers]]
count = 4
prefix = "plan-"
group = "plan"

[[customers]]
count = 3
prefix = "payg-"
group = "payg"

[[grants]]
name = "Promo"
amount = "6.00"
every = "10 days"
expires_after = "6 days"
effective_after = "1 day"
priority = 5
scope = ["chat"]
void_share = 0.3
void_after = "2 days"

[[grants]]
name = "Voucher"
group = "payg"
amount = "4.00"
every = "2 weeks"
single_use = true
expires_after = "9 days"

[[schedules]]
name = "Plan"
group = "plan"
amount = "8.00"
every = "1 week"
rollover_max = "3.00"
priority = 20

[[top_ups]]
name = "Auto"
group = "payg"
threshold = "1.00"
amount = "5.00"
expires_after = "8 days"

[[usage]]
pattern = "poisson"
per_day = 1.5
scope = "chat"
amount = {{ distribution = "lognormal", median = 0.9, sigma = 0.7, max = 6 }}

[[jobs]]
per_day = 0.4
amount = {{ distribution = "uniform", min = 0.5, max = 3 }}
capture_ratio = {{ distribution = "beta", a = 3, b = 2 }}
release_share = 0.2
duration = "3 hours"
"""


def rich(seed: int, overdraft: str) -> Scenario:
    limit = '\ndebt_limit = "2.00"' if overdraft == "debt" else ""
    return parse(RICH.format(seed=seed, overdraft=overdraft, limit=limit))


def assert_adds_up(outcome: Outcome, points: list[Point]) -> None:
    """Every grant's figures add up, at every sampled instant and at the end, in all and per
    group, to the run's own totals."""
    found = outcome.by_grant
    check(found, outcome.totals, outcome.groups)  # the run checked it too; say so here
    for point in points:
        added = sum(point.grants, GrantFigures())
        f = point.figures
        assert [grant.unaccounted for grant in point.grants] == [0] * len(found.names), point.at
        assert added == GrantFigures(
            granted=f.granted, used=f.used, expired=f.expired, voided=f.voided, remaining=f.available + f.held,
            upcoming=f.upcoming,
        ), point.at  # fmt: skip
    assert points[-1].grants == found.totals
    assert sum(grant.expired for grant in found.totals) == outcome.totals.expired
    for name, figures in outcome.groups.items():
        assert sum(grant.expired for grant in found.groups[name]) == figures.expired


@pytest.mark.parametrize("overdraft", ["reject", "partial", "debt"])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_grant_adds_up_with_schedules_top_ups_jobs_and_debt(seed: int, overdraft: str) -> None:
    outcome, points, _ = simulate(rich(seed, overdraft))
    totals = outcome.totals
    assert min(totals.expired, totals.voided, totals.carried, totals.topped_up, totals.used) > 0
    assert_adds_up(outcome, points)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_grant_of_every_example_adds_up(example: Path) -> None:
    import re

    smaller = re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // 10)}", example.read_text())
    outcome, points, _ = simulate(parse(smaller, source=str(example), base=example.parent))
    assert_adds_up(outcome, points)


DURATIONS = st.sampled_from([None, "12 hours", "2 days", "1 week"])


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    """A small scenario with 1 to 3 grants, maybe a schedule and a top-up rule, usage and jobs."""
    lines = [
        "[simulation]", "start = 2026-01-01", 'duration = "20 days"', f"seed = {draw(st.integers(0, 99))}",
        'unit = "usd"', "scale = 2", f'overdraft = "{draw(st.sampled_from(["reject", "partial", "debt"]))}"',
        'sample_every = "1 day"',
        "[[customers]]", f"count = {draw(st.integers(1, 3))}", 'prefix = "a-"', 'group = "a"',
        "[[customers]]", f"count = {draw(st.integers(1, 3))}", 'prefix = "b-"', 'group = "b"',
    ]  # fmt: skip
    for n in range(draw(st.integers(1, 3))):
        lines += ["[[grants]]", f'name = "g{n}"', f'amount = "{draw(st.integers(1, 2000)) / 100:.2f}"']
        for key in ("every", "expires_after", "effective_after"):
            if (value := draw(DURATIONS)) is not None:
                lines.append(f'{key} = "{value}"')
        lines.append(f"priority = {draw(st.integers(0, 100))}")
        if draw(st.booleans()):
            lines += ["void_share = 0.5", 'void_after = "1 day"']
        if draw(st.booleans()):
            lines.append("single_use = true")
        if draw(st.booleans()):
            lines.append('group = "a"')
    if draw(st.booleans()):
        lines += ["[[schedules]]", 'group = "b"', 'amount = "5.00"', 'every = "1 week"',
                  f'rollover_max = "{draw(st.integers(0, 500)) / 100:.2f}"']  # fmt: skip
    if draw(st.booleans()):
        lines += ["[[top_ups]]", 'group = "a"', 'threshold = "0.50"', 'amount = "3.00"',
                  f'expires_after = "{draw(st.sampled_from(["1 day", "1 week"]))}"']  # fmt: skip
    lines += ["[[usage]]", 'pattern = "poisson"', f"per_day = {draw(st.sampled_from([0.5, 2, 6]))}",
              'amount = { distribution = "lognormal", median = 0.8, sigma = 0.8, max = 10 }']  # fmt: skip
    if draw(st.booleans()):
        lines += ["[[jobs]]", "per_day = 1", 'amount = { distribution = "uniform", min = 0.1, max = 4 }',
                  "capture_ratio = 0.5", "release_share = 0.3", 'duration = "5 hours"']  # fmt: skip
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=scenarios())
def test_every_grant_adds_up_whatever_the_scenario(text: str) -> None:
    outcome, points, _ = simulate(parse(text))
    assert_adds_up(outcome, points)


def test_the_figures_are_those_of_the_written_ledgers_entries(tmp_path: Path) -> None:
    """Read back from a ``--db`` ledger, each grant's blocks' entries give its figures."""
    found = rich(3, "debt")
    ledger = open_ledger(found, str(tmp_path / "sim.db"))
    try:
        outcome = run(found, ledger=ledger)
        moved: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        sign = {"grant": ("granted", 1), "burn": ("used", 1), "capture": ("used", 1), "settle": ("used", 1),
                "expire": ("expired", 1), "void": ("voided", 1)}  # fmt: skip
        for customer in found.customers:
            rule = {block.id: block.description for block in ledger.blocks(customer, unit="usd", include_inactive=True)}
            page = ledger.entries(customer, limit=10_000)
            assert page.next_cursor is None
            for entry in page.items:
                if entry.block_id is not None and entry.kind in sign:
                    name, direction = sign[entry.kind]
                    moved[rule[entry.block_id] or "Auto"][name] += direction * entry.amount  # a top-up: no description
    finally:
        ledger.close()
    for name, grant in outcome.by_grant.items():
        assert {figure: moved[name][figure] for figure in ("granted", "used", "expired", "voided")} == {
            figure: outcome.decimal(getattr(grant, figure)) for figure in ("granted", "used", "expired", "voided")
        }, name


def test_a_run_whose_grants_do_not_add_up_is_refused_by_the_check() -> None:
    outcome = run(parse(HAND))
    found = outcome.by_grant
    leaking = attrs.evolve(found.totals[0], expired=found.totals[0].expired - 1)
    with pytest.raises(Unbalanced, match="'Welcome' in all: granted 2000 is not used \\+ expired"):
        check(attrs.evolve(found, totals=(leaking, *found.totals[1:])), outcome.totals, outcome.groups)
    moved = attrs.evolve(found.totals[0], expired=found.totals[0].expired - 1, remaining=1)
    with pytest.raises(Unbalanced, match="the grants' figures in all add up to"):
        check(attrs.evolve(found, totals=(moved, *found.totals[1:])), outcome.totals, outcome.groups)
    check(found, outcome.totals, outcome.groups)  # the run's own figures pass


# -- the chart and the command line --------------------------------------------------------------


def test_the_breakage_chart_has_a_bar_per_grant_and_group() -> None:
    pytest.importorskip("matplotlib")
    from creditcore.simulate.breakage_chart import bars, breakage_figure

    found = parse(HAND)
    outcome = run(found)
    drawn = bars(outcome.by_grant, found)
    assert [label.splitlines()[0] for label, _ in drawn] == [
        f"{name}: {group}" for name in outcome.by_grant.names for group in ("pays", "idle")
    ]
    assert drawn[0] == ("Welcome: pays\n(promotional, expires after 108 hours)", EXPECTED_ADA[0])
    chart = breakage_figure(outcome.by_grant, found)
    (axes,) = chart.axes
    texts = [text.get_text() for text in axes.texts]
    assert "expired 4.00 of 10.00 usd (40.0%)" in texts and "expired 3.00 of 3.00 usd (100.0%)" in texts
    assert "in all, 18.50 of 78.00 usd expired unused (23.7%)" in axes.get_title(loc="left")
    legend = [text.get_text() for text in chart.legends[0].get_texts()]
    assert legend == [
        "used (in all 27.00 usd)", "expired unused: breakage (in all 18.50 usd)",
        "voided (refunds, clawbacks) (in all 4.00 usd)", "left at the end (in all 20.50 usd)",
        "left at the end, not yet effective (in all 8.00 usd)",
    ]  # fmt: skip


def test_one_group_has_a_bar_per_grant() -> None:
    pytest.importorskip("matplotlib")
    from creditcore.simulate.breakage_chart import bars

    found = parse(HAND.replace('group = "idle"', 'group = "pays"'))
    outcome = run(found)
    assert [label.splitlines()[0] for label, _ in bars(outcome.by_grant, found)] == list(outcome.by_grant.names)


def write_hand(tmp_path: Path) -> Path:
    scenario = tmp_path / "hand.toml"
    scenario.write_text(HAND)
    return scenario


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_the_command_line_draws_the_breakage_chart(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / f"breakage{suffix}"
    done = CliRunner().invoke(main, ["simulate", str(write_hand(tmp_path)), "--plot", str(chart), "--chart",
                                     "breakage", "--json"])  # fmt: skip
    assert done.exit_code == 0, (done.output, done.exception)
    assert json.loads(done.stdout)["by_grant"]["totals"]["Flash"]["expired"] == "4.50"
    data = chart.read_bytes()
    if suffix == ".png":
        assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    else:
        assert b"<svg" in data and b"Breakage by grant" in data


def test_the_command_line_prints_the_breakage_table_and_names_the_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "breakage.png"
    done = CliRunner().invoke(main, ["simulate", str(write_hand(tmp_path)), "--plot", str(chart), "--chart",
                                     "breakage"])  # fmt: skip
    assert done.exit_code == 0, (done.output, done.exception)
    assert "Breakage by grant" in done.stdout and f"chart: {chart}" in done.stdout
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_the_burn_down_is_still_what_plot_draws_unless_told(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    for args, name in (([], "default.svg"), (["--chart", "burn-down"], "named.svg")):
        chart = tmp_path / name
        done = CliRunner().invoke(main, ["simulate", str(write_hand(tmp_path)), "--plot", str(chart), *args])
        assert done.exit_code == 0, (done.output, done.exception)
        assert "Credit left in all 2 customers" in chart.read_text()
    assert (tmp_path / "default.svg").read_text() == (tmp_path / "named.svg").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--chart", "pie", "--plot", "x.png"],
            "error: usage: Invalid value for '--chart': 'pie' is not one of 'burn-down', 'breakage'.",
        ),
        (
            ["--chart", "breakage"],
            "error: usage: --chart breakage says what --plot draws: add --plot FILE.png (or .svg)",
        ),
        (
            ["--chart", "breakage", "--plot", "x.pdf"],
            "error: usage: Invalid value for --plot: 'x.pdf': the chart is written as .png or .svg",
        ),
    ],
)
def test_a_bad_chart_option_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["simulate", str(write_hand(tmp_path)), *args])
    assert done.exit_code == 2, done.output
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.glob("x.*"))


def test_the_promotions_example_shows_which_promotion_breaks() -> None:
    outcome = run(parse((EXAMPLES / "promotions.toml").read_text()))
    shares = {name: grant.expired_share for name, grant in outcome.by_grant.items()}
    assert shares == {
        "Weekend flash promo": Decimal("63.4"),
        "Welcome credit": Decimal("33.4"),
        "Loyalty reward": Decimal("0.1"),
        "Wallet top-up": Decimal("0.0"),
    }
    flash = outcome.by_grant.totals[1]
    assert (flash.expired, flash.granted) == (95095, 150000)
    occasional = outcome.by_grant.groups["occasional"]
    assert occasional[1].expired_share == Decimal("78.6") and occasional[0].expired_share == Decimal("49.6")
    assert outcome.totals.expired == 175371 == sum(grant.expired for grant in outcome.by_grant.totals)

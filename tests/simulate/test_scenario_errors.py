"""A bad scenario is refused with one line naming the key and the line it is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditcore.simulate import ScenarioError, parse
from creditcore.simulate.scenario import Duration, locate, parse_duration

GOOD = """\
[simulation]
start = 2026-01-01
end = 2026-03-01
seed = 1

[[customers]]
count = 3
prefix = "u-"
group = "free"

[[grants]]
name = "Promo"
amount = 10
every = "1 month"
expires_after = "30 days"

[[usage]]
pattern = "poisson"
per_day = 1
amount = { distribution = "uniform", min = 1, max = 3 }
"""


def with_change(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# (the scenario, the key the message must name, the line it must name, a phrase of the message)
BAD = {
    "start-not-a-date": (with_change("start = 2026-01-01", 'start = "soon"'), "simulation: start", 2, "date"),
    "end-before-start": (with_change("end = 2026-03-01", "end = 2025-03-01"), "simulation: end", 3, "after start"),
    "seed-not-an-integer": (with_change("seed = 1", 'seed = "x"'), "simulation: seed", 4, "integer"),
    "typo-in-a-key": (with_change("seed = 1", "sead = 1"), "simulation: sead", 4, "did you mean 'seed'"),
    "unknown-table": (GOOD + "\n[[usages]]\npattern = 'fixed'\n", "usages", 22, "did you mean 'usage'"),
    "count-zero": (with_change("count = 3", "count = 0"), "customers #1: count", 7, "between 1"),
    "amount-negative": (with_change("amount = 10", "amount = -10"), "grants #1: amount", 13, "more than zero"),
    "amount-too-precise": (with_change("amount = 10", 'amount = "10.5"'), "grants #1: amount", 13, "decimal place"),
    "bad-duration": (with_change('every = "1 month"', 'every = "monthly"'), "grants #1: every", 14, "duration"),
    "bad-category": (
        with_change('expires_after = "30 days"', 'expires_after = "30 days"\ncategory = "gift"'),
        "grants #1: category",
        16,
        "promotional",
    ),
    "unknown-group": (
        with_change('name = "Promo"', 'name = "Promo"\ngroup = "pro"'),
        "grants #1: group",
        13,
        "no customers",
    ),
    "bad-pattern": (with_change('pattern = "poisson"', 'pattern = "bursty"'), "usage #1: pattern", 18, "poisson"),
    "missing-rate": (with_change("per_day = 1\n", ""), "usage #1", 17, "per_day"),
    "bad-distribution": (
        with_change('distribution = "uniform"', 'distribution = "gaussian"'),
        "usage #1: amount",
        20,
        "lognormal",
    ),
    "min-above-max": (with_change("min = 1, max = 3", "min = 5, max = 3"), "usage #1: amount", 20, "less than min"),
    "no-grants": (GOOD.split("[[grants]]")[0] + GOOD.split('expires_after = "30 days"\n')[1], "grants", None, ""),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_scenarios_name_the_key_and_line(case: tuple[str, str, int | None, str]) -> None:
    text, where, line, phrase = case
    with pytest.raises(ScenarioError) as raised:
        parse(text, source="s.toml")
    error = raised.value
    assert error.where == where, str(error)
    assert error.line == line, str(error)
    assert phrase in error.message, str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(f"s.toml, line {line}: " if line else "s.toml: ")


def test_invalid_toml_reports_the_parser_position() -> None:
    with pytest.raises(ScenarioError, match=r"not valid TOML: .*line 2"):
        parse("[simulation]\nstart = = 1\n", source="s.toml")


def test_replay_rows_are_checked_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(
        "timestamp,customer,amount\n2026-01-02T10:00:00Z,u-1,3\n2026-01-02T11:00:00Z,ghost,2\n"
    )
    text = with_change('pattern = "poisson"\nper_day = 1\namount = { distribution = "uniform", min = 1, max = 3 }',
                       'pattern = "replay"\nfile = "events.csv"')  # fmt: skip
    with pytest.raises(ScenarioError) as raised:
        parse(text, source="s.toml", base=tmp_path)
    assert raised.value.line == 3 and raised.value.where == "customer" and "ghost" in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path / "events.csv"))


def test_the_good_scenario_parses() -> None:
    scenario = parse(GOOD)
    assert scenario.customers == ("u-1", "u-2", "u-3")
    assert scenario.grants[0].amount == 10 and scenario.grants[0].every == parse_duration("1 month")


def test_a_month_after_the_31st_is_the_end_of_the_next_month() -> None:
    from datetime import UTC, datetime

    month = parse_duration("1 month")
    start = datetime(2026, 1, 31, tzinfo=UTC)
    assert [month.after(start, k).day for k in range(4)] == [31, 28, 31, 30]
    assert Duration(seconds=86400).after(start) == datetime(2026, 2, 1, tzinfo=UTC)


def test_locate_finds_the_nth_table_and_its_key() -> None:
    text = "[[grants]]\namount = 1\n\n[[grants]]\nname = 'x'\namount = 2\n"
    assert locate(text, ("grants", 1, "amount")) == 6
    assert locate(text, ("grants", 1, "missing")) == 4

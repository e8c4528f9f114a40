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


RECURRING = """\
[simulation]
start = 2026-01-01
end = 2026-04-01
unit = "usd"
scale = 2

[[customers]]
count = 3
prefix = "u-"
group = "plan"

[[customers]]
id = "ada"
group = "payg"

[[schedules]]
name = "Plan"
group = "plan"
amount = "10.00"
every = "1 month"
rollover_max = "5.00"

[[top_ups]]
group = "payg"
threshold = "1.00"
amount = "10.00"

[[usage]]
pattern = "fixed"
every = "1 day"
amount = "0.25"
"""


def recurring_with(old: str, new: str) -> str:
    assert old in RECURRING, old
    return RECURRING.replace(old, new, 1)


# (the scenario, the key the message must name, its line, a phrase of the message)
BAD_RECURRING = {
    "typo-in-the-table-name": (
        recurring_with("[[schedules]]", "[[schedule]]"), "schedule", 16, "did you mean 'schedules'",
    ),
    "schedule-without-every": (recurring_with('every = "1 month"\n', ""), "schedules #1", 16, "missing key 'every'"),
    "schedule-every-zero": (
        recurring_with('every = "1 month"', 'every = "0 days"'), "schedules #1: every", 20, "longer than zero",
    ),
    "schedule-every-not-a-duration": (
        recurring_with('every = "1 month"', 'every = "monthly"'), "schedules #1: every", 20, "duration",
    ),
    "schedule-every-past-the-range-of-times": (
        recurring_with('every = "1 month"', 'every = "10000 years"'), "schedules #1: every", 20, "range",
    ),
    "schedule-without-amount": (recurring_with('amount = "10.00"\nevery', "every"), "schedules #1", 16, "amount"),
    "schedule-granting-nothing": (
        recurring_with('amount = "10.00"\nevery', 'amount = 0\nevery'), "schedules #1: amount", 19, "nothing would",
    ),
    "schedule-negative-rollover": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "-5.00"'), "schedules #1: rollover_max", 21,
        "zero or more",
    ),
    "schedule-rollover-too-precise": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "5.001"'), "schedules #1: rollover_max", 21,
        "decimal place",
    ),
    "schedule-with-an-expiry": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "5.00"\nexpires_after = "30 days"'),
        "schedules #1: expires_after", 22, "unknown key",
    ),
    "schedule-bad-category": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "5.00"\ncategory = "gift"'),
        "schedules #1: category", 22, "promotional",
    ),
    "schedule-single-use-not-a-flag": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "5.00"\nsingle_use = 1'),
        "schedules #1: single_use", 22, "true or false",
    ),
    "schedule-until-before-from": (
        recurring_with('rollover_max = "5.00"', 'rollover_max = "5.00"\nfrom = "40 days"\nuntil = "10 days"'),
        "schedules #1: until", 23, "after from",
    ),
    "schedule-unknown-group": (
        recurring_with('group = "plan"\namount', 'group = "pro"\namount'), "schedules #1: group", 18, "no customers",
    ),
    "top-up-with-amount-and-target": (
        recurring_with('amount = "10.00"\n\n[[usage]]', 'amount = "10.00"\ntarget = "20.00"\n\n[[usage]]'),
        "top_ups #1: target", 27, "not both",
    ),
    "top-up-without-amount-or-target": (
        recurring_with('threshold = "1.00"\namount = "10.00"', 'threshold = "1.00"'), "top_ups #1", 23, "or target",
    ),
    "top-up-target-at-the-threshold": (
        recurring_with('amount = "10.00"\n\n[[usage]]', 'target = "1.00"\n\n[[usage]]'),
        "top_ups #1: target", 26, "more than the threshold (1.00)",
    ),
    "top-up-threshold-not-a-number": (
        recurring_with('threshold = "1.00"', 'threshold = "low"'), "top_ups #1: threshold", 25, "not a number",
    ),
    "top-up-without-threshold": (
        recurring_with('threshold = "1.00"\n', ""), "top_ups #1", 23, "missing key 'threshold'",
    ),
    "top-up-amount-zero": (
        recurring_with('amount = "10.00"\n\n[[usage]]', 'amount = 0\n\n[[usage]]'),
        "top_ups #1: amount", 26, "more than zero",
    ),
    "top-up-expiring-at-once": (
        recurring_with('threshold = "1.00"', 'threshold = "1.00"\nexpires_after = "0 days"'),
        "top_ups #1: expires_after", 26, "longer than zero",
    ),
    "top-up-bad-category": (
        recurring_with('threshold = "1.00"', 'threshold = "1.00"\ncategory = "credit"'),
        "top_ups #1: category", 26, "paid",
    ),
    "two-top-up-rules-for-one-customer": (
        recurring_with("[[usage]]", '[[top_ups]]\ngroup = "payg"\nthreshold = 0\ntarget = 5\n\n[[usage]]'),
        "top_ups #2: group", 29, "one rule at most",
    ),
    "no-credit-at-all": (
        RECURRING.split("[[schedules]]")[0] + "[[usage]]" + RECURRING.split("[[usage]]")[1], "grants", None,
        "[[schedules]] or [[top_ups]]",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_RECURRING.values(), ids=BAD_RECURRING.keys())
def test_bad_schedules_and_top_ups_name_the_key_and_line(case: tuple[str, str, int | None, str]) -> None:
    test_bad_scenarios_name_the_key_and_line(case)


def test_schedules_and_top_ups_parse_in_the_units_minor_units() -> None:
    scenario = parse(RECURRING)
    (schedule,) = scenario.schedules
    assert (schedule.amount, schedule.rollover_max, schedule.rollover_min, schedule.first_amount) == (
        1000,
        500,
        0,
        None,
    )
    assert schedule.window.customers == (0, 1, 2) and schedule.window.ends == scenario.end
    (top_up,) = scenario.top_ups
    assert (top_up.threshold, top_up.amount, top_up.target, top_up.category) == (100, 1000, None, "paid")
    assert top_up.name == "top-up 1" and top_up.window.customers == (3,)
    negative = parse(RECURRING.replace('threshold = "1.00"\namount = "10.00"', 'threshold = "-50"\ntarget = "-20.5"'))
    assert (negative.top_ups[0].threshold, negative.top_ups[0].target) == (-5000, -2050)

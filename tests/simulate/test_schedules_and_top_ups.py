"""Scenarios with ``[[schedules]]`` (recurring grants with rollover, SPEC §17) and ``[[top_ups]]``
(auto top-up, SPEC §18): the figures they make, the timeline and the report that show them,
the same run on any number of workers, and a ``--db`` ledger that agrees with the run."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from simstorage import Storage

from creditcore.simulate import Figures, Outcome, Point, Scenario, ScenarioError, parse, run
from creditcore.simulate.chart import chart_data
from creditcore.simulate.parts import narrow
from creditcore.simulate.report import TimelineCSV, as_json, operations_line, summary_table

# one customer per policy and a usage of 0.25 a day at midnight, so every figure can be
# worked out by hand: January has 31 days, February 28, March 31; the run ends on 6 April
FIXED = """\
[simulation]
start = 2026-01-01
duration = "95 days"
unit = "usd"
scale = 2

[[customers]]
id = "refill"
group = "refill"

[[customers]]
id = "carry"
group = "carry"

[[customers]]
id = "payg"
group = "payg"

[[schedules]]
name = "Refill"
group = "refill"
amount = "10.00"
every = "1 month"

[[schedules]]
name = "Carry"
group = "carry"
amount = "10.00"
every = "1 month"
rollover_max = "5.00"

[[top_ups]]
name = "Auto top-up"
group = "payg"
threshold = "2.00"
amount = "10.00"
expires_after = "60 days"

[[usage]]
pattern = "fixed"
every = "1 day"
amount = "0.25"
"""

# many customers, random usage, debt: for what must hold whatever the draws
RANDOM = """\
[simulation]
title = "Plans and top-ups"
start = 2026-01-01
duration = "100 days"
seed = {seed}
unit = "usd"
scale = 2
overdraft = "debt"

[[customers]]
count = 6
prefix = "r-"
group = "refill"

[[customers]]
count = 6
prefix = "c-"
group = "carry"

[[customers]]
count = 4
prefix = "p-"
group = "payg"

[[grants]]
name = "Welcome"
amount = "3.00"
expires_after = "20 days"

[[schedules]]
name = "Refill"
group = "refill"
amount = "10.00"
every = "1 month"

[[schedules]]
name = "Carry"
group = "carry"
amount = "10.00"
first_amount = "15.00"
every = "1 month"
rollover_max = "5.00"
rollover_min = "12.00"
from = "3 days"
priority = 20

[[top_ups]]
name = "Auto top-up"
group = "payg"
threshold = "1.00"
target = "8.00"
expires_after = "3 weeks"
until = "80 days"
cost_basis = "1"

[[usage]]
pattern = "poisson"
per_day = 2
amount = {{ distribution = "lognormal", median = 0.08, sigma = 0.9, max = 6 }}

[[jobs]]
per_day = 0.1
amount = "1.50"
capture_ratio = {{ distribution = "uniform", min = 0.2, max = 1 }}
duration = "3 hours"
"""

CENTS = 100


def usd(text: str) -> int:
    return int(Decimal(text) * CENTS)


def identity_holds(f: Figures) -> bool:
    return f.granted == f.available + f.held + f.used + f.expired + f.voided + f.upcoming


def run_keeping_points(found: Scenario, **how: Any) -> tuple[Outcome, list[Point], str]:
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    return run(found, on_point=keep, **how), points, text.getvalue()


def test_refill_expires_each_months_leftover_and_carry_keeps_up_to_its_cap() -> None:
    outcome, _, _ = run_keeping_points(parse(FIXED))
    refill, carry = outcome.groups["refill"], outcome.groups["carry"]
    # refill: 2.25 (January), 3.00 (February) and 2.25 (March) expire; April has used 1.25
    assert (refill.granted, refill.used, refill.expired, refill.available) == (4000, 2375, 750, 875)
    assert (refill.scheduled, refill.carried) == (4000, 0)
    # carry: 2.25 carried into February, 5.00 of 5.25 into March (0.25 expires), 5.00 of
    # 7.25 into April (2.25 expire)
    assert (carry.granted, carry.used, carry.expired, carry.available) == (4000, 2375, 250, 1375)
    assert (carry.scheduled, carry.carried) == (4000, 225 + 500 + 500)
    assert outcome.counts.schedules == 2 and outcome.counts.schedule_grants == 8 and outcome.counts.carries == 3


def test_a_top_up_lifts_net_above_its_threshold_whenever_a_burn_takes_it_there() -> None:
    outcome, _, _ = run_keeping_points(parse(FIXED))
    payg = outcome.groups["payg"]
    # set at the start (net 0 <= 2.00), then after the 32nd and the 72nd burn of 0.25
    assert (outcome.counts.top_up_rules, outcome.counts.top_ups) == (1, 3)
    assert (payg.granted, payg.topped_up, payg.used, payg.available, payg.shortfall) == (3000, 3000, 2375, 625, 0)


def test_the_report_shows_what_schedules_and_top_ups_did() -> None:
    outcome, _, timeline = run_keeping_points(parse(FIXED))
    summary = as_json(outcome)
    assert summary["schedules_and_top_ups"]["totals"] == {
        "scheduled": "80.00",
        "carried": "12.25",
        "topped_up": "30.00",
    }
    assert summary["schedules_and_top_ups"]["groups"]["carry"]["carried"] == "12.25"
    assert {k: summary["operations"][k] for k in ("schedules", "schedule_grants", "carries", "top_ups")} == {
        "schedules": 2, "schedule_grants": 8, "carries": 3, "top_ups": 3,
    }  # fmt: skip
    assert set(summary["totals"]) == {
        "granted", "used", "expired", "voided", "available", "held", "upcoming", "shortfall", "debt",
    }  # fmt: skip
    line = operations_line(outcome)
    assert "2 schedules: 8 period grants (80.00 usd), 3 carries (12.25 usd carried over); 3 top-ups (30.00 usd)" in line
    from rich.console import Console

    table = io.StringIO()
    Console(file=table, width=250).print(summary_table(outcome))
    assert "scheduled" in table.getvalue() and "topped up" in table.getvalue() and "12.25" in table.getvalue()
    rows = list(csv.DictReader(io.StringIO(timeline)))
    last = rows[-1]
    assert (last["scheduled"], last["carried"], last["topped_up"]) == ("80.00", "12.25", "30.00")
    assert (last["remaining[Refill]"], last["remaining[Carry]"], last["remaining[Auto top-up]"]) == (
        "8.75", "13.75", "6.25",
    )  # fmt: skip
    # the groups side by side: what each let expire so far
    assert (last["expired[refill]"], last["expired[carry]"], last["expired[payg]"]) == ("7.50", "2.50", "0.00")
    february = next(row for row in rows if row["at"].startswith("2026-02-01"))
    assert (february["expired[refill]"], february["expired[carry]"], february["carried"]) == ("2.25", "0.00", "2.25")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_run_keeps_every_figure_whole(seed: int) -> None:
    found = parse(RANDOM.format(seed=seed))
    outcome, points, _ = run_keeping_points(found)
    assert identity_holds(outcome.totals) and all(identity_holds(f) for f in outcome.customers.values())
    assert points[-1].at == found.end and points[-1].figures == outcome.totals
    for point in points:
        assert sum(point.remaining) == point.figures.available + point.figures.held
        assert sum(point.expired_by_group) == point.figures.expired
        assert sum(point.shortfall_by_group) == point.figures.shortfall
    totals = outcome.totals
    assert totals.granted == totals.scheduled + totals.topped_up + 16 * usd("3.00")
    assert totals.carried > 0 and totals.topped_up > 0 and outcome.counts.top_ups > 0
    assert outcome.groups["refill"].carried == 0 and outcome.groups["payg"].scheduled == 0
    data = chart_data(points, found)
    assert [series[-1] for series in data.expired_by_group] == [g.expired for g in outcome.groups.values()]


def test_each_customer_holds_at_most_its_cap_and_a_top_up_customer_stays_above_the_threshold() -> None:
    # no jobs: a hold's credit stays with its block past a period's end, neither carried nor
    # expired, and would count on top of the cap until the hold ends
    text = RANDOM.format(seed=4).split("[[jobs]]")[0].replace('overdraft = "debt"', 'overdraft = "partial"')
    found = parse(text)
    carry = found.groups.index("carry")
    payg = found.groups.index("payg")
    for index, group in enumerate(found.customer_group):
        _, points, _ = run_keeping_points(narrow(found, range(index, index + 1)))
        schedule_credit = [p.remaining[2] for p in points]  # "Carry" (after the one grant rule)
        if group == carry:
            # at most max(min(r, 5.00) + 10.00, 12.00) after a period start, 15.00 in period 0
            assert max(schedule_credit) <= usd("15.00")
        elif group == payg:
            # after the rule is set and until it is removed, every step ends above 1.00
            ruled = [p for p in points if found.start <= p.at < found.top_ups[0].window.ends]
            assert all(p.figures.available - p.figures.debt > usd("1.00") for p in ruled)


def test_a_top_up_rule_with_until_is_removed_then() -> None:
    found = parse(RANDOM.format(seed=5))
    outcome, points, _ = run_keeping_points(found)
    removed = found.top_ups[0].window.ends
    # set and removed for each of the 4 customers; no top-up after the removal
    assert outcome.counts.top_up_rules == 8
    after = [p.figures.topped_up for p in points if p.at >= removed]
    assert after and len(set(after)) == 1


def test_threads_and_parts_give_the_run_in_process() -> None:
    found = parse(RANDOM.format(seed=6))

    def shown(**how: Any) -> tuple[object, ...]:
        outcome, points, timeline = run_keeping_points(found, **how)
        return as_json(outcome), timeline, chart_data(points, found), outcome.customers, outcome.counts

    expected = shown()
    with ThreadPoolExecutor(3) as pool:
        for parts in (2, 5, 1000):
            assert shown(executor=pool, parts=parts) == expected, parts


def test_a_run_whose_top_ups_pass_64_bits_stops_naming_the_rule() -> None:
    text = FIXED.replace(
        'threshold = "2.00"\namount = "10.00"', 'threshold = "92233720368547758.00"\ntarget = "92233720368547758.07"'
    )
    with pytest.raises(ScenarioError) as raised:
        run(parse(text, source="s.toml"))
    error = raised.value
    assert (error.where, error.line) == ("top_ups #1", 32), str(error)
    assert "64-bit" in error.message and "customer 'payg'" in error.message


def test_a_scenario_of_schedules_alone_needs_no_grants() -> None:
    found = parse(FIXED)
    assert not found.grants and len(found.schedules) == 2 and len(found.top_ups) == 1
    assert found.schedules[1].rollover_max == 500 and found.top_ups[0].amount == 1000


def test_a_schedule_and_a_top_up_in_a_simulation_and_its_ledger(storage: Storage) -> None:
    found = parse(RANDOM.format(seed=7))
    ledger = storage.open(found)
    try:
        outcome, _, _ = run_keeping_points(found, ledger=ledger)
        memory, _, _ = run_keeping_points(found)
        assert as_json(outcome) == as_json(memory)
    finally:
        ledger.close()
    ledger = storage.reopen()
    try:
        assert ledger.verify().ok
        for customer, figures in outcome.customers.items():
            balance = ledger.balance(customer, unit="usd", at=found.end)
            for name in ("granted", "used", "expired", "voided", "available", "held", "upcoming", "debt"):
                assert balance.__getattribute__(name) * CENTS == getattr(figures, name), (customer, name)
        # the run and the ledger name a schedule and its blocks alike
        (schedule,) = ledger.schedules("c-1")
        assert schedule.id == "sch2.c-1" and schedule.rollover_max == Decimal("5.00")
        for customer in found.customers[6:12]:
            blocks = ledger.blocks(customer, unit="usd", include_inactive=True)
            named = {b.id: b for b in blocks if b.schedule_id is not None}
            assert {f"sch2.{customer}/{n}" for n in range(4)} <= set(named), customer
            for block_id, block in named.items():
                assert block.schedule_id == f"sch2.{customer}" and block_id.startswith(f"sch2.{customer}/")
                assert block.source == ("carry" if block_id.endswith("/carry") else "schedule")
        entries = [e for e in ledger.entries(limit=10_000).items if e.op_id.startswith("top_up:")]
        assert len([e for e in entries if e.kind == "grant"]) == outcome.counts.top_ups
        events = [e for e in ledger.events(limit=10_000).items if e.kind == "top_up"]
        assert len(events) == outcome.counts.top_ups
        assert sum(e.amount for e in events) * CENTS == outcome.totals.topped_up
    finally:
        ledger.close()


def test_the_chart_compares_the_groups_breakage_and_shortfall() -> None:
    pytest.importorskip("matplotlib")
    from creditcore.simulate.chart import figure

    found = parse(FIXED)
    _, points, _ = run_keeping_points(found)
    chart = figure(points, found)
    assert len(chart.axes) == 3
    labels = [label for axes in chart.axes for label in axes.get_legend_handles_labels()[1]]
    for label in (
        "Carry (promotional, 10.00 every 1 month, carries up to 5.00)",
        "Refill (promotional, 10.00 every 1 month, refills, nothing carried)",
        "Auto top-up (paid top-up at 2.00 or less, expires after 60 days)",
        "refill: expired (total 7.50 usd)",
        "carry: expired (total 2.50 usd)",
        "payg: shortfall (total 0.00 usd)",
    ):
        assert label in labels, (label, labels)
    one_group = parse(
        FIXED.replace('group = "carry"', 'group = "refill"').replace('group = "payg"', 'group = "refill"')
    )
    assert len(figure(run_keeping_points(one_group)[1], one_group).axes) == 2

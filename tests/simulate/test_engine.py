"""The simulation engine: deterministic for a seed, the balance identity everywhere, the
streamed timeline agreeing with the final balances, and a --db ledger agreeing with both."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from simstorage import Storage

from creditcore import Ledger
from creditcore.simulate import Figures, Outcome, Point, Scenario, ScenarioError, parse, run
from creditcore.simulate.report import TimelineCSV, as_json

# every feature at once, small enough to run in a fraction of a second
SCENARIO = """\
[simulation]
title = "Everything"
start = 2026-01-01
duration = "75 days"
seed = {seed}
unit = "usd"
scale = 2
overdraft = "debt"
debt_limit = "3.00"

[[customers]]
count = 30
prefix = "user-"
group = "self-serve"

[[customers]]
id = "acme"
group = "business"

[[grants]]
name = "Monthly promo"
amount = "10.00"
every = "1 month"
expires_after = "20 days"
priority = 10
scope = ["chat", "video"]

[[grants]]
name = "Welcome bonus"
group = "self-serve"
amount = "2.50"
from = "5 days"
effective_after = "3 days"
expires_after = "1 month"

[[grants]]
name = "Purchase"
amount = "15.00"
every = "3 weeks"
category = "paid"
cost_basis = "1.00"
void_share = 0.2
void_after = "4 days"

[[usage]]
name = "Chat"
pattern = "poisson"
per_day = 0.8
scope = "chat"
amount = {{ distribution = "lognormal", median = 0.2, sigma = 0.6, max = 5 }}

[[usage]]
name = "Storage"
pattern = "fixed"
every = "1 week"
amount = "0.75"

[[usage]]
name = "Business replay"
pattern = "replay"
file = "events.csv"

[[jobs]]
name = "Video"
per_day = 0.5
scope = "video"
amount = {{ distribution = "uniform", min = 1, max = 4 }}
capture_ratio = {{ distribution = "beta", a = 4, b = 2 }}
release_share = 0.25
duration = "45 minutes"
"""

EVENTS = """\
timestamp,customer,amount,scope
2026-01-03T10:00:00Z,acme,4.20,chat
2026-01-03T10:00:00Z,acme,1.05,
2026-02-10T08:30:00Z,acme,22.00,
2026-01-20T16:45:00+01:00,acme,0.99,video
"""


def scenario(tmp_path: Path, seed: int = 3) -> Scenario:
    (tmp_path / "events.csv").write_text(EVENTS)
    return parse(SCENARIO.format(seed=seed), source="everything.toml", base=tmp_path)


def simulate(found: Scenario, ledger: Ledger | None = None) -> tuple[Outcome, list[Point], str]:
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    return run(found, ledger=ledger, on_point=keep), points, text.getvalue()


def identity_holds(f: Figures) -> bool:
    return f.granted == f.available + f.held + f.used + f.expired + f.voided + f.upcoming


def test_same_seed_gives_the_same_totals_and_timeline(tmp_path: Path) -> None:
    first, _, first_csv = simulate(scenario(tmp_path))
    again, _, again_csv = simulate(scenario(tmp_path))
    assert as_json(first) == as_json(again)
    assert first_csv == again_csv


def test_another_seed_gives_another_run(tmp_path: Path) -> None:
    first, _, first_csv = simulate(scenario(tmp_path, seed=3))
    other, _, other_csv = simulate(scenario(tmp_path, seed=4))
    assert first.totals != other.totals
    assert first_csv != other_csv


def test_the_run_exercises_every_kind_of_event(tmp_path: Path) -> None:
    outcome, _, _ = simulate(scenario(tmp_path))
    c = outcome.counts
    assert min(c.grants, c.burns, c.holds, c.captures, c.releases, c.voids) > 0
    assert c.burns_refused > 0  # the debt limit is reached
    t = outcome.totals
    assert min(t.granted, t.used, t.expired, t.voided, t.available, t.shortfall, t.debt) > 0
    refused = c.burns_refused + c.holds_refused
    assert outcome.events == c.grants + c.burns + c.holds + c.captures + c.releases + c.voids + refused


def test_granted_is_available_held_used_expired_voided_and_upcoming_everywhere(tmp_path: Path) -> None:
    outcome, points, _ = simulate(scenario(tmp_path))
    assert identity_holds(outcome.totals)
    for name, figures in outcome.groups.items():
        assert identity_holds(figures), name
    for customer, figures in outcome.customers.items():
        assert identity_holds(figures), customer
    assert sum(outcome.groups.values(), Figures()) == outcome.totals
    for point in points:
        assert identity_holds(point.figures), point.at
        assert sum(point.remaining) == point.figures.available + point.figures.held


def test_the_last_timeline_point_is_the_summary(tmp_path: Path) -> None:
    found = scenario(tmp_path)
    outcome, points, text = simulate(found)
    assert points[-1].at == found.end
    assert points[-1].figures == outcome.totals
    assert [p.at for p in points] == sorted(p.at for p in points)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(points) == 76  # a sample a day, and the end
    last = rows[-1]
    summary = as_json(outcome)["totals"]
    assert {name: last[name] for name in summary} == summary
    assert "remaining[Monthly promo]" in last


def test_upcoming_credit_is_counted_until_it_becomes_effective(tmp_path: Path) -> None:
    _, points, _ = simulate(scenario(tmp_path))
    # 30 welcome bonuses of 2.50 are granted at the start of day 5 and usable from day 8
    by_day = {(p.at - points[0].at).days: p.figures.upcoming for p in points}
    assert [by_day[day] for day in range(4, 9)] == [0, 30 * 250, 30 * 250, 30 * 250, 0]


def test_a_db_run_leaves_a_clean_ledger_whose_balances_match_the_summary(tmp_path: Path, storage: Storage) -> None:
    found = scenario(tmp_path)
    ledger = storage.open(found)
    try:
        outcome, _, _ = simulate(found, ledger)
        memory, _, _ = simulate(found)
        assert as_json(outcome) == as_json(memory)
    finally:
        ledger.close()
    ledger = storage.reopen()  # what was stored, not what the writer kept
    try:
        report = ledger.verify()
        assert report.ok, str(report)
        for customer, figures in outcome.customers.items():
            balance = ledger.balance(customer, unit="usd", at=found.end)
            for name in ("granted", "used", "expired", "voided", "available", "held", "upcoming", "debt"):
                assert balance.__getattribute__(name) * 100 == getattr(figures, name), (customer, name)
    finally:
        ledger.close()


@pytest.mark.parametrize("overdraft", ["reject", "partial"])
def test_shortfall_under_each_overdraft_policy(tmp_path: Path, overdraft: str) -> None:
    (tmp_path / "events.csv").write_text(EVENTS)
    text = SCENARIO.format(seed=3).replace('overdraft = "debt"\ndebt_limit = "3.00"', f'overdraft = "{overdraft}"')
    outcome, _, _ = simulate(parse(text, base=tmp_path))
    assert outcome.totals.debt == 0 and outcome.totals.shortfall > 0
    if overdraft == "partial":
        assert outcome.counts.burns_refused == 0
    assert identity_holds(outcome.totals)


SINGLE_USE = """\
[simulation]
title = "Single-use vouchers"
start = 2026-01-01
duration = "40 days"
seed = 5
unit = "usd"
scale = 2

[[customers]]
count = 8
prefix = "rider-"

[[grants]]
name = "Ride voucher"
amount = "5.00"
every = "10 days"
expires_after = "8 days"
single_use = true

[[grants]]
name = "Wallet"
amount = "20.00"
every = "20 days"
category = "paid"
priority = 90

[[usage]]
name = "Ride"
pattern = "poisson"
per_day = 0.7
amount = { distribution = "uniform", min = 0.5, max = 3 }
"""


def test_a_single_use_grant_voids_the_rest_of_its_block_in_a_simulation_and_its_ledger(
    tmp_path: Path, storage: Storage
) -> None:
    found = parse(SINGLE_USE, source="single_use.toml", base=tmp_path)
    assert found.grants[0].single_use and not found.grants[1].single_use
    ledger = storage.open(found)
    try:
        outcome, _, _ = simulate(found, ledger)
    finally:
        ledger.close()
    total = outcome.totals
    # a voucher's rest is voided at its first ride: nothing of it ever expires unused after one
    assert total.voided > 0 and identity_holds(total)
    ledger = storage.reopen()
    try:
        assert ledger.verify().ok
        for customer, figures in outcome.customers.items():
            balance = ledger.balance(customer, unit="usd", at=found.end)
            assert (balance.voided * 100, balance.available * 100) == (figures.voided, figures.available), customer
        voids = [e for e in ledger.entries(kinds=["void"], limit=1000).items]
        assert voids and all(e.description == "single_use" for e in voids)
    finally:
        ledger.close()


def test_single_use_must_be_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="single_use"):
        parse(SINGLE_USE.replace("single_use = true", 'single_use = "yes"'), source="bad.toml", base=tmp_path)

"""Pricing usage in a simulation: ``[[meters]]`` and ``[[prices]]``, metered usage, a period
invoice per customer and month (revenue, credit applied, amount due) in the summary, the JSON,
the timeline CSV and the chart, a ``--db`` ledger whose invoices agree with the run, and the
example's promise."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from simstorage import Storage

from creditcore.billing.facade import Billing
from creditcore.cli import main
from creditcore.simulate import Outcome, Point, Scenario, ScenarioError, load, parse, run
from creditcore.simulate import accounts as simulated_accounts
from creditcore.simulate.chart import chart_data, figure
from creditcore.simulate.invoicing import Invoiced
from creditcore.simulate.report import TimelineCSV, as_json, operations_line, summary_table

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "billing.toml"

# two customers, two meters, worked out by hand below
TINY = """\
[simulation]
start = 2026-01-01
end = 2026-03-01
seed = 1
unit = "usd"
scale = 2

[[customers]]
id = "ada"
group = "a"

[[customers]]
id = "bob"
group = "b"

[[meters]]
id = "tokens"
event = "llm.tokens"

[[meters]]
id = "calls"
aggregation = "count"

[[prices]]
meter = "tokens"
model = "graduated"
tiers = [{ up_to = 1000, unit_price = "0.002" }, { unit_price = "0.001" }]

[[prices]]
meter = "calls"
model = "package"
package_size = 10
package_price = "1.50"
free_units = 5

[[grants]]
name = "Promo"
amount = "5.00"
every = "1 month"
expires_after = "40 days"

[[grants]]
name = "Token pack"
customers = ["bob"]
amount = "2.00"
scope = "meter:tokens"
priority = 5

[[usage]]
name = "Tokens"
pattern = "fixed"
every = "1 day"
meter = "tokens"
amount = 100

[[usage]]
name = "API calls"
customers = ["bob"]
pattern = "fixed"
every = "12 hours"
meter = "calls"
"""


# the same without meters: its usage burns credit as it happens
PLAIN = (
    re.sub(r"(?s)\[\[meters\]\].*?(?=\[\[grants\]\])", "", TINY)
    .replace('meter = "tokens"\n', "")
    .replace('meter = "calls"\n', "amount = 1\n")
)


def tiny(text: str = TINY) -> Scenario:
    return parse(text, source="tiny.toml")


def simulate(found: Scenario, **options: object) -> tuple[Outcome, list[Point], str]:
    points: list[Point] = []
    text = io.StringIO()
    writer = TimelineCSV(text, found)

    def keep(point: Point) -> None:
        points.append(point)
        writer(point)

    return run(found, on_point=keep, **options), points, text.getvalue()  # type: ignore[arg-type]


def cents(revenue: int, applied: int, due: int) -> Invoiced:
    return Invoiced(revenue=revenue, credit_applied=applied, amount_due=due)


# -- the grammar ---------------------------------------------------------------------------------

TIERS = 'tiers = [{ up_to = 1000, unit_price = "0.002" }, { unit_price = "0.001" }]'
# (what is changed, into what, where the error says it is, a phrase of its message)
ERRORS = {
    "meter without id": ('[[meters]]\nid = "tokens"', '[[meters]]\nname = "Tokens"', "meters #1", "missing key 'id'"),
    "meter declared twice": ('id = "calls"', 'id = "tokens"', "meters #2: id", "declared twice"),
    "event name taken": ('event = "llm.tokens"', 'event = "calls"', "meters #2: event", "taken by meters #1"),
    "aggregation unknown": ('aggregation = "count"', 'aggregation = "avg"', "meters #2: aggregation", "'sum'"),
    "unique_count": ('aggregation = "count"', 'aggregation = "unique_count"', "meters #2: aggregation",
                     "not simulated"),
    "meter scale": ('event = "llm.tokens"', 'event = "llm.tokens"\nscale = 13', "meters #1: scale", "between 0"),
    "meter key typo": ('event = "llm.tokens"', 'evnt = "x"', "meters #1: evnt", "did you mean 'event'"),
    "price of no meter": ('meter = "calls"\nmodel', 'meter = "cals"\nmodel', "prices #2: meter", "no meter 'cals'"),
    "price without meter": ('meter = "calls"\nmodel', "model", "prices #2", "missing key 'meter'"),
    "second price": ('meter = "calls"\nmodel', 'meter = "tokens"\nmodel', "prices #2: meter", "has a price already"),
    "model unknown": ('model = "package"', 'model = "tiered"', "prices #2: model", "'graduated'"),
    "unit not the scenario's": ('model = "package"', 'model = "package"\nunit = "eur"', "prices #2: unit", "'usd'"),
    "graduated with a unit price": (TIERS, 'unit_price = "0.002"', "prices #1: unit_price", "takes no unit_price"),
    "per unit without one": ('model = "graduated"', 'model = "per_unit"', "prices #1", "needs unit_price"),
    "package without size": ("package_size = 10\n", "", "prices #2", "needs package_size"),
    "tier bound left out early": ("{ up_to = 1000, unit_price", "{ unit_price", "prices #1: tiers #1", "only the last"),
    "tiers not increasing": ('{ unit_price = "0.001" }', '{ up_to = 500, unit_price = "0.001" }', "prices #1: tiers",
                             "increase strictly"),
    "negative rate": ('unit_price = "0.002"', 'unit_price = "-0.002"', "prices #1: tiers #1.unit_price",
                      "zero or more"),
    "tier key typo": ('{ unit_price = "0.001" }', '{ unit_prize = "0.001" }', "prices #1: tiers #2", "unit_price"),
    "tiers not tables": (TIERS, 'tiers = "0.002"', "prices #1: tiers", "array of tables"),
    "free units on a graduated price": ('model = "graduated"', 'model = "graduated"\nfree_units = 3',
                                        "prices #1: free_units", "only a package price"),
    "usage of no meter": ('meter = "tokens"\namount', 'meter = "token"\namount', "usage #1: meter",
                          "no meter 'token'; meters: tokens, calls"),
    "metered usage with a scope": ('meter = "tokens"\namount', 'meter = "tokens"\nscope = "chat"\namount',
                                   "usage #1: scope", "meter:tokens"),
    "metered usage without amount": ('meter = "tokens"\namount = 100', 'meter = "tokens"', "usage #1",
                                     "missing key 'amount'"),
    "quantity finer than the meter": ("amount = 100", 'amount = "100.5"', "usage #1: amount", "decimal place"),
    "unknown zone": ("scale = 2", 'scale = 2\ntimezone = "Mars/Olympus"', "simulation: timezone", "IANA"),
}  # fmt: skip


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_a_bad_billing_table_is_refused_in_one_line_naming_its_key(case: str) -> None:
    old, new, where, phrase = ERRORS[case]
    assert old in TINY, case
    with pytest.raises(ScenarioError) as refused:
        tiny(TINY.replace(old, new, 1))
    message = str(refused.value)
    assert "\n" not in message
    assert refused.value.where == where, message
    assert phrase in message, message
    assert re.match(r"tiny\.toml, line \d+: ", message), message


def test_a_timezone_needs_meters_and_prices_need_meters() -> None:
    plain = PLAIN
    assert "[[prices]]" not in plain and "[[meters]]" not in plain and "meter =" not in plain
    assert tiny(plain).meters == ()
    with pytest.raises(ScenarioError, match=r"simulation: timezone: only applies with \[\[meters\]\]"):
        tiny(plain.replace("scale = 2", 'scale = 2\ntimezone = "Europe/Berlin"'))
    with pytest.raises(ScenarioError, match=r"prices #1: meter: no meter 'tokens': the scenario declares no"):
        tiny(plain + '\n[[prices]]\nmeter = "tokens"\nunit_price = "0.1"\n')


# -- the figures -----------------------------------------------------------------------------------


def test_the_invoices_of_a_tiny_scenario_come_to_what_a_hand_computes() -> None:
    found = tiny()
    outcome, points, text = simulate(found)
    billed = outcome.billing
    assert billed is not None
    assert [p.label for p in billed.periods] == ["2026-01", "2026-02"]
    # ada, January: 31 x 100 tokens = 3,100: 1,000 at 0.002 and 2,100 at 0.001 = 4.10, paid by
    # the promo. February: 2,800 tokens = 3.80, paid by February's promo (January's 0.90 left
    # expired on 10 February).
    assert billed.by_period[0][0] == cents(410, 410, 0)
    assert billed.by_period[1][0] == cents(380, 380, 0)
    # bob, January: tokens 4.10 (the token pack's 2.00 first, priority 5, then 2.10 of the promo);
    # 62 calls: 57 past the 5 free = 6 packages of 10 at 1.50 = 9.00, of which the promo's 2.90
    # left pays (the pack is for tokens only): 13.10 invoiced, 7.00 credit, 6.10 due.
    assert billed.by_period[0][1] == cents(1310, 700, 610)
    # February: tokens 3.80 from the promo, 56 calls = 6 packages = 9.00, 1.20 of credit left
    assert billed.by_period[1][1] == cents(1280, 500, 780)
    assert billed.customers == {"ada": cents(790, 790, 0), "bob": cents(2590, 1200, 1390)}
    assert billed.totals == cents(3380, 1990, 1390)
    assert outcome.counts.invoices == 4 and outcome.counts.meter_events == 59 + 59 + 59 * 2
    assert outcome.counts.burns == 0  # metered usage burns nothing itself: its invoices do
    # the credit the invoices applied is the credit used
    assert outcome.totals.used == billed.totals.credit_applied
    assert outcome.totals.expired == 90 + 0  # ada's January leftover
    # the timeline samples each period's end; the CSV carries what was invoiced so far
    by_time = {p.at: p for p in points}
    assert by_time[datetime(2026, 2, 1, tzinfo=UTC)].invoiced == cents(410 + 1310, 410 + 700, 610)
    last = list(csv.DictReader(io.StringIO(text)))[-1]
    assert (last["revenue"], last["credit_applied"], last["amount_due"]) == ("33.80", "19.90", "13.90")
    assert as_json(outcome)["billing"]["periods"][1]["groups"]["b"] == {
        "revenue": "12.80", "credit_applied": "5.00", "amount_due": "7.80"
    }  # fmt: skip


def test_revenue_is_credit_applied_plus_amount_due_everywhere() -> None:
    found = tiny(TINY.replace('every = "12 hours"', 'every = "5 hours"'))
    outcome, points, _ = simulate(found)
    billed = outcome.billing
    assert billed is not None

    def holds(found: Invoiced) -> bool:
        return (
            found.revenue == found.credit_applied + found.amount_due
            and min(found.revenue, found.credit_applied, found.amount_due) >= 0
        )

    everything = [billed.totals, *billed.groups.values(), *billed.customers.values(), *billed.period_totals()]
    everything += [cell for row in billed.by_period for cell in row]
    everything += [p.invoiced for p in points if p.invoiced is not None]
    assert all(holds(found) for found in everything)
    assert sum(billed.period_totals(), Invoiced()) == billed.totals == sum(billed.customers.values(), Invoiced())
    assert billed.totals.amount_due > 0


def test_a_scenario_without_meters_reports_as_it_always_has() -> None:
    found = parse(PLAIN, source="plain.toml")
    outcome, points, text = simulate(found)
    assert outcome.billing is None and all(p.invoiced is None for p in points)
    assert "billing" not in as_json(outcome) and "revenue" not in text.splitlines()[0]
    assert "invoice" not in operations_line(outcome)


def test_billing_months_follow_the_timezone_and_are_cut_to_the_run() -> None:
    found = tiny(TINY.replace("scale = 2", 'scale = 2\ntimezone = "Europe/Berlin"'))
    berlin = [(p.start, p.end, p.label) for p in found.periods]
    assert berlin == [
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, 23, tzinfo=UTC), "2026-01"),
        (datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC), "2026-02"),
        (datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "2026-03"),
    ]
    outcome, points, _ = simulate(found)
    assert {datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC)} <= {p.at for p in points}
    assert outcome.billing is not None and outcome.counts.invoices == 6
    # March's hour holds no event (they come at midnight UTC): nothing invoiced
    assert outcome.billing.period_totals()[2] == Invoiced()
    assert as_json(outcome)["billing"]["timezone"] == "Europe/Berlin"


def test_a_metered_replay_reads_quantities_in_the_meters_scale(tmp_path: Path) -> None:
    (tmp_path / "tokens.csv").write_text(
        "timestamp,customer,amount\n2026-01-05T10:00:00Z,ada,1.250\n2026-02-01T00:00:00Z,ada,0.5\n"
    )
    text = (
        TINY.replace('event = "llm.tokens"', 'event = "llm.tokens"\nscale = 3')
        .replace('unit_price = "0.002" }, { unit_price = "0.001"', 'unit_price = "2" }, { unit_price = "1"')
        .replace(
            'pattern = "fixed"\nevery = "1 day"\nmeter = "tokens"\namount = 100',
            'pattern = "replay"\nfile = "tokens.csv"\nmeter = "tokens"',
        )
    )
    found = parse(text, source="replay.toml", base=tmp_path)
    outcome = run(found)
    assert outcome.billing is not None and outcome.counts.meter_events == 2 + 118
    # 1.25 tokens at 2.00 in January; the event at 1 February 00:00 is February's: 0.5 at 2.00
    assert [row[0] for row in outcome.billing.by_period] == [cents(250, 250, 0), cents(100, 100, 0)]
    with pytest.raises(ScenarioError, match=r"usage #1: file: a metered replay takes no scope"):
        (tmp_path / "tokens.csv").write_text("timestamp,customer,amount,scope\n2026-01-05T10:00:00Z,ada,1,chat\n")
        parse(text, source="replay.toml", base=tmp_path)


def test_parts_and_workers_give_the_same_invoices() -> None:
    found = tiny(TINY.replace('id = "bob"\ngroup = "b"', 'count = 5\nprefix = "b-"\ngroup = "b"').replace(
        'customers = ["bob"]', 'group = "b"'))  # fmt: skip
    alone, _, alone_csv = simulate(found)
    with ProcessPoolExecutor(2) as pool:
        spread, _, spread_csv = simulate(found, executor=pool, parts=3)
    assert as_json(spread) == as_json(alone) and spread_csv == alone_csv
    assert spread.billing == alone.billing


def test_the_summary_table_and_the_chart_show_the_invoices() -> None:
    found = tiny()
    outcome, points, _ = simulate(found)
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(outcome))
    shown = out.getvalue()
    assert "Invoices per billing month" in shown
    assert re.search(r"2026-02 .* b .* 12\.80 .* 5\.00 .* 7\.80", shown), shown
    assert re.search(r"all .* total .* 33\.80 .* 19\.90 .* 13\.90", shown), shown
    assert "4 invoices: revenue 33.80 usd, credit applied 19.90 usd, amount due 13.90 usd" in operations_line(outcome)
    data = chart_data(points, found)
    assert data.invoiced == (cents(1720, 1110, 610), cents(1660, 880, 780))
    assert len(figure(points, found).axes) == 3  # the burn-down, the invoices, the bars


# -- the ledger --------------------------------------------------------------------------------------


def test_a_db_run_issues_the_invoices_the_run_computed(storage: Storage) -> None:
    # a top-up that an invoice's first line sets off pays its second line, in the run as in the ledger
    top_up = '[[top_ups]]\ngroup = "b"\nthreshold = "3.00"\namount = "4.00"\n\n[[usage]]'
    found = tiny(TINY.replace('id = "bob"\ngroup = "b"', 'count = 2\nprefix = "b-"\ngroup = "b"').replace(
        'customers = ["bob"]', 'group = "b"').replace("[[usage]]", top_up, 1))  # fmt: skip
    ledger = storage.open(found)
    try:
        outcome, _, written = simulate(found, ledger=ledger)
    finally:
        ledger.close()
    memory, _, alone = simulate(found)
    assert as_json(outcome) == as_json(memory) and written == alone
    billed = outcome.billing
    assert billed is not None
    ledger = storage.reopen()
    try:
        assert ledger.verify().ok
        invoices = Billing(ledger).invoices.list(limit=1000).items
        assert outcome.counts.top_ups > 0 and len(invoices) == outcome.counts.invoices == 3 * 2
        assert sorted(i.number or "" for i in invoices) == [f"INV-{n:04d}" for n in range(1, 7)]
        per_customer: dict[str, Invoiced] = defaultdict(Invoiced)
        per_period: dict[tuple[str, str], Invoiced] = defaultdict(Invoiced)
        group_of = dict(zip(found.customers, (found.groups[g] for g in found.customer_group), strict=True))
        for invoice in invoices:
            assert invoice.status == ("paid" if invoice.amount_due == 0 else "issued")
            assert invoice.total == invoice.credit_applied + invoice.amount_due
            figures = cents(*(int(x * 100) for x in (invoice.total, invoice.credit_applied, invoice.amount_due)))
            per_customer[invoice.customer] += figures
            per_period[f"{invoice.start:%Y-%m}", group_of[invoice.customer]] += figures
            assert invoice.issued_at == invoice.end
        # January, b-1: tokens 4.10 (the pack's 2.00, the promo's 2.10) leave 2.90: a top-up of 4.00
        # follows, and the calls line (9.00) takes 6.90
        first = next(i for i in invoices if i.customer == "b-1" and i.start == found.start)
        lines = [(line.meter_id, line.amount, line.credit_applied) for line in first.lines]
        assert lines == [("tokens", Decimal("4.10"), Decimal("4.10")), ("calls", Decimal("9.00"), Decimal("6.90"))]
        assert per_customer == billed.customers
        for k, period in enumerate(billed.periods):
            for g, group in enumerate(found.groups):
                assert per_period[period.label, group] == billed.by_period[k][g]
        for customer, figures in outcome.customers.items():
            balance = ledger.balance(customer, unit="usd", at=found.end)
            assert (balance.used * 100, balance.available * 100) == (figures.used, figures.available)
    finally:
        ledger.close()


def test_a_db_run_stops_when_a_stored_invoice_disagrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = tiny()
    from creditcore.simulate import open_ledger

    real = simulated_accounts.line_amount
    monkeypatch.setattr(simulated_accounts, "line_amount", lambda *args: real(*args) + 1)
    ledger = open_ledger(found, str(tmp_path / "off.db"))
    try:
        with pytest.raises(
            ScenarioError, match=r"invoice INV-0001 for customer 'ada', 2026-01, disagrees with the run"
        ):
            run(found, ledger=ledger)
    finally:
        ledger.close()


def test_the_command_line_prints_writes_and_stores_the_invoices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    db, timeline, chart = tmp_path / "tiny.db", tmp_path / "tiny.csv", tmp_path / "tiny.png"
    args = ["simulate", str(scenario), "--csv", str(timeline), "--plot", str(chart)]
    done = CliRunner().invoke(main, [*args, "--db", str(db)])
    assert done.exit_code == 0, (done.stdout, done.stderr, done.exception)
    assert "Invoices per billing month" in done.stdout
    assert re.search(r"4 invoices: revenue\s+33\.80\s+usd, credit\s+applied\s+19\.90\s+usd", done.stdout), done.stdout
    assert timeline.read_text().splitlines()[0].endswith(",revenue,credit_applied,amount_due")
    assert chart.stat().st_size > 0 and db.exists()
    # a ledger whose invoice disagrees with the run: one line, and no ledger left behind
    real = simulated_accounts.line_amount
    monkeypatch.setattr(simulated_accounts, "line_amount", lambda *args: real(*args) + 1)
    off = tmp_path / "off.db"
    done = CliRunner().invoke(main, ["simulate", str(scenario), "--db", str(off)])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {scenario}: the ledger's invoice INV-0001"), done.stderr
    assert not off.exists()


# -- the example ---------------------------------------------------------------------------------------


def test_the_billing_example_keeps_its_promise() -> None:
    found = load(EXAMPLE)
    assert found.meters[0].id == "tokens" and found.prices[0].model.model == "graduated"
    assert found.grants[0].expires_after is not None and found.grants[0].expires_after.text == "32 days"
    outcome = run(found)
    billed = outcome.billing
    assert billed is not None
    assert len(billed.periods) == 6 and outcome.counts.invoices == 230 * 6
    assert billed.periods[-1].end == found.end  # the last invoice is issued at the end
    hobby = billed.groups["hobby"]
    topping, paying = billed.groups["start-up, auto top-up"], billed.groups["start-up, pay as you go"]
    # the hobbyists' free credit pays 99% of their invoices, and some of it lapses unused
    assert hobby.credit_applied * 100 >= 99 * hobby.revenue
    assert (hobby.credit_applied, hobby.revenue, outcome.groups["hobby"].expired) == (381957, 385583, 57105)
    # both start-up groups bring in about the same revenue (within 1%) ...
    assert abs(topping.revenue - paying.revenue) * 100 < paying.revenue
    assert (topping.revenue, paying.revenue) == (735506, 733437)
    # ... but what the auto top-up group owes on its invoices is less than 1% of the other's:
    # its money comes first, as top-ups
    assert topping.amount_due * 100 < paying.amount_due and (topping.amount_due, paying.amount_due) == (3163, 613437)
    topped = outcome.groups["start-up, auto top-up"]
    assert (outcome.counts.top_ups, topped.topped_up, topped.available) == (84, 754410, 142067)
    # every month, every group: revenue = credit applied + amount due
    for row in billed.by_period:
        for cell in row:
            assert cell.revenue == cell.credit_applied + cell.amount_due
    assert as_json(outcome)["billing"]["totals"] == {
        "revenue": "18545.26", "credit_applied": "12343.00", "amount_due": "6202.26"
    }  # fmt: skip

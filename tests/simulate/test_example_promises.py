"""The examples show what their comments (and the README) say they show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from creditcore import Ledger
from creditcore.model import Entry
from creditcore.simulate import Scenario, load, open_ledger, parse, run
from creditcore.simulate.scenario import parse_duration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def smaller(example: Path, divide: int) -> Scenario:
    """The example with its populations ``divide`` times smaller (named customers stay)."""
    text = re.sub(r"(?m)^count = (\d+)", lambda m: f"count = {max(1, int(m[1]) // divide)}", example.read_text())
    return parse(text, source=str(example), base=example.parent)


def every_entry(ledger: Ledger) -> Iterator[Entry]:
    after = None
    while True:
        page = ledger.entries(limit=5000, after=after)
        yield from page.items
        if page.next_cursor is None:
            return
        after = page.next_cursor


def test_the_starter_credit_run_pays_debt_off_with_the_first_purchase(tmp_path: Path) -> None:
    outcome = run(load(EXAMPLES / "starter_credit.toml"))
    assert outcome.counts.settlements > 0
    # those who bought credit owe nothing at the end; those who stayed on the trial still do
    assert outcome.groups["bought credit"].debt == 0 < outcome.groups["stayed on trial"].debt

    found = smaller(EXAMPLES / "starter_credit.toml", 10)
    ledger = open_ledger(found, str(tmp_path / "starter.db"))
    try:
        small = run(found, ledger=ledger)
        entries = list(every_entry(ledger))
        purchases = {
            block.id: block
            for customer in found.customers
            for block in ledger.blocks(customer, unit="usd", include_inactive=True)
            if block.description == "First purchase"
        }
    finally:
        ledger.close()
    settles = [e for e in entries if e.kind == "settle"]
    assert settles and len(settles) == small.counts.settlements
    granted_at = {e.block_id: e.at for e in entries if e.kind == "grant"}
    for entry in settles:  # each paid by a first purchase, the moment it was granted
        assert entry.block_id in purchases
        assert entry.at == granted_at[entry.block_id]


def test_voids_happen_void_after_the_grant_and_mobility_claws_back_after_a_week(tmp_path: Path) -> None:
    found = smaller(EXAMPLES / "mobility.toml", 20)
    rules = {rule.name: rule for rule in found.grants}
    # the comment: "half the months, finance claws back what is left after a week"
    assert rules["Business prepaid"].void_share == 0.5
    assert rules["Business prepaid"].void_after == parse_duration("7 days")
    ledger = open_ledger(found, str(tmp_path / "mobility.db"))
    try:
        outcome = run(found, ledger=ledger)
        entries = list(every_entry(ledger))
        named = {
            block.id: block.description
            for customer in found.customers
            for block in ledger.blocks(customer, unit="eur", include_inactive=True)
        }
    finally:
        ledger.close()
    voids = [e for e in entries if e.kind == "void"]
    assert voids and outcome.counts.voids == len(voids)
    granted_at = {e.block_id: e.at for e in entries if e.kind == "grant"}
    for entry in voids:
        rule = rules[named[entry.block_id]]
        assert entry.at == rule.void_after.after(granted_at[entry.block_id])
        assert entry.at - granted_at[entry.block_id] == timedelta(days=7)


def test_carrying_up_to_50_lets_less_expire_and_no_customer_ever_holds_more_than_150(tmp_path: Path) -> None:
    outcome = run(load(EXAMPLES / "rollover.toml"))
    refill, carry = outcome.groups["refill to 100"], outcome.groups["carry up to 50"]
    # the same plan, 100 credits at each of the six month starts, and the same usage
    assert refill.granted == carry.granted == refill.scheduled == carry.scheduled == 150 * 6 * 100
    assert refill.carried == 0 < carry.carried
    # carrying halves breakage at least, covers more demand, and leaves more outstanding
    assert 2 * carry.expired < refill.expired
    assert carry.shortfall < refill.shortfall and carry.used > refill.used
    assert carry.available > refill.available
    assert outcome.counts.schedule_grants == 300 * 6 and outcome.counts.top_ups == 0

    # every balance a customer ever had, entry by entry, as its ledger recorded it
    found = smaller(EXAMPLES / "rollover.toml", 10)
    ledger = open_ledger(found, str(tmp_path / "rollover.db"))
    try:
        small = run(found, ledger=ledger)
        most: dict[str, int] = {}
        for entry in every_entry(ledger):
            most[entry.customer] = max(most.get(entry.customer, 0), int(entry.available_after))
        balances = {c: ledger.balance(c, at=found.end).available for c in found.customers}
    finally:
        ledger.close()
    assert {c: int(b) for c, b in balances.items()} == {c: f.available for c, f in small.customers.items()}
    assert max(most[c] for c in found.customers if c.startswith("refill-")) == 100
    carried = [most[c] for c in found.customers if c.startswith("carry-")]
    assert max(carried) <= 150 and any(value > 100 for value in carried)

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

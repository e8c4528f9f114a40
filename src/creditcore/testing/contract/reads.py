"""The contract's reads: entries in order and page by page, filters, balances in the past,
a customer's own blocks and holds, and a scripted workload that reads the same as on the
memory adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from creditcore.adapters.memory import MemoryRepository
from creditcore.ledger import Ledger
from creditcore.model import Balance
from creditcore.repository import Repository
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import DAY, HOUR, START, ManualClock, assert_same_transcript, run_script


class ReadContract(ContractBase):
    """What the store gives back to reads, and in which order."""

    def test_entries_page_through_in_order(self, ledger: Ledger, clock: ManualClock) -> None:
        for i in range(7):
            ledger.grant(("ada", "bob")[i % 2], i + 1)
            clock.advance(HOUR)
        everything = ledger.entries(limit=100).items
        seqs = [e.seq for e in everything]
        assert len(seqs) == 7 and seqs == sorted(set(seqs))
        pages, cursor = [], None
        while True:
            page = ledger.entries(limit=3, after=cursor)
            pages.append(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert tuple(e for p in pages for e in p) == everything

    def test_entries_filters(self, ledger: Ledger, clock: ManualClock) -> None:
        a = ledger.grant("ada", 10).block
        ledger.grant("bob", "3", unit="usd")
        clock.advance(HOUR)
        burn = ledger.burn("ada", 4)
        ledger.hold("ada", 2, hold_id="h")
        clock.advance(HOUR)
        ledger.reverse(burn.op_id, 1)

        def kinds(**filters: Any) -> list[str]:
            return [e.kind for e in ledger.entries(**filters).items]

        assert kinds(customer="ada") == ["grant", "burn", "hold", "reverse"]
        assert kinds(unit="usd") == ["grant"]
        assert kinds(kinds=["burn", "reverse"]) == ["burn", "reverse"]
        assert kinds(block_id=a.id) == ["grant", "burn", "hold", "reverse"]
        assert kinds(op_id=burn.op_id) == ["burn"]
        assert kinds(since=START + HOUR) == ["burn", "hold", "reverse"]
        assert kinds(until=START + HOUR) == ["grant", "grant"]
        assert kinds(customer="ada", since=START + HOUR, until=START + 2 * HOUR, kinds=["hold"]) == ["hold"]
        assert kinds(customer="nobody") == kinds(block_id="blk_nope") == kinds(op_id="op_nope") == []

    def test_a_past_balance_shows_exactly_what_was_true_then(self, ledger: Ledger, clock: ManualClock) -> None:
        seen: list[tuple[datetime, Balance]] = []
        steps: list[Callable[[], object]] = [
            lambda: ledger.grant("ada", 10, expires_at=START + 5 * HOUR),
            lambda: ledger.burn("ada", 3),
            lambda: ledger.hold("ada", 2, hold_id="h"),
            lambda: ledger.grant("ada", 4, effective_at=START + 10 * HOUR),
            lambda: ledger.capture("h", 1),
            lambda: ledger.burn("ada", 9, overdraft="debt"),
        ]
        for step in steps:
            step()
            seen.append((clock.now, ledger.balance("ada")))
            clock.advance(HOUR)
        clock.advance(DAY)
        ledger.burn("ada", 1, overdraft="partial")
        for when, balance in seen:
            assert ledger.balance("ada", at=when) == balance
        assert ledger.balance("ada", at=START - HOUR).granted == 0

    def test_verify_is_clean_after_a_mixed_workload(self, ledger: Ledger, clock: ManualClock) -> None:
        run_script(ledger, clock, seed=7, steps=80)
        report = ledger.verify()
        assert report.ok, str(report)
        assert report.customers > 0

    def test_agrees_with_the_memory_adapter_on_a_scripted_workload(self, ledger: Ledger, clock: ManualClock) -> None:
        reference_clock = ManualClock()
        reference = Ledger(MemoryRepository(), clock=reference_clock, units=self.units)
        expected = run_script(reference, reference_clock, seed=2030, steps=120)
        actual = run_script(ledger, clock, seed=2030, steps=120)
        assert_same_transcript(actual, expected)

    def test_a_customers_blocks_and_holds_read_alone(self, ledger: Ledger, repository: Repository) -> None:
        spent = ledger.grant("ada", 5).block.id
        kept = ledger.grant("ada", 10).block.id
        ledger.burn("ada", 7)
        ledger.hold("ada", 2, hold_id="h1")
        ledger.release("h1")
        ledger.hold("ada", 1, hold_id="h2")
        ledger.grant("bob", 3)
        with repository.reader() as reader:
            assert [b.id for b in reader.blocks("ada")] == [spent, kept]  # used up ones too
            assert [(b.remaining, b.held) for b in reader.blocks("ada")] == [(0, 0), (8, 1)]
            assert [(h.id, h.status) for h in reader.holds("ada")] == [("h1", "released"), ("h2", "active")]
            assert reader.blocks("nobody") == [] and reader.holds("nobody") == []
            history = reader.history("ada")
            assert (history[0], history[1]) == (reader.blocks("ada"), reader.holds("ada"))

    def test_an_unknown_customer_loads_as_an_empty_account(self, repository: Repository) -> None:
        with repository.reader() as reader:
            state = reader.load_account("nobody")
            assert (dict(state.blocks), dict(state.holds), state.last_at) == ({}, {}, None)
            assert reader.history("nobody") == ([], [], [])
            assert reader.find_block("blk_x") is None
            assert reader.find_hold("h") is None
            assert reader.find_operation("key", "k") is None
            assert reader.customers() == []

    def test_customers_are_listed_in_first_write_order(self, ledger: Ledger) -> None:
        for customer in ("cy", "ada", "bob", "ada"):
            ledger.grant(customer, 1)
        with ledger.repository.reader() as reader:
            assert reader.customers() == ["cy", "ada", "bob"]

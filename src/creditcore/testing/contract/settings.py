"""The contract's settings and outbox: schedules, top-up rules and alerts are
stored with every attribute and every version, a sweep records what reads already showed, the
events of a step are stored in its transaction and page through without a gap."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from creditcore.errors import Conflict, NotFound
from creditcore.ledger import Ledger
from creditcore.model import LedgerEvent
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import DAY, HOUR, START, ManualClock


class SettingsContract(ContractBase):
    """What a store keeps of a customer's settings and events."""

    def test_a_schedule_is_stored_with_every_attribute(self, ledger: Ledger, clock: ManualClock) -> None:
        made = ledger.schedule_grant(
            "ada", "2.50", every="1 week", anchor=START - DAY, start=START + HOUR, until=START + 30 * DAY,
            first_amount="1.25", rollover_max="1.00", rollover_min="0.50", timezone="Europe/Paris", unit="usd",
            priority=7, category="paid", scope={"trip", "food"}, single_use=True, cost_basis="0.8",
            settle_debt=False, description="weekly", metadata={"plan": "pro"}, schedule_id="sch-ada",
        ).schedule  # fmt: skip
        assert (made.status, made.period, made.next_at, made.block_ids) == ("active", None, START + HOUR, ())
        assert ledger.get_schedule("sch-ada") == made
        assert ledger.schedules("ada") == [made]
        assert (made.amount, made.first_amount, made.rollover_max, made.rollover_min) == (
            Decimal("2.50"), Decimal("1.25"), Decimal("1.00"), Decimal("0.50"),
        )  # fmt: skip
        assert (made.every, made.timezone, made.scope, made.single_use, made.cost_basis) == (
            "1 week", "Europe/Paris", frozenset({"trip", "food"}), True, Decimal("0.8"),
        )  # fmt: skip
        clock.advance(2 * HOUR)
        running = ledger.get_schedule("sch-ada")
        assert (running.period, running.period_start, running.block_ids) == (0, START + HOUR, ("sch-ada/0",))
        assert ledger.get_block("sch-ada/0").schedule_id == "sch-ada"
        with pytest.raises(NotFound):
            ledger.get_schedule("sch-ada", at=START - HOUR)
        with pytest.raises(NotFound):
            ledger.get_schedule("nobody's")

    def test_a_sweep_records_exactly_what_reads_showed(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.schedule_grant("ada", 10, every="1 day", rollover_max=4, schedule_id="s")
        ledger.set_top_up("ada", unit="credits", threshold=2, amount=5)
        ledger.add_alert("ada", unit="credits", kind="dropped", thresholds=(8, 3))
        clock.advance(HOUR)
        ledger.burn("ada", 7)
        times = [START + n * 6 * HOUR for n in range(1, 16)]
        before = [ledger.balance("ada", at=t) for t in times]
        clock.advance(4 * DAY)
        ledger.expire_due()
        assert [ledger.balance("ada", at=t) for t in times] == before
        assert ledger.verify().ok
        grants = ledger.entries("ada", kinds=["grant"], limit=100).items
        assert [e.op_id for e in grants if e.op_id.startswith("schedule:")] == [f"schedule:s:{n}" for n in range(5)]

    def test_top_up_rules_keep_every_version(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 100)
        first = ledger.set_top_up("ada", unit="credits", threshold=10, amount=20)
        clock.advance(HOUR)
        second = ledger.set_top_up("ada", unit="credits", threshold=5, target=50, expires_after="30 days")
        assert ledger.set_top_up("ada", unit="credits", threshold=5, target=50, expires_after="30 days") == second
        clock.advance(HOUR)
        assert ledger.remove_top_up("ada", unit="credits") == second
        assert ledger.remove_top_up("ada", unit="credits") is None
        assert ledger.get_top_up("ada", unit="credits", at=START) == first
        assert ledger.get_top_up("ada", unit="credits", at=START + HOUR) == second
        assert (second.created_at, second.updated_at, second.expires_after) == (START, START + HOUR, "30 days")
        with pytest.raises(NotFound):
            ledger.get_top_up("ada", unit="credits")

    def test_alerts_fire_into_the_outbox_in_order(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.grant("ada", 10)
        ledger.grant("bob", 10)
        ledger.add_alert("ada", unit="credits", kind="depleted", alert_id="dep")
        ledger.add_alert("ada", unit="credits", kind="dropped", thresholds=(5, 8, 2))
        ledger.add_alert("ada", unit="credits", kind="recovered")
        ledger.add_alert("bob", unit="credits", kind="depleted")
        with pytest.raises(Conflict):
            ledger.add_alert("ada", unit="credits", kind="depleted")
        assert ledger.add_alert("ada", unit="credits", kind="depleted", alert_id="dep").id == "dep"
        assert [a.kind for a in ledger.alerts("ada")] == ["depleted", "dropped", "recovered"]
        clock.advance(HOUR)
        burn = ledger.burn("ada", 10)
        ledger.burn("bob", 10)
        ledger.grant("ada", 1)
        events = ledger.events().items
        assert [(e.customer, e.kind) for e in events] == [
            ("ada", "balance_depleted"), ("ada", "balance_dropped"), ("bob", "balance_depleted"),
            ("ada", "balance_recovered"),
        ]  # fmt: skip
        dropped = events[1]
        assert (dropped.thresholds, dropped.previous, dropped.current, dropped.op_id) == (
            (Decimal(8), Decimal(5), Decimal(2)), Decimal(10), Decimal(0), burn.op_id,
        )  # fmt: skip
        assert [e.seq for e in events] == sorted({e.seq for e in events})
        assert [e.kind for e in ledger.events(customer="bob").items] == ["balance_depleted"]
        # one at a time, by cursor, none skipped; a page at the end keeps the cursor
        seen: list[LedgerEvent] = []
        cursor: str | None = None
        for _ in range(5):
            page = ledger.events(after=cursor, limit=1)
            seen.extend(page.items)
            assert page.next_cursor is not None
            if not page.items:
                assert page.next_cursor == cursor
            cursor = page.next_cursor
        assert seen == list(events)
        removed = ledger.remove_alert("dep")
        assert removed.removed_at == START + HOUR
        assert ledger.remove_alert("dep") == removed
        assert [a.kind for a in ledger.alerts("ada")] == ["dropped", "recovered"]
        assert [a.kind for a in ledger.alerts("ada", at=START)] == ["depleted", "dropped", "recovered"]

    def test_a_failed_batch_stores_no_setting_and_no_event(self, ledger: Ledger) -> None:
        ledger.grant("ada", 10)
        with pytest.raises(RuntimeError), ledger.atomic():
            ledger.schedule_grant("ada", 5, every="1 day", schedule_id="s")
            ledger.set_top_up("ada", unit="credits", threshold=20, amount=5)
            ledger.add_alert("ada", unit="credits", kind="depleted")
            ledger.burn("ada", 10)
            raise RuntimeError("the app changed its mind")
        assert ledger.schedules("ada") == []
        assert ledger.alerts("ada") == []
        assert ledger.events().items == ()
        with pytest.raises(NotFound):
            ledger.get_top_up("ada", unit="credits")
        assert ledger.balance("ada").available == 10
        ledger.schedule_grant("ada", 5, every="1 day", schedule_id="s")  # the id is free again

    def test_a_customer_with_only_a_later_schedule_is_swept(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.schedule_grant("ada", 5, every="1 day", start=START + 2 * DAY, schedule_id="s")
        assert ledger.entries("ada").items == ()
        clock.advance(3 * DAY)
        swept = ledger.expire_due()
        assert [(e.op_id, e.kind, e.at) for e in swept] == [
            ("schedule:s:0", "grant", START + 2 * DAY),
            ("expire:s/0", "expire", START + 3 * DAY),
            ("schedule:s:1", "grant", START + 3 * DAY),
        ]
        assert ledger.balance("ada").available == 5
        assert ledger.get_schedule("s").period == 1

    def test_cancelling_keeps_the_running_period(self, ledger: Ledger, clock: ManualClock) -> None:
        ledger.schedule_grant("ada", 5, every="1 day", schedule_id="s")
        clock.advance(HOUR)
        cancelled = ledger.cancel_schedule("s").schedule
        assert (cancelled.status, cancelled.next_at, cancelled.period_end) == ("cancelled", None, START + DAY)
        assert ledger.cancel_schedule("s").replayed
        clock.advance(2 * DAY)
        ended = ledger.get_schedule("s")
        assert (ended.status, ended.period, ended.cancelled_at) == ("ended", None, START + HOUR)
        assert ledger.balance("ada").available == 0  # expired with its period
        ledger.schedule_grant("ada", 5, every="1 day", until=START + 3 * DAY + HOUR, schedule_id="u")
        clock.advance(DAY)
        with pytest.raises(Conflict):
            ledger.cancel_schedule("u")

    def test_settings_and_events_survive_reopening(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        ledger.grant("ada", 10)
        ledger.schedule_grant("ada", 3, every=timedelta(hours=5), rollover_max=1, schedule_id="s")
        rule = ledger.set_top_up("ada", unit="credits", threshold=1, amount=4)
        alert = ledger.add_alert("ada", unit="credits", kind="dropped", thresholds=(5,))
        clock.advance(HOUR)
        ledger.burn("ada", 12)
        schedule, events = ledger.get_schedule("s"), ledger.events()
        reopened = self.reopened(ledger, clock, tmp_path)
        try:
            assert reopened.get_schedule("s") == schedule
            assert reopened.get_top_up("ada", unit="credits") == rule
            assert reopened.alerts("ada") == [alert]
            assert reopened.events() == events
            clock.advance(DAY)
            reopened.burn("ada", 1)
            assert reopened.verify().ok
        finally:
            reopened.close()

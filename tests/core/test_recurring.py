"""SPEC §17 to §20 in the pure core: schedules (carry, then grant), auto top-ups and balance
alerts, the same-instant order, and reads that agree with what a write records. Ported cases
are named after their source (OpenMeter's credit engine and entitlement tests, Lago's
threshold top-ups and wallet alerts, Orb's documented alert kinds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from creditcore import rules
from creditcore.core.commands import AddAlert, Burn, Grant, PlaceHold, ScheduleGrant, SetTopUp
from creditcore.core.state import AccountState, Tally
from creditcore.errors import Conflict, ValidationError

T1 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Account:
    """One customer's account driven through the rules, keeping every entry and event."""

    def __init__(self) -> None:
        self.state = AccountState(customer="c")
        self.entries: list[object] = []
        self.events: list[object] = []
        self.ops = 0
        self.schedule_forms: dict[str, object] = {}
        self.alert_forms: dict[str, object] = {}
        self.top_up_versions: list[tuple[datetime, str, object]] = []

    def apply(self, step: rules.Transition) -> rules.Transition:
        self.state = step.state
        self.entries.extend(step[1])
        settings = step.state.settings()
        self.events.extend(settings.events)
        self.schedule_forms.update((s.id, s) for s in settings.schedules)
        self.alert_forms.update((x.id, x) for x in settings.alerts)
        self.top_up_versions.extend(settings.top_ups)
        return step

    def all_blocks(self) -> list[object]:
        return list(self.state.blocks.values())

    def op(self) -> str:
        self.ops += 1
        return f"op{self.ops}"

    def schedule(self, amount: int, at: datetime, **fields: object) -> rules.Transition:
        fields.setdefault("every", "1 day")
        command = ScheduleGrant(schedule_id=fields.pop("schedule_id", "s1"), unit="credits", amount=amount, **fields)  # type: ignore[arg-type]
        return self.apply(rules.schedule_grant(self.state, command, at))

    def grant(self, amount: int, at: datetime, **fields: object) -> rules.Transition:
        op = self.op()
        return self.apply(
            rules.grant(self.state, Grant(op_id=op, block_id=f"b{op}", unit="credits", amount=amount, **fields), at)
        )  # type: ignore[arg-type]

    def burn(self, amount: int, at: datetime, overdraft: str = "reject") -> rules.Transition:
        command = Burn(op_id=self.op(), unit="credits", amount=amount, overdraft=overdraft)  # type: ignore[arg-type]
        return self.apply(rules.burn(self.state, command, at))

    def balance(self, at: datetime) -> Tally:
        return rules.tally(rules.view(self.state, at), "credits", at)

    def net(self, at: datetime) -> int:
        figures = self.balance(at)
        return figures.available - figures.debt

    def advance(self, at: datetime) -> rules.Transition:
        return self.apply(rules.advance(self.state, at))


# -- schedules ---------------------------------------------------------------------------------


def test_a_schedule_grants_each_period_once_and_the_leftover_expires() -> None:
    a = Account()
    made = a.schedule(100, T1)
    assert [(e.kind, e.op_id, e.amount) for e in made[1]] == [("grant", "schedule:s1:0", 100)]
    a.burn(30, T1 + HOUR)
    assert a.balance(T1 + DAY + HOUR).available == 100  # refill: the 70 left expired at the boundary
    step = a.advance(T1 + 3 * DAY)
    grants = [e.op_id for e in step[1] if e.kind == "grant"]
    assert grants == ["schedule:s1:1", "schedule:s1:2", "schedule:s1:3"]
    assert a.advance(T1 + 3 * DAY)[1] == ()  # each period is granted once
    assert a.balance(T1 + 3 * DAY).expired == 70 + 100 + 100


def test_a_capped_carry_moves_what_is_left_into_a_carry_block() -> None:
    a = Account()
    a.schedule(100, T1, rollover_max=50)
    a.burn(30, T1 + HOUR)
    step = a.advance(T1 + DAY)
    assert [(e.kind, e.op_id, e.amount) for e in step[1]] == [
        ("move_out", "carry:s1:1", 50), ("move_in", "carry:s1:1", 50), ("expire", "expire:s1/0", 20),
        ("grant", "schedule:s1:1", 100),
    ]  # fmt: skip
    assert a.balance(T1 + DAY).available == 150
    assert a.state.schedules["s1"].block_ids == ("s1/1/carry", "s1/1")
    carry = a.state.blocks["s1/1/carry"]
    assert (carry.source, carry.schedule_id, carry.expires_at) == ("carry", "s1", T1 + 2 * DAY)


def test_openmeter_reset_caps_carry_at_rollover_max() -> None:
    # engine/reset_test.go TestReset "Should reset roll over grant balance after one reset"
    a = Account()
    a.schedule(0, T1, every="5 hours", first_amount=100, rollover_max=50)
    a.burn(10, T1 + HOUR)
    at_reset = a.balance(T1 + 5 * HOUR)
    assert (at_reset.available, at_reset.expired) == (50, 40)
    assert a.balance(T1 + DAY).available == 50  # later boundaries carry min(50, 50)


def test_openmeter_reset_min_max_with_preserved_overage() -> None:
    # engine/reset_test.go "Should carry over overage to next period"; we never forgive debt
    a = Account()
    a.schedule(0, T1, every="5 hours", first_amount=100, rollover_max=50, rollover_min=50)
    a.burn(10, T1 + HOUR)
    a.burn(100, T1 + 2 * HOUR, overdraft="debt")
    assert a.net(T1 + 2 * HOUR) == -10
    assert a.net(T1 + 5 * HOUR) == 40


def test_openmeter_recurring_grant_refill_pays_overage() -> None:
    # engine/run_test.go TestEngine "Burns down recurring grant"
    a = Account()
    a.schedule(100, T1)
    a.burn(120, T1 + HOUR, overdraft="debt")
    assert a.net(T1 + HOUR) == -20
    after = a.balance(T1 + DAY + HOUR)
    assert (after.available, after.debt) == (80, 0)


def test_openmeter_recurrence_and_reset_same_instant() -> None:
    # engine/reset_test.go "Should include grant recurrence in starting balance"
    a = Account()
    a.schedule(100, T1)
    a.burn(10, T1 + HOUR)
    figures = a.balance(T1 + DAY)
    assert (figures.available, figures.expired) == (100, 90)


def test_openmeter_reset_sequential_with_grant_added_mid_period() -> None:
    # metered/reset_test.go "Should calculate balance for grants taking effect after last saved snapshot"
    s = T1
    a = Account()
    a.schedule(0, s, schedule_id="A", every="5 hours", anchor=s, start=s + 2 * HOUR, first_amount=1000,
               rollover_max=1000, priority=1)  # fmt: skip
    a.schedule(0, s, schedule_id="B", every="5 hours", anchor=s, start=s + 2 * HOUR, first_amount=1000,
               rollover_max=100, priority=3)  # fmt: skip
    a.burn(600, s + 2 * HOUR + timedelta(minutes=1))
    assert a.balance(s + 5 * HOUR).available == 500
    a.schedule(0, s + 5 * HOUR, schedule_id="C", every="5 hours", anchor=s, start=s + 6 * HOUR, first_amount=1000,
               rollover_max=1000, priority=1)  # fmt: skip
    a.burn(300, s + 5 * HOUR + timedelta(minutes=10))
    assert a.balance(s + 10 * HOUR).available == 1200


def test_the_schedule_formula_covers_refill_carry_and_the_reset_clamp() -> None:
    # after B: max(min(r, rollover_max) + amount, rollover_min)
    for (r_used, amount, rmax, rmin), expected in [
        ((30, 100, 0, 0), 100),  # Lago refill to 100 (nothing carried)
        ((30, 100, 50, 0), 150),  # Orb / Metronome capped carry
        ((95, 100, 50, 0), 105),
        ((30, 0, 50, 20), 50),  # OpenMeter reset clamp
        ((95, 0, 50, 20), 20),
    ]:
        a = Account()
        a.schedule(amount, T1, first_amount=100, rollover_max=rmax, rollover_min=rmin)
        a.burn(r_used, T1 + HOUR)
        assert a.balance(T1 + DAY).available == expected, (r_used, amount, rmax, rmin)


def test_a_month_end_anchor_clamps_each_period() -> None:
    # OpenMeter recurrence tests: 31 Jan -> 29 Feb (2024) -> 31 Mar
    a = Account()
    jan31 = datetime(2024, 1, 31, tzinfo=UTC)
    a.schedule(10, jan31, every="1 month")
    step = a.advance(datetime(2024, 3, 31, tzinfo=UTC))
    assert [e.at.date().isoformat() for e in step[1] if e.kind == "grant"] == ["2024-02-29", "2024-03-31"]


def test_no_period_starts_at_or_after_until_and_the_last_keeps_its_blocks_to_its_end() -> None:
    a = Account()
    a.schedule(10, T1, until=T1 + 2 * DAY - HOUR)
    assert a.balance(T1 + 2 * DAY - HOUR).available == 10
    a.advance(T1 + 5 * DAY)
    grants = [e.op_id for e in a.entries if e.kind == "grant"]
    assert grants == ["schedule:s1:0", "schedule:s1:1"]
    assert "s1" not in a.state.schedules  # ended at the end of its last period


def test_a_cancel_stops_later_periods_and_a_cancelled_schedule_cannot_be_cancelled_again() -> None:
    a = Account()
    a.schedule(10, T1)
    a.apply(rules.cancel_schedule(a.state, "s1", T1 + DAY))  # the period starting then has happened
    a.advance(T1 + 4 * DAY)
    assert [e.op_id for e in a.entries if e.kind == "grant"] == ["schedule:s1:0", "schedule:s1:1"]
    assert "s1" not in a.state.schedules


def test_a_hold_timing_out_on_a_boundary_gives_back_credit_neither_carried_nor_kept() -> None:
    a = Account()
    a.schedule(100, T1, rollover_max=100)
    a.apply(rules.hold(a.state, PlaceHold(op_id="h", hold_id="h", unit="credits", amount=40,
                                          expires_at=T1 + DAY), T1))  # fmt: skip
    step = a.advance(T1 + DAY)
    kinds = [(e.kind, e.op_id) for e in step[1]]
    # the carry takes the 60 unheld, the expiry finds nothing unheld, the timeout's release
    # into the expired block expires at once
    assert kinds[:2] == [("move_out", "carry:s1:1"), ("move_in", "carry:s1:1")]
    assert ("expire", "timeout:h") in kinds
    assert a.balance(T1 + DAY).available == 160


def test_an_upcoming_grant_settles_debt_before_a_schedules_fresh_block() -> None:
    a = Account()
    a.schedule(100, T1, start=T1 + DAY)
    a.burn(30, T1 + HOUR, overdraft="debt")
    a.grant(50, T1 + HOUR, effective_at=T1 + DAY)
    step = a.advance(T1 + DAY)
    assert [(e.kind, e.op_id) for e in step[1]] == [
        ("settle", "settle:bop2"), ("grant", "schedule:s1:0"),
    ]  # fmt: skip


def test_bad_schedules_are_refused() -> None:
    a = Account()
    for fields, field in [
        ({"every": "0 days"}, "every"), ({"every": "1 fortnight"}, "every"),
        ({"every": timedelta(seconds=30)}, "every"),
        ({"start": T1 - HOUR}, "start"), ({"until": T1}, "until"), ({"rollover_max": -1}, "rollover_max"),
        ({"timezone": "Mars/Base"}, "timezone"), ({"first_amount": -5}, "first_amount"),
    ]:  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            a.schedule(10, T1, **fields)
        assert caught.value.field == field, fields
    with pytest.raises(ValidationError) as caught:
        a.schedule(0, T1, first_amount=0)
    assert caught.value.field == "amount"


# -- auto top-up --------------------------------------------------------------------------------


def top_up(a: Account, at: datetime, **fields: object) -> None:
    a.apply(rules.set_top_up(a.state, SetTopUp(unit="credits", **fields), at))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("net", "threshold", "amount", "granted"),
    [(-4298, 100, 500, 4500), (-50, 10, 50, 100), (-100, 10, 50, 150), (10, 10, 50, 50), (11, 10, 50, 0)],
)
def test_lago_threshold_fixed_closes_whole_gap(net: int, threshold: int, amount: int, granted: int) -> None:
    # Lago threshold top-up, fixed amount: the smallest multiple of the amount that lifts the
    # balance above the threshold (-429.8 with threshold 10 and amount 50 -> 450, in tenths
    # here; -50 -> 100; -100 -> 150; a balance at the threshold tops up)
    a = Account()
    a.grant(1000, T1)
    a.burn(1000 - net, T1, overdraft="debt")
    top_up(a, T1, threshold=threshold, amount=amount)
    assert a.net(T1) == net + granted
    assert [(e.kind, e.amount) for e in a.events] == ([("top_up", granted)] if granted else [])


def test_lago_threshold_target_fills_gap() -> None:
    a = Account()
    a.grant(100, T1)
    top_up(a, T1, threshold=50, target=200)
    a.burn(80, T1 + HOUR)
    assert a.net(T1 + HOUR) == 200
    (event,) = a.events
    assert (event.kind, event.previous, event.current, event.amount) == ("top_up", 20, 200, 180)


def test_a_top_up_fires_only_after_a_step_that_lowers_net_and_never_triggers_another() -> None:
    a = Account()
    a.grant(10, T1)
    top_up(a, T1, threshold=5, amount=10)
    assert a.events == []
    a.grant(1, T1 + HOUR)  # raises net: nothing
    a.burn(8, T1 + HOUR)  # 11 - 8 = 3 <= 5: one top-up of 10
    assert [(e.kind, e.previous, e.current) for e in a.events] == [("top_up", 3, 13)]
    assert a.net(T1 + HOUR) == 13


def test_an_expiry_that_lowers_net_fires_a_top_up_in_its_own_step() -> None:
    a = Account()
    a.grant(10, T1, expires_at=T1 + DAY)
    top_up(a, T1, threshold=0, amount=25)
    figures = a.balance(T1 + DAY)  # a read counts the top-up a write would record
    assert figures.available == 25
    step = a.advance(T1 + DAY)
    assert [e.op_id.split(":")[0] for e in step[1]] == ["expire", "top_up"]
    assert a.events[-1].at == T1 + DAY


# -- alerts -------------------------------------------------------------------------------------


def alert(a: Account, kind: str, at: datetime, thresholds: tuple[int, ...] = (), alert_id: str | None = None) -> None:
    command = AddAlert(alert_id=alert_id or kind, unit="credits", kind=kind, thresholds=thresholds)
    a.apply(rules.add_alert(a.state, command, at))


def test_orb_depleted_and_recovered_on_transitions_through_zero() -> None:
    a = Account()
    a.grant(10, T1)
    alert(a, "depleted", T1)
    alert(a, "recovered", T1)
    a.burn(10, T1 + HOUR)
    a.burn(5, T1 + HOUR, overdraft="debt")  # already at or below 0: nothing
    a.grant(6, T1 + 2 * HOUR)  # -5 -> 1
    assert [(e.kind, e.previous, e.current) for e in a.events] == [
        ("balance_depleted", 10, 0), ("balance_recovered", -5, 1),
    ]  # fmt: skip


def test_lago_alert_decreasing_thresholds_one_event_lists_every_threshold_crossed() -> None:
    a = Account()
    a.grant(1000, T1)
    alert(a, "dropped", T1, (500, 800, 100))
    a.burn(500, T1 + HOUR)  # 1000 -> 500 crosses 800 and 500
    a.burn(1, T1 + HOUR)  # 500 -> 499: nothing new
    (event,) = a.events
    assert (event.kind, event.thresholds, event.op_id) == ("balance_dropped", (800, 500), "op2")


def test_an_alert_after_a_write_names_the_write_and_after_a_due_instant_the_top_up() -> None:
    a = Account()
    a.grant(60, T1, expires_at=T1 + DAY)
    a.grant(40, T1)
    alert(a, "dropped", T1, (50, 48))
    top_up(a, T1, threshold=45, amount=6)
    a.burn(50, T1 + HOUR)  # 100 -> 50: crosses 50, above the top-up's threshold
    a.advance(T1 + DAY)  # the 10 left expires: 50 -> 40, topped up to 46: crosses 48
    assert [(e.kind, e.thresholds, e.op_id.split(":")[0]) for e in a.events] == [
        ("balance_dropped", (50,), "op3"), ("top_up", (), "top_up"), ("balance_dropped", (48,), "top_up"),
    ]  # fmt: skip


def test_orb_top_up_hides_dip_from_alerts() -> None:
    a = Account()
    a.grant(10, T1)
    alert(a, "depleted", T1)
    top_up(a, T1, threshold=0, amount=20)
    a.burn(10, T1 + HOUR)  # 10 -> 0, lifted to 20 in the same step: no depletion
    assert [e.kind for e in a.events] == ["top_up"]


def test_events_of_a_step_come_top_up_first_then_depleted_dropped_recovered() -> None:
    a = Account()
    a.burn(5, T1, overdraft="debt")
    for kind, thresholds in (("recovered", ()), ("dropped", (0,)), ("depleted", ())):
        alert(a, kind, T1, thresholds)
    top_up(a, T1 + HOUR, threshold=-10, amount=100)
    a.grant(1, T1 + HOUR)  # -5 -> -4: no alert
    a.burn(20, T1 + HOUR, overdraft="debt")  # -4 -> -24 -> top-up to 76: recovered
    assert [e.kind for e in a.events] == ["top_up", "balance_recovered"]


def test_one_alert_of_a_kind_per_unit_and_bad_alerts_are_refused() -> None:
    a = Account()
    alert(a, "depleted", T1)
    with pytest.raises(Conflict):
        alert(a, "depleted", T1, alert_id="again")
    for kind, thresholds, field in [
        ("bogus", (), "kind"), ("dropped", (), "thresholds"), ("dropped", (1, 1), "thresholds"),
        ("depleted", (5,), "thresholds"), ("dropped", tuple(range(21)), "thresholds"),
    ]:  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            AddAlert(alert_id="x", unit="credits", kind=kind, thresholds=thresholds)
        assert caught.value.field == field


# -- reads agree with writes ---------------------------------------------------------------------


def test_reads_at_any_time_agree_with_what_a_write_then_records() -> None:
    a = Account()
    a.schedule(100, T1, rollover_max=30, every="1 day")
    a.grant(20, T1, expires_at=T1 + 2 * DAY + HOUR)
    top_up(a, T1, threshold=10, amount=40)
    alert(a, "dropped", T1, (50, 20))
    a.burn(90, T1 + HOUR)
    for days in range(1, 6):
        t = T1 + days * DAY + HOUR
        read = a.balance(t)
        b = Account()
        b.state = a.state
        b.advance(t)
        assert rules.tally(b.state, "credits", t) == read


def test_a_past_state_rebuilt_from_entries_and_settings_reads_as_it_did_then() -> None:
    a = Account()
    reads: list[tuple[datetime, Tally]] = []
    a.schedule(100, T1, rollover_max=30)
    top_up(a, T1, threshold=10, amount=40)
    alert(a, "depleted", T1)
    for hours in (5, 30, 55, 80, 100):
        t = T1 + hours * HOUR
        a.burn(45, t, overdraft="debt")
        reads.append((t, a.balance(t)))
        reads.append((t + 3 * HOUR, a.balance(t + 3 * HOUR)))
    a.apply(rules.cancel_schedule(a.state, "s1", T1 + 101 * HOUR))
    reads.append((T1 + 150 * HOUR, a.balance(T1 + 150 * HOUR)))
    history = rules.SettingsHistory(
        schedules=tuple(a.schedule_forms.values()),  # type: ignore[arg-type]
        top_ups=tuple(a.top_up_versions),  # type: ignore[arg-type]
        alerts=tuple(a.alert_forms.values()),  # type: ignore[arg-type]
    )
    entries = [attrs.evolve(e, seq=i) for i, e in enumerate(a.entries, start=1)]
    for t, expected in reads:
        past = rules.rebuild("c", a.all_blocks(), [], entries, until=t, settings=history)
        assert rules.tally(rules.view(past, t), "credits", t) == expected, t


def test_a_change_set_carries_the_settings_a_rule_changed() -> None:
    # what a store is given: every schedule, rule version and alert the step changed, and its
    # events, so no store can leave them out
    from creditcore.repository import ChangeSet

    a = Account()
    before = a.state
    a.schedule(10, T1)
    changes = ChangeSet.of(before, a.state, [])
    assert [s.id for s in changes.settings.schedules] == ["s1"]
    assert changes.account.schedules.keys() == {"s1"}
    top = a.apply(rules.set_top_up(a.state, SetTopUp(unit="credits", threshold=50, amount=25), T1))
    changes = ChangeSet.of(before, top.state, [])
    assert [(at, unit, rule.threshold) for at, unit, rule in changes.settings.top_ups if rule] == [(T1, "credits", 50)]
    assert [e.kind for e in changes.settings.events] == ["top_up"]

"""The state machine's top-up rules and alerts: rules in amount or target mode at thresholds of
either sign, set, set again as they are (not a write) or removed; alerts of each kind added
(named or not, a second of a kind: ``Conflict``), added again under their id, removed; and reads
of schedules, rules, alerts and the event outbox, paged with its cursor, at other times."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from creditcore.testing.reference import EVENT_FIELDS
from creditcore.testing.stateful.calls import CUSTOMERS, JUMPS, UNITS, Call, at_choices, customers, zones
from creditcore.testing.stateful.side_by_side import SideBySide

_EXPIRES: tuple[str | timedelta | None, ...] = (None, None, None, "2 hours", timedelta(minutes=90), "1 day")


class SettingRules(SideBySide):
    """``set_top_up`` (and removing it), ``add_alert`` (and removing one) and ``read_settings``
    (only in a machine ``with_settings``)."""

    @precondition(lambda self: self.with_settings)
    @rule(
        customer=customers,
        unit=st.sampled_from(("credits", "credits", "usd")),
        action=st.sampled_from(("set", "set", "set", "again", "remove")),
        mode=st.sampled_from(("amount", "amount", "target")),
        threshold=st.sampled_from((-40, -5, 0, 0, 3, 10, 25)),
        size=st.integers(1, 30),
        expires_after=st.sampled_from(_EXPIRES),
        category=st.sampled_from((None, None, "promotional")),
        priority=st.sampled_from((None, None, 0, 80)),
        when=at_choices,
        zone=zones,
    )
    def set_top_up(self, customer: str, unit: str, action: str, mode: str, threshold: int, size: int,
                   expires_after: str | timedelta | None, category: str | None, priority: int | None, when: str,
                   zone: tzinfo) -> None:  # fmt: skip
        """Set the unit's rule (it fires at once if net is at or below the threshold), set the
        rule in force again (nothing changes, whatever ``at``), or remove it."""
        at = self._time_for(when, customer, zone)
        if action == "remove":
            self.perform_setting(Call("remove_top_up", {"customer": customer, "unit": unit}), at)
            return
        in_force = self.model.top_up_rule(customer, unit)
        if action == "again" and in_force is not None:
            kwargs: dict[str, Any] = {
                "customer": customer, "unit": unit, "threshold": in_force.threshold, "amount": in_force.amount,
                "target": in_force.target, "category": in_force.category, "priority": in_force.priority,
                "expires_after": in_force.expires_after, "cost_basis": in_force.cost_basis,
            }  # fmt: skip
        else:
            step = Decimal(size).scaleb(-1) if UNITS[unit] else Decimal(size)
            kwargs = {"customer": customer, "unit": unit, "threshold": threshold}
            kwargs["amount" if mode == "amount" else "target"] = step if mode == "amount" else threshold + step
            if expires_after is not None:
                kwargs["expires_after"] = expires_after
            if category is not None:
                kwargs["category"] = category
            if priority is not None:
                kwargs["priority"] = priority
        self.perform_setting(Call("set_top_up", kwargs), at)

    @precondition(lambda self: self.with_settings)
    @rule(
        customer=customers,
        unit=st.sampled_from(("credits", "credits", "usd")),
        action=st.sampled_from(("add", "add", "add", "again", "remove", "remove", "remove-unknown")),
        kind=st.sampled_from(("depleted", "dropped", "dropped", "recovered")),
        levels=st.lists(st.sampled_from((-20, -5, 0, 1, 5, 10, 30)), min_size=1, max_size=3, unique=True),
        named=st.booleans(),
        pick=st.integers(0, 100),
        when=at_choices,
        zone=zones,
    )
    def add_alert(self, customer: str, unit: str, action: str, kind: str, levels: list[int], named: bool, pick: int,
                  when: str, zone: tzinfo) -> None:  # fmt: skip
        """Add an alert (a second active one of a kind in a unit: ``Conflict``); add one
        again under its id, as it was (it is returned) or as another kind
        (``IdempotencyConflict``); remove one (again: unchanged) or an unknown one
        (``NotFound``)."""
        known = list(self.model.alerts.values())
        if action.startswith("remove"):
            alert_id = "no-such-alert" if action == "remove-unknown" or not known else known[pick % len(known)].id
            call = Call("remove_alert", {"alert_id": alert_id})
            self.perform_setting(call, self._time_for(when, self._customer_of(call), zone))
            return
        kwargs: dict[str, Any] = {"customer": customer, "unit": unit, "kind": kind}
        if action == "again" and known:
            found = known[pick % len(known)]
            kwargs = {"customer": found.customer, "unit": found.unit, "kind": found.kind,
                      "thresholds": list(found.thresholds), "alert_id": found.id}  # fmt: skip
            if pick % 3 == 0:
                kwargs.update(kind="recovered" if found.kind != "recovered" else "depleted", thresholds=())
        else:
            if kind == "dropped":
                kwargs["thresholds"] = levels
            if named:
                kwargs["alert_id"] = f"alr-{next(self._ids)}"
        self.perform_setting(Call("add_alert", kwargs), self._time_for(when, kwargs["customer"], zone))

    @precondition(lambda self: self.with_settings)
    @rule(
        customer=customers,
        past=st.sampled_from(("now", "past", "future")),
        index=st.integers(min_value=0, max_value=10**6),
        limit=st.integers(1, 4),
        filtered=st.booleans(),
    )
    def read_settings(self, customer: str, past: str, index: int, limit: int, filtered: bool) -> None:
        """Schedules, top-up rules and alerts read at another time (past, or future: periods
        and top-ups counted before they are recorded) agree with the model; the event outbox
        paged with its cursor, for one customer or all, gives every event once, in order."""
        at: datetime | None = None
        if past == "past":
            at = self.instants[index % len(self.instants)]
        elif past == "future":
            at = self.now + JUMPS[index % len(JUMPS)] * (1 + index % 5)
        note(f"read settings of {customer} at {at}")
        self._check_settings(customer, at)
        for schedule in self.model.schedule_list(customer, at=at):
            found = self.ledger.get_schedule(str(schedule["id"]), at=at)
            got = {name: getattr(found, name) for name in schedule}
            assert got == schedule, f"get_schedule at {at}: {got}, the model has {schedule}"
        who = customer if filtered else None
        seen: list[Any] = []
        cursor: str | None = None
        while True:
            page = self.ledger.events(customer=who, after=cursor, limit=limit)
            assert page.next_cursor is not None
            if not page.items:
                assert cursor is None or page.next_cursor == cursor, "an empty page moved the cursor"
                break
            seen += page.items
            cursor = page.next_cursor
        events = [tuple(getattr(e, name) for name in EVENT_FIELDS) for e in seen]
        expected = [tuple(getattr(e, name) for name in EVENT_FIELDS) for e in self.model.events_of(who)]
        if who is None:  # a sweep writes customer by customer: compare each one's events
            events = sorted(events, key=lambda e: CUSTOMERS.index(str(e[1])))
            expected = sorted(expected, key=lambda e: CUSTOMERS.index(str(e[1])))
        assert events == expected, f"events paged by {limit}: {events}, the model has {expected}"

"""The state machine's schedules: recurring grants of every rollover shape —
refill, capped carry, the reset clamp, a first period of its own — every 45 minutes, some hours
or a day (short beside the clock's jumps, so boundaries pass), starting now or later, with
an anchor of their own, an end, a scope or single-use credit now and then, named, generated
or keyed; a generated id reused with other arguments; and cancels."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from creditcore.testing.stateful.calls import HOUR, UNITS, Call, at_choices, customers, zones
from creditcore.testing.stateful.side_by_side import SideBySide

#: Periods short beside the clock's jumps (up to a day), so that boundaries pass often.
EVERY: tuple[str | timedelta, ...] = ("1 hour", "1 hour", "2 hours", timedelta(minutes=45), "90 minutes", "1 day")
_SHAPES = ("refill", "refill", "carry", "carry", "clamp", "first")
_EXTRAS = ("plain",) * 6 + ("scoped", "single_use", "no_settle", "paid first")


class ScheduleRules(SideBySide):
    """``schedule_grant`` and ``cancel_schedule`` (only in a machine ``with_settings``)."""

    @precondition(lambda self: self.with_settings)
    @rule(
        customer=customers,
        unit=st.sampled_from(("credits", "credits", "usd")),
        shape=st.sampled_from(_SHAPES),
        sizes=st.tuples(st.integers(0, 12), st.integers(1, 12), st.integers(0, 20)),
        every=st.sampled_from(EVERY),
        begins=st.sampled_from(("now", "now", "later", "grid", "anchored")),
        ends=st.sampled_from((None, 2, 3, 5)),
        zone_name=st.sampled_from((None, None, None, "Europe/Berlin")),
        extras=st.sampled_from(_EXTRAS),
        ident=st.sampled_from(("given", "given", "generated", "generated", "key", "reuse")),
        when=at_choices,
        zone=zones,
    )
    def schedule_grant(self, customer: str, unit: str, shape: str, sizes: tuple[int, int, int],
                       every: str | timedelta, begins: str, ends: int | None, zone_name: str | None, extras: str,
                       ident: str, when: str, zone: tzinfo) -> None:  # fmt: skip
        """A schedule: refill (``rollover_max=0``), a capped carry, the reset clamp
        (``amount=0``, ``first_amount``, ``rollover_max``, ``rollover_min``) or a first
        amount of its own; starting now (period 0 at once), some minutes or a grid hour
        later, or now on an anchor 17 minutes back; ending after some hours or never."""
        carry, amount, first = sizes
        scale = UNITS[unit]

        def of(whole: int) -> Decimal:
            return Decimal(whole).scaleb(-1) if scale else Decimal(whole)

        kwargs: dict[str, Any] = {"customer": customer, "amount": of(amount), "unit": unit, "every": every}
        if shape == "carry":
            kwargs["rollover_max"] = of(carry)
        elif shape == "clamp":
            kwargs.update(amount=0, first_amount=of(first or amount), rollover_max=of(carry), rollover_min=of(amount))
        elif shape == "first":
            kwargs.update(first_amount=of(first), rollover_max=of(carry))
        at = self._time_for(when, customer, zone)
        t = at if at is not None else self.model.read_time(customer)
        start: datetime = t
        if begins == "later":
            start = t + timedelta(minutes=20)
            kwargs["start"] = start.astimezone(zone)
        elif begins == "grid":
            start = self._grid(t, 1, zone)
            kwargs["start"] = start
        elif begins == "anchored":
            kwargs["anchor"] = (t - timedelta(minutes=17)).astimezone(zone)
        if ends is not None:
            kwargs["until"] = (start + ends * HOUR).astimezone(zone)
        if zone_name is not None:
            kwargs["timezone"] = zone_name
        extra: dict[str, dict[str, Any]] = {
            "scoped": {"scope": "trip"}, "single_use": {"single_use": True}, "no_settle": {"settle_debt": False},
            "paid first": {"category": "paid", "priority": 0},
        }  # fmt: skip
        kwargs.update(extra.get(extras, {}))
        generated = [s for s in self.model.schedules if not s.startswith("sch-")]
        if ident == "reuse" and generated:
            # a generated id is a key of its own: other arguments are a conflict
            kwargs.update(schedule_id=generated[sizes[2] % len(generated)], description="reused")
        elif ident in ("given", "reuse"):
            kwargs["schedule_id"] = f"sch-{next(self._ids)}"
        elif ident == "key":
            kwargs["idempotency_key"] = f"key-{next(self._ids)}"
        self.perform(Call("schedule_grant", kwargs), at)

    @precondition(lambda self: bool(self.model.schedules))
    @rule(pick=st.integers(0, 100), unknown=st.sampled_from((False,) * 7 + (True,)), when=at_choices, zone=zones)
    def cancel_schedule(self, pick: int, unknown: bool, when: str, zone: tzinfo) -> None:
        """Cancel a schedule (active, cancelled already: a replay, or ended: ``Conflict``),
        or an unknown one (``NotFound``)."""
        known = list(self.model.schedules)
        call = Call("cancel_schedule", {"schedule_id": "no-such-schedule" if unknown else known[pick % len(known)]})
        self.perform(call, self._time_for(when, self._customer_of(call), zone))

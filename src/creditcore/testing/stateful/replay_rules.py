"""The state machine's refusals and replays: bad input that must be refused without a
write, and earlier keyed calls made again (as they were, reformatted, stale, changed,
or as another kind of call under the same key)."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from creditcore.testing.stateful.calls import HOUR, SETTINGS, Call, at_choices, customers, zones
from creditcore.testing.stateful.side_by_side import SideBySide
from creditcore.testing.stateful.variants import changed_call, other_kind, reformatted

#: The calls ``refuse_bad_input`` makes: with a bad amount or an unknown target, or (``-filter``)
#: a burn or hold with a bad scope set or category filter.
_BAD_INPUT_KINDS = (
    "grant", "burn", "hold", "capture", "void", "reverse", "change_expiry", "refund", "burn-filter", "hold-filter",
    "schedule_grant", "set_top_up", "add_alert",
)  # fmt: skip
#: Arguments of a schedule, a top-up rule or an alert that must be refused,
#: as ``(argument, value)``, on a call that is otherwise fine.
_BAD_SETTINGS: dict[str, tuple[tuple[str, object], ...]] = {
    "schedule_grant": (
        ("every", "0 hours"),
        ("every", "30 seconds"),
        ("every", timedelta(seconds=59)),
        ("every", "fortnightly"),
        ("every", 3),
        ("amount", 0),
        ("amount", -1),
        ("rollover_max", -1),
        ("rollover_min", "0.5"),
        ("first_amount", "x"),
        ("timezone", "Mars/Olympus"),
        ("start", "past"),
        ("until", "at start"),
        ("schedule_id", ""),
        ("category", "gift"),
        ("anchor", "naive"),
    ),
    "set_top_up": (
        ("amount", None),
        ("amount", 0),
        ("target", "below"),
        ("both", 5),
        ("threshold", "0.5"),
        ("expires_after", "0 days"),
        ("category", "gift"),
        ("unit", "gold"),
    ),
    "add_alert": (
        ("kind", "low"),
        ("thresholds", ()),
        ("thresholds", (5, 5)),
        ("thresholds", "5"),
        ("thresholds", tuple(range(21))),
        ("thresholds", "on depleted"),
        ("unknown", "remove_alert"),
        ("unknown", "cancel_schedule"),
        ("thresholds", ("0.5",)),
    ),
}
#: Scope sets and categories a burn or hold must refuse, as ``(argument, value)``.
_BAD_FILTERS: tuple[tuple[str, object], ...] = (
    ("scope", ()),
    ("scope", ("trip", "")),
    ("scope", ""),
    ("categories", ()),
    ("categories", "gift"),
    ("categories", ("paid", "gift")),
)


class ReplayRules(SideBySide):
    """``refuse_bad_input`` and ``repeat_a_call``."""

    @rule(
        customer=customers,
        kind=st.sampled_from(_BAD_INPUT_KINDS),
        amount=st.sampled_from((0, -1, "0.001", "1.5", 1.5, True, "abc", "NaN", Decimal("Infinity"), None)),
        bad_filter=st.sampled_from(_BAD_FILTERS),
        index=st.integers(0, 100),
    )
    def refuse_bad_input(self, customer: str, kind: str, amount: object, bad_filter: tuple[str, object],
                         index: int) -> None:  # fmt: skip
        """Amounts the ledger must refuse (zero, negative, too precise, float, bool, not a
        number) and scope sets or categories it must refuse (empty, a name that is not an
        identifier, an unknown category) raise ``ValidationError``; so do bad schedules, top-up
        rules and alerts (:data:`_BAD_SETTINGS`); an unknown hold, block, op, schedule or
        alert raises ``NotFound``. Nothing is written."""
        if kind == "capture":
            self.perform(Call(kind, {"hold_id": "no-such-hold"}), None, remember=False)
            return
        if kind in _BAD_SETTINGS:
            self._bad_setting(kind, customer, _BAD_SETTINGS[kind][index % len(_BAD_SETTINGS[kind])])
            return
        if kind.endswith("-filter"):
            name, value = bad_filter
            kwargs: dict[str, Any] = {"customer": customer, "amount": 1, name: value}
            if kind == "hold-filter":
                kwargs["hold_id"] = f"hold-{next(self._ids)}"
            self.perform(Call(kind.removesuffix("-filter"), kwargs), None, remember=False)
            return
        if kind in ("void", "reverse", "change_expiry", "refund"):
            # None (all of it) and "1.5" (fine in usd) would be valid: those go to an unknown target
            by_op = kind in ("reverse", "refund")
            known = [op.id for op in self._reversal_targets()] if by_op else list(self.model.blocks)
            name = "op_id" if by_op else "block_id"
            bad = amount is not None and amount != "1.5"
            target = known[len(known) // 2] if known and bad else f"no-such-{name}"
            targeted: dict[str, Any] = {name: target, "amount": amount}
            if kind == "change_expiry":
                targeted["expires_at"] = self._grid(self.now, 2)
            self.perform(Call(kind, targeted), None, remember=False)
            return
        kwargs = {"customer": customer, "amount": amount}
        if kind == "hold":
            kwargs["hold_id"] = f"hold-{next(self._ids)}"
        self.perform(Call(kind, kwargs), None, remember=False)

    @precondition(lambda self: bool(self.calls))
    @rule(
        index=st.integers(min_value=0, max_value=10**6),
        variant=st.sampled_from(("same", "reformatted", "stale", "changed", "other-kind")),
        choice=st.integers(min_value=0, max_value=100),
        when=at_choices,
        zone=zones,
    )
    def repeat_a_call(self, index: int, variant: str, choice: int, when: str, zone: tzinfo) -> None:
        """An earlier keyed call made again: as it was (a replay if it succeeded, which writes
        nothing), with the same values written differently (still a replay), at a time before
        the customer's last entry (``at`` is not compared: still a replay), with one argument
        changed (``IdempotencyConflict``, or ``HoldNotActive`` for an ended hold), or as
        another kind of call with the same key."""
        call = self.calls[index % len(self.calls)]
        if variant == "reformatted":
            call = reformatted(call)
        elif variant == "changed":
            call = changed_call(call, choice, self._customer_of(call))
        elif variant == "other-kind":
            call = other_kind(call, self._customer_of(call))
        if variant == "stale":
            when = "stale"
        at = self._time_for(when, self._customer_of(call), zone)
        if call.kind in SETTINGS:
            self.perform_setting(call, at, remember=False)
        else:
            self.perform(call, at)

    def _bad_setting(self, kind: str, customer: str, bad: tuple[str, object]) -> None:
        """One bad argument on an otherwise fine schedule, top-up rule or alert."""
        name, value = bad
        if name == "unknown":
            target = "schedule_id" if value == "cancel_schedule" else "alert_id"
            self.perform_or_set(Call(str(value), {target: f"no-such-{target}"}))
            return
        t = self.model.read_time(customer)
        kwargs: dict[str, Any]
        if kind == "schedule_grant":
            kwargs = {"customer": customer, "amount": 5, "every": "1 hour"}
            if value == "past":
                value = t - HOUR
            elif value == "at start":
                kwargs["start"] = t + HOUR
                value = t + HOUR
            elif value == "naive":
                value = t.replace(tzinfo=None)
        elif kind == "set_top_up":
            kwargs = {"customer": customer, "unit": "credits", "threshold": 5, "amount": 10}
            if name == "both":
                name = "target"
            elif value == "below":
                kwargs.pop("amount")
                value = 5
        else:
            kwargs = {"customer": customer, "unit": "credits", "kind": "dropped", "thresholds": (5,)}
            if value == "on depleted":
                kwargs["kind"] = "depleted"
                value = (5,)
        self.perform_or_set(Call(kind, {**kwargs, name: value}))

    def perform_or_set(self, call: Call) -> None:
        if call.kind in ("schedule_grant", "cancel_schedule"):
            self.perform(call, None, remember=False)
        else:
            self.perform_setting(call, None, remember=False)

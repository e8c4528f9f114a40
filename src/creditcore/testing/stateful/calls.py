"""What the state machine draws from and how it records a call: the customers, units and
clock it starts with, the strategies its rules share, and :class:`Call`, one write as made."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle

from creditcore.testing import strategies as cst

Clock = Callable[[], datetime]
#: A scope set or a category filter as a caller writes it: ``None``, one name, or several.
Names = str | Collection[str] | None

START = datetime(2030, 1, 1, tzinfo=UTC)
#: Few customers, so that their blocks and holds interact.
CUSTOMERS = ("ada", "bob")
#: ``credits`` (whole) and a unit with cents.
UNITS: Mapping[str, int] = {"credits": 0, "usd": 2}
HOUR = timedelta(hours=1)
TINY = timedelta(microseconds=1)

# How a rule picks ``at``: the clock (no ``at``), now, the customer's last entry exactly,
# between it and now, or just before it (a time-order error unless the call replays).
_AT_CHOICES = ("clock", "clock", "clock", "now", "last", "between", "stale")
# calls keyed by ``idempotency_key`` (holds, captures and releases are keyed by their hold id;
# a schedule by its ``schedule_id`` when it has no key, its cancel by the schedule id, an
# alert by its ``alert_id``)
KEYED = ("grant", "burn", "void", "reverse", "change_expiry", "refund", "schedule_grant")
#: calls that return the object they set, not a ``Result``
SETTINGS = ("set_top_up", "remove_top_up", "add_alert", "remove_alert")
# calls whose entries draw blocks in burn order, under their own kind's name
DRAWING = ("burn", "hold", "capture")
# what falls due by itself: expiries, hold timeouts (credit given back to an expired or voided
# block expires or is voided at once), upcoming blocks settling debt
MAINTENANCE_KINDS = ("expire", "release", "void", "settle")
# what due events write besides: a schedule's carry (a move) and period grant, a top-up's grant
DUE_KINDS = (*MAINTENANCE_KINDS, "move_out", "move_in", "grant")
# the op ids of due events: ``<prefix>:<subject>``
DUE_OPS = ("expire", "timeout", "settle", "carry", "schedule", "top_up")
_DESCRIPTIONS = (None, None, None, "top-up", "plan: pro ✓")
_METADATA: tuple[dict[str, str] | None, ...] = (None, None, None, {"plan": "pro"}, {"order": "42", "src": "app"})
JUMPS = (TINY, timedelta(seconds=1), timedelta(minutes=59), HOUR, 3 * HOUR, timedelta(days=1))

# the first customer and whole credits more often, so that one account gathers several blocks
customers = st.sampled_from((CUSTOMERS[0], *CUSTOMERS))
at_choices = st.sampled_from(_AT_CHOICES)
zones = cst.time_zones()
descriptions = st.sampled_from(_DESCRIPTIONS)
metadatas = st.sampled_from(_METADATA)
# mostly unscoped credit, which serves every burn; scoped credit serves only the calls whose
# scope set meets its own ("trip" as a str is one scope, never its characters)
grant_scopes = st.sampled_from(
    (None, None, None, frozenset({"trip"}), frozenset({"video"}), frozenset({"trip", "video"}), "trip")
)
# one scope as a str, or a scope set (of one, or several, some no grant uses) as a set or tuple
burn_scopes = st.sampled_from(
    (None, None, None, None, "trip", "video", "food", frozenset({"trip", "video"}), ("food", "video"), ("trip",))
)
# mostly every category; sometimes one, as a str or a set, or both named
burn_categories = st.sampled_from((None,) * 6 + ("paid", "promotional", frozenset({"paid"}), ("promotional", "paid")))
# mostly reusable credit; now and then a single-use block, half of them burning
# first (priority 0) so that burns, holds and captures reach them
single_uses = st.sampled_from((None,) * 6 + ("as drawn", "burns first"))
# small blocks as often as large ones, so that burns, holds and captures span several
grant_amounts = st.one_of(
    cst.unit_amounts({"credits": 0}, max_whole=20),
    cst.unit_amounts(UNITS, max_whole=20),
    cst.unit_amounts(UNITS, max_whole=200),
)
# how a burn or hold is sized: as drawn, or at the boundary of what is available
sizes = st.sampled_from(("drawn", "drawn", "drawn", "all", "all+1"))
# mostly the default, so that the next keys (expiry first) decide often
priorities = st.one_of(st.just(50), st.just(50), cst.priorities())


#: The bundle of holds the machine placed and can still capture or release.
HOLDS = Bundle[str]("holds")


@dataclass(frozen=True)
class Call:
    """One write as the machine made it: the method name and its keyword arguments (all but
    ``at``), so that it can be made again as it was or with one argument changed."""

    kind: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str] | None:
        """What the call is keyed by: ``(namespace, key)``, as the ledger keeps idempotency keys,
        hold ids and schedule ids apart."""
        if self.kind == "schedule_grant" and self.kwargs.get("idempotency_key") is None:
            named = self.kwargs.get("schedule_id")
            return None if named is None else ("schedule", named)
        if self.kind in KEYED:
            key = self.kwargs.get("idempotency_key")
            return None if key is None else ("key", key)
        if self.kind == "cancel_schedule":
            return ("cancel", self.kwargs["schedule_id"])
        if self.kind in SETTINGS:  # only an alert's id is a key of its own
            named = self.kwargs.get("alert_id") if self.kind == "add_alert" else None
            return None if named is None else ("alert", named)
        return ("hold" if self.kind == "hold" else "end", self.kwargs["hold_id"])

    def but(self, **changes: Any) -> Call:
        return Call(self.kind, {**self.kwargs, **changes})

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.kind}({args})"


def scaled(minor: int, unit: str) -> Decimal:
    return Decimal(minor).scaleb(-UNITS[unit])


def attribute_at(value: object, path: str) -> object:
    for name in path.split("."):
        value = getattr(value, name)
    return value

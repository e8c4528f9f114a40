"""The rules of the ledger (kept here for importers: they live in :mod:`creditcore.core`).

Every rule returns a transition that unpacks as ``(new state, entries)`` and carries the
outcome its rule decided and the balance change it made (:mod:`creditcore.core.outcomes`).

>>> from datetime import datetime, UTC
>>> from creditcore import rules, state
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> s = state.AccountState(customer="ada")
>>> s, entries = rules.grant(s, state.Grant(op_id="op1", block_id="b1", unit="credits", amount=10), t)
>>> s, entries = rules.burn(s, state.Burn(op_id="op2", unit="credits", amount=4), t)
>>> rules.tally(s, "credits", t).available
6
"""

from typing import TypeAlias

from creditcore.core import outcomes as _outcomes
from creditcore.core.commands import Burn, Capture, ChangeExpiry, Grant, PlaceHold, Refund, Release, Reverse, Void
from creditcore.core.due import DueKind
from creditcore.core.effects import apply_to_block, apply_to_totals, inconsistent_history
from creditcore.core.history import SettingsHistory, audit, rebuild, timeline
from creditcore.core.order import DEFAULT_ORDER, BurnOrder
from creditcore.core.outcomes import (
    Advanced,
    BalanceChange,
    Burned,
    Captured,
    Configured,
    DueStep,
    Granted,
    Held,
    Moved,
    Outcome,
    Refunded,
    Released,
    Reversed,
    Voided,
)
from creditcore.core.rules import (
    add_alert,
    advance,
    burn,
    burn_each,
    cancel_schedule,
    capture,
    change_expiry,
    check_time,
    decimal_allocations,
    grant,
    hold,
    next_due,
    plan_draw,
    preview_burn,
    refund,
    release,
    remove_alert,
    remove_top_up,
    reverse,
    schedule_grant,
    set_top_up,
    tally,
    view,
    void,
)
from creditcore.core.state import (
    ENTRY_KINDS,
    AccountState,
    BlockState,
    EntryKind,
    EntryState,
    HoldState,
    HoldStatus,
    Problem,
    Tally,
    UnitTotals,
)

#: What any rule returns, whatever its outcome (each rule's own is
#: :class:`creditcore.core.outcomes.Transition` of its outcome class).
Transition: TypeAlias = _outcomes.Transition[Outcome]

__all__ = [
    "check_time",
    "DEFAULT_ORDER",
    "ENTRY_KINDS",
    "AccountState",
    "Advanced",
    "BalanceChange",
    "BlockState",
    "Burn",
    "BurnOrder",
    "Burned",
    "Capture",
    "Captured",
    "Configured",
    "ChangeExpiry",
    "DueKind",
    "DueStep",
    "EntryKind",
    "EntryState",
    "Grant",
    "Granted",
    "Held",
    "HoldState",
    "HoldStatus",
    "Moved",
    "Outcome",
    "PlaceHold",
    "Problem",
    "Release",
    "Released",
    "Refund",
    "Refunded",
    "SettingsHistory",
    "Reverse",
    "Reversed",
    "Tally",
    "Transition",
    "UnitTotals",
    "Void",
    "Voided",
    "add_alert",
    "advance",
    "cancel_schedule",
    "apply_to_block",
    "apply_to_totals",
    "audit",
    "burn",
    "burn_each",
    "capture",
    "change_expiry",
    "decimal_allocations",
    "grant",
    "hold",
    "inconsistent_history",
    "next_due",
    "plan_draw",
    "preview_burn",
    "rebuild",
    "refund",
    "release",
    "remove_alert",
    "remove_top_up",
    "reverse",
    "schedule_grant",
    "set_top_up",
    "tally",
    "timeline",
    "view",
    "void",
]

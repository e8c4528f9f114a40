"""The pure core's values and commands (kept here for importers: they live in
:mod:`creditcore.core.state` and :mod:`creditcore.core.commands`)."""

from creditcore.core.commands import (
    Burn,
    Capture,
    ChangeExpiry,
    Grant,
    PlaceHold,
    Release,
    Reverse,
    Void,
)
from creditcore.core.state import (
    ENTRY_KINDS,
    HOLD_STATUSES,
    AccountState,
    BlockState,
    EntryKind,
    EntryState,
    HoldState,
    HoldStatus,
    Overdraft,
    Problem,
    Tally,
    UnitTotals,
)

__all__ = [
    "ENTRY_KINDS",
    "HOLD_STATUSES",
    "AccountState",
    "BlockState",
    "Burn",
    "Capture",
    "ChangeExpiry",
    "EntryKind",
    "EntryState",
    "Grant",
    "HoldState",
    "HoldStatus",
    "Overdraft",
    "PlaceHold",
    "Problem",
    "Release",
    "Reverse",
    "Tally",
    "UnitTotals",
    "Void",
]

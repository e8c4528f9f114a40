"""creditcore driven through its public API on the workload."""

from __future__ import annotations

from benchmarks.workload import START, Workload
from creditcore import Ledger
from creditcore.errors import InsufficientCredits


def grant_all(ledger: Ledger, workload: Workload) -> None:
    """The workload's grants, in one ``atomic()`` batch (setup, not timed)."""
    with ledger.atomic():
        for spec in workload.grants:
            ledger.grant(spec.customer, spec.amount, priority=spec.priority, expires_at=spec.expires_at, at=START)


def burn_all(ledger: Ledger, workload: Workload) -> int:
    """Every burn, each its own write (its own transaction on SQLite)."""
    burned = 0
    for spec in workload.burns:
        burned += int(ledger.burn(spec.customer, spec.amount, overdraft="partial", at=spec.at).burned)
    return burned


def burn_all_atomic(ledger: Ledger, workload: Workload) -> int:
    """Every burn inside one ``atomic()`` block."""
    with ledger.atomic():
        return burn_all(ledger, workload)


def hold_all(ledger: Ledger, workload: Workload) -> int:
    """Each hold, then its capture or release; a hold there is no credit for is skipped.
    Returns the total captured."""
    captured = 0
    for spec in workload.holds:
        try:
            ledger.hold(spec.customer, spec.amount, hold_id=spec.hold_id, at=spec.at)
        except InsufficientCredits:
            continue
        if spec.capture is None:
            ledger.release(spec.hold_id, at=spec.at)
        else:
            captured += int(ledger.capture(spec.hold_id, spec.capture, at=spec.at).captured)
    return captured

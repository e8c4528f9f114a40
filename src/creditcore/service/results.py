"""Results: what a write returns, built from its rule's outcome, its entries and the block or
hold it made — once when it runs and again, from the same three stored, when its
idempotency key replays it. One function for both, so a replay returns exactly what the
call returned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from creditcore.model import (
    Block,
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    Entry,
    GrantResult,
    Hold,
    HoldResult,
    RefundResult,
    ReleaseResult,
    Result,
    ReverseResult,
    Schedule,
    ScheduleResult,
    VoidResult,
)
from creditcore.state import BlockState, HoldState
from creditcore.values import DECIMAL_CONTEXT, to_decimal

# Each kind's figures: the outcome's amounts its result shows, and the id of what it made.
# An idempotency record keeps them as exact decimal text in the unit ("12.40"): see kept().
_AMOUNTS: dict[str, tuple[str, ...]] = {
    "burn": ("burned", "shortfall", "debt"),
    "capture": ("captured", "released"),
    "release": ("released",),
    "void": ("voided",),
    "reverse": ("reversed",),
    "change_expiry": ("moved",),
    "refund": ("refunded",),
    "grant": (),
    "hold": (),
    "schedule_grant": (),
    "cancel_schedule": (),
}
_MADE = {
    "grant": "block_id",
    "refund": "block_id",
    "change_expiry": "new_block_id",
    "hold": "hold_id",
    "schedule_grant": "subject",
    "cancel_schedule": "subject",
}


def figures(kind: str, outcome: Any, scale: int) -> dict[str, Decimal | str]:
    """What a ``kind`` write's result shows, from its rule's outcome: its amounts (exact, in
    the unit) and the id of what it made; :func:`kept` is how a record keeps them."""
    shown: dict[str, Decimal | str] = {name: to_decimal(getattr(outcome, name), scale) for name in _AMOUNTS[kind]}
    made = _MADE.get(kind)
    if made is not None:
        shown[made] = getattr(outcome, made)
    if kind == "grant":  # what the block kept once it settled debt
        shown["remaining"] = to_decimal(outcome.granted - outcome.settled, scale)
    if kind == "refund":
        shown["remaining"] = to_decimal(outcome.refunded - outcome.settled, scale)
    return shown


def kept(shown: Mapping[str, Decimal | str]) -> dict[str, str]:
    """:func:`figures` as an idempotency record keeps them: exact decimal text."""
    return {name: str(value) for name, value in shown.items()}


def build(
    kind: str,
    op_id: str,
    shown: Mapping[str, Decimal | str],
    entries: tuple[Entry, ...],
    scale: int,
    block: Callable[[str], BlockState],
    hold: Callable[[str], HoldState],
    *,
    schedule: Callable[[str], Schedule] | None = None,
    replayed: bool = False,
) -> Result:
    """The result of a ``kind`` write from its :func:`figures`: ``entries`` are the op's own,
    ``block``/``hold`` find the block or hold it made (as it is now: how it stood right
    after the write comes from the figures)."""

    def amount(name: str) -> Decimal:
        value = shown[name]  # a Decimal as the write computed it, or text from a record
        return value if type(value) is Decimal else Decimal(value)

    if kind == "burn":
        return BurnResult(
            op_id=op_id,
            entries=entries,
            burned=amount("burned"),
            shortfall=amount("shortfall"),
            debt=amount("debt"),
            replayed=replayed,
        )
    if kind == "capture":
        return CaptureResult(
            op_id=op_id, entries=entries, captured=amount("captured"), released=amount("released"), replayed=replayed
        )
    if kind == "release":
        return ReleaseResult(op_id=op_id, entries=entries, released=amount("released"), replayed=replayed)
    if kind == "void":
        return VoidResult(op_id=op_id, entries=entries, voided=amount("voided"), replayed=replayed)
    if kind == "reverse":
        return ReverseResult(op_id=op_id, entries=entries, reversed=amount("reversed"), replayed=replayed)
    if kind == "grant":
        # the block right after its grant: what it kept once it settled debt, nothing held
        made = _as_made(block(str(shown["block_id"])), _minor(amount("remaining"), scale))
        return GrantResult(
            op_id=op_id, entries=entries, block=Block.from_state(made, scale, entries[0].at), replayed=replayed
        )
    if kind == "refund":
        made = _as_made(block(str(shown["block_id"])), _minor(amount("remaining"), scale))
        return RefundResult(
            op_id=op_id,
            entries=entries,
            block=Block.from_state(made, scale, entries[0].at),
            refunded=amount("refunded"),
            replayed=replayed,
        )
    if kind == "change_expiry":
        made = _as_made(block(str(shown["new_block_id"])), _minor(amount("moved"), scale))
        moved_in = next(e for e in entries if e.kind == "move_in")
        return ChangeExpiryResult(
            op_id=op_id, entries=entries, block=Block.from_state(made, scale, moved_in.at), replayed=replayed
        )
    if kind == "hold":
        placed = attrs.evolve(
            hold(str(shown["hold_id"])), status="active", captured=0, settled_at=None, settled_by=None
        )
        return HoldResult(op_id=op_id, entries=entries, hold=Hold.from_state(placed, scale), replayed=replayed)
    if kind in ("schedule_grant", "cancel_schedule"):
        assert schedule is not None
        return ScheduleResult(op_id=op_id, entries=entries, schedule=schedule(str(shown["subject"])), replayed=replayed)
    raise ValueError(f"no result for a {kind!r} write")


def _minor(amount: Decimal, scale: int) -> int:
    return int(amount.scaleb(scale, DECIMAL_CONTEXT))


def _as_made(block: BlockState, remaining: int) -> BlockState:
    """The block as the write that made it left it: what it kept, nothing held, nothing used
    but the debt it settled."""
    return attrs.evolve(
        block,
        remaining=remaining,
        held=0,
        emptied_by="depleted" if remaining == 0 else None,
        used=block.amount - remaining,
        first_used_at=None,
    )

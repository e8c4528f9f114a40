"""Effects: the one place figures move.

:func:`apply_to_block` and :func:`apply_to_totals` say what an entry of each kind does to the
block it names and to the customer's running totals; :class:`Work` is the private working copy
of an account while one rule runs (or while :mod:`~creditcore.core.history` replays stored
entries), and writes each entry with the balance after it. A new entry kind joins here: one
row in ``BLOCK_EFFECT`` and, if it counts in the totals, one in ``TOTALS_EFFECT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import attrs

from creditcore.core.order import BurnOrder
from creditcore.core.outcomes import BalanceChange, DueStep
from creditcore.core.state import (
    AccountState,
    BlockState,
    EntryKind,
    EntryState,
    HoldState,
    HoldStatus,
    UnitTotals,
)
from creditcore.errors import StorageError

# What an entry does to the block it names: (change to remaining, change to held).
BLOCK_EFFECT: dict[str, tuple[int, int]] = {
    "grant": (1, 0),
    "move_in": (1, 0),
    "reverse": (1, 0),
    "burn": (-1, 0),
    "settle": (-1, 0),
    "expire": (-1, 0),
    "void": (-1, 0),
    "move_out": (-1, 0),
    "hold": (0, 1),
    "release": (0, -1),
    "capture": (-1, -1),
}
# What emptied a block, by the kind of the entry that took its last credit.
_EMPTIED_BY = {"expire": "expired", "void": "voided"}
# What an entry adds to the customer's running totals of its unit.
TOTALS_EFFECT: dict[str, tuple[tuple[str, int], ...]] = {
    "grant": (("granted", 1),),
    "burn": (("used", 1),),
    "capture": (("used", 1),),
    "settle": (("used", 1), ("debt", -1)),
    "expire": (("expired", 1),),
    "void": (("voided", 1),),
    "debt": (("debt", 1),),
    # a reversal gives credit back to a block (usage undone) or, with no block, cancels debt
    "reverse": (("used", -1),),
    "reverse_debt": (("debt", -1),),
}


def apply_to_block(block: BlockState, kind: str, amount: int) -> BlockState:
    """The block after an entry of ``kind`` for ``amount`` — the one place block figures move."""
    d_remaining, d_held = BLOCK_EFFECT[kind]
    remaining = block.remaining + d_remaining * amount
    held = block.held + d_held * amount
    emptied_by = _EMPTIED_BY.get(kind, "depleted") if remaining == 0 and d_remaining < 0 else block.emptied_by
    void_closed = block.void_closed or (kind == "void" and remaining == held)
    # the constructor, field by field: this runs once per entry, and attrs.evolve costs
    # half as much again to reach the same value
    return BlockState(
        id=block.id,
        customer=block.customer,
        unit=block.unit,
        number=block.number,
        amount=block.amount,
        remaining=remaining,
        held=held,
        priority=block.priority,
        category=block.category,
        cost_basis=block.cost_basis,
        scope=block.scope,
        effective_at=block.effective_at,
        expires_at=block.expires_at,
        created_at=block.created_at,
        description=block.description,
        metadata=block.metadata,
        origin=block.origin,
        settles_debt=block.settles_debt,
        settle_pending=block.settle_pending,
        void_closed=void_closed,
        emptied_by=emptied_by,
    )


def apply_to_totals(totals: UnitTotals, kind: str, amount: int, block_id: str | None = None) -> UnitTotals:
    """The unit totals after an entry of ``kind`` for ``amount`` (on ``block_id``, if any)."""
    effect = TOTALS_EFFECT.get("reverse_debt" if kind == "reverse" and block_id is None else kind)
    if not effect:
        return totals
    figures = {
        "granted": totals.granted,
        "used": totals.used,
        "expired": totals.expired,
        "voided": totals.voided,
        "debt": totals.debt,
    }
    for name, sign in effect:
        figures[name] += sign * amount
    return UnitTotals(**figures)


_NO_TOTALS = UnitTotals()


def available(blocks: Mapping[str, BlockState], unit: str, at: datetime) -> int:
    """The unheld credit of ``unit`` in the blocks effective at ``at``: the balance a rule
    writes as each entry's ``available_after`` (see :meth:`Work.available`)."""
    return sum(b.remaining - b.held for b in blocks.values() if b.unit == unit and b.effective_at <= at)


class Work:
    """A private working copy of an account while one rule runs."""

    __slots__ = (
        "blocks", "customer", "entries", "given_blocks", "holds", "last_at", "next_number", "settlements", "steps",
        "totals", "watched",
    )  # fmt: skip

    def __init__(self, state: AccountState) -> None:
        self.customer = state.customer
        self.blocks: dict[str, BlockState] = dict(state.blocks)
        self.holds: dict[str, HoldState] = dict(state.holds)
        self.totals: dict[str, UnitTotals] = dict(state.totals)
        self.last_at = state.last_at
        self.next_number = state.next_number
        self.settlements: dict[str, tuple[tuple[str, int], ...]] = dict(state.settlements)
        self.entries: list[EntryState] = []
        self.steps: list[DueStep] = []
        """The instants of due events recorded (see :mod:`creditcore.core.due`)."""
        self.watched: tuple[str, datetime, Mapping[str, BlockState], int] | None = None
        self.given_blocks = state.blocks

    def freeze(self) -> tuple[AccountState, tuple[EntryState, ...]]:
        """The account and the entries written so far."""
        new = AccountState(
            customer=self.customer,
            blocks=self.blocks,
            holds=self.holds,
            totals=self.totals,
            last_at=self.last_at,
            next_number=self.next_number,
            settlements=self.settlements,
        )
        return new, tuple(self.entries)

    def watch(self, unit: str, at: datetime) -> None:
        """Note the balance of ``unit`` at ``at`` before the operation writes its entries:
        the blocks as they are (the given state's own, when nothing fell due) and the debt."""
        blocks = self.given_blocks if not self.entries else dict(self.blocks)
        self.watched = (unit, at, blocks, (self.totals.get(unit) or _NO_TOTALS).debt)

    def change(self, after: AccountState) -> Callable[[], dict[str, BalanceChange]]:
        """The balance change from :meth:`watch` to ``after``, measured when it is first
        asked for (most writes never ask): nothing if nothing was watched."""
        watched = self.watched

        def measure() -> dict[str, BalanceChange]:
            if watched is None:
                return {}
            unit, at, blocks, debt = watched
            return {
                unit: BalanceChange(
                    unit=unit,
                    available_before=available(blocks, unit, at),
                    available_after=available(after.blocks, unit, at),
                    debt_before=debt,
                    debt_after=after.unit_totals(unit).debt,
                )
            }

        return measure

    def apply(self, kind: str, unit: str, amount: int, block: BlockState | None) -> BlockState | None:
        """Move the figures one entry moves: its block's and the unit's totals."""
        if block is not None:
            block = apply_to_block(block, kind, amount)
            self.blocks[block.id] = block
            if kind == "settle":
                self.settlements[unit] = (*self.settlements.get(unit, ()), (block.id, amount))
        self.totals[unit] = apply_to_totals(
            self.totals.get(unit) or UnitTotals(), kind, amount, block.id if block else None
        )
        return block

    def unsettle(self, unit: str, block_id: str, amount: int) -> None:
        """Mark ``amount`` of the latest settlement by ``block_id`` as given back."""
        stack = list(self.settlements.get(unit, ()))
        for index in range(len(stack) - 1, -1, -1):
            settled_by, settled = stack[index]
            if settled_by == block_id:
                take = min(amount, settled)
                if take == settled:
                    del stack[index]
                else:
                    stack[index] = (settled_by, settled - take)
                amount -= take
                if not amount:
                    break
        self.settlements[unit] = tuple(stack)

    def available(self, unit: str, at: datetime) -> int:
        """The running available balance of ``unit`` after the entries recorded so far: the
        unheld credit of every block effective at ``at``.

        A block's expiry takes its credit away with its ``expire`` entry, not before: entries
        are recorded in time order with every expiry due by their time written first, so an
        expired block's unheld credit is 0 once its entry is written, and until then (two
        blocks expiring at one instant, credit released into an expired block just before it
        expires again) each entry's ``available_after`` is the balance after exactly that
        entry."""
        # BlockState.unheld, inlined: this runs once per entry, over every block
        return sum(b.remaining - b.held for b in self.blocks.values() if b.unit == unit and b.effective_at <= at)

    def record(
        self,
        kind: EntryKind,
        unit: str,
        amount: int,
        at: datetime,
        op_id: str,
        *,
        block: BlockState | None = None,
        hold_id: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        ref: str | None = None,
        of_debt: bool = False,
    ) -> BlockState | None:
        """Apply one entry to the block it names and to the totals, and write it down."""
        block = self.apply(kind, unit, amount, block)
        self.entries.append(
            EntryState(
                op_id=op_id,
                customer=self.customer,
                unit=unit,
                kind=kind,
                block_id=block.id if block is not None else None,
                hold_id=hold_id,
                amount=amount,
                available_after=self.available(unit, at),
                at=at,
                description=description,
                metadata=metadata or {},
                ref=ref,
                of_debt=of_debt,
            )
        )
        if self.last_at is None or at > self.last_at:
            self.last_at = at
        return block

    def give_back(
        self,
        block: BlockState,
        kind: EntryKind,
        amount: int,
        at: datetime,
        op_id: str,
        hold_id: str | None = None,
        ref: str | None = None,
        of_debt: bool = False,
    ) -> None:
        """Return credit to a block (a release or a reversal); credit returned to an expired
        block expires at once, to a voided block is voided at once."""
        returned = self.record(
            kind, block.unit, amount, at, op_id, block=block, hold_id=hold_id, ref=ref, of_debt=of_debt
        )
        assert returned is not None
        if returned.is_expired(at):
            self.record("expire", block.unit, amount, at, op_id, block=returned)
        elif returned.void_closed:
            self.record("void", block.unit, amount, at, op_id, block=returned)

    def settle(self, block: BlockState, at: datetime, op_id: str) -> int:
        """Let an unscoped block that has just become active pay the unit's debt off; the
        amount it settled."""
        debt = (self.totals.get(block.unit) or _NO_TOTALS).debt
        amount = min(debt, block.unheld)
        if amount > 0:
            self.record("settle", block.unit, amount, at, op_id, block=block)
            return amount
        return 0


def end_hold(
    work: Work, found: HoldState, capture: int, at: datetime, op_id: str, status: HoldStatus, order: BurnOrder
) -> None:
    """Consume ``capture`` from the pinned blocks in burn order and release the rest."""
    pinned = dict(found.allocations)
    for block_id in pinned:
        if block_id not in work.blocks:
            raise inconsistent_history(
                work.customer, f"hold {found.id} pins block {block_id}, which is not one of the customer's live blocks"
            )
    captured: dict[str, int] = {}
    need = capture
    for block in order.sort(work.blocks[block_id] for block_id in pinned):
        take = captured[block.id] = min(need, pinned[block.id])
        if take:
            work.record("capture", found.unit, take, at, op_id, block=block, hold_id=found.id)
            need -= take
    for block_id, amount in found.allocations:
        rest = amount - captured[block_id]
        if rest:
            work.give_back(work.blocks[block_id], "release", rest, at, op_id, hold_id=found.id)
    work.holds[found.id] = attrs.evolve(found, status=status, captured=capture, settled_at=at, settled_by=op_id)


def inconsistent_history(customer: str, what: str) -> StorageError:
    """The error of a read that meets stored rows that contradict each other."""
    return StorageError(
        f"the stored history of customer {customer!r} is inconsistent ({what}): "
        "its rows were changed outside the ledger; run verify() to list every problem"
    )

"""Effects: the one place figures move.

:func:`apply_to_block` and :func:`apply_to_totals` say what an entry of each kind does to the
block it names and to the customer's running totals; :class:`Work` is the private working copy
of an account while one rule runs (or while :mod:`~creditcore.core.history` replays stored
entries), and writes each entry with the balance after it. A new entry kind joins here: one
row in ``BLOCK_EFFECT`` and, if it counts in the totals, one in ``TOTALS_EFFECT``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TypeVar

import attrs
import immutables

from creditcore.core.order import BurnOrder
from creditcore.core.outcomes import BalanceChange, DueStep
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.core.state import (
    AccountState,
    BlockState,
    EntryKind,
    EntryState,
    HoldState,
    HoldStatus,
    Settings,
    UnitTotals,
)
from creditcore.errors import StorageError

# What an entry does to the block it names: (change to remaining, change to held).
BLOCK_EFFECT: dict[str, tuple[int, int]] = {
    "grant": (1, 0),
    "refund": (1, 0),
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
# What an entry adds to its block's ``used``: what burns, captures and settlements took, net
# of reversals (a reversal gives back usage, or a settlement of debt that is undone).
USED_EFFECT: dict[str, int] = {"burn": 1, "capture": 1, "settle": 1, "reverse": -1}
# Entries that use a block: the first one spends a single-use block.
_USES = frozenset({"burn", "capture"})
# What emptied a block, by the kind of the entry that took its last credit.
_EMPTIED_BY = {"expire": "expired", "void": "voided"}
# What an entry adds to the customer's running totals of its unit.
TOTALS_EFFECT: dict[str, tuple[tuple[str, int], ...]] = {
    "grant": (("granted", 1),),
    "refund": (("granted", 1),),
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


def apply_to_block(block: BlockState, kind: str, amount: int, at: datetime) -> BlockState:
    """The block after an entry of ``kind`` for ``amount`` at ``at`` — the one place block
    figures move."""
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
        settle_pending=block.settle_pending and remaining > 0,  # an empty block has nothing to settle with
        void_closed=void_closed,
        emptied_by=emptied_by,
        single_use=block.single_use,
        first_used_at=at if block.first_used_at is None and kind in _USES and amount > 0 else block.first_used_at,
        used=block.used + USED_EFFECT.get(kind, 0) * amount,
        source=block.source,
        refund_of=block.refund_of,
        schedule_id=block.schedule_id,
    )


def apply_to_totals(totals: UnitTotals, kind: str, amount: int, block_id: str | None = None) -> UnitTotals:
    """The unit totals after an entry of ``kind`` for ``amount`` (on ``block_id``, if any)."""
    effect = TOTALS_EFFECT.get("reverse_debt" if kind == "reverse" and block_id is None else kind)
    if not effect:
        return totals
    granted, used, expired, voided, debt = totals.granted, totals.used, totals.expired, totals.voided, totals.debt
    for name, sign in effect:
        if name == "used":
            used += sign * amount
        elif name == "debt":
            debt += sign * amount
        elif name == "granted":
            granted += sign * amount
        elif name == "expired":
            expired += sign * amount
        else:
            voided += sign * amount
    return UnitTotals(granted=granted, used=used, expired=expired, voided=voided, debt=debt)


_NO_TOTALS = UnitTotals()
#: The description of the void that ends a single-use block's unheld credit.
_SPENT = "single_use"
V = TypeVar("V")


class Layer(Mapping[str, V]):
    """Blocks or holds while a rule runs: the map the rule was given, with its changes over
    it. Setting one tells the account's index (see :mod:`~creditcore.core.index`)."""

    __slots__ = ("base", "changed", "on_change")

    def __init__(self, base: Mapping[str, V], on_change: Callable[[V | None, V], None]) -> None:
        self.base = base
        self.changed: dict[str, V] = {}
        self.on_change = on_change

    def __getitem__(self, key: str) -> V:
        found = self.changed.get(key)
        return found if found is not None else self.base[key]

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        found = self.changed.get(key)
        return found if found is not None else self.base.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.changed or key in self.base

    def __setitem__(self, key: str, value: V) -> None:
        self.on_change(self.get(key), value)
        self.changed[key] = value

    def __len__(self) -> int:
        return len(self.base) + sum(1 for key in self.changed if key not in self.base)

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        yield from (key for key in self.changed if key not in self.base)

    def items(self) -> Iterator[tuple[str, V]]:  # type: ignore[override]
        """Every one with its key, changed or not (a walk over all of them: for the rare
        paths only)."""
        changed, base = self.changed, self.base
        for key, value in base.items():
            yield key, changed.get(key, value)
        for key, value in changed.items():
            if key not in base:
                yield key, value

    def values(self) -> Iterator[V]:  # type: ignore[override]
        """Every one, changed or not (as :meth:`items`)."""
        for _key, value in self.items():
            yield value

    def finish(self) -> immutables.Map[str, V]:
        """The map with the changes made (the one given, if none were)."""
        base = self.base
        assert type(base) is immutables.Map
        return base.update(self.changed) if self.changed else base


class Work:
    """A private working copy of an account while one rule runs (or while
    :mod:`~creditcore.core.history` replays stored entries). :meth:`freeze` ends it."""

    __slots__ = (
        "alerts", "blocks", "changed_alerts", "changed_schedules", "changed_top_ups", "customer", "entries", "events",
        "holds", "index", "last_at", "next_number", "schedules", "settlements", "steps", "top_ups", "totals",
        "watched",
    )  # fmt: skip

    def __init__(self, state: AccountState) -> None:
        self.customer = state.customer
        index = self.index = state.index().copy()
        index.pass_time(state.last_at)
        self.blocks: Layer[BlockState] = Layer(state.blocks, index.moved)
        self.holds: Layer[HoldState] = Layer(state.holds, index.hold_moved)
        self.totals: dict[str, UnitTotals] = dict(state.totals)
        self.last_at = state.last_at
        self.next_number = state.next_number
        self.settlements: dict[str, tuple[tuple[str, int], ...]] = dict(state.settlements)
        self.entries: list[EntryState] = []
        self.steps: list[DueStep] = []
        """The instants of due events recorded (see :mod:`creditcore.core.due`)."""
        self.watched: tuple[str, datetime, int, int, int] | None = None
        self.schedules: dict[str, ScheduleState] = dict(state.schedules)
        self.top_ups: dict[str, TopUpState] = dict(state.top_ups)
        self.alerts: dict[str, AlertState] = dict(state.alerts)
        self.changed_schedules: dict[str, ScheduleState] = {}
        self.changed_top_ups: dict[str, tuple[datetime, str, TopUpState | None]] = {}
        self.changed_alerts: dict[str, AlertState] = {}
        self.events: list[EventState] = []

    def pass_time(self, at: datetime) -> None:
        """The customer's history reaches ``at`` without an entry there (a setting changed,
        or a period start wrote nothing): no later write may be dated before it."""
        if self.last_at is None or at > self.last_at:
            self.last_at = at
            self.index.pass_time(at)

    def freeze(self) -> tuple[AccountState, tuple[EntryState, ...]]:
        """The account and the entries written; the work ends here (its index goes to the
        account)."""
        new = AccountState(
            customer=self.customer,
            blocks=self.blocks.finish(),
            holds=self.holds.finish(),
            totals=self.totals,
            last_at=self.last_at,
            next_number=self.next_number,
            settlements=self.settlements,
            schedules=self.schedules,
            top_ups=self.top_ups,
            alerts=self.alerts,
        )
        object.__setattr__(new, "_index", self.index)
        object.__setattr__(new, "_changes", (tuple(self.blocks.changed.values()), tuple(self.holds.changed.values())))
        if self.changed_schedules or self.changed_top_ups or self.changed_alerts or self.events:
            settings = Settings(
                schedules=tuple(self.changed_schedules.values()),
                top_ups=tuple(self.changed_top_ups.values()),
                alerts=tuple(self.changed_alerts.values()),
                events=tuple(self.events),
            )
            object.__setattr__(new, "_settings", settings)
        return new, tuple(self.entries)

    def set_schedule(self, schedule: ScheduleState) -> None:
        """Keep a schedule's new form (one that has ended leaves the account)."""
        if schedule.ended:
            self.schedules.pop(schedule.id, None)
        else:
            self.schedules[schedule.id] = schedule
        self.changed_schedules[schedule.id] = schedule

    def set_top_up(self, unit: str, rule: TopUpState | None, at: datetime) -> None:
        """Set the unit's rule (``None``: remove it) at ``at``."""
        if rule is None:
            self.top_ups.pop(unit, None)
        else:
            self.top_ups[unit] = rule
        self.changed_top_ups[unit] = (at, unit, rule)

    def set_alert(self, alert: AlertState) -> None:
        if alert.removed_at is not None:
            self.alerts.pop(alert.id, None)
        else:
            self.alerts[alert.id] = alert
        self.changed_alerts[alert.id] = alert

    def net(self, unit: str, at: datetime) -> int:
        """``available - debt`` of ``unit`` after the entries recorded so far."""
        return self.available(unit, at) - (self.totals.get(unit) or _NO_TOTALS).debt

    def watch(self, unit: str, at: datetime) -> None:
        """Note the balance of ``unit`` at ``at`` before the operation writes its entries (and
        where its entries start)."""
        self.watched = (
            unit, at, self.available(unit, at), (self.totals.get(unit) or _NO_TOTALS).debt, len(self.entries),
        )  # fmt: skip

    def change(self, after: AccountState) -> Callable[[], dict[str, BalanceChange]]:
        """The balance change from :meth:`watch` to ``after``, as a function that builds it
        when it is first asked for (most writes never ask): nothing if nothing was watched."""
        watched = self.watched
        if watched is None:
            return dict
        unit, at, available_before, debt_before, _first = watched
        available_after = self.available(unit, at)
        debt_after = after.unit_totals(unit).debt

        def measure() -> dict[str, BalanceChange]:
            return {
                unit: BalanceChange(
                    unit=unit,
                    available_before=available_before,
                    available_after=available_after,
                    debt_before=debt_before,
                    debt_after=debt_after,
                )
            }

        return measure

    def apply(self, kind: str, unit: str, amount: int, block: BlockState | None, at: datetime) -> BlockState | None:
        """Move the figures one entry moves: its block's and the unit's totals."""
        if block is not None:
            block = apply_to_block(block, kind, amount, at)
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
        unheld credit of every block effective at ``at``, from the index's running sum less
        the blocks still upcoming at ``at``.

        A block's expiry takes its credit away with its ``expire`` entry, not before: entries
        are recorded in time order with every expiry due by their time written first, so an
        expired block's unheld credit is 0 once its entry is written, and until then (two
        blocks expiring at one instant, credit released into an expired block just before it
        expires again) each entry's ``available_after`` is the balance after exactly that
        entry."""
        index = self.index
        total = index.unheld.get(unit, 0)
        if index.upcoming:
            for _when, _number, block_id, block_unit in index.upcoming_after(at):
                if block_unit == unit:
                    block = self.blocks[block_id]
                    total -= block.remaining - block.held
        return total

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
        block = self.apply(kind, unit, amount, block, at)
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
        close_spent: bool = True,
    ) -> None:
        """Return credit to a block (a release or a reversal); credit returned to an expired
        block expires at once, to a voided or spent single-use block is voided at once
        (``close_spent=False``: a spent block's is left to the op's own single-use void)."""
        returned = self.record(
            kind, block.unit, amount, at, op_id, block=block, hold_id=hold_id, ref=ref, of_debt=of_debt
        )
        assert returned is not None
        if returned.is_expired(at):
            self.record("expire", block.unit, amount, at, op_id, block=returned)
        elif returned.void_closed or (close_spent and returned.spent):
            reason = _SPENT if returned.spent else None
            self.record("void", block.unit, amount, at, op_id, block=returned, description=reason)

    def close_single_use(self, block_ids: Iterable[str], at: datetime, op_id: str) -> None:
        """After an op that used or gave back to single-use blocks: void the unheld credit of
        each that is spent (a ``void`` entry described ``single_use``), in the order given."""
        for block_id in block_ids:
            block = self.blocks[block_id]
            if block.spent and block.unheld > 0 and not block.is_expired(at):
                self.record("void", block.unit, block.unheld, at, op_id, block=block, description=_SPENT)

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
            work.give_back(work.blocks[block_id], "release", rest, at, op_id, hold_id=found.id, close_spent=False)
    work.holds[found.id] = attrs.evolve(found, status=status, captured=capture, settled_at=at, settled_by=op_id)
    # a capture's first use of a single-use block, or credit released to a spent one
    work.close_single_use((block_id for block_id, _ in found.allocations), at, op_id)


def inconsistent_history(customer: str, what: str) -> StorageError:
    """The error of a read that meets stored rows that contradict each other."""
    return StorageError(
        f"the stored history of customer {customer!r} is inconsistent ({what}): "
        "its rows were changed outside the ledger; run verify() to list every problem"
    )

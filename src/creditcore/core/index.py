"""The indexes of an account: what a write needs to find without looking at every block.

An :class:`Index` is derived from an account's blocks and holds, and kept with its state:

- ``burn``: per unit and scope set, the blocks that still hold credit, in burn order, so a
  burn takes the first eligible ones instead of sorting them all;
- ``expiries``, ``timeouts``, ``settling``: the due events (expiries of blocks that hold
  credit, hold timeouts, upcoming blocks with credit that settle debt) in time order, so a
  write finds what fell due by looking only at what did;
- ``upcoming``: the blocks that were not yet effective at the account's last entry;
- ``sums`` and ``unheld``: the unheld and held credit of the live blocks, per unit and scope
  set and per unit, so the balance after each entry is known without adding up the blocks.

Its sequences are persistent (:class:`~.sequence.SortedTuple`): a rule works on a
:meth:`~Index.copy` (its dicts copied, its sequences shared) and changes it as it changes
blocks, so a write costs a logarithm of the customer's live blocks, and the state it was given
keeps its own index unchanged. A state built by hand builds its index on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from heapq import merge
from typing import TYPE_CHECKING, Any

from creditcore.core.sequence import SortedTuple

if TYPE_CHECKING:
    from creditcore.core.order import BurnOrder
    from creditcore.core.state import BlockState, HoldState

ScopeKey = tuple[str, frozenset[str] | None]
_EMPTY = SortedTuple()


class Index:
    """The derived indexes of one account (see the module's docstring). Never changed once a
    state holds it; a rule changes its own :meth:`copy`."""

    __slots__ = (
        "_burn", "_unsorted", "active_holds", "expiries", "horizon", "live_blocks", "order", "settling", "sums",
        "timeouts", "unheld", "upcoming",
    )  # fmt: skip

    def __init__(self, order: BurnOrder, horizon: datetime | None) -> None:
        self.order = order
        self.horizon = horizon
        """Blocks effective after this time (the account's last entry) are ``upcoming``."""
        self._burn: dict[ScopeKey, SortedTuple] | None = {}
        self._unsorted: list[BlockState] = []
        """The live blocks of a built index until its burn sequences are first asked for (a
        read that only wants the balance never sorts them)."""
        self.expiries = _EMPTY
        self.timeouts = _EMPTY
        self.settling = _EMPTY
        self.upcoming = _EMPTY
        self.sums: dict[ScopeKey, tuple[int, int]] = {}
        self.unheld: dict[str, int] = {}
        self.live_blocks = 0
        self.active_holds = 0

    @classmethod
    def build(
        cls,
        blocks: Iterable[BlockState],
        holds: Iterable[HoldState],
        order: BurnOrder,
        horizon: datetime | None,
    ) -> Index:
        """The index of an account with these blocks and holds, from scratch."""
        index = cls(order, horizon)
        live: list[BlockState] = []
        expiries, settling, upcoming, timeouts = [], [], [], []
        for b in blocks:
            if b.remaining <= 0:
                continue
            if b.settle_pending:
                settling.append((b.effective_at, b.number, b.id, b.unit))
            index.live_blocks += 1
            scope_key = (b.unit, b.scope)
            live.append(b)
            if b.expires_at is not None:
                expiries.append((b.expires_at, b.number, b.id, b.unit))
            if horizon is None or b.effective_at > horizon:
                upcoming.append((b.effective_at, b.number, b.id, b.unit))
            unheld, held = index.sums.get(scope_key, (0, 0))
            index.sums[scope_key] = (unheld + b.remaining - b.held, held + b.held)
            index.unheld[b.unit] = index.unheld.get(b.unit, 0) + b.remaining - b.held
        for h in holds:
            if h.status == "active":
                index.active_holds += 1
                if h.expires_at is not None:
                    timeouts.append((h.expires_at, h.id, h.unit))
        index._burn = None
        index._unsorted = live
        index.expiries = SortedTuple.of(expiries)
        index.settling = SortedTuple.of(settling)
        index.upcoming = SortedTuple.of(upcoming)
        index.timeouts = SortedTuple.of(timeouts)
        return index

    def copy(self) -> Index:
        """A working copy a rule may change: the dicts copied, the sequences shared."""
        new = Index.__new__(Index)
        new.order = self.order
        new.horizon = self.horizon
        new._burn = dict(self.burn)
        new._unsorted = []
        new.expiries = self.expiries
        new.timeouts = self.timeouts
        new.settling = self.settling
        new.upcoming = self.upcoming
        new.sums = dict(self.sums)
        new.unheld = dict(self.unheld)
        new.live_blocks = self.live_blocks
        new.active_holds = self.active_holds
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        self.burn  # noqa: B018 (sorted, so the copy does not carry the blocks along)
        state = {name: getattr(self, name) for name in self.__slots__}
        return (_restore, (state,))

    # -- changes, on a copy --------------------------------------------------------------

    def moved(self, old: BlockState | None, new: BlockState) -> None:
        """Account for block ``old`` becoming ``new`` (``old`` is None for a new block)."""
        if old is not None and old.remaining > 0 and new.remaining > 0 and old.settle_pending == new.settle_pending:
            # the common change: credit moved within a block that still holds some
            d_unheld = (new.remaining - new.held) - (old.remaining - old.held)
            d_held = new.held - old.held
            if d_unheld or d_held:
                scope_key = (new.unit, new.scope)
                unheld, held = self.sums[scope_key]
                self.sums[scope_key] = (unheld + d_unheld, held + d_held)
                self.unheld[new.unit] += d_unheld
            return
        if old is not None:
            self._unplace(old)
        self._place(new)

    def _place(self, b: BlockState) -> None:
        if b.remaining <= 0:
            return
        if b.settle_pending:
            self.settling = self.settling.add((b.effective_at, b.number, b.id, b.unit))
        self.live_blocks += 1
        scope_key = (b.unit, b.scope)
        self.burn[scope_key] = self.burn.get(scope_key, _EMPTY).add((self.order.sort_key(b), b.id))
        if b.expires_at is not None:
            self.expiries = self.expiries.add((b.expires_at, b.number, b.id, b.unit))
        if self.horizon is None or b.effective_at > self.horizon:
            self.upcoming = self.upcoming.add((b.effective_at, b.number, b.id, b.unit))
        unheld, held = self.sums.get(scope_key, (0, 0))
        self.sums[scope_key] = (unheld + b.remaining - b.held, held + b.held)
        self.unheld[b.unit] = self.unheld.get(b.unit, 0) + b.remaining - b.held

    def _unplace(self, b: BlockState) -> None:
        if b.remaining <= 0:
            return
        if b.settle_pending:
            self.settling = self.settling.remove((b.effective_at, b.number, b.id, b.unit))
        self.live_blocks -= 1
        scope_key = (b.unit, b.scope)
        self.burn[scope_key] = self.burn[scope_key].remove((self.order.sort_key(b), b.id))
        if b.expires_at is not None:
            self.expiries = self.expiries.remove((b.expires_at, b.number, b.id, b.unit))
        self.upcoming = self.upcoming.discard((b.effective_at, b.number, b.id, b.unit))
        unheld, held = self.sums[scope_key]
        self.sums[scope_key] = (unheld - b.remaining + b.held, held - b.held)
        self.unheld[b.unit] -= b.remaining - b.held

    def hold_moved(self, old: HoldState | None, new: HoldState) -> None:
        """Account for hold ``old`` becoming ``new`` (``old`` is None for a new hold)."""
        if old is not None and old.status == "active":
            self.active_holds -= 1
            if old.expires_at is not None:
                self.timeouts = self.timeouts.discard((old.expires_at, old.id, old.unit))
        if new.status == "active":
            self.active_holds += 1
            if new.expires_at is not None:
                self.timeouts = self.timeouts.add((new.expires_at, new.id, new.unit))

    def pass_time(self, horizon: datetime | None) -> None:
        """The account's history has reached ``horizon``: blocks effective by then are no
        longer upcoming."""
        if horizon is None or (self.horizon is not None and horizon <= self.horizon):
            return
        self.horizon = horizon
        upcoming = self.upcoming
        while upcoming and upcoming.first()[0] <= horizon:
            upcoming = upcoming.remove(upcoming.first())
        self.upcoming = upcoming

    @property
    def burn(self) -> dict[ScopeKey, SortedTuple]:
        """Per unit and scope set, ``(sort key, block id)`` of the live blocks in burn order."""
        burn = self._burn
        if burn is None:
            burn = self._burn = _burn_sequences(self._unsorted, self.order)
            self._unsorted = []
        return burn

    def reorder(self, order: BurnOrder, blocks: Iterable[BlockState]) -> None:
        """Sort the burn sequences by another order (a rule called with an order other than
        the one the index was built for)."""
        self.order = order
        self._burn = _burn_sequences((b for b in blocks if b.remaining > 0), order)
        self._unsorted = []

    # -- reads -----------------------------------------------------------------------------

    def in_burn_order(self, unit: str, scope: frozenset[str] | None) -> Iterator[tuple[Any, str]]:
        """``(key, block id)`` of the live blocks a burn of ``unit`` with the scope set
        ``scope`` may use (unscoped ones, and with a scope set those whose scopes intersect
        it), in burn order."""
        unscoped = self.burn.get((unit, None), _EMPTY)
        if scope is None:
            return iter(unscoped)
        scoped = [
            seq
            for (u, scopes), seq in self.burn.items()
            if u == unit and scopes is not None and not scopes.isdisjoint(scope)
        ]
        if not scoped:
            return iter(unscoped)
        return merge(unscoped, *scoped)

    def upcoming_after(self, at: datetime) -> Iterator[tuple[datetime, int, str, str]]:
        """The upcoming items effective after ``at``, latest first."""
        for item in reversed(self.upcoming):
            if item[0] <= at:
                return
            yield item


def _burn_sequences(live: Iterable[BlockState], order: BurnOrder) -> dict[ScopeKey, SortedTuple]:
    burn: dict[ScopeKey, list[Any]] = {}
    key = order.sort_key
    for b in live:
        burn.setdefault((b.unit, b.scope), []).append((key(b), b.id))
    return {scope_key: SortedTuple.of(items) for scope_key, items in burn.items()}


def _restore(state: dict[str, Any]) -> Index:
    index = Index.__new__(Index)
    for name, value in state.items():
        setattr(index, name, value)
    return index

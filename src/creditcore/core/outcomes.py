"""What a rule returns: the new state, its entries, the outcome it decided and the change it made.

Every write rule returns a :class:`Transition`. It unpacks as ``(state, entries)``, the shape
rules have always returned, and adds:

- ``outcome``: the operation's figures as the rule decided them (a burn's burned, shortfall and
  debt, a capture's captured and released, ...), in integer minor units, so no caller sums
  entries to find them again;
- ``change``: per unit, the balance the operation's step moved, before and after (available
  and debt, hence ``net``), the auto top-up it triggered included (a step and its top-up
  count as one for the alerts);
- ``due``: the instants of due events the rule recorded before its operation (expiries, hold
  timeouts, settlements, schedule periods), each a step of its own with its own change.

>>> from datetime import datetime, UTC
>>> from creditcore.core import rules
>>> from creditcore.core.commands import Burn, Grant
>>> from creditcore.core.state import AccountState
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> s, _ = rules.grant(AccountState(customer="ada"), Grant(op_id="g", block_id="b", unit="credits", amount=10), t)
>>> step = rules.burn(s, Burn(op_id="o", unit="credits", amount=4), t)
>>> step.outcome
Burned(unit='credits', amount=4, burned=4, shortfall=0, debt=0)
>>> step.change["credits"].available_before, step.change["credits"].available_after
(10, 6)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from creditcore.core.state import AccountState, EntryState


@attrs.frozen(kw_only=True)
class BalanceChange:
    """How one step moved one unit's balance: available and debt just before and just after.

    ``available`` is all the customer's usable credit, scoped included (as
    :attr:`~creditcore.core.state.Tally.available`); ``net`` is ``available - debt``."""

    unit: str
    available_before: int
    available_after: int
    debt_before: int
    debt_after: int

    @property
    def net_before(self) -> int:
        return self.available_before - self.debt_before

    @property
    def net_after(self) -> int:
        return self.available_after - self.debt_after

    @property
    def lowered(self) -> bool:
        """The step lowered ``net`` (what fires an auto top-up)."""
        return self.net_after < self.net_before


@attrs.frozen(kw_only=True)
class DueStep:
    """One instant of due events a rule recorded: its time, the op ids of its events (in the
    order they were recorded) and the balance change of each unit they touched."""

    at: datetime
    ops: tuple[str, ...]
    change: Mapping[str, BalanceChange]


# -- outcomes: one per operation, decided by its rule -------------------------------------


@attrs.frozen(kw_only=True)
class Granted:
    """A grant: the new block, and the debt it paid off at once (an active unscoped block)."""

    unit: str
    block_id: str
    granted: int
    settled: int


@attrs.frozen
class Burned:
    """A burn: ``burned + shortfall == amount``; ``debt`` is the part of the shortfall
    recorded as debt (all of it with ``overdraft="debt"``, else 0)."""

    unit: str
    amount: int
    burned: int
    shortfall: int
    debt: int


@attrs.frozen(kw_only=True)
class Held:
    """A hold: ``held`` pinned in the blocks of ``allocations``, in burn order."""

    unit: str
    hold_id: str
    held: int
    allocations: tuple[tuple[str, int], ...]


@attrs.frozen(kw_only=True)
class Captured:
    """A capture: ``captured + released`` is the hold's amount. Released credit whose block
    has expired or been voided meanwhile expires or is voided at once."""

    unit: str
    hold_id: str
    captured: int
    released: int


@attrs.frozen(kw_only=True)
class Released:
    """A release: all of the hold's amount goes back to its blocks."""

    unit: str
    hold_id: str
    released: int


@attrs.frozen(kw_only=True)
class Voided:
    unit: str
    block_id: str
    voided: int


@attrs.frozen(kw_only=True)
class Moved:
    """A change of expiry: ``moved`` left ``block_id`` for ``new_block_id``."""

    unit: str
    block_id: str
    new_block_id: str
    moved: int


@attrs.frozen(kw_only=True)
class Refunded:
    """A refund of op ``target``: fresh credit in a new block, and the debt it paid off."""

    unit: str
    target: str
    block_id: str
    refunded: int
    settled: int


@attrs.frozen
class Configured:
    """A change of a setting (a schedule, a top-up rule, an alert): what it changed."""

    subject: str
    """The schedule's or alert's id, or the top-up rule's unit."""


@attrs.frozen
class Reversed:
    """A reversal of op ``target``: ``reversed`` in all, of which ``debt_cancelled`` cancelled
    debt still owed (the rest went back to blocks: those the op drew, or those that settled
    its debt)."""

    unit: str
    target: str
    reversed: int
    debt_cancelled: int


@attrs.frozen(kw_only=True)
class Advanced:
    """:func:`~creditcore.core.rules.advance`: only due events, one step per instant."""

    steps: int


Outcome = (
    Granted
    | Burned
    | tuple[Burned, ...]
    | Held
    | Captured
    | Released
    | Voided
    | Moved
    | Reversed
    | Refunded
    | Configured
    | Advanced
)
"""What a write rule's transition carries (``tuple[Burned, ...]``: :func:`~creditcore.core.rules.burn_each`)."""
OutcomeT = TypeVar("OutcomeT", covariant=True)


class Transition(tuple[AccountState, tuple[EntryState, ...]], Generic[OutcomeT]):
    """A rule's result: ``(state, entries)`` as a tuple, with ``outcome``, ``change`` and
    ``due`` beside it (see the module's docstring). It compares as the pair it unpacks to."""

    _outcome: Any
    _change: Mapping[str, BalanceChange] | Callable[[], Mapping[str, BalanceChange]]
    _due: tuple[DueStep, ...]

    def __new__(
        cls,
        state: AccountState,
        entries: tuple[EntryState, ...],
        outcome: OutcomeT,
        change: Mapping[str, BalanceChange] | Callable[[], Mapping[str, BalanceChange]],
        due: tuple[DueStep, ...] = (),
    ) -> Transition[OutcomeT]:
        self = tuple.__new__(cls, (state, entries))
        # the instance dict directly: this runs once per write, and the class is read-only
        fields = self.__dict__
        fields["_outcome"] = outcome
        fields["_change"] = change
        fields["_due"] = due
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self[0], self[1], self._outcome, self.change, self._due)

    def __repr__(self) -> str:
        return (
            f"Transition(state={self[0]!r}, entries={self[1]!r}, outcome={self._outcome!r}, "
            f"change={self.change!r}, due={self._due!r})"
        )

    @property
    def state(self) -> AccountState:
        """The account after the step."""
        return self[0]

    @property
    def entries(self) -> tuple[EntryState, ...]:
        """The entries written, due events first, in order."""
        return self[1]

    @property
    def outcome(self) -> OutcomeT:
        """The operation's figures, as its rule decided them."""
        outcome: OutcomeT = self._outcome
        return outcome

    @property
    def change(self) -> Mapping[str, BalanceChange]:
        """Per unit, the balance change of the operation itself (after the due events).

        A rule may pass a function that measures it: it runs once, when first asked for."""
        change = self._change
        if callable(change):
            change = change()
            self.__dict__["_change"] = change
        return change

    @property
    def due(self) -> tuple[DueStep, ...]:
        """The instants of due events recorded before the operation, in time order."""
        return self._due

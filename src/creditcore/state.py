"""The pure core's values: the state of one customer's account and the commands that change it.

Amounts here are integers of minor units (``150`` is 1.50 in a unit of scale 2); the
:class:`~creditcore.ledger.Ledger` turns them into ``Decimal`` at its edge. Every class is
frozen: a rule returns a new state and never changes the one it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal, NoReturn, get_args

import attrs

from creditcore.errors import ValidationError
from creditcore.values import (
    CATEGORIES,
    MAX_ID_LENGTH,
    MAX_MINOR,
    MAX_PRIORITY,
    MAX_TEXT_LENGTH,
    OVERDRAFT_MODES,
    parse_cost_basis,
    parse_grant_scope,
    parse_id,
    parse_metadata,
    parse_priority,
    parse_text,
    parse_time,
)

EntryKind = Literal[
    "grant", "burn", "debt", "settle", "hold", "capture", "release",
    "expire", "void", "reverse", "move_out", "move_in",
]  # fmt: skip
ENTRY_KINDS: tuple[str, ...] = get_args(EntryKind)
HoldStatus = Literal["active", "captured", "released", "expired"]
HOLD_STATUSES: tuple[str, ...] = get_args(HoldStatus)
Overdraft = Literal["reject", "partial", "debt"]


def _frozen_dict(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if type(value) is dict:  # the common case, without an ABC check (this runs once per entry)
        return dict(value) if value else {}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("metadata", f"expected a dict of str to str, got {type(value).__name__}")
    return dict(value)


@attrs.frozen(kw_only=True)
class BlockState:
    """One block of credit as the core keeps it."""

    id: str
    customer: str
    unit: str
    number: int
    """Creation order within the customer: the last tie-breaker of every burn order."""
    amount: int
    """Original amount in minor units (for a block made by ``change_expiry``, what moved in)."""
    remaining: int
    """Credit still in the block, held or not."""
    held: int = 0
    """Part of ``remaining`` pinned by active holds."""
    priority: int
    category: str
    cost_basis: Decimal | None = None
    scope: frozenset[str] | None = None
    effective_at: datetime
    expires_at: datetime | None = None
    created_at: datetime
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    origin: str | None = None
    """The block this one was moved from by ``change_expiry`` (it is not granted twice)."""
    settles_debt: bool = False
    """An unscoped block granted with ``settle_debt``: it pays debt off when it becomes active."""
    settle_pending: bool = False
    """Set while an upcoming block still has to settle debt at ``effective_at``."""
    void_closed: bool = False
    """A void took all its unheld credit: credit that comes back is voided at once."""
    emptied_by: str | None = None
    """What last brought ``remaining`` to zero: ``depleted``, ``expired`` or ``voided``."""

    @property
    def unheld(self) -> int:
        return self.remaining - self.held

    def is_upcoming(self, at: datetime) -> bool:
        return at < self.effective_at

    def is_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at

    def is_active(self, at: datetime) -> bool:
        """Usable at ``at``: ``effective_at <= at < expires_at``."""
        return self.effective_at <= at and (self.expires_at is None or at < self.expires_at)

    def usable_by(self, scope: str | None) -> bool:
        """An unscoped block serves every burn; a scoped one only burns of its scopes."""
        return self.scope is None or (scope is not None and scope in self.scope)

    def status(self, at: datetime) -> str:
        if self.remaining == 0 and self.emptied_by is not None:
            return self.emptied_by
        if self.is_upcoming(at):
            return "upcoming"
        if self.is_expired(at):
            return "expired"
        return "active"


@attrs.frozen(kw_only=True)
class HoldState:
    """A hold: credit pinned in specific blocks until it is captured, released or expires."""

    id: str
    customer: str
    unit: str
    amount: int
    allocations: tuple[tuple[str, int], ...]
    """``(block_id, amount)`` pinned at hold time, in burn order."""
    status: HoldStatus = "active"
    captured: int = 0
    scope: str | None = None
    expires_at: datetime | None = None
    created_at: datetime
    settled_at: datetime | None = None
    settled_by: str | None = None
    """The op id of the capture, release or timeout that ended the hold."""
    op_id: str
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)

    def status_at(self, at: datetime) -> HoldStatus:
        """The status at ``at``, counting a timeout that is due but not yet recorded."""
        if self.settled_at is not None and self.settled_at <= at:
            return self.status
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


@attrs.frozen(kw_only=True)
class EntryState:
    """One immutable ledger entry. ``seq`` is 0 until a repository stores it."""

    seq: int = 0
    op_id: str
    customer: str
    unit: str
    kind: EntryKind
    block_id: str | None = None
    hold_id: str | None = None
    amount: int
    available_after: int
    at: datetime
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    ref: str | None = None
    """For a ``reverse`` entry: the op it reverses."""
    of_debt: bool = False
    """For a ``reverse`` entry: it undoes the debt part of the op (cancelling debt still owed,
    or giving settled debt back to the block that settled it)."""

    def numbered(self, seq: int) -> EntryState:
        """This entry with the ``seq`` a repository gives it when it stores it (the
        constructor field by field, not attrs.evolve: this runs once per stored entry)."""
        return EntryState(
            seq=seq,
            op_id=self.op_id,
            customer=self.customer,
            unit=self.unit,
            kind=self.kind,
            block_id=self.block_id,
            hold_id=self.hold_id,
            amount=self.amount,
            available_after=self.available_after,
            at=self.at,
            description=self.description,
            metadata=self.metadata,
            ref=self.ref,
            of_debt=self.of_debt,
        )


@attrs.frozen(kw_only=True)
class UnitTotals:
    """Running totals of one unit for one customer (the parts of a balance that live
    outside the blocks still holding credit)."""

    granted: int = 0
    used: int = 0
    expired: int = 0
    voided: int = 0
    debt: int = 0


@attrs.frozen(kw_only=True)
class AccountState:
    """Everything the rules need about one customer.

    ``blocks`` holds the blocks that still hold credit (and any others a shell loaded for
    the operation at hand); ``holds`` the active holds. Blocks and holds that end stay in the
    state a rule returns, so the repository can store their final form.
    """

    customer: str
    blocks: Mapping[str, BlockState] = attrs.field(factory=dict)
    holds: Mapping[str, HoldState] = attrs.field(factory=dict)
    totals: Mapping[str, UnitTotals] = attrs.field(factory=dict)
    last_at: datetime | None = None
    """Time of the customer's last entry: its history only moves forward from here."""
    next_number: int = 1
    settlements: Mapping[str, tuple[tuple[str, int], ...]] = attrs.field(factory=dict)
    """Per unit, ``(block_id, amount)`` of debt settlements not yet returned by a reversal,
    oldest first: reversing usage that was recorded as debt and then settled gives the
    credit back to the blocks that settled it, latest first."""

    def unit_totals(self, unit: str) -> UnitTotals:
        return self.totals.get(unit) or UnitTotals()

    def live(self) -> AccountState:
        """The state as a repository loads it back: only the blocks with credit left and the
        active holds (itself when nothing ended, which is most writes)."""
        blocks, holds = self.blocks, self.holds
        if all(b.remaining > 0 for b in blocks.values()) and all(h.status == "active" for h in holds.values()):
            return self
        return AccountState(
            customer=self.customer,
            blocks={k: b for k, b in blocks.items() if b.remaining > 0},
            holds={k: h for k, h in holds.items() if h.status == "active"},
            totals=self.totals,
            last_at=self.last_at,
            next_number=self.next_number,
            settlements=self.settlements,
        )


@attrs.frozen(kw_only=True)
class Tally:
    """A balance in minor units (see :class:`creditcore.model.Balance`)."""

    available: int = 0
    unscoped_available: int = 0
    """The part of ``available`` in unscoped blocks, which a burn without a scope can use."""
    held: int = 0
    granted: int = 0
    used: int = 0
    expired: int = 0
    voided: int = 0
    upcoming: int = 0
    debt: int = 0


# -- commands ----------------------------------------------------------------------------
#
# The commands are public: a caller of the pure core builds them by hand. Each checks its
# fields when it is made and raises ValidationError naming the field at fault, so a rule
# never sees a negative amount, a bogus choice or a naive time. The checks are plain type
# and range tests (a burn builds one command per call); the parsers of creditcore.values
# only run to normalise a value or to word a refusal.


def _refuse_amount(value: object, field: str, least: int) -> NoReturn:
    if type(value) is not int:
        hint = " (floats are inexact)" if isinstance(value, float) else ""
        raise ValidationError(field, f"expected an int of minor units, got {type(value).__name__}{hint}")
    if value > MAX_MINOR:
        raise ValidationError(field, f"{value} does not fit in a signed 64-bit amount")
    raise ValidationError(field, f"must be {'zero or more' if least == 0 else 'more than zero'}, got {value}")


def _amount(value: object, field: str = "amount", least: int = 1) -> None:
    """An int of minor units from ``least`` up to the largest signed 64-bit integer."""
    if type(value) is not int or not least <= value <= MAX_MINOR:
        _refuse_amount(value, field, least)


def _optional_amount(value: object, field: str = "amount", least: int = 1) -> None:
    if value is not None and (type(value) is not int or not least <= value <= MAX_MINOR):
        _refuse_amount(value, field, least)


def _id(value: object, field: str) -> None:
    """A non-empty str of at most 200 characters."""
    if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH:
        parse_id(value, field)  # words the refusal (and lets a str subclass through)


def _optional_id(value: object, field: str) -> None:
    if value is not None and (type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH):
        parse_id(value, field)


def _text(value: object, field: str = "description") -> None:
    if value is not None and (type(value) is not str or len(value) > MAX_TEXT_LENGTH):
        parse_text(value, field)


def _metadata(value: Mapping[str, str]) -> None:
    if value:
        parse_metadata(value)


def _choice(value: object, field: str, choices: tuple[str, ...]) -> None:
    if value not in choices or type(value) is not str:
        raise ValidationError(field, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _bool(value: object, field: str) -> None:
    if type(value) is not bool:
        raise ValidationError(field, f"expected True or False, got {value!r}")


def _set(command: object, field: str, value: object) -> None:
    """Store a normalised value on a frozen command (only while it is being made)."""
    object.__setattr__(command, field, value)


def _time(command: object, field: str, value: object) -> datetime:
    """An aware time, normalised to UTC on the command."""
    when = parse_time(value, field)
    if when is not value:
        _set(command, field, when)
    return when


def _entries(command: object, field: str, value: object) -> tuple[EntryState, ...]:
    if type(value) is not tuple:
        if not isinstance(value, (list, tuple)):
            raise ValidationError(field, f"expected a tuple of EntryState, got {type(value).__name__}")
        value = tuple(value)
        _set(command, field, value)
    for item in value:
        if not isinstance(item, EntryState):
            raise ValidationError(field, f"expected a tuple of EntryState, found a {type(item).__name__}")
    return value


@attrs.frozen(kw_only=True)
class Grant:
    op_id: str
    block_id: str
    unit: str
    amount: int
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    priority: int = 50
    category: str = "promotional"
    cost_basis: Decimal | None = None
    scope: frozenset[str] | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    settle_debt: bool = True

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.block_id, "block_id")
        _id(self.unit, "unit")
        _amount(self.amount)
        effective = None if self.effective_at is None else _time(self, "effective_at", self.effective_at)
        if self.expires_at is not None:
            expires = _time(self, "expires_at", self.expires_at)
            if effective is not None and expires <= effective:
                raise ValidationError(
                    "expires_at", f"{expires.isoformat()} must be later than effective_at ({effective.isoformat()})"
                )
        if type(self.priority) is not int or not 0 <= self.priority <= MAX_PRIORITY:
            parse_priority(self.priority)
        _choice(self.category, "category", CATEGORIES)
        if self.cost_basis is not None:
            basis = parse_cost_basis(self.cost_basis)
            if basis is not self.cost_basis:
                _set(self, "cost_basis", basis)
        if self.scope is not None:
            _set(self, "scope", parse_grant_scope(self.scope))
        _text(self.description)
        _metadata(self.metadata)
        _bool(self.settle_debt, "settle_debt")


@attrs.frozen(kw_only=True)
class Burn:
    op_id: str
    unit: str
    amount: int
    scope: str | None = None
    overdraft: Overdraft = "reject"
    debt_limit: int | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)

    def __attrs_post_init__(self) -> None:
        # the common burn in one expression (this runs once per burn); the checks one by
        # one below word the refusal, or pass what the expression did not cover
        if (
            type(self.op_id) is str
            and 0 < len(self.op_id) <= MAX_ID_LENGTH
            and type(self.unit) is str
            and 0 < len(self.unit) <= MAX_ID_LENGTH
            and type(self.amount) is int
            and 0 < self.amount <= MAX_MINOR
            and self.scope is None
            and self.overdraft in OVERDRAFT_MODES
            and type(self.overdraft) is str
            and self.debt_limit is None
            and self.description is None
            and not self.metadata
        ):
            return
        _id(self.op_id, "op_id")
        _id(self.unit, "unit")
        _amount(self.amount)
        _optional_id(self.scope, "scope")
        _choice(self.overdraft, "overdraft", OVERDRAFT_MODES)
        _optional_amount(self.debt_limit, "debt_limit", 0)
        _text(self.description)
        _metadata(self.metadata)


@attrs.frozen(kw_only=True)
class PlaceHold:
    op_id: str
    hold_id: str
    unit: str
    amount: int
    scope: str | None = None
    expires_at: datetime | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.hold_id, "hold_id")
        _id(self.unit, "unit")
        _amount(self.amount)
        _optional_id(self.scope, "scope")
        if self.expires_at is not None:
            _time(self, "expires_at", self.expires_at)
        _text(self.description)
        _metadata(self.metadata)


@attrs.frozen(kw_only=True)
class Capture:
    op_id: str
    hold_id: str
    amount: int | None = None
    """``None`` captures everything held."""

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.hold_id, "hold_id")
        _optional_amount(self.amount, "amount", 0)


@attrs.frozen(kw_only=True)
class Release:
    op_id: str
    hold_id: str

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.hold_id, "hold_id")


@attrs.frozen(kw_only=True)
class Void:
    op_id: str
    block_id: str
    amount: int | None = None
    """``None`` voids all the unheld remaining."""
    reason: str | None = None

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.block_id, "block_id")
        _optional_amount(self.amount)
        _text(self.reason, "reason")


@attrs.frozen(kw_only=True)
class ChangeExpiry:
    op_id: str
    block_id: str
    new_block_id: str
    expires_at: datetime
    amount: int | None = None
    """``None`` moves all the unheld remaining."""

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.block_id, "block_id")
        _id(self.new_block_id, "new_block_id")
        if self.new_block_id == self.block_id:
            raise ValidationError("new_block_id", f"must differ from block_id ({self.block_id!r})")
        _time(self, "expires_at", self.expires_at)
        _optional_amount(self.amount)


@attrs.frozen(kw_only=True)
class Reverse:
    op_id: str
    target: str
    """The op id of the burn or capture to reverse."""
    target_entries: tuple[EntryState, ...]
    """The entries of that op."""
    prior: tuple[EntryState, ...] = ()
    """The ``reverse`` entries of earlier reversals of that op."""
    amount: int | None = None
    """``None`` reverses all that is left."""
    captured_nothing: bool = False
    """The target is a capture of 0 (its entries are only the release of the rest)."""

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.target, "target")
        entries = _entries(self, "target_entries", self.target_entries)
        if not entries:
            raise ValidationError("target_entries", f"the entries of op {self.target!r} are missing")
        first = entries[0]
        for entry in entries:
            if entry.op_id != self.target:
                raise ValidationError(
                    "target_entries", f"entry of op {entry.op_id!r} is not one of op {self.target!r}'s entries"
                )
            if entry.customer != first.customer or entry.unit != first.unit:
                raise ValidationError("target_entries", f"op {self.target!r}'s entries mix customers or units")
        for entry in _entries(self, "prior", self.prior):
            if entry.kind != "reverse" or entry.ref != self.target:
                raise ValidationError("prior", f"expected the reverse entries of op {self.target!r} only")
        _optional_amount(self.amount)
        _bool(self.captured_nothing, "captured_nothing")

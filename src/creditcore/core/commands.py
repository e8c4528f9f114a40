"""The commands of the pure core: what a caller asks a rule to do.

The commands are public: a caller of the pure core builds them by hand. Each checks its
fields when it is made and raises ValidationError naming the field at fault, so a rule
never sees a negative amount, a bogus choice or a naive time. The checks are plain type
and range tests (a burn builds one command per call); the parsers of creditcore.values
only run to normalise a value or to word a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import NoReturn

import attrs

from creditcore.core.periods import Every, parse_every, parse_timezone
from creditcore.core.settings import ALERT_KINDS
from creditcore.core.state import EntryState, Overdraft, frozen_dict
from creditcore.errors import ValidationError
from creditcore.values import (
    CATEGORIES,
    MAX_ID_LENGTH,
    MAX_MINOR,
    MAX_PRIORITY,
    MAX_TEXT_LENGTH,
    OVERDRAFT_MODES,
    parse_categories,
    parse_cost_basis,
    parse_id,
    parse_metadata,
    parse_priority,
    parse_scope,
    parse_text,
    parse_time,
)


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


def _eligibility(command: Burn | PlaceHold) -> None:
    """A call's scope set and categories as frozensets (a str is one of them)."""
    if command.scope is not None:
        _set(command, "scope", parse_scope(command.scope))
    if command.categories is not None:
        _set(command, "categories", parse_categories(command.categories))


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
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    settle_debt: bool = True
    single_use: bool = False

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
            _set(self, "scope", parse_scope(self.scope))
        _text(self.description)
        _metadata(self.metadata)
        _bool(self.settle_debt, "settle_debt")
        _bool(self.single_use, "single_use")


@attrs.frozen(kw_only=True)
class Burn:
    op_id: str
    unit: str
    amount: int
    scope: frozenset[str] | None = None
    """The call's scope set (a str or any iterable of them is made one)."""
    categories: frozenset[str] | None = None
    """Only blocks of these categories are eligible; ``None``: every category."""
    overdraft: Overdraft = "reject"
    debt_limit: int | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)

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
            and self.categories is None
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
        _eligibility(self)
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
    scope: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    expires_at: datetime | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.hold_id, "hold_id")
        _id(self.unit, "unit")
        _amount(self.amount)
        _eligibility(self)
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


def _check_target(command: Reverse | Refund) -> None:
    """The target op's entries and the earlier reversals and refunds of it."""
    _id(command.target, "target")
    entries = _entries(command, "target_entries", command.target_entries)
    if not entries:
        raise ValidationError("target_entries", f"the entries of op {command.target!r} are missing")
    first = entries[0]
    for entry in entries:
        if entry.op_id != command.target:
            raise ValidationError(
                "target_entries", f"entry of op {entry.op_id!r} is not one of op {command.target!r}'s entries"
            )
        if entry.customer != first.customer or entry.unit != first.unit:
            raise ValidationError("target_entries", f"op {command.target!r}'s entries mix customers or units")
    for entry in _entries(command, "prior", command.prior):
        if entry.kind not in ("reverse", "refund") or entry.ref != command.target:
            raise ValidationError("prior", f"expected the reverse and refund entries of op {command.target!r} only")
    _optional_amount(command.amount)
    _bool(command.captured_nothing, "captured_nothing")


@attrs.frozen(kw_only=True)
class Refund:
    """Fresh credit for an earlier burn or capture: a new block, nothing given back to the
    blocks the op drew."""

    op_id: str
    block_id: str
    target: str
    """The op id of the burn or capture refunded."""
    target_entries: tuple[EntryState, ...]
    prior: tuple[EntryState, ...] = ()
    """The ``reverse`` and ``refund`` entries of earlier reversals and refunds of that op."""
    amount: int | None = None
    """``None`` refunds all that is left."""
    expires_at: datetime | None = None
    priority: int = 50
    category: str = "paid"
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    settle_debt: bool = True
    captured_nothing: bool = False

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _id(self.block_id, "block_id")
        _check_target(self)
        if self.expires_at is not None:
            _time(self, "expires_at", self.expires_at)
        if type(self.priority) is not int or not 0 <= self.priority <= MAX_PRIORITY:
            parse_priority(self.priority)
        _choice(self.category, "category", CATEGORIES)
        _text(self.description)
        _metadata(self.metadata)
        _bool(self.settle_debt, "settle_debt")


@attrs.frozen(kw_only=True)
class Reverse:
    op_id: str
    target: str
    """The op id of the burn or capture to reverse."""
    target_entries: tuple[EntryState, ...]
    """The entries of that op."""
    prior: tuple[EntryState, ...] = ()
    """The ``reverse`` and ``refund`` entries of earlier reversals and refunds of that op."""
    amount: int | None = None
    """``None`` reverses all that is left."""
    captured_nothing: bool = False
    """The target is a capture of 0 (its entries are only the release of the rest)."""

    def __attrs_post_init__(self) -> None:
        _id(self.op_id, "op_id")
        _check_target(self)


# -- settings ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScheduleGrant:
    """A recurring grant with rollover. Times are aware; amounts minor units; ``every`` an
    :class:`~creditcore.periods.Every` or what :func:`~creditcore.periods.parse_every` takes;
    ``anchor`` and ``start`` ``None`` for their defaults (``start``: ``anchor``, or the
    schedule's time if later; ``anchor``: ``start``, else the schedule's time)."""

    schedule_id: str
    unit: str
    amount: int
    every: Every
    anchor: datetime | None = None
    start: datetime | None = None
    until: datetime | None = None
    first_amount: int | None = None
    rollover_max: int = 0
    rollover_min: int = 0
    timezone: str = "UTC"
    priority: int = 50
    category: str = "promotional"
    scope: frozenset[str] | None = None
    single_use: bool = False
    cost_basis: Decimal | None = None
    settle_debt: bool = True
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)

    def __attrs_post_init__(self) -> None:
        _id(self.schedule_id, "schedule_id")
        _id(self.unit, "unit")
        _set(self, "every", parse_every(self.every))
        for field in ("amount", "rollover_max", "rollover_min"):
            _amount(getattr(self, field), field, 0)
        _optional_amount(self.first_amount, "first_amount", 0)
        first = self.amount if self.first_amount is None else self.first_amount
        if self.amount == 0 and first == 0 and self.rollover_min == 0:
            raise ValidationError("amount", "amount, first_amount and rollover_min are all 0: nothing would be granted")
        for field in ("anchor", "start", "until"):
            if getattr(self, field) is not None:
                _time(self, field, getattr(self, field))
        _set(self, "timezone", parse_timezone(self.timezone))
        if type(self.priority) is not int or not 0 <= self.priority <= MAX_PRIORITY:
            parse_priority(self.priority)
        _choice(self.category, "category", CATEGORIES)
        if self.scope is not None:
            _set(self, "scope", parse_scope(self.scope))
        _bool(self.single_use, "single_use")
        if self.cost_basis is not None:
            _set(self, "cost_basis", parse_cost_basis(self.cost_basis))
        _bool(self.settle_debt, "settle_debt")
        _text(self.description)
        _metadata(self.metadata)


@attrs.frozen(kw_only=True)
class SetTopUp:
    """An auto top-up rule for one unit: exactly one of ``amount`` and ``target``."""

    unit: str
    threshold: int
    amount: int | None = None
    target: int | None = None
    category: str = "paid"
    priority: int = 50
    expires_after: Every | None = None
    cost_basis: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        _id(self.unit, "unit")
        if type(self.threshold) is not int or not -MAX_MINOR <= self.threshold <= MAX_MINOR:
            raise ValidationError("threshold", f"expected an int of minor units, got {self.threshold!r}")
        if (self.amount is None) == (self.target is None):
            raise ValidationError("amount", "pass exactly one of amount and target")
        _optional_amount(self.amount)
        if self.target is not None:
            if type(self.target) is not int or abs(self.target) > MAX_MINOR:
                raise ValidationError("target", f"expected an int of minor units, got {self.target!r}")
            if self.target <= self.threshold:
                raise ValidationError("target", f"{self.target} must be more than the threshold {self.threshold}")
        _choice(self.category, "category", CATEGORIES)
        if type(self.priority) is not int or not 0 <= self.priority <= MAX_PRIORITY:
            parse_priority(self.priority)
        if self.expires_after is not None:
            _set(self, "expires_after", parse_every(self.expires_after, "expires_after"))
        if self.cost_basis is not None:
            _set(self, "cost_basis", parse_cost_basis(self.cost_basis))


@attrs.frozen(kw_only=True)
class AddAlert:
    """A balance alert: ``dropped`` takes 1 to 20 distinct thresholds, the other
    kinds none."""

    alert_id: str
    unit: str
    kind: str
    thresholds: tuple[int, ...] = ()

    def __attrs_post_init__(self) -> None:
        _id(self.alert_id, "alert_id")
        _id(self.unit, "unit")
        _choice(self.kind, "kind", ALERT_KINDS)
        if not isinstance(self.thresholds, (tuple, list, set, frozenset)):
            raise ValidationError(
                "thresholds", f"expected a collection of amounts, got {type(self.thresholds).__name__}"
            )
        values = tuple(self.thresholds)
        for value in values:
            if type(value) is not int or abs(value) > MAX_MINOR:
                raise ValidationError("thresholds", f"expected ints of minor units, got {value!r}")
        if self.kind == "dropped":
            if not 1 <= len(values) <= 20 or len(set(values)) != len(values):
                raise ValidationError("thresholds", "a dropped alert takes 1 to 20 distinct thresholds")
        elif values:
            raise ValidationError("thresholds", f"a {self.kind} alert takes no thresholds")
        _set(self, "thresholds", tuple(sorted(values, reverse=True)))

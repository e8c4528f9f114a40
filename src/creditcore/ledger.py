"""The Ledger: validation at the edge, the clock, idempotency, and load -> rule -> save
through a repository. Every business rule lives in :mod:`creditcore.rules`."""

from __future__ import annotations

import base64
import binascii
import contextlib
import decimal
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from creditcore import rules
from creditcore.adapters.memory import MemoryRepository
from creditcore.errors import (
    CreditError,
    HoldNotActive,
    IdempotencyConflict,
    NotFound,
    StorageError,
    ValidationError,
)
from creditcore.model import (
    Balance,
    BalancePoint,
    Block,
    BurnPreview,
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    Entry,
    EntryPage,
    GrantResult,
    Hold,
    HoldResult,
    ReleaseResult,
    Result,
    ReverseResult,
    VerifyReport,
    VoidResult,
)
from creditcore.order import BurnOrder
from creditcore.repository import (
    EntryQuery,
    OperationRecord,
    PastHistory,
    Reader,
    Repository,
    UnitOfWork,
    iterate_entries,
)
from creditcore.state import (
    ENTRY_KINDS,
    HOLD_STATUSES,
    AccountState,
    BlockState,
    Burn,
    Capture,
    ChangeExpiry,
    Grant,
    HoldState,
    PlaceHold,
    Release,
    Reverse,
    Void,
)
from creditcore.values import (
    CATEGORIES,
    DECIMAL_CONTEXT,
    DEFAULT_UNIT,
    OVERDRAFT_MODES,
    canonical,
    check_amount,
    parse_amount,
    parse_bool,
    parse_choice,
    parse_cost_basis,
    parse_grant_scope,
    parse_id,
    parse_limit,
    parse_metadata,
    parse_optional_id,
    parse_optional_time,
    parse_priority,
    parse_scale,
    parse_text,
    parse_time,
    to_decimal,
    utc_now,
    whole_minor_units,
)

R = TypeVar("R", bound=Result)
Step = Callable[[AccountState, datetime], rules.Transition]
_CURSOR_PREFIX = "creditcore:"
#: How far past the clock a write's explicit ``at`` may lie by default (§13).
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)


F = TypeVar("F", bound=Callable[..., Any])
_getcontext, _setcontext = decimal.getcontext, decimal.setcontext


def _exact(method: F) -> F:
    """Run a public method in the library's own ``decimal`` context, whatever the caller set
    (``decimal.getcontext()`` belongs to the host app). ``setcontext`` and back costs a
    third of ``localcontext()``, which copies the context on every call."""

    @functools.wraps(method)
    def call(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        caller = _getcontext()
        if caller is DECIMAL_CONTEXT:
            return method(self, *args, **kwargs)
        _setcontext(DECIMAL_CONTEXT)
        try:
            return method(self, *args, **kwargs)
        finally:
            _setcontext(caller)

    return call  # type: ignore[return-value]


def _dooms_batch(method: F) -> F:
    """A write: in the library's own ``decimal`` context (see :func:`_exact`), and inside
    ``atomic()`` any of its errors — even one the caller catches — rolls the whole batch
    back when the block ends."""

    @functools.wraps(method)
    def write(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        caller = _getcontext()
        try:
            if caller is DECIMAL_CONTEXT:
                return method(self, *args, **kwargs)
            _setcontext(DECIMAL_CONTEXT)
            try:
                return method(self, *args, **kwargs)
            finally:
                _setcontext(caller)
        except BaseException as error:
            batch = self._batches.get(threading.get_ident())
            if batch is not None and batch.failure is None and batch.includes_caller():
                batch.failure = error
            raise

    return write  # type: ignore[return-value]


class Ledger:
    """A prepaid-credit ledger over a repository.

    >>> ledger = Ledger.memory()
    >>> _ = ledger.grant("ada", 100, expires_at=None)
    >>> ledger.burn("ada", 30).burned
    Decimal('30')
    >>> ledger.balance("ada").available
    Decimal('70')
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Callable[[], datetime] | None = None,
        units: Mapping[str, int] | None = None,
        burn_order: BurnOrder | None = None,
        settle_debt: bool = True,
        debt_limit: int | Decimal | str | None = None,
        future_tolerance: timedelta | None = DEFAULT_FUTURE_TOLERANCE,
    ) -> None:
        if burn_order is not None and not isinstance(burn_order, BurnOrder):
            raise ValidationError("burn_order", f"expected a BurnOrder, got {type(burn_order).__name__}")
        if clock is not None and not callable(clock):
            raise ValidationError("clock", f"expected a function returning an aware datetime, got {clock!r}")
        if units is not None and not isinstance(units, Mapping):
            raise ValidationError("units", f"expected a dict of unit name to scale, got {type(units).__name__}")
        if future_tolerance is not None and (
            not isinstance(future_tolerance, timedelta) or future_tolerance < timedelta(0)
        ):
            raise ValidationError(
                "future_tolerance",
                f"expected a timedelta >= 0, or None to turn the check off, got {future_tolerance!r}",
            )
        self._repository = repository
        self._clock = clock or utc_now
        self._order = burn_order or BurnOrder.default()
        self._settle_debt = parse_bool(settle_debt, "settle_debt")
        self._future_tolerance = future_tolerance
        if debt_limit is not None:
            check_amount(debt_limit, "debt_limit", allow_zero=True)
        self._debt_limit = None if debt_limit is None else Decimal(str(debt_limit).strip())
        # units known to be committed: a batch keeps its own until it commits
        self._scales: dict[str, int] = {DEFAULT_UNIT: 0}
        # the batch each thread has open, if any (see atomic())
        self._batches: dict[int, _Batch] = {}
        for name, scale in (units or {}).items():
            self.define_unit(name, scale)

    @property
    def future_tolerance(self) -> timedelta | None:
        """How far past the clock an explicit ``at`` of a write may lie (``None``: no limit)."""
        return self._future_tolerance

    @classmethod
    def memory(cls, **options: Any) -> Ledger:
        """A ledger on a new :class:`~creditcore.adapters.memory.MemoryRepository`."""
        return cls(MemoryRepository(), **options)

    @classmethod
    def sqlite(
        cls, path: str | os.PathLike[str], *, durability: str = "full", busy_timeout: float = 5.0, **options: Any
    ) -> Ledger:
        """A ledger on a :class:`~creditcore.adapters.sqlite.SQLiteRepository` at ``path`` (created
        if missing; ``":memory:"`` for a private in-memory database).

        ``durability="full"`` (default) makes every acknowledged write survive a power loss;
        ``"normal"`` is faster but may lose the last writes then. ``busy_timeout`` is how
        many seconds a write waits for another connection's (SQLite's ``busy_timeout``).
        ``options`` go to :class:`Ledger`. Call :meth:`close` when done.

        >>> ledger = Ledger.sqlite(":memory:")
        >>> ledger.grant("ada", 5).block.remaining
        Decimal('5')
        >>> ledger.close()
        """
        from creditcore.adapters.sqlite import SQLiteRepository

        return cls(SQLiteRepository(path, durability=durability, busy_timeout=busy_timeout), **options)

    @property
    def repository(self) -> Repository:
        return self._repository

    @property
    def burn_order(self) -> BurnOrder:
        return self._order

    def close(self) -> None:
        self._repository.close()

    # -- units ---------------------------------------------------------------------------

    @_dooms_batch
    def define_unit(self, name: str, scale: int) -> None:
        """Declare a unit with ``scale`` decimal places (``"credits"`` exists with 0).

        Declaring a unit again with the same scale does nothing; with another, raises.
        Inside ``atomic()`` the unit is declared only if the batch commits.
        """
        name = parse_id(name, "unit")
        scale = parse_scale(scale)
        batch = self._batch()
        with self._transaction() as uow:
            known = {DEFAULT_UNIT: 0, **uow.units()}
            if name in known:
                if known[name] != scale:
                    raise ValidationError("scale", f"unit {name!r} is declared with scale {known[name]}, not {scale}")
            else:
                uow.add_unit(name, scale)
        # known for good only once it is committed: a batch keeps it until then
        (batch.scales if batch is not None else self._scales)[name] = scale

    @_exact
    def units(self) -> dict[str, int]:
        """Every declared unit and its scale."""
        with self._reader() as reader:
            return {DEFAULT_UNIT: 0, **reader.units()}

    def _scale(self, unit: str, reader: Reader | None = None) -> int:
        scale = self._scales.get(unit)
        if scale is not None:
            return scale
        batch = self._batch()
        if batch is not None:
            # a unit this batch declared or read is known to it alone until it commits
            scale = batch.scales.get(unit)
            if scale is None:
                batch.scales.update(batch.uow.units())
                scale = batch.scales.get(unit)
        else:
            if reader is None:
                with self._repository.reader() as fresh:
                    known = fresh.units()
            else:
                known = reader.units()
            self._scales.update(known)
            scale = self._scales.get(unit)
        if scale is None:
            raise ValidationError("unit", f"unknown unit {unit!r}: declare it with define_unit({unit!r}, scale=...)")
        return scale

    def _unit(self, unit: object) -> tuple[str, int]:
        name = parse_id(unit, "unit")
        return name, self._scale(name)

    # -- transactions --------------------------------------------------------------------

    def _transaction(self) -> _WriteScope:
        """The batch's unit of work inside ``atomic()`` (an error dooms the batch), else a
        transaction of its own."""
        return _WriteScope(self)

    def _batch(self) -> _Batch | None:
        """The batch the caller is inside, if any.

        A batch belongs to the code that opened it: its thread and, in that thread, the
        frame of the ``with ledger.atomic():`` statement, which must be on the caller's
        stack. So another asyncio task, a callback, or the code around a generator suspended
        inside its ``atomic()`` is not in the batch, although it runs in the same thread
        (and, for a task started inside the batch, in a copy of the same
        ``contextvars`` context — which is why a context variable cannot tell them apart).
        Such a caller writing while the batch is open is refused (see :meth:`_WriteScope`).
        """
        batch = self._batches.get(threading.get_ident())
        if batch is None or not batch.includes_caller():
            return None
        return batch

    def atomic(self) -> AbstractContextManager[None]:
        """Writes inside commit together or not at all.

        The first error rolls every write of the block back and propagates (even if the
        code inside caught it). Nested ``atomic()`` blocks join the outer one.

        The batch belongs to the code inside the ``with`` block. Reads from elsewhere (another
        thread, another asyncio task) see the last committed state and never wait for it;
        a write from another thread waits for it (up to the adapter's ``busy_timeout``); a
        write from another task or generator of the same thread cannot wait (the batch could
        never finish) and raises :class:`StorageError` at once.
        """
        return _Atomic(self)

    @contextmanager
    def _reader(self) -> Iterator[Reader]:
        """Reads for the caller: inside its own batch, the batch's (its writes included);
        else the last committed state."""
        batch = self._batch()
        if batch is not None:
            yield batch.uow
            return
        with self._repository.reader() as reader:
            yield reader

    # -- time ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return parse_time(self._clock(), "clock")

    def _write_time(self, at: datetime | None, state: AccountState) -> datetime:
        if at is not None:
            return at
        now = self._now()
        return state.last_at if state.last_at is not None and state.last_at > now else now

    def _check_future(self, at: datetime | None) -> None:
        """Refuse a write dated later than the clock plus ``future_tolerance`` (§13): dated
        there, it would move the customer's history ahead for good."""
        tolerance = self._future_tolerance
        if at is None or tolerance is None:
            return
        now = self._now()
        if at > now + tolerance:
            raise ValidationError(
                "at",
                f"{at.isoformat()} is later than the ledger clock ({now.isoformat()}) plus future_tolerance "
                f"({tolerance}): a write may not be dated in the future, or every later write of the customer "
                "would be dated there too. Leave at= out to write now (effective_at= makes a grant start later); "
                "for a simulation or a planned load, open the Ledger with future_tolerance=None",
            )

    # -- the write path ------------------------------------------------------------------

    def _replay(
        self, uow: UnitOfWork, namespace: str, key: str | None, kind: str, fingerprint: tuple[tuple[str, str], ...]
    ) -> Result | None:
        if key is None:
            return None
        record = uow.find_operation(namespace, key)
        if record is None:
            return None
        if record.kind != kind:
            raise IdempotencyConflict(key, "operation", f"it was a {record.kind}, this is a {kind}")
        for (field, was), (_, now) in zip(record.fingerprint, fingerprint, strict=True):
            if was != now:
                raise IdempotencyConflict(key, field, f"{was} then, {now} now")
        return attrs.evolve(record.result, replayed=True)

    def _apply(
        self,
        uow: UnitOfWork,
        customer: str,
        at: datetime | None,
        step: Step,
        build: Callable[[str, AccountState, tuple[Entry, ...], datetime], R],
        op_id: str,
        memo: tuple[str, str | None, str, tuple[tuple[str, str], ...]],
    ) -> R:
        """Load the customer, run the rule, save what it wrote, build the result and, when
        the call had a key, remember it for replays: ``memo`` is (namespace, key, kind,
        fingerprint)."""
        self._check_future(at)
        before = uow.load_account(customer)
        when = self._write_time(at, before)
        after, entries = step(before, when)
        saved = uow.save(before, after, entries)
        own = tuple(Entry.from_state(e, self._scale(e.unit, uow)) for e in saved if e.op_id == op_id)
        result = build(op_id, after, own, when)
        namespace, key, kind, fingerprint = memo
        if key is not None:
            uow.record_operation(
                OperationRecord(
                    namespace=namespace,
                    key=key,
                    kind=kind,
                    fingerprint=fingerprint,
                    op_id=op_id,
                    customer=customer,
                    result=result,
                )
            )
        return result

    # -- writes --------------------------------------------------------------------------

    @_dooms_batch
    def grant(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str = DEFAULT_UNIT,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        priority: int = 50,
        category: str = "promotional",
        cost_basis: int | Decimal | str | None = None,
        scope: Iterable[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        settle_debt: bool | None = None,
        at: datetime | None = None,
    ) -> GrantResult:
        """Grant ``amount`` of credit to ``customer`` as one new block (``result.block``)."""
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        minor = parse_amount(amount, scale)
        effective = parse_optional_time(effective_at, "effective_at")
        expires = parse_optional_time(expires_at, "expires_at")
        priority = parse_priority(priority)
        category = parse_choice(category, "category", CATEGORIES)
        basis = parse_cost_basis(cost_basis)
        scopes = parse_grant_scope(scope)
        description = parse_text(description)
        meta = parse_metadata(metadata)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        settles = self._settle_debt if settle_debt is None else parse_bool(settle_debt, "settle_debt")
        when = parse_optional_time(at, "at")
        # the arguments alone settle this one; expiry against `at` waits until after the key
        # lookup, so a retry of a grant that succeeded replays whenever it comes
        if expires is not None and effective is not None and expires <= effective:
            raise ValidationError("expires_at", f"{expires.isoformat()} must be later than effective_at")
        fingerprint = _fingerprint(
            key,
            customer=customer,
            amount=to_decimal(minor, scale),
            unit=unit,
            effective_at=effective,
            expires_at=expires,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scopes,
            description=description,
            metadata=meta,
            settle_debt=settles,
        )
        with self._transaction() as uow:
            replayed = self._replay(uow, "key", key, "grant", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id, block_id = _new_id("op"), _new_id("blk")
            command = Grant(
                op_id=op_id,
                block_id=block_id,
                unit=unit,
                amount=minor,
                effective_at=effective,
                expires_at=expires,
                priority=priority,
                category=category,
                cost_basis=basis,
                scope=scopes,
                description=description,
                metadata=meta,
                settle_debt=settles,
            )

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> GrantResult:
                return GrantResult(op_id=op, entries=own, block=Block.from_state(after.blocks[block_id], scale, t))

            return self._apply(
                uow,
                customer,
                when,
                lambda s, t: rules.grant(s, command, t),
                build,
                op_id,
                memo=("key", key, "grant", fingerprint),
            )

    @_dooms_batch
    def burn(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str = DEFAULT_UNIT,
        scope: str | None = None,
        overdraft: str = "reject",
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> BurnResult:
        """Use ``amount`` of the customer's credit, drawing blocks in burn order.

        ``overdraft``: ``"reject"`` raises :class:`InsufficientCredits` when there is not
        enough; ``"partial"`` burns what there is; ``"debt"`` records the rest as debt.
        """
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        minor = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        mode = parse_choice(overdraft, "overdraft", OVERDRAFT_MODES)
        description = parse_text(description)
        meta = parse_metadata(metadata)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        limit = None if self._debt_limit is None or mode != "debt" else whole_minor_units(self._debt_limit, scale)
        fingerprint = _fingerprint(
            key,
            customer=customer,
            amount=to_decimal(minor, scale),
            unit=unit,
            scope=scope,
            overdraft=mode,
            description=description,
            metadata=meta,
        )
        with self._transaction() as uow:
            replayed = self._replay(uow, "key", key, "burn", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id = _new_id("op")
            command = Burn(
                op_id=op_id,
                unit=unit,
                amount=minor,
                scope=scope,
                overdraft=mode,  # type: ignore[arg-type]
                debt_limit=limit,
                description=description,
                metadata=meta,
            )

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> BurnResult:
                burned = sum((e.amount for e in own if e.kind == "burn"), to_decimal(0, scale))
                debt = sum((e.amount for e in own if e.kind == "debt"), to_decimal(0, scale))
                return BurnResult(
                    op_id=op, entries=own, burned=burned, shortfall=to_decimal(minor, scale) - burned, debt=debt
                )

            return self._apply(
                uow,
                customer,
                when,
                lambda s, t: rules.burn(s, command, t, self._order, scale),
                build,
                op_id,
                memo=("key", key, "burn", fingerprint),
            )

    @_dooms_batch
    def hold(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        hold_id: str,
        unit: str = DEFAULT_UNIT,
        scope: str | None = None,
        expires_at: datetime | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> HoldResult:
        """Reserve ``amount`` of credit before work starts; capture or release it after.

        ``hold_id`` is the caller's id for the hold and its idempotency key.
        """
        customer = parse_id(customer, "customer")
        hold_id = parse_id(hold_id, "hold_id")
        unit, scale = self._unit(unit)
        minor = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        expires = parse_optional_time(expires_at, "expires_at")
        description = parse_text(description)
        meta = parse_metadata(metadata)
        when = parse_optional_time(at, "at")
        fingerprint = _fingerprint(
            hold_id,
            customer=customer,
            amount=to_decimal(minor, scale),
            unit=unit,
            scope=scope,
            expires_at=expires,
            description=description,
            metadata=meta,
        )
        with self._transaction() as uow:
            replayed = self._replay(uow, "hold", hold_id, "hold", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id = _new_id("op")
            command = PlaceHold(
                op_id=op_id,
                hold_id=hold_id,
                unit=unit,
                amount=minor,
                scope=scope,
                expires_at=expires,
                description=description,
                metadata=meta,
            )

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> HoldResult:
                return HoldResult(op_id=op, entries=own, hold=Hold.from_state(after.holds[hold_id], scale))

            return self._apply(
                uow,
                customer,
                when,
                lambda s, t: rules.hold(s, command, t, self._order, scale),
                build,
                op_id,
                memo=("hold", hold_id, "hold", fingerprint),
            )

    @_dooms_batch
    def capture(
        self, hold_id: str, amount: int | Decimal | str | None = None, *, at: datetime | None = None
    ) -> CaptureResult:
        """Consume ``amount`` of a hold (default: all of it) and release the rest."""
        hold_id = parse_id(hold_id, "hold_id")
        if amount is not None:  # type and sign now; the unit's precision once the hold is known
            check_amount(amount, allow_zero=True)
        when = parse_optional_time(at, "at")
        with self._transaction() as uow:
            found = _find_hold(uow, hold_id)
            scale = self._scale(found.unit, uow)
            minor = found.amount if amount is None else parse_amount(amount, scale, allow_zero=True)
            if minor > found.amount:  # a hold's amount never changes: this is an argument check
                raise ValidationError(
                    "amount",
                    f"cannot capture {to_decimal(minor, scale)}: hold {hold_id!r} holds "
                    f"{to_decimal(found.amount, scale)}",
                )
            fingerprint = _fingerprint(hold_id, amount=to_decimal(minor, scale))
            replayed = self._replay_end(uow, hold_id, "capture", fingerprint, found.status, found.unit)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id = _new_id("op")
            command = Capture(op_id=op_id, hold_id=hold_id, amount=minor)

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> CaptureResult:
                captured = sum((e.amount for e in own if e.kind == "capture"), to_decimal(0, scale))
                return CaptureResult(
                    op_id=op, entries=own, captured=captured, released=to_decimal(found.amount, scale) - captured
                )

            return self._apply(
                uow,
                found.customer,
                when,
                lambda s, t: rules.capture(_with_hold(s, found), command, t, self._order, scale),
                build,
                op_id,
                memo=("end", hold_id, "capture", fingerprint),
            )

    @_dooms_batch
    def release(self, hold_id: str, *, at: datetime | None = None) -> ReleaseResult:
        """Give all of a hold's credit back to the blocks it came from."""
        hold_id = parse_id(hold_id, "hold_id")
        when = parse_optional_time(at, "at")
        with self._transaction() as uow:
            found = _find_hold(uow, hold_id)
            scale = self._scale(found.unit, uow)
            fingerprint = _fingerprint(hold_id)
            replayed = self._replay_end(uow, hold_id, "release", fingerprint, found.status, found.unit)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id = _new_id("op")
            command = Release(op_id=op_id, hold_id=hold_id)

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> ReleaseResult:
                return ReleaseResult(op_id=op, entries=own, released=to_decimal(found.amount, scale))

            return self._apply(
                uow,
                found.customer,
                when,
                lambda s, t: rules.release(_with_hold(s, found), command, t),
                build,
                op_id,
                memo=("end", hold_id, "release", fingerprint),
            )

    @_dooms_batch
    def void(
        self,
        block_id: str,
        amount: int | Decimal | str | None = None,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> VoidResult:
        """Remove up to the block's unheld remaining (default: all of it), e.g. after a refund."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:  # type and sign now; the unit's precision once the block is known
            check_amount(amount)
        reason = parse_text(reason, "reason")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        with self._transaction() as uow:
            stored = _find_block(uow, block_id)
            scale = self._scale(stored.unit, uow)
            minor = None if amount is None else parse_amount(amount, scale)
            fingerprint = _fingerprint(key, block_id=block_id, amount=_shown(minor, scale), reason=reason)
            replayed = self._replay(uow, "key", key, "void", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id = _new_id("op")
            command = Void(op_id=op_id, block_id=block_id, amount=minor, reason=reason)

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> VoidResult:
                voided = sum((e.amount for e in own if e.kind == "void"), to_decimal(0, scale))
                return VoidResult(op_id=op, entries=own, voided=voided)

            return self._apply(
                uow,
                stored.customer,
                when,
                lambda s, t: rules.void(_with_block(s, stored), command, t, scale),
                build,
                op_id,
                memo=("key", key, "void", fingerprint),
            )

    @_dooms_batch
    def reverse(
        self,
        op_id: str,
        amount: int | Decimal | str | None = None,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ReverseResult:
        """Undo a burn or a capture, fully (default) or partly: credit goes back to the
        blocks it came from, latest drawn first, never beyond what the op took."""
        target = parse_id(op_id, "op_id")
        if amount is not None:  # type and sign now; the unit's precision once the op is known
            check_amount(amount)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        with self._transaction() as uow:
            target_entries = tuple(iterate_entries(uow, EntryQuery(op_id=target, limit=1000)))
            if not target_entries:
                raise NotFound(f"no op {target!r}")
            customer, unit = target_entries[0].customer, target_entries[0].unit
            scale = self._scale(unit, uow)
            minor = None if amount is None else parse_amount(amount, scale)
            fingerprint = _fingerprint(key, op_id=target, amount=_shown(minor, scale))
            replayed = self._replay(uow, "key", key, "reverse", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            # a capture of 0 wrote only releases: its hold tells it from a release
            ended = uow.find_hold(target_entries[0].hold_id or "")
            captured_nothing = (
                {e.kind for e in target_entries} <= {"release", "expire", "void"}
                and ended is not None
                and ended.settled_by == target
                and ended.status == "captured"
            )
            prior = tuple(iterate_entries(uow, EntryQuery(customer=customer, kinds=frozenset({"reverse"}), ref=target)))
            new_op = _new_id("op")
            command = Reverse(
                op_id=new_op,
                target=target,
                target_entries=target_entries,
                prior=prior,
                amount=minor,
                captured_nothing=captured_nothing,
            )

            def step(state: AccountState, t: datetime) -> rules.Transition:
                # the blocks credit may go back to, even those a load leaves out
                wanted = {e.block_id for e in target_entries if e.block_id is not None}
                wanted.update(block_id for block_id, _ in state.settlements.get(unit, ()))
                for block_id in sorted(wanted - set(state.blocks)):
                    state = _with_block(state, _find_block(uow, block_id))
                return rules.reverse(state, command, t, scale)

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> ReverseResult:
                undone = sum((e.amount for e in own if e.kind == "reverse"), to_decimal(0, scale))
                return ReverseResult(op_id=op, entries=own, reversed=undone)

            return self._apply(uow, customer, when, step, build, new_op, memo=("key", key, "reverse", fingerprint))

    @_dooms_batch
    def change_expiry(
        self,
        block_id: str,
        expires_at: datetime,
        *,
        amount: int | Decimal | str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ChangeExpiryResult:
        """Move ``amount`` (default: all the unheld remaining) into a new block that is the
        same but expires at ``expires_at``; the balance does not change."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:  # type and sign now; the unit's precision once the block is known
            check_amount(amount)
        expires = parse_time(expires_at, "expires_at")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        with self._transaction() as uow:
            stored = _find_block(uow, block_id)
            scale = self._scale(stored.unit, uow)
            minor = None if amount is None else parse_amount(amount, scale)
            fingerprint = _fingerprint(key, block_id=block_id, expires_at=expires, amount=_shown(minor, scale))
            replayed = self._replay(uow, "key", key, "change_expiry", fingerprint)
            if replayed is not None:
                return replayed  # type: ignore[return-value]
            op_id, new_id = _new_id("op"), _new_id("blk")
            command = ChangeExpiry(
                op_id=op_id, block_id=block_id, new_block_id=new_id, expires_at=expires, amount=minor
            )

            def build(op: str, after: AccountState, own: tuple[Entry, ...], t: datetime) -> ChangeExpiryResult:
                return ChangeExpiryResult(op_id=op, entries=own, block=Block.from_state(after.blocks[new_id], scale, t))

            return self._apply(
                uow,
                stored.customer,
                when,
                lambda s, t: rules.change_expiry(_with_block(s, stored), command, t, scale),
                build,
                op_id,
                memo=("key", key, "change_expiry", fingerprint),
            )

    @_dooms_batch
    def expire_due(self, *, at: datetime | None = None) -> list[Entry]:
        """Record every expiry, hold timeout and debt settlement that fell due up to ``at``
        (default: now), for all customers; returns the entries written.

        Writes do this lazily for their own customer; a sweep keeps the entries current for
        reports. One customer's sweep commits at a time.
        """
        when = parse_optional_time(at, "at")
        self._check_future(when)
        with self._reader() as reader:
            customers = reader.customers()
        written: list[Entry] = []
        for customer in customers:
            with self._transaction() as uow:
                before = uow.load_account(customer)
                horizon = when if when is not None else self._now()
                if before.last_at is not None and horizon < before.last_at:
                    continue  # its history is ahead of the sweep: what fell due is recorded
                due = rules.next_due(before)
                if due is None or due > horizon:
                    continue
                after, entries = rules.advance(before, horizon)
                saved = uow.save(before, after, entries)
                written.extend(Entry.from_state(e, self._scale(e.unit, uow)) for e in saved)
        return written

    def _replay_end(
        self,
        uow: UnitOfWork,
        hold_id: str,
        kind: str,
        fingerprint: tuple[tuple[str, str], ...],
        status: str,
        unit: str,
    ) -> Result | None:
        """A capture or release repeated as it was replays; anything else on an ended hold
        is refused."""
        record = uow.find_operation("end", hold_id)
        if record is None:
            return None
        if record.kind != kind:
            raise HoldNotActive(hold_id, status, f"it was {status} earlier; a {kind} cannot follow")
        if record.fingerprint != fingerprint:
            captured = getattr(record.result, "captured", None)
            raise HoldNotActive(
                hold_id,
                status,
                f"it was captured with {captured} {unit}, a capture of another amount cannot follow",
            )
        return attrs.evolve(record.result, replayed=True)

    # -- reads ---------------------------------------------------------------------------

    def _read_time(self, at: datetime | None, state: AccountState) -> datetime:
        if at is not None:
            return parse_time(at, "at")
        return self._write_time(None, state)

    def _state_at(
        self, reader: Reader, customer: str, at: datetime | None, *, every_block: bool = False
    ) -> tuple[AccountState, datetime]:
        """The customer's state as it was, is or will be at ``at``.

        A past state is replayed from the nearest snapshot when the repository keeps them; it
        then holds the blocks that had credit left at the snapshot or that entries since then
        touched. ``every_block`` replays the whole history instead, for a read that lists
        used-up blocks too.
        """
        state = reader.load_account(customer)
        when = self._read_time(at, state)
        if state.last_at is not None and when < state.last_at:
            past_history = getattr(reader, "past_history", None)
            if past_history is not None and not every_block:
                past: PastHistory = past_history(customer, when)
                state = rules.rebuild(customer, past.blocks, past.holds, past.entries, until=when, start=past.start)
            else:
                blocks, holds, entries = reader.history(customer)
                state = rules.rebuild(customer, blocks, holds, entries, until=when)
        return rules.view(state, when), when

    @_exact
    def balance(
        self, customer: str, *, unit: str = DEFAULT_UNIT, at: datetime | None = None, scope: str | None = None
    ) -> Balance:
        """The customer's balance in ``unit`` at ``at`` (default: now).

        With ``scope``, ``available`` and ``held`` count only credit that scope can use.
        """
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        scope = parse_optional_id(scope, "scope")
        with self._reader() as reader:
            state, when = self._state_at(reader, customer, at)
        return Balance.from_tally(rules.tally(state, unit, when, scope), unit, scale, when)

    @_exact
    def balances(self, customer: str, *, at: datetime | None = None) -> dict[str, Balance]:
        """One balance per unit in which the customer has entries at or before ``at``."""
        customer = parse_id(customer, "customer")
        with self._reader() as reader:
            state, when = self._state_at(reader, customer, at)
            return {
                unit: Balance.from_tally(rules.tally(state, unit, when), unit, self._scale(unit, reader), when)
                for unit in sorted(state.totals)
            }

    @_exact
    def blocks(
        self, customer: str, *, unit: str = DEFAULT_UNIT, at: datetime | None = None, include_inactive: bool = False
    ) -> list[Block]:
        """The customer's blocks in burn order: the active ones, or all with
        ``include_inactive``."""
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        include_inactive = parse_bool(include_inactive, "include_inactive")
        with self._reader() as reader:
            current = reader.load_account(customer)
            state, when = self._state_at(reader, customer, at, every_block=include_inactive)
            found = dict(state.blocks)
            if include_inactive and (current.last_at is None or when >= current.last_at):
                # blocks with no credit left are not part of a loaded state: add their stored
                # form, which is final (a past state is rebuilt with every block it had)
                for block in reader.history(customer)[0]:
                    found.setdefault(block.id, block)
        chosen = [
            b for b in found.values()
            if b.unit == unit and (include_inactive or b.status(when) == "active")
        ]  # fmt: skip
        return [Block.from_state(b, scale, when) for b in self._order.sort(chosen)]

    @_exact
    def get_block(self, block_id: str, *, at: datetime | None = None) -> Block:
        """One block as it stands at ``at``. Raises :class:`NotFound` if unknown (or not yet
        granted at ``at``)."""
        block_id = parse_id(block_id, "block_id")
        with self._reader() as reader:
            stored = reader.find_block(block_id)
            if stored is None:
                raise NotFound(f"no block {block_id!r}")
            state, when = self._state_at(reader, stored.customer, at)
            if block_id not in state.blocks:
                # used up before a snapshot: only the whole history says how it stood then
                state, when = self._state_at(reader, stored.customer, at, every_block=True)
            scale = self._scale(stored.unit, reader)
        block = state.blocks.get(block_id)
        if block is None:
            if stored.created_at > when:
                raise NotFound(
                    f"block {block_id!r} was granted at {stored.created_at.isoformat()}, after {when.isoformat()}"
                )
            block = stored
        return Block.from_state(block, scale, when)

    @_exact
    def get_hold(self, hold_id: str, *, at: datetime | None = None) -> Hold:
        """One hold as it stands at ``at``. Raises :class:`NotFound` if unknown."""
        hold_id = parse_id(hold_id, "hold_id")
        with self._reader() as reader:
            stored = _find_hold(reader, hold_id)
            state, when = self._state_at(reader, stored.customer, at)
            scale = self._scale(stored.unit, reader)
        if stored.created_at > when:
            raise NotFound(f"hold {hold_id!r} was placed at {stored.created_at.isoformat()}, after {when.isoformat()}")
        return Hold.from_state(state.holds.get(hold_id, stored), scale, when)

    @_exact
    def holds(self, customer: str, *, status: str | None = "active", at: datetime | None = None) -> list[Hold]:
        """The customer's holds with ``status`` at ``at`` (``None``: every status), oldest first."""
        customer = parse_id(customer, "customer")
        if status is not None:
            status = parse_choice(status, "status", HOLD_STATUSES)
        with self._reader() as reader:
            state, when = self._state_at(reader, customer, at)
            stored = reader.history(customer)[1]
            found = [state.holds.get(h.id, h) for h in stored if h.created_at <= when]
            views = [Hold.from_state(h, self._scale(h.unit, reader), when) for h in found]
        return [h for h in views if status is None or h.status == status]

    @_exact
    def preview_burn(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str = DEFAULT_UNIT,
        scope: str | None = None,
        at: datetime | None = None,
    ) -> BurnPreview:
        """The blocks a burn would draw and its shortfall, without writing anything."""
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        minor = parse_amount(amount, scale)
        scope = parse_optional_id(scope, "scope")
        with self._reader() as reader:
            state, when = self._state_at(reader, customer, at)
        allocations, shortfall = rules.preview_burn(state, unit, minor, when, scope, self._order)
        return BurnPreview(
            allocations=rules.decimal_allocations(allocations, scale), shortfall=to_decimal(shortfall, scale)
        )

    @_exact
    def timeline(
        self,
        customer: str,
        *,
        unit: str = DEFAULT_UNIT,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[BalancePoint]:
        """The balance after each moment it changed, oldest first: the times of entries, of
        expiries and hold timeouts due but not yet recorded, and of upcoming blocks becoming
        active. ``since`` is inclusive, ``until`` exclusive (default: up to now)."""
        customer = parse_id(customer, "customer")
        unit, scale = self._unit(unit)
        start = parse_optional_time(since, "since")
        end = parse_optional_time(until, "until")
        with self._reader() as reader:
            state = reader.load_account(customer)
            blocks, _holds, entries = reader.history(customer)
        horizon = end if end is not None else self._read_time(None, state)
        if state.last_at is None or horizon >= state.last_at:
            # what fell due but is not recorded yet counts as if it were
            _, due = rules.advance(state, horizon)
            last = max((e.seq for e in entries), default=0)
            entries = [*entries, *(attrs.evolve(e, seq=last + i) for i, e in enumerate(due, start=1))]
            blocks = [*blocks, *(b for b in state.blocks.values() if b.id not in {x.id for x in blocks})]
        points = []
        for when, figures in rules.timeline(customer, blocks, entries, unit, horizon):
            if (start is not None and when < start) or (end is not None and when >= end):
                continue
            points.append(
                BalancePoint(
                    at=when,
                    available=to_decimal(figures.available, scale),
                    held=to_decimal(figures.held, scale),
                    used=to_decimal(figures.used, scale),
                    expired=to_decimal(figures.expired, scale),
                    debt=to_decimal(figures.debt, scale),
                )
            )
        return points

    @_exact
    def verify(self) -> VerifyReport:
        """Recompute every block, hold and balance from the entries alone and compare with
        what is stored, and check every remembered result against the entries of its
        operation. ``report.ok`` is True when they all agree; ``str(report)`` lists each
        problem with the customer, the block or unit, and the two values.

        It is meant for a damaged store, so it never raises on one: rows it cannot read
        are reported as problems too."""
        problems: list[rules.Problem] = []
        count = 0
        with self._reader() as reader:
            # a customer whose account row is gone still has entries
            customers = list(reader.customers())
            listed = set(customers)
            for entry in iterate_entries(reader, EntryQuery(limit=1000)):
                if entry.customer not in listed:
                    listed.add(entry.customer)
                    customers.append(entry.customer)
            for customer in customers:
                try:
                    blocks, holds, entries = reader.history(customer)
                    count += len(entries)
                    problems.extend(rules.audit(reader.load_account(customer), blocks, holds, entries))
                except CreditError as error:
                    problems.append(_unreadable(customer, "stored rows", error))
            problems.extend(self._audit_results(reader))
        return VerifyReport(customers=len(customers), entries=count, problems=problems)

    def _audit_results(self, reader: Reader) -> list[rules.Problem]:
        """Each remembered result (what a replay returns) against the stored entries of its
        operation: the same entries, and amounts that are their sums."""
        problems: list[rules.Problem] = []
        try:
            records = reader.operations()
        except CreditError as error:
            return [_unreadable("*", "stored operation results", error)]
        for record in records:
            subject = f"result of {record.kind} {record.key!r}"
            try:
                stored = list(iterate_entries(reader, EntryQuery(op_id=record.op_id, limit=1000)))
                shown = tuple(Entry.from_state(e, self._scale(e.unit, reader)) for e in stored)
            except CreditError as error:
                problems.append(_unreadable(record.customer, subject, error))
                continue
            result = record.result
            if result.op_id != record.op_id or result.entries != shown:
                problems.append(
                    rules.Problem(
                        customer=record.customer,
                        subject=subject,
                        field="entries",
                        stored=f"{len(result.entries)} entries of op {result.op_id}",
                        recomputed=f"{len(shown)} entries of op {record.op_id}",
                        text=f"customer {record.customer!r}, {subject}: the remembered result does not match the "
                        f"stored entries of op {record.op_id} (a replay would return it)",
                    )
                )
                continue
            for name, kind in _RESULT_SUMS.get(type(result).__name__, ()):
                total = sum((e.amount for e in shown if e.kind == kind), Decimal(0))
                figure = getattr(result, name)
                if figure != total:
                    problems.append(
                        rules.Problem(
                            customer=record.customer,
                            subject=subject,
                            field=name,
                            stored=str(figure),
                            recomputed=str(total),
                        )
                    )
        return problems

    @_exact
    def entries(
        self,
        customer: str | None = None,
        *,
        unit: str | None = None,
        kinds: Iterable[str] | None = None,
        block_id: str | None = None,
        op_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> EntryPage:
        """Entries oldest first, filtered; ``since`` is inclusive, ``until`` exclusive.

        Pass ``page.next_cursor`` as ``after`` for the next page; it is ``None`` once nothing
        is left.
        """
        query = EntryQuery(
            customer=parse_optional_id(customer, "customer"),
            unit=parse_optional_id(unit, "unit"),
            kinds=_parse_kinds(kinds),
            block_id=parse_optional_id(block_id, "block_id"),
            op_id=parse_optional_id(op_id, "op_id"),
            since=parse_optional_time(since, "since"),
            until=parse_optional_time(until, "until"),
            after_seq=_decode_cursor(after),
            limit=parse_limit(limit) + 1,
        )
        with self._reader() as reader:
            found = reader.list_entries(query)
            items = [Entry.from_state(e, self._scale(e.unit, reader)) for e in found[: query.limit - 1]]
        more = len(found) == query.limit
        return EntryPage(items=items, next_cursor=_encode_cursor(items[-1].seq) if more and items else None)


# -- helpers ---------------------------------------------------------------------------------

#: A result's figures that are the sum of its op's entries of one kind (how each write
#: builds them), checked by verify().
_RESULT_SUMS: dict[str, tuple[tuple[str, str], ...]] = {
    "BurnResult": (("burned", "burn"), ("debt", "debt")),
    "CaptureResult": (("captured", "capture"),),
    "VoidResult": (("voided", "void"),),
    "ReverseResult": (("reversed", "reverse"),),
}


def _unreadable(customer: str, subject: str, error: CreditError) -> rules.Problem:
    return rules.Problem(
        customer=customer,
        subject=subject,
        field="rows",
        stored="unreadable",
        recomputed="-",
        text=f"customer {customer!r}, {subject}: cannot be read ({error})",
    )



class _Batch:
    """An open ``atomic()`` block: its unit of work, the first error of a write inside it,
    the units it declared (known to the ledger only once it commits), and the frame of the
    ``with`` statement that opened it, which tells the code inside it from other code of
    the same thread."""

    __slots__ = ("failure", "frame", "scales", "uow")

    def __init__(self, uow: UnitOfWork, frame: Any) -> None:
        self.uow = uow
        self.frame = frame
        self.failure: BaseException | None = None
        self.scales: dict[str, int] = {}

    def includes_caller(self) -> bool:
        """Whether the code running now is inside the ``with`` block (its frame is on the
        stack)."""
        frame: Any = sys._getframe(1)
        target = self.frame
        while frame is not None:
            if frame is target:
                return True
            frame = frame.f_back
        return False

    def where(self) -> str:
        code = self.frame.f_code
        return f"{code.co_filename}:{self.frame.f_lineno} ({code.co_name})"


# frames of these files stand between atomic() and the code that opened it (contextlib's
# ExitStack, for one), so the batch belongs to the first frame outside them
_PLUMBING = frozenset({contextlib.__file__, __file__})


class _Atomic:
    """What :meth:`Ledger.atomic` returns."""

    __slots__ = ("_batch", "_inner", "_ledger", "_thread")

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._batch: _Batch | None = None
        self._inner: AbstractContextManager[UnitOfWork] | None = None
        self._thread = 0

    def __enter__(self) -> None:
        ledger = self._ledger
        if ledger._batch() is not None:
            return None  # nested: joins the batch the caller is in
        thread = threading.get_ident()
        open_batch = ledger._batches.get(thread)
        if open_batch is not None:
            raise _busy_thread(open_batch)
        frame: Any = sys._getframe(1)
        while frame.f_back is not None and frame.f_code.co_filename in _PLUMBING:
            frame = frame.f_back
        inner = ledger._repository.transaction()
        uow = inner.__enter__()
        self._inner = inner
        self._thread = thread
        self._batch = ledger._batches[thread] = _Batch(uow, frame)
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool | None:
        batch, inner = self._batch, self._inner
        if batch is None or inner is None:
            return None  # a nested block: the outer one decides
        ledger = self._ledger
        self._batch = self._inner = None
        # by the thread that opened it: a generator holding a batch may be closed by another
        if ledger._batches.get(self._thread) is batch:
            del ledger._batches[self._thread]
        failure = batch.failure if error is None else error
        batch.frame = None
        if failure is None:
            inner.__exit__(None, None, None)  # COMMIT; raises (and keeps nothing) if it fails
            ledger._scales.update(batch.scales)  # only now are they the file's
            return None
        inner.__exit__(type(failure), failure, failure.__traceback__)
        if error is None:
            raise failure  # a write failed and the code inside caught it: the batch is void
        return None


def _busy_thread(batch: _Batch) -> StorageError:
    return StorageError(
        "this thread has a ledger batch open elsewhere (another asyncio task, a callback, or a suspended "
        f"generator; opened at {batch.where()}): a write here would have to wait for it, and it cannot "
        "finish while this thread waits. Write inside that `with ledger.atomic():` block, or after it ends"
    )


class _WriteScope:
    """What ``Ledger._transaction()`` returns (a class rather than a generator: every write
    enters one): the caller's batch, or a transaction of its own."""

    __slots__ = ("_inner", "_ledger")

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._inner: AbstractContextManager[UnitOfWork] | None = None

    def __enter__(self) -> UnitOfWork:
        ledger = self._ledger
        open_batch = ledger._batches.get(threading.get_ident())
        if open_batch is not None:
            if open_batch.includes_caller():
                return open_batch.uow
            raise _busy_thread(open_batch)
        self._inner = ledger._repository.transaction()
        return self._inner.__enter__()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool | None:
        if self._inner is None:
            return None  # the batch's: _dooms_batch records the error
        return self._inner.__exit__(kind, error, trace)


_TAIL_BITS = 80
_TAIL_END = 1 << _TAIL_BITS


class _IdClock:
    """The state behind :func:`_new_id`: the last millisecond and tail this process used."""

    __slots__ = ("lock", "ms", "tail")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms = -1
        self.tail = 0

    def reseed(self) -> None:
        # a forked child must not continue its parent's sequence (the two would hand out the
        # same ids): forget it, so the child's next id draws fresh random bits; the lock is
        # new too, in case another thread of the parent held it at the fork
        self.lock = threading.Lock()
        self.ms = -1
        self.tail = 0


_ids = _IdClock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reseed)


def _new_id(prefix: str) -> str:
    """A new block or operation id: ``<prefix>_`` and 32 lowercase hex digits (128 bits).

    The ids are time-ordered, in the manner of ULID / UUIDv7 (monotonic): the first 48 bits
    are the wall-clock millisecond (``time.time_ns()``, not the ledger's injectable clock),
    the last 80 bits start, at each new millisecond, from fresh random bits
    (``os.urandom``) and count up by one for each further id in the same millisecond. So
    the ids one process makes are strictly increasing (also if the wall clock steps back:
    the last millisecond used is kept until the clock passes it again), and ids of
    different processes differ by at least 80 random bits drawn per millisecond; a forked
    child draws its own (``os.register_at_fork``). New keys thus land at the right edge of
    the SQLite indexes on block and operation ids instead of at random pages.

    Nothing may read meaning into an id beyond its uniqueness: the timestamp orders ids,
    it is not the time of the operation (that is the ledger's clock).
    """
    now = time.time_ns() // 1_000_000
    ids = _ids
    with ids.lock:
        if now > ids.ms:
            ids.ms = now
            ids.tail = tail = int.from_bytes(os.urandom(10), "big")
        else:
            tail = ids.tail + 1
            if tail >= _TAIL_END:  # 2**80 ids in one millisecond: borrow the next one
                ids.ms += 1
                tail = int.from_bytes(os.urandom(10), "big")
            ids.tail = tail
        ms = ids.ms
    return f"{prefix}_{ms << _TAIL_BITS | tail:032x}"


def _shown(minor: int | None, scale: int) -> Decimal | None:
    """An optional amount as the caller wrote it, for fingerprints and messages."""
    return None if minor is None else to_decimal(minor, scale)


def _fingerprint(key: str | None, /, **fields: Any) -> tuple[tuple[str, str], ...]:
    """What a keyed call is compared by when its key comes again. A call without a key is never
    compared, so it skips the text form (empty)."""
    if key is None:
        return ()
    return tuple((name, canonical(value)) for name, value in fields.items())


def _find_hold(reader: Reader, hold_id: str) -> HoldState:
    found = reader.find_hold(hold_id)
    if found is None:
        raise NotFound(f"no hold {hold_id!r}")
    return found


def _find_block(reader: Reader, block_id: str) -> BlockState:
    found = reader.find_block(block_id)
    if found is None:
        raise NotFound(f"no block {block_id!r}")
    return found


def _with_block(state: AccountState, block: BlockState) -> AccountState:
    """The state with a block that a load leaves out (it has no credit left) put back."""
    if block.id in state.blocks:
        return state
    return attrs.evolve(state, blocks={**state.blocks, block.id: block})


def _with_hold(state: AccountState, found: HoldState) -> AccountState:
    """The state with a hold that a load leaves out (it has ended) put back."""
    if found.id in state.holds:
        return state
    return attrs.evolve(state, holds={**state.holds, found.id: found})


def _parse_kinds(kinds: object) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    if not isinstance(kinds, Iterable):
        raise ValidationError("kinds", f"expected a collection of entry kinds, got {type(kinds).__name__}")
    names = list(kinds)
    if not all(isinstance(k, str) for k in names):
        raise ValidationError("kinds", "every kind must be a str such as 'burn'")
    chosen = frozenset(names)
    unknown = sorted(k for k in chosen if k not in ENTRY_KINDS)
    if unknown:
        raise ValidationError(
            "kinds", f"unknown kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(ENTRY_KINDS)}"
        )
    return chosen


_LAST_SEQ = 2**63 - 1


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not isinstance(cursor, str):
        raise ValidationError("after", f"expected a cursor string from next_cursor, got {type(cursor).__name__}")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        digits = text[len(_CURSOR_PREFIX) :]
        if not digits.isdigit() or len(digits) > 40:
            raise ValueError(text)
        # past any seq a ledger can hand out: nothing comes after it
        seq = min(int(digits), _LAST_SEQ)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("after", f"{cursor!r} is not a cursor returned by entries()") from None
    return seq

"""The Ledger: the public facade. Its methods hold the signatures and the docstrings; each
delegates to the service layer (:mod:`creditcore.service`), which parses, runs the one
write path over the repository and the pure rules (:mod:`creditcore.rules`), and reads."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Self

from creditcore.adapters.memory import MemoryRepository
from creditcore.errors import StorageError, ValidationError
from creditcore.model import (
    Alert,
    Balance,
    BalancePoint,
    Block,
    BurnPreview,
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    Customer,
    CustomerPage,
    Entry,
    EntryPage,
    EventPage,
    GrantResult,
    Hold,
    HoldResult,
    RefundResult,
    ReleaseResult,
    ReverseResult,
    Schedule,
    ScheduleResult,
    TopUp,
    VerifyReport,
    VoidResult,
)
from creditcore.order import BurnOrder
from creditcore.repository import Repository
from creditcore.service import customers as profiles
from creditcore.service import reads, settings, writes
from creditcore.service.context import DEFAULT_FUTURE_TOLERANCE, Context, exact, write
from creditcore.service.customers import KEEP
from creditcore.values import DEFAULT_UNIT

_write = write
_read = exact


class Ledger:
    """A prepaid-credit ledger over a repository.

    >>> ledger = Ledger.memory()
    >>> _ = ledger.grant("ada", 100, expires_at=None)
    >>> ledger.burn("ada", 30).burned
    Decimal('30')
    >>> ledger.balance("ada").available
    Decimal('70')

    The options (keyword-only, the same for :meth:`memory`, :meth:`sqlite` and
    :meth:`postgres`): ``clock`` returns the aware datetime that dates writes without an
    ``at`` (default: the system's UTC clock); ``units`` declares units with their scales;
    ``burn_order`` is the order usage burns blocks in (default ``BurnOrder.default()``);
    ``settle_debt`` whether an unscoped grant pays the customer's debt off by default;
    ``debt_limit`` caps a customer's debt per unit (``None``: no limit); ``future_tolerance``
    is how far past the clock a write's explicit ``at`` may lie (``None``: no limit).

    A ledger is a context manager that closes it on the way out, error or not:

    >>> with Ledger.sqlite(":memory:") as ledger:
    ...     ledger.grant("ada", 5).block.remaining
    Decimal('5')
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
        self._ctx = Context(
            repository,
            clock=clock,
            units=units,
            burn_order=burn_order,
            settle_debt=settle_debt,
            debt_limit=debt_limit,
            future_tolerance=future_tolerance,
        )
        for name, scale in (units or {}).items():
            self.define_unit(name, scale)

    # The constructors below repeat __init__'s options, spelled out so that a misspelt one
    # fails type checking and raises TypeError before any store is opened;
    # tests/unit/test_entry_points.py holds the four signatures together.

    @classmethod
    def memory(
        cls,
        *,
        clock: Callable[[], datetime] | None = None,
        units: Mapping[str, int] | None = None,
        burn_order: BurnOrder | None = None,
        settle_debt: bool = True,
        debt_limit: int | Decimal | str | None = None,
        future_tolerance: timedelta | None = DEFAULT_FUTURE_TOLERANCE,
    ) -> Ledger:
        """A ledger on a new :class:`~creditcore.adapters.memory.MemoryRepository`, with the
        options of :class:`Ledger`."""
        return cls(
            MemoryRepository(),
            clock=clock,
            units=units,
            burn_order=burn_order,
            settle_debt=settle_debt,
            debt_limit=debt_limit,
            future_tolerance=future_tolerance,
        )

    @classmethod
    def sqlite(
        cls,
        path: str | os.PathLike[str],
        *,
        durability: str = "full",
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        units: Mapping[str, int] | None = None,
        burn_order: BurnOrder | None = None,
        settle_debt: bool = True,
        debt_limit: int | Decimal | str | None = None,
        future_tolerance: timedelta | None = DEFAULT_FUTURE_TOLERANCE,
    ) -> Ledger:
        """A ledger on a :class:`~creditcore.adapters.sqlite.SQLiteRepository` at ``path`` (created
        if missing; ``":memory:"`` for a private in-memory database).

        ``durability="full"`` (default) makes every acknowledged write survive a power loss;
        ``"normal"`` is faster but may lose the last writes then. ``busy_timeout`` is how
        many seconds a write waits for another connection's (SQLite's ``busy_timeout``).
        The other options are :class:`Ledger`'s. Call :meth:`close` when done, or use the
        ledger as a context manager.

        >>> ledger = Ledger.sqlite(":memory:")
        >>> ledger.grant("ada", 5).block.remaining
        Decimal('5')
        >>> ledger.close()
        """
        from creditcore.adapters.sqlite import SQLiteRepository

        repository = SQLiteRepository(path, durability=durability, busy_timeout=busy_timeout)
        try:
            return cls(
                repository,
                clock=clock,
                units=units,
                burn_order=burn_order,
                settle_debt=settle_debt,
                debt_limit=debt_limit,
                future_tolerance=future_tolerance,
            )
        except BaseException:
            repository.close()  # refused options leave no connection open
            raise

    @classmethod
    def postgres(
        cls,
        dsn_or_pool: Any,
        *,
        migrate: bool = True,
        max_size: int = 10,
        lock_timeout: float = 5.0,
        idle_timeout: float = 30.0,
        prepare_threshold: int | None = 5,
        partitions: int | None = None,
        clock: Callable[[], datetime] | Literal["database"] | None = None,
        units: Mapping[str, int] | None = None,
        burn_order: BurnOrder | None = None,
        settle_debt: bool = True,
        debt_limit: int | Decimal | str | None = None,
        future_tolerance: timedelta | None = DEFAULT_FUTURE_TOLERANCE,
    ) -> Ledger:
        """A ledger on a :class:`~creditcore.adapters.postgres.PostgresRepository`
        (``pip install "creditcore[postgres]"``): ``dsn_or_pool`` is a connection string
        (the ledger opens a pool of up to ``max_size`` connections) or a
        ``psycopg_pool.ConnectionPool`` of the app's.

        ``migrate`` brings an older schema forward on open (one process does it under a
        lock); ``lock_timeout`` is how many seconds a write waits for a customer another
        transaction holds, ``idle_timeout`` how long PostgreSQL lets a transaction sit idle
        before it ends it; ``prepare_threshold=None`` behind pgbouncer older than 1.21.
        ``partitions`` hash-partitions the tables by customer when the schema is created
        (see ``docs/scaling.md``). ``clock="database"`` dates writes by the database
        server's clock, read once the write holds its customer, so that app servers with
        skewed clocks cannot reorder a customer's history (a function, as for any ledger,
        or ``None`` for this server's clock). The other options are :class:`Ledger`'s. Call
        :meth:`close` when done, or use the ledger as a context manager."""
        try:
            from creditcore.adapters.postgres import PostgresRepository
        except ImportError as error:
            raise StorageError(
                f'PostgreSQL needs psycopg and psycopg_pool ({error}): pip install "creditcore[postgres]"'
            ) from error

        repository = PostgresRepository(
            dsn_or_pool,
            migrate=migrate,
            max_size=max_size,
            lock_timeout=lock_timeout,
            idle_timeout=idle_timeout,
            prepare_threshold=prepare_threshold,
            partitions=partitions,
        )
        try:
            if clock == "database":
                clock = repository.database_time
            elif isinstance(clock, str):
                raise ValidationError("clock", f"expected 'database', a function or None, got {clock!r}")
            return cls(
                repository,
                clock=clock,
                units=units,
                burn_order=burn_order,
                settle_debt=settle_debt,
                debt_limit=debt_limit,
                future_tolerance=future_tolerance,
            )
        except BaseException:
            repository.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def repository(self) -> Repository:
        """The storage the ledger reads and writes through (memory, SQLite, PostgreSQL or yours)."""
        return self._ctx.repository

    @property
    def burn_order(self) -> BurnOrder:
        """The order burns, holds and captures draw a customer's blocks in."""
        return self._ctx.order

    @property
    def future_tolerance(self) -> timedelta | None:
        """How far past the clock an explicit ``at`` of a write may lie (``None``: no limit)."""
        return self._ctx.future_tolerance

    def close(self) -> None:
        """Close the repository (a SQLite ledger's connections)."""
        self._ctx.repository.close()

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
        return self._ctx.atomic()

    # -- writes and reads ------------------------------------------------------------------

    @_write
    def define_unit(self, name: str, scale: int) -> None:
        """Declare a unit with ``scale`` decimal places (``"credits"`` exists with 0).

        Declaring a unit again with the same scale does nothing; with another, raises.
        Inside ``atomic()`` the unit is declared only if the batch commits.
        """
        return writes.define_unit(self._ctx, name, scale)

    @_write
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
        scope: str | Iterable[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        settle_debt: bool | None = None,
        single_use: bool = False,
        at: datetime | None = None,
    ) -> GrantResult:
        """Grant ``amount`` of credit to ``customer`` as one new block (``result.block``).

        ``scope``: ``None`` (any burn), a scope name or a set of them: the block serves
        burns whose scope set intersects it. ``single_use``: the first burn or capture that
        takes from the block voids the rest of its unheld credit."""
        return writes.grant(
            self._ctx,
            customer,
            amount,
            unit=unit,
            effective_at=effective_at,
            expires_at=expires_at,
            priority=priority,
            category=category,
            cost_basis=cost_basis,
            scope=scope,
            description=description,
            metadata=metadata,
            idempotency_key=idempotency_key,
            settle_debt=settle_debt,
            single_use=single_use,
            at=at,
        )

    @_write
    def burn(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str = DEFAULT_UNIT,
        scope: str | Iterable[str] | None = None,
        categories: str | Iterable[str] | None = None,
        overdraft: str = "reject",
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> BurnResult:
        """Use ``amount`` of the customer's credit, drawing blocks in burn order.

        ``scope``: a scope name or a set of them; blocks that are unscoped or whose scopes
        intersect it are eligible. ``categories``: ``"promotional"``, ``"paid"`` or both;
        only blocks of those are eligible (default: every category).
        ``overdraft``: ``"reject"`` raises :class:`InsufficientCredits` when there is not
        enough; ``"partial"`` burns what there is; ``"debt"`` records the rest as debt.
        """
        return writes.burn(
            self._ctx,
            customer,
            amount,
            unit=unit,
            scope=scope,
            categories=categories,
            overdraft=overdraft,
            description=description,
            metadata=metadata,
            idempotency_key=idempotency_key,
            at=at,
        )

    @_write
    def hold(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        hold_id: str,
        unit: str = DEFAULT_UNIT,
        scope: str | Iterable[str] | None = None,
        categories: str | Iterable[str] | None = None,
        expires_at: datetime | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> HoldResult:
        """Reserve ``amount`` of credit before work starts; capture or release it after.

        ``hold_id`` is the caller's id for the hold and its idempotency key.
        """
        return writes.hold(
            self._ctx,
            customer,
            amount,
            hold_id=hold_id,
            unit=unit,
            scope=scope,
            categories=categories,
            expires_at=expires_at,
            description=description,
            metadata=metadata,
            at=at,
        )

    @_write
    def capture(
        self, hold_id: str, amount: int | Decimal | str | None = None, *, at: datetime | None = None
    ) -> CaptureResult:
        """Consume ``amount`` of a hold (default: all of it) and release the rest."""
        return writes.capture(self._ctx, hold_id, amount, at=at)

    @_write
    def release(self, hold_id: str, *, at: datetime | None = None) -> ReleaseResult:
        """Give all of a hold's credit back to the blocks it came from."""
        return writes.release(self._ctx, hold_id, at=at)

    @_write
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
        return writes.void(self._ctx, block_id, amount, reason=reason, idempotency_key=idempotency_key, at=at)

    @_write
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
        return writes.reverse(self._ctx, op_id, amount, idempotency_key=idempotency_key, at=at)

    @_write
    def refund(
        self,
        op_id: str,
        amount: int | Decimal | str | None = None,
        *,
        expires_at: datetime | None = None,
        category: str = "paid",
        priority: int = 50,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> RefundResult:
        """Fresh credit for an earlier burn or capture (default: all it took less its
        reversals and refunds): one new unscoped block, ``block.refund_of == op_id``.

        Unlike :meth:`reverse`, nothing goes back to the blocks the op drew, so credit of
        blocks that have since expired or been voided is given back too. It pays debt off
        first, as a grant does. Without a key, two identical calls are two refunds."""
        return writes.refund(
            self._ctx,
            op_id,
            amount,
            expires_at=expires_at,
            category=category,
            priority=priority,
            description=description,
            metadata=metadata,
            idempotency_key=idempotency_key,
            at=at,
        )

    @_write
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
        return writes.change_expiry(
            self._ctx, block_id, expires_at, amount=amount, idempotency_key=idempotency_key, at=at
        )

    @_write
    def set_customer(
        self,
        customer: str,
        *,
        name: str | None = KEEP,
        email: str | None = KEEP,
        external_id: str | None = KEEP,
        metadata: Mapping[str, str] | None = KEEP,
        timezone: str | None = KEEP,
        at: datetime | None = None,
    ) -> Customer:
        """Set the customer's profile: a field left out is kept, ``None`` clears it
        (``metadata`` to ``{}``). The first call creates the customer.

        Idempotent by value: a call that changes nothing writes nothing and returns the
        profile. A profile writes no entry and is not a write to the customer's account; its
        history is its own (``at`` may not precede its last change). ``external_id`` is
        unique per ledger: one another customer holds raises :class:`Conflict`."""
        fields = {"name": name, "email": email, "external_id": external_id, "metadata": metadata, "timezone": timezone}
        return profiles.set_customer(self._ctx, customer, fields, at)

    @_read
    def get_customer(
        self, customer: str | None = None, *, external_id: str | None = None, at: datetime | None = None
    ) -> Customer:
        """A customer's profile at ``at``, by its id or its ``external_id`` (exactly one).
        The one read that refuses an unknown customer: :class:`NotFound` if at ``at`` it had
        neither a profile nor an entry (one with entries and no profile has an empty one)."""
        return profiles.get_customer(self._ctx, customer, external_id=external_id, at=at)

    @_read
    def customers(self, *, after: str | None = None, limit: int = 100, at: datetime | None = None) -> CustomerPage:
        """Every customer with a profile or an entry at ``at``, in the order the ledger first
        saw them; ``limit`` per page (1 to 10,000), ``after`` the ``next_cursor`` of the last."""
        return profiles.customers(self._ctx, after=after, limit=limit, at=at)

    # -- schedules, top-ups, alerts and the outbox -----------------------------------------

    @_write
    def schedule_grant(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        every: str | timedelta,
        anchor: datetime | None = None,
        start: datetime | None = None,
        until: datetime | None = None,
        first_amount: int | Decimal | str | None = None,
        rollover_max: int | Decimal | str = 0,
        rollover_min: int | Decimal | str = 0,
        timezone: str | None = None,
        unit: str = DEFAULT_UNIT,
        priority: int = 50,
        category: str = "promotional",
        scope: str | Iterable[str] | None = None,
        single_use: bool = False,
        cost_basis: int | Decimal | str | None = None,
        settle_debt: bool | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        schedule_id: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ScheduleResult:
        """A recurring grant: ``amount`` every period (``every``: ``"1 month"``, ``"2 weeks"``,
        a ``timedelta``) from ``start``, boundaries counted from ``anchor`` in ``timezone``.

        At each period start, up to ``rollover_max`` of the last period's unused credit
        carries into the new period, the rest expires, and the new grant is
        ``max(amount, rollover_min - carried)`` (``first_amount`` for period 0): refill is
        ``rollover_max=0``, a capped carry ``rollover_max=C``. Period starts are due events,
        recorded by the next write or :meth:`expire_due`, counted by every read.
        ``schedule_id`` (default ``sch_...``) is a key of its own, like a hold id. The result's
        ``entries`` are empty; ``result.schedule`` is the schedule."""
        return settings.schedule_grant(
            self._ctx, customer, amount, every=every, anchor=anchor, start=start, until=until,
            first_amount=first_amount, rollover_max=rollover_max, rollover_min=rollover_min, timezone=timezone,
            unit=unit, priority=priority, category=category, scope=scope, single_use=single_use,
            cost_basis=cost_basis, settle_debt=settle_debt, description=description, metadata=metadata,
            schedule_id=schedule_id, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip

    @_read
    def get_schedule(self, schedule_id: str, *, at: datetime | None = None) -> Schedule:
        """A schedule as it stands at ``at``; :class:`NotFound` if unknown then."""
        return settings.get_schedule(self._ctx, schedule_id, at=at)

    @_read
    def schedules(self, customer: str, *, at: datetime | None = None) -> list[Schedule]:
        """Every schedule of the customer made by ``at`` (ended ones too), in creation order."""
        return settings.schedules(self._ctx, customer, at=at)

    @_write
    def cancel_schedule(self, schedule_id: str, *, at: datetime | None = None) -> ScheduleResult:
        """No period starts after ``at``; the running one keeps its credit to its end. A repeat
        replays; an ended schedule raises :class:`Conflict`."""
        return settings.cancel_schedule(self._ctx, schedule_id, at=at)

    @_write
    def set_top_up(
        self,
        customer: str,
        *,
        unit: str,
        threshold: int | Decimal | str,
        amount: int | Decimal | str | None = None,
        target: int | Decimal | str | None = None,
        category: str = "paid",
        priority: int = 50,
        expires_after: str | timedelta | None = None,
        cost_basis: int | Decimal | str | None = None,
        at: datetime | None = None,
    ) -> TopUp:
        """The unit's auto top-up rule (one per customer and unit; setting replaces it): after
        any step that lowers net (available less debt) to ``threshold`` or below, and once
        now, grant the smallest multiple of ``amount`` that lifts net above it, or up to
        ``target``. Each top-up writes a ``top_up`` event for the app to charge. Idempotent by
        value."""
        return settings.set_top_up(
            self._ctx, customer, unit=unit, threshold=threshold, amount=amount, target=target, category=category,
            priority=priority, expires_after=expires_after, cost_basis=cost_basis, at=at,
        )  # fmt: skip

    @_read
    def get_top_up(self, customer: str, *, unit: str, at: datetime | None = None) -> TopUp:
        """The top-up rule in force at ``at``; :class:`NotFound` if none."""
        return settings.get_top_up(self._ctx, customer, unit=unit, at=at)

    @_write
    def remove_top_up(self, customer: str, *, unit: str, at: datetime | None = None) -> TopUp | None:
        """Remove the unit's top-up rule: the rule removed, or ``None`` if there was none."""
        return settings.remove_top_up(self._ctx, customer, unit=unit, at=at)

    @_write
    def add_alert(
        self,
        customer: str,
        *,
        unit: str,
        kind: str,
        thresholds: Iterable[int | Decimal | str] = (),
        alert_id: str | None = None,
        at: datetime | None = None,
    ) -> Alert:
        """A balance alert: ``depleted`` (net falls to 0 or below), ``recovered`` (rises above
        0) or ``dropped`` (falls through any of ``thresholds``). Each crossing writes an event
        to :meth:`events` in the transaction of the step that crossed. One active alert of a
        kind per customer and unit; ``alert_id`` is a key of its own."""
        return settings.add_alert(
            self._ctx, customer, unit=unit, kind=kind, thresholds=thresholds, alert_id=alert_id, at=at
        )

    @_read
    def alerts(self, customer: str, *, at: datetime | None = None) -> list[Alert]:
        """The customer's active alerts at ``at``, in creation order."""
        return settings.alerts(self._ctx, customer, at=at)

    @_write
    def remove_alert(self, alert_id: str, *, at: datetime | None = None) -> Alert:
        """Remove an alert (again: unchanged); :class:`NotFound` if unknown."""
        return settings.remove_alert(self._ctx, alert_id, at=at)

    @_read
    def events(self, *, customer: str | None = None, after: str | None = None, limit: int = 100) -> EventPage:
        """The event outbox, oldest first: top-ups and alert crossings, each written in the
        transaction of its step. Store ``next_cursor`` (never ``None``) and poll with it as
        ``after``: every event is seen at least once."""
        return settings.events(self._ctx, customer=customer, after=after, limit=limit)

    @_write
    def expire_due(self, *, at: datetime | None = None) -> list[Entry]:
        """Record every due event up to ``at`` (default: now) for all customers — expiries,
        hold timeouts, debt settlements, schedule periods and the top-ups they fire, with
        their events; returns the entries written.

        Writes do this lazily for their own customer; a sweep keeps the entries current for
        reports. One customer's sweep commits at a time.
        """
        return writes.expire_due(self._ctx, at=at)

    @_read
    def units(self) -> dict[str, int]:
        """Every declared unit and its scale."""
        return reads.units(self._ctx)

    @_read
    def balance(
        self,
        customer: str,
        *,
        unit: str = DEFAULT_UNIT,
        at: datetime | None = None,
        scope: str | Iterable[str] | None = None,
    ) -> Balance:
        """The customer's balance in ``unit`` at ``at`` (default: now).

        With ``scope`` (a name or a set), ``available`` and ``held`` count only credit a burn
        with that scope set could use.
        """
        return reads.balance(self._ctx, customer, unit=unit, at=at, scope=scope)

    @_read
    def balances(self, customer: str, *, at: datetime | None = None) -> dict[str, Balance]:
        """One balance per unit in which the customer has entries at or before ``at``."""
        return reads.balances(self._ctx, customer, at=at)

    @_read
    def blocks(
        self, customer: str, *, unit: str = DEFAULT_UNIT, at: datetime | None = None, include_inactive: bool = False
    ) -> list[Block]:
        """The customer's blocks in burn order: the active ones, or all with
        ``include_inactive``."""
        return reads.blocks(self._ctx, customer, unit=unit, at=at, include_inactive=include_inactive)

    @_read
    def get_block(self, block_id: str, *, at: datetime | None = None) -> Block:
        """One block as it stands at ``at``. Raises :class:`NotFound` if unknown (or not yet
        granted at ``at``)."""
        return reads.get_block(self._ctx, block_id, at=at)

    @_read
    def get_hold(self, hold_id: str, *, at: datetime | None = None) -> Hold:
        """One hold as it stands at ``at``. Raises :class:`NotFound` if unknown."""
        return reads.get_hold(self._ctx, hold_id, at=at)

    @_read
    def holds(self, customer: str, *, status: str | None = "active", at: datetime | None = None) -> list[Hold]:
        """The customer's holds with ``status`` at ``at`` (``None``: every status), oldest first."""
        return reads.holds(self._ctx, customer, status=status, at=at)

    @_read
    def preview_burn(
        self,
        customer: str,
        amount: int | Decimal | str,
        *,
        unit: str = DEFAULT_UNIT,
        scope: str | Iterable[str] | None = None,
        categories: str | Iterable[str] | None = None,
        at: datetime | None = None,
    ) -> BurnPreview:
        """The blocks a burn would draw and its shortfall, without writing anything."""
        return reads.preview_burn(self._ctx, customer, amount, unit=unit, scope=scope, categories=categories, at=at)

    @_read
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
        return reads.timeline(self._ctx, customer, unit=unit, since=since, until=until)

    @_read
    def verify(self) -> VerifyReport:
        """Recompute every block, hold and balance from the entries alone and compare with
        what is stored, and check every remembered result against the entries of its
        operation. ``report.ok`` is True when they all agree; ``str(report)`` lists each
        problem with the customer, the block or unit, and the two values.

        It is meant for a damaged store, so it never raises on one: rows it cannot read
        are reported as problems too."""
        return reads.verify(self._ctx)

    @_read
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
        return reads.entries(
            self._ctx,
            customer,
            unit=unit,
            kinds=kinds,
            block_id=block_id,
            op_id=op_id,
            since=since,
            until=until,
            after=after,
            limit=limit,
        )

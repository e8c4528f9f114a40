"""What every write and read of one ledger shares: the repository, the clock and the
options, the units known to be committed, and the open batches."""

from __future__ import annotations

import decimal
import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from creditcore.errors import ConcurrencyConflict, ValidationError
from creditcore.order import BurnOrder
from creditcore.repository import Reader, Repository, UnitOfWork
from creditcore.service.batch import Batch, Batches
from creditcore.state import AccountState
from creditcore.values import (
    DECIMAL_CONTEXT,
    DEFAULT_UNIT,
    check_amount,
    parse_bool,
    parse_id,
    parse_time,
    utc_now,
)

#: How far past the clock a write's explicit ``at`` may lie by default (clocks of app servers
#: differ a little); a write dated later is refused.
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)

F = TypeVar("F", bound=Callable[..., Any])
_getcontext, _setcontext = decimal.getcontext, decimal.setcontext


class Context:
    """The shared part of a ledger (see :class:`~creditcore.ledger.Ledger` for the options)."""

    __slots__ = (
        "batches",
        "clock",
        "debt_limit",
        "future_tolerance",
        "order",
        "repository",
        "scales",
        "settle_debt",
    )

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Callable[[], datetime] | None,
        units: Mapping[str, int] | None,
        burn_order: BurnOrder | None,
        settle_debt: bool,
        debt_limit: int | Decimal | str | None,
        future_tolerance: timedelta | None,
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
        self.repository = repository
        self.clock: Callable[[], datetime] = clock or utc_now
        self.order = burn_order or BurnOrder.default()
        self.settle_debt = parse_bool(settle_debt, "settle_debt")
        self.future_tolerance = future_tolerance
        if debt_limit is not None:
            check_amount(debt_limit, "debt_limit", allow_zero=True)
        self.debt_limit = None if debt_limit is None else Decimal(str(debt_limit).strip())
        # units known to be committed: a batch keeps its own until it commits
        self.scales: dict[str, int] = {DEFAULT_UNIT: 0}
        self.batches = Batches()

    # -- transactions --------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """The caller's batch's unit of work inside ``atomic()``, else a transaction of its
        own."""
        return self.batches.transaction(self.repository)

    def atomic(self) -> AbstractContextManager[None]:
        return self.batches.atomic(self.repository, self._committed)

    def _committed(self, batch: Batch) -> None:
        self.scales.update(batch.scales)  # only now are they the store's

    @contextmanager
    def reader(self) -> Iterator[Reader]:
        """Reads for the caller: inside its own batch, the batch's (its writes included);
        else the last committed state."""
        batch = self.batches.current()
        if batch is not None:
            yield batch.uow
            return
        with self.repository.reader() as reader:
            yield reader

    # -- units ---------------------------------------------------------------------------

    def scale(self, unit: str, reader: Reader | None = None) -> int:
        """The scale of a declared unit; a unit this batch declared or read is known to it
        alone until it commits."""
        scale = self.scales.get(unit)
        if scale is not None:
            return scale
        batch = self.batches.current()
        if batch is not None:
            scale = batch.scales.get(unit)
            if scale is None:
                batch.scales.update(batch.uow.units())
                scale = batch.scales.get(unit)
        else:
            if reader is None:
                with self.repository.reader() as fresh:
                    known = fresh.units()
            else:
                known = reader.units()
            self.scales.update(known)
            scale = self.scales.get(unit)
        if scale is None:
            raise ValidationError("unit", f"unknown unit {unit!r}: declare it with define_unit({unit!r}, scale=...)")
        return scale

    def unit(self, unit: object) -> tuple[str, int]:
        name = parse_id(unit, "unit")
        return name, self.scale(name)

    def remember_unit(self, name: str, scale: int) -> None:
        """A unit just declared: known for good once committed, to its batch until then."""
        batch = self.batches.current()
        (batch.scales if batch is not None else self.scales)[name] = scale

    # -- time ----------------------------------------------------------------------------

    def now(self) -> datetime:
        return parse_time(self.clock(), "clock")

    def write_time(self, at: datetime | None, state: AccountState) -> datetime:
        """``at``, or now but never before the customer's last write."""
        if at is not None:
            return at
        now = self.now()
        return state.last_at if state.last_at is not None and state.last_at > now else now

    def read_time(self, at: datetime | None, state: AccountState) -> datetime:
        if at is not None:
            return parse_time(at, "at")
        return self.write_time(None, state)

    def check_future(self, at: datetime | None) -> None:
        """Refuse a write dated later than the clock plus ``future_tolerance``: dated there, it
        would move the customer's history ahead for good."""
        tolerance = self.future_tolerance
        if at is None or tolerance is None:
            return
        now = self.now()
        if at > now + tolerance:
            raise ValidationError(
                "at",
                f"{at.isoformat()} is later than the ledger clock ({now.isoformat()}) plus future_tolerance "
                f"({tolerance}): a write may not be dated in the future, or every later write of the customer "
                "would be dated there too. Leave at= out to write now (effective_at= makes a grant start later); "
                "for a simulation or a planned load, open the Ledger with future_tolerance=None",
            )


def exact(method: F) -> F:
    """Run a public method in the library's own ``decimal`` context, whatever the caller set
    (``decimal.getcontext()`` belongs to the host app). ``setcontext`` and back costs a
    third of ``localcontext()``, which copies the context on every call."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        caller = _getcontext()
        if caller is DECIMAL_CONTEXT:
            return method(*args, **kwargs)
        _setcontext(DECIMAL_CONTEXT)
        try:
            return method(*args, **kwargs)
        finally:
            _setcontext(caller)

    return call  # type: ignore[return-value]


#: How many times a write runs when another transaction gets in its way (ConcurrencyConflict).
WRITE_TRIES = 6


def write(method: F) -> F:
    """A public write of an object with a ``_ctx`` (the Ledger, billing's namespaces): in the
    library's own ``decimal`` context, run again when another transaction got in its way
    (nothing was written), and inside ``atomic()`` any of its errors — even one the caller
    catches — dooms the batch."""
    run = exact(method)

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        ctx: Context = self._ctx
        for attempt in range(WRITE_TRIES):
            try:
                return run(self, *args, **kwargs)
            except ConcurrencyConflict as error:
                # nothing was written: a write of its own runs again (and replays what the
                # other transaction committed, or applies); a batch's cannot, for the app's
                # code ran between its writes
                if attempt + 1 == WRITE_TRIES or ctx.batches.current() is not None:
                    ctx.batches.doom(error)
                    raise
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
            except BaseException as error:
                ctx.batches.doom(error)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    return call  # type: ignore[return-value]

"""The reference model's state and bookkeeping: what it keeps, the clock and a customer's
last entry (the time order of writes), lookups, and the idempotency keys."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self

from creditcore.errors import IdempotencyConflict, NotFound, ValidationError
from creditcore.testing.reference.arguments import parse_id
from creditcore.testing.reference.records import (
    DebtChange,
    Fingerprint,
    KeyRecord,
    RefBlock,
    RefHold,
    RefOp,
    RefResult,
    replayed,
)


class ReferenceCore:
    """The model's state: blocks, holds, ops, debt changes, keys and last entry times."""

    def __init__(self, units: Mapping[str, int], clock: Callable[[], datetime]) -> None:
        self.units = {"credits": 0, **units}
        self.clock = clock
        self.blocks: dict[str, RefBlock] = {}
        self.holds: dict[str, RefHold] = {}
        self.ops: dict[str, RefOp] = {}
        self.debt_changes: list[DebtChange] = []
        self.keys: dict[tuple[str, str], KeyRecord] = {}
        self.last_entry: dict[str, datetime] = {}
        self.last_write: dict[str, datetime] = {}
        """A customer's last write: the latest of its entries and changes to its settings (no write
        may be dated before it)."""
        self._ticks = itertools.count(1)
        self._numbers = itertools.count(1)
        self._n = itertools.count(1)
        self._cache: dict[tuple[object, ...], Any] = {}
        """Figures already worked out since the last change (reads repeat a lot)."""

    def _changed(self) -> None:
        self._cache.clear()

    # -- time --------------------------------------------------------------------------

    def last_entry_at(self, customer: str) -> datetime | None:
        return self.last_entry.get(customer)

    def last_write_at(self, customer: str) -> datetime | None:
        return self.last_write.get(customer)

    def read_time(self, customer: str, at: datetime | None = None) -> datetime:
        if at is not None:
            return at
        last = self.last_write.get(customer)
        now = self.clock()
        return last if last is not None and last > now else now

    def _write_time(self, customer: str, at: datetime | None) -> datetime:
        """The time check of a write (``at`` not before the customer's last write); then what
        fell due up to its time is recorded (:meth:`_advance`) and the customer's nets before
        its step noted."""
        last = self.last_write.get(customer)
        if at is not None and last is not None and at < last:
            raise ValidationError("at", "earlier than the customer's last write")
        t = self.read_time(customer, at)
        self._advance(customer, t)
        self._begin_step(customer, t)
        return t

    def _touch(self, customer: str, t: datetime) -> None:
        """A change to the customer's settings, or an entry, at ``t``: a write."""
        last = self.last_write.get(customer)
        self.last_write[customer] = t if last is None or t > last else last

    # -- hooks the due events fill in (:mod:`.due`) -------------------------------------

    def _advance(self, customer: str, t: datetime) -> None:
        """Record the customer's due schedule periods, top-ups and events up to ``t``."""

    def _begin_step(self, customer: str, t: datetime) -> None:
        """Note the customer's nets before a write's own step at ``t``."""

    def _name_step(self, op_id: str) -> None:
        """The step just ended was the op ``op_id``: its alert events name it."""

    def _speculation(self, customer: str, t: datetime) -> Self | None:
        """A copy of the model to read ``customer`` at ``t`` from, if what is recorded does
        not reach ``t`` and something that depends on balances falls due before it."""
        return None

    def _more_instants(self, after: datetime) -> list[datetime]:
        """Instants after ``after`` at which a schedule's period starts."""
        return []

    # -- lookups -----------------------------------------------------------------------

    def _scale(self, unit: object) -> tuple[str, int]:
        name = parse_id(unit, "unit")
        if name not in self.units:
            raise ValidationError("unit", f"unknown unit {name!r}")
        return name, self.units[name]

    def _blocks_of(self, customer: str, unit: str | None = None) -> list[RefBlock]:
        return [b for b in self.blocks.values() if b.customer == customer and (unit is None or b.unit == unit)]

    def _known_block(self, block_id: str, at: datetime | None = None) -> RefBlock:
        """The block, recorded or not yet: one a due period start or top-up makes by the write's
        time is known as a read shows it (due events count, recorded or not). Look it up again
        after :meth:`_write_time` has recorded it."""
        found = self.blocks.get(block_id)
        if found is not None:
            return found
        for customer in list(self.last_write):
            now = self.read_time(customer)  # as get_block finds it now; ``at`` is checked later
            spec = self._speculation(customer, at if at is not None and at > now else now)
            if spec is not None and block_id in spec.blocks:
                return spec.blocks[block_id]
        raise NotFound(f"no block {block_id!r}")

    def _recorded_block(self, block_id: str) -> RefBlock:
        """The block once the write recorded what fell due up to its time."""
        found = self.blocks.get(block_id)
        if found is None:
            raise NotFound(f"no block {block_id!r} by the write's time")
        return found

    def _op_id(self, given: str | None) -> str:
        """The id of the op a write just made (every write asks right after recording it),
        which also names its step's alert events."""
        op_id = given if given is not None else f"ref-op-{next(self._n)}"
        self._name_step(op_id)
        return op_id

    # -- keys --------------------------------------------------------------------------

    def _replay(self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint) -> RefResult | None:
        if key is None:
            return None
        record = self.keys.get((namespace, key))
        if record is None:
            return None
        if record.kind != kind:
            raise IdempotencyConflict(key, "operation", f"it was a {record.kind}")
        if fingerprint and not record.fingerprint:  # a generated id: its call gave no arguments to it
            raise IdempotencyConflict(key, "arguments", "a generated id, used again")
        for (name, was), (_, now) in zip(record.fingerprint, fingerprint, strict=True):
            if was != now:
                raise IdempotencyConflict(key, name, f"{was!r} then, {now!r} now")
        return replayed(record.result)

    def _remember(
        self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint, result: RefResult
    ) -> None:
        if key is not None:
            self.keys[(namespace, key)] = KeyRecord(kind, fingerprint, result)

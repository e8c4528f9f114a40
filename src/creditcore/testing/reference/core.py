"""The reference model's state and bookkeeping: what it keeps, the clock and a customer's
last entry (the time order of writes), lookups, and the idempotency keys (SPEC §6)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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

    def read_time(self, customer: str, at: datetime | None = None) -> datetime:
        if at is not None:
            return at
        last = self.last_entry.get(customer)
        now = self.clock()
        return last if last is not None and last > now else now

    def _write_time(self, customer: str, at: datetime | None) -> datetime:
        last = self.last_entry.get(customer)
        if at is not None and last is not None and at < last:
            raise ValidationError("at", "earlier than the customer's last entry")
        return self.read_time(customer, at)

    # -- lookups -----------------------------------------------------------------------

    def _scale(self, unit: object) -> tuple[str, int]:
        name = parse_id(unit, "unit")
        if name not in self.units:
            raise ValidationError("unit", f"unknown unit {name!r}")
        return name, self.units[name]

    def _blocks_of(self, customer: str, unit: str | None = None) -> list[RefBlock]:
        return [b for b in self.blocks.values() if b.customer == customer and (unit is None or b.unit == unit)]

    def _known_block(self, block_id: str) -> RefBlock:
        found = self.blocks.get(block_id)
        if found is None:
            raise NotFound(f"no block {block_id!r}")
        return found

    def _op_id(self, given: str | None) -> str:
        return given if given is not None else f"ref-op-{next(self._n)}"

    # -- keys --------------------------------------------------------------------------

    def _replay(self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint) -> RefResult | None:
        if key is None:
            return None
        record = self.keys.get((namespace, key))
        if record is None:
            return None
        if record.kind != kind:
            raise IdempotencyConflict(key, "operation", f"it was a {record.kind}")
        for (name, was), (_, now) in zip(record.fingerprint, fingerprint, strict=True):
            if was != now:
                raise IdempotencyConflict(key, name, f"{was!r} then, {now!r} now")
        return replayed(record.result)

    def _remember(
        self, namespace: str, key: str | None, kind: str, fingerprint: Fingerprint, result: RefResult
    ) -> None:
        if key is not None:
            self.keys[(namespace, key)] = KeyRecord(kind, fingerprint, result)

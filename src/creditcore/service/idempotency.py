"""Idempotency: what a keyed call is compared by, and the replay of a call that succeeded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from creditcore.errors import HoldNotActive, IdempotencyConflict
from creditcore.repository import OperationRecord, UnitOfWork
from creditcore.values import canonical, to_decimal


def fingerprint(key: str | None, /, **fields: Any) -> tuple[tuple[str, str], ...]:
    """What a keyed call is compared by when its key comes again. A call without a key is never
    compared, so it skips the text form (empty)."""
    if key is None:
        return ()
    return tuple((name, canonical(value)) for name, value in fields.items())


def shown(minor: int | None, scale: int) -> Decimal | None:
    """An optional amount as the caller wrote it, for fingerprints and messages."""
    return None if minor is None else to_decimal(minor, scale)


def replay(
    uow: UnitOfWork, namespace: str, key: str | None, kind: str, fingerprint: tuple[tuple[str, str], ...]
) -> OperationRecord | None:
    """The record of an earlier call with this key and these arguments (to replay), ``None``
    for a new key; other arguments, or another kind of write, raise
    :class:`IdempotencyConflict` naming the first difference."""
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
    return record


def replay_end(
    uow: UnitOfWork,
    hold_id: str,
    kind: str,
    fingerprint: tuple[tuple[str, str], ...],
    status: str,
    unit: str,
    scale: int,
) -> OperationRecord | None:
    """A capture or release repeated as it was replays; anything else on an ended hold
    is refused."""
    record = uow.find_operation("end", hold_id)
    if record is None:
        return None
    if record.kind != kind:
        raise HoldNotActive(hold_id, status, f"it was {status} earlier; a {kind} cannot follow")
    if record.fingerprint != fingerprint:
        captured = record.outcome["captured"]
        raise HoldNotActive(
            hold_id,
            status,
            f"it was captured with {captured} {unit}, a capture of another amount cannot follow",
        )
    return record

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


def scope_form(scopes: frozenset[str] | None) -> frozenset[str] | str | None:
    """A burn's or hold's scope set as its fingerprint compares it: one scope as its name
    (as the single scope these calls took before scope sets, so their keys still replay)."""
    if scopes is not None and len(scopes) == 1:
        (name,) = scopes
        return name
    return scopes


def unless_default(**fields: Any) -> dict[str, Any]:
    """Fingerprint fields added after keys were first stored: each only when it is not its
    default (``None`` or ``False``), so a stored key still compares equal to its retry."""
    return {name: value for name, value in fields.items() if value is not None and value is not False}


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
    if record.fingerprint != fingerprint:
        then, now = dict(record.fingerprint), dict(fingerprint)
        for field in (*then, *(name for name in now if name not in then)):
            if then.get(field) != now.get(field):
                # a field left out of one side had its default there
                raise IdempotencyConflict(
                    key, field, f"{then.get(field, '(default)')} then, {now.get(field, '(default)')} now"
                )
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

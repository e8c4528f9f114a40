"""Rows <-> the core's states, for any SQL database.

Amounts are integers of minor units, times integer microseconds since the epoch (UTC),
booleans 0 or 1, ``Decimal`` cost bases text, and metadata, scopes, allocations, totals and
settlements JSON text. The enumerations (entry kinds, categories, hold statuses, how a block
was emptied) are the domain's: a value outside them is refused here, on the way in and on the
way out, and not by a ``CHECK`` of the schema, so a new one needs no table rebuild.

Every decoder raises ``ValueError`` (or ``TypeError``, ``LookupError``) for a row it cannot
read back; an adapter turns that into ``StorageError``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditcore.repository import OperationRecord
from creditcore.state import ENTRY_KINDS, HOLD_STATUSES, AccountState, BlockState, EntryState, HoldState, UnitTotals
from creditcore.values import CATEGORIES

#: What last brought a block's ``remaining`` to zero (``BlockState.emptied_by``), or ``None``.
BLOCK_ENDINGS: tuple[str, ...] = ("depleted", "expired", "voided")

_KINDS = frozenset(ENTRY_KINDS)
_STATUSES = frozenset(HOLD_STATUSES)
_CATEGORIES = frozenset(CATEGORIES)
_ENDINGS = frozenset((*BLOCK_ENDINGS, None))

BLOCK_COLUMNS = (
    "id", "customer", "unit", "number", "amount", "remaining", "held", "priority", "category", "cost_basis",
    "scope", "effective_at", "expires_at", "created_at", "description", "metadata", "origin", "settles_debt",
    "settle_pending", "void_closed", "emptied_by",
)  # fmt: skip
HOLD_COLUMNS = (
    "id", "customer", "unit", "amount", "allocations", "status", "captured", "scope", "expires_at", "created_at",
    "settled_at", "settled_by", "op_id", "description", "metadata",
)  # fmt: skip
ENTRY_COLUMNS = (
    "seq", "op_id", "customer", "unit", "kind", "block_id", "hold_id", "amount", "available_after", "at",
    "description", "metadata", "ref", "of_debt",
)  # fmt: skip
ACCOUNT_COLUMNS = ("customer", "totals", "last_at", "next_number", "settlements", "first_seq")
OPERATION_COLUMNS = ("namespace", "key", "kind", "fingerprint", "op_id", "customer", "outcome")

# -- times and JSON ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def optional_micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def time(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def optional_time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _metadata_text(metadata: Mapping[str, str]) -> str | None:
    return json_text(dict(metadata)) if metadata else None


def _metadata(text: str | None) -> dict[str, str]:
    return json.loads(text) if text else {}


def _known(value: object, known: frozenset[object], what: str) -> Any:
    if value not in known:
        raise ValueError(f"{value!r} is not a {what} this version of creditcore knows")
    return value


# -- blocks, holds, entries --------------------------------------------------------------------


def block_row(block: BlockState) -> tuple[Any, ...]:
    return (
        block.id,
        block.customer,
        block.unit,
        block.number,
        block.amount,
        block.remaining,
        block.held,
        block.priority,
        _known(block.category, _CATEGORIES, "block category"),
        None if block.cost_basis is None else str(block.cost_basis),
        None if block.scope is None else json_text(sorted(block.scope)),
        micros(block.effective_at),
        optional_micros(block.expires_at),
        micros(block.created_at),
        block.description,
        _metadata_text(block.metadata),
        block.origin,
        int(block.settles_debt),
        int(block.settle_pending),
        int(block.void_closed),
        _known(block.emptied_by, _ENDINGS, "way a block is emptied"),
    )


def block_figures(block: BlockState) -> tuple[Any, ...]:
    """The parameters of ``Statements.update_block_figures``: what entries change, then the id."""
    return (
        block.remaining,
        block.held,
        int(block.settle_pending),
        int(block.void_closed),
        _known(block.emptied_by, _ENDINGS, "way a block is emptied"),
        block.id,
    )


def block_fixed(block: BlockState) -> tuple[object, ...]:
    """What of a block no entry changes (a block whose fixed part is unchanged is saved with
    ``block_figures`` alone)."""
    return (
        block.customer, block.unit, block.number, block.amount, block.priority, block.category, block.cost_basis,
        block.scope, block.effective_at, block.expires_at, block.created_at, block.description, block.metadata,
        block.origin, block.settles_debt,
    )  # fmt: skip


def block(row: Sequence[Any]) -> BlockState:
    return BlockState(
        id=row[0],
        customer=row[1],
        unit=row[2],
        number=row[3],
        amount=row[4],
        remaining=row[5],
        held=row[6],
        priority=row[7],
        category=_known(row[8], _CATEGORIES, "block category"),
        cost_basis=None if row[9] is None else Decimal(row[9]),
        scope=None if row[10] is None else frozenset(json.loads(row[10])),
        effective_at=time(row[11]),
        expires_at=optional_time(row[12]),
        created_at=time(row[13]),
        description=row[14],
        metadata=_metadata(row[15]),
        origin=row[16],
        settles_debt=bool(row[17]),
        settle_pending=bool(row[18]),
        void_closed=bool(row[19]),
        emptied_by=_known(row[20], _ENDINGS, "way a block is emptied"),
    )


def hold_row(found: HoldState) -> tuple[Any, ...]:
    return (
        found.id,
        found.customer,
        found.unit,
        found.amount,
        json_text([[block_id, amount] for block_id, amount in found.allocations]),
        _known(found.status, _STATUSES, "hold status"),
        found.captured,
        found.scope,
        optional_micros(found.expires_at),
        micros(found.created_at),
        optional_micros(found.settled_at),
        found.settled_by,
        found.op_id,
        found.description,
        _metadata_text(found.metadata),
    )


def hold(row: Sequence[Any]) -> HoldState:
    return HoldState(
        id=row[0],
        customer=row[1],
        unit=row[2],
        amount=row[3],
        allocations=tuple((block_id, amount) for block_id, amount in json.loads(row[4])),
        status=_known(row[5], _STATUSES, "hold status"),
        captured=row[6],
        scope=row[7],
        expires_at=optional_time(row[8]),
        created_at=time(row[9]),
        settled_at=optional_time(row[10]),
        settled_by=row[11],
        op_id=row[12],
        description=row[13],
        metadata=_metadata(row[14]),
    )


def entry_row(entry: EntryState) -> tuple[object, ...]:
    return (
        entry.seq,
        entry.op_id,
        entry.customer,
        entry.unit,
        _known(entry.kind, _KINDS, "kind of entry"),
        entry.block_id,
        entry.hold_id,
        entry.amount,
        entry.available_after,
        micros(entry.at),
        entry.description,
        _metadata_text(entry.metadata),
        entry.ref,
        int(entry.of_debt),
    )


def entry(row: Sequence[Any]) -> EntryState:
    return EntryState(
        seq=row[0],
        op_id=row[1],
        customer=row[2],
        unit=row[3],
        kind=_known(row[4], _KINDS, "kind of entry"),
        block_id=row[5],
        hold_id=row[6],
        amount=row[7],
        available_after=row[8],
        at=time(row[9]),
        description=row[10],
        metadata=_metadata(row[11]),
        ref=row[12],
        of_debt=bool(row[13]),
    )


# -- accounts ----------------------------------------------------------------------------------


def totals_text(totals: Mapping[str, UnitTotals]) -> str:
    # the JSON text written out by hand (the figures are ints): every write stores it
    return (
        "{"
        + ",".join(
            f'{_json_key(unit)}:{{"granted":{t.granted},"used":{t.used},"expired":{t.expired},'
            f'"voided":{t.voided},"debt":{t.debt}}}'
            for unit, t in totals.items()
        )
        + "}"
    )


@functools.lru_cache(maxsize=1024)
def _json_key(name: str) -> str:
    return json_text(name)


def totals(text: str) -> dict[str, UnitTotals]:
    return {unit: UnitTotals(**figures) for unit, figures in json.loads(text).items()}


def settlements_text(settlements: Mapping[str, tuple[tuple[str, int], ...]]) -> str:
    if not any(settlements.values()):
        return "{}" if not settlements else json_text({unit: [] for unit in settlements})
    return json_text({unit: [[block_id, amount] for block_id, amount in pairs] for unit, pairs in settlements.items()})


def settlements(text: str) -> dict[str, tuple[tuple[str, int], ...]]:
    return {unit: tuple((b, a) for b, a in pairs) for unit, pairs in json.loads(text).items()}


def account_row(after: AccountState, first_seq: int | None) -> tuple[object, ...]:
    """The parameters of ``Statements.upsert_account`` (in :data:`ACCOUNT_COLUMNS` order)."""
    return (
        after.customer,
        totals_text(after.totals),
        optional_micros(after.last_at),
        after.next_number,
        settlements_text(after.settlements),
        first_seq,
    )


def account(
    customer: str,
    row: Sequence[Any],
    blocks: Mapping[str, BlockState],
    holds: Mapping[str, HoldState],
) -> AccountState:
    """An account from its row's ``totals, last_at, next_number, settlements`` and its live
    blocks and active holds."""
    return AccountState(
        customer=customer,
        blocks=blocks,
        holds=holds,
        totals=totals(row[0]),
        last_at=optional_time(row[1]),
        next_number=row[2],
        settlements=settlements(row[3]),
    )


# -- idempotency records -----------------------------------------------------------------------


def operation_row(record: OperationRecord) -> tuple[object, ...]:
    return (
        record.namespace,
        record.key,
        record.kind,
        json_text([list(pair) for pair in record.fingerprint]),
        record.op_id,
        record.customer,
        json_text(dict(record.outcome)),
    )


def operation(row: Sequence[Any]) -> OperationRecord:
    pairs = json.loads(row[3])
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair) for pair in pairs
    ):
        raise ValueError(f"a fingerprint is a list of [field, text] pairs, not {row[3][:80]!r}")
    outcome = json.loads(row[6])
    if not isinstance(outcome, dict) or not all(isinstance(v, str) for v in outcome.values()):
        raise ValueError(f"an outcome is an object of texts, not {row[6][:80]!r}")
    return OperationRecord(
        namespace=row[0],
        key=row[1],
        kind=row[2],
        fingerprint=tuple((field, text) for field, text in pairs),
        op_id=row[4],
        customer=row[5],
        outcome=outcome,
    )

"""Rows <-> the core's states, for any SQL database.

Amounts are integers of minor units, times integer microseconds since the epoch (UTC),
booleans 0 or 1, ``Decimal`` cost bases text, and metadata, scopes, allocations and
settlements JSON text. An account's running totals are integer columns, one row per unit
(``account_units``); an entry refers to its block and hold by their row keys (``pos``), and a
read joins them back to the public ids. The enumerations (entry kinds, categories, hold statuses, how a block
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

import attrs

from creditcore.core.periods import Every, parse_every
from creditcore.core.profiles import ProfileState
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.repository import OperationRecord
from creditcore.state import (
    BLOCK_SOURCES,
    ENTRY_KINDS,
    HOLD_STATUSES,
    AccountState,
    BlockState,
    EntryState,
    HoldState,
    UnitTotals,
)
from creditcore.values import CATEGORIES

#: What last brought a block's ``remaining`` to zero (``BlockState.emptied_by``), or ``None``.
BLOCK_ENDINGS: tuple[str, ...] = ("depleted", "expired", "voided")

_KINDS = frozenset(ENTRY_KINDS)
_STATUSES = frozenset(HOLD_STATUSES)
_CATEGORIES = frozenset(CATEGORIES)
_ENDINGS = frozenset((*BLOCK_ENDINGS, None))
_SOURCES = frozenset(BLOCK_SOURCES)

BLOCK_COLUMNS = (
    "id", "customer", "unit", "number", "amount", "remaining", "held", "priority", "category", "cost_basis",
    "scope", "effective_at", "expires_at", "created_at", "description", "metadata", "origin", "settles_debt",
    "settle_pending", "void_closed", "emptied_by", "single_use", "first_used_at", "used", "source", "refund_of",
    "schedule_id",
)  # fmt: skip
HOLD_COLUMNS = (
    "id", "customer", "unit", "amount", "allocations", "status", "captured", "scope", "expires_at", "created_at",
    "settled_at", "settled_by", "op_id", "description", "metadata", "categories",
)  # fmt: skip
#: An entry as a read returns it (the block and hold joined back to their ids).
ENTRY_COLUMNS = (
    "seq", "op_id", "customer", "unit", "kind", "block_id", "hold_id", "amount", "available_after", "at",
    "description", "metadata", "ref", "of_debt",
)  # fmt: skip
#: An entry as it is stored: the block and hold by their row keys.
ENTRY_ROW_COLUMNS = (
    "seq", "op_id", "customer", "unit", "kind", "block_pos", "hold_pos", "amount", "available_after", "at",
    "description", "metadata", "ref", "of_debt",
)  # fmt: skip
ACCOUNT_COLUMNS = ("customer", "last_at", "next_number", "first_seq", "settings")
#: A version of a profile, as it is stored (after its ``pos``).
PROFILE_COLUMNS = ("customer", "at", "name", "email", "external_id", "metadata", "timezone")
#: The running totals of one unit (``UnitTotals``), each a column of ``account_units``.
TOTALS_COLUMNS = ("granted", "used", "expired", "voided", "debt")
ACCOUNT_UNIT_COLUMNS = ("customer", "unit", *TOTALS_COLUMNS, "settlements", "last_at")
OPERATION_COLUMNS = ("namespace", "key", "kind", "fingerprint", "op_id", "customer", "outcome")

# -- times and JSON ----------------------------------------------------------------------------

#: What decoding a row that cannot be read back (or encoding a value that cannot be stored)
#: raises: an adapter turns each into ``StorageError``.
UNREADABLE: tuple[type[Exception], ...] = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)

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


def _set_text(names: frozenset[str] | None) -> str | None:
    """A set of names (a scope set, categories) as a sorted JSON list, ``None`` for none."""
    return None if names is None else json_text(sorted(names))


def _set(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(json.loads(text))


def _known(value: object, known: frozenset[object], what: str) -> Any:
    if value not in known:
        raise ValueError(f"{value!r} is not a {what} this version of creditcore knows")
    return value


# -- blocks, holds, entries --------------------------------------------------------------------


def block_row(block: BlockState) -> tuple[Any, ...]:
    """A block's columns in :data:`BLOCK_COLUMNS` order (what a snapshot keeps too)."""
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
        _set_text(block.scope),
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
        int(block.single_use),
        optional_micros(block.first_used_at),
        block.used,
        _known(block.source, _SOURCES, "block source"),
        block.refund_of,
        block.schedule_id,
    )


def live(block: BlockState) -> int:
    """The ``live`` flag of a block's row: 1 while it holds credit (the partial index of the
    blocks a load reads is on it)."""
    return 1 if block.remaining > 0 else 0


def block_moves(old: BlockState, new: BlockState) -> tuple[tuple[str, ...], list[object]]:
    """What entries moved between two forms of one block: the columns and their new values
    (``live`` only when the block emptied or filled again)."""
    names: list[str] = []
    values: list[object] = []
    if new.remaining != old.remaining:
        names.append("remaining")
        values.append(new.remaining)
        if (new.remaining > 0) != (old.remaining > 0):
            names.append("live")
            values.append(live(new))
    if new.held != old.held:
        names.append("held")
        values.append(new.held)
    if new.settle_pending != old.settle_pending:
        names.append("settle_pending")
        values.append(int(new.settle_pending))
    if new.void_closed != old.void_closed:
        names.append("void_closed")
        values.append(int(new.void_closed))
    if new.emptied_by != old.emptied_by:
        names.append("emptied_by")
        values.append(_known(new.emptied_by, _ENDINGS, "way a block is emptied"))
    if new.used != old.used:
        names.append("used")
        values.append(new.used)
    if new.first_used_at != old.first_used_at:
        names.append("first_used_at")
        values.append(optional_micros(new.first_used_at))
    return tuple(names), values


def block_fixed(block: BlockState) -> tuple[object, ...]:
    """What of a block no entry changes (a block whose fixed part is unchanged is saved with
    ``block_figures`` alone)."""
    return (
        block.customer, block.unit, block.number, block.amount, block.priority, block.category, block.cost_basis,
        block.scope, block.effective_at, block.expires_at, block.created_at, block.description, block.metadata,
        block.origin, block.settles_debt, block.single_use, block.source, block.refund_of, block.schedule_id,
    )  # fmt: skip


def block(row: Sequence[Any]) -> BlockState:
    """A block from a row of ``Statements.select_block``: its ``pos``, then its columns."""
    return BlockState(
        id=row[1],
        customer=row[2],
        unit=row[3],
        number=row[4],
        amount=row[5],
        remaining=row[6],
        held=row[7],
        priority=row[8],
        category=_known(row[9], _CATEGORIES, "block category"),
        cost_basis=None if row[10] is None else Decimal(row[10]),
        scope=_set(row[11]),
        effective_at=time(row[12]),
        expires_at=optional_time(row[13]),
        created_at=time(row[14]),
        description=row[15],
        metadata=_metadata(row[16]),
        origin=row[17],
        settles_debt=bool(row[18]),
        settle_pending=bool(row[19]),
        void_closed=bool(row[20]),
        emptied_by=_known(row[21], _ENDINGS, "way a block is emptied"),
        single_use=bool(row[22]),
        first_used_at=optional_time(row[23]),
        used=row[24],
        source=_known(row[25], _SOURCES, "block source"),
        refund_of=row[26],
        schedule_id=row[27],
    )


def hold_row(found: HoldState) -> tuple[Any, ...]:
    """A hold's columns in :data:`HOLD_COLUMNS` order (what a snapshot keeps too)."""
    return (
        found.id,
        found.customer,
        found.unit,
        found.amount,
        json_text([[block_id, amount] for block_id, amount in found.allocations]),
        _known(found.status, _STATUSES, "hold status"),
        found.captured,
        _set_text(found.scope),
        optional_micros(found.expires_at),
        micros(found.created_at),
        optional_micros(found.settled_at),
        found.settled_by,
        found.op_id,
        found.description,
        _metadata_text(found.metadata),
        _set_text(found.categories),
    )


def hold_fixed(found: HoldState) -> tuple[object, ...]:
    """What of a hold no capture, release or timeout changes (a hold whose fixed part is
    unchanged is saved with ``hold_moves`` alone)."""
    return (
        found.customer, found.unit, found.amount, found.allocations, found.scope, found.expires_at,
        found.created_at, found.op_id, found.description, found.metadata, found.categories,
    )  # fmt: skip


def hold_moves(old: HoldState, new: HoldState) -> tuple[tuple[str, ...], list[object]]:
    """What ending (or capturing part of) a hold moved: the columns and their new values."""
    names: list[str] = []
    values: list[object] = []
    if new.status != old.status:
        names.append("status")
        values.append(_known(new.status, _STATUSES, "hold status"))
    if new.captured != old.captured:
        names.append("captured")
        values.append(new.captured)
    if new.settled_at != old.settled_at:
        names.append("settled_at")
        values.append(optional_micros(new.settled_at))
    if new.settled_by != old.settled_by:
        names.append("settled_by")
        values.append(new.settled_by)
    return tuple(names), values


def hold(row: Sequence[Any]) -> HoldState:
    """A hold from a row of ``Statements.select_hold``: its ``pos``, then its columns."""
    return HoldState(
        id=row[1],
        customer=row[2],
        unit=row[3],
        amount=row[4],
        allocations=tuple((block_id, amount) for block_id, amount in json.loads(row[5])),
        status=_known(row[6], _STATUSES, "hold status"),
        captured=row[7],
        scope=_set(row[8]),
        expires_at=optional_time(row[9]),
        created_at=time(row[10]),
        settled_at=optional_time(row[11]),
        settled_by=row[12],
        op_id=row[13],
        description=row[14],
        metadata=_metadata(row[15]),
        categories=_set(row[16]),
    )


def entry_row(entry: EntryState, block_pos: int | None, hold_pos: int | None) -> tuple[object, ...]:
    """An entry's row (:data:`ENTRY_ROW_COLUMNS`), with the row keys of its block and hold."""
    return (
        entry.seq,
        entry.op_id,
        entry.customer,
        entry.unit,
        _known(entry.kind, _KINDS, "kind of entry"),
        block_pos,
        hold_pos,
        entry.amount,
        entry.available_after,
        micros(entry.at),
        entry.description,
        _metadata_text(entry.metadata),
        entry.ref,
        int(entry.of_debt),
    )


def entry(row: Sequence[Any]) -> EntryState:
    """An entry from a row of ``Statements.select_entry`` (:data:`ENTRY_COLUMNS`), and its
    transaction's id if the row goes on with it (a feed by transaction)."""
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
        txid=int(row[14]) if len(row) > 14 else None,
    )


# -- profiles ----------------------------------------------------------------------------------


def profile_row(found: ProfileState) -> tuple[object, ...]:
    """A profile's version in :data:`PROFILE_COLUMNS` order."""
    return (
        found.customer,
        micros(found.at),
        found.name,
        found.email,
        found.external_id,
        _metadata_text(found.metadata),
        found.timezone,
    )


def profile(row: Sequence[Any]) -> ProfileState:
    return ProfileState(
        customer=row[0],
        at=time(row[1]),
        name=row[2],
        email=row[3],
        external_id=row[4],
        metadata=_metadata(row[5]),
        timezone=row[6],
    )


# -- accounts ----------------------------------------------------------------------------------


def totals_text(totals: Mapping[str, UnitTotals]) -> str:
    """Totals as JSON text (a snapshot keeps them so), written out by hand: the figures are ints."""
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


def unit_settlements_text(pairs: tuple[tuple[str, int], ...] | None) -> str | None:
    """One unit's settlements as its column holds them: ``NULL`` when the unit has none
    listed, a JSON list of ``[block_id, amount]`` (maybe empty) otherwise."""
    if pairs is None:
        return None
    return "[]" if not pairs else json_text([[block_id, amount] for block_id, amount in pairs])


def _unit_settlements(text: str) -> tuple[tuple[str, int], ...]:
    return tuple((block_id, amount) for block_id, amount in json.loads(text))


def totals_row(figures: UnitTotals | None) -> tuple[int, int, int, int, int]:
    """One unit's totals in :data:`TOTALS_COLUMNS` order."""
    if figures is None:
        return (0, 0, 0, 0, 0)
    return (figures.granted, figures.used, figures.expired, figures.voided, figures.debt)


def account_units(state: AccountState) -> list[str]:
    """The units with a row in ``account_units``: those with totals or settlements."""
    found = list(state.totals)
    found.extend(unit for unit in state.settlements if unit not in state.totals)
    return found


def account_unit_row(state: AccountState, unit: str, last_at: int | None) -> tuple[object, ...]:
    """One unit's row of ``account_units`` (:data:`ACCOUNT_UNIT_COLUMNS`)."""
    return (
        state.customer,
        unit,
        *totals_row(state.totals.get(unit)),
        unit_settlements_text(state.settlements.get(unit)),
        last_at,
    )


def unit_moves(before: AccountState, after: AccountState, unit: str) -> tuple[str, ...]:
    """The columns of a unit's row that moved from ``before`` to ``after``."""
    names: tuple[str, ...] = ()
    old, new = before.totals.get(unit) or _NO_TOTALS, after.totals.get(unit) or _NO_TOTALS
    if old is not new:
        names = tuple(column for column in TOTALS_COLUMNS if getattr(new, column) != getattr(old, column))
    pairs = after.settlements.get(unit)
    if pairs is not before.settlements.get(unit) and pairs != before.settlements.get(unit):
        names += ("settlements",)
    return names


_NO_TOTALS = UnitTotals()


def account(
    customer: str,
    rows: Sequence[Sequence[Any]],
    blocks: Mapping[str, BlockState],
    holds: Mapping[str, HoldState],
) -> AccountState:
    """An account from the rows of ``Statements.account`` (its row joined with each of its
    units': ``last_at, next_number, unit, <totals>, settlements, unit_last_at``) and its live
    blocks and active holds. Its last write is the latest of its row's and its units' times."""
    last = rows[0][0]
    totals: dict[str, UnitTotals] = {}
    settled: dict[str, tuple[tuple[str, int], ...]] = {}
    for row in rows:
        unit = row[2]
        if unit is None:
            continue  # no unit yet
        totals[unit] = UnitTotals(granted=row[3], used=row[4], expired=row[5], voided=row[6], debt=row[7])
        if row[8] is not None:
            settled[unit] = _unit_settlements(row[8])
        if row[9] is not None and (last is None or row[9] > last):
            last = row[9]
    return AccountState(
        customer=customer,
        blocks=blocks,
        holds=holds,
        totals=totals,
        last_at=optional_time(last),
        next_number=rows[0][1],
        settlements=settled,
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


# -- settings and events ------------------------------------------------------------------------
#
# A schedule, a top-up rule, an alert or an event is stored as one JSON document of its fields
# (the columns beside it are what reads find it by). Each value is tagged by its type, so the
# document reads back to the same value: times as integer microseconds, decimals as text.

Setting = ScheduleState | TopUpState | AlertState | EventState
_UNSTORED = frozenset({"seq", "txid"})  # an event's position: columns of its own


def setting_text(value: Setting) -> str:
    """A setting's (or an event's) document."""
    fields = {
        field.name: _tagged(getattr(value, field.name))
        for field in attrs.fields(type(value))
        if field.init and field.name not in _UNSTORED
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _tagged(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return {"t": micros(value)}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, Every):
        return {"every": value.text}
    if isinstance(value, frozenset):
        return {"set": sorted(value)}
    if isinstance(value, tuple):
        return [_tagged(item) for item in value]
    if isinstance(value, Mapping):
        return {"map": dict(value)}
    raise TypeError(f"a setting holds no {type(value).__name__}")


def _untagged(value: object) -> object:
    if isinstance(value, list):
        return tuple(_untagged(item) for item in value)
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    if tag == "t":
        return time(inner)
    if tag == "d":
        return Decimal(inner)
    if tag == "every":
        return parse_every(inner)
    if tag == "set":
        return frozenset(inner)
    return dict(inner)


def _setting(kind: type[Any], text: str, **extra: object) -> Any:
    return kind(**{name: _untagged(value) for name, value in json.loads(text).items()}, **extra)


def schedule(text: str) -> ScheduleState:
    found: ScheduleState = _setting(ScheduleState, text)
    return found


def top_up(text: str) -> TopUpState:
    found: TopUpState = _setting(TopUpState, text)
    return found


def alert(text: str) -> AlertState:
    found: AlertState = _setting(AlertState, text)
    return found


def event(seq: int, text: str, txid: object = None) -> EventState:
    found: EventState = _setting(EventState, text, seq=seq, txid=None if txid is None else int(str(txid)))
    return found


def settings_in_force(state: AccountState, rows: Sequence[Sequence[Any]]) -> AccountState:
    """The account with the schedules, top-up rules and alerts in force, from the rows of
    ``Statements.settings_of`` (``what, number, document``)."""
    schedules: dict[str, ScheduleState] = {}
    top_ups: dict[str, TopUpState] = {}
    alerts: dict[str, AlertState] = {}
    for what, _number, text in rows:
        if what == 0:
            found = schedule(text)
            schedules[found.id] = found
        elif what == 1:
            rule = top_up(text)
            top_ups[rule.unit] = rule
        else:
            made = alert(text)
            alerts[made.id] = made
    return attrs.evolve(state, schedules=schedules, top_ups=top_ups, alerts=alerts)


def settings_count(state: AccountState) -> int:
    """How many settings are in force (the account row keeps it, so a load reads them only
    when there are some)."""
    return len(state.schedules) + len(state.top_ups) + len(state.alerts)

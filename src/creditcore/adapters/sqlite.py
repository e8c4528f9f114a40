"""The SQLite adapter: a ledger in one file that several threads and processes share.

Storage only: it stores and loads what the rules decide. The only filters it applies are
"live" (a block with ``remaining > 0``) and "active" (a hold with ``status = 'active'``), so a
load reads a customer's current state without scanning their history.

How it talks to SQLite (see SPEC §8 and the reliability notes):

- a file is opened only if it is empty or a creditcore ledger: another application's
  database, a table of creditcore's name with other columns, or a file that is not a SQLite
  database raises ``StorageError`` before anything is written to it;
- one connection per thread (per process after a ``fork``), opened with
  ``isolation_level=None`` so that this module, not the ``sqlite3`` module, says where a
  transaction starts and ends; a thread opens a second one only to read while a transaction
  of its own (a batch of another asyncio task, a suspended generator) is open, as a read
  sees committed state only, and a second write of the thread raises ``StorageError`` at once
  instead of waiting for itself;
- every write is ``BEGIN IMMEDIATE … COMMIT`` (``ROLLBACK`` on any error): the write lock is
  taken before the first read, so a read-check-write can never be overtaken by another
  writer, and a busy database is waited for (``busy_timeout``) and retried a few times at
  ``BEGIN`` only, never half-way through;
- every read is a deferred ``BEGIN`` ended by ``ROLLBACK``: one consistent snapshot;
- ``journal_mode=WAL``, ``synchronous=FULL`` (``durability="full"``, every acknowledged
  commit survives a power loss) or ``NORMAL`` (``"normal"``: consistent, survives a process
  crash, may lose the last commits on a power loss), ``foreign_keys=ON``;
- ``STRICT`` tables with ``CHECK`` constraints, amounts as integers of minor units, times as
  integer microseconds since the epoch (UTC), JSON text for metadata, scopes and
  allocations, ``Decimal`` cost bases as text;
- the schema is created and migrated forward with sqlite-utils when the file is opened;
- every ``sqlite3`` error becomes a :class:`~creditcore.errors.StorageError` (the original
  is chained as ``__cause__``).

``":memory:"`` gives a private in-memory database: one connection that threads take turns
on, gone when the repository is closed.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import sqlite3
import threading
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import sqlite_utils

from creditcore.errors import CreditError, StorageError, ValidationError
from creditcore.model import (
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    GrantResult,
    HoldResult,
    ReleaseResult,
    Result,
    ReverseResult,
    VoidResult,
)
from creditcore.repository import EntryQuery, OperationRecord, PastHistory
from creditcore.state import AccountState, BlockState, EntryState, HoldState, UnitTotals

try:  # sqlite-utils >= 4.0
    from sqlite_utils import Migrations as _Migrations
except ImportError:  # pragma: no cover - older sqlite-utils: our own schema_version table
    _Migrations = None  # type: ignore[assignment,misc]

__all__ = ["DURABILITY", "MAX_BUSY_TIMEOUT", "SQLiteRepository", "decode_result", "encode_result"]

#: The largest ``busy_timeout`` in seconds: SQLite takes it in milliseconds as a signed 32-bit
#: int (a larger value would wrap around to no waiting at all).
MAX_BUSY_TIMEOUT = (2**31 - 1) / 1000
#: ``durability=`` value -> ``PRAGMA synchronous`` level (FULL = 2, NORMAL = 1).
DURABILITY: Mapping[str, int] = {"full": 2, "normal": 1}
_SYNCHRONOUS_NAMES = {2: "FULL", 1: "NORMAL"}
_MIGRATION_SET = "creditcore"
_MEMORY = ":memory:"
_INT64_MAX = 2**63 - 1
# BEGIN IMMEDIATE already waits busy_timeout for the write lock; these are the extra tries
# (with a jittered backoff) when SQLite answers SQLITE_BUSY without waiting.
_BEGIN_ATTEMPTS = 4
_BACKOFF = 0.01
# How many decoded blocks (and holds) a connection keeps to skip decoding unchanged rows.
_DECODED_CACHE = 20_000
#: Entries of a customer between two snapshots of its account state (more for an account
#: with more live blocks and holds than that, so writing a snapshot stays a small share of
#: the writes). See "snapshots of account state" at the end of this module.
SNAPSHOT_EVERY = 1_000

# -- the schema ------------------------------------------------------------------------------
#
# Every statement is idempotent (IF NOT EXISTS), so a file can be brought forward by either
# bookkeeping (sqlite-utils' Migrations, or schema_version on an older sqlite-utils).

_SCHEMA_1 = (
    """
    CREATE TABLE IF NOT EXISTS units (
        name TEXT PRIMARY KEY,
        scale INTEGER NOT NULL CHECK (scale >= 0)
    ) STRICT
    """,
    """
    CREATE TABLE IF NOT EXISTS accounts (
        customer TEXT PRIMARY KEY,
        totals TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(totals)),
        last_at INTEGER,
        next_number INTEGER NOT NULL DEFAULT 1 CHECK (next_number >= 1),
        settlements TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settlements)),
        first_seq INTEGER
    ) STRICT
    """,
    "CREATE INDEX IF NOT EXISTS accounts_by_first_seq ON accounts (first_seq) WHERE first_seq IS NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS blocks (
        pos INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        customer TEXT NOT NULL REFERENCES accounts (customer),
        unit TEXT NOT NULL,
        number INTEGER NOT NULL,
        amount INTEGER NOT NULL CHECK (amount >= 0),
        remaining INTEGER NOT NULL,
        held INTEGER NOT NULL DEFAULT 0,
        priority INTEGER NOT NULL,
        category TEXT NOT NULL CHECK (category IN ('promotional', 'paid')),
        cost_basis TEXT,
        scope TEXT CHECK (scope IS NULL OR json_valid(scope)),
        effective_at INTEGER NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        description TEXT,
        metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
        origin TEXT,
        settles_debt INTEGER NOT NULL DEFAULT 0 CHECK (settles_debt IN (0, 1)),
        settle_pending INTEGER NOT NULL DEFAULT 0 CHECK (settle_pending IN (0, 1)),
        void_closed INTEGER NOT NULL DEFAULT 0 CHECK (void_closed IN (0, 1)),
        emptied_by TEXT CHECK (emptied_by IN ('depleted', 'expired', 'voided')),
        CHECK (0 <= held AND held <= remaining AND remaining <= amount)
    ) STRICT
    """,
    "CREATE INDEX IF NOT EXISTS blocks_by_customer ON blocks (customer)",
    # a load reads only the blocks that still hold credit, however many are used up
    "CREATE INDEX IF NOT EXISTS blocks_live ON blocks (customer) WHERE remaining > 0",
    """
    CREATE TABLE IF NOT EXISTS holds (
        pos INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        customer TEXT NOT NULL REFERENCES accounts (customer),
        unit TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount >= 0),
        allocations TEXT NOT NULL CHECK (json_valid(allocations)),
        status TEXT NOT NULL CHECK (status IN ('active', 'captured', 'released', 'expired')),
        captured INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
        scope TEXT,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        settled_at INTEGER,
        settled_by TEXT,
        op_id TEXT NOT NULL,
        description TEXT,
        metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata))
    ) STRICT
    """,
    "CREATE INDEX IF NOT EXISTS holds_by_customer ON holds (customer)",
    "CREATE INDEX IF NOT EXISTS holds_active ON holds (customer) WHERE status = 'active'",
    """
    CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        op_id TEXT NOT NULL,
        customer TEXT NOT NULL REFERENCES accounts (customer),
        unit TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN (
            'grant', 'burn', 'debt', 'settle', 'hold', 'capture', 'release',
            'expire', 'void', 'reverse', 'move_out', 'move_in')),
        block_id TEXT REFERENCES blocks (id),
        hold_id TEXT REFERENCES holds (id),
        amount INTEGER NOT NULL CHECK (amount >= 0),
        available_after INTEGER NOT NULL,
        at INTEGER NOT NULL,
        description TEXT,
        metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
        ref TEXT,
        of_debt INTEGER NOT NULL DEFAULT 0 CHECK (of_debt IN (0, 1))
    ) STRICT
    """,
    "CREATE INDEX IF NOT EXISTS entries_by_customer ON entries (customer, seq)",
    "CREATE INDEX IF NOT EXISTS entries_by_op ON entries (op_id)",
    "CREATE INDEX IF NOT EXISTS entries_by_block ON entries (block_id) WHERE block_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS entries_by_ref ON entries (ref) WHERE ref IS NOT NULL",
    # the ledger is append-only: history is never rewritten
    """
    CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only: an entry cannot be changed'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only: an entry cannot be deleted'); END
    """,
    """
    CREATE TABLE IF NOT EXISTS operations (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        fingerprint TEXT NOT NULL CHECK (json_valid(fingerprint)),
        op_id TEXT NOT NULL,
        customer TEXT NOT NULL,
        result TEXT NOT NULL CHECK (json_valid(result)),
        PRIMARY KEY (namespace, key)
    ) STRICT, WITHOUT ROWID
    """,
)


def _create_schema(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_1:
        db.execute(statement)


#: The forward migrations, in order. Append to this list; never edit an applied one.
MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (("0001_initial", _create_schema),)
# (appended below: 0002_snapshots)

# -- rows <-> state ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def _optional_micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _time(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _optional_time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _metadata_text(metadata: Mapping[str, str]) -> str | None:
    return _json(dict(metadata)) if metadata else None


def _metadata(text: str | None) -> dict[str, str]:
    return json.loads(text) if text else {}


_BLOCK_COLUMNS = (
    "id", "customer", "unit", "number", "amount", "remaining", "held", "priority", "category", "cost_basis",
    "scope", "effective_at", "expires_at", "created_at", "description", "metadata", "origin", "settles_debt",
    "settle_pending", "void_closed", "emptied_by",
)  # fmt: skip
_HOLD_COLUMNS = (
    "id", "customer", "unit", "amount", "allocations", "status", "captured", "scope", "expires_at", "created_at",
    "settled_at", "settled_by", "op_id", "description", "metadata",
)  # fmt: skip
_ENTRY_COLUMNS = (
    "seq", "op_id", "customer", "unit", "kind", "block_id", "hold_id", "amount", "available_after", "at",
    "description", "metadata", "ref", "of_debt",
)  # fmt: skip


def _upsert(table: str, columns: Sequence[str], key: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


_SELECT_BLOCK = f"SELECT {', '.join(_BLOCK_COLUMNS)} FROM blocks"
_SELECT_HOLD = f"SELECT {', '.join(_HOLD_COLUMNS)} FROM holds"
_SELECT_ENTRY = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM entries"
_UPSERT_BLOCK = _upsert("blocks", _BLOCK_COLUMNS, "id")
_UPSERT_HOLD = _upsert("holds", _HOLD_COLUMNS, "id")
_INSERT_ENTRY = f"INSERT INTO entries ({', '.join(_ENTRY_COLUMNS)}) VALUES ({', '.join('?' for _ in _ENTRY_COLUMNS)})"
_UPSERT_ACCOUNT = (
    "INSERT INTO accounts (customer, totals, last_at, next_number, settlements, first_seq) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (customer) DO UPDATE SET totals = excluded.totals, last_at = excluded.last_at, "
    "next_number = excluded.next_number, settlements = excluded.settlements, "
    "first_seq = COALESCE(accounts.first_seq, excluded.first_seq)"
)
_UPDATE_ACCOUNT = (
    "UPDATE accounts SET totals = ?2, last_at = ?3, next_number = ?4, settlements = ?5, "
    "first_seq = COALESCE(first_seq, ?6) WHERE customer = ?1"
)
_UPSERT_OPERATION = (
    "INSERT INTO operations (namespace, key, kind, fingerprint, op_id, customer, result) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (namespace, key) DO UPDATE SET kind = excluded.kind, fingerprint = excluded.fingerprint, "
    "op_id = excluded.op_id, customer = excluded.customer, result = excluded.result"
)


def _block_row(block: BlockState) -> tuple[Any, ...]:
    return (
        block.id,
        block.customer,
        block.unit,
        block.number,
        block.amount,
        block.remaining,
        block.held,
        block.priority,
        block.category,
        None if block.cost_basis is None else str(block.cost_basis),
        None if block.scope is None else _json(sorted(block.scope)),
        _micros(block.effective_at),
        _optional_micros(block.expires_at),
        _micros(block.created_at),
        block.description,
        _metadata_text(block.metadata),
        block.origin,
        int(block.settles_debt),
        int(block.settle_pending),
        int(block.void_closed),
        block.emptied_by,
    )


def _block(row: Sequence[Any]) -> BlockState:
    return BlockState(
        id=row[0],
        customer=row[1],
        unit=row[2],
        number=row[3],
        amount=row[4],
        remaining=row[5],
        held=row[6],
        priority=row[7],
        category=row[8],
        cost_basis=None if row[9] is None else Decimal(row[9]),
        scope=None if row[10] is None else frozenset(json.loads(row[10])),
        effective_at=_time(row[11]),
        expires_at=_optional_time(row[12]),
        created_at=_time(row[13]),
        description=row[14],
        metadata=_metadata(row[15]),
        origin=row[16],
        settles_debt=bool(row[17]),
        settle_pending=bool(row[18]),
        void_closed=bool(row[19]),
        emptied_by=row[20],
    )


def _hold_row(found: HoldState) -> tuple[Any, ...]:
    return (
        found.id,
        found.customer,
        found.unit,
        found.amount,
        _json([[block_id, amount] for block_id, amount in found.allocations]),
        found.status,
        found.captured,
        found.scope,
        _optional_micros(found.expires_at),
        _micros(found.created_at),
        _optional_micros(found.settled_at),
        found.settled_by,
        found.op_id,
        found.description,
        _metadata_text(found.metadata),
    )


def _hold(row: Sequence[Any]) -> HoldState:
    return HoldState(
        id=row[0],
        customer=row[1],
        unit=row[2],
        amount=row[3],
        allocations=tuple((block_id, amount) for block_id, amount in json.loads(row[4])),
        status=row[5],
        captured=row[6],
        scope=row[7],
        expires_at=_optional_time(row[8]),
        created_at=_time(row[9]),
        settled_at=_optional_time(row[10]),
        settled_by=row[11],
        op_id=row[12],
        description=row[13],
        metadata=_metadata(row[14]),
    )


def _entry_row(entry: EntryState) -> tuple[object, ...]:
    return (
        entry.seq,
        entry.op_id,
        entry.customer,
        entry.unit,
        entry.kind,
        entry.block_id,
        entry.hold_id,
        entry.amount,
        entry.available_after,
        _micros(entry.at),
        entry.description,
        _metadata_text(entry.metadata),
        entry.ref,
        int(entry.of_debt),
    )


def _entry(row: Sequence[Any]) -> EntryState:
    return EntryState(
        seq=row[0],
        op_id=row[1],
        customer=row[2],
        unit=row[3],
        kind=row[4],
        block_id=row[5],
        hold_id=row[6],
        amount=row[7],
        available_after=row[8],
        at=_time(row[9]),
        description=row[10],
        metadata=_metadata(row[11]),
        ref=row[12],
        of_debt=bool(row[13]),
    )


def _totals_text(totals: Mapping[str, UnitTotals]) -> str:
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
    return _json(name)


def _totals(text: str) -> dict[str, UnitTotals]:
    return {unit: UnitTotals(**figures) for unit, figures in json.loads(text).items()}


def _settlements_text(settlements: Mapping[str, tuple[tuple[str, int], ...]]) -> str:
    if not any(settlements.values()):
        return "{}" if not settlements else _json({unit: [] for unit in settlements})
    return _json({unit: [[block_id, amount] for block_id, amount in pairs] for unit, pairs in settlements.items()})


def _settlements(text: str) -> dict[str, tuple[tuple[str, int], ...]]:
    return {unit: tuple((b, a) for b, a in pairs) for unit, pairs in json.loads(text).items()}


# -- the result codec --------------------------------------------------------------------------

_RESULT_TYPES: dict[str, type[Result]] = {
    cls.__name__: cls
    for cls in (
        GrantResult,
        BurnResult,
        HoldResult,
        CaptureResult,
        ReleaseResult,
        VoidResult,
        ReverseResult,
        ChangeExpiryResult,
    )
}


def encode_result(result: Result) -> str:
    """A write's result as JSON text with a ``"type"`` tag: ``Decimal`` as strings,
    ``datetime`` as ISO 8601, nested blocks, holds and entries as objects.

    ``decode_result(encode_result(r)) == r`` for every result a ledger returns.
    """
    name = type(result).__name__
    if _RESULT_TYPES.get(name) is not type(result):
        raise TypeError(f"cannot store a {name}: only the result classes of creditcore.model are known")
    fields = _to_json(result)
    assert isinstance(fields, dict)
    return _json({"type": name, **fields})


def decode_result(text: str) -> Result:
    """The result that :func:`encode_result` turned into ``text``."""
    data = json.loads(text)
    name = data.pop("type")
    cls = _RESULT_TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown result type {name!r}")
    decoded = _from_json(cls, data)
    assert isinstance(decoded, Result)
    return decoded


def _to_json(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: _to_json(getattr(value, f.name)) for f in attrs.fields(typing.cast(Any, type(value)))}
    if isinstance(value, (frozenset, set)):
        return sorted(_to_json(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__} in a result")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(hint: Any, value: Any) -> Any:
    """``value`` read back as the type ``hint`` names (the field annotations of the model)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is types.UnionType or origin is typing.Union:
        (chosen,) = (a for a in args if a is not type(None))
        return _from_json(chosen, value)
    if hint is Decimal:
        return Decimal(_expect(value, str))
    if hint is datetime:
        return datetime.fromisoformat(_expect(value, str))
    if hint in (str, int, bool):
        return _expect(value, hint)
    if origin is tuple:
        items = _expect(value, list)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in items)
        return tuple(_from_json(a, v) for a, v in zip(args, items, strict=True))
    if origin is frozenset:
        return frozenset(_from_json(args[0], v) for v in _expect(value, list))
    if origin in (Mapping, dict):
        return {k: _from_json(args[1], v) for k, v in _expect(value, dict).items()}
    if isinstance(hint, type) and attrs.has(hint):
        data = _expect(value, dict)
        hints = _hints(hint)
        return hint(**{f.alias: _from_json(hints[f.name], data[f.name]) for f in attrs.fields(hint) if f.init})
    raise TypeError(f"cannot read back a value of type {hint!r}")


_V = TypeVar("_V")


def _expect(value: object, kind: type[_V]) -> _V:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected a {kind.__name__}, found {value!r}")
    return value


# -- errors ------------------------------------------------------------------------------------

_HINTS = {
    "SQLITE_BUSY": "another connection held the write lock for longer than busy_timeout",
    "SQLITE_LOCKED": "another connection held the write lock for longer than busy_timeout",
    "SQLITE_READONLY": "the file or its directory cannot be written: check the permissions",
    "SQLITE_CANTOPEN": "the file cannot be opened: check that the path and its directory exist",
    "SQLITE_NOTADB": "the file is not a SQLite database",
    "SQLITE_CORRUPT": "the file is damaged: restore it from a backup",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk failed to read or write",
    "SQLITE_CONSTRAINT": "a row broke a constraint of the schema; nothing was written",
}
# What a stored row that cannot be read back, or a value that cannot be stored, raises.
# what a statement or the decoding of a row that was altered outside the ledger can raise
_TRANSLATED = (sqlite3.Error, ValueError, TypeError, LookupError, AttributeError, ArithmeticError)


def _storage_error(action: str, where: str, error: BaseException) -> StorageError:
    name = getattr(error, "sqlite_errorname", None)
    detail = str(error) or type(error).__name__
    hint = next((text for prefix, text in _HINTS.items() if name and name.startswith(prefix)), None)
    if name:
        detail += f" [{name}]"
    if hint:
        detail += f"; {hint}"
    return StorageError(f"SQLite could not {action} ({where}): {detail}")


def _is_busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# -- sessions ----------------------------------------------------------------------------------

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _storage(
    action: str, *, write: bool = False
) -> Callable[[Callable[Concatenate[_Session, _P], _T]], Callable[Concatenate[_Session, _P], _T]]:
    """Run a session method inside its transaction and translate what goes wrong; a
    ``write`` runs only in a write transaction (never through a reader)."""

    def wrap(method: Callable[Concatenate[_Session, _P], _T]) -> Callable[Concatenate[_Session, _P], _T]:
        def run(self: _Session, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            if not self.conn.in_transaction:
                # SQLite ends a transaction on its own after some errors (a full disk, I/O):
                # what follows must not run, let alone commit statement by statement
                raise StorageError(
                    f"SQLite could not {action} ({self.where}): the transaction is no longer open "
                    "(SQLite rolled it back after an earlier error, or it has ended); nothing was written"
                )
            if write and not self.writing:
                raise StorageError(
                    f"SQLite could not {action} ({self.where}): this is a reader, which only reads; "
                    "nothing was written: write through SQLiteRepository.transaction()"
                )
            try:
                return method(self, *args, **kwargs)
            except CreditError:
                raise  # already the library's own
            except _TRANSLATED as error:
                raise _storage_error(action, self.where, error) from error

        functools.update_wrapper(run, method)
        return run

    return wrap


_SELECT_OPERATION = "SELECT namespace, key, kind, fingerprint, op_id, customer, result FROM operations"


def _operation(row: Sequence[Any]) -> OperationRecord:
    pairs = json.loads(row[3])
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair) for pair in pairs
    ):
        raise ValueError(f"a fingerprint is a list of [field, text] pairs, not {row[3][:80]!r}")
    return OperationRecord(
        namespace=row[0],
        key=row[1],
        kind=row[2],
        fingerprint=tuple((field, text) for field, text in pairs),
        op_id=row[4],
        customer=row[5],
        result=decode_result(row[6]),
    )


class _Session:
    """The reads and writes of one transaction on one connection (a Reader and a UnitOfWork)."""

    def __init__(self, conn: sqlite3.Connection, where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.conn = conn
        self.where = where
        self.snapshot_every = snapshot_every
        self.writing = False
        self.accounts: dict[str, AccountState] = {}
        """Inside write transactions: each customer's state as this connection last loaded
        or saved it (see :func:`_begin_write`)."""
        self.data_version: int | None = None
        self.last_seq: int | None = None
        """The last entry seq this connection wrote, while no other connection has committed
        since (see :func:`_begin_write`)."""
        self.since_snapshot: dict[str, int] = {}
        """Per customer, entries written since its last snapshot, as this connection counts
        them (a hint: a wrong count only takes a snapshot early or late)."""
        self.wrote = False
        self.witness: tuple[str, tuple[object, ...]] | None = None
        """A query that finds a row only if this transaction's first write was committed:
        how a COMMIT that reports an error is told apart from one that took effect."""
        # Decoded rows, by id: a row read back exactly as it was last seen gives back the same
        # (immutable) object instead of being decoded again. Only a byte-identical row is
        # reused, so what other connections write is always seen.
        self._blocks: dict[str, tuple[tuple[Any, ...], BlockState]] = {}
        self._holds: dict[str, tuple[tuple[Any, ...], HoldState]] = {}

    def _block(self, row: tuple[Any, ...]) -> BlockState:
        seen = self._blocks.get(row[0])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_block(row, _block(row))

    def _remember_block(self, row: tuple[Any, ...], block: BlockState) -> BlockState:
        if len(self._blocks) >= _DECODED_CACHE:
            self._blocks.clear()
        self._blocks[block.id] = (row, block)
        return block

    def _hold(self, row: tuple[Any, ...]) -> HoldState:
        seen = self._holds.get(row[0])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_hold(row, _hold(row))

    def _remember_hold(self, row: tuple[Any, ...], found: HoldState) -> HoldState:
        if len(self._holds) >= _DECODED_CACHE:
            self._holds.clear()
        self._holds[found.id] = (row, found)
        return found

    def _wrote(self, query: str, params: tuple[object, ...]) -> None:
        self.wrote = True
        if self.witness is None:
            self.witness = (query, params)

    # -- reads -----------------------------------------------------------------------------

    @_storage("read the units")
    def units(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT name, scale FROM units ORDER BY rowid").fetchall())

    @_storage("load an account")
    def load_account(self, customer: str) -> AccountState:
        if self.writing:
            known = self.accounts.get(customer)
            if known is not None:
                return known
        conn = self.conn
        row = conn.execute(
            "SELECT totals, last_at, next_number, settlements FROM accounts WHERE customer = ?", (customer,)
        ).fetchone()
        if row is None:
            return AccountState(customer=customer)
        blocks = conn.execute(f"{_SELECT_BLOCK} WHERE customer = ? AND remaining > 0 ORDER BY pos", (customer,))
        holds = conn.execute(f"{_SELECT_HOLD} WHERE customer = ? AND status = 'active' ORDER BY pos", (customer,))
        state = AccountState(
            customer=customer,
            blocks={b.id: b for b in map(self._block, blocks)},
            holds={h.id: h for h in map(self._hold, holds)},
            totals=_totals(row[0]),
            last_at=_optional_time(row[1]),
            next_number=row[2],
            settlements=_settlements(row[3]),
        )
        if self.writing:
            _remember_account(self, state)
        return state

    @_storage("read a customer's history")
    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        conn = self.conn
        return (
            [self._block(r) for r in conn.execute(f"{_SELECT_BLOCK} WHERE customer = ? ORDER BY pos", (customer,))],
            [self._hold(r) for r in conn.execute(f"{_SELECT_HOLD} WHERE customer = ? ORDER BY pos", (customer,))],
            [_entry(r) for r in conn.execute(f"{_SELECT_ENTRY} WHERE customer = ? ORDER BY seq", (customer,))],
        )

    @_storage("find a block")
    def find_block(self, block_id: str) -> BlockState | None:
        row = self.conn.execute(f"{_SELECT_BLOCK} WHERE id = ?", (block_id,)).fetchone()
        return None if row is None else self._block(row)

    @_storage("find a hold")
    def find_hold(self, hold_id: str) -> HoldState | None:
        row = self.conn.execute(f"{_SELECT_HOLD} WHERE id = ?", (hold_id,)).fetchone()
        return None if row is None else self._hold(row)

    @_storage("find an idempotency key")
    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        row = self.conn.execute(
            f"{_SELECT_OPERATION} WHERE namespace = ? AND key = ?",
            (namespace, key),
        ).fetchone()
        return None if row is None else _operation(row)

    @_storage("list the remembered operations")
    def operations(self) -> list[OperationRecord]:
        return [_operation(row) for row in self.conn.execute(f"{_SELECT_OPERATION} ORDER BY customer, namespace, key")]

    @_storage("list entries")
    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        if query.after_seq >= _INT64_MAX:
            return []  # no seq comes after it (SQLite's integers are 64-bit)
        clauses = ["seq > ?"]
        params: list[object] = [max(query.after_seq, 0)]
        for column, value in (
            ("customer", query.customer),
            ("unit", query.unit),
            ("block_id", query.block_id),
            ("op_id", query.op_id),
            ("ref", query.ref),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.kinds is not None:
            if not query.kinds:
                return []
            clauses.append(f"kind IN ({', '.join('?' for _ in query.kinds)})")
            params.extend(sorted(query.kinds))
        if query.since is not None:
            clauses.append("at >= ?")
            params.append(_micros(query.since))
        if query.until is not None:
            clauses.append("at < ?")
            params.append(_micros(query.until))
        # like the memory adapter: no limit for 0 or less, nor for more rows than SQLite can count
        params.append(query.limit if 0 < query.limit <= _INT64_MAX else -1)
        sql = f"{_SELECT_ENTRY} WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
        return [_entry(r) for r in self.conn.execute(sql, params)]

    @_storage("list the customers")
    def customers(self) -> list[str]:
        rows = self.conn.execute("SELECT customer FROM accounts WHERE first_seq IS NOT NULL ORDER BY first_seq")
        return [customer for (customer,) in rows]

    # -- writes ----------------------------------------------------------------------------

    @_storage("declare a unit", write=True)
    def add_unit(self, name: str, scale: int) -> None:
        self.conn.execute(
            "INSERT INTO units (name, scale) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET scale = excluded.scale",
            (name, scale),
        )
        self._wrote("SELECT 1 FROM units WHERE name = ? AND scale = ?", (name, scale))

    @_storage("save an account", write=True)
    def save(self, before: AccountState, after: AccountState, entries: Sequence[EntryState]) -> list[EntryState]:
        conn = self.conn
        customer = after.customer
        stored: list[EntryState] = []
        first: dict[str, int] = {}
        if entries:
            # the write lock is held (BEGIN IMMEDIATE), so the next rowids are ours
            last = self.last_seq
            if last is None:
                (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()
            for number, entry in enumerate(entries, start=last + 1):
                stored.append(entry.numbered(number))
                first.setdefault(entry.customer, number)
            self.last_seq = stored[-1].seq
        account = (
            customer,
            _totals_text(after.totals),
            _optional_micros(after.last_at),
            after.next_number,
            _settlements_text(after.settlements),
            first.get(customer),
        )
        # an account with a last entry has its row: an UPDATE (an upsert costs more), unless
        # the row is not there after all
        if before.last_at is None or conn.execute(_UPDATE_ACCOUNT, account).rowcount != 1:
            conn.execute(_UPSERT_ACCOUNT, account)
        for other, seq in first.items():
            if other != customer:
                conn.execute("UPDATE accounts SET first_seq = COALESCE(first_seq, ?) WHERE customer = ?", (seq, other))
        changed_blocks = [b for b in after.blocks.values() if before.blocks.get(b.id) is not b]
        if changed_blocks:
            _save_blocks(self, before, changed_blocks)
        changed_holds = [h for h in after.holds.values() if before.holds.get(h.id) is not h]
        if changed_holds:
            rows = [_hold_row(h) for h in changed_holds]
            if len(rows) == 1:  # execute costs less than executemany over one row
                conn.execute(_UPSERT_HOLD, rows[0])
            else:
                conn.executemany(_UPSERT_HOLD, rows)
            for row, found in zip(rows, changed_holds, strict=True):
                self._remember_hold(row, found)
        if stored:
            if len(stored) == 1:
                conn.execute(_INSERT_ENTRY, _entry_row(stored[0]))
            else:
                conn.executemany(_INSERT_ENTRY, map(_entry_row, stored))
            self._wrote("SELECT 1 FROM entries WHERE seq = ? AND op_id = ?", (stored[0].seq, stored[0].op_id))
            _keep_snapshots(self, before, after, stored)
        else:
            self.wrote = True
        if self.writing:
            _remember_account(self, after)
        return stored

    @_storage("read a customer's past")
    def past_history(self, customer: str, until: datetime) -> PastHistory:
        return _past_history(self, customer, until)

    @_storage("record an idempotency key", write=True)
    def record_operation(self, record: OperationRecord) -> None:
        self.conn.execute(
            _UPSERT_OPERATION,
            (
                record.namespace,
                record.key,
                record.kind,
                _json([list(pair) for pair in record.fingerprint]),
                record.op_id,
                record.customer,
                encode_result(record.result),
            ),
        )
        self._wrote(
            "SELECT 1 FROM operations WHERE namespace = ? AND key = ? AND op_id = ?",
            (record.namespace, record.key, record.op_id),
        )


# -- the repository ----------------------------------------------------------------------------


@attrs.define(eq=False)
class _Link:
    """One connection and what it is doing: ``mode`` is ``None``, ``"read"`` or ``"write"``."""

    conn: sqlite3.Connection
    session: _Session
    pid: int
    thread: threading.Thread
    mode: str | None = None
    stale: bool = False
    """A read that a write of the same thread committed after: a nested read must not reuse
    its snapshot."""


class SQLiteRepository:
    """A ledger stored in a SQLite file. Safe to share between threads; several processes
    may open the same file.

    ``durability="full"`` (default) makes every acknowledged write survive a power loss;
    ``"normal"`` is faster and survives a crash of the process, but may lose the last
    writes if the machine loses power. ``busy_timeout`` is SQLite's ``busy_timeout``, in
    seconds: how long a write waits for another connection's write to finish. A write that
    still finds the database locked is retried at ``BEGIN`` a few times with a short backoff
    (in all at most about ``4 * busy_timeout``) before it raises ``StorageError``.
    ``connection_factory`` is the ``sqlite3.Connection`` subclass every connection is made
    with (``sqlite3.connect``'s ``factory``): a seam to trace the statements the adapter runs,
    or to make one of them fail in a test.

    >>> from creditcore import Ledger
    >>> ledger = Ledger(SQLiteRepository(":memory:"))
    >>> ledger.grant("ada", 10).block.remaining
    Decimal('10')
    >>> ledger.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "full",
        busy_timeout: float = 5.0,
        connection_factory: type[sqlite3.Connection] = sqlite3.Connection,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        if not isinstance(durability, str) or durability not in DURABILITY:
            raise ValidationError("durability", f"{durability!r} is not one of: {', '.join(map(repr, DURABILITY))}")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or not math.isfinite(busy_timeout)
            or not 0 <= busy_timeout <= MAX_BUSY_TIMEOUT
        ):
            raise ValidationError(
                "busy_timeout",
                f"expected a number of seconds from 0 to {MAX_BUSY_TIMEOUT} (SQLite counts it in milliseconds "
                f"in a 32-bit int), got {busy_timeout!r}",
            )
        if not (isinstance(connection_factory, type) and issubclass(connection_factory, sqlite3.Connection)):
            raise ValidationError(
                "connection_factory", f"expected a subclass of sqlite3.Connection, got {connection_factory!r}"
            )
        self._path = _file_path(path)
        self._memory = self._path in (_MEMORY, "")
        self._where = "in memory" if self._memory else repr(self._path)
        self._durability = durability
        self._busy_timeout = float(busy_timeout)
        self._factory = connection_factory
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise ValidationError("snapshot_every", f"expected a whole number of entries >= 1, got {snapshot_every!r}")
        self._snapshot_every = snapshot_every
        self._closed = False
        self._guard = threading.Lock()
        self._local = threading.local()
        self._links: list[_Link] = []
        self._pid = os.getpid()
        # ":memory:" is one database per connection: one connection, used by one thread at a time
        self._turn = threading.RLock()
        self._shared: _Link | None = None
        link = self._open_link(first=True)
        try:
            self._migrate(link)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._durability
        return f"SQLiteRepository({self._path!r}, {state})"

    @property
    def path(self) -> str:
        return self._path

    @property
    def durability(self) -> str:
        return self._durability

    # -- connections -------------------------------------------------------------------------

    def _connect(self, *, first: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,  # we issue BEGIN / COMMIT / ROLLBACK ourselves
                check_same_thread=False,  # only its own thread uses it; close() may come from another
                factory=self._factory,
            )
        except sqlite3.Error as error:
            raise _storage_error("open the database", self._where, error) from error
        try:
            self._configure(conn, first=first)
        except BaseException:
            conn.close()
            raise
        return conn

    def _configure(self, conn: sqlite3.Connection, *, first: bool = False) -> None:
        level = DURABILITY[self._durability]
        try:
            conn.execute(f"PRAGMA busy_timeout = {round(self._busy_timeout * 1000)}")
            if first and not self._memory:
                # before anything (journal_mode too) changes the file
                self._with_busy_retry(lambda: _check_ledger_file(conn, self._where, self._path))
            if not self._memory:
                mode = self._with_busy_retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
                if str(mode).lower() != "wal":
                    raise StorageError(
                        f"SQLite could not switch {self._where} to WAL mode (journal_mode is {mode!r}); "
                        "the file system may not support it"
                    )
            conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS_NAMES[level]}")
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA synchronous").fetchone()[0] != level:
                raise StorageError(f"SQLite did not accept synchronous={_SYNCHRONOUS_NAMES[level]} for {self._where}")
            if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
                raise StorageError(f"SQLite did not accept foreign_keys=ON for {self._where}")
        except sqlite3.Error as error:
            raise _storage_error("open the database", self._where, error) from error

    def _open_link(self, *, first: bool = False) -> _Link:
        conn = self._connect(first=first)
        link = _Link(
            conn=conn,
            session=_Session(conn, self._where, self._snapshot_every),
            pid=os.getpid(),
            thread=threading.current_thread(),
        )
        with self._guard:
            # connections of threads that have ended are closed here, not leaked
            for dead in [x for x in self._links if not x.thread.is_alive()]:
                self._links.remove(dead)
                _close_quietly(dead.conn)
            self._links.append(link)
        if self._memory:
            self._shared = link
        else:
            self._thread_links().append(link)
        return link

    def _thread_links(self) -> list[_Link]:
        """This thread's connections (a file only): the first for writes and reads, more only
        while one of them has a transaction open (see :meth:`reader`)."""
        if os.getpid() != self._pid:
            self._after_fork()
        links: list[_Link] | None = getattr(self._local, "links", None)
        if links is None:
            links = self._local.links = []
        return links

    def _after_fork(self) -> None:
        # a connection must never cross a fork: forget the parent's without closing them
        # (closing would release locks that belong to the parent), and open new ones
        self._pid = os.getpid()
        self._guard = threading.Lock()
        self._local = threading.local()
        self._links = []

    @contextmanager
    def _here(self) -> Iterator[list[_Link]]:
        """This thread's connections, for the life of the block: for ``":memory:"`` the one
        shared connection, which the thread holds (its turn) until the block ends."""
        if self._closed:
            raise StorageError(f"this SQLiteRepository ({self._where}) is closed")
        if not self._memory:
            yield self._thread_links()
            return
        if not self._turn.acquire(timeout=self._busy_timeout):
            raise StorageError(
                f"SQLite could not start a transaction ({self._where}): another thread held the database "
                f"for longer than busy_timeout={self._busy_timeout}s"
            )
        try:
            if self._closed or self._shared is None:
                raise StorageError(f"this SQLiteRepository ({self._where}) is closed")
            yield [self._shared]
        finally:
            self._turn.release()

    @contextmanager
    def _link(self) -> Iterator[_Link]:
        """This thread's first connection."""
        with self._here() as links:
            yield links[0] if links else self._open_link()

    def _free_link(self, links: list[_Link], purpose: str) -> _Link:
        """A connection of this thread with no transaction open (a new one if every one has)."""
        for link in links:
            if link.mode is None:
                return link
        if self._memory:
            raise StorageError(
                f"SQLite could not {purpose} ({self._where}): this thread already has a transaction open on the "
                "in-memory database (a batch, Ledger.atomic(), or a read opened by another asyncio task or a "
                "suspended generator of this thread), and an in-memory database has one connection: finish "
                "that one first, or use a file, whose reads never wait"
            )
        return self._open_link()

    def _with_busy_retry(self, attempt: Callable[[], _T]) -> _T:
        delay = _BACKOFF
        for remaining in range(_BEGIN_ATTEMPTS - 1, -1, -1):
            try:
                return attempt()
            except sqlite3.OperationalError as error:
                if not remaining or not _is_busy(error):
                    raise
            time.sleep(delay * (1 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _begin(self, link: _Link, sql: str) -> None:
        link.session.wrote = False
        link.session.witness = None
        if link.conn.in_transaction:
            # left open by something that failed half-way: it holds nothing of ours
            self._rollback(link)
        try:
            self._with_busy_retry(lambda: link.conn.execute(sql))
        except sqlite3.Error as error:
            # an interrupted BEGIN may have opened the transaction without its lock
            self._rollback(link)
            raise _storage_error("start a transaction", self._where, error) from error
        except BaseException:
            # interrupted (KeyboardInterrupt, an exception from a signal handler) once BEGIN
            # ran: the transaction must not stay open, holding the write lock
            self._rollback(link)
            raise

    def _end(self, link: _Link, ok: bool) -> None:
        """COMMIT (``ok``) or ROLLBACK the link's transaction.

        A COMMIT that fails with the transaction still open is rolled back and raises. One
        that fails after SQLite ended the transaction may have rolled back (a full disk) or
        taken effect (an interruption at its very end): the session's witness tells which,
        so that an error always means "nothing was written".
        """
        conn = link.conn
        if not ok:
            self._rollback(link)
            return
        try:
            conn.execute("COMMIT")
            return
        except sqlite3.Error as error:
            failure = _storage_error("commit", self._where, error)
            if conn.in_transaction:
                self._rollback(link)
                raise failure from error
            if self._committed(link):
                return
            raise failure from error
        except BaseException:
            # interrupted before COMMIT ran: end the transaction, or it keeps the write lock
            # (and what it wrote) until this thread's next use of the connection
            if conn.in_transaction:
                self._rollback(link)
            raise

    def _committed(self, link: _Link) -> bool:
        session = link.session
        if not session.wrote:
            return True  # nothing to lose
        if session.witness is None:
            raise StorageError(
                f"SQLite could not commit ({self._where}) and whether the write took effect is unknown: "
                "read the ledger before retrying it"
            )
        query, params = session.witness
        try:
            return link.conn.execute(query, params).fetchone() is not None
        except sqlite3.Error as error:
            raise StorageError(
                f"SQLite could not commit ({self._where}) and whether the write took effect is unknown "
                f"({error}): read the ledger before retrying it"
            ) from error

    def _rollback(self, link: _Link) -> None:
        """End the link's transaction, if one is open, without keeping what it wrote.

        A ROLLBACK that fails is tried once more; if that fails too, the connection is in an
        unknown state: it is dropped (the next use opens a new one), and SQLite rolls back
        what was not committed when the connection closes (which it does only once no
        cursor of it is still referenced, e.g. by the traceback of the error being raised:
        hence the second try). An interruption is let through only once the transaction has
        ended.
        """
        interrupted: BaseException | None = None
        for _ in range(2):
            try:
                if link.conn.in_transaction:
                    link.conn.execute("ROLLBACK")
                break
            except sqlite3.Error:
                continue
            except BaseException as error:
                interrupted = interrupted or error
        else:
            self._discard(link)
        if interrupted is not None:
            raise interrupted

    def _discard(self, link: _Link) -> None:
        with self._guard:
            if link in self._links:
                self._links.remove(link)
        _close_quietly(link.conn)
        if self._memory:
            self._shared = None
        else:
            links: list[_Link] | None = getattr(self._local, "links", None)
            if links is not None and link in links:
                links.remove(link)

    # -- the port ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        """A write: ``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises.

        Writes are serialised: a write waits (``busy_timeout``) for another thread's or
        process's. One that this thread has open already is not waited for (it could never
        finish while this thread waits): a second write of the thread raises
        ``StorageError`` at once."""
        with self._here() as links:
            if any(link.mode == "write" for link in links):
                raise StorageError(
                    f"SQLite could not start a transaction ({self._where}): this thread already has a write "
                    "transaction open (a batch, Ledger.atomic(), opened by another asyncio task or by a "
                    "suspended generator of this thread, or a transaction() not yet ended); waiting for it here "
                    "would block the thread for good: end that batch first, or write from another thread"
                )
            link = self._free_link(links, "start a transaction")
            for other in links:
                if other.mode == "read":
                    other.stale = True  # it will not see what this write commits
            self._begin(link, "BEGIN IMMEDIATE")
            link.mode = "write"
            try:
                _begin_write(link.session)
                yield link.session
            except BaseException as error:
                link.mode = None
                _end_write(link.session, kept=False)
                self._end(link, ok=False)
                if isinstance(error, sqlite3.Error):
                    raise _storage_error("write", self._where, error) from error
                raise
            link.mode = None
            try:
                self._end(link, ok=True)
            except BaseException:
                _end_write(link.session, kept=False)
                raise
            _end_write(link.session, kept=True)

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        """A consistent snapshot of what is committed: a deferred ``BEGIN``, ended with
        ``ROLLBACK`` (a read has nothing to commit). Reads only: a write through it raises
        ``StorageError``.

        A read never sees a write transaction that is still open, not even one of its own
        thread (a batch of another asyncio task): while this thread has one open, the read
        runs on another connection of the thread (WAL: it does not wait). An in-memory
        database has one connection: there, such a read raises ``StorageError``. A read
        inside a read of the same thread shares its snapshot."""
        with self._here() as links:
            for link in reversed(links):
                if link.mode == "read" and not link.stale:
                    yield link.session  # a read inside a read: the same snapshot
                    return
            link = self._free_link(links, "read")
            self._begin(link, "BEGIN")
            link.mode = "read"
            try:
                yield link.session
            except sqlite3.Error as error:
                raise _storage_error("read", self._where, error) from error
            finally:
                link.mode = None
                link.stale = False
                self._rollback(link)  # a read has nothing to commit

    def __enter__(self) -> SQLiteRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this repository opened, in every thread (call it once no
        operation is running). Closing twice is fine; using it afterwards raises
        ``StorageError``."""
        self._closed = True
        if self._memory and self._turn.acquire(timeout=self._busy_timeout):
            self._turn.release()  # the thread that was using it has finished
        with self._guard:
            links, self._links = self._links, []
        self._shared = None
        self._local = threading.local()
        errors = []
        for link in links:
            if link.pid != os.getpid():
                continue  # the parent process's: not ours to close
            try:
                link.conn.close()
            except sqlite3.Error as error:
                errors.append(error)
        if errors:
            raise _storage_error("close the database", self._where, errors[0]) from errors[0]

    # -- inspection --------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for inspection (``PRAGMA``, ``EXPLAIN``) and tests.

        Do not open or end transactions on it: use :meth:`transaction` and :meth:`reader`.
        """
        with self._link() as link:
            return link.conn

    def settings(self) -> dict[str, object]:
        """The settings of this thread's connection as SQLite reports them, e.g.
        ``{"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}``."""
        with self._link() as link:
            try:
                return {
                    name: link.conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }
            except sqlite3.Error as error:
                raise _storage_error("read its settings", self._where, error) from error

    def schema_version(self) -> list[str]:
        """The names of the migrations applied to the file, oldest first."""
        with self.reader(), self._link() as link:
            try:
                return _applied(link.conn)
            except sqlite3.Error as error:
                raise _storage_error("read the schema version", self._where, error) from error

    # -- schema --------------------------------------------------------------------------------

    def _migrate(self, link: _Link) -> None:
        """Bring the schema forward. Runs under the write lock, so that two processes opening
        a new file at once do not both create it."""
        known = [name for name, _ in MIGRATIONS]
        try:
            applied = _applied(link.conn)
            newer = [name for name in applied if name not in known]
            if newer:
                raise StorageError(
                    f"{self._where} was written by a newer version of creditcore (schema migrations "
                    f"{', '.join(newer)} are unknown to this one): upgrade creditcore to open it"
                )
            if all(name in applied for name in known):
                return
            self._begin(link, "BEGIN IMMEDIATE")
            try:
                _check_ledger_file(link.conn, self._where, self._path)  # again, now that no one else writes
                _apply_migrations(link.conn)
            except BaseException:
                self._end(link, ok=False)
                raise
            self._end(link, ok=True)
            missing = [name for name in known if name not in _applied(link.conn)]
            if missing:
                raise StorageError(f"SQLite could not migrate {self._where}: {', '.join(missing)} did not apply")
        except sqlite3.Error as error:
            raise _storage_error("create or migrate the schema", self._where, error) from error


def _file_path(path: object) -> str:
    """``path`` as the text ``sqlite3.connect`` takes, or ``ValidationError(field="path")``."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError("path", f"expected a file path or ':memory:', got {type(path).__name__}")
    try:
        text = os.fspath(path)
    except TypeError as error:  # a PathLike whose __fspath__ gives something else
        raise ValidationError("path", f"{path!r} is not a file path: {error}") from None
    if not isinstance(text, str):
        raise ValidationError("path", f"expected a file path as text, got {type(text).__name__} from {path!r}")
    if "\0" in text:
        raise ValidationError("path", f"{text!r} contains a NUL character, which no file name can hold")
    return text


def _database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    # our connection as it is: no plugins, no PRAGMA changes
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def _applied(conn: sqlite3.Connection) -> list[str]:
    """Applied migration names, from either bookkeeping table (a table of the same name that
    another application made, with other columns, records nothing of ours)."""
    names: list[str] = []
    if {"migration_set", "name", "id"} <= {column[0] for column in _columns(conn, "_sqlite_migrations")}:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", (_MIGRATION_SET,)
        )
        names.extend(name for (name,) in rows)
    if _columns(conn, "schema_version") == _SCHEMA_VERSION_COLUMNS:
        versions = [name for (name,) in conn.execute("SELECT name FROM schema_version ORDER BY version")]
        # ours starts with our first migration (another application's may have the same columns)
        if versions and versions[0] == MIGRATIONS[0][0]:
            names.extend(name for name in versions if name not in names)
    return names


# -- what a ledger file holds ----------------------------------------------------------------------
#
# Opening a file checks, before anything is written to it, that it is empty or a creditcore
# ledger: a file with other tables and no record of creditcore's migrations belongs to another
# application, and a table with one of creditcore's names but other columns cannot hold a
# ledger (CREATE TABLE IF NOT EXISTS would keep it, and the first write would fail or, worse,
# a migration would be recorded as applied). Such a file is refused and left as it was.

_Columns = tuple[tuple[str, str, int, int], ...]
_SCHEMA_VERSION_COLUMNS: _Columns = (
    ("version", "INTEGER", 0, 1),
    ("name", "TEXT", 1, 0),
    ("applied_at", "TEXT", 1, 0),
)


def _columns(conn: sqlite3.Connection, table: str) -> _Columns:
    """A table's columns as (name, declared type, NOT NULL, position in the primary key); ``()``
    for a table that does not exist."""
    rows = conn.execute('SELECT name, upper(type), "notnull", pk FROM pragma_table_info(?) ORDER BY cid', (table,))
    return tuple((name, kind, notnull, pk) for name, kind, notnull, pk in rows)


def _tables(conn: sqlite3.Connection, kinds: tuple[str, ...] = ("table",)) -> list[str]:
    """The names of the file's tables (or other ``kinds`` of schema object), without SQLite's
    own (``sqlite_sequence``, ``sqlite_stat1``, ``sqlite_autoindex_...``)."""
    rows = conn.execute(
        f"SELECT name FROM sqlite_master WHERE type IN ({', '.join('?' for _ in kinds)}) ORDER BY name", kinds
    )
    return [name for (name,) in rows if not name.startswith("sqlite_")]


_EVERY_KIND = ("table", "index", "view", "trigger")


@functools.cache
def _ledger_schema() -> tuple[dict[str, _Columns], dict[str, tuple[str, ...]], frozenset[str]]:
    """The columns of every table creditcore's migrations make, the tables each migration
    makes, and the names of everything they make (indexes and triggers too), read from an
    in-memory database the migrations ran on."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db = _database(conn)
        made: dict[str, tuple[str, ...]] = {}
        for name, step in MIGRATIONS:
            before = set(_tables(conn))
            step(db)
            made[name] = tuple(t for t in _tables(conn) if t not in before)
        columns = {t: _columns(conn, t) for t in _tables(conn)}
        return columns, made, frozenset(_tables(conn, _EVERY_KIND))
    finally:
        conn.close()


_HEADER = b"SQLite format 3\x00"


def _check_header(path: str, where: str) -> None:
    """Refuse a file that has content but is not a SQLite database (SQLite takes a one-byte
    file for an empty database, and would write over it)."""
    try:
        with open(path, "rb") as file:
            start = file.read(len(_HEADER))
    except OSError:
        return  # missing (it will be created), or not a file: SQLite says what is wrong
    if start and start != _HEADER:
        raise StorageError(
            f"SQLite will not use {where}: the file is not a SQLite database (it has content, but not "
            "SQLite's header); nothing was written to it: give creditcore a file of its own"
        )


def _check_ledger_file(conn: sqlite3.Connection, where: str, path: str) -> None:
    """Refuse (``StorageError``) a file that is neither empty nor a creditcore ledger. Reads only."""
    found = _tables(conn, _EVERY_KIND)  # SQLite refuses most files that are not a database here
    if not found:
        _check_header(path, where)
        return  # a new or empty file
    columns, made, ours = _ledger_schema()
    wrong = [t for t in found if t in columns and _columns(conn, t) != columns[t]]
    if wrong:
        raise StorageError(
            f"SQLite will not use {where} as a ledger: its table(s) {', '.join(map(repr, wrong))} do not have the "
            "columns creditcore keeps in them (the file belongs to another application, or is damaged); nothing "
            "was written to it: give creditcore a file of its own"
        )
    applied = _applied(conn)
    if applied:
        missing = [t for name in applied for t in made.get(name, ()) if t not in found]
        if missing:
            raise StorageError(
                f"SQLite will not use {where}: it records creditcore's schema, but its table(s) "
                f"{', '.join(map(repr, missing))} are missing; the file is damaged: restore it from a backup"
            )
        return
    foreign = [t for t in found if t not in ours]
    if foreign:
        shown = ", ".join(map(repr, foreign[:5])) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise StorageError(
            f"SQLite will not use {where} as a ledger: it is a database of another application ({shown}) "
            "and holds no creditcore ledger; nothing was written to it: give creditcore a file of its own "
            "(a new path is created)"
        )


def _apply_migrations(conn: sqlite3.Connection) -> None:
    """Apply the pending migrations inside the caller's transaction (sqlite-utils nests
    each one in a savepoint)."""
    db = _database(conn)
    if _Migrations is not None:
        migrations = _Migrations(_MIGRATION_SET)
        for name, step in MIGRATIONS:
            migrations(name=name)(step)
        migrations.apply(db)
        return
    # older sqlite-utils: a version table of our own
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "applied_at TEXT NOT NULL)"
    )
    done = {name for (name,) in conn.execute("SELECT name FROM schema_version")}
    for version, (name, step) in enumerate(MIGRATIONS, start=1):
        if name not in done:
            step(db)
            db.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )


def _close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.close()


# -- snapshots of account state ------------------------------------------------------------------
#
# A snapshot is a cache of a customer's account state (live blocks, active holds, totals) right
# after one of its entries, so that a past balance replays only the entries since the nearest
# snapshot. It is dated by the customer's last entry then, and every entry after it must be
# dated at or after it: a write that appends an earlier one drops the snapshots it precedes.

_SNAPSHOT_MEMO = 20_000


def _create_snapshots(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS snapshots (
            customer TEXT NOT NULL REFERENCES accounts (customer),
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (json_valid(state)),
            PRIMARY KEY (customer, seq)
        ) STRICT, WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS snapshots_by_time ON snapshots (customer, at)")


MIGRATIONS = (*MIGRATIONS, ("0002_snapshots", _create_snapshots))


def _snapshot_text(state: AccountState) -> str:
    return _json(
        {
            "blocks": [list(_block_row(b)) for b in state.blocks.values() if b.remaining > 0],
            "holds": [list(_hold_row(h)) for h in state.holds.values() if h.status == "active"],
            "totals": _totals_text(state.totals),
            "last_at": _optional_micros(state.last_at),
            "next_number": state.next_number,
            "settlements": _settlements_text(state.settlements),
        }
    )


def _snapshot(session: _Session, customer: str, text: str) -> AccountState:
    data = json.loads(text)
    return AccountState(
        customer=customer,
        blocks={b.id: b for b in (session._block(tuple(row)) for row in data["blocks"])},
        holds={h.id: h for h in (session._hold(tuple(row)) for row in data["holds"])},
        totals=_totals(data["totals"]),
        last_at=_optional_time(data["last_at"]),
        next_number=data["next_number"],
        settlements=_settlements(data["settlements"]),
    )


def _keep_snapshots(session: _Session, before: AccountState, after: AccountState, stored: list[EntryState]) -> None:
    """After a save: drop the snapshots its entries are dated before, and take one when
    enough entries have piled up since the last."""
    conn = session.conn
    customer = after.customer
    earliest = min(e.at for e in stored)
    since = session.since_snapshot.get(customer)
    if before.last_at is None or earliest < before.last_at:
        # the only case in which an entry may be dated before a snapshot (a customer's
        # history only moves forward, so this finds nothing unless that promise broke)
        conn.execute("DELETE FROM snapshots WHERE customer = ? AND at > ?", (customer, _micros(earliest)))
        since = None
    if since is None and before.last_at is None:
        since = len(stored)  # a customer's first entries: nothing before them to count
    elif since is None:
        row = conn.execute(
            "SELECT seq FROM snapshots WHERE customer = ? ORDER BY seq DESC LIMIT 1", (customer,)
        ).fetchone()
        (since,) = conn.execute(
            "SELECT COUNT(*) FROM entries WHERE customer = ? AND seq > ?", (customer, row[0] if row else 0)
        ).fetchone()
    else:
        since += len(stored)
    if (
        since >= session.snapshot_every
        and after.last_at is not None
        and since
        >= sum(1 for b in after.blocks.values() if b.remaining > 0)
        + sum(1 for h in after.holds.values() if h.status == "active")
    ):
        conn.execute(
            "INSERT INTO snapshots (customer, seq, at, state) VALUES (?, ?, ?, ?)",
            (customer, stored[-1].seq, _micros(after.last_at), _snapshot_text(after)),
        )
        since = 0
    if len(session.since_snapshot) >= _SNAPSHOT_MEMO:
        session.since_snapshot.clear()
    session.since_snapshot[customer] = since


def _past_history(session: _Session, customer: str, until: datetime) -> PastHistory:
    conn = session.conn
    moment = _micros(until)
    row = conn.execute(
        "SELECT seq, state FROM snapshots WHERE customer = ? AND at <= ? ORDER BY at DESC, seq DESC LIMIT 1",
        (customer, moment),
    ).fetchone()
    start = None if row is None else _snapshot(session, customer, row[1])
    after = 0 if row is None else row[0]
    # no entry after the next snapshot is dated before it, so none is needed
    (last,) = conn.execute(
        "SELECT MIN(seq) FROM snapshots WHERE customer = ? AND at > ?", (customer, moment)
    ).fetchone()
    rows = conn.execute(
        f"{_SELECT_ENTRY} WHERE customer = ? AND seq > ? AND seq <= ? AND at <= ? ORDER BY seq",
        (customer, after, _INT64_MAX if last is None else last, moment),
    )
    entries = [_entry(r) for r in rows]
    held = start.blocks if start is not None else {}
    block_ids = sorted({e.block_id for e in entries if e.block_id is not None and e.block_id not in held})
    hold_ids = {e.hold_id for e in entries if e.hold_id is not None}
    if start is not None:
        hold_ids.update(start.holds)
    return PastHistory(
        start=start,
        blocks=[session._block(r) for r in _rows_by_id(conn, _SELECT_BLOCK, block_ids)],
        holds=[session._hold(r) for r in _rows_by_id(conn, _SELECT_HOLD, sorted(hold_ids))],
        entries=entries,
    )


def _rows_by_id(conn: sqlite3.Connection, select: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        rows.extend(conn.execute(f"{select} WHERE id IN ({', '.join('?' for _ in chunk)}) ORDER BY pos", chunk))
    return rows


# -- the write path's own cache ------------------------------------------------------------------
#
# A write transaction loads the account it changes. The connection keeps each account's state
# as it last loaded or saved it, and inside a write transaction a load returns that state
# without asking SQLite, as long as no other connection has committed since: PRAGMA
# data_version changes exactly when another connection (of this process or another) commits
# to the file, and the check runs after BEGIN IMMEDIATE, when the write lock is held. A write
# transaction that does not commit drops everything kept. Reads always ask SQLite.

_ACCOUNTS_KEPT = 20_000
_UPDATE_BLOCK_FIGURES = (
    "UPDATE blocks SET remaining = ?, held = ?, settle_pending = ?, void_closed = ?, emptied_by = ? WHERE id = ?"
)


def _begin_write(session: _Session) -> None:
    (version,) = session.conn.execute("PRAGMA data_version").fetchone()
    if version != session.data_version:
        session.accounts.clear()
        session.last_seq = None
        session.data_version = version
    session.writing = True


def _end_write(session: _Session, *, kept: bool) -> None:
    """After a write transaction: what it did not commit (whatever step failed) leaves
    nothing behind in the session."""
    session.writing = False
    if not kept:
        session.accounts.clear()
        session.last_seq = None
        session.since_snapshot.clear()


def _remember_account(session: _Session, state: AccountState) -> None:
    """Keep the state as a load would give it back: blocks with credit left, active holds."""
    if len(session.accounts) >= _ACCOUNTS_KEPT:
        session.accounts.clear()
    session.accounts[state.customer] = state.live()


def _fixed(block: BlockState) -> tuple[object, ...]:
    """What of a block no entry changes."""
    return (
        block.customer, block.unit, block.number, block.amount, block.priority, block.category, block.cost_basis,
        block.scope, block.effective_at, block.expires_at, block.created_at, block.description, block.metadata,
        block.origin, block.settles_debt,
    )  # fmt: skip


def _save_blocks(session: _Session, before: AccountState, changed: list[BlockState]) -> None:
    """A block the account had before whose figures alone moved is an UPDATE of those
    columns (its indexed columns stay put); any other is written whole."""
    figures: list[tuple[object, ...]] = []
    whole: list[BlockState] = []
    for block in changed:
        old = before.blocks.get(block.id)
        if old is not None and _fixed(old) == _fixed(block):
            figures.append(
                (
                    block.remaining,
                    block.held,
                    int(block.settle_pending),
                    int(block.void_closed),
                    block.emptied_by,
                    block.id,
                )
            )
            session._blocks.pop(block.id, None)  # decoded again from its new row when next read
        else:
            whole.append(block)
    # execute costs less than executemany over one row, the usual case
    if len(figures) == 1:
        session.conn.execute(_UPDATE_BLOCK_FIGURES, figures[0])
    elif figures:
        session.conn.executemany(_UPDATE_BLOCK_FIGURES, figures)
    if whole:
        rows = [_block_row(b) for b in whole]
        if len(rows) == 1:
            session.conn.execute(_UPSERT_BLOCK, rows[0])
        else:
            session.conn.executemany(_UPSERT_BLOCK, rows)
        for row, block in zip(rows, whole, strict=True):
            session._remember_block(row, block)

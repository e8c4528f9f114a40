"""Hand-written floors: the least code that does the same work as the ledger.

- :class:`DictFloor`: plain Python lists and dicts, against the memory adapter.
- :class:`LeanFloor`: the least an application writing its own ledger in raw ``sqlite3``
  would do: a blocks table and an entries table, each indexed by customer, INTEGER keys.
- :class:`SchemaFloor`: raw ``sqlite3`` statements on the ledger's own schema (its tables,
  indexes, triggers and account rows): what the ledger's statements cost without its Python.
- :class:`PgLeanFloor`: the lean floor in raw ``psycopg`` on PostgreSQL, with the row lock
  (``SELECT ... FOR UPDATE``) a burn needs there.

Every floor draws blocks in the ledger's default burn order for this workload (priority,
then expiry with never-expiring last, then creation order), skips blocks that are not
active, burns what there is (``overdraft="partial"``), writes one entry per block touched
with the customer's available balance after it, and updates the blocks. They validate
nothing, keep no idempotency keys and build no result objects: that is the ledger's extra
work the ratios measure.

``remaining()`` gives each block's credit by ``(customer, grant number)``, so a test can
check that a floor burns the blocks the ledger burns.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.workload import START, BurnSpec, GrantSpec, HoldSpec

# -- the plain-dict floor ------------------------------------------------------------------

# a block: [sort key, block id, remaining, held, expires_at]
_KEY, _ID, _REMAINING, _HELD, _EXPIRES = range(5)


class DictFloor:
    """Blocks in plain lists kept in burn order, entries as tuples in one list."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[list[Any]]] = {}
        self.available: dict[str, int] = {}
        self.entries: list[tuple[Any, ...]] = []
        self.holds: dict[str, tuple[str, list[tuple[list[Any], int]]]] = {}
        self.ops = 0
        self.every: dict[tuple[str, int], list[Any]] = {}  # for remaining(), not for the burns

    def grant(self, spec: GrantSpec, at: datetime) -> None:
        self.ops += 1
        expires = spec.expires_at
        key = (spec.priority, 0 if expires is not None else 1, expires or at, spec.number)
        block = [key, f"{spec.customer}/{spec.number}", spec.amount, 0, expires]
        bisect.insort(self.blocks.setdefault(spec.customer, []), block, key=lambda b: b[_KEY])
        self.every[spec.customer, spec.number] = block
        available = self.available[spec.customer] = self.available.get(spec.customer, 0) + spec.amount
        entries = self.entries
        entries.append(
            (len(entries) + 1, self.ops, spec.customer, "grant", block[_ID], None, spec.amount, available, at)
        )

    def remaining(self) -> dict[tuple[str, int], int]:
        return {key: block[_REMAINING] for key, block in self.every.items()}

    def burn(self, spec: BurnSpec) -> int:
        self.ops += 1
        op, customer, at = self.ops, spec.customer, spec.at
        blocks = self.blocks.get(customer, [])
        entries = self.entries
        available = self.available.get(customer, 0)
        need = spec.amount
        emptied = False
        for block in blocks:
            free = block[_REMAINING] - block[_HELD]
            if free <= 0 or (block[_EXPIRES] is not None and block[_EXPIRES] <= at):
                continue
            take = need if need < free else free
            block[_REMAINING] -= take
            available -= take
            need -= take
            entries.append((len(entries) + 1, op, customer, "burn", block[_ID], None, take, available, at))
            if not block[_REMAINING]:
                emptied = True
            if not need:
                break
        if emptied:
            blocks[:] = [b for b in blocks if b[_REMAINING]]
        self.available[customer] = available
        return spec.amount - need

    def hold(self, spec: HoldSpec) -> bool:
        """Pin credit in burn order, all or nothing; False when there is not enough."""
        customer, at = spec.customer, spec.at
        blocks = self.blocks.get(customer, [])
        plan = []
        need = spec.amount
        for block in blocks:
            free = block[_REMAINING] - block[_HELD]
            if free <= 0 or (block[_EXPIRES] is not None and block[_EXPIRES] <= at):
                continue
            take = need if need < free else free
            plan.append((block, take))
            need -= take
            if not need:
                break
        if need:
            return False
        self.ops += 1
        op = self.ops
        available = self.available[customer]
        entries = self.entries
        for block, take in plan:
            block[_HELD] += take
            available -= take
            entries.append((len(entries) + 1, op, customer, "hold", block[_ID], spec.hold_id, take, available, at))
        self.available[customer] = available
        self.holds[spec.hold_id] = (customer, plan)
        return True

    def settle(self, spec: HoldSpec) -> int:
        """Capture ``spec.capture`` (or nothing, for a release) from the pinned blocks in
        burn order and release the rest; returns what was captured."""
        customer, plan = self.holds.pop(spec.hold_id)
        self.ops += 1
        op, at = self.ops, spec.at
        available = self.available[customer]
        entries = self.entries
        need = spec.capture or 0
        emptied = False
        for block, pinned in plan:
            take = need if need < pinned else pinned
            if take:
                block[_REMAINING] -= take
                block[_HELD] -= take
                need -= take
                entries.append(
                    (len(entries) + 1, op, customer, "capture", block[_ID], spec.hold_id, take, available, at)
                )
                emptied = emptied or not block[_REMAINING]
        captured = (spec.capture or 0) - need
        for block, pinned in plan:
            rest = pinned - min(pinned, captured)
            captured -= min(pinned, captured)
            if rest:
                block[_HELD] -= rest
                available += rest
                entries.append(
                    (len(entries) + 1, op, customer, "release", block[_ID], spec.hold_id, rest, available, at)
                )
        self.available[customer] = available
        if emptied:
            blocks = self.blocks[customer]
            blocks[:] = [b for b in blocks if b[_REMAINING]]
        return spec.capture or 0


# -- raw sqlite3: the lean floor -----------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    """A connection as the ledger's SQLite adapter sets its own: WAL and the given
    ``synchronous`` level; transactions begun by hand (``BEGIN IMMEDIATE``)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


_LEAN_SCHEMA = (
    """CREATE TABLE blocks (
        id INTEGER PRIMARY KEY,
        customer TEXT NOT NULL,
        priority INTEGER NOT NULL,
        expires_at INTEGER,  -- microseconds since 1970; NULL: never
        remaining INTEGER NOT NULL
    )""",
    "CREATE INDEX blocks_by_customer ON blocks (customer)",
    """CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        customer TEXT NOT NULL,
        kind TEXT NOT NULL,
        block_id INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        available_after INTEGER NOT NULL,
        at INTEGER NOT NULL
    )""",
    "CREATE INDEX entries_by_customer ON entries (customer)",
)
_LEAN_LIVE = (
    "SELECT id, remaining, expires_at FROM blocks WHERE customer = ? AND remaining > 0 "
    "ORDER BY priority, expires_at IS NULL, expires_at, id"
)
_LEAN_AVAILABLE = (
    "SELECT coalesce(sum(remaining), 0) FROM blocks "
    "WHERE customer = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?)"
)
_LEAN_ENTRY = "INSERT INTO entries (customer, kind, block_id, amount, available_after, at) VALUES (?, ?, ?, ?, ?, ?)"


def _lean_take(
    live: list[tuple[int, int]], amount: int, customer: str, at: int
) -> tuple[int, list[tuple[int, int]], list[tuple[Any, ...]]]:
    """A lean floor's burn of ``amount`` from ``live`` (``(block id, remaining)`` of the
    active blocks in burn order): what it burned, each block's new remaining, and the entries
    with the available balance after each (SQLite's and PostgreSQL's lean floors alike)."""
    available = sum(left for _, left in live)
    need = amount
    updates: list[tuple[int, int]] = []
    entries: list[tuple[Any, ...]] = []
    for block_id, left in live:
        take = need if need < left else left
        need -= take
        available -= take
        updates.append((left - take, block_id))
        entries.append((customer, "burn", block_id, take, available, at))
        if not need:
            break
    return amount - need, updates, entries


class LeanFloor:
    """The least an application writing its own ledger in raw ``sqlite3`` would do.

    Two tables: ``blocks`` (INTEGER key, the customer, priority, expiry, what is left) and
    ``entries`` (INTEGER key, one row per block a write touched, with the customer's
    available balance after it), each indexed by customer; no account row, no operation
    ids, no holds. A burn reads the customer's blocks with credit left in the default burn
    order, takes from the active ones, then updates them and inserts its entries with two
    ``executemany`` calls. A grant reads the customer's available balance (a sum over the
    blocks), then inserts the block and its entry. WAL and the ``synchronous`` level of the
    ledger run it is compared with.
    """

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = _connect(path, synchronous)
        for statement in _LEAN_SCHEMA:
            self.conn.execute(statement)
        self.keys: list[tuple[str, int]] = []
        """``(customer, grant number)`` of block ``i + 1``: for :meth:`remaining` only."""

    def close(self) -> None:
        self.conn.close()

    def remaining(self) -> dict[tuple[str, int], int]:
        rows = self.conn.execute("SELECT id, remaining FROM blocks ORDER BY id").fetchall()
        return {self.keys[block_id - 1]: left for block_id, left in rows}

    def grant(self, spec: GrantSpec, at: datetime) -> int:
        """One grant, in the caller's transaction; returns the amount granted."""
        conn, customer, when = self.conn, spec.customer, _micros(at)
        (available,) = conn.execute(_LEAN_AVAILABLE, (customer, when)).fetchone()
        expires = None if spec.expires_at is None else _micros(spec.expires_at)
        block_id = conn.execute(
            "INSERT INTO blocks (customer, priority, expires_at, remaining) VALUES (?, ?, ?, ?)",
            (customer, spec.priority, expires, spec.amount),
        ).lastrowid
        conn.execute(_LEAN_ENTRY, (customer, "grant", block_id, spec.amount, available + spec.amount, when))
        self.keys.append((customer, spec.number))
        return spec.amount

    def grants(self, specs: Iterable[GrantSpec]) -> int:
        """Every grant in one transaction, all at ``START``; returns the total granted."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        granted = sum(self.grant(spec, START) for spec in specs)
        conn.execute("COMMIT")
        return granted

    def burn(self, spec: BurnSpec) -> int:
        """One burn, in the caller's transaction; returns the amount burned."""
        conn, customer, at = self.conn, spec.customer, _micros(spec.at)
        live = [
            (b, left) for b, left, expires in conn.execute(_LEAN_LIVE, (customer,)) if expires is None or expires > at
        ]
        burned, updates, entries = _lean_take(live, spec.amount, customer, at)
        conn.executemany("UPDATE blocks SET remaining = ? WHERE id = ?", updates)
        conn.executemany(_LEAN_ENTRY, entries)
        return burned

    def burns_each(self, specs: Iterable[BurnSpec]) -> int:
        """One transaction per burn."""
        conn = self.conn
        burned = 0
        for spec in specs:
            conn.execute("BEGIN IMMEDIATE")
            burned += self.burn(spec)
            conn.execute("COMMIT")
        return burned

    def burns_together(self, specs: Iterable[BurnSpec]) -> int:
        """Every burn in one transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        burned = sum(self.burn(spec) for spec in specs)
        conn.execute("COMMIT")
        return burned


# -- raw sqlite3: the schema floor -----------------------------------------------------------

_SELECT_LIVE = (
    "SELECT pos, remaining, held, expires_at FROM blocks WHERE customer = ? AND live = 1 "
    "ORDER BY priority, expires_at IS NULL, expires_at, number"
)
_INSERT_ENTRY = (
    "INSERT INTO entries (op_id, customer, unit, kind, block_pos, amount, available_after, at) "
    "VALUES (?, ?, 'credits', ?, ?, ?, ?, ?)"
)


class SchemaFloor:
    """The ledger's own schema (tables, indexes, triggers, constraints, the account rows)
    written to with plain ``sqlite3`` calls: WAL, the given ``synchronous`` level,
    ``BEGIN IMMEDIATE`` per transaction.

    The file is made by ``Ledger.sqlite`` (so it is the schema of the code under test), but
    the statements below are written for the schema as it stood when this floor was: when
    the ledger's schema changes, they fail, and this floor needs the new columns.
    """

    def __init__(self, path: str, synchronous: str) -> None:
        from creditcore import Ledger

        Ledger.sqlite(path, durability=synchronous.lower()).close()  # the same schema, migrated
        self.conn = _connect(path, synchronous)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.ops = 0

    def close(self) -> None:
        self.conn.close()

    def remaining(self) -> dict[tuple[str, int], int]:
        rows = self.conn.execute("SELECT customer, number, remaining FROM blocks").fetchall()
        return {(customer, number): left for customer, number, left in rows}

    def grants(self, specs: Iterable[GrantSpec]) -> int:
        """All the grants in one transaction, all at ``START``; returns the total granted.
        Each customer's totals are written once, at the end (the floor of that row)."""
        conn = self.conn
        at = _micros(START)
        conn.execute("BEGIN IMMEDIATE")
        granted: dict[str, int] = {}
        for spec in specs:
            self.ops += 1
            granted[spec.customer] = granted.get(spec.customer, 0) + spec.amount
            block_id = f"{spec.customer}/{spec.number}"
            conn.execute(
                "INSERT INTO accounts (customer, last_at, next_number) VALUES (?, ?, 1) "
                "ON CONFLICT (customer) DO NOTHING",
                (spec.customer, at),
            )
            block_pos = conn.execute(
                "INSERT INTO blocks (id, customer, unit, number, amount, remaining, priority, category, "
                "effective_at, expires_at, created_at) VALUES (?, ?, 'credits', ?, ?, ?, ?, 'promotional', ?, ?, ?)",
                (
                    block_id,
                    spec.customer,
                    spec.number,
                    spec.amount,
                    spec.amount,
                    spec.priority,
                    at,
                    None if spec.expires_at is None else _micros(spec.expires_at),
                    at,
                ),
            ).lastrowid
            conn.execute(
                _INSERT_ENTRY,
                (f"op{self.ops}", spec.customer, "grant", block_pos, spec.amount, granted[spec.customer], at),
            )
        for customer, amount in granted.items():
            conn.execute(
                "INSERT INTO account_units (customer, unit, granted, last_at) VALUES (?, 'credits', ?, ?)",
                (customer, amount, at),
            )
        conn.execute("COMMIT")
        return sum(granted.values())

    def burn(self, spec: BurnSpec) -> int:
        """One burn, in the caller's transaction."""
        conn = self.conn
        self.ops += 1
        op, customer, at = f"op{self.ops}", spec.customer, _micros(spec.at)
        rows = conn.execute(_SELECT_LIVE, (customer,)).fetchall()
        available = sum(r - h for _, r, h, e in rows if e is None or e > at)
        need = spec.amount
        updates = []
        entries = []
        for block_pos, remaining, held, expires in rows:
            free = remaining - held
            if free <= 0 or (expires is not None and expires <= at):
                continue
            take = need if need < free else free
            need -= take
            available -= take
            left = remaining - take
            updates.append((left, None if left else "depleted", int(left > 0), block_pos))
            entries.append((op, customer, "burn", block_pos, take, available, at))
            if not need:
                break
        burned = spec.amount - need
        conn.executemany("UPDATE blocks SET remaining = ?, emptied_by = ?, live = ? WHERE pos = ?", updates)
        conn.executemany(_INSERT_ENTRY, entries)
        conn.execute(
            "UPDATE account_units SET used = used + ?, last_at = ? WHERE customer = ? AND unit = 'credits'",
            (burned, at, customer),
        )
        return burned

    def burns_each(self, specs: Iterable[BurnSpec]) -> int:
        """One transaction per burn."""
        conn = self.conn
        burned = 0
        for spec in specs:
            conn.execute("BEGIN IMMEDIATE")
            burned += self.burn(spec)
            conn.execute("COMMIT")
        return burned

    def burns_together(self, specs: Iterable[BurnSpec]) -> int:
        """Every burn in one transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        burned = sum(self.burn(spec) for spec in specs)
        conn.execute("COMMIT")
        return burned


# -- raw psycopg: the PostgreSQL lean floor --------------------------------------------------

_PG_LEAN_SCHEMA = (
    """CREATE TABLE blocks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer text NOT NULL,
        priority integer NOT NULL,
        expires_at bigint,  -- microseconds since 1970; NULL: never
        remaining bigint NOT NULL
    )""",
    "CREATE INDEX blocks_by_customer ON blocks (customer)",
    """CREATE TABLE entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer text NOT NULL,
        kind text NOT NULL,
        block_id bigint NOT NULL,
        amount bigint NOT NULL,
        available_after bigint NOT NULL,
        at bigint NOT NULL
    )""",
    "CREATE INDEX entries_by_customer ON entries (customer)",
)
# FOR UPDATE: without the lock, two burns of one customer read the same blocks and overspend
_PG_LEAN_LIVE = (
    "SELECT id, remaining, expires_at FROM blocks WHERE customer = %s AND remaining > 0 "
    "ORDER BY priority, expires_at NULLS LAST, id FOR UPDATE"
)
_PG_LEAN_AVAILABLE = (
    "SELECT coalesce(sum(remaining), 0) FROM blocks "
    "WHERE customer = %s AND remaining > 0 AND (expires_at IS NULL OR expires_at > %s)"
)
_PG_LEAN_ENTRY = (
    "INSERT INTO entries (customer, kind, block_id, amount, available_after, at) VALUES (%s, %s, %s, %s, %s, %s)"
)


class PgLeanFloor:
    """:class:`LeanFloor` in raw ``psycopg`` on PostgreSQL: the least an application writing
    its own ledger there would do.

    The same two tables in PostgreSQL types (``bigint`` identity keys, expiries as ``bigint``
    microseconds), each indexed by customer. One autocommit connection, psycopg's default
    prepare threshold, transactions begun and committed by hand. A burn is ``BEGIN``, one
    ``SELECT ... FOR UPDATE`` of the customer's blocks with credit left in the default burn
    order (the lock an application needs on PostgreSQL, or two burns of one customer overspend
    it), then an ``executemany`` UPDATE and an ``executemany`` INSERT, ``COMMIT``. A grant
    reads the customer's available balance, then inserts the block and its entry. The server's
    settings are the server's (``fsync`` and ``synchronous_commit`` on by default).
    """

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("BEGIN")
        for statement in _PG_LEAN_SCHEMA:
            self.conn.execute(statement)
        self.conn.execute("COMMIT")
        self.keys: dict[int, tuple[str, int]] = {}
        """``(customer, grant number)`` of each block id: for :meth:`remaining` only."""

    def close(self) -> None:
        self.conn.close()

    def remaining(self) -> dict[tuple[str, int], int]:
        rows = self.conn.execute("SELECT id, remaining FROM blocks").fetchall()
        return {self.keys[block_id]: int(left) for block_id, left in rows}

    def grant(self, spec: GrantSpec, at: datetime) -> int:
        """One grant, in the caller's transaction; returns the amount granted."""
        conn, customer, when = self.conn, spec.customer, _micros(at)
        row = conn.execute(_PG_LEAN_AVAILABLE, (customer, when)).fetchone()
        available = int(row[0]) if row else 0
        expires = None if spec.expires_at is None else _micros(spec.expires_at)
        row = conn.execute(
            "INSERT INTO blocks (customer, priority, expires_at, remaining) VALUES (%s, %s, %s, %s) RETURNING id",
            (customer, spec.priority, expires, spec.amount),
        ).fetchone()
        assert row is not None
        block_id = row[0]
        conn.execute(_PG_LEAN_ENTRY, (customer, "grant", block_id, spec.amount, available + spec.amount, when))
        self.keys[block_id] = (customer, spec.number)
        return spec.amount

    def grants(self, specs: Iterable[GrantSpec]) -> int:
        """Every grant in one transaction, all at ``START``; returns the total granted."""
        conn = self.conn
        conn.execute("BEGIN")
        granted = sum(self.grant(spec, START) for spec in specs)
        conn.execute("COMMIT")
        return granted

    def burn(self, spec: BurnSpec) -> int:
        """One burn, in the caller's transaction; returns the amount burned."""
        conn, customer, at = self.conn, spec.customer, _micros(spec.at)
        live = [
            (b, left)
            for b, left, expires in conn.execute(_PG_LEAN_LIVE, (customer,)).fetchall()
            if expires is None or expires > at
        ]
        burned, updates, entries = _lean_take(live, spec.amount, customer, at)
        if updates:
            cursor = conn.cursor()
            cursor.executemany("UPDATE blocks SET remaining = %s WHERE id = %s", updates)
            cursor.executemany(_PG_LEAN_ENTRY, entries)
        return burned

    def burns_each(self, specs: Iterable[BurnSpec]) -> int:
        """One transaction per burn."""
        conn = self.conn
        burned = 0
        for spec in specs:
            conn.execute("BEGIN")
            burned += self.burn(spec)
            conn.execute("COMMIT")
        return burned

"""The schema and its one list of forward migrations, for any SQL database.

A migration is a name and a step: the statements it runs, rendered for a
:class:`~.dialect.Dialect`. Each adapter applies the list with its own bookkeeping (SQLite:
sqlite-utils' ``Migrations``) and in one transaction per step. Append to :data:`MIGRATIONS`;
never change a step once released (files have recorded it as applied).

The schema states storage invariants (amounts are never negative, ``0 <= held <= remaining <=
amount``, JSON is JSON, references exist, entries are append-only); the enumerations of the
domain (entry kinds, categories, hold statuses) are checked by :mod:`.codec`, so that a new
one needs no table rebuild. The first schema had them as ``CHECK``s: ``0003`` rebuilds the
tables without them.

``0005`` makes a write cost what the storage needs (measured per burn on the Performance page of
the docs): entries refer to blocks and holds by their integer row keys (``pos``), a block carries
a ``live`` flag that only changes when it empties or fills again, the indexes are those a read
needs (each says which), and an account's running totals are integer columns, one row per unit.
"""

from __future__ import annotations

from collections.abc import Callable

from .billing import billing_tables
from .dialect import Dialect

Step = Callable[[Dialect], tuple[str, ...]]

# The enumerations the first schema checked (0001 as it was released; 0003 drops them).
_V1_CATEGORY = " CHECK (category IN ('promotional', 'paid'))"
_V1_ENDING = " CHECK (emptied_by IN ('depleted', 'expired', 'voided'))"
_V1_STATUS = " CHECK (status IN ('active', 'captured', 'released', 'expired'))"
_V1_KIND = (
    " CHECK (kind IN (\n"
    "            'grant', 'burn', 'debt', 'settle', 'hold', 'capture', 'release',\n"
    "            'expire', 'void', 'reverse', 'move_out', 'move_in'))"
)
# The columns of the first schema (what 0003 copies), written out: a released step must not
# change when a later migration adds a column.
_V1_BLOCK_COLUMNS = (
    "id, customer, unit, number, amount, remaining, held, priority, category, cost_basis, scope, effective_at, "
    "expires_at, created_at, description, metadata, origin, settles_debt, settle_pending, void_closed, emptied_by"
)
_V1_HOLD_COLUMNS = (
    "id, customer, unit, amount, allocations, status, captured, scope, expires_at, created_at, settled_at, "
    "settled_by, op_id, description, metadata"
)
_V1_ENTRY_COLUMNS = (
    "seq, op_id, customer, unit, kind, block_id, hold_id, amount, available_after, at, description, metadata, "
    "ref, of_debt"
)

# The tables as 0003 leaves them (0001 with the enumeration CHECKs). A later change to a table
# is a new migration (ALTER TABLE, or a rebuild of its own), never an edit of these.


def _blocks(d: Dialect, name: str, *, v1: bool, live: bool = False) -> str:
    i, t = d.integer, "TEXT"
    # 0005's flag: 1 while the block holds credit (see _lean_indexes_and_triggers)
    flag = f"live {i} NOT NULL DEFAULT 1,\n        " if live else ""
    flag_check = ",\n        CHECK (live = CASE WHEN remaining > 0 THEN 1 ELSE 0 END)" if live else ""
    return f"""
    CREATE TABLE IF NOT EXISTS {name} (
        pos {d.row_key},
        id {t} NOT NULL UNIQUE,
        customer {t} NOT NULL REFERENCES accounts (customer),
        unit {t} NOT NULL,
        number {i} NOT NULL,
        amount {i} NOT NULL CHECK (amount >= 0),
        remaining {i} NOT NULL,
        held {i} NOT NULL DEFAULT 0,
        priority {i} NOT NULL,
        category {t} NOT NULL{_V1_CATEGORY if v1 else ""},
        cost_basis {t},
        scope {d.json}{d.json_check("scope", True)},
        effective_at {i} NOT NULL,
        expires_at {i},
        created_at {i} NOT NULL,
        description {t},
        metadata {d.json}{d.json_check("metadata", True)},
        origin {t},
        settles_debt {i} NOT NULL DEFAULT 0 CHECK (settles_debt IN (0, 1)),
        settle_pending {i} NOT NULL DEFAULT 0 CHECK (settle_pending IN (0, 1)),
        void_closed {i} NOT NULL DEFAULT 0 CHECK (void_closed IN (0, 1)),
        emptied_by {t}{_V1_ENDING if v1 else ""},
        {flag}CHECK (0 <= held AND held <= remaining AND remaining <= amount){flag_check}
    ){d.table_options}
    """


def _holds(d: Dialect, name: str, *, v1: bool) -> str:
    i, t = d.integer, "TEXT"
    return f"""
    CREATE TABLE IF NOT EXISTS {name} (
        pos {d.row_key},
        id {t} NOT NULL UNIQUE,
        customer {t} NOT NULL REFERENCES accounts (customer),
        unit {t} NOT NULL,
        amount {i} NOT NULL CHECK (amount >= 0),
        allocations {d.json} NOT NULL{d.json_check("allocations", False)},
        status {t} NOT NULL{_V1_STATUS if v1 else ""},
        captured {i} NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
        scope {t},
        expires_at {i},
        created_at {i} NOT NULL,
        settled_at {i},
        settled_by {t},
        op_id {t} NOT NULL,
        description {t},
        metadata {d.json}{d.json_check("metadata", True)}
    ){d.table_options}
    """


def _entries(d: Dialect, name: str, *, v1: bool, blocks: str = "blocks", holds: str = "holds") -> str:
    i, t = d.integer, "TEXT"
    return f"""
    CREATE TABLE IF NOT EXISTS {name} (
        seq {i} PRIMARY KEY,
        op_id {t} NOT NULL,
        customer {t} NOT NULL REFERENCES accounts (customer),
        unit {t} NOT NULL,
        kind {t} NOT NULL{_V1_KIND if v1 else ""},
        block_id {t} REFERENCES {blocks} (id),
        hold_id {t} REFERENCES {holds} (id),
        amount {i} NOT NULL CHECK (amount >= 0),
        available_after {i} NOT NULL,
        at {i} NOT NULL,
        description {t},
        metadata {d.json}{d.json_check("metadata", True)},
        ref {t},
        of_debt {i} NOT NULL DEFAULT 0 CHECK (of_debt IN (0, 1))
    ){d.table_options}
    """


def _block_indexes(d: Dialect) -> tuple[str, ...]:
    return (
        "CREATE INDEX IF NOT EXISTS blocks_by_customer ON blocks (customer)",
        # a load reads only the blocks that still hold credit, however many are used up
        "CREATE INDEX IF NOT EXISTS blocks_live ON blocks (customer) WHERE remaining > 0",
    )


def _hold_indexes(d: Dialect) -> tuple[str, ...]:
    return (
        "CREATE INDEX IF NOT EXISTS holds_by_customer ON holds (customer)",
        "CREATE INDEX IF NOT EXISTS holds_active ON holds (customer) WHERE status = 'active'",
    )


def _entry_indexes_and_triggers(d: Dialect) -> tuple[str, ...]:
    return (
        "CREATE INDEX IF NOT EXISTS entries_by_customer ON entries (customer, seq)",
        "CREATE INDEX IF NOT EXISTS entries_by_op ON entries (op_id)",
        "CREATE INDEX IF NOT EXISTS entries_by_block ON entries (block_id) WHERE block_id IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS entries_by_ref ON entries (ref) WHERE ref IS NOT NULL",
        # the ledger is append-only: history is never rewritten
        d.append_only("entries", "UPDATE", "entries are append-only: an entry cannot be changed"),
        d.append_only("entries", "DELETE", "entries are append-only: an entry cannot be deleted"),
    )


# Every statement of 0001 and 0002 is idempotent (IF NOT EXISTS), so a file can be brought
# forward by either bookkeeping of the SQLite adapter.


def _initial(d: Dialect) -> tuple[str, ...]:
    i, t = d.integer, "TEXT"
    return (
        f"""
        CREATE TABLE IF NOT EXISTS units (
            name {t} PRIMARY KEY,
            scale {i} NOT NULL CHECK (scale >= 0)
        ){d.table_options}
        """,
        f"""
        CREATE TABLE IF NOT EXISTS accounts (
            customer {t} PRIMARY KEY,
            totals {d.json} NOT NULL DEFAULT '{{}}'{d.json_check("totals", False)},
            last_at {i},
            next_number {i} NOT NULL DEFAULT 1 CHECK (next_number >= 1),
            settlements {d.json} NOT NULL DEFAULT '{{}}'{d.json_check("settlements", False)},
            first_seq {i}
        ){d.table_options}
        """,
        "CREATE INDEX IF NOT EXISTS accounts_by_first_seq ON accounts (first_seq) WHERE first_seq IS NOT NULL",
        _blocks(d, "blocks", v1=True),
        *_block_indexes(d),
        _holds(d, "holds", v1=True),
        *_hold_indexes(d),
        _entries(d, "entries", v1=True),
        *_entry_indexes_and_triggers(d),
        f"""
        CREATE TABLE IF NOT EXISTS operations (
            namespace {t} NOT NULL,
            key {t} NOT NULL,
            kind {t} NOT NULL,
            fingerprint {d.json} NOT NULL{d.json_check("fingerprint", False)},
            op_id {t} NOT NULL,
            customer {t} NOT NULL,
            result {d.json} NOT NULL{d.json_check("result", False)},
            PRIMARY KEY (namespace, key)
        ){d.keyed_table_options}
        """,
    )


def _snapshots(d: Dialect) -> tuple[str, ...]:
    # a cache of account states: see .snapshots
    return (
        f"""
        CREATE TABLE IF NOT EXISTS snapshots (
            customer TEXT NOT NULL REFERENCES accounts (customer),
            seq {d.integer} NOT NULL,
            at {d.integer} NOT NULL,
            state {d.json} NOT NULL{d.json_check("state", False)},
            PRIMARY KEY (customer, seq)
        ){d.keyed_table_options}
        """,
        "CREATE INDEX IF NOT EXISTS snapshots_by_time ON snapshots (customer, at)",
    )


def _enumerations_to_the_domain(d: Dialect) -> tuple[str, ...]:
    """Rebuild blocks, holds and entries without the enumeration CHECKs, every row copied.

    New tables are made beside the old ones (the new entries referring to the new blocks and
    holds), filled, and renamed into place once the old ones are dropped, children first, so
    that no reference is ever left dangling with foreign keys on; the indexes and the
    append-only triggers go with the old tables and are made again. Dropping a table fires
    none of its triggers. Run again on a rebuilt file, it rebuilds it again."""
    blocks, holds, entries = _V1_BLOCK_COLUMNS, _V1_HOLD_COLUMNS, _V1_ENTRY_COLUMNS
    return (
        "DROP TABLE IF EXISTS entries_rebuilt",
        "DROP TABLE IF EXISTS holds_rebuilt",
        "DROP TABLE IF EXISTS blocks_rebuilt",
        _blocks(d, "blocks_rebuilt", v1=False),
        f"INSERT INTO blocks_rebuilt (pos, {blocks}) SELECT pos, {blocks} FROM blocks ORDER BY pos",
        _holds(d, "holds_rebuilt", v1=False),
        f"INSERT INTO holds_rebuilt (pos, {holds}) SELECT pos, {holds} FROM holds ORDER BY pos",
        _entries(d, "entries_rebuilt", v1=False, blocks="blocks_rebuilt", holds="holds_rebuilt"),
        f"INSERT INTO entries_rebuilt ({entries}) SELECT {entries} FROM entries ORDER BY seq",
        "DROP TABLE entries",
        "DROP TABLE holds",
        "DROP TABLE blocks",
        # renaming a table also renames the references to it (entries_rebuilt's)
        "ALTER TABLE blocks_rebuilt RENAME TO blocks",
        "ALTER TABLE holds_rebuilt RENAME TO holds",
        "ALTER TABLE entries_rebuilt RENAME TO entries",
        *_block_indexes(d),
        *_hold_indexes(d),
        *_entry_indexes_and_triggers(d),
    )


def _slim_idempotency_records(d: Dialect) -> tuple[str, ...]:
    """An idempotency record keeps the figures its result shows and the id of what it made
    (a replay rebuilds the rest from the op's entries), no longer the whole result: each
    stored result becomes those figures, as the exact decimal text it held."""
    t = "TEXT"
    amounts = {
        "burn": ("burned", "shortfall", "debt"),
        "capture": ("captured", "released"),
        "release": ("released",),
        "void": ("voided",),
        "reverse": ("reversed",),
        "grant": ("remaining",),
        "change_expiry": ("moved",),
        "hold": (),
    }
    paths = {"remaining": "$.block.remaining", "moved": "$.block.amount"}
    made = {"grant": ("block_id", "$.block.id"), "change_expiry": ("new_block_id", "$.block.id"),
            "hold": ("hold_id", "$.hold.id")}  # fmt: skip
    cases = []
    for kind, names in amounts.items():
        pairs = [f"'{name}', json_extract(result, '{paths.get(name, '$.' + name)}')" for name in names]
        if kind in made:
            name, path = made[kind]
            pairs.append(f"'{name}', json_extract(result, '{path}')")
        cases.append(f"WHEN '{kind}' THEN json_object({', '.join(pairs)})")
    return (
        f"""
        CREATE TABLE operations_slim (
            namespace {t} NOT NULL,
            key {t} NOT NULL,
            kind {t} NOT NULL,
            fingerprint {d.json} NOT NULL{d.json_check("fingerprint", False)},
            op_id {t} NOT NULL,
            customer {t} NOT NULL,
            outcome {d.json} NOT NULL{d.json_check("outcome", False)},
            PRIMARY KEY (namespace, key)
        ){d.keyed_table_options}
        """,
        "INSERT INTO operations_slim (namespace, key, kind, fingerprint, op_id, customer, outcome) "
        "SELECT namespace, key, kind, fingerprint, op_id, customer, "
        f"CASE kind {' '.join(cases)} ELSE json_object() END FROM operations",
        "DROP TABLE operations",
        "ALTER TABLE operations_slim RENAME TO operations",
    )


# -- 0005: the lean write path -------------------------------------------------------------------

#: The columns of 0005's entries, in the order a row is written.
_LEAN_ENTRY_COLUMNS = (
    "seq, op_id, customer, unit, kind, block_pos, hold_pos, amount, available_after, at, description, metadata, "
    "ref, of_debt"
)
_TOTALS = ("granted", "used", "expired", "voided", "debt")


def _lean_entries(d: Dialect, name: str, *, blocks: str = "blocks") -> str:
    # the block and hold an entry moved, by their row keys: an integer in the row and in the
    # index by block instead of a 36-character id, and the reference is checked against the
    # row key itself; reads join them back to the public ids
    i, t = d.integer, "TEXT"
    return f"""
    CREATE TABLE IF NOT EXISTS {name} (
        seq {i} PRIMARY KEY,
        op_id {t} NOT NULL,
        customer {t} NOT NULL REFERENCES accounts (customer),
        unit {t} NOT NULL,
        kind {t} NOT NULL,
        block_pos {i} REFERENCES {blocks} (pos),
        hold_pos {i} REFERENCES holds (pos),
        amount {i} NOT NULL CHECK (amount >= 0),
        available_after {i} NOT NULL,
        at {i} NOT NULL,
        description {t},
        metadata {d.json}{d.json_check("metadata", True)},
        ref {t},
        of_debt {i} NOT NULL DEFAULT 0 CHECK (of_debt IN (0, 1))
    ){d.table_options}
    """


def _lean_indexes_and_triggers(d: Dialect) -> tuple[str, ...]:
    """Only the indexes a read needs, each with the read it serves. A burn writes to the
    indexes of ``entries`` (one new row) and to none of ``blocks`` (no indexed column of a
    block moves unless it empties)."""
    return (
        # Reader.blocks and Reader.history: a customer's blocks
        "CREATE INDEX IF NOT EXISTS blocks_by_customer ON blocks (customer)",
        # load_account (every write's lock, every balance): the blocks that still hold credit,
        # however many are used up. Its condition is the live flag, which a write sets only
        # when a block empties or fills again: a condition on remaining made SQLite rewrite
        # the index entry on every burn
        "CREATE INDEX IF NOT EXISTS blocks_live ON blocks (customer) WHERE live = 1",
        # Reader.history, entries(customer=...), the snapshots' counts and past reads: a
        # customer's entries in seq order (seq is the rowid, which ends every index entry, so
        # the index on customer alone is ordered by customer, then seq)
        "CREATE INDEX IF NOT EXISTS entries_by_customer ON entries (customer)",
        # replaying a keyed write (its op's entries), reversing an op, entries(op_id=...)
        "CREATE INDEX IF NOT EXISTS entries_by_op ON entries (op_id)",
        # entries(block_id=...): a block's entries, without reading the rest of its customer's
        "CREATE INDEX IF NOT EXISTS entries_by_block ON entries (block_pos) WHERE block_pos IS NOT NULL",
        # a reversal's earlier reversals of the same op (only reverse entries have a ref, so it
        # costs other writes nothing)
        "CREATE INDEX IF NOT EXISTS entries_by_ref ON entries (ref) WHERE ref IS NOT NULL",
        # the ledger is append-only: history is never rewritten
        d.append_only("entries", "UPDATE", "entries are append-only: an entry cannot be changed"),
        d.append_only("entries", "DELETE", "entries are append-only: an entry cannot be deleted"),
    )


def _account_units(d: Dialect) -> str:
    # A customer's running totals, one row per unit it has used (any number of them, none
    # special), as integer columns, with the unit's unreturned debt settlements (JSON, NULL
    # for none; written only when debt is settled or a settlement given back) and the time of
    # the last write that moved them. The customer's own row (accounts) keeps the block
    # counter, the first entry and the time of a last write that moved no unit's figures (a
    # hold): the customer's last write is the latest of these times, since its history only
    # moves forward. So a burn updates one row of one table, and only the columns that moved.
    i = d.integer
    return f"""
    CREATE TABLE IF NOT EXISTS account_units (
        customer TEXT NOT NULL REFERENCES accounts (customer),
        unit TEXT NOT NULL,
        granted {i} NOT NULL DEFAULT 0 CHECK (granted >= 0),
        used {i} NOT NULL DEFAULT 0 CHECK (used >= 0),
        expired {i} NOT NULL DEFAULT 0 CHECK (expired >= 0),
        voided {i} NOT NULL DEFAULT 0 CHECK (voided >= 0),
        debt {i} NOT NULL DEFAULT 0 CHECK (debt >= 0),
        settlements {d.json}{d.json_check("settlements", True)},
        last_at {i},
        PRIMARY KEY (customer, unit)
    ){d.keyed_table_options}
    """


def _lean_write_path(d: Dialect) -> tuple[str, ...]:
    """Rebuild blocks (with the live flag) and entries (with row keys for blocks and holds),
    every row copied, with only the indexes a read needs; move each account's JSON totals
    and settlements into one row per unit of ``account_units``.

    As in 0003, the new tables are made beside the old ones, filled, and renamed into place
    once the old ones are dropped, children first. An entry whose block or hold id finds no
    row (which the old references forbade) gets the row key -1, which the new reference
    refuses: the migration fails rather than drop a reference."""
    blocks = _V1_BLOCK_COLUMNS
    members, field = d.json_members, d.json_field
    figures = ", ".join(field("t.value", name) for name in _TOTALS)
    return (
        "DROP TABLE IF EXISTS entries_lean",
        "DROP TABLE IF EXISTS blocks_lean",
        _blocks(d, "blocks_lean", v1=False, live=True),
        f"INSERT INTO blocks_lean (pos, {blocks}, live) "
        f"SELECT pos, {blocks}, CASE WHEN remaining > 0 THEN 1 ELSE 0 END FROM blocks ORDER BY pos",
        _lean_entries(d, "entries_lean", blocks="blocks_lean"),
        f"INSERT INTO entries_lean ({_LEAN_ENTRY_COLUMNS}) "
        "SELECT e.seq, e.op_id, e.customer, e.unit, e.kind, "
        "CASE WHEN e.block_id IS NULL THEN NULL ELSE COALESCE(b.pos, -1) END, "
        "CASE WHEN e.hold_id IS NULL THEN NULL ELSE COALESCE(h.pos, -1) END, "
        "e.amount, e.available_after, e.at, e.description, e.metadata, e.ref, e.of_debt "
        "FROM entries e LEFT JOIN blocks b ON b.id = e.block_id LEFT JOIN holds h ON h.id = e.hold_id "
        "ORDER BY e.seq",
        "DROP TABLE entries",
        "DROP TABLE blocks",
        # renaming a table also renames the references to it (entries_lean's)
        "ALTER TABLE blocks_lean RENAME TO blocks",
        "ALTER TABLE entries_lean RENAME TO entries",
        *_lean_indexes_and_triggers(d),
        _account_units(d),
        f"INSERT INTO account_units (customer, unit, {', '.join(_TOTALS)}, settlements) "
        f"SELECT a.customer, t.key, {figures}, "
        f"(SELECT s.value FROM {members('a.settlements')} s WHERE s.key = t.key) "
        f"FROM accounts a, {members('a.totals')} t",
        # a unit with settlements and no totals (none is made so, but the JSON allowed it)
        "INSERT INTO account_units (customer, unit, settlements) "
        f"SELECT a.customer, s.key, s.value FROM accounts a, {members('a.settlements')} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {members('a.totals')} t WHERE t.key = s.key)",
        "ALTER TABLE accounts DROP COLUMN totals",
        "ALTER TABLE accounts DROP COLUMN settlements",
    )


# -- 0006: the ledger grows (block sources, single use, hold categories, profiles) ------------------

#: What each kind of entry adds to its block's ``used`` (``core.effects.USED_EFFECT``), for
#: the blocks stored before the column existed.
_USED_BY_KIND = (
    "CASE e.kind WHEN 'burn' THEN e.amount WHEN 'capture' THEN e.amount WHEN 'settle' THEN e.amount "
    "WHEN 'reverse' THEN -e.amount ELSE 0 END"
)


def grown_columns(d: Dialect) -> tuple[str, ...]:
    """Blocks gain single use, first use, what burns took and where the block came from,
    computed for the blocks already stored from their entries; a hold's scope becomes a scope
    set (a JSON list, as a block's), and holds gain their categories. Snapshots are a cache
    whose rows change form: they are dropped (the next writes take new ones)."""
    i, t = d.integer, "TEXT"
    return (
        f"ALTER TABLE blocks ADD COLUMN single_use {i} NOT NULL DEFAULT 0 CHECK (single_use IN (0, 1))",
        f"ALTER TABLE blocks ADD COLUMN first_used_at {d.time_type}",
        f"ALTER TABLE blocks ADD COLUMN used {i} NOT NULL DEFAULT 0",
        f"ALTER TABLE blocks ADD COLUMN source {t} NOT NULL DEFAULT 'grant'",
        f"ALTER TABLE blocks ADD COLUMN refund_of {t}",
        f"ALTER TABLE blocks ADD COLUMN schedule_id {t}",
        "UPDATE blocks SET source = 'move' WHERE origin IS NOT NULL",
        f"UPDATE blocks SET used = COALESCE((SELECT SUM({_USED_BY_KIND}) FROM entries e "
        "WHERE e.customer = blocks.customer AND e.block_pos = blocks.pos), 0), "
        "first_used_at = (SELECT MIN(e.at) FROM entries e WHERE e.customer = blocks.customer "
        "AND e.block_pos = blocks.pos AND e.kind IN ('burn', 'capture') AND e.amount > 0)",
        f"UPDATE holds SET scope = {d.json_list('scope')} WHERE scope IS NOT NULL",
        f"ALTER TABLE holds ADD COLUMN categories {t}",
        "DELETE FROM snapshots",
    )


def grown_tables(d: Dialect) -> dict[str, str]:
    """The tables of customer profiles, by name (their columns; PostgreSQL partitions them by
    customer): the order customers were first seen in, every version of their profiles, and
    which customer holds each external id now (unique per ledger, so never partitioned)."""
    i, t = d.integer, "TEXT"
    return {
        # Reader.customer_page (customers()), Reader.first_seen (get_customer)
        "customers": f"""
            pos {i} NOT NULL,
            customer {t} NOT NULL,
            first_at {d.time_type} NOT NULL,
            PRIMARY KEY (customer)""",
        # Reader.profiles: a customer's versions, oldest first
        "profiles": f"""
            pos {i} NOT NULL,
            customer {t} NOT NULL,
            at {d.time_type} NOT NULL,
            name {t},
            email {t},
            external_id {t},
            metadata {d.json}{d.json_check("metadata", True)},
            timezone {t},
            PRIMARY KEY (customer, pos)""",
    }


def _the_ledger_grows(d: Dialect) -> tuple[str, ...]:
    tables = grown_tables(d)
    return (
        *grown_columns(d),
        *(f"CREATE TABLE {name} ({body}\n){d.keyed_table_options}" for name, body in tables.items()),
        "CREATE UNIQUE INDEX customers_in_order ON customers (pos)",
        f"""
        CREATE TABLE external_ids (
            external_id TEXT PRIMARY KEY,
            customer TEXT NOT NULL
        ){d.keyed_table_options}
        """,
        *fill_customers(d),
    )


def fill_customers(d: Dialect) -> tuple[str, ...]:
    """The customers with entries, in the order of their first entries, first seen then."""
    return (
        "INSERT INTO customers (pos, customer, first_at) SELECT ROW_NUMBER() OVER (ORDER BY a.first_seq), "
        "a.customer, e.at FROM accounts a JOIN entries e ON e.customer = a.customer AND e.seq = a.first_seq",
    )


# -- 0007: settings and the event outbox --------------------------------------------------------


def settings_tables(d: Dialect) -> dict[str, str]:
    """The tables of a customer's settings and events, by name (their columns; PostgreSQL
    partitions them by customer). A schedule, a top-up rule, an alert or an event is one JSON
    document (``body``) beside the columns reads find it by: ``ended``, ``live`` and
    ``removed`` mark what a write loads (the settings in force). A top-up rule's versions are
    numbered per customer (``pos``); ``body`` is NULL for a removal."""
    i, t = d.integer, "TEXT"
    flag = f"{i} NOT NULL DEFAULT 0"
    return {
        # Reader.schedules, find_schedule; the account's schedules running (ended = 0)
        "schedules": f"""
            customer {t} NOT NULL,
            id {t} NOT NULL,
            number {i} NOT NULL,
            ended {flag} CHECK (ended IN (0, 1)),
            body {d.json} NOT NULL{d.json_check("body", False)},
            PRIMARY KEY (customer, id)""",
        # Reader.top_ups; the rules in force (live = 1)
        "top_ups": f"""
            customer {t} NOT NULL,
            pos {i} NOT NULL,
            unit {t} NOT NULL,
            at {d.time_type} NOT NULL,
            live {flag} CHECK (live IN (0, 1)),
            body {d.json}{d.json_check("body", True)},
            PRIMARY KEY (customer, pos)""",
        # Reader.alerts, find_alert; the active alerts (removed = 0)
        "alerts": f"""
            customer {t} NOT NULL,
            id {t} NOT NULL,
            number {i} NOT NULL,
            removed {flag} CHECK (removed IN (0, 1)),
            body {d.json} NOT NULL{d.json_check("body", False)},
            PRIMARY KEY (customer, id)""",
    }


def settings_indexes(d: Dialect, *, unique: bool) -> tuple[str, ...]:
    """Finding a schedule or an alert by its id alone (``unique`` where one index sees every
    row), the settings in force, and the append-only outbox."""
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return (
        f"CREATE {kind} schedules_by_id ON schedules (id)",
        f"CREATE {kind} alerts_by_id ON alerts (id)",
        # a write's load reads only the settings in force, however many ended before
        "CREATE INDEX schedules_in_force ON schedules (customer) WHERE ended = 0",
        "CREATE INDEX top_ups_in_force ON top_ups (customer) WHERE live = 1",
        "CREATE INDEX alerts_in_force ON alerts (customer) WHERE removed = 0",
        d.append_only("events", "UPDATE", "events are kept as written: an event cannot be changed"),
        d.append_only("events", "DELETE", "events are kept forever: an event cannot be deleted"),
    )


def _settings_and_events(d: Dialect) -> tuple[str, ...]:
    return (
        f"ALTER TABLE accounts ADD COLUMN settings {d.integer} NOT NULL DEFAULT 0 CHECK (settings >= 0)",
        *(f"CREATE TABLE {name} ({body}\n){d.keyed_table_options}" for name, body in settings_tables(d).items()),
        f"""
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            customer TEXT NOT NULL,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            unit TEXT NOT NULL,
            at {d.time_type} NOT NULL,
            op_id TEXT NOT NULL,
            body {d.json} NOT NULL{d.json_check("body", False)}
        ){d.table_options}
        """,
        "CREATE INDEX events_by_customer ON events (customer, seq)",
        *settings_indexes(d, unique=True),
    )


#: The forward migrations, in order: ``(name, step)``. Append; never edit a released one.
MIGRATIONS: tuple[tuple[str, Step], ...] = (
    ("0001_initial", _initial),
    ("0002_snapshots", _snapshots),
    ("0003_enumerations_checked_by_the_domain", _enumerations_to_the_domain),
    ("0004_slim_idempotency_records", _slim_idempotency_records),
    ("0005_lean_write_path", _lean_write_path),
    ("0006_the_ledger_grows", _the_ledger_grows),
    ("0007_settings_and_events", _settings_and_events),
    ("0008_billing", billing_tables),
)

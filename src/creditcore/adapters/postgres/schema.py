"""PostgreSQL's schema and its forward migrations.

The tables, columns and keys are the shared layer's (:mod:`creditcore.adapters.sql`), in
PostgreSQL's own types: ``bigint`` minor units with the same CHECKs, ``timestamptz`` times
(the session runs in UTC), ``jsonb`` documents, identity row keys, and the append-only
triggers as a PL/pgSQL function. SQLite's history of table rebuilds is not PostgreSQL's: its
first step is the current layout.

Every table carries the customer and every write touches one customer's rows, so the tables
can be partitioned or distributed by customer (see ``docs/scaling.md``). Entries are numbered
from a sequence; ``txid`` records the transaction that wrote each one.

Migrations are recorded in ``creditcore_migrations`` and applied by the first process that
opens an old schema, each step in its own transaction, under an exclusive lock on that table
(see :func:`upgrade`); :func:`script` prints them for apps that run their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from creditcore.adapters.sql import billing as shared_billing
from creditcore.adapters.sql import schema as shared
from creditcore.adapters.sql.dialect import POSTGRES

D = POSTGRES
_BIG, _TIME, _DOC, _FLAG = "bigint", "timestamptz", "jsonb", "smallint"


def _table(name: str, body: str, partitions: int | None) -> tuple[str, ...]:
    """A table that carries a customer: plain, or hash-partitioned by it into ``partitions``."""
    if partitions is None:
        return (f"CREATE TABLE {name} ({body}\n)",)
    return (
        f"CREATE TABLE {name} ({body}\n) PARTITION BY HASH (customer)",
        *(
            f"CREATE TABLE {name}_p{number} PARTITION OF {name} "
            f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {number})"
            for number in range(partitions)
        ),
    )


def _the_ledger_grows(partitions: int | None = None) -> tuple[str, ...]:
    """Block sources, single use, hold categories and customer profiles: the shared step's
    columns, and its tables partitioned like the rest (``external_ids`` never: an external id
    is unique across every customer)."""
    tables = shared.grown_tables(D)
    return (
        *shared.grown_columns(D),
        *(f"CREATE SEQUENCE {name}_pos AS {_BIG}" for name in tables),
        *(statement for name, body in tables.items() for statement in _table(name, body, partitions)),
        "CREATE INDEX customers_in_order ON customers (pos)",
        "CREATE TABLE external_ids (external_id text PRIMARY KEY, customer text NOT NULL)",
        *shared.fill_customers(D),
        "SELECT setval('customers_pos', (SELECT COALESCE(MAX(pos), 0) + 1 FROM customers), false)",
    )


def _settings_and_events(partitions: int | None = None) -> tuple[str, ...]:
    """Schedules, top-up rules and alerts: the shared step's tables partitioned like the rest,
    and the outbox, numbered from a sequence with the writing transaction beside each event (the
    feed across customers goes by it, as the entries')."""
    return (
        f"ALTER TABLE accounts ADD COLUMN settings {_BIG} NOT NULL DEFAULT 0 CHECK (settings >= 0)",
        *(
            statement
            for name, body in shared.settings_tables(D).items()
            for statement in _table(name, body, partitions)
        ),
        f"CREATE SEQUENCE events_seq AS {_BIG}",
        *_table(
            "events",
            f"""
            seq {_BIG} NOT NULL DEFAULT nextval('events_seq'),
            customer text NOT NULL,
            id text NOT NULL,
            kind text NOT NULL,
            unit text NOT NULL,
            at {_TIME} NOT NULL,
            op_id text NOT NULL,
            body {_DOC} NOT NULL,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            PRIMARY KEY (customer, seq)""",
            partitions,
        ),
        "CREATE INDEX events_by_transaction ON events (txid, seq)",
        *shared.settings_indexes(D, unique=partitions is None),
        D.append_only("events", "TRUNCATE", "events are kept forever: they cannot be truncated"),
    )


def _billing(partitions: int | None = None) -> tuple[str, ...]:
    """Billing: the shared step's tables, not partitioned (meters and prices belong to no
    customer, an event id is unique across every customer, one invoice counter serves all)."""
    return shared_billing.billing_tables(D)


def _initial(partitions: int | None = None) -> tuple[str, ...]:
    """The first schema; with ``partitions``, every table that carries a customer is
    hash-partitioned by it into that many partitions (the same columns, keys and
    statements)."""
    flag = f"{_FLAG} NOT NULL DEFAULT 0"
    unique = "UNIQUE " if partitions is None else ""

    def table(name: str, body: str) -> tuple[str, ...]:
        return _table(name, body, partitions)

    return (
        # a time as the codec writes it (integer microseconds since the epoch, UTC), exactly:
        # whole hours and the microseconds left, each an exact interval
        f"""
        CREATE FUNCTION creditcore_time(us {_BIG}) RETURNS {_TIME}
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT timestamptz '1970-01-01 00:00:00+00' + make_interval(hours => (us / 3600000000)::integer)
                     + (us % 3600000000) * interval '1 microsecond' $$
        """,
        """
        CREATE FUNCTION creditcore_refuse() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$
        """,
        # a write's lock on its customer in one round trip: the account row made if new (a
        # second first write waits on it), then locked; each a statement of its own, so the
        # lock is taken on the row as committed, not as the first statement's snapshot saw it
        """
        CREATE FUNCTION creditcore_lock(who text) RETURNS void LANGUAGE plpgsql
        AS $$ BEGIN
            INSERT INTO accounts (customer) VALUES (who) ON CONFLICT (customer) DO NOTHING;
            PERFORM 1 FROM accounts WHERE customer = who FOR NO KEY UPDATE;
        END $$
        """,
        # the one table without a customer: small, the same everywhere (a reference table)
        """
        CREATE TABLE units (
            name text PRIMARY KEY,
            scale bigint NOT NULL CHECK (scale >= 0),
            pos bigint GENERATED ALWAYS AS IDENTITY
        )
        """,
        *table(
            "accounts",
            f"""
            customer text PRIMARY KEY,
            last_at {_TIME},
            next_number {_BIG} NOT NULL DEFAULT 1 CHECK (next_number >= 1),
            first_seq {_BIG}""",
        ),
        "CREATE INDEX accounts_by_first_seq ON accounts (first_seq) WHERE first_seq IS NOT NULL",
        *table(
            "account_units",
            f"""
            customer text NOT NULL REFERENCES accounts (customer),
            unit text NOT NULL,
            granted {_BIG} NOT NULL DEFAULT 0 CHECK (granted >= 0),
            used {_BIG} NOT NULL DEFAULT 0 CHECK (used >= 0),
            expired {_BIG} NOT NULL DEFAULT 0 CHECK (expired >= 0),
            voided {_BIG} NOT NULL DEFAULT 0 CHECK (voided >= 0),
            debt {_BIG} NOT NULL DEFAULT 0 CHECK (debt >= 0),
            settlements {_DOC},
            last_at {_TIME},
            PRIMARY KEY (customer, unit)""",
        ),
        # row keys from sequences (an identity column needs PostgreSQL 17 on a partitioned table)
        f"CREATE SEQUENCE blocks_pos AS {_BIG}",
        *table(
            "blocks",
            f"""
            pos {_BIG} NOT NULL DEFAULT nextval('blocks_pos'),
            id text NOT NULL,
            customer text NOT NULL REFERENCES accounts (customer),
            unit text NOT NULL,
            number {_BIG} NOT NULL,
            amount {_BIG} NOT NULL CHECK (amount >= 0),
            remaining {_BIG} NOT NULL,
            held {_BIG} NOT NULL DEFAULT 0,
            priority {_BIG} NOT NULL,
            category text NOT NULL,
            cost_basis text,
            scope {_DOC},
            effective_at {_TIME} NOT NULL,
            expires_at {_TIME},
            created_at {_TIME} NOT NULL,
            description text,
            metadata {_DOC},
            origin text,
            settles_debt {flag} CHECK (settles_debt IN (0, 1)),
            settle_pending {flag} CHECK (settle_pending IN (0, 1)),
            void_closed {flag} CHECK (void_closed IN (0, 1)),
            emptied_by text,
            live {_FLAG} NOT NULL DEFAULT 1,
            PRIMARY KEY (customer, pos),
            UNIQUE (customer, id),
            CHECK (0 <= held AND held <= remaining AND remaining <= amount),
            CHECK (live = CASE WHEN remaining > 0 THEN 1 ELSE 0 END)""",
        ),
        # a block by its id alone (void, get_block): unique across customers where one index
        # can see them all (a partitioned table's unique keys must include the customer)
        f"CREATE {unique}INDEX blocks_by_id ON blocks (id)",
        # load_account: the blocks that still hold credit
        "CREATE INDEX blocks_live ON blocks (customer) WHERE live = 1",
        # expire_due() across customers: the live blocks by expiry
        "CREATE INDEX blocks_by_expiry ON blocks (expires_at) WHERE live = 1 AND expires_at IS NOT NULL",
        f"CREATE SEQUENCE holds_pos AS {_BIG}",
        *table(
            "holds",
            f"""
            pos {_BIG} NOT NULL DEFAULT nextval('holds_pos'),
            id text NOT NULL,
            customer text NOT NULL REFERENCES accounts (customer),
            unit text NOT NULL,
            amount {_BIG} NOT NULL CHECK (amount >= 0),
            allocations {_DOC} NOT NULL,
            status text NOT NULL,
            captured {_BIG} NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
            scope text,
            expires_at {_TIME},
            created_at {_TIME} NOT NULL,
            settled_at {_TIME},
            settled_by text,
            op_id text NOT NULL,
            description text,
            metadata {_DOC},
            PRIMARY KEY (customer, pos),
            UNIQUE (customer, id)""",
        ),
        # capture, release, get_hold: a hold by its id alone (unique likewise)
        f"CREATE {unique}INDEX holds_by_id ON holds (id)",
        "CREATE INDEX holds_active ON holds (customer) WHERE status = 'active'",
        f"CREATE SEQUENCE entries_seq AS {_BIG}",
        *table(
            "entries",
            f"""
            seq {_BIG} NOT NULL,
            op_id text NOT NULL,
            customer text NOT NULL REFERENCES accounts (customer),
            unit text NOT NULL,
            kind text NOT NULL,
            block_pos {_BIG},
            hold_pos {_BIG},
            amount {_BIG} NOT NULL CHECK (amount >= 0),
            available_after {_BIG} NOT NULL,
            at {_TIME} NOT NULL,
            description text,
            metadata {_DOC},
            ref text,
            of_debt {flag} CHECK (of_debt IN (0, 1)),
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            PRIMARY KEY (customer, seq),
            FOREIGN KEY (customer, block_pos) REFERENCES blocks (customer, pos),
            FOREIGN KEY (customer, hold_pos) REFERENCES holds (customer, pos)""",
        ),
        # entries() across customers: the feed by writing transaction (see Dialect.feed), and
        # a listing from a seq
        "CREATE INDEX entries_by_transaction ON entries (txid, seq)",
        "CREATE INDEX entries_by_seq ON entries (seq)",
        "CREATE INDEX entries_by_op ON entries (op_id)",
        "CREATE INDEX entries_by_block ON entries (block_pos) WHERE block_pos IS NOT NULL",
        "CREATE INDEX entries_by_ref ON entries (ref) WHERE ref IS NOT NULL",
        D.append_only("entries", "UPDATE", "entries are append-only: an entry cannot be changed"),
        D.append_only("entries", "DELETE", "entries are append-only: an entry cannot be deleted"),
        D.append_only("entries", "TRUNCATE", "entries are append-only: they cannot be truncated"),
        # idempotency records: keyed by customer too (a partitioned key must include it); a
        # lookup by key alone finds one another customer used before, and the key alone is
        # unique where one index can see every row
        *table(
            "operations",
            f"""
            namespace text NOT NULL,
            key text NOT NULL,
            kind text NOT NULL,
            fingerprint {_DOC} NOT NULL,
            op_id text NOT NULL,
            customer text NOT NULL,
            outcome {_DOC} NOT NULL,
            PRIMARY KEY (customer, namespace, key)""",
        ),
        f"CREATE {unique}INDEX operations_by_key ON operations (namespace, key)",
        *table(
            "snapshots",
            f"""
            customer text NOT NULL REFERENCES accounts (customer),
            seq {_BIG} NOT NULL,
            at {_TIME} NOT NULL,
            state {_DOC} NOT NULL,
            PRIMARY KEY (customer, seq)""",
        ),
        "CREATE INDEX snapshots_by_time ON snapshots (customer, at)",
    )


#: The forward migrations, in order: ``(version, statements)``. Append; never edit a released one.
MIGRATIONS: tuple[tuple[str, Callable[[int | None], tuple[str, ...]]], ...] = (
    ("0001_initial", _initial),
    ("0002_the_ledger_grows", _the_ledger_grows),
    ("0003_settings_and_events", _settings_and_events),
    ("0004_billing", _billing),
)
"""Each step takes ``partitions``: ``None`` for plain tables, or how many hash partitions by
customer the tables it creates get (a later step adding a table partitions it alike)."""

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS creditcore_migrations (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


def checksum(statements: tuple[str, ...]) -> str:
    return hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()


def script(applied: frozenset[str] = frozenset(), partitions: int | None = None) -> str:
    """The SQL of every migration not in ``applied``, with its bookkeeping, as one script
    (``creditcore db upgrade --print-sql``): each step in a transaction of its own."""
    parts = [BOOKKEEPING.strip() + ";"]
    for version, step in MIGRATIONS:
        if version in applied:
            continue
        statements = step(partitions)
        parts.append("BEGIN;")
        parts.append("LOCK TABLE creditcore_migrations IN EXCLUSIVE MODE;")
        parts.extend(_dedent(statement) + ";" for statement in statements)
        parts.append(
            f"INSERT INTO creditcore_migrations (version, checksum) VALUES ('{version}', '{checksum(statements)}');"
        )
        parts.append("COMMIT;")
    return "\n\n".join(parts) + "\n"


def _dedent(statement: str) -> str:
    lines = [line for line in statement.strip("\n").splitlines()]
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines).strip()


def applied(conn: Any) -> dict[str, str]:
    """The migrations recorded in the database: version -> checksum (none if it has no
    bookkeeping table yet)."""
    found = conn.execute("SELECT to_regclass('creditcore_migrations')").fetchone()
    if found is None or found[0] is None:
        return {}
    return dict(conn.execute("SELECT version, checksum FROM creditcore_migrations").fetchall())


def upgrade(conn: Any, partitions: int | None = None) -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction under an
    exclusive lock on ``creditcore_migrations`` (a second process waits, then finds them
    applied); the versions applied. ``conn`` is a psycopg connection in autocommit mode."""
    done: list[str] = []
    with conn.transaction():
        conn.execute(BOOKKEEPING)
    for version, step in MIGRATIONS:
        with conn.transaction():
            conn.execute("LOCK TABLE creditcore_migrations IN EXCLUSIVE MODE")
            if conn.execute("SELECT 1 FROM creditcore_migrations WHERE version = %s", (version,)).fetchone():
                continue
            statements = step(partitions)
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO creditcore_migrations (version, checksum) VALUES (%s, %s)",
                (version, checksum(statements)),
            )
            done.append(version)
    return done


def applied_at(dsn: str) -> frozenset[str]:
    """The migrations recorded in the database at ``dsn``."""
    return frozenset(_with_connection(dsn, "read the schema version", applied))


def upgrade_at(dsn: str, partitions: int | None = None) -> list[str]:
    """:func:`upgrade` on the database at ``dsn``."""
    done: list[str] = _with_connection(dsn, "upgrade the schema", lambda conn: upgrade(conn, partitions))
    return done


def _with_connection(dsn: str, action: str, run: Callable[[Any], Any]) -> Any:
    import psycopg

    from .session import storage_error

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            return run(conn)
    except psycopg.Error as error:
        raise storage_error(action, "PostgreSQL", error) from error

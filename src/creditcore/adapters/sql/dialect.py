"""Where SQL databases differ, as much as the shared statements need to know.

A :class:`Dialect` is a small value: the shared layer (:mod:`.statements`, :mod:`.schema`)
renders its texts from it once, and each adapter passes its own. Everything else (the row
codecs, the upserts, the partial indexes, ``ON CONFLICT``) is the same SQL on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs


def _sqlite_append_only(table: str, verb: str, message: str) -> str:
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _sqlite_json_members(document: str) -> str:
    return f"json_each({document})"


def _sqlite_json_field(document: str, name: str) -> str:
    return f"json_extract({document}, '$.{name}')"


def _sqlite_json_check(column: str, nullable: bool) -> str:
    test = f"json_valid({column})"
    return f" CHECK ({column} IS NULL OR {test})" if nullable else f" CHECK ({test})"


@attrs.frozen(kw_only=True)
class Feed:
    """How a database whose entry numbers do not follow commit order (several writers at
    once) lists every customer's entries without skipping one committed late: by writing
    transaction, leaving out those that a transaction still open may precede."""

    position: str
    """The SQL value of an entry's transaction, as text (the column after an entry's)."""
    settled: str
    """The condition of an entry no transaction still open can precede."""
    after: str
    """The condition of an entry after ``({mark}, {mark})`` = (transaction as text, seq)."""
    order: str
    """The order of the feed."""


@attrs.frozen(kw_only=True)
class Dialect:
    """The parts of a statement that depend on the database."""

    name: str
    mark: str
    """The parameter placeholder: ``?`` for sqlite3, ``%s`` for psycopg."""
    integer: str
    """A 64-bit integer column (amounts in minor units, microseconds since the epoch)."""
    row_key: str
    """A surrogate key the database numbers itself (``pos``: the order rows were made in)."""
    made_order: str
    """What orders the rows of a table without a row key (``units``) as they were made."""
    json: str
    """A column of JSON text."""
    json_check: Callable[[str, bool], str]
    """``(column, nullable)`` -> the CHECK that the column holds JSON ("" where the type does)."""
    table_options: str
    """Written after a table's closing parenthesis (SQLite: ``STRICT``)."""
    keyed_table_options: str
    """The same for a table whose primary key is its only order (SQLite: ``WITHOUT ROWID``)."""
    append_only: Callable[[str, str, str], str]
    """``(table, "UPDATE" | "DELETE", message)`` -> a trigger refusing that change."""
    json_members: Callable[[str], str]
    """``document`` -> a table of the members of a JSON object, with columns ``key`` and
    ``value`` (an object or array member as JSON text): what a migration reads a JSON column
    with."""
    json_field: Callable[[str, str], str]
    """``(document, name)`` -> the member ``name`` of a JSON object, as a SQL value."""
    conflict_keys: Mapping[str, str] = attrs.field(
        factory=lambda: {"blocks": "id", "holds": "id", "operations": "namespace, key"}
    )
    """The unique key an upsert of each table names (``ON CONFLICT (...)``): where tables are
    partitioned by customer, every unique key includes it."""
    feed: Feed | None = None
    """How entries across customers are listed, where seq order is not commit order."""
    time_value: Callable[[str], str] = attrs.field(default=lambda mark: mark)
    """``placeholder`` -> the SQL value of a time passed as integer microseconds since the
    epoch (the codec's form), for a column or comparison of times: the placeholder itself
    where times are stored so (SQLite), a conversion where the database has a time type."""

    time_type: str = "INTEGER"
    """A column of times (integer microseconds since the epoch, where there is no time type)."""
    json_list: Callable[[str], str] = attrs.field(default=lambda column: f"json_array({column})")
    """``column`` -> a JSON list text holding the column's value (what a migration wraps a
    single value into a list with)."""

    least: str = "min"
    """The function of the smaller of two values (SQLite's ``min``, PostgreSQL's ``LEAST``)."""
    next_pos: Callable[[str], str] = attrs.field(
        default=lambda table: f"(SELECT COALESCE(MAX(pos), 0) + 1 FROM {table})"
    )
    """``table`` -> the SQL value of the next ``pos`` of a table keyed by something else (the
    order its rows were made in): one more than the last where writers take turns (SQLite),
    the table's sequence where they do not (PostgreSQL, whose migration makes it)."""

    indexed_by: Callable[[str], str] = attrs.field(default=lambda index: "")
    """``index`` -> what follows a table's name in a FROM clause to make a query use that
    index: SQLite's ``INDEXED BY`` (its planner, without statistics, prefers a primary key
    that reads every row of the customer), nothing where the planner has statistics."""

    def marks(self, count: int) -> str:
        """``count`` placeholders, comma-separated."""
        return ", ".join(self.mark for _ in range(count))


SQLITE = Dialect(
    name="sqlite",
    mark="?",
    integer="INTEGER",
    row_key="INTEGER PRIMARY KEY",
    made_order="rowid",
    json="TEXT",
    json_check=_sqlite_json_check,
    table_options=" STRICT",
    keyed_table_options=" STRICT, WITHOUT ROWID",
    append_only=_sqlite_append_only,
    json_members=_sqlite_json_members,
    json_field=_sqlite_json_field,
    indexed_by=lambda index: f" INDEXED BY {index}",
)
"""SQLite: STRICT tables, ``INTEGER`` is 64-bit, JSON is checked text, ``pos`` is the rowid."""


def _postgres_append_only(table: str, verb: str, message: str) -> str:
    return (
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} FOR EACH "
        f"{'STATEMENT' if verb == 'TRUNCATE' else 'ROW'} EXECUTE FUNCTION creditcore_refuse('{message}')"
    )


POSTGRES = Dialect(
    name="postgresql",
    mark="%s",
    integer="bigint",
    row_key="bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    made_order="pos",
    json="jsonb",
    json_check=lambda column, nullable: "",
    table_options="",
    keyed_table_options="",
    append_only=_postgres_append_only,
    json_members=lambda document: f"jsonb_each({document})",
    json_field=lambda document, name: f"({document} ->> '{name}')",
    time_value=lambda mark: f"creditcore_time({mark})",
    time_type="timestamptz",
    least="LEAST",
    next_pos=lambda table: f"nextval('{table}_pos')",
    json_list=lambda column: f"jsonb_build_array({column})::text",
    conflict_keys={"blocks": "customer, id", "holds": "customer, id", "operations": "customer, namespace, key"},
    # sequence numbers are handed out before commit: across customers a later one may commit
    # first, so the feed goes by transaction and stops short of the oldest one still open
    feed=Feed(
        position="e.txid::text",
        settled="e.txid < pg_snapshot_xmin(pg_current_snapshot())",
        after="(e.txid, e.seq) > ({m}::text::xid8, {m})",
        order="e.txid, e.seq",
    ),
)
"""PostgreSQL: ``bigint`` amounts, ``timestamptz`` times (the codec's integer microseconds
converted exactly by ``creditcore_time``, which the schema defines), ``jsonb``, identity
row keys, append-only triggers through ``creditcore_refuse``."""

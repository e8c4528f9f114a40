"""Where SQL databases differ, as much as the shared statements need to know.

A :class:`Dialect` is a small value: the shared layer (:mod:`.statements`, :mod:`.schema`)
renders its texts from it once, and each adapter passes its own. Everything else (the row
codecs, the upserts, the partial indexes, ``ON CONFLICT``) is the same SQL on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

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
    time_value: Callable[[str], str] = attrs.field(default=lambda mark: mark)
    """``placeholder`` -> the SQL value of a time passed as integer microseconds since the
    epoch (the codec's form), for a column or comparison of times: the placeholder itself
    where times are stored so (SQLite), a conversion where the database has a time type."""

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
)
"""SQLite: STRICT tables, ``INTEGER`` is 64-bit, JSON is checked text, ``pos`` is the rowid."""

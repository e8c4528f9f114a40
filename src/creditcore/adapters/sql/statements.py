"""The statements every SQL adapter runs, rendered once for a :class:`~.dialect.Dialect`.

A statement's parameters are built by :mod:`.codec` in the column order named there.
"""

from __future__ import annotations

from collections.abc import Sequence

from .billing import BillingStatements
from .codec import (
    ACCOUNT_COLUMNS,
    ACCOUNT_UNIT_COLUMNS,
    BLOCK_COLUMNS,
    ENTRY_ROW_COLUMNS,
    HOLD_COLUMNS,
    OPERATION_COLUMNS,
    PROFILE_COLUMNS,
)
from .dialect import Dialect

#: The largest integer a 64-bit column holds (``seq``, ``LIMIT``).
INT64_MAX = 2**63 - 1
#: The most entries one INSERT writes (a write with more is split into several).
ENTRIES_PER_INSERT = 32

# what an entries() filter compares, by the EntryQuery field it comes from: the block by its
# row key, found from its public id
_ENTRY_FILTERS = {
    "customer": "e.customer = {m}",
    "unit": "e.unit = {m}",
    "block_id": "e.block_pos = (SELECT pos FROM blocks WHERE id = {m})",
    "op_id": "e.op_id = {m}",
    "ref": "e.ref = {m}",
}


# the filters that hold a listing to one customer's entries (in seq order, commit order)
_ONE_CUSTOMER = frozenset({"customer", "block_id", "op_id"})

# the row an UPDATE of what moved is for, by table
_KEYS = {
    "blocks": "customer = {m} AND pos = {m}",
    "holds": "customer = {m} AND pos = {m}",
}


#: The columns that hold times (integer microseconds in the codec's rows: see
#: ``Dialect.time_value``).
TIME_COLUMNS = frozenset({"effective_at", "expires_at", "created_at", "settled_at", "at", "last_at", "first_used_at"})


def _value(dialect: Dialect, column: str) -> str:
    """The placeholder of a value of ``column``: a time's in the dialect's conversion."""
    return dialect.time_value(dialect.mark) if column in TIME_COLUMNS else dialect.mark


def _values(dialect: Dialect, columns: Sequence[str]) -> str:
    """The placeholders of a row of ``columns``."""
    return ", ".join(_value(dialect, column) for column in columns)


def _upsert(dialect: Dialect, table: str, columns: Sequence[str], key: str, returning: str = "") -> str:
    keys = {part.strip() for part in key.split(",")}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_values(dialect, columns)}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}{returning}"
    )


class Statements:
    """Every statement text of the shared layer in one dialect (built once per adapter).

    The texts that depend on what a write moved (``update_block``, ``update_unit``, ...) are
    made once for each set of columns and kept, so each is one prepared statement."""

    def __init__(self, dialect: Dialect) -> None:
        m = dialect.mark
        t = dialect.time_value(m)  # a time (integer microseconds in the codec's rows)
        self.dialect = dialect
        self.billing = BillingStatements(dialect)
        self._made: dict[tuple[str, object], str] = {}
        self.select_block = f"SELECT pos, {', '.join(BLOCK_COLUMNS)} FROM blocks"
        self.select_hold = f"SELECT pos, {', '.join(HOLD_COLUMNS)} FROM holds"
        # an entry with its block's and hold's public ids (joined on their row keys)
        entry_columns = (
            "e.seq, e.op_id, e.customer, e.unit, e.kind, b.id, h.id, e.amount, e.available_after, e.at, "
            "e.description, e.metadata, e.ref, e.of_debt"
        )
        entries_joined = (
            "FROM entries e "
            "LEFT JOIN blocks b ON b.customer = e.customer AND b.pos = e.block_pos "
            "LEFT JOIN holds h ON h.customer = e.customer AND h.pos = e.hold_pos"
        )
        self.select_entry = f"SELECT {entry_columns} {entries_joined}"
        feed = dialect.feed
        # the feed across customers: each entry with its transaction after its columns
        self._select_feed = None if feed is None else f"SELECT {entry_columns}, {feed.position} {entries_joined}"
        self.select_operation = f"SELECT {', '.join(OPERATION_COLUMNS)} FROM operations"
        # a block or hold written whole: a new one (its row key is the one the database gives
        # it), or one whose fixed part changed (the upsert gives back its row key)
        block_columns = (*BLOCK_COLUMNS, "live")
        self.insert_block = (
            f"INSERT INTO blocks ({', '.join(block_columns)}) VALUES ({_values(dialect, block_columns)})"
        )
        keys = dialect.conflict_keys
        self.upsert_block = _upsert(dialect, "blocks", block_columns, keys["blocks"], " RETURNING pos")
        self.insert_hold = f"INSERT INTO holds ({', '.join(HOLD_COLUMNS)}) VALUES ({_values(dialect, HOLD_COLUMNS)})"
        self.upsert_hold = _upsert(dialect, "holds", HOLD_COLUMNS, keys["holds"], " RETURNING pos")
        self.upsert_operation = _upsert(dialect, "operations", OPERATION_COLUMNS, keys["operations"])
        # an account written whole: a customer's first write (a customer with a last entry
        # has its first_seq)
        self.upsert_account = (
            f"INSERT INTO accounts ({', '.join(ACCOUNT_COLUMNS)}) VALUES ({_values(dialect, ACCOUNT_COLUMNS)}) "
            "ON CONFLICT (customer) DO UPDATE SET last_at = excluded.last_at, next_number = excluded.next_number, "
            "first_seq = COALESCE(accounts.first_seq, excluded.first_seq), settings = excluded.settings"
        )
        self.upsert_account_unit = _upsert(dialect, "account_units", ACCOUNT_UNIT_COLUMNS, "customer, unit")
        self.delete_units = f"DELETE FROM account_units WHERE customer = {m}"
        self.forget_unit_times = f"UPDATE account_units SET last_at = NULL WHERE customer = {m}"
        self.update_first_seq = f"UPDATE accounts SET first_seq = COALESCE(first_seq, {m}) WHERE customer = {m}"
        self.upsert_unit = (
            f"INSERT INTO units (name, scale) VALUES ({m}, {m}) ON CONFLICT (name) DO UPDATE SET scale = excluded.scale"
        )
        self.units = f"SELECT name, scale FROM units ORDER BY {dialect.made_order}"
        # the account's row with each of its units' (see codec.account)
        self.account = (
            "SELECT a.last_at, a.next_number, u.unit, u.granted, u.used, u.expired, u.voided, u.debt, "
            "u.settlements, u.last_at, a.settings FROM accounts a LEFT JOIN account_units u ON u.customer = a.customer "
            f"WHERE a.customer = {m}"
        )
        self.live_blocks = f"{self.select_block} WHERE customer = {m} AND live = 1 ORDER BY pos"
        self.active_holds = f"{self.select_hold} WHERE customer = {m} AND status = 'active' ORDER BY pos"
        self.customer_blocks = f"{self.select_block} WHERE customer = {m} ORDER BY pos"
        self.customer_holds = f"{self.select_hold} WHERE customer = {m} ORDER BY pos"
        self.customer_entries = f"{self.select_entry} WHERE e.customer = {m} ORDER BY e.seq"
        self.block_by_id = f"{self.select_block} WHERE id = {m}"
        self.hold_by_id = f"{self.select_hold} WHERE id = {m}"
        self.operation_by_key = f"{self.select_operation} WHERE namespace = {m} AND key = {m}"
        self.all_operations = f"{self.select_operation} ORDER BY customer, namespace, key"
        self.customers = "SELECT customer FROM accounts WHERE first_seq IS NOT NULL ORDER BY first_seq"
        self.last_seq = "SELECT COALESCE(MAX(seq), 0) FROM entries"
        # what finds a row only if a transaction's first write was committed
        self.unit_witness = f"SELECT 1 FROM units WHERE name = {m} AND scale = {m}"
        self.entry_witness = f"SELECT 1 FROM entries WHERE seq = {m} AND op_id = {m}"
        self.operation_witness = f"SELECT 1 FROM operations WHERE namespace = {m} AND key = {m} AND op_id = {m}"
        # customers and their profiles
        self.profiles_of = f"SELECT {', '.join(PROFILE_COLUMNS)} FROM profiles WHERE customer = {m} ORDER BY pos"
        self.insert_profile = (
            f"INSERT INTO profiles (pos, {', '.join(PROFILE_COLUMNS)}) "
            f"VALUES ({dialect.next_pos('profiles')}, {_values(dialect, PROFILE_COLUMNS)})"
        )
        self.profile_count = f"SELECT COUNT(*) FROM profiles WHERE customer = {m}"
        self.profile_witness = f"SELECT 1 FROM profiles WHERE customer = {m} HAVING COUNT(*) >= {m}"
        self.customer_of = f"SELECT customer FROM external_ids WHERE external_id = {m}"
        self.hold_external_id = f"INSERT INTO external_ids (external_id, customer) VALUES ({m}, {m})"
        self.release_external_id = f"DELETE FROM external_ids WHERE external_id = {m} AND customer = {m}"
        self.first_seen = f"SELECT first_at FROM customers WHERE customer = {m}"
        self.customer_page = (
            f"SELECT pos, customer FROM customers WHERE pos > {m} AND first_at <= {t} ORDER BY pos LIMIT {m}"
        )
        # a customer seen: first then if never before, or earlier than first thought
        self.see_customer = (
            f"INSERT INTO customers (pos, customer, first_at) VALUES ({dialect.next_pos('customers')}, {m}, {t}) "
            f"ON CONFLICT (customer) DO UPDATE SET first_at = {dialect.least}(customers.first_at, excluded.first_at)"
        )
        self._settings(dialect)
        # snapshots of account state (see .snapshots)
        self.drop_snapshots_after = f"DELETE FROM snapshots WHERE customer = {m} AND at > {t}"
        self.last_snapshot_seq = f"SELECT seq FROM snapshots WHERE customer = {m} ORDER BY seq DESC LIMIT 1"
        self.entries_since = f"SELECT COUNT(*) FROM entries WHERE customer = {m} AND seq > {m}"
        self.insert_snapshot = f"INSERT INTO snapshots (customer, seq, at, state) VALUES ({m}, {m}, {t}, {m})"
        self.snapshot_at = (
            f"SELECT seq, state FROM snapshots WHERE customer = {m} AND at <= {t} ORDER BY at DESC, seq DESC LIMIT 1"
        )
        self.next_snapshot_seq = f"SELECT MIN(seq) FROM snapshots WHERE customer = {m} AND at > {t}"
        self.past_entries = (
            f"{self.select_entry} WHERE e.customer = {m} AND e.seq > {m} AND e.seq <= {m} AND e.at <= {t} "
            "ORDER BY e.seq"
        )

    def _settings(self, dialect: Dialect) -> None:
        """The statements of settings (schedules, top-up rules, alerts) and events."""
        m, t = dialect.mark, dialect.time_value(dialect.mark)
        # what a write loads besides blocks and holds: the settings in force (codec.settings_in_force)
        by = dialect.indexed_by
        self.settings_of = (
            f"SELECT 0, number, body FROM schedules{by('schedules_in_force')} WHERE customer = {m} AND ended = 0 "
            f"UNION ALL SELECT 1, pos, body FROM top_ups{by('top_ups_in_force')} WHERE customer = {m} AND live = 1 "
            f"UNION ALL SELECT 2, number, body FROM alerts{by('alerts_in_force')} WHERE customer = {m} AND removed = 0 "
            "ORDER BY 1, 2"
        )
        self.schedules_of = f"SELECT body FROM schedules WHERE customer = {m} ORDER BY number"
        self.schedule_by_id = f"SELECT body FROM schedules WHERE id = {m}"
        self.upsert_schedule = _upsert(
            dialect, "schedules", ("customer", "id", "number", "ended", "body"), "customer, id"
        )
        self.alerts_of = f"SELECT body FROM alerts WHERE customer = {m} ORDER BY number"
        self.alert_by_id = f"SELECT body FROM alerts WHERE id = {m}"
        self.upsert_alert = _upsert(dialect, "alerts", ("customer", "id", "number", "removed", "body"), "customer, id")
        self.top_ups_of = f"SELECT at, unit, body FROM top_ups WHERE customer = {m} ORDER BY pos"
        self.retire_top_up = f"UPDATE top_ups SET live = 0 WHERE customer = {m} AND unit = {m} AND live = 1"
        self.insert_top_up = (
            "INSERT INTO top_ups (customer, pos, unit, at, live, body) VALUES "
            f"({m}, (SELECT COALESCE(MAX(pos), 0) + 1 FROM top_ups WHERE customer = {m}), {m}, {t}, {m}, {m})"
        )
        # what finds a settings write only if it was committed (see the entries' witness)
        self.schedule_witness = f"SELECT 1 FROM schedules WHERE id = {m} AND ended = {m} AND body = {m}"
        self.alert_witness = f"SELECT 1 FROM alerts WHERE id = {m} AND removed = {m}"
        self.top_up_witness = (
            f"SELECT 1 FROM top_ups WHERE customer = {m} AND unit = {m} AND at = {t} AND live = {m} "
            f"AND (body = {m} OR (body IS NULL AND {m} IS NULL))"
        )
        self.insert_event = (
            f"INSERT INTO events (customer, id, kind, unit, at, op_id, body) VALUES ({m}, {m}, {m}, {m}, {t}, {m}, {m})"
        )

    def list_events(
        self, *, customer: str | None, after_seq: int, after_txid: int | None, limit: int
    ) -> tuple[str, list[object]] | None:
        """The ``events()`` query: ``(sql, params)`` of rows ``seq, body[, transaction]``, or
        ``None`` when no event can match. Across customers, a feed by transaction where seq
        order is not commit order (as :meth:`list_entries`)."""
        m = self.dialect.mark
        feed = self.dialect.feed if customer is None else None
        if feed is not None and after_txid is not None:
            clauses = [feed.after.format(m=m)]
            params: list[object] = [str(after_txid), after_seq]
        else:
            if after_seq >= INT64_MAX:
                return None
            clauses = [f"e.seq > {m}"]
            params = [max(after_seq, 0)]
        if feed is not None:
            clauses.append(feed.settled)
        if customer is not None:
            clauses.append(f"e.customer = {m}")
            params.append(customer)
        position = "" if feed is None else f", {feed.position}"
        order = "e.seq" if feed is None else feed.order
        sql = f"SELECT e.seq, e.body{position} FROM events e WHERE {' AND '.join(clauses)} ORDER BY {order}"
        if 0 < limit <= INT64_MAX:
            sql += f" LIMIT {m}"
            params.append(limit)
        return sql, params

    def _set(self, table: str, names: tuple[str, ...]) -> str:
        made = self._made.get((table, names))
        if made is None:
            m = self.dialect.mark
            sets = ", ".join(f"{name} = {_value(self.dialect, name)}" for name in names)
            made = self._made[table, names] = f"UPDATE {table} SET {sets} WHERE {_KEYS[table].format(m=m)}"
        return made

    def update_block(self, names: tuple[str, ...]) -> str:
        """Set the named columns of one block (what entries moved), by its row key: the
        parameters are their values, then the customer and ``pos``."""
        return self._set("blocks", names)

    def update_hold(self, names: tuple[str, ...]) -> str:
        """Set the named columns of one hold, by its row key: their values, then the customer
        and ``pos``."""
        return self._set("holds", names)

    def write_account_unit(self, names: tuple[str, ...]) -> str:
        """One unit's totals: only the named columns of its row, or the row whole if it is not
        there (a unit new to the customer). The parameters: the whole row
        (``ACCOUNT_UNIT_COLUMNS``)."""
        return self._write_moved("account_units", ACCOUNT_UNIT_COLUMNS, "customer, unit", names)

    def write_account(self, names: tuple[str, ...]) -> str:
        """A customer's row: only the named columns, or the row whole if it is not there. The
        parameters: the whole row (``ACCOUNT_COLUMNS``)."""
        return self._write_moved("accounts", ACCOUNT_COLUMNS, "customer", names)

    def _write_moved(self, table: str, columns: Sequence[str], key: str, names: tuple[str, ...]) -> str:
        # an upsert that sets only what moved: one statement, whose outcome a write need not
        # read (so an adapter may send it along with others)
        made = self._made.get((table, names))
        if made is None:
            sets = ", ".join(f"{name} = excluded.{name}" for name in names)
            made = self._made[table, names] = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_values(self.dialect, columns)}) "
                f"ON CONFLICT ({key}) DO UPDATE SET {sets}"
            )
        return made

    def insert_entries(self, count: int) -> str:
        """One INSERT of ``count`` entries (at most :data:`ENTRIES_PER_INSERT`): the rows'
        values one after the other."""
        made = self._made.get(("entries", count))
        if made is None:
            row = f"({_values(self.dialect, ENTRY_ROW_COLUMNS)})"
            made = self._made["entries", count] = (
                f"INSERT INTO entries ({', '.join(ENTRY_ROW_COLUMNS)}) VALUES {', '.join(row for _ in range(count))}"
            )
        return made

    def positions(self, table: str, count: int) -> str:
        """``SELECT id, pos`` of ``count`` blocks or holds by id."""
        return f"SELECT id, pos FROM {table} WHERE id IN ({self.dialect.marks(count)})"

    def by_ids(self, select: str, count: int) -> str:
        """``select`` (of blocks or holds) narrowed to ``count`` ids, in the order made."""
        return f"{select} WHERE id IN ({self.dialect.marks(count)}) ORDER BY pos"

    def list_entries(
        self,
        *,
        after_seq: int,
        limit: int,
        filters: Sequence[tuple[str, object]],
        kinds: Sequence[str] | None,
        since: int | None,
        until: int | None,
        after_txid: int | None = None,
    ) -> tuple[str, list[object]] | None:
        """The ``entries()`` query: ``(sql, params)``, or ``None`` when no entry can match.
        ``filters`` are ``(field, value)`` equalities on the fields of an ``EntryQuery``
        (``customer``, ``unit``, ``block_id``, ``op_id``, ``ref``); ``since``/``until``
        microseconds."""
        m = self.dialect.mark
        # across customers, a feed by transaction where seq order is not commit order
        feed = self.dialect.feed if not any(field in _ONE_CUSTOMER for field, _value in filters) else None
        if feed is not None and after_txid is not None:
            clauses = [feed.after.format(m=m)]
            params: list[object] = [str(after_txid), after_seq]
        else:
            if after_seq >= INT64_MAX:
                return None  # no seq comes after it (the column is 64-bit)
            clauses = [f"e.seq > {m}"]
            params = [max(after_seq, 0)]
        if feed is not None:
            clauses.append(feed.settled)
        for field, value in filters:
            clauses.append(_ENTRY_FILTERS[field].format(m=m))
            params.append(value)
        if kinds is not None:
            if not kinds:
                return None
            clauses.append(f"e.kind IN ({self.dialect.marks(len(kinds))})")
            params.extend(sorted(kinds))
        if since is not None:
            clauses.append(f"e.at >= {self.dialect.time_value(m)}")
            params.append(since)
        if until is not None:
            clauses.append(f"e.at < {self.dialect.time_value(m)}")
            params.append(until)
        if feed is None:
            sql = f"{self.select_entry} WHERE {' AND '.join(clauses)} ORDER BY e.seq"
        else:
            sql = f"{self._select_feed} WHERE {' AND '.join(clauses)} ORDER BY {feed.order}"
        # like the memory adapter: no limit for 0 or less, nor for more rows than a 64-bit count
        if 0 < limit <= INT64_MAX:
            sql += f" LIMIT {m}"
            params.append(limit)
        return sql, params

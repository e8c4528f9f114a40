"""The statements every SQL adapter runs, rendered once for a :class:`~.dialect.Dialect`.

A statement's parameters are built by :mod:`.codec` in the column order named there.
"""

from __future__ import annotations

from collections.abc import Sequence

from .codec import ACCOUNT_COLUMNS, BLOCK_COLUMNS, ENTRY_COLUMNS, HOLD_COLUMNS, OPERATION_COLUMNS
from .dialect import Dialect

#: The largest integer a 64-bit column holds (``seq``, ``LIMIT``).
INT64_MAX = 2**63 - 1


def _upsert(dialect: Dialect, table: str, columns: Sequence[str], key: str) -> str:
    keys = {part.strip() for part in key.split(",")}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({dialect.marks(len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


class Statements:
    """Every statement text of the shared layer in one dialect (built once per adapter)."""

    def __init__(self, dialect: Dialect) -> None:
        m = dialect.mark
        self.dialect = dialect
        self.select_block = f"SELECT {', '.join(BLOCK_COLUMNS)} FROM blocks"
        self.select_hold = f"SELECT {', '.join(HOLD_COLUMNS)} FROM holds"
        self.select_entry = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries"
        self.select_operation = f"SELECT {', '.join(OPERATION_COLUMNS)} FROM operations"
        self.upsert_block = _upsert(dialect, "blocks", BLOCK_COLUMNS, "id")
        self.upsert_hold = _upsert(dialect, "holds", HOLD_COLUMNS, "id")
        self.insert_entry = (
            f"INSERT INTO entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({dialect.marks(len(ENTRY_COLUMNS))})"
        )
        self.upsert_operation = _upsert(dialect, "operations", OPERATION_COLUMNS, "namespace, key")
        self.upsert_account = (
            f"INSERT INTO accounts ({', '.join(ACCOUNT_COLUMNS)}) VALUES ({dialect.marks(len(ACCOUNT_COLUMNS))}) "
            "ON CONFLICT (customer) DO UPDATE SET totals = excluded.totals, last_at = excluded.last_at, "
            "next_number = excluded.next_number, settlements = excluded.settlements, "
            "first_seq = COALESCE(accounts.first_seq, excluded.first_seq)"
        )
        # its parameters: an account row with the customer moved last (see update_account_params)
        self.update_account = (
            f"UPDATE accounts SET totals = {m}, last_at = {m}, next_number = {m}, settlements = {m}, "
            f"first_seq = COALESCE(first_seq, {m}) WHERE customer = {m}"
        )
        self.update_first_seq = f"UPDATE accounts SET first_seq = COALESCE(first_seq, {m}) WHERE customer = {m}"
        self.update_block_figures = (
            f"UPDATE blocks SET remaining = {m}, held = {m}, settle_pending = {m}, void_closed = {m}, "
            f"emptied_by = {m} WHERE id = {m}"
        )
        self.upsert_unit = (
            f"INSERT INTO units (name, scale) VALUES ({m}, {m}) ON CONFLICT (name) DO UPDATE SET scale = excluded.scale"
        )
        self.units = f"SELECT name, scale FROM units ORDER BY {dialect.made_order}"
        self.account = f"SELECT totals, last_at, next_number, settlements FROM accounts WHERE customer = {m}"
        self.live_blocks = f"{self.select_block} WHERE customer = {m} AND remaining > 0 ORDER BY pos"
        self.active_holds = f"{self.select_hold} WHERE customer = {m} AND status = 'active' ORDER BY pos"
        self.customer_blocks = f"{self.select_block} WHERE customer = {m} ORDER BY pos"
        self.customer_holds = f"{self.select_hold} WHERE customer = {m} ORDER BY pos"
        self.customer_entries = f"{self.select_entry} WHERE customer = {m} ORDER BY seq"
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
        # snapshots of account state (see .snapshots)
        self.drop_snapshots_after = f"DELETE FROM snapshots WHERE customer = {m} AND at > {m}"
        self.last_snapshot_seq = f"SELECT seq FROM snapshots WHERE customer = {m} ORDER BY seq DESC LIMIT 1"
        self.entries_since = f"SELECT COUNT(*) FROM entries WHERE customer = {m} AND seq > {m}"
        self.insert_snapshot = f"INSERT INTO snapshots (customer, seq, at, state) VALUES ({dialect.marks(4)})"
        self.snapshot_at = (
            f"SELECT seq, state FROM snapshots WHERE customer = {m} AND at <= {m} ORDER BY at DESC, seq DESC LIMIT 1"
        )
        self.next_snapshot_seq = f"SELECT MIN(seq) FROM snapshots WHERE customer = {m} AND at > {m}"
        self.past_entries = (
            f"{self.select_entry} WHERE customer = {m} AND seq > {m} AND seq <= {m} AND at <= {m} ORDER BY seq"
        )

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
    ) -> tuple[str, list[object]] | None:
        """The ``entries()`` query: ``(sql, params)``, or ``None`` when no entry can match.
        ``filters`` are ``(column, value)`` equalities; ``since``/``until`` microseconds."""
        m = self.dialect.mark
        if after_seq >= INT64_MAX:
            return None  # no seq comes after it (the column is 64-bit)
        clauses = [f"seq > {m}"]
        params: list[object] = [max(after_seq, 0)]
        for column, value in filters:
            clauses.append(f"{column} = {m}")
            params.append(value)
        if kinds is not None:
            if not kinds:
                return None
            clauses.append(f"kind IN ({self.dialect.marks(len(kinds))})")
            params.extend(sorted(kinds))
        if since is not None:
            clauses.append(f"at >= {m}")
            params.append(since)
        if until is not None:
            clauses.append(f"at < {m}")
            params.append(until)
        sql = f"{self.select_entry} WHERE {' AND '.join(clauses)} ORDER BY seq"
        # like the memory adapter: no limit for 0 or less, nor for more rows than a 64-bit count
        if 0 < limit <= INT64_MAX:
            sql += f" LIMIT {m}"
            params.append(limit)
        return sql, params

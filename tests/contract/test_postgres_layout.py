"""The PostgreSQL layout is the one a sharded deployment needs: every table carries the
customer (but ``units``, a small reference table, and the migrations' bookkeeping), every
unique key includes it, and every write statement names one customer, so that PostgreSQL's
own hash partitioning by customer (and Citus, which distributes the same way) routes it to
one partition. Proven here on a database created with ``partitions=4``."""

from __future__ import annotations

import psycopg
import pytest

from creditcore import Ledger
from creditcore.adapters.postgres.session import SQL

# external_ids: an external id is unique across every customer, so its table cannot be split
# by customer; it is written only when a profile's external id changes
# billing's tables are not partitioned yet: meters and prices belong to no customer, an event id
# is unique across every customer, one invoice counter serves all (docs/scaling.md)
REFERENCE_TABLES = {
    "units", "creditcore_migrations", "external_ids", "billing_objects", "meter_events", "billing_counters",
}  # fmt: skip


@pytest.fixture
def partitioned(postgres_dsn: str) -> str:
    ledger = Ledger.postgres(postgres_dsn, partitions=4)
    # forty customers' worth of every kind of row
    for number in range(40):
        customer = f"c{number}"
        ledger.grant(customer, 100, idempotency_key=f"g{number}")
        ledger.burn(customer, 30)
        ledger.hold(customer, 10, hold_id=f"h{number}")
        ledger.capture(f"h{number}", 4)
    ledger.close()
    return postgres_dsn


def test_every_table_but_the_reference_ones_is_partitioned_by_customer(partitioned: str) -> None:
    with psycopg.connect(partitioned) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            )
        }
        keyed = dict(
            conn.execute(
                "SELECT c.relname, a.attname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                "WHERE p.partstrat = 'h'"
            ).fetchall()
        )
    assert tables - REFERENCE_TABLES == set(keyed), "a table is neither partitioned nor a reference table"
    assert set(keyed.values()) == {"customer"}


def test_every_unique_key_of_a_customer_table_includes_the_customer(partitioned: str) -> None:
    with psycopg.connect(partitioned) as conn:
        keys = conn.execute(
            "SELECT c.relname, i.relname, array_agg(a.attname::text) FROM pg_index x "
            "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(x.indkey) "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE x.indisunique AND n.nspname = 'public' AND NOT c.relispartition "
            "GROUP BY c.relname, i.relname"
        ).fetchall()
    assert keys, "no unique key found"
    for table, index, columns in keys:
        if table not in REFERENCE_TABLES:
            assert "customer" in columns, f"{table}.{index} ({columns}) leaves the customer out"


def test_the_rows_spread_over_every_partition(partitioned: str) -> None:
    with psycopg.connect(partitioned) as conn:
        for table in ("accounts", "blocks", "holds", "entries", "account_units", "operations"):
            counts = [
                conn.execute(f"SELECT count(*) FROM {table}_p{number}").fetchone()[0]  # type: ignore[index]
                for number in range(4)
            ]
            assert all(count > 0 for count in counts), f"{table}: {counts}"


@pytest.mark.parametrize(
    ("statement", "parameters"),
    [
        (SQL.update_block(("remaining", "held")), (1, 0, "c7", 1)),
        (SQL.update_hold(("status", "captured")), ("captured", 1, "c7", 1)),
        (SQL.write_account_unit(("used",)), ("c7", "credits", 5, 1, 0, 0, 0, None, None)),
        (SQL.write_account(("next_number",)), ("c7", None, 2, None, 0)),
        (SQL.account, ("c7",)),
        (SQL.live_blocks, ("c7",)),
        (SQL.active_holds, ("c7",)),
        (SQL.settings_of, ("c7", "c7", "c7")),
        (SQL.upsert_schedule, ("c7", "s", 1, 0, "{}")),
        (SQL.insert_top_up, ("c7", "c7", "credits", 0, 1, "{}")),
        (SQL.insert_event, ("c7", "evt", "top_up", "credits", 0, "op", "{}")),
    ],
    ids=[
        "update-block", "update-hold", "update-unit", "update-account", "load-account", "load-blocks", "load-holds",
        "load-settings", "save-schedule", "save-top-up", "save-event",
    ],
)  # fmt: skip
def test_a_writes_statements_reach_one_partition(
    partitioned: str, statement: str, parameters: tuple[object, ...]
) -> None:
    """What a write runs, planned by PostgreSQL: each statement on a customer's rows touches
    one partition of each table it names (partition pruning by the customer)."""
    with psycopg.connect(partitioned) as conn:
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {statement}", parameters))
    for table in ("blocks", "holds", "account_units", "accounts", "schedules", "top_ups", "alerts", "events"):
        reached = {f"{table}_p{number}" for number in range(4) if f"{table}_p{number} " in plan + " "}
        assert len(reached) <= 1, f"{table}: {sorted(reached)} in\n{plan}"

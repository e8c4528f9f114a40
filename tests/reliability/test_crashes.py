"""A writer killed with SIGKILL at random moments loses nothing it acknowledged and leaves a
sound file.

Each round forks a child (no SQLite connection is open in this process when it forks) that
opens the file and works through a seeded plan of keyed writes: grants, burns (some into
debt), holds, captures, releases, and ``atomic()`` batches of several of them (some rounds
are nothing but long batches, so that kills land inside them). Before each step the child
reports that it starts it; after it returns, the child reports every result, encoded, through
a pipe (one unbuffered ``os.write`` per step). After a random delay the parent kills it with
SIGKILL, then checks, on the file as the crash left it:

- it opens, ``PRAGMA integrity_check`` and ``foreign_key_check`` are clean, ``verify()`` is
  clean;
- every step the child reported as returned is there: the same call with the same key
  returns ``replayed=True`` and a result equal to the one the child got;
- a step the child never started left nothing, nor did a step that failed;
- the step in flight when the kill came is all or nothing (for a batch: all its keys, or
  none).
"""

from __future__ import annotations

import functools
import gc
import os
import random
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_support import HEAVY, fresh, integrity

from creditcore import CreditError, Ledger
from creditcore.codec import decode_result, encode_result
from creditcore.model import Result

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
Step = tuple[bool, list[Call]]  # (atomic batch?, the calls)
CUSTOMERS = ("ada", "bob", "cy", "dee")
NAMESPACE = {"grant": "key", "burn": "key", "hold": "hold", "capture": "end", "release": "end"}
MAX_DELAY = 0.05  # seconds between the child's first sign of life and the kill
SEPARATOR = "\x1f"  # between the encoded results of one step (JSON never holds it raw)


def plan(round_number: int) -> list[Step]:
    """The child's writes for one round: the same for the child and the parent."""
    rng = random.Random(round_number)
    tag = f"r{round_number}"
    counter = iter(range(1_000_000))
    holds: list[str] = []

    def call() -> Call:
        customer = rng.choice(CUSTOMERS)
        key = f"{tag}-{next(counter)}"
        roll = rng.random()
        if roll < 0.3:
            return "grant", (customer, rng.randint(10, 40)), {"idempotency_key": key, "priority": rng.choice((10, 50))}
        if roll < 0.6:
            overdraft = rng.choice(("reject", "partial", "debt"))
            return "burn", (customer, rng.randint(1, 12)), {"overdraft": overdraft, "idempotency_key": key}
        if roll < 0.8 or not holds:
            holds.append(key)
            return "hold", (customer, rng.randint(1, 8)), {"hold_id": key}
        hold_id = holds.pop(rng.randrange(len(holds)))
        if rng.random() < 0.6:
            return "capture", (hold_id, rng.choice((None, 0, 1, 2))), {}
        return "release", (hold_id,), {}

    if round_number % 5 == 4:  # long batches: the kill most likely lands inside one
        return [(True, [call() for _ in range(40)]) for _ in range(6)]
    steps: list[Step] = []
    for _ in range(80):
        if rng.random() < 0.25:
            steps.append((True, [call() for _ in range(rng.randint(2, 6))]))
        else:
            steps.append((False, [call()]))
    return steps


def perform(ledger: Ledger, step: Step) -> list[Result]:
    batch, calls = step
    if not batch:
        name, args, kwargs = calls[0]
        return [getattr(ledger, name)(*args, **kwargs)]
    with ledger.atomic():
        return [getattr(ledger, name)(*args, **kwargs) for name, args, kwargs in calls]


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def child(opener: Callable[[], Ledger], steps: list[Step], report: int) -> None:
    """The writer: reports ``R`` once the store is open, ``S i`` before step i, ``D i
    results`` after it returned, ``F i`` after it failed, ``U i`` after a failure whose
    outcome the store could not know (a connection lost during COMMIT: all or nothing)."""
    ledger = opener()
    _send(report, b"R\n")
    for number, step in enumerate(steps):
        _send(report, f"S {number}\n".encode())
        try:
            results = perform(ledger, step)
        except CreditError as error:
            _send(report, f"{'U' if 'unknown' in str(error) else 'F'} {number}\n".encode())
            continue
        _send(report, f"D {number} {SEPARATOR.join(encode_result(r) for r in results)}\n".encode())
    ledger.close()
    _send(report, b"E\n")


def run_and_kill(
    opener: Callable[[], Ledger], steps: list[Step], delay: float, strike: Callable[[int], None] | None = None
) -> list[str]:
    """Fork the writer, kill it ``delay`` seconds after it opened the store (or, with
    ``strike``, call ``strike(pid)`` then and let it finish), and return the complete lines
    it reported."""
    read_end, write_end = os.pipe()
    gc.freeze()  # the child never finalises objects of this process
    try:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(read_end)
                child(opener, steps, write_end)
                status = 0
            finally:
                os._exit(status)
    finally:
        gc.unfreeze()
    os.close(write_end)
    received = bytearray()
    try:
        while b"\n" not in received:  # wait for the child to open the file
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            received += chunk
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:  # keep draining the pipe meanwhile
            readable, _, _ = select.select([read_end], [], [], left)
            if readable:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                received += chunk
        if strike is None:
            os.kill(pid, signal.SIGKILL)
        else:
            strike(pid)
        while chunk := os.read(read_end, 65536):  # until it is dead or done
            received += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(read_end)
    if os.WIFEXITED(status):
        assert os.WEXITSTATUS(status) == 0, "the writer failed before it was killed"
    text = received.decode()
    return text.split("\n")[:-1]  # a last line without its newline was cut by the kill


class Tally:
    def __init__(self) -> None:
        self.kills = 0
        self.in_batch = 0
        self.in_flight = 0
        self.acknowledged = 0  # operations the writer reported as returned, each found again


def present(ledger: Ledger, call: Call) -> bool:
    name, args, kwargs = call
    key = kwargs.get("idempotency_key") or kwargs.get("hold_id") or args[0]
    with ledger.repository.reader() as reader:
        return reader.find_operation(NAMESPACE[name], key) is not None


def check_after_kill(opener: Callable[[], Ledger], steps: list[Step], lines: list[str], tally: Tally) -> None:
    started: set[int] = set()
    ended: set[int] = set()
    done: dict[int, list[str]] = {}
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "S":
            started.add(int(rest))
        elif kind == "F":
            ended.add(int(rest))
        elif kind == "D":
            number, _, results = rest.partition(" ")
            done[int(number)] = results.split(SEPARATOR)
            ended.add(int(number))
    ledger = opener()
    try:
        report = ledger.verify()
        assert report.ok, str(report)
        for number, encoded in done.items():
            again = perform(ledger, steps[number])
            assert [r.replayed for r in again] == [True] * len(again), f"step {number} was not kept"
            assert [fresh(r) for r in again] == [decode_result(e) for e in encoded], f"step {number} differs"
            tally.acknowledged += len(encoded)
        for number, (batch, calls) in enumerate(steps):
            if number in started and number not in ended:  # in flight when the kill came
                tally.in_flight += 1
                tally.in_batch += batch
                found = [present(ledger, c) for c in calls]
                assert all(found) or not any(found), f"step {number} is half there: {found}"
            elif number not in done:  # never started, or failed
                assert not any(present(ledger, c) for c in calls), f"step {number} left a trace"
    finally:
        ledger.close()
    tally.kills += 1


def kill_rounds(tmp_path: Path, rounds: int, files: int) -> Tally:
    """``rounds`` kills, spread over ``files`` files that each take many crashes in a row;
    the writer uses ``durability="full"`` on every other file and ``"normal"`` on the rest
    (both promise to keep what was acknowledged when the process dies)."""
    tally = Tally()
    rng = random.Random(4)
    for number in range(rounds):
        file_number = number * files // rounds
        path = tmp_path / f"ledger-{file_number}.db"
        steps = plan(number)
        durability = ("full", "normal")[file_number % 2]
        opener = functools.partial(Ledger.sqlite, path, durability=durability)
        lines = run_and_kill(opener, steps, rng.uniform(0, MAX_DELAY))
        assert lines and lines[0] == "R", "the writer could not open the file"
        assert integrity(path) == ["ok"]
        check_after_kill(functools.partial(Ledger.sqlite, path), steps, lines, tally)
    return tally


def test_120_sigkills_of_a_writer_lose_nothing_it_acknowledged(tmp_path: Path) -> None:
    started = time.monotonic()
    tally = kill_rounds(tmp_path, rounds=120, files=4)
    print(
        f"{tally.kills} kills in {time.monotonic() - started:.1f}s: {tally.acknowledged} acknowledged writes kept, "
        f"{tally.in_flight} kills during a step ({tally.in_batch} during an atomic batch)"
    )
    assert tally.kills == 120
    # the writer got somewhere between kills (about 3 writes a kill on a quiet machine, fewer
    # when other processes share the cores): what matters is that every one it was told of is kept
    assert tally.acknowledged >= tally.kills // 2
    assert tally.in_flight > 30 and tally.in_batch > 10  # many kills came half-way through a write


@pytest.mark.skipif(not HEAVY, reason="CREDITCORE_HEAVY=1 runs the heavy variant")
def test_heavy_1000_sigkills(tmp_path: Path) -> None:
    started = time.monotonic()
    tally = kill_rounds(tmp_path, rounds=1000, files=10)
    print(
        f"{tally.kills} kills in {time.monotonic() - started:.1f}s: {tally.acknowledged} acknowledged writes kept, "
        f"{tally.in_flight} kills during a step ({tally.in_batch} during an atomic batch)"
    )
    assert tally.kills == 1000


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_100_sigkills_of_a_writer_and_20_terminated_backends_on_postgres(postgres_dsn: str) -> None:
    """The same rounds on PostgreSQL: 100 writers killed with SIGKILL (the server rolls back
    what a dead connection had open), and 20 whose backend is ended under them with
    ``pg_terminate_backend`` while they write on for a moment before they are killed too (a
    step in flight then fails, or, if the connection went during COMMIT, says its outcome is
    unknown: all or nothing)."""
    import psycopg

    Ledger.postgres(postgres_dsn).close()  # the schema, before any writer races to make it
    tally = Tally()
    terminated = 0
    rng = random.Random(5)

    def terminate(pid: int) -> None:
        nonlocal terminated
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            ended = conn.execute(
                "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a "
                "WHERE a.application_name = 'creditcore' AND a.datname = current_database() "
                "AND a.pid <> pg_backend_pid()"
            ).fetchone()
        terminated += ended[0] if ended else 0
        time.sleep(0.05)  # it writes on, on a new connection, a little
        os.kill(pid, signal.SIGKILL)

    started = time.monotonic()
    for number in range(120):
        steps = plan(1000 + number)
        strike = terminate if number % 6 == 5 else None
        opener = functools.partial(Ledger.postgres, postgres_dsn, max_size=1)
        lines = run_and_kill(opener, steps, rng.uniform(0.01, 0.06), strike)
        assert lines and lines[0] == "R", "the writer could not open the ledger"
        check_after_kill(functools.partial(Ledger.postgres, postgres_dsn), steps, lines, tally)
    print(
        f"{tally.kills} rounds in {time.monotonic() - started:.1f}s: {tally.acknowledged} acknowledged writes kept, "
        f"{tally.in_flight} struck during a step ({tally.in_batch} during an atomic batch), {terminated} backends ended"
    )
    assert tally.kills == 120
    assert terminated >= 20
    assert tally.acknowledged > 100
    assert tally.in_flight > 20

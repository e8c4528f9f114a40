"""A fault at each statement of a write leaves the file exactly as it was.

Every connection of the repository is made by a ``sqlite3.Connection`` subclass (the
adapter's ``connection_factory`` seam) that makes the k-th statement of a call fail, for
every k, in five ways:

- ``before``: the statement raises a disk I/O error instead of running;
- ``after``: the statement runs, then raises (at ``COMMIT`` this is a commit that took
  effect but reported an error: the write must count as done, not be lost or doubled);
- ``busy``: the statement reports SQLITE_BUSY (retried at ``BEGIN`` only, so a write
  either goes through whole or fails whole);
- ``rollback too``: as ``before``, and the ``ROLLBACK`` that follows fails as well;
- ``interrupt``: a ``KeyboardInterrupt`` (an exception that is not SQLite's) arrives
  instead of the statement.

After each failed attempt: the error is ``StorageError`` (the user's own interrupt stays a
``KeyboardInterrupt``), a full dump of every table equals the one taken before, the ledger
and a repository opened anew both read the same as before, no transaction is left open,
the write lock is free, and the same call is tried again with the next k, until it goes
through; then it replays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reliability_support import dump, fresh, integrity, repository_of, write_lock_is_free

from creditcore import Ledger, StorageError, ValidationError
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.model import Result
from creditcore.testing.contract import START, ManualClock, snapshot

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MODES = ("before", "after", "busy", "rollback too", "interrupt")


def _error(code: int, name: str, text: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(f"{text} (injected)")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    error.sqlite_errorname = name  # type: ignore[attr-defined]
    return error


class Plan:
    """Which statement fails, and how. ``at=0`` only counts."""

    def __init__(self) -> None:
        self.at = -1
        self.mode = "before"
        self.count = 0
        self.fired: str | None = None
        self.rollback_failed = False

    def arm(self, at: int, mode: str) -> None:
        self.at, self.mode, self.count, self.fired, self.rollback_failed = at, mode, 0, None, False

    def disarm(self) -> None:
        self.at = -1

    def _fail(self) -> BaseException:
        if self.mode == "interrupt":
            return KeyboardInterrupt()
        if self.mode == "busy":
            return _error(sqlite3.SQLITE_BUSY, "SQLITE_BUSY", "database is locked")
        return _error(sqlite3.SQLITE_IOERR, "SQLITE_IOERR", "disk I/O error")

    def before(self, sql: str) -> None:
        if self.at < 0:
            return
        self.count += 1
        if self.fired is not None:
            if self.mode == "rollback too" and sql.strip().upper() == "ROLLBACK" and not self.rollback_failed:
                self.rollback_failed = True
                raise self._fail()
            return
        if self.count == self.at and self.mode != "after":
            self.fired = sql
            raise self._fail()

    def after(self, sql: str) -> None:
        if self.at < 0 or self.fired is not None:
            return
        if self.count == self.at and self.mode == "after":
            self.fired = sql
            raise self._fail()


def faulty(plan: Plan) -> type[sqlite3.Connection]:
    class FaultyConnection(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            plan.before(sql)
            cursor = super().execute(sql, parameters)
            plan.after(sql)
            return cursor

        def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
            plan.before(sql)
            cursor = super().executemany(sql, parameters)
            plan.after(sql)
            return cursor

    return FaultyConnection


# -- the ledger every write starts from --------------------------------------------------------


def build(ledger: Ledger, clock: ManualClock, *, others: bool = True) -> dict[str, str]:
    """Blocks of several priorities and expiries, one that expires (with credit held in it)
    before the writes, holds to capture, release and time out, a second unit, and with
    ``others`` a customer in debt and one more; the writes come two hours later, so each
    first records what fell due."""
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
    return {"void": void, "move": move, "burn0": burn0}


Write = Callable[[Ledger, dict[str, str]], list[Any]]


def _batch(ledger: Ledger, ids: dict[str, str]) -> list[Any]:
    with ledger.atomic():
        ledger.define_unit("jpy", 0)
        return [
            ledger.grant("cy", 4, unit="jpy", idempotency_key="k-batch-grant"),
            ledger.burn("ada", 3, idempotency_key="k-batch-burn"),
            ledger.hold("ada", 2, hold_id="h-batch"),
            ledger.capture("h-cap", 2),
            ledger.release("h-rel"),
            ledger.grant("bob", 3, idempotency_key="k-batch-settle"),
        ]


def _sweep_in_one_transaction(ledger: Ledger, ids: dict[str, str]) -> list[Any]:
    with ledger.atomic():
        return ledger.expire_due()


WRITES: dict[str, tuple[bool, Write]] = {
    # name: (other customers in the file, the write)
    "grant settling debt": (
        True,
        lambda lg, i: [lg.grant("bob", 20, priority=5, expires_at=START + 10 * DAY, idempotency_key="k-grant")],
    ),
    "burn": (True, lambda lg, i: [lg.burn("ada", 12, idempotency_key="k-burn")]),
    "burn into debt": (True, lambda lg, i: [lg.burn("ada", 500, overdraft="debt", idempotency_key="k-debt")]),
    "hold": (True, lambda lg, i: [lg.hold("ada", 7, hold_id="h-new", expires_at=START + DAY)]),
    "capture": (True, lambda lg, i: [lg.capture("h-cap", 4)]),
    "release": (True, lambda lg, i: [lg.release("h-rel")]),
    "void": (True, lambda lg, i: [lg.void(i["void"], 2, reason="refund", idempotency_key="k-void")]),
    "reverse": (True, lambda lg, i: [lg.reverse(i["burn0"], 3, idempotency_key="k-rev")]),
    "change_expiry": (
        True,
        lambda lg, i: [lg.change_expiry(i["move"], START + 5 * DAY, amount=4, idempotency_key="k-move")],
    ),
    # expire_due commits one customer at a time: on a file with one customer, or inside
    # atomic() for several
    "expire_due": (False, lambda lg, i: lg.expire_due()),
    "expire_due in atomic": (True, _sweep_in_one_transaction),
    "define_unit": (True, lambda lg, i: [lg.define_unit("eur", 3)]),
    "atomic batch": (True, _batch),
}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


class Setup:
    def __init__(self, path: Path, others: bool) -> None:
        self.path = path
        self.others = others
        self.plan = Plan()
        self.ledger: Ledger | None = None

    def start(self) -> tuple[Ledger, dict[str, str]]:
        """A new file with the starting ledger on it."""
        self.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        clock = ManualClock()
        repository = SQLiteRepository(self.path, connection_factory=faulty(self.plan))
        self.ledger = Ledger(repository, clock=clock)
        return self.ledger, build(self.ledger, clock, others=self.others)

    def stop(self) -> None:
        if self.ledger is not None:
            self.plan.disarm()
            self.ledger.close()
            self.ledger = None


@pytest.fixture
def setups(path: Path) -> Iterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for setup in made:
        setup.stop()


def reopened_snapshot(path: Path) -> dict[str, Any]:
    again = Ledger(SQLiteRepository(path), clock=ManualClock(START + 2 * HOUR))
    try:
        return snapshot(again)
    finally:
        again.close()


def check_replays(name: str, first: list[Any], again: list[Any]) -> None:
    if name.startswith("expire_due"):
        assert first and again == []  # a second sweep finds nothing left to record
        return
    assert len(again) == len(first)
    for result, replay in zip(first, again, strict=True):
        if isinstance(result, Result):
            assert replay.replayed, replay
            assert fresh(replay) == result
        else:  # define_unit returns None; expire_due's entries are not results
            assert result is None and replay is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(WRITES))
def test_a_fault_at_any_statement_of_a_write_leaves_the_file_as_it_was(
    path: Path, setups: list[Setup], name: str, mode: str
) -> None:
    others, write = WRITES[name]
    setup = Setup(path, others)
    setups.append(setup)
    plan = setup.plan
    ledger, ids = setup.start()
    before_dump, before = dump(path), snapshot(ledger)
    faults = 0
    k = 1
    while True:
        plan.arm(k, mode)
        try:
            results = write(ledger, ids)
        except (StorageError, KeyboardInterrupt) as error:
            plan.disarm()
            assert plan.fired is not None, f"{name}: {error!r} with no fault injected"
            if mode == "interrupt":
                assert isinstance(error, KeyboardInterrupt), error
            else:
                assert isinstance(error, StorageError), error
                assert isinstance(error.__cause__, sqlite3.Error), error.__cause__
            where = f"{name}, {mode} at statement {k} ({plan.fired.split()[0]})"
            assert dump(path) == before_dump, f"{where} changed the file"
            assert not repository_of(ledger).connection().in_transaction, f"{where} left a transaction open"
            assert write_lock_is_free(path), f"{where} left the write lock taken"
            assert snapshot(ledger) == before, f"{where}: the ledger reads something else"
            assert reopened_snapshot(path) == before, f"{where}: the file reopened reads something else"
            faults += 1
            k += 1
            continue
        except BaseException:
            plan.disarm()
            raise
        count, fired = plan.count, plan.fired
        plan.disarm()
        if fired is not None:
            # a fault the write survived: a busy BEGIN retried, or a COMMIT that took effect
            # and then reported an error
            # (or the ROLLBACK that ends a read, answered by dropping that connection)
            word = fired.split()[0].upper()
            survivable = word == "ROLLBACK" or (mode, word) in {("busy", "BEGIN"), ("after", "COMMIT")}
            assert survivable, f"{name}: {mode} at {fired!r}"
        assert dump(path) != before_dump, f"{name}: the write that went through left no trace"
        assert integrity(path) == ["ok"]
        assert ledger.verify().ok
        check_replays(name, results, write(ledger, ids))
        assert reopened_snapshot(path) == snapshot(ledger)
        if fired is None or k >= count:
            break
        # the write went through with statements still to fault: start again from the
        # starting file with the next one
        ledger, ids = setup.start()
        before_dump, before = dump(path), snapshot(ledger)
        k += 1
    print(f"{name}, {mode}: {faults} faults, each left the file as it was")
    assert faults >= (1 if mode == "busy" else 3), f"{name}: only {faults} faults"


def test_a_unit_whose_declaration_failed_stays_unknown(path: Path, setups: list[Setup]) -> None:
    setup = Setup(path, others=True)
    setups.append(setup)
    ledger, _ = setup.start()
    setup.plan.arm(3, "before")
    with pytest.raises(StorageError):
        ledger.define_unit("eur", 3)
    setup.plan.disarm()
    with pytest.raises(ValidationError, match="unknown unit"):
        ledger.grant("ada", 1, unit="eur")
    setup.plan.arm(5, "before")
    with pytest.raises(StorageError), ledger.atomic():
        ledger.define_unit("eur", 3)
        ledger.grant("ada", 1, unit="eur")
    setup.plan.disarm()
    with pytest.raises(ValidationError, match="unknown unit"):
        ledger.grant("ada", 1, unit="eur")


def test_the_connection_factory_must_be_a_sqlite_connection(path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        SQLiteRepository(path, connection_factory=dict)  # type: ignore[arg-type]
    assert raised.value.field == "connection_factory"

"""What only the SQLite adapter promises: the file keeps everything, the settings are the
documented ones, the schema guards itself, every SQLite failure is a StorageError, and it
behaves exactly like the memory adapter."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import sqlite_utils

from creditcore import Ledger, StorageError, ValidationError
from creditcore.adapters import sql
from creditcore.adapters import sqlite as adapter
from creditcore.adapters.memory import MemoryRepository
from creditcore.adapters.sql import codec
from creditcore.adapters.sql.dialect import SQLITE
from creditcore.adapters.sql.statements import Statements
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.adapters.sqlite import schema as sqlite_schema
from creditcore.codec import RESULT_TYPES, decode_result, encode_result
from creditcore.model import Result
from creditcore.repository import ChangeSet
from creditcore.state import AccountState, BlockState, EntryState, HoldState
from creditcore.testing.contract import START, ManualClock, describe, run_script, snapshot

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TABLES = ("units", "accounts", "blocks", "holds", "entries", "operations")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(path: Path, clock: ManualClock) -> Iterator[Ledger]:
    ledger = Ledger.sqlite(path, clock=clock, units={"usd": 2})
    yield ledger
    ledger.close()


def sqlite_repository(ledger: Ledger) -> SQLiteRepository:
    repository = ledger.repository
    assert isinstance(repository, SQLiteRepository)
    return repository


def raw(path: Path) -> sqlite3.Connection:
    """A connection of our own to the file, as another program would open it."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def keys(path: Path) -> list[tuple[str, str]]:
    conn = raw(path)
    try:
        return conn.execute("SELECT namespace, key FROM operations ORDER BY namespace, key").fetchall()
    finally:
        conn.close()


# -- persistence -----------------------------------------------------------------------------


def test_reopening_a_file_gives_back_every_block_hold_entry_key_and_unit(
    ledger: Ledger, clock: ManualClock, path: Path
) -> None:
    ledger.define_unit("eur", 3)
    run_script(ledger, clock, seed=11, steps=150)
    before = snapshot(ledger)
    stored_keys = keys(path)
    assert len(stored_keys) > 10
    with ledger.repository.reader() as reader:
        records = [reader.find_operation(namespace, key) for namespace, key in stored_keys]
        blocks = {b.id: b for c in before["customers"] for b in reader.history(c)[0]}
        holds = {h.id: h for c in before["customers"] for h in reader.history(c)[1]}
    ledger.close()

    again = SQLiteRepository(path)
    try:
        reopened = Ledger(again, clock=clock)
        assert snapshot(reopened) == before
        assert reopened.units() == {"credits": 0, "usd": 2, "eur": 3}
        with again.reader() as reader:
            assert [reader.find_operation(namespace, key) for namespace, key in stored_keys] == records
            assert {i: reader.find_block(i) for i in blocks} == blocks
            assert {i: reader.find_hold(i) for i in holds} == holds
        assert reopened.verify().ok
    finally:
        again.close()


def test_every_field_of_the_stored_states_has_a_column() -> None:
    # a field added to the core must be stored, or a reopened ledger silently loses it
    assert set(attrs.fields_dict(BlockState)) == set(codec.BLOCK_COLUMNS)
    assert set(attrs.fields_dict(HoldState)) == set(codec.HOLD_COLUMNS)
    # (an entry's txid is where a feed by transaction read it, not part of the entry)
    assert {field.name for field in attrs.fields(EntryState) if field.eq} == set(codec.ENTRY_COLUMNS)
    # (the fields a constructor takes: the others are derived, such as the account's indexes)
    assert {field.name for field in attrs.fields(AccountState) if field.init} == {
        "customer", "blocks", "holds", "totals", "last_at", "next_number", "settlements",
        # the settings of SPEC §17 to §19: ChangeSet.of refuses them until a store keeps them
        # (tests/core/test_recurring.py: test_no_store_is_given_settings_it_would_drop)
        "schedules", "top_ups", "alerts",
    }  # fmt: skip


def test_unusual_field_values_round_trip_exactly(path: Path) -> None:
    repository = SQLiteRepository(path)
    at = START + timedelta(microseconds=123_457)
    block = BlockState(
        id="b1", customer="ada", unit="usd", number=3, amount=9_223_372_036_854_775_807,
        remaining=5, held=2, priority=0, category="paid", cost_basis=Decimal("1.2300E+2"),
        scope=frozenset({"é", "trip"}), effective_at=at, expires_at=at + DAY, created_at=at,
        description="quoted \"text\" and \u00e9", metadata={"k": "v", "ü": "✓"}, origin="b0",
        settles_debt=True, settle_pending=True, void_closed=True, emptied_by=None,
    )  # fmt: skip
    found = HoldState(
        id="h1", customer="ada", unit="usd", amount=2, allocations=(("b1", 2),), status="active",
        captured=0, scope="trip", expires_at=at + HOUR, created_at=at, op_id="op1",
        description=None, metadata={"job": "7"},
    )  # fmt: skip
    entry = EntryState(
        op_id="op1", customer="ada", unit="usd", kind="reverse", block_id="b1", hold_id="h1", amount=0,
        available_after=-3, at=at, description="d", metadata={"a": "b"}, ref="op0", of_debt=True,
    )  # fmt: skip
    after = AccountState(customer="ada", blocks={"b1": block}, holds={"h1": found}, last_at=at, next_number=4)
    with repository.transaction() as uow:
        (saved,) = uow.save(ChangeSet.of(AccountState(customer="ada"), after, [entry]))
    repository.close()
    again = SQLiteRepository(path)
    try:
        with again.reader() as reader:
            assert reader.load_account("ada") == after
            assert reader.history("ada") == ([block], [found], [saved])
            assert saved == attrs.evolve(entry, seq=1)
    finally:
        again.close()


def test_the_result_codec_round_trips_every_result_type(ledger: Ledger) -> None:
    burn = ledger.burn("ada", 2, overdraft="debt", description="job")
    results: list[Result] = [
        ledger.grant("ada", "10.25", unit="usd", scope={"b", "a"}, cost_basis="0.50", metadata={"x": "y"}),
        ledger.grant("ada", 10, expires_at=START + DAY),
        burn,
        ledger.hold("ada", "1.5", unit="usd", scope="a", hold_id="h1", expires_at=START + HOUR),
        ledger.capture("h1", "1"),
        ledger.hold("ada", "1", unit="usd", scope="b", hold_id="h2"),
        ledger.release("h2"),
        ledger.reverse(burn.op_id, 1),
        ledger.void(ledger.grant("ada", 3).block.id, 1, reason="refund"),
    ]
    moved = ledger.grant("ada", 4, expires_at=START + DAY).block
    results.append(ledger.change_expiry(moved.id, START + 3 * DAY, amount=2))
    results.append(ledger.refund(burn.op_id, 1, expires_at=START + DAY, description="sorry"))
    assert {type(r).__name__ for r in results} == set(RESULT_TYPES)
    for result in results:
        text = encode_result(result)
        assert text.startswith('{"type":"' + type(result).__name__ + '"')
        back = decode_result(text)
        assert back == result
        # exactly, not just equal: Decimal("1.00") stays 1.00, times keep their offset
        assert describe(back) == describe(result)
        assert encode_result(back) == text
    with pytest.raises(TypeError):
        encode_result(Result(op_id="op", entries=()))


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("normal", 1)])
def test_pragmas_read_back_on_every_connection(path: Path, durability: str, level: int) -> None:
    repository = SQLiteRepository(path, durability=durability, busy_timeout=2.5)
    expected = {"journal_mode": "wal", "synchronous": level, "foreign_keys": 1, "busy_timeout": 2500}
    try:
        assert repository.settings() == expected
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.extend([repository.settings(), repository.connection()]))
        thread.start()
        thread.join()
        assert seen[0] == expected
        assert seen[1] is not repository.connection()  # one connection per thread
        assert repository.connection().isolation_level is None
    finally:
        repository.close()


def test_the_ledger_shorthand_passes_durability(path: Path) -> None:
    ledger = Ledger.sqlite(path, durability="normal")
    try:
        assert sqlite_repository(ledger).settings()["synchronous"] == 1
        assert sqlite_repository(ledger).durability == "normal"
    finally:
        ledger.close()
    with pytest.raises(ValidationError) as raised:
        Ledger.sqlite(path, durability="off")
    assert raised.value.field == "durability"
    with pytest.raises(ValidationError):
        SQLiteRepository(path, busy_timeout=-1)


def test_an_in_memory_database_works_and_is_private(clock: ManualClock) -> None:
    first, second = Ledger.sqlite(":memory:", clock=clock), Ledger.sqlite(":memory:", clock=clock)
    try:
        first.grant("ada", 5)
        assert first.balance("ada").available == 5
        assert second.balance("ada").available == 0
        assert sqlite_repository(first).settings()["journal_mode"] == "memory"
    finally:
        first.close()
        second.close()


def test_a_current_balance_reads_no_history(ledger: Ledger, clock: ManualClock) -> None:
    for _ in range(30):
        ledger.grant("ada", 1, expires_at=clock.now + HOUR)
        ledger.burn("ada", 1)
        clock.advance(HOUR)
    conn = sqlite_repository(ledger).connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        ledger.balance("ada")
        ledger.burn("ada", 1, overdraft="partial")
    finally:
        conn.set_trace_callback(None)
    plans = [
        " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT")
    ]
    assert plans
    for plan in plans:
        assert "SCAN" not in plan, plan  # every read goes through an index
    assert any("blocks_live" in plan for plan in plans)
    assert any("holds_active" in plan for plan in plans)


# -- the schema guards itself ------------------------------------------------------------------


def test_tables_are_strict(ledger: Ledger, path: Path) -> None:
    db = sqlite_utils.Database(raw(path))
    try:
        for table in TABLES:
            assert db[table].exists(), table
            assert db.table(table).strict, f"{table} is not STRICT"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ("UPDATE blocks SET remaining = amount + 1", "CHECK"),
        ("UPDATE blocks SET held = remaining + 1", "CHECK"),
        ("UPDATE blocks SET amount = -1, remaining = -1", "CHECK"),
        ("UPDATE blocks SET amount = '12abc'", "cannot store TEXT value in INTEGER column"),
        ("UPDATE blocks SET remaining = 1.5", "cannot store REAL value in INTEGER column"),
        ("UPDATE blocks SET metadata = '{not json'", "CHECK"),
        ("UPDATE holds SET captured = amount + 1", "CHECK"),
        ("UPDATE units SET scale = -1", "CHECK"),
        ("UPDATE entries SET amount = 0", "append-only"),
        ("DELETE FROM entries", "append-only"),
        (
            "INSERT INTO entries (op_id, customer, unit, kind, block_pos, amount, available_after, at) "
            "VALUES ('op', 'ada', 'credits', 'burn', 999999, 1, 1, 0)",
            "FOREIGN KEY",
        ),
        (
            "INSERT INTO entries (op_id, customer, unit, kind, hold_pos, amount, available_after, at) "
            "VALUES ('op', 'ada', 'credits', 'hold', 999999, 1, 1, 0)",
            "FOREIGN KEY",
        ),
        ("UPDATE blocks SET live = 0", "CHECK"),
        ("UPDATE blocks SET remaining = 0", "CHECK"),
        ("UPDATE account_units SET used = -1", "CHECK"),
        ("UPDATE account_units SET settlements = '[not json'", "CHECK"),
        (
            "INSERT INTO account_units (customer, unit) VALUES ('nobody', 'credits')",
            "FOREIGN KEY",
        ),
        (
            "INSERT INTO entries (op_id, customer, unit, kind, amount, available_after, at) "
            "VALUES ('op', 'nobody', 'credits', 'burn', 1, 1, 0)",
            "FOREIGN KEY",
        ),
    ],
)
def test_constraints_reject_a_bad_row_written_directly(ledger: Ledger, path: Path, change: str, complaint: str) -> None:
    ledger.define_unit("eur", 2)
    ledger.grant("ada", 10)
    ledger.hold("ada", 3, hold_id="h")
    before = snapshot(ledger)
    conn = raw(path)
    try:
        with pytest.raises(sqlite3.Error, match=complaint):
            conn.execute(change)
    finally:
        conn.close()
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE blocks SET category = 'gift'",
        "UPDATE blocks SET emptied_by = 'lost'",
        "UPDATE holds SET status = 'pending'",
        "INSERT INTO entries (op_id, customer, unit, kind, amount, available_after, at) "
        "VALUES ('op', 'ada', 'credits', 'gift', 1, 1, 0)",
    ],
)
def test_an_enumeration_the_domain_does_not_know_is_refused_on_read_not_by_the_schema(
    ledger: Ledger, path: Path, change: str
) -> None:
    # a new entry kind, category or status needs no table rebuild: SQLite stores any text,
    # and the codec refuses what this version of creditcore does not know
    ledger.grant("ada", 10)
    ledger.hold("ada", 3, hold_id="h")
    conn = raw(path)
    try:
        conn.execute(change)
    finally:
        conn.close()
    repository = sqlite_repository(ledger)
    with pytest.raises(StorageError, match="this version of creditcore knows"), repository.reader() as reader:
        reader.history("ada")


def test_an_unknown_enumeration_is_refused_on_the_way_in_and_nothing_is_written(ledger: Ledger) -> None:
    ledger.grant("ada", 10)
    repository = sqlite_repository(ledger)
    with repository.reader() as reader:
        before = reader.load_account("ada")
    (block,) = before.blocks.values()
    odd = attrs.evolve(block, category="gift", number=block.number + 1, id="b-odd")
    after = attrs.evolve(before, blocks={**before.blocks, odd.id: odd})
    with pytest.raises(StorageError, match="'gift' is not a block category"), repository.transaction() as uow:
        uow.save(ChangeSet.of(before, after, []))
    with repository.reader() as reader:
        assert reader.load_account("ada") == before
        assert reader.find_block("b-odd") is None


# -- schema versions -------------------------------------------------------------------------


def recorded_migrations(path: Path) -> list[str]:
    """The migration names the file records, in whichever table this sqlite-utils keeps."""
    conn = raw(path)
    try:
        if sqlite_schema.__dict__["_Migrations"] is not None:  # sqlite-utils >= 4
            query = "SELECT name FROM _sqlite_migrations WHERE migration_set = 'creditcore' ORDER BY id"
        else:
            query = "SELECT name FROM schema_version ORDER BY version"
        return [name for (name,) in conn.execute(query)]
    finally:
        conn.close()


def test_the_schema_is_versioned_and_reopening_does_not_migrate_again(path: Path) -> None:
    SQLiteRepository(path).close()
    repository = SQLiteRepository(path)
    try:
        assert repository.schema_version() == [name for name, _ in adapter.MIGRATIONS]
    finally:
        repository.close()
    assert recorded_migrations(path) == [name for name, _ in adapter.MIGRATIONS]


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    SQLiteRepository(path).close()
    conn = raw(path)
    if sqlite_schema.__dict__["_Migrations"] is not None:  # sqlite-utils >= 4
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('creditcore', '9999_future', 'x')"
        )
    else:
        conn.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (9999, '9999_future', 'x')")
    conn.close()
    with pytest.raises(StorageError, match="newer version of creditcore"):
        SQLiteRepository(path)


def test_without_sqlite_utils_migrations_a_version_table_is_used(
    path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_schema, "_Migrations", None)
    ledger = Ledger.sqlite(path, clock=clock)
    ledger.grant("ada", 3)
    assert sqlite_repository(ledger).schema_version() == [name for name, _ in adapter.MIGRATIONS]
    ledger.close()
    monkeypatch.undo()
    # the same file opened with Migrations available: the schema is already there
    ledger = Ledger.sqlite(path, clock=clock)
    try:
        assert ledger.balance("ada").available == 3
        ledger.burn("ada", 1)
    finally:
        ledger.close()


def test_threads_opening_a_new_file_at_once_all_succeed(path: Path) -> None:
    opened: list[SQLiteRepository] = []
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        start.wait()
        try:
            opened.append(SQLiteRepository(path))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for repository in opened:
        repository.close()
    assert failures == []
    assert keys(path) == []  # the schema exists once and the file is usable


# -- failures become StorageError --------------------------------------------------------------


def test_a_file_that_is_not_a_database_raises_storage_error(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StorageError, match="not a database") as raised:
        SQLiteRepository(path)
    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)
    assert str(path) in str(raised.value)


def test_a_path_that_cannot_be_opened_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"cannot be opened|unable to open") as raised:
        SQLiteRepository(tmp_path / "missing" / "ledger.db")
    assert isinstance(raised.value.__cause__, sqlite3.Error)
    with pytest.raises(StorageError):
        SQLiteRepository(tmp_path)  # a directory


def test_a_read_only_database_raises_storage_error_and_changes_nothing(ledger: Ledger) -> None:
    ledger.grant("ada", 5)
    before = snapshot(ledger)
    conn = sqlite_repository(ledger).connection()
    conn.execute("PRAGMA query_only = ON")  # as if the file could not be written
    try:
        with pytest.raises(StorageError, match=r"readonly|read-only|cannot be written") as raised:
            ledger.burn("ada", 1)
        assert isinstance(raised.value.__cause__, sqlite3.Error)
    finally:
        conn.execute("PRAGMA query_only = OFF")
    assert snapshot(ledger) == before
    assert ledger.burn("ada", 1).burned == 1


def test_a_write_lock_held_past_busy_timeout_raises_storage_error(path: Path, clock: ManualClock) -> None:
    ledger = Ledger(SQLiteRepository(path, busy_timeout=0.05), clock=clock)
    blocker = raw(path)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StorageError, match="locked") as raised:
            ledger.grant("ada", 1)
        assert time.monotonic() - started < 5
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        blocker.execute("ROLLBACK")
        assert ledger.grant("ada", 1).block.amount == 1
    finally:
        blocker.close()
        ledger.close()


def test_a_writer_waits_for_another_writer_to_finish(path: Path, clock: ManualClock) -> None:
    ledger = Ledger(SQLiteRepository(path, busy_timeout=5), clock=clock)
    blocker = raw(path)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("INSERT INTO units (name, scale) VALUES ('eur', 2)")
        timer = threading.Timer(0.2, lambda: blocker.execute("COMMIT"))
        timer.start()
        ledger.grant("ada", 1)  # waits for the blocker's commit, then goes ahead
        timer.join()
        assert ledger.units() == {"credits": 0, "eur": 2}
    finally:
        blocker.close()
        ledger.close()


def test_an_interruption_at_any_step_of_a_write_leaves_the_state_unchanged(ledger: Ledger) -> None:
    for priority in range(1, 21):
        ledger.grant("ada", 3, priority=priority, expires_at=START + priority * HOUR)
    ledger.hold("ada", 2, hold_id="h")
    conn = sqlite_repository(ledger).connection()
    calls = [0]

    def write(key: str) -> None:  # a burn across two blocks, with a key to record
        ledger.burn("ada", 4, idempotency_key=key, metadata={"key": key})

    def interrupt_at(step: int) -> None:
        calls[0] = 0

        def handler() -> int:
            calls[0] += 1
            return 1 if calls[0] == step else 0

        conn.set_progress_handler(handler, 1)

    interrupt_at(0)  # count the steps of a whole write
    write("count")
    conn.set_progress_handler(None, 1)
    total = calls[0]
    assert total > 50

    failures = 0
    # a write that follows a failed one takes more steps than the one counted (the connection
    # keeps nothing from a write that failed, so it reads the account again): go on until
    # one goes through
    for step in range(1, 4 * total, max(1, total // 400)):
        before = snapshot(ledger)
        interrupt_at(step)
        try:
            write(f"k{step}")
        except StorageError as error:
            assert isinstance(error.__cause__, sqlite3.Error), error
            conn.set_progress_handler(None, 1)
            assert snapshot(ledger) == before, f"an interruption at SQLite VM step {step} left a trace"
            failures += 1
            continue
        finally:
            conn.set_progress_handler(None, 1)
        break  # the write went through: every step before was interrupted once
    assert failures > 20
    assert ledger.balance("ada").used == 8
    assert ledger.verify().ok


def test_a_unit_of_work_used_after_its_transaction_raises_storage_error(ledger: Ledger) -> None:
    with ledger.repository.transaction() as uow:
        pass
    with pytest.raises(StorageError, match="no longer open"):
        uow.units()


def test_a_closed_repository_raises_storage_error(ledger: Ledger) -> None:
    ledger.grant("ada", 1)
    conn = sqlite_repository(ledger).connection()
    ledger.close()
    ledger.close()  # closing twice is fine
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # Ledger.close() closed the connection
    with pytest.raises(StorageError, match="closed"):
        ledger.balance("ada")
    with pytest.raises(StorageError, match="closed"):
        ledger.grant("ada", 1)


def test_close_closes_the_connections_of_every_thread(ledger: Ledger) -> None:
    ledger.grant("ada", 1)
    connections: list[sqlite3.Connection] = [sqlite_repository(ledger).connection()]
    gate = threading.Event()

    def work() -> None:
        ledger.balance("ada")
        connections.append(sqlite_repository(ledger).connection())
        gate.wait()

    thread = threading.Thread(target=work)
    thread.start()
    while len(connections) < 2:
        time.sleep(0.01)
    ledger.close()
    gate.set()
    thread.join()
    for conn in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


# -- several processes -------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys
    from creditcore import InsufficientCredits, Ledger

    ledger = Ledger.sqlite(sys.argv[1])
    used = 0
    for i in range(int(sys.argv[2])):
        try:
            if i % 3 == 2:
                hold_id = f"{sys.argv[3]}-{i}"
                ledger.hold("ada", 2, hold_id=hold_id)
                used += int(ledger.capture(hold_id, 1).captured)
            else:
                used += int(ledger.burn("ada", 1).burned)
        except InsufficientCredits:
            pass
    ledger.close()
    print(used)
    """
)


def test_processes_sharing_a_file_never_overspend(ledger: Ledger, path: Path) -> None:
    ledger.grant("ada", 100)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), "45", f"w{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    used = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        used += int(out)
    assert used == 100  # 4 x 45 attempts wanted more than there was
    balance = ledger.balance("ada")
    assert (balance.available, balance.held, balance.used) == (Decimal(0), Decimal(0), Decimal(100))
    assert ledger.verify().ok


# -- the same behaviour as the memory adapter --------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("where", ["file", ":memory:"])
def test_sqlite_and_memory_agree_on_a_random_script(tmp_path: Path, seed: int, where: str) -> None:
    memory_clock, sqlite_clock = ManualClock(), ManualClock()
    memory = Ledger(MemoryRepository(), clock=memory_clock, units={"usd": 2})
    sqlite = Ledger.sqlite(tmp_path / "ledger.db" if where == "file" else ":memory:", clock=sqlite_clock)
    try:
        sqlite.define_unit("usd", 2)
        expected = run_script(memory, memory_clock, seed=seed, steps=200)
        actual = run_script(sqlite, sqlite_clock, seed=seed, steps=200)
    finally:
        sqlite.close()
    assert len(actual) == len(expected)
    for number, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got == want, f"line {number} differs:\n  sqlite: {got}\n  memory: {want}"
    assert sum("Error" not in line for line in expected[:200]) > 100  # most operations went through


def test_the_docstring_examples_run() -> None:
    modules = [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for package in (adapter, sql)
        for info in pkgutil.iter_modules(package.__path__)
    ]
    results = [doctest.testmod(module, optionflags=doctest.ELLIPSIS) for module in (adapter, sql, *modules)]
    assert sum(r.attempted for r in results) > 0 and sum(r.failed for r in results) == 0


def test_two_repositories_on_one_file_see_each_others_writes(ledger: Ledger, path: Path, clock: ManualClock) -> None:
    block = ledger.grant("ada", 10).block
    assert ledger.get_block(block.id).remaining == 10  # read (and remembered) by this connection
    other = Ledger.sqlite(path, clock=clock)
    try:
        other.burn("ada", 4)
        other.hold("ada", 1, hold_id="h")
        assert ledger.get_block(block.id).remaining == 6
        assert ledger.balance("ada").held == 1
        ledger.release("h")
        assert other.get_hold("h").status == "released"
    finally:
        other.close()


def test_the_shared_statements_take_their_placeholders_from_the_dialect() -> None:
    # the shared layer is written once for any SQL database: another dialect's placeholder
    # (psycopg's %s) replaces every one of SQLite's
    pyformat = attrs.evolve(SQLITE, name="pyformat", mark="%s")
    statements = Statements(pyformat)
    texts = [value for value in vars(statements).values() if isinstance(value, str)]
    listed = statements.list_entries(
        after_seq=0, limit=10, filters=[("customer", "ada")], kinds=["burn"], since=0, until=1
    )
    assert listed is not None
    texts.append(listed[0])
    texts += [
        statements.update_block(("remaining", "live")),
        statements.update_hold(("status",)),
        statements.write_account_unit(("used", "last_at")),
        statements.write_account(("last_at",)),
        statements.insert_entries(3),
        statements.positions("blocks", 2),
    ]
    assert all("?" not in text for text in texts)
    assert sum(text.count("%s") for text in texts) > 50
    assert "ON CONFLICT (id) DO UPDATE" in statements.upsert_block

"""The races a many-server ledger meets on PostgreSQL, run on a real server: the same
idempotency key sent by several servers at once, two batches that take the same customers in
opposite orders, a customer's first write sent twice at once, and an app server that stops
half-way through a transaction while holding a customer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from creditcore import (
    ConcurrencyConflict,
    IdempotencyConflict,
    Ledger,
    StorageError,
    ValidationError,
)
from creditcore.repository import EntryQuery
from creditcore.state import EntryState


def together(count: int, job: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``job(i)`` in ``count`` threads that start at once; what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        barrier.wait()
        try:
            value = job(number)
        except BaseException as error:
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.parametrize("new_customer", [True, False], ids=["first-write", "known-customer"])
def test_one_key_sent_by_many_servers_at_once_is_applied_once_and_replayed_to_the_rest(
    postgres_dsn: str, new_customer: bool
) -> None:
    servers = [Ledger.postgres(postgres_dsn, max_size=1) for _ in range(6)]
    try:
        if not new_customer:
            servers[0].grant("ada", 100)
        results, errors = together(6, lambda n: servers[n].grant("ada", 10, idempotency_key="top-up-1"))
        assert errors == []
        assert len({r.op_id for r in results}) == 1, "one op for one key"
        assert sum(not r.replayed for r in results) == 1, "applied exactly once"
        assert servers[0].balance("ada").granted == (10 if new_customer else 110)
        assert servers[0].verify().ok
    finally:
        for ledger in servers:
            ledger.close()


def test_first_writes_of_a_new_customer_at_once_all_land(postgres_dsn: str) -> None:
    servers = [Ledger.postgres(postgres_dsn, max_size=1) for _ in range(6)]
    try:
        results, errors = together(6, lambda n: servers[n].grant("new", n + 1))
        assert errors == [] and len(results) == 6
        assert servers[0].balance("new").granted == sum(range(1, 7))
        assert [e.seq for e in servers[0].entries(customer="new").items] == sorted(
            e.seq for e in servers[0].entries(customer="new").items
        )
        assert servers[0].verify().ok
    finally:
        for ledger in servers:
            ledger.close()


def test_batches_taking_customers_in_opposite_orders_end_in_a_conflict_to_run_again(postgres_dsn: str) -> None:
    """A deadlock between two ``atomic()`` batches: PostgreSQL ends one; it raises the
    retryable ``ConcurrencyConflict`` (the library cannot run the app's code again), the
    other commits, and the ledger holds exactly what committed."""
    setup = Ledger.postgres(postgres_dsn)
    setup.grant("ada", 100)
    setup.grant("bob", 100)
    setup.close()
    servers = [Ledger.postgres(postgres_dsn, max_size=1) for _ in range(2)]
    between = threading.Barrier(2)

    def batch(number: int) -> str:
        first, second = ("ada", "bob") if number == 0 else ("bob", "ada")
        ledger = servers[number]
        with ledger.atomic():
            ledger.burn(first, 1)
            between.wait()  # each holds its first customer now
            ledger.burn(second, 1)
        return first

    try:
        results, errors = together(2, batch)
        assert len(results) == 1 and len(errors) == 1, (results, errors)
        assert isinstance(errors[0], ConcurrencyConflict), repr(errors[0])
        assert "run" in str(errors[0]) and "again" in str(errors[0])
        assert servers[0].balance("ada").used == 1 and servers[0].balance("bob").used == 1
    finally:
        for ledger in servers:
            ledger.close()


def test_a_server_that_stops_inside_a_transaction_frees_its_customer_after_idle_timeout(postgres_dsn: str) -> None:
    """An app server holding a customer's lock that goes quiet (a hang, a partition) is cut
    off by PostgreSQL after ``idle_timeout``; another server's write then goes through, and
    the stalled one learns that nothing it wrote was kept."""
    stalled = Ledger.postgres(postgres_dsn, max_size=1, idle_timeout=1.0)
    other = Ledger.postgres(postgres_dsn, max_size=1, lock_timeout=10.0)
    try:
        stalled.grant("ada", 100)
        with pytest.raises(StorageError), stalled.atomic():
            stalled.burn("ada", 40)
            started = time.monotonic()
            # another server's write waits for the lock until PostgreSQL ends the stalled one
            assert other.burn("ada", 5).burned == Decimal(5)
            waited = time.monotonic() - started
            stalled.burn("ada", 1)  # its connection is gone
        assert 0.5 < waited < 9, waited
        assert other.balance("ada").used == 5
        assert other.verify().ok
    finally:
        stalled.close()
        other.close()


def test_a_write_waits_for_a_held_customer_no_longer_than_lock_timeout(postgres_dsn: str) -> None:
    holder = Ledger.postgres(postgres_dsn, max_size=1)
    waiter = Ledger.postgres(postgres_dsn, max_size=1, lock_timeout=0.5)
    try:
        holder.grant("ada", 10)
        with holder.atomic():
            holder.burn("ada", 1)
            started = time.monotonic()
            with pytest.raises(StorageError, match="lock_timeout"):
                waiter.burn("ada", 1)
            assert time.monotonic() - started < 5
        assert holder.balance("ada").used == 1
    finally:
        holder.close()
        waiter.close()


def test_a_bad_address_fails_at_once_with_the_servers_words(postgres_dsn: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    wrong = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=f"{info['dbname']}_missing")
    started = time.monotonic()
    with pytest.raises(StorageError, match="does not exist"):
        Ledger.postgres(wrong)
    assert time.monotonic() - started < 10


def test_one_new_key_sent_for_two_customers_at_once_is_refused_for_one(postgres_dsn: str) -> None:
    """On the plain layout, the unique index on the key alone settles the race: one write
    applies, the other (run again after the conflict) is refused with IdempotencyConflict."""
    servers = [Ledger.postgres(postgres_dsn, max_size=1) for _ in range(2)]
    try:
        servers[0].grant("ada", 10)
        servers[0].grant("bob", 10)
        for attempt in range(5):
            customers = ("ada", "bob")
            results, errors = together(
                2,
                lambda n, a=attempt: servers[n].hold(customers[n], 1, hold_id=f"shared-{a}"),  # noqa: B023
            )
            assert len(results) == 1 and len(errors) == 1, (results, errors)
            assert isinstance(errors[0], IdempotencyConflict), repr(errors[0])
        assert servers[0].verify().ok
    finally:
        for ledger in servers:
            ledger.close()


def test_app_servers_with_skewed_clocks_date_writes_by_the_database_clock(postgres_dsn: str) -> None:
    """One app server five minutes fast: with its own clock, its write drags the customer's
    history forward and expires another server's fresh hold early; with
    ``clock="database"`` both are dated by the one server clock."""
    fast = lambda: datetime.now(UTC) + timedelta(minutes=5)  # noqa: E731
    skewed = Ledger.postgres(postgres_dsn, max_size=1, clock=fast)
    honest = Ledger.postgres(postgres_dsn, max_size=1)
    try:
        skewed.grant("ada", 100)
        # the honest server's hold is dated by the fast server's last write, past its own expiry
        with pytest.raises(ValidationError, match="expires_at"):
            honest.hold("ada", 10, hold_id="h-app", expires_at=datetime.now(UTC) + timedelta(minutes=3))
        assert honest.burn("ada", 1).entries[0].at > datetime.now(UTC) + timedelta(minutes=4)
    finally:
        skewed.close()
        honest.close()
    first = Ledger.postgres(postgres_dsn, max_size=1, clock="database")
    second = Ledger.postgres(postgres_dsn, max_size=1, clock="database")
    try:
        first.grant("bob", 100)
        hold = second.hold("bob", 10, hold_id="h-db", expires_at=datetime.now(UTC) + timedelta(minutes=3))
        assert abs(hold.entries[0].at - datetime.now(UTC)) < timedelta(seconds=30)
        assert second.capture("h-db", 5).captured == 5
        times = [e.at for e in first.entries(customer="bob").items]
        assert times == sorted(times)
    finally:
        first.close()
        second.close()


def test_clock_takes_database_a_function_or_none(postgres_dsn: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Ledger.postgres(postgres_dsn, clock="server")
    assert refused.value.field == "clock"


def test_paging_every_customers_entries_never_skips_one_a_transaction_commits_late(postgres_dsn: str) -> None:
    """Entry numbers are handed out before commit: a batch takes a number, then another
    customer's write takes a later one and commits first. A reader paging every customer's
    entries from its last position meanwhile must still get the batch's entry once it
    commits: the feed goes by writing transaction and stops short of the oldest one still
    open (the position is what ``entries()``'s cursor holds)."""
    setup = Ledger.postgres(postgres_dsn)
    setup.grant("ada", 100)
    setup.close()
    slow, fast, reader = (Ledger.postgres(postgres_dsn, max_size=2) for _ in range(3))
    numbered, release = threading.Event(), threading.Event()
    seen: list[EntryState] = []

    def page() -> list[EntryState]:
        last = seen[-1] if seen else None
        query = EntryQuery(limit=1000) if last is None else EntryQuery(after_seq=last.seq, after_txid=last.txid)
        with reader.repository.reader() as rows:
            found = rows.list_entries(query)
        seen.extend(found)
        return found

    def batch() -> None:
        with slow.atomic():
            slow.burn("ada", 1)  # locked, numbered, not committed
            numbered.set()
            release.wait(30)

    worker = threading.Thread(target=batch)
    try:
        assert [e.kind for e in page()] == ["grant"]
        worker.start()
        assert numbered.wait(30)
        late = fast.grant("bob", 5)  # a later number, committed first
        assert late.entries[0].seq not in [e.seq for e in page()], "listed before the batch that precedes it"
        release.set()
        worker.join()
        page()
        everything = [e.seq for e in reader.entries(limit=1000).items]
        assert sorted(e.seq for e in seen) == sorted(everything), "an entry was skipped or seen twice"
        assert len(everything) == 3
    finally:
        release.set()
        if worker.is_alive():
            worker.join()
        for ledger in (slow, fast, reader):
            ledger.close()


def test_polling_the_outbox_never_skips_an_event_a_transaction_commits_late(postgres_dsn: str) -> None:
    """The same for events (SPEC §19): a batch writes an alert's event and waits; another
    customer's event, numbered later, commits first. A consumer polling ``events()`` with its
    stored cursor meanwhile must still get the batch's event once it commits, and each event
    once."""
    setup = Ledger.postgres(postgres_dsn)
    for customer in ("ada", "bob"):
        setup.grant(customer, 10)
        setup.add_alert(customer, unit="credits", kind="depleted")
    setup.close()
    slow, fast, reader = (Ledger.postgres(postgres_dsn, max_size=2) for _ in range(3))
    started, release = threading.Event(), threading.Event()
    seen: list[str] = []
    cursor: list[str | None] = [None]

    def poll() -> list[str]:
        page = reader.events(after=cursor[0])
        cursor[0] = page.next_cursor
        seen.extend(f"{e.customer}:{e.kind}" for e in page.items)
        return [e.customer for e in page.items]

    def batch() -> None:
        with slow.atomic():
            slow.burn("ada", 10)  # ada's balance_depleted: written, not committed
            started.set()
            release.wait(30)

    worker = threading.Thread(target=batch)
    try:
        assert poll() == []
        worker.start()
        assert started.wait(30)
        fast.burn("bob", 10)  # bob's event: numbered later, committed first
        assert poll() == [], "bob's event was listed while ada's, which may precede it, was not yet committed"
        release.set()
        worker.join()
        poll()
        assert sorted(seen) == ["ada:balance_depleted", "bob:balance_depleted"], seen
        assert poll() == []
    finally:
        release.set()
        if worker.is_alive():
            worker.join()
        for ledger in (slow, fast, reader):
            ledger.close()


def test_a_cursor_pages_through_many_customers_entries_exactly_once(postgres_dsn: str) -> None:
    ledger = Ledger.postgres(postgres_dsn)
    try:
        for number in range(30):
            ledger.grant(f"c{number % 7}", number + 1)
        seen: list[int] = []
        cursor = None
        while True:
            page = ledger.entries(after=cursor, limit=4)
            seen += [e.seq for e in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == sorted(seen) and len(seen) == 30
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("field", "arguments"),
    [
        ("dsn_or_pool", {"dsn_or_pool": ""}),
        ("dsn_or_pool", {"dsn_or_pool": 5}),
        ("partitions", {"partitions": 1}),
        ("partitions", {"partitions": True}),
        ("partitions", {"partitions": 2000}),
        ("lock_timeout", {"lock_timeout": 0}),
        ("lock_timeout", {"lock_timeout": "5"}),
        ("idle_timeout", {"idle_timeout": -1.0}),
        ("idle_timeout", {"idle_timeout": float("nan")}),
        ("max_size", {"max_size": 0}),
        ("max_size", {"max_size": 2.5}),
    ],
)
def test_bad_options_are_refused_naming_the_field_and_create_nothing(
    postgres_dsn: str, field: str, arguments: dict[str, object]
) -> None:
    options = {"dsn_or_pool": postgres_dsn, **arguments}
    dsn = options.pop("dsn_or_pool")
    with pytest.raises(ValidationError) as refused:
        Ledger.postgres(dsn, **options)
    assert refused.value.field == field
    with psycopg.connect(postgres_dsn) as conn:  # nothing was made in the database
        assert conn.execute("SELECT to_regclass('creditcore_migrations')").fetchone() == (None,)

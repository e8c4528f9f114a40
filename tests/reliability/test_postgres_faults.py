"""PostgreSQL failures the app cannot prevent, on a real server: a connection cut while
COMMIT runs (the outcome unknown to the client, whichever way it went), and the server
killed during writes (no acknowledged write lost, none applied twice)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from creditcore import CreditError, Ledger, StorageError
from faultproxy import FaultProxy


@pytest.fixture
def proxied(postgres_dsn: str) -> Iterator[tuple[str, FaultProxy]]:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    proxy = FaultProxy(str(info["host"]), int(info["port"]))
    Ledger.postgres(postgres_dsn).close()  # the schema, made without the proxy
    try:
        yield psycopg.conninfo.make_conninfo(postgres_dsn, port=str(proxy.port)), proxy
    finally:
        proxy.close()


@pytest.mark.parametrize("mode", ["drop_after_commit", "drop_before_commit"])
def test_a_connection_cut_during_commit_says_the_outcome_is_unknown_and_a_keyed_retry_is_right(
    proxied: tuple[str, FaultProxy], mode: str
) -> None:
    dsn, proxy = proxied
    ledger = Ledger.postgres(dsn, prepare_threshold=None)  # COMMIT goes by its text
    try:
        ledger.grant("ada", 100)
        proxy.mode = mode
        with pytest.raises(StorageError) as failed:
            ledger.burn("ada", 30, idempotency_key="burn-1")
        assert proxy.fired.is_set()
        message = str(failed.value)
        assert "unknown" in message and "same idempotency key" in message, message
        # the retry the message asks for: it replays the write if it was committed, else applies it
        again = ledger.burn("ada", 30, idempotency_key="burn-1")
        assert again.replayed is (mode == "drop_after_commit")
        assert ledger.balance("ada").used == Decimal(30), "applied exactly once"
        assert ledger.verify().ok
    finally:
        ledger.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGQUIT], ids=["SIGKILL", "SIGQUIT"])
def test_a_server_killed_during_writes_loses_no_acknowledged_write_and_applies_none_twice(sig: int) -> None:
    """Writers burn with keys while the postmaster is killed and restarted under them. Then
    every write they attempted is sent again with its key: an acknowledged one must replay,
    and the customer must have used exactly the sum of every write once."""
    from pgserver import start_server

    server = start_server()
    try:
        dsn = server.create_database("crash")
        setup = Ledger.postgres(dsn)
        setup.grant("ada", 1_000_000)
        setup.close()
        acknowledged: dict[str, int] = {}
        attempted: dict[str, int] = {}
        stop = threading.Event()
        lock = threading.Lock()

        def writer(number: int) -> None:
            ledger = Ledger.postgres(dsn, max_size=1, lock_timeout=2.0)
            try:
                count = 0
                while not stop.is_set():
                    key, amount = f"w{number}-{count}", 1 + count % 5
                    count += 1
                    with lock:
                        attempted[key] = amount
                    try:
                        ledger.burn("ada", amount, idempotency_key=key)
                    except CreditError:
                        time.sleep(0.05)  # the server is down: try the next one
                        continue
                    with lock:
                        acknowledged[key] = amount
            finally:
                ledger.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        try:
            for _round in range(3):
                time.sleep(0.7)
                before = len(acknowledged)
                server.kill(sig)
                server.restart()
                assert before > 0
            time.sleep(0.7)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert acknowledged, "no write went through"
        ledger = Ledger.postgres(dsn)
        try:
            for key, amount in attempted.items():
                result = ledger.burn("ada", amount, idempotency_key=key)
                if key in acknowledged:
                    assert result.replayed, f"acknowledged write {key} was lost"
            assert ledger.balance("ada").used == sum(attempted.values()), "a write was applied twice or lost"
            assert ledger.verify().ok
        finally:
            ledger.close()
    finally:
        server.stop()

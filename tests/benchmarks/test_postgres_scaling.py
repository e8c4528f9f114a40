"""The scaling curves on PostgreSQL (the PostgreSQL group's history bar) run on tiny sizes:
the histories built through the port are real rows the ledger reads back and verifies, and a
build that does not add up fails the curve instead of being timed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from benchmarks import postgres, scaling
from creditcore import Ledger
from creditcore.repository import Repository


def test_the_curves_run_on_postgres_on_histories_the_ledger_reads_and_verifies(postgres_dsn: str) -> None:
    ledger = Ledger.postgres(postgres_dsn, clock=lambda: scaling.CLOCK)
    try:
        found = scaling.curves(ledger, (100, 2_500), (10, 30), 3, 1, lambda: postgres.settle(postgres_dsn))
        assert [row["entries"] for row in found["history"]] == [100, 2_500]
        assert [row["dead_blocks"] for row in found["dead_blocks"]] == [10, 30]
        assert all(row["burn"] > 0 and row["balance"] > 0 for row in found["history"] + found["dead_blocks"])
        assert all(row["past_balance"] > 0 for row in found["history"])
        # the measured burns went on top of the built history: 2,500 entries, then 3 more
        entries, after = 0, None
        while True:
            page = ledger.entries("h2500", after=after, limit=1_000)
            entries += len(page.items)
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert entries == 2_503
        assert ledger.balance("h2500").used == 2_499 + 3
        report = ledger.verify()
        assert report.ok, str(report)
    finally:
        ledger.close()


def test_a_history_that_does_not_add_up_fails_the_postgres_curve(
    postgres_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = scaling.build_history

    def short(repository: Repository, customer: str, size: int) -> tuple[datetime, datetime]:
        return built(repository, customer, size - 1)  # one burn short of the history asked for

    monkeypatch.setattr(scaling, "build_history", short)
    with pytest.raises(RuntimeError, match="the build is wrong"):
        postgres.curves(postgres_server, (100, 1_500), (10,), 3, 1)

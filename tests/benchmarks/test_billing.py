"""Billing's benchmarks (issue 15) compare like with like, on tiny sizes: the usage floor
stores the very rows ``billing.meters.record`` stores, the summary's bulk-loaded events are
rows the API reads back through the index, and an issue writes every line it is timed for."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import billing as bench

_COLUMNS = "event_id, meter_id, customer, at, value, unique_key, dimensions, advance, recorded_at"


def test_the_usage_floor_stores_the_rows_the_ledger_stores(tmp_path: Path) -> None:
    batches = bench.event_batches(3)
    ours = bench.sqlite_billing(str(tmp_path), "ours")
    path = ours.ledger.repository.path  # type: ignore[attr-defined]
    try:
        bench._create_meter(ours)
        assert sum(ours.meters.record(batch, at=bench.NOW).created for batch in batches) == 300
    finally:
        ours.ledger.close()
    floor = bench.UsageFloor(str(tmp_path / "floor.db"), "NORMAL")
    try:
        assert sum(floor.record(batch, bench.NOW) for batch in batches) == 300
        theirs = floor.conn.execute(f"SELECT {_COLUMNS.replace('meter_id', 'meter')} FROM usage_events ORDER BY id")
        floor_rows = theirs.fetchall()
    finally:
        floor.close()
    with sqlite3.connect(path) as conn:
        ledger_rows = conn.execute(f"SELECT {_COLUMNS} FROM meter_events ORDER BY seq").fetchall()
    assert floor_rows == ledger_rows
    assert {row[6] for row in ledger_rows} == {'{"region":"eu"}', '{"region":"us"}'}


def test_the_contests_and_curves_run_on_tiny_sizes(tmp_path: Path) -> None:
    record = bench.record_events(2, 1, str(tmp_path))
    (floor,) = record["against"]
    assert record["operations"] == 200 and floor["name"] == "usage floor" and floor["ratio"] > 0

    summary = bench.summary_flat(40, (50, 500), 4, 2, 1, str(tmp_path))
    assert [row["others"] for row in summary["rows"]] == [50, 500]
    assert all(row["day_events"] == 10 and row["summary"] > 0 for row in summary["rows"])
    assert any(bench.INDEX in step and "customer=?" in step for step in summary["plan"]), summary["plan"]

    issue = bench.invoice_issue(3, 1, 1, str(tmp_path))
    assert set(issue) == {"memory", "sqlite"}
    assert all(found["lines"] == 3 and found["ratio"] > 0 for found in issue.values())


def test_a_summary_build_that_does_not_read_back_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The load is checked through the API before anything is timed: rows the ledger does not
    read back as loaded (here, every value 0) fail the build instead of being timed."""
    rows = bench._rows

    def zeros(customer: str, count: int, days: int, first: int) -> Iterator[tuple[object, ...]]:
        for row in rows(customer, count, days, first):
            yield (*row[:4], "0", *row[5:])

    monkeypatch.setattr(bench, "_rows", zeros)
    with pytest.raises(AssertionError, match="read back"):
        bench.build_summary(str(tmp_path), 20, 20, 2)

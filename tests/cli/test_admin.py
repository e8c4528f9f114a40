"""The admin commands on a SQLite ledger, through the real console script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from creditcore import Ledger

CLI = Callable[..., Any]
T0 = "2026-01-01T09:00:00Z"


def test_round_trip_on_a_temp_database_with_tables_and_json(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    paid = cli("grant", "ada", "100", "--category", "paid", "--cost-basis", "0.01", "--at", T0, "--db", db, "--json")
    block = paid.json()["block"]
    paid_id = block["id"]
    assert block["amount"] == "100" and block["category"] == "paid" and block["cost_basis"] == "0.01"
    promo = cli("grant", "ada", "20", "--priority", "10", "--at", T0, "--db", db, "--json").json()["block"]
    # burns last, so nothing touches it before it expires on the 10th
    late = cli(
        "grant", "ada", "20", "--priority", "90", "--expires-at", "2026-01-10", "--at", T0, "--db", db, "--json"
    ).json()["block"]
    shown = cli("burn", "ada", "5", "--at", "2026-01-02T00:00:00Z", "--db", db)
    assert shown.code == 0 and "burned 5 credits of ada" in shown.out and promo["id"] in shown.out

    held = cli("hold", "ada", "40", "--hold-id", "job-1", "--at", "2026-01-03T00:00:00Z", "--db", db, "--json").json()
    assert held["hold"]["status"] == "active" and held["hold"]["amount"] == "40"
    captured = cli("capture", "job-1", "25", "--at", "2026-01-03T00:10:00Z", "--db", db, "--json").json()
    assert (captured["captured"], captured["released"]) == ("25", "15")
    cli("hold", "ada", "10", "--hold-id", "job-2", "--at", "2026-01-04T00:00:00Z", "--db", db)
    released = cli("release", "job-2", "--at", "2026-01-04T00:05:00Z", "--db", db)
    assert released.code == 0 and "hold job-2: released 10" in released.out
    voided = cli("void", paid_id, "30", "--reason", "refund", "--at", "2026-01-05", "--db", db, "--json")
    assert voided.json()["voided"] == "30"

    swept = cli("expire", "--at", "2026-01-11T00:00:00Z", "--db", db, "--json").json()
    assert [(e["kind"], e["amount"], e["block_id"]) for e in swept["entries"]] == [("expire", "20", late["id"])]
    balance = cli("balance", "ada", "--db", db, "--json").json()
    assert {k: balance[k] for k in ("granted", "available", "held", "used", "expired", "voided", "debt")} == {
        "granted": "140", "available": "60", "held": "0", "used": "30", "expired": "20", "voided": "30", "debt": "0",
    }  # fmt: skip
    assert balance["net"] == "60"
    past = cli("balance", "ada", "--at", "2026-01-03T00:05:00Z", "--db", db, "--json").json()
    assert (past["available"], past["held"], past["used"]) == ("95", "40", "5")

    table = cli("balance", "ada", "--db", db)
    assert table.code == 0 and "available" in table.out and "60" in table.out
    blocks = cli("blocks", "ada", "--all", "--db", db, "--json").json()
    assert [(b["id"], b["status"], b["remaining"]) for b in blocks] == [
        (promo["id"], "depleted", "0"), (paid_id, "active", "60"), (late["id"], "expired", "0"),
    ]  # fmt: skip
    assert "never" in cli("blocks", "ada", "--db", db).out
    kinds = [e["kind"] for e in cli("entries", "ada", "--db", db, "--json").json()["items"]]
    assert kinds == [
        "grant", "grant", "grant", "burn", "hold", "hold", "capture", "capture", "release", "hold", "release",
        "void", "expire",
    ]  # fmt: skip
    page = cli("entries", "--limit", "3", "--db", db)
    assert page.code == 0 and "more: --after" in page.out
    verified = cli("verify", "--db", db)
    assert verified.code == 0 and "no problems" in verified.out
    assert cli("verify", "--db", db, "--json").json()["ok"] is True

    # the file is an ordinary ledger
    ledger = Ledger.sqlite(db)
    try:
        assert ledger.balance("ada").available == 60
    finally:
        ledger.close()


def test_creditcore_db_names_the_ledger_when_db_is_not_given(cli: CLI, tmp_path: Path) -> None:
    env = {"CREDITCORE_DB": str(tmp_path / "env.db")}
    assert cli("grant", "bob", "7.5", "--unit", "usd", "--scale", "2", env=env).code == 0
    assert cli("burn", "bob", "2.25", "--unit", "usd", env=env).code == 0
    balance = cli("balance", "bob", "--unit", "usd", "--json", env=env).json()
    assert (balance["available"], balance["used"]) == ("5.25", "2.25")
    assert (tmp_path / "env.db").exists()


def test_refusals_exit_1_with_one_line_naming_the_error(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    block = cli("grant", "ada", "10", "--key", "g1", "--db", db, "--json").json()["block"]["id"]
    cli("hold", "ada", "4", "--hold-id", "h1", "--db", db)
    cli("release", "h1", "--db", db)
    cli("void", block, "--db", db)
    refusals = {
        "InsufficientCredits": ("burn", "ada", "50"),
        "ValidationError": ("burn", "ada", "1.5"),
        "NotFound": ("capture", "no-such-hold"),
        "HoldNotActive": ("capture", "h1"),
        "IdempotencyConflict": ("grant", "ada", "11", "--key", "g1"),
        "Conflict": ("void", block),
    }
    for name, args in refusals.items():
        done = cli(*args, "--db", db)
        assert done.code == 1, (name, done.out, done.err)
        lines = done.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {name}: "), (name, done.err)
        assert "Traceback" not in done.err + done.out


@pytest.mark.parametrize(
    "args",
    [
        ("burn", "ada"),  # missing AMOUNT
        ("balance", "ada"),  # no --db and no CREDITCORE_DB
        ("grant", "ada", "5", "--expires-at", "next tuesday"),
        ("grant", "ada", "5", "--category", "gift"),
        ("burn", "ada", "5", "--overdraft", "maybe"),
        ("entries", "--limit", "0"),
        ("simulate", "examples/ai_app.toml", "--plot", "chart.jpg"),
    ],
    ids=["missing-argument", "no-ledger", "bad-time", "bad-category", "bad-overdraft", "bad-limit", "bad-plot-type"],
)
def test_usage_mistakes_exit_2_without_a_traceback(cli: CLI, tmp_path: Path, args: tuple[str, ...]) -> None:
    root = Path(__file__).resolve().parents[2]
    needs_db = args[0] not in ("balance", "simulate")
    extra = ("--db", str(tmp_path / "x")) if needs_db else ()
    done = cli(*args, *extra, cwd=root)
    assert done.code == 2, (done.out, done.err)
    assert "Traceback" not in done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: usage: "), done.err

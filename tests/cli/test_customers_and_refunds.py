"""``customer set/get/list``, ``refund``, scope sets, categories and single-use credit on the
command line, through the real console script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CLI = Callable[..., Any]
T0 = "2026-01-01T09:00:00Z"


def test_customers_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    made = cli(
        "customer", "set", "ada", "--name", "Ada", "--email", "ada@example.com", "--external-id", "crm-1",
        "--metadata", "plan=pro", "--metadata", "seats=3", "--timezone", "Europe/Berlin", "--at", T0, "--db", db,
        "--json",
    ).json()  # fmt: skip
    assert (made["name"], made["external_id"], made["metadata"]) == ("Ada", "crm-1", {"plan": "pro", "seats": "3"})
    cleared = cli("customer", "set", "ada", "--clear", "email", "--at", T0, "--db", db, "--json").json()
    assert (cleared["email"], cleared["name"]) == (None, "Ada")
    cli("grant", "bob", "5", "--at", T0, "--db", db)
    found = cli("customer", "get", "--external-id", "crm-1", "--db", db, "--json").json()
    assert found["id"] == "ada"
    listed = cli("customer", "list", "--limit", "1", "--db", db, "--json").json()
    assert [c["id"] for c in listed["items"]] == ["ada"] and listed["next_cursor"]
    rest = cli("customer", "list", "--after", listed["next_cursor"], "--db", db, "--json").json()
    assert [c["id"] for c in rest["items"]] == ["bob"]
    table = cli("customer", "list", "--db", db)
    assert table.code == 0 and "crm-1" in table.out and "bob" in table.out
    taken = cli("customer", "set", "bob", "--external-id", "crm-1", "--db", db)
    assert taken.code == 1 and taken.err.startswith("error: Conflict:") and len(taken.err.splitlines()) == 1
    missing = cli("customer", "get", "nobody", "--db", db)
    assert missing.code == 1 and missing.err.startswith("error: NotFound:")
    both = cli("customer", "set", "ada", "--clear", "name", "--name", "x", "--db", db)
    assert both.code == 2 and len(both.err.splitlines()) == 1


def test_refunds_scope_sets_categories_and_single_use_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    once = cli("grant", "ada", "10", "--single-use", "--scope", "trip", "--at", T0, "--db", db, "--json").json()
    assert once["block"]["single_use"] is True
    cli("grant", "ada", "4", "--category", "paid", "--at", T0, "--db", db)
    burned = cli(
        "burn", "ada", "3", "--scope", "food", "--scope", "trip", "--category", "promotional", "--at", T0, "--db", db,
        "--json",
    ).json()  # fmt: skip
    assert [(e["kind"], e["amount"], e["description"]) for e in burned["entries"]] == [
        ("burn", "3", None), ("void", "7", "single_use"),
    ]  # fmt: skip
    refund = cli("refund", burned["op_id"], "2", "--at", T0, "--db", db, "--json").json()
    assert (refund["refunded"], refund["block"]["refund_of"], refund["block"]["source"]) == (
        "2", burned["op_id"], "refund",
    )  # fmt: skip
    too_much = cli("refund", burned["op_id"], "2", "--at", T0, "--db", db)
    assert too_much.code == 1 and too_much.err.startswith("error: ValidationError:")
    balance = cli("balance", "ada", "--scope", "trip", "--scope", "food", "--at", T0, "--db", db, "--json").json()
    assert balance["available"] == "6"
    held = cli(
        "hold", "ada", "3", "--hold-id", "h", "--category", "paid", "--scope", "x", "--at", T0, "--db", db, "--json"
    ).json()
    assert (held["hold"]["categories"], held["hold"]["scope"]) == (["paid"], ["x"])

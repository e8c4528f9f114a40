"""The billing commands (SPEC_BILLING.md) on the command line: every command in process through
click's runner (the same ``main`` the console script calls) on a SQLite file, its table and its
JSON; the refusals and usage mistakes as one line and their exit codes; a story from meter to
paid invoice; a few commands on PostgreSQL; and one run of the real console script."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from cli_output import one_line
from creditcore.cli import main

CLI = Callable[..., Any]
T0 = "2026-01-05T09:00:00Z"
T1 = "2026-01-05T10:00:00Z"
T2 = "2026-01-05T11:00:00Z"
JAN = ("--start", "2026-01-01", "--end", "2026-02-01")
UNSET = {
    name: None
    for name in ("CREDITCORE_DB", "CREDITCORE_TIMEZONE", "CREDITCORE_INVOICE_PREFIX", "CREDITCORE_INVOICE_NUMBER_WIDTH")
}


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env={**UNSET, **(env or {})})


def given(*args: str, **options: Any) -> Result:
    done = invoke(*args, **options)
    assert done.exit_code == 0, (args, done.stdout, done.stderr, done.exception)
    return done


def as_json(*args: str, **options: Any) -> Any:
    return json.loads(given(*args, "--json", **options).stdout)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "billing.db")


# -- meter ---------------------------------------------------------------------------------------


def test_meters_take_events_from_options_a_file_and_stdin(db: str, tmp_path: Path) -> None:
    create = ("meter", "create", "API calls", "api_call", "--meter-id", "calls", "--dimension", "region", "--scale",
              "1", "--description", "calls to the API", "--metadata", "team=core", "--at", T0, "--db", db)  # fmt: skip
    made = as_json(*create)
    assert (made["id"], made["event_name"], made["aggregation"], made["dimensions"], made["scale"]) == (
        "calls", "api_call", "sum", ["region"], 1,
    )  # fmt: skip
    assert (made["metadata"], made["created_at"]) == ({"team": "core"}, "2026-01-05T09:00:00+00:00")
    assert as_json(*create) == made  # the meter id replays
    made_table = given(
        "meter", "create", "Seats", "seat", "--aggregation", "unique_count", "--meter-id", "seats", "--db", db
    ).stdout
    assert "seats" in made_table and "Seats" in made_table and "unique_count" in made_table
    assert [m["id"] for m in as_json("meter", "list", "--db", db)] == ["calls", "seats"]
    table = given("meter", "list", "--db", db).stdout
    assert "API calls" in table and "api_call" in table and "unique_count" in table and "region" in table

    # --event: KEY=VALUE,... or a JSON object; --meter-id and --customer fill what an event leaves out
    recorded = as_json(
        "meter", "record", "--meter-id", "calls", "--customer", "ada", "--event", "value=2.5,event_id=e1,"
        "dimensions.region=eu", "--event", '{"value": 1.5, "event_id": "e2", "timestamp": "2026-01-05T08:00:00Z"}',
        "--event", "customer=bob,value=4,event_id=e3", "--at", T0, "--db", db,
    )  # fmt: skip
    assert [(r["event_id"], r["status"]) for r in recorded["results"]] == [
        ("e1", "created"), ("e2", "created"), ("e3", "created"),
    ]  # fmt: skip
    assert (recorded["created"], recorded["duplicates"]) == (3, 0)

    # a JSON file: e1 again with the same fields is a duplicate
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps([
            {"meter_id": "calls", "customer": "ada", "value": "2.5", "event_id": "e1", "dimensions": {"region": "eu"}},
            {"meter_id": "seats", "customer": "ada", "unique_key": "u1", "event_id": "s1"},
        ])
    )  # fmt: skip
    table = given("meter", "record", "--file", str(events), "--at", T0, "--db", db).stdout
    assert "recorded 2 event(s): 1 created, 1 duplicate(s)" in table
    assert "duplicate" in table and "s1" in table

    # JSONL on stdin, 150 events: recorded in calls of 100, in one batch
    jsonl = "\n".join(
        json.dumps({"meter_id": "seats", "customer": "ada", "unique_key": f"u{n % 40}"}) for n in range(150)
    )
    many = as_json("meter", "record", "--file", "-", "--at", T0, "--db", db, input=jsonl + "\n")
    assert (many["created"], many["duplicates"], len(many["results"])) == (150, 0, 150)

    summary = as_json("meter", "summary", "calls", "--customer", "ada", *JAN, "--db", db)
    assert (summary["value"], summary["event_count"], summary["aggregation"]) == ("4.0", 2, "sum")
    assert (summary["start"], summary["end"]) == ("2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00")
    eu = as_json("meter", "summary", "calls", *JAN, "--dimension", "region=eu", "--db", db)
    assert (eu["customer"], eu["value"], eu["event_count"]) == (None, "2.5", 1)
    assert as_json("meter", "summary", "calls", *JAN, "--db", db)["value"] == "8.0"  # every customer's
    seats = as_json("meter", "summary", "seats", "--customer", "ada", *JAN, "--db", db)
    assert (seats["value"], seats["event_count"]) == ("40", 151)  # u0 ... u39, u1 among them
    # a date alone is its midnight in --timezone (the customer has no zone of its own)
    berlin = as_json(
        "meter", "summary", "calls", "--customer", "ada", "--start", "2026-01-05", "--end", "2026-01-05T08:30:00Z",
        "--timezone", "Europe/Berlin", "--db", db,
    )  # fmt: skip
    assert (berlin["start"], berlin["value"], berlin["event_count"]) == ("2026-01-04T23:00:00+00:00", "1.5", 1)
    table = given("meter", "summary", "calls", "--customer", "ada", *JAN, "--db", db).stdout
    assert "4.0" in table and "2026-01-01 00:00" in table and "sum" in table


# -- price ---------------------------------------------------------------------------------------


def test_prices_of_every_model_list_quote_and_delete(db: str) -> None:
    for meter_id in ("calls", "tokens", "gb"):
        given("meter", "create", meter_id.title(), meter_id, "--meter-id", meter_id, "--at", T0, "--db", db)
    per_unit = as_json(
        "price", "create", "calls", "--unit", "usd", "--scale", "2", "--unit-price", "0.002", "--price-id", "p-calls",
        "--at", T0, "--db", db,
    )  # fmt: skip
    assert (per_unit["id"], per_unit["model"], per_unit["unit"], per_unit["unit_price"], per_unit["tiers"]) == (
        "p-calls", "per_unit", "usd", "0.002", None,
    )  # fmt: skip
    graduated = as_json(
        "price", "create", "tokens", "--model", "graduated", "--unit", "usd", "--tier", "1000:0", "--tier",
        "5000:0.001:0.50", "--tier", "inf:0.0005", "--price-id", "p-tokens", "--db", db,
    )  # fmt: skip
    assert graduated["tiers"] == [
        {"up_to": "1000", "unit_price": "0", "flat_fee": "0"},
        {"up_to": "5000", "unit_price": "0.001", "flat_fee": "0.50"},
        {"up_to": None, "unit_price": "0.0005", "flat_fee": "0"},
    ]
    volume = given(
        "price", "create", "gb", "--model", "volume", "--unit", "usd", "--tier", "5:7", "--tier", "10:6.5", "--tier",
        "inf:6", "--price-id", "p-gb", "--db", db,
    ).stdout  # fmt: skip
    assert "p-gb" in volume and "volume" in volume and "5:7 10:6.5 inf:6" in volume
    package = as_json(
        "price", "create", "calls", "--model", "package", "--unit", "usd", "--package-size", "100", "--package-price",
        "1", "--free-units", "50", "--plan", "pro", "--price-id", "p-pro", "--db", db,
    )  # fmt: skip
    assert (package["plan"], package["package_size"], package["package_price"], package["free_units"]) == (
        "pro", "100", "1", "50",
    )  # fmt: skip

    quote = as_json("price", "quote", "calls", "1250", "--db", db)
    assert quote == {"meter_id": "calls", "price_id": "p-calls", "quantity": "1250", "exact": "2.500", "amount": "2.50"}
    assert as_json("price", "quote", "calls", "1250", "--plan", "pro", "--db", db)["amount"] == "12.00"
    assert as_json("price", "quote", "tokens", "6000", "--db", db)["amount"] == "5.00"
    assert as_json("price", "quote", "gb", "6", "--db", db)["amount"] == "39.00"
    line = given("price", "quote", "calls", "1250", "--db", db).stdout
    assert "1250 of calls costs 2.50 usd (exactly 2.500) under price p-calls" in " ".join(line.split())

    assert [p["id"] for p in as_json("price", "list", "--db", db)] == ["p-calls", "p-tokens", "p-gb", "p-pro"]
    assert [p["id"] for p in as_json("price", "list", "--meter-id", "calls", "--db", db)] == ["p-calls", "p-pro"]
    assert [p["id"] for p in as_json("price", "list", "--plan", "pro", "--db", db)] == ["p-pro"]
    listed = given("price", "list", "--db", db).stdout
    assert "1000:0 5000:0.001:0.50 inf:0.0005" in listed and "1 per 100" in listed

    deleted = as_json("price", "delete", "p-pro", "--db", db)
    assert (deleted["id"], deleted["plan"]) == ("p-pro", "pro")
    assert as_json("price", "quote", "calls", "1250", "--plan", "pro", "--db", db)["price_id"] == "p-calls"
    assert "deleted price p-calls of meter calls" in given("price", "delete", "p-calls", "--db", db).stdout
    assert [p["id"] for p in as_json("price", "list", "--meter-id", "calls", "--db", db)] == []
    assert given("price", "list", "--meter-id", "calls", "--db", db).stdout.strip() == "no prices"


# -- usage ---------------------------------------------------------------------------------------


def test_usage_priced_and_metered_replayed_and_listed(db: str) -> None:
    given("meter", "create", "Tokens", "token", "--meter-id", "tokens", "--at", T0, "--db", db)
    given("price", "create", "tokens", "--unit", "usd", "--scale", "2", "--unit-price", "0.01", "--at", T0, "--db", db)
    given("grant", "ada", "1", "--unit", "usd", "--at", T0, "--db", db)
    priced = ("usage", "record", "ada", "--amount", "0.30", "--unit", "usd", "--request-id", "r1", "--description",
              "chat", "--metadata", "model=small", "--at", T1, "--db", db)  # fmt: skip
    first = as_json(*priced)
    assert (first["status"], first["charged"], first["burned"], first["debt"], first["replayed"]) == (
        "recorded", "0.30", "0.30", "0.00", False,
    )  # fmt: skip
    assert [(e["kind"], e["amount"]) for e in first["entries"]] == [("burn", "0.30")]
    again = as_json(*priced)
    assert (again["replayed"], again["op_id"]) == (True, first["op_id"])
    metered = as_json(
        "usage", "record", "ada", "--meter-id", "tokens", "--quantity", "150", "--unit", "usd", "--request-id", "r2",
        "--at", T2, "--db", db,
    )  # fmt: skip
    assert (metered["charged"], metered["burned"], metered["shortfall"], metered["debt"], metered["event_id"]) == (
        "1.50", "0.70", "0.80", "0.80", "r2",
    )  # fmt: skip
    skipped = given("usage", "record", "ada", "--amount", "0", "--unit", "usd", "--db", db).stdout
    assert "usage of ada skipped: charged 0" in skipped
    table = given("usage", "record", "bob", "--amount", "2", "--unit", "credits", "--at", T1, "--db", db).stdout
    assert "usage of bob recorded: charged 2 credits, burned 0, shortfall 2, debt 2" in table and "burn" in table

    page = as_json("usage", "list", "ada", "--db", db)
    assert [(u["status"], u["charged"], u["request_id"], u["meter_id"], u["quantity"]) for u in page["items"]] == [
        ("recorded", "0.30", "r1", None, None), ("recorded", "1.50", "r2", "tokens", "150"),
    ]  # fmt: skip
    assert page["items"][0]["metadata"] == {"model": "small"} and page["next_cursor"] is None
    first_page = as_json("usage", "list", "ada", "--limit", "1", "--db", db)
    assert [u["request_id"] for u in first_page["items"]] == ["r1"]
    rest = as_json("usage", "list", "ada", "--after", first_page["next_cursor"], "--db", db)
    assert [u["request_id"] for u in rest["items"]] == ["r2"]
    assert as_json("usage", "list", "ada", "--since", T2, "--db", db)["items"][0]["request_id"] == "r2"
    listed = given("usage", "list", "ada", "--limit", "1", "--db", db).stdout
    assert "r1" in listed and "chat" in listed and f"more: --after {first_page['next_cursor']}" in listed
    assert "cleo has no usage" in given("usage", "list", "cleo", "--db", db).stdout


# -- voucher -------------------------------------------------------------------------------------


def test_vouchers_create_list_and_void(db: str) -> None:
    made = as_json(
        "voucher", "create", "ada", "20", "--scope", "trip", "--valid-until", "2026-02-01", "--single-use",
        "--voucher-id", "v20", "--description", "20% off trips", "--at", T0, "--db", db,
    )  # fmt: skip
    assert (made["id"], made["percent"], made["scope"], made["status"], made["single_use"]) == (
        "v20", "20", ["trip"], "active", True,
    )  # fmt: skip
    assert (made["valid_from"], made["valid_until"]) == ("2026-01-05T09:00:00+00:00", "2026-02-01T00:00:00+00:00")
    later = as_json(
        "voucher", "create", "ada", "10", "--voucher-id", "v10", "--valid-from", "2026-01-10", "--timezone",
        "Europe/Berlin", "--at", T0, "--db", db,
    )  # fmt: skip
    assert (later["status"], later["valid_from"], later["scope"]) == ("upcoming", "2026-01-09T23:00:00+00:00", None)

    shown = given("voucher", "create", "bob", "5.5", "--voucher-id", "v-bob", "--at", T0, "--db", db).stdout
    assert "v-bob" in shown and "5.5%" in shown and "active" in shown and "any" in shown
    assert [v["id"] for v in as_json("voucher", "list", "ada", "--at", T1, "--db", db)] == ["v20"]
    both = as_json("voucher", "list", "ada", "--include-inactive", "--at", T1, "--db", db)
    assert [(v["id"], v["status"]) for v in both] == [("v20", "active"), ("v10", "upcoming")]
    table = given("voucher", "list", "ada", "--all", "--at", T1, "--db", db).stdout
    assert "v20" in table and "20%" in table and "trip" in table and "upcoming" in table
    voided = as_json("voucher", "void", "v10", "--at", T1, "--db", db)
    assert (voided["status"], voided["voided_at"]) == ("voided", "2026-01-05T10:00:00+00:00")
    assert "voided" in given("voucher", "void", "v10", "--db", db).stdout  # again: unchanged
    assert "cleo has no active vouchers" in given("voucher", "list", "cleo", "--db", db).stdout


# -- the story: meter, events, price, preview, create, issue, pay --------------------------------


def test_a_month_of_usage_invoiced_issued_and_paid_from_the_command_line(db: str) -> None:
    given("meter", "create", "API calls", "api_call", "--meter-id", "calls", "--at", T0, "--db", db)
    given("price", "create", "calls", "--unit", "usd", "--scale", "2", "--unit-price", "0.10", "--at", T0, "--db", db)
    given("grant", "ada", "0.50", "--unit", "usd", "--at", T0, "--db", db)
    given("voucher", "create", "ada", "10", "--voucher-id", "v10", "--at", T0, "--db", db)
    given("meter", "record", "--meter-id", "calls", "--customer", "ada", "--event", "value=20,event_id=e1", "--event",
          "value=30,event_id=e2", "--at", T1, "--db", db)  # fmt: skip

    end = "2026-02-01T00:00:00Z"
    preview = as_json("invoice", "preview", "ada", *JAN, "--tax-rate", "20", "--at", end, "--db", db)
    assert (preview["subtotal"], preview["discount"], preview["tax"], preview["total"]) == (
        "5.00",
        "0.50",
        "0.90",
        "5.40",
    )
    assert (preview["credit_applied"], preview["amount_due"], preview["voucher_id"]) == ("0.50", "4.90", "v10")
    [line] = preview["lines"]
    assert (line["kind"], line["meter_id"], line["quantity"], line["amount"], line["scopes"]) == (
        "usage", "calls", "50", "5.00", ["meter:calls"],
    )  # fmt: skip
    [[(block, amount)]] = preview["credit_allocations"]
    assert block.startswith("blk_") and amount == "0.50"
    shown = given("invoice", "preview", "ada", *JAN, "--tax-rate", "20", "--at", end, "--db", db).stdout
    assert "preview of ada's invoice (nothing written): amount due 4.90 usd" in shown and f"0.50 from {block}" in shown
    assert as_json("balance", "ada", "--unit", "usd", "--db", db)["available"] == "0.50"  # a preview writes nothing

    draft = as_json("invoice", "create", "ada", *JAN, "--tax-rate", "20", "--invoice-id", "ada-jan", "--at", end,
                    "--db", db)  # fmt: skip
    assert (draft["id"], draft["status"], draft["number"], draft["kind"], draft["amount_due"]) == (
        "ada-jan", "draft", None, "period", "4.90",
    )  # fmt: skip
    issued = as_json(
        "invoice", "issue", "ada-jan", "--invoice-prefix", "ACME-", "--invoice-number-width", "6", "--at",
        "2026-02-01T01:00:00Z", "--db", db,
    )  # fmt: skip
    i = issued["invoice"]
    assert (i["number"], i["status"], i["amount_due"], i["issued_at"]) == (
        "ACME-000001", "issued", "4.90", "2026-02-01T01:00:00+00:00",
    )  # fmt: skip
    assert [(e["kind"], e["amount"]) for e in issued["entries"]] == [("burn", "0.50")]
    assert as_json("balance", "ada", "--unit", "usd", "--db", db)["available"] == "0.00"
    late = invoke("meter", "record", "--event", "meter_id=calls,customer=ada,value=1,timestamp=2026-01-20T00:00:00Z",
                  "--db", db)  # fmt: skip
    assert "ada-jan" in one_line(late, 1, "error: Conflict: ")  # January is billed

    paid = as_json("invoice", "pay", "ada-jan", "--reference", "pi_1", "--at", "2026-02-02T00:00:00Z", "--db", db)
    assert (paid["status"], paid["payment_reference"], paid["paid_at"]) == (
        "paid", "pi_1", "2026-02-02T00:00:00+00:00",
    )  # fmt: skip
    got = given("invoice", "get", "ada-jan", "--db", db).stdout
    assert "ACME-000001" in got and "paid" in got and "pi_1" in got and "meter:calls" in got
    assert as_json("invoice", "get", "ada-jan", "--db", db) == paid
    again = invoke("invoice", "pay", "ada-jan", "--db", db)
    assert "ada-jan" in one_line(again, 1, "error: InvalidState: ")

    # February: numbered from the environment, issued, then voided: its credit comes back
    given("grant", "ada", "0.20", "--unit", "usd", "--at", "2026-02-03T00:00:00Z", "--db", db)
    given("meter", "record", "--event", "meter_id=calls,customer=ada,value=5", "--at", "2026-02-03T00:00:00Z",
          "--db", db)  # fmt: skip
    feb = ("--start", "2026-02-01", "--end", "2026-03-01")
    given("invoice", "create", "ada", *feb, "--invoice-id", "ada-feb", "--at", "2026-02-04T00:00:00Z", "--db", db)
    env = {"CREDITCORE_INVOICE_PREFIX": "ENV-"}
    shown = given("invoice", "issue", "ada-feb", "--at", "2026-02-04T00:00:00Z", "--db", db, env=env).stdout
    assert "issued invoice ada-feb as ENV-0002: issued, amount due 0.25 usd" in shown
    voided = as_json("invoice", "void", "ada-feb", "--at", "2026-02-05T00:00:00Z", "--db", db)
    assert (voided["status"], voided["number"], voided["voided_at"]) == (
        "void",
        "ENV-0002",
        "2026-02-05T00:00:00+00:00",
    )
    assert as_json("balance", "ada", "--unit", "usd", "--db", db)["available"] == "0.20"
    redo = given("invoice", "create", "ada", *feb, "--invoice-id", "ada-feb2", "--db", db).stdout
    assert "draft invoice ada-feb2 for ada: 0.45 usd (estimate)" in redo  # the voided period is billable again
    dropped = given("invoice", "void", "ada-feb2", "--at", "2026-02-05T00:00:00Z", "--db", db).stdout
    assert "invoice ada-feb2 is void" in dropped and "draft" not in dropped

    listed = as_json("invoice", "list", "--customer", "ada", "--db", db)
    assert [(x["id"], x["status"]) for x in listed["items"]] == [
        ("ada-jan", "paid"), ("ada-feb", "void"), ("ada-feb2", "void"),
    ]  # fmt: skip
    settled = as_json("invoice", "list", "--status", "paid", "--status", "void", "--db", db)
    assert [x["id"] for x in settled["items"]] == ["ada-jan", "ada-feb", "ada-feb2"]
    first = as_json("invoice", "list", "--limit", "1", "--db", db)
    assert [x["id"] for x in first["items"]] == ["ada-jan"] and first["next_cursor"]
    table = given("invoice", "list", "--limit", "1", "--db", db).stdout
    assert "ACME-000001" in table and f"more: --after {first['next_cursor']}" in table
    assert given("invoice", "list", "--customer", "bob", "--db", db).stdout.strip() == "no invoices"


# -- charge, charge-product, purchase, starter-credit --------------------------------------------


def test_charges_use_credit_vouchers_and_debt(db: str) -> None:
    given("grant", "ada", "3", "--unit", "usd", "--scale", "2", "--scope", "realm:berlin", "--at", T0, "--db", db)
    args = ("charge", "ada", "10", "--unit", "usd", "--scope", "realm:berlin", "--description", "trip 881", "--key",
            "trip-881", "--at", T1, "--db", db)  # fmt: skip
    charged = as_json(*args)
    i = charged["invoice"]
    assert (charged["credit_applied"], charged["amount_due"], charged["debt"], charged["replayed"]) == (
        "3.00", "7.00", "0", False,
    )  # fmt: skip
    assert (i["kind"], i["status"], i["number"], i["lines"][0]["scopes"]) == (
        "charge", "issued", "INV-0001", ["realm:berlin"],
    )  # fmt: skip
    again = as_json(*args)
    assert (again["replayed"], again["invoice"]["id"]) == (True, i["id"])

    given("voucher", "create", "bob", "25", "--scope", "usage:products", "--at", T0, "--db", db)
    product = as_json(
        "charge-product", "bob", "helmet", "4", "--unit", "usd", "--overdraft", "debt", "--invoice-prefix", "CH-",
        "--at", T1, "--db", db,
    )  # fmt: skip
    p = product["invoice"]
    assert (product["discount"], product["debt"], product["amount_due"]) == ("1.00", "3.00", "0.00")
    assert (p["number"], p["status"], p["payment_reference"]) == ("CH-0002", "paid", "debt")
    assert (p["lines"][0]["product_id"], p["lines"][0]["scopes"]) == ("helmet", ["product:helmet", "usage:products"])
    assert as_json("balance", "bob", "--unit", "usd", "--db", db)["debt"] == "3.00"

    plain = as_json("charge", "cleo", "5", "--unit", "usd", "--product-id", "helmet", "--at", T1, "--db", db)
    assert (plain["invoice"]["lines"][0]["scopes"], plain["discount"]) == (["product:helmet"], "0.00")
    product_table = given("charge-product", "erin", "helmet", "1", "--unit", "usd", "--at", T1, "--db", db).stdout
    assert "charged erin 1.00 usd on invoice inv_" in product_table and "usage:products" in product_table
    shown = given("charge", "dan", "2", "--unit", "usd", "--at", T1, "--db", db).stdout
    assert (
        "charged dan 2.00 usd on invoice inv_" in shown and "(INV-0005): discount 0.00, credit 0.00, due 2.00" in shown
    )


def test_purchases_invoice_credit_now_or_once_paid(db: str) -> None:
    bought = as_json(
        "purchase", "ada", "1000", "--cost-basis", "0.01", "--invoice-unit-scale", "2", "--net-terms", "30", "--memo",
        "Top-up", "--expires-at", "2027-01-05T09:00:00Z", "--priority", "10", "--at", T0, "--db", db,
    )  # fmt: skip
    i, block = bought["invoice"], bought["block"]
    assert (i["kind"], i["status"], i["total"], i["unit"], i["memo"], i["due_at"]) == (
        "purchase", "issued", "10.00", "usd", "Top-up", "2026-02-04T09:00:00+00:00",
    )  # fmt: skip
    assert (block["amount"], block["unit"], block["category"], block["cost_basis"], block["priority"]) == (
        "1000", "credits", "paid", "0.01", 10,
    )  # fmt: skip
    assert (block["metadata"], [e["kind"] for e in bought["entries"]]) == ({"invoice_id": i["id"]}, ["grant"])
    paid = as_json("purchase", "ada", "500", "--cost-basis", "0.01", "--mark-as-paid", "--at", T1, "--db", db)
    assert (paid["invoice"]["status"], paid["block"]["amount"]) == ("paid", "500")

    gated = as_json("purchase", "bob", "200", "--cost-basis", "0.02", "--require-payment", "--at", T0, "--db", db)
    assert (gated["block"], gated["entries"], gated["invoice"]["total"]) == (None, [], "4.00")
    assert as_json("balance", "bob", "--db", db)["available"] == "0"
    paid_now = given("invoice", "pay", gated["invoice"]["id"], "--reference", "wire-7", "--at", T1, "--db", db).stdout
    assert f"invoice {gated['invoice']['id']} (INV-0003) is paid" in paid_now and "wire-7" in paid_now
    assert as_json("balance", "bob", "--db", db)["available"] == "200"
    shown = given("purchase", "cleo", "50", "--cost-basis", "0.01", "--require-payment", "--db", db).stdout
    assert "cleo bought 50 credits on invoice inv_" in shown and "granted once the invoice is paid" in shown


def test_a_starter_credit_is_granted_once(db: str) -> None:
    first = as_json("starter-credit", "ada", "--scale", "2", "--at", T0, "--db", db)
    block = first["block"]
    assert (block["amount"], block["unit"], block["category"], block["expires_at"]) == (
        "5.00", "usd", "promotional", "2026-02-04T09:00:00+00:00",
    )  # fmt: skip
    assert block["metadata"] == {"tag": "starter-credit", "credit_type": "starter", "lifetime": "30 days"}
    again = as_json("starter-credit", "ada", "--at", T1, "--db", db)
    assert (again["replayed"], again["block"]["id"]) == (True, block["id"])
    shown = given("starter-credit", "bob", "--amount", "2", "--lifetime", "1 month", "--at", T0, "--db", db).stdout
    assert (
        "granted bob a starter credit of 2.00 usd as block blk_" in shown and "expiring 2026-02-05 09:00 UTC" in shown
    )


# -- refusals and usage mistakes: one line each, nothing written ---------------------------------

VALIDATION, USAGE = "error: ValidationError: ", "error: usage: "
EVENT = ("meter", "record", "--event")
REFUSED = {
    "tier-shape": (
        ("price", "create", "calls", "--model", "graduated", "--unit", "usd", "--tier", "5"),
        2,
        USAGE,
        "--tier",
    ),
    "tiers-not-increasing": (
        (
            "price",
            "create",
            "calls",
            "--model",
            "graduated",
            "--unit",
            "usd",
            "--plan",
            "x",
            "--tier",
            "5:1",
            "--tier",
            "3:1",
        ),
        1,
        VALIDATION,
        "tiers",
    ),
    "second-price": (
        ("price", "create", "calls", "--unit", "usd", "--unit-price", "1"),
        1,
        "error: Conflict: ",
        "calls",
    ),
    "unknown-meter-price": (
        ("price", "create", "nope", "--unit", "usd", "--unit-price", "1"),
        1,
        "error: NotFound: ",
        "nope",
    ),
    "undeclared-unit": (
        ("price", "create", "calls", "--unit", "eur", "--unit-price", "1", "--plan", "x"),
        1,
        VALIDATION,
        "eur",
    ),
    "bad-model": (("price", "create", "calls", "--unit", "usd", "--model", "tiered"), 2, USAGE, "--model"),
    "no-price-to-quote": (("price", "quote", "nope", "5"), 1, "error: NotFound: ", "nope"),
    "no-events": (("meter", "record"), 2, USAGE, "--event"),
    "event-shape": ((*EVENT, "meter_id"), 2, USAGE, "--event"),
    "event-not-json": ((*EVENT, "{value"), 2, USAGE, "--event"),
    "event-field": ((*EVENT, "meter_id=calls,customer=ada,amount=1"), 2, USAGE, "amount"),
    "event-timestamp": ((*EVENT, "meter_id=calls,customer=ada,value=1,timestamp=soon"), 2, USAGE, "timestamp"),
    "event-without-customer": ((*EVENT, "meter_id=calls,value=1"), 1, VALIDATION, "customer"),
    "event-unknown-meter": ((*EVENT, "meter_id=nope,customer=ada,value=1"), 1, "error: NotFound: ", "nope"),
    "event-in-the-future": (
        (*EVENT, "meter_id=calls,customer=ada,value=1,timestamp=2026-01-05T10:00:00Z", "--at", T0),
        1,
        VALIDATION,
        "timestamp",
    ),
    "file-missing": (("meter", "record", "--file", "no-such-file.json"), 2, USAGE, "--file"),
    "taken-event-name": (("meter", "create", "Calls", "api_call"), 1, "error: Conflict: ", "api_call"),
    "bad-aggregation": (("meter", "create", "X", "x", "--aggregation", "avg"), 2, USAGE, "--aggregation"),
    "end-before-start": (
        ("meter", "summary", "calls", "--start", "2026-02-01", "--end", "2026-01-01"),
        1,
        VALIDATION,
        "end",
    ),
    "bad-start": (("meter", "summary", "calls", "--start", "soon", "--end", "2026-01-01"), 2, USAGE, "--start"),
    "bad-timezone": (("meter", "summary", "calls", *JAN, "--timezone", "Mars/Olympus"), 1, VALIDATION, "timezone"),
    "bad-dimension": (("meter", "summary", "calls", *JAN, "--dimension", "region"), 2, USAGE, "--dimension"),
    "amount-and-meter": (
        ("usage", "record", "ada", "--amount", "1", "--meter-id", "calls", "--unit", "usd"),
        1,
        VALIDATION,
        "amount",
    ),
    "usage-without-unit": (("usage", "record", "ada", "--amount", "1"), 2, USAGE, "--unit"),
    "usage-rejected": (
        ("usage", "record", "ada", "--amount", "1", "--unit", "usd", "--overdraft", "reject"),
        1,
        "error: InsufficientCredits: ",
        "1.00 usd",
    ),
    "voucher-percent": (("voucher", "create", "ada", "150"), 1, VALIDATION, "percent"),
    "unknown-voucher": (("voucher", "void", "nope"), 1, "error: NotFound: ", "nope"),
    "pay-a-draft": (("invoice", "pay", "draft-1"), 1, "error: InvalidState: ", "draft-1"),
    "issue-an-unknown-invoice": (("invoice", "issue", "nope"), 1, "error: NotFound: ", "nope"),
    "number-width": (
        ("invoice", "issue", "draft-1", "--invoice-number-width", "13"),
        1,
        VALIDATION,
        "invoice_number_width",
    ),
    "prefix-too-long": (
        ("invoice", "issue", "draft-1", "--invoice-prefix", "P" * 21),
        1,
        VALIDATION,
        "invoice_prefix",
    ),
    "bad-tax-rate": (("invoice", "preview", "ada", *JAN, "--tax-rate", "101"), 1, VALIDATION, "tax_rate"),
    "bad-status": (("invoice", "list", "--status", "open"), 2, USAGE, "--status"),
    "charge-rejected": (
        ("charge", "ada", "1", "--unit", "usd", "--overdraft", "reject"),
        1,
        "error: InsufficientCredits: ",
        "1.00 usd",
    ),
    "charge-nothing": (("charge", "ada", "0", "--unit", "usd"), 1, VALIDATION, "amount"),
    "charge-without-unit": (("charge", "ada", "1"), 2, USAGE, "--unit"),
    "purchase-net-terms": (
        ("purchase", "ada", "1", "--cost-basis", "0.01", "--net-terms", "4000"),
        1,
        VALIDATION,
        "invoice_settings",
    ),
    "purchase-without-cost-basis": (("purchase", "ada", "1"), 2, USAGE, "--cost-basis"),
    "starter-credit-again-otherwise": (
        ("starter-credit", "bob", "--amount", "9"),
        1,
        "error: IdempotencyConflict: ",
        "starter-credit:bob",
    ),
}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with a meter, a price in usd, a draft invoice and bob's starter credit."""
    path = tmp_path_factory.mktemp("base") / "base.db"
    db = str(path)
    given("meter", "create", "API calls", "api_call", "--meter-id", "calls", "--at", T0, "--db", db)
    given("price", "create", "calls", "--unit", "usd", "--scale", "2", "--unit-price", "0.1", "--price-id", "p-calls",
          "--at", T0, "--db", db)  # fmt: skip
    given("invoice", "create", "ada", *JAN, "--invoice-id", "draft-1", "--at", T0, "--db", db)
    given("starter-credit", "bob", "--at", T0, "--db", db)
    return path


def _state(db: str) -> tuple[Any, ...]:
    return (
        as_json("meter", "list", "--db", db), as_json("price", "list", "--db", db),
        as_json("invoice", "list", "--db", db), as_json("entries", "--db", db)["items"],
        as_json("voucher", "list", "ada", "--all", "--db", db), as_json("usage", "list", "ada", "--db", db),
    )  # fmt: skip


@pytest.mark.parametrize(("args", "code", "starts", "names"), REFUSED.values(), ids=REFUSED.keys())
def test_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(
    base_db: Path, tmp_path: Path, args: tuple[str, ...], code: int, starts: str, names: str
) -> None:
    db = str(tmp_path / "billing.db")
    shutil.copy(base_db, db)
    before = _state(db)
    line = one_line(invoke(*args, "--db", db), code, starts)
    assert names in line
    assert _state(db) == before


def test_a_refused_event_in_a_long_file_records_none_of_it(base_db: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "billing.db")
    shutil.copy(base_db, db)
    events = [{"meter_id": "calls", "customer": "ada", "value": 1, "event_id": f"e{n}"} for n in range(180)]
    events[150]["value"] = -1  # in the second call of 100
    done = invoke("meter", "record", "--file", "-", "--at", T0, "--db", db, input=json.dumps(events))
    assert "value" in one_line(done, 1, VALIDATION)
    assert as_json("meter", "summary", "calls", *JAN, "--db", db)["event_count"] == 0
    bad = invoke("meter", "record", "--file", "-", "--db", db, input='{"meter_id": "calls"}\n{"meter_id": \n')
    assert "stdin line 2 is not JSON" in one_line(bad, 2, USAGE)


READS = {
    "meter-list": ("meter", "list"),
    "meter-summary": ("meter", "summary", "calls", *JAN),
    "price-list": ("price", "list"),
    "price-quote": ("price", "quote", "calls", "5"),
    "usage-list": ("usage", "list", "ada"),
    "voucher-list": ("voucher", "list", "ada"),
    "invoice-preview": ("invoice", "preview", "ada", *JAN),
    "invoice-get": ("invoice", "get", "x"),
    "invoice-list": ("invoice", "list"),
}


@pytest.mark.parametrize("args", READS.values(), ids=READS.keys())
def test_a_read_refuses_a_missing_ledger_file_and_creates_none(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "ledgr.db"
    line = one_line(invoke(*args, "--db", str(typo)), 1, "error: StorageError: ")
    assert str(typo) in line and "does not create" in line
    assert list(tmp_path.iterdir()) == []


COMMANDS = {
    "meter create": "creditcore meter create",
    "meter list": "creditcore meter list",
    "meter record": "creditcore meter record --meter-id calls",
    "meter summary": "creditcore meter summary calls",
    "price create": "creditcore price create calls",
    "price list": "creditcore price list",
    "price delete": "creditcore price delete",
    "price quote": "creditcore price quote calls",
    "usage record": "creditcore usage record ada",
    "usage list": "creditcore usage list ada",
    "voucher create": "creditcore voucher create ada",
    "voucher list": "creditcore voucher list ada",
    "voucher void": "creditcore voucher void",
    "invoice preview": "creditcore invoice preview ada",
    "invoice create": "creditcore invoice create ada",
    "invoice issue": "creditcore invoice issue",
    "invoice pay": "creditcore invoice pay",
    "invoice void": "creditcore invoice void",
    "invoice get": "creditcore invoice get",
    "invoice list": "creditcore invoice list",
    "charge": "creditcore charge ada",
    "charge-product": "creditcore charge-product ada",
    "purchase": "creditcore purchase ada",
    "starter-credit": "creditcore starter-credit ada",
}


@pytest.mark.parametrize(("command", "example"), COMMANDS.items(), ids=COMMANDS.keys())
def test_every_billing_command_shows_an_example_in_its_help(command: str, example: str) -> None:
    done = invoke(*command.split(), "--help")
    assert done.exit_code == 0, done.stderr
    assert "Example:" in done.stdout and example in done.stdout and "--json" in done.stdout and "--db" in done.stdout


# -- PostgreSQL, and the console script once -----------------------------------------------------


def _url(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"


def test_billing_commands_on_a_postgres_url(postgres_dsn: str) -> None:
    db = _url(postgres_dsn)
    given("meter", "create", "API calls", "api_call", "--meter-id", "calls", "--at", T0, "--db", db)
    given("price", "create", "calls", "--unit", "usd", "--scale", "2", "--unit-price", "0.10", "--at", T0, "--db", db)
    given("meter", "record", "--event", "meter_id=calls,customer=ada,value=12", "--at", T1, "--db", db)
    given("invoice", "create", "ada", *JAN, "--invoice-id", "pg-jan", "--at", T2, "--db", db)
    issued = as_json("invoice", "issue", "pg-jan", "--at", "2026-02-01T00:00:00Z", "--db", db)["invoice"]
    assert (issued["number"], issued["total"], issued["status"]) == ("INV-0001", "1.20", "issued")
    charged = as_json("charge", "ada", "2", "--unit", "usd", "--at", "2026-02-01T01:00:00Z", "--db", db)
    assert (charged["invoice"]["number"], charged["amount_due"]) == ("INV-0002", "2.00")
    listed = as_json("invoice", "list", "--customer", "ada", "--db", db)
    assert [x["id"] for x in listed["items"]] == ["pg-jan", charged["invoice"]["id"]]


def test_the_console_script_runs_a_billing_command(cli: CLI, db: str) -> None:
    done = cli("starter-credit", "ada", "--scale", "2", "--at", T0, "--db", db, "--json")
    assert (done.json()["block"]["amount"], done.err) == ("5.00", "")

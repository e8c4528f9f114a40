"""The commands added so that every operation of the API has one: the reads ``balances``,
``holds``, ``get-hold``, ``get-block``, ``preview-burn``, ``units``, ``timeline`` (and its
``--plot``), ``entries``' filters, ``meter get``, ``price get`` and ``voucher get``; the writes
``reverse``, ``change-expiry`` and ``define-unit``; and the API keywords older commands gained.
Each in process through click's runner on a SQLite file: its table, its JSON, and a bad input
as one line naming the field, with the exit code of every other command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from click.testing import CliRunner, Result

from cli_output import one_line
from creditcore.cli import main

T0 = "2026-01-01T09:00:00Z"
AT = "2026-01-04T00:00:00Z"  # after the story, before its first block expires
UNSET = {
    name: None
    for name in ("CREDITCORE_DB", "CREDITCORE_TIMEZONE", "CREDITCORE_INVOICE_PREFIX", "CREDITCORE_INVOICE_NUMBER_WIDTH")
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=UNSET)


def given(*args: str) -> Result:
    done = invoke(*args)
    assert done.exit_code == 0, (args, done.stdout, done.stderr, done.exception)
    return done


def as_json(*args: str) -> Any:
    return json.loads(given(*args, "--json").stdout)


@attrs.frozen
class Story:
    """A ledger with two credit blocks, dollars, a burn, an active hold and a released one."""

    db: str
    expiring: str
    lasting: str
    burn: str


def story(db: str) -> Story:
    expiring = as_json("grant", "ada", "100", "--expires-at", "2026-01-10", "--at", T0, "--db", db)["block"]["id"]
    lasting = as_json("grant", "ada", "50", "--priority", "90", "--at", T0, "--db", db)["block"]["id"]
    given("grant", "ada", "7.50", "--unit", "usd", "--scale", "2", "--at", T0, "--db", db)
    burn = as_json("burn", "ada", "30", "--at", "2026-01-02T00:00:00Z", "--db", db)["op_id"]
    given("hold", "ada", "10", "--hold-id", "h1", "--description", "render", "--metadata", "job=17",
          "--at", "2026-01-03T00:00:00Z", "--db", db)  # fmt: skip
    given("hold", "ada", "5", "--hold-id", "h2", "--at", "2026-01-03T00:00:00Z", "--db", db)
    given("release", "h2", "--at", "2026-01-03T01:00:00Z", "--db", db)
    return Story(db=db, expiring=expiring, lasting=lasting, burn=burn)


@pytest.fixture
def s(tmp_path: Path) -> Story:
    return story(str(tmp_path / "credits.db"))


# -- reads ---------------------------------------------------------------------------------------


def test_balances_shows_every_unit_the_customer_has(s: Story) -> None:
    found = as_json("balances", "ada", "--at", AT, "--db", s.db)
    assert sorted(found) == ["credits", "usd"]
    assert (found["credits"]["available"], found["credits"]["held"], found["credits"]["used"]) == ("110", "10", "30")
    assert (found["usd"]["available"], found["usd"]["net"]) == ("7.50", "7.50")
    assert as_json("balances", "ada", "--at", "2026-01-01T10:00:00Z", "--db", s.db)["credits"]["available"] == "150"
    table = given("balances", "ada", "--db", s.db).stdout
    assert "usd" in table and "7.50" in table and "credits" in table and "available" in table
    assert as_json("balances", "bob", "--db", s.db) == {}
    assert "bob has no entries in any unit" in given("balances", "bob", "--db", s.db).stdout
    line = one_line(invoke("balances", "ada", "--at", "soon", "--db", s.db), 2, "error: usage: ")
    assert "'--at'" in line and "soon" in line


def test_holds_lists_by_status_and_get_hold_shows_one(s: Story) -> None:
    assert [h["id"] for h in as_json("holds", "ada", "--db", s.db)] == ["h1"]
    assert [h["id"] for h in as_json("holds", "ada", "--status", "all", "--db", s.db)] == ["h1", "h2"]
    assert [h["id"] for h in as_json("holds", "ada", "--status", "released", "--db", s.db)] == ["h2"]
    assert as_json("holds", "ada", "--at", "2026-01-02T00:00:00Z", "--db", s.db) == []  # before either
    table = given("holds", "ada", "--status", "all", "--db", s.db).stdout
    assert "h1" in table and "h2" in table and "render" in table and "released" in table
    assert "bob has no active holds" in given("holds", "bob", "--db", s.db).stdout

    one = as_json("get-hold", "h1", "--db", s.db)
    assert (one["status"], one["amount"], one["description"]) == ("active", "10", "render")
    assert one["metadata"] == {"job": "17"}
    assert one["allocations"] == [[s.expiring, "10"]]
    assert as_json("get-hold", "h2", "--db", s.db)["status"] == "released"
    assert "render" in given("get-hold", "h1", "--db", s.db).stdout
    assert "no hold 'nope'" in one_line(invoke("get-hold", "nope", "--db", s.db), 1, "error: NotFound: ")
    line = one_line(invoke("holds", "ada", "--status", "pending", "--db", s.db), 2, "error: usage: ")
    assert "'--status'" in line and "pending" in line


def test_get_block_shows_one_block_whatever_its_status(s: Story) -> None:
    block = as_json("get-block", s.expiring, "--at", AT, "--db", s.db)
    assert (block["id"], block["amount"], block["remaining"], block["held"]) == (s.expiring, "100", "70", "10")
    assert as_json("get-block", s.expiring, "--at", "2026-01-01T10:00:00Z", "--db", s.db)["remaining"] == "100"
    assert as_json("get-block", s.expiring, "--at", "2026-01-11T00:00:00Z", "--db", s.db)["status"] == "expired"
    table = given("get-block", s.lasting, "--db", s.db).stdout
    assert s.lasting in table and "never" in table
    one_line(invoke("get-block", "blk_nope", "--db", s.db), 1, "error: NotFound: ")


def test_preview_burn_shows_what_a_burn_would_draw_and_writes_nothing(s: Story) -> None:
    before = as_json("entries", "--db", s.db)["items"]
    found = as_json("preview-burn", "ada", "80", "--at", AT, "--db", s.db)
    assert found == {"allocations": [[s.expiring, "60"], [s.lasting, "20"]], "shortfall": "0"}
    assert as_json("preview-burn", "ada", "200", "--at", AT, "--db", s.db)["shortfall"] == "90"
    table = given("preview-burn", "ada", "80", "--at", AT, "--db", s.db).stdout
    assert "nothing written" in table and s.expiring in table and "60" in table
    assert as_json("entries", "--db", s.db)["items"] == before
    line = one_line(invoke("preview-burn", "ada", "lots", "--db", s.db), 1, "error: ValidationError: ")
    assert "amount" in line


def test_units_lists_what_define_unit_and_grant_scale_declared(s: Story) -> None:
    assert as_json("units", "--db", s.db) == {"credits": 0, "usd": 2}
    assert as_json("define-unit", "eur", "2", "--db", s.db) == {"name": "eur", "scale": 2}
    assert "unit eur has 2 decimal places" in given("define-unit", "eur", "2", "--db", s.db).stdout  # again: no-op
    table = given("units", "--db", s.db).stdout
    assert "eur" in table and "decimal places" in table
    line = one_line(invoke("define-unit", "eur", "3", "--db", s.db), 1, "error: ValidationError: ")
    assert "scale" in line and "eur" in line
    line = one_line(invoke("define-unit", "yen", "many", "--db", s.db), 2, "error: usage: ")
    assert "SCALE" in line and "many" in line


def test_entries_filter_by_kind_unit_block_op_and_time(s: Story) -> None:
    def kinds(*args: str) -> list[str]:
        return [e["kind"] for e in as_json("entries", *args, "--db", s.db)["items"]]

    assert kinds("ada", "--kind", "hold") == ["hold", "hold"]
    assert kinds("--kind", "burn", "--kind", "release") == ["burn", "release"]
    assert kinds("ada", "--unit", "usd") == ["grant"]
    assert kinds("--op-id", s.burn) == ["burn"]
    assert kinds("--block-id", s.lasting) == ["grant"]
    assert kinds("--since", "2026-01-02T00:00:00Z", "--until", "2026-01-03T01:00:00Z") == ["burn", "hold", "hold"]
    table = given("entries", "--kind", "burn", "--db", s.db).stdout
    assert "burn" in table and "grant" not in table
    line = one_line(invoke("entries", "--kind", "spend", "--db", s.db), 2, "error: usage: ")
    assert "'--kind'" in line and "spend" in line


def test_timeline_lists_the_balance_after_each_change(s: Story) -> None:
    points = as_json("timeline", "ada", "--db", s.db)
    assert [(p["at"][:13], p["available"], p["held"], p["used"], p["expired"]) for p in points] == [
        ("2026-01-01T09", "150", "0", "0", "0"), ("2026-01-02T00", "120", "0", "30", "0"),
        ("2026-01-03T00", "105", "15", "30", "0"), ("2026-01-03T01", "110", "10", "30", "0"),
        ("2026-01-10T00", "50", "10", "30", "60"),
    ]  # fmt: skip
    assert list(points[0]) == ["at", "available", "held", "used", "expired", "debt"]
    ranged = as_json("timeline", "ada", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-03T00:00:00Z",
                     "--db", s.db)  # fmt: skip
    assert [(p["at"], p["available"]) for p in ranged] == [("2026-01-02T00:00:00+00:00", "120")]
    assert [p["available"] for p in as_json("timeline", "ada", "--unit", "usd", "--db", s.db)] == ["7.50"]
    table = given("timeline", "ada", "--db", s.db).stdout
    assert "ada, credits" in table and "2026-01-02 00:00:00" in table and "120" in table
    assert "bob has no balance points in credits" in given("timeline", "bob", "--db", s.db).stdout
    line = one_line(invoke("timeline", "ada", "--until", "later", "--db", s.db), 2, "error: usage: ")
    assert "'--until'" in line and "later" in line


def test_timeline_plot_draws_a_png_of_the_balance(s: Story, tmp_path: Path) -> None:
    chart = tmp_path / "ada.png"
    done = given("timeline", "ada", "--until", "2026-02-01", "--plot", str(chart), "--db", s.db)
    assert f"chart: {chart}" in done.stdout and "ada, credits" in done.stdout
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    # with --json, stdout is the JSON alone; an SVG is the same file for the same points
    svg, again = tmp_path / "ada.svg", tmp_path / "again.svg"
    for target in (svg, again):
        points = json.loads(given("timeline", "ada", "--plot", str(target), "--until", "2026-02-01", "--json",
                                  "--db", s.db).stdout)  # fmt: skip
        assert points[0]["available"] == "150"
    assert svg.read_bytes().startswith(b"<?xml") and svg.read_bytes() == again.read_bytes()


def test_timeline_plot_refusals_are_one_line(s: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line = one_line(invoke("timeline", "ada", "--plot", str(tmp_path / "a.jpg"), "--db", s.db), 2, "error: usage: ")
    assert "'--plot'" in line and ".png or .svg" in line
    line = one_line(invoke("timeline", "ada", "--plot", str(tmp_path / "no" / "a.png"), "--db", s.db), 2, "error: ")
    assert "folder does not exist" in line
    line = one_line(invoke("timeline", "bob", "--plot", str(tmp_path / "bob.png"), "--db", s.db), 1, "error: ")
    assert "nothing to plot" in line
    # without matplotlib (the plot extra): one line naming the extra, no file, no table
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    chart = tmp_path / "ada.png"
    done = invoke("timeline", "ada", "--plot", str(chart), "--db", s.db)
    line = one_line(done, 1, "error: ChartUnavailable: ")
    assert 'pip install "creditcore[plot]"' in line
    assert not chart.exists() and done.stdout == ""
    assert given("timeline", "ada", "--db", s.db).stdout  # the table needs no matplotlib


# -- writes --------------------------------------------------------------------------------------


def test_reverse_gives_a_burn_s_credit_back_to_its_blocks(s: Story) -> None:
    done = as_json("reverse", s.burn, "5", "--idempotency-key", "undo-1", "--at", AT, "--db", s.db)
    assert done["reversed"] == "5" and [e["kind"] for e in done["entries"]] == ["reverse"]
    assert done["entries"][0]["block_id"] == s.expiring
    again = as_json("reverse", s.burn, "5", "--idempotency-key", "undo-1", "--at", AT, "--db", s.db)
    assert again["replayed"] is True
    assert f"reversed 25 of op {s.burn}" in given("reverse", s.burn, "--at", AT, "--db", s.db).stdout  # the rest
    assert as_json("balance", "ada", "--at", AT, "--db", s.db)["used"] == "0"
    line = one_line(invoke("reverse", s.burn, "1", "--at", AT, "--db", s.db), 1, "error: ValidationError: ")
    assert "amount" in line
    line = one_line(invoke("reverse", s.burn, "x", "--db", s.db), 1, "error: ValidationError: ")
    assert "amount" in line and "'x'" in line


def test_change_expiry_moves_credit_to_a_block_with_another_expiry(s: Story) -> None:
    moved = as_json("change-expiry", s.expiring, "--expires-at", "2026-06-30", "--amount", "20",
                    "--at", "2026-01-05T00:00:00Z", "--db", s.db)  # fmt: skip
    assert (moved["block"]["amount"], moved["block"]["expires_at"]) == ("20", "2026-06-30T00:00:00+00:00")
    assert [e["kind"] for e in moved["entries"]] == ["move_out", "move_in"]
    headline = given("change-expiry", s.lasting, "--expires-at", "2026-12-31", "--at", "2026-01-05T00:00:00Z",
                     "--db", s.db).stdout  # fmt: skip
    assert f"moved 50 credits of block {s.lasting}" in headline and "expiring 2026-12-31 00:00 UTC" in headline
    assert as_json("balance", "ada", "--at", "2026-01-05T00:00:00Z", "--db", s.db)["available"] == "110"
    line = one_line(invoke("change-expiry", s.expiring, "--db", s.db), 2, "error: usage: ")
    assert "'--expires-at'" in line
    line = one_line(invoke("change-expiry", s.expiring, "--expires-at", "2026-06-30", "--amount", "999",
                           "--at", "2026-01-05T00:00:00Z", "--db", s.db), 1, "error: ")  # fmt: skip
    assert "999" in line


def test_writes_take_the_api_s_metadata_description_and_settle_debt(s: Story) -> None:
    burned = as_json("burn", "ada", "1", "--metadata", "req=9", "--description", "chat", "--db", s.db)
    assert burned["entries"][0]["metadata"] == {"req": "9"} and burned["entries"][0]["description"] == "chat"
    given("burn", "bob", "5", "--overdraft", "debt", "--db", s.db)
    kept = as_json("grant", "bob", "10", "--no-settle-debt", "--metadata", "src=promo", "--db", s.db)
    assert kept["block"]["remaining"] == "10" and kept["block"]["metadata"] == {"src": "promo"}
    settled = as_json("grant", "bob", "10", "--db", s.db)
    assert settled["block"]["remaining"] == "5"  # the default pays the debt off first
    refunded = as_json("refund", burned["op_id"], "--metadata", "ticket=4", "--db", s.db)
    assert refunded["block"]["metadata"] == {"ticket": "4"}
    line = one_line(invoke("burn", "ada", "1", "--metadata", "novalue", "--db", s.db), 2, "error: usage: ")
    assert "'--metadata'" in line and "KEY=VALUE" in line


# -- billing's single reads ----------------------------------------------------------------------


def test_meter_price_and_voucher_get_show_one(tmp_path: Path) -> None:
    db = str(tmp_path / "billing.db")
    given("meter", "create", "API calls", "api_call", "--meter-id", "calls", "--at", T0, "--db", db)
    price = as_json("price", "create", "calls", "--unit", "usd", "--scale", "2", "--unit-price", "0.01", "--at", T0,
                    "--db", db)["id"]  # fmt: skip
    voucher = as_json("voucher", "create", "ada", "20", "--at", T0, "--db", db)["id"]
    assert as_json("meter", "get", "calls", "--db", db)["event_name"] == "api_call"
    assert "API calls" in given("meter", "get", "calls", "--db", db).stdout
    assert as_json("price", "get", price, "--db", db)["unit_price"] == "0.01"
    assert price in given("price", "get", price, "--db", db).stdout
    assert as_json("voucher", "get", voucher, "--db", db)["percent"] == "20"
    assert "20%" in given("voucher", "get", voucher, "--db", db).stdout
    for args in (("meter", "get", "nope"), ("price", "get", "nope"), ("voucher", "get", "nope")):
        line = one_line(invoke(*args, "--db", db), 1, "error: NotFound: ")
        assert "'nope'" in line


# -- the contract: reads create no file; db upgrade has --json too -------------------------------

NEW_READS = {
    "balances": ("balances", "ada"),
    "holds": ("holds", "ada"),
    "get-hold": ("get-hold", "h1"),
    "get-block": ("get-block", "blk_1"),
    "preview-burn": ("preview-burn", "ada", "5"),
    "units": ("units",),
    "timeline": ("timeline", "ada"),
    "meter-get": ("meter", "get", "calls"),
    "price-get": ("price", "get", "prc_1"),
    "voucher-get": ("voucher", "get", "vch_1"),
}


@pytest.mark.parametrize("args", NEW_READS.values(), ids=NEW_READS.keys())
def test_a_new_read_refuses_a_missing_ledger_file_and_creates_none(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "ledgr.db"
    line = one_line(invoke(*args, "--db", str(typo)), 1, "error: StorageError: ")
    assert "does not create" in line and not typo.exists()


def test_db_upgrade_prints_its_sql_as_json() -> None:
    printed = as_json("db", "upgrade", "--print-sql")
    assert list(printed) == ["sql"] and "CREATE TABLE entries" in printed["sql"]


# -- PostgreSQL ----------------------------------------------------------------------------------


def test_the_new_commands_on_a_postgres_url(postgres_dsn: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    db = f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"
    s = story(db)
    assert sorted(as_json("balances", "ada", "--db", db)) == ["credits", "usd"]
    assert [h["id"] for h in as_json("holds", "ada", "--status", "all", "--db", db)] == ["h1", "h2"]
    assert as_json("get-hold", "h2", "--db", db)["status"] == "released"
    assert as_json("get-block", s.lasting, "--db", db)["remaining"] == "50"
    assert as_json("units", "--db", db) == {"credits": 0, "usd": 2}
    assert as_json("preview-burn", "ada", "200", "--at", AT, "--db", db)["shortfall"] == "90"
    assert as_json("reverse", s.burn, "--at", AT, "--db", db)["reversed"] == "30"
    assert as_json("change-expiry", s.lasting, "--expires-at", "2027-01-01", "--db", db)["block"]["amount"] == "50"
    assert [e["kind"] for e in as_json("entries", "ada", "--kind", "reverse", "--db", db)["items"]] == ["reverse"]
    assert as_json("timeline", "ada", "--until", "2026-01-02T00:00:01Z", "--db", db)[-1]["available"] == "120"

"""``schedule``, ``top-up``, ``alert`` and ``events`` (SPEC §17-§19) on the command line: the
happy paths through the real console script (SQLite, and PostgreSQL once), ``events --follow``
in a process of its own, and the refusals and usage mistakes in process through click's runner
(the same ``main`` the console script calls)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from cli_output import one_line
from creditcore.cli import main

CLI = Callable[..., Any]
T0 = "2026-01-01T09:00:00Z"
SCRIPT = Path(sys.executable).parent / "creditcore"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"CREDITCORE_DB": None})


def given(*args: str) -> Result:
    """A step a test stands on, run in process (quicker than starting the script)."""
    done = invoke(*args)
    assert done.exit_code == 0, (args, done.stderr)
    return done


# -- happy paths, through the console script -----------------------------------------------------


def test_a_schedule_grants_carries_and_cancels_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    add = (
        "schedule", "add", "ada", "100", "--every", "1 month", "--first-amount", "50", "--rollover-max", "30",
        "--priority", "10", "--category", "paid", "--cost-basis", "0.01", "--description", "plan credits",
        "--metadata", "plan=pro", "--schedule-id", "ada-plan", "--at", T0, "--db", db, "--json",
    )  # fmt: skip
    made = cli(*add).json()
    s = made["schedule"]
    assert (made["entries"], made["replayed"]) == ([], False)  # the periods' grants are their own ops
    assert (s["id"], s["amount"], s["first_amount"], s["every"], s["rollover_max"], s["category"]) == (
        "ada-plan", "100", "50", "1 month", "30", "paid",
    )  # fmt: skip
    assert (s["status"], s["period"], s["next_at"], s["metadata"]) == (
        "active", 0, "2026-02-01T09:00:00+00:00", {"plan": "pro"},
    )  # fmt: skip
    assert cli(*add).json()["replayed"] is True  # the schedule id is a key of its own

    given("burn", "ada", "40", "--at", "2026-01-10T00:00:00Z", "--db", db)
    # on 1 February the 10 left roll over (at most 30) and 100 more arrive
    after = cli("balance", "ada", "--at", "2026-02-01T10:00:00Z", "--db", db, "--json").json()
    assert (after["available"], after["granted"], after["expired"]) == ("110", "150", "0")
    second = cli("schedule", "get", "ada-plan", "--at", "2026-02-01T10:00:00Z", "--db", db, "--json").json()
    assert (second["period"], len(second["block_ids"]), second["next_at"]) == (1, 2, "2026-03-01T09:00:00+00:00")
    table = cli("schedule", "list", "ada", "--db", db)
    assert table.code == 0 and "ada-plan" in table.out and "1 month" in table.out and "active" in table.out

    cancelled = cli("schedule", "cancel", "ada-plan", "--at", "2026-01-15T00:00:00Z", "--db", db)
    assert cancelled.code == 0, cancelled.err
    assert "schedule ada-plan is cancelled; its credit lasts until 2026-02-01 09:00 UTC" in cancelled.out
    again = cli("schedule", "cancel", "ada-plan", "--db", db, "--json").json()
    assert (again["replayed"], again["schedule"]["status"]) == (True, "ended")  # by now, its period is over
    # the cancel came first: on 1 February the leftover expires and nothing is granted
    ended = cli("balance", "ada", "--at", "2026-02-01T10:00:00Z", "--db", db, "--json").json()
    assert (ended["available"], ended["expired"], ended["granted"]) == ("0", "10", "50")
    listed = cli("schedule", "list", "ada", "--at", "2026-02-02T00:00:00Z", "--db", db, "--json").json()
    assert [(x["id"], x["status"], x["period"]) for x in listed] == [("ada-plan", "ended", None)]


def test_the_refill_after_a_period_boundary_shows_in_events_and_balance(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    cli("schedule", "add", "ada", "10", "--every", "1 day", "--schedule-id", "daily", "--at", T0, "--db", db)
    given("alert", "add", "ada", "--unit", "credits", "--kind", "depleted", "--at", T0, "--db", db)
    recovered = cli("alert", "add", "ada", "--unit", "credits", "--kind", "recovered", "--at", T0, "--db", db, "--json")
    assert (recovered.json()["kind"], recovered.json()["thresholds"]) == ("recovered", [])
    given("burn", "ada", "10", "--at", "2026-01-01T10:00:00Z", "--db", db)
    # the sweep records the next day's refill and the event it fires, dated the boundary
    swept = json.loads(given("expire", "--at", "2026-01-02T10:00:00Z", "--db", db, "--json").stdout)
    assert [(e["kind"], e["amount"]) for e in swept["entries"]] == [("grant", "10")]

    page = cli("events", "--db", db, "--json").json()
    assert [(e["kind"], e["previous"], e["current"], e["at"]) for e in page["items"]] == [
        ("balance_depleted", "10", "0", "2026-01-01T10:00:00+00:00"),
        ("balance_recovered", "0", "10", "2026-01-02T09:00:00+00:00"),
    ]  # fmt: skip
    assert page["items"][1]["op_id"] == "schedule:daily:1" and page["next_cursor"]
    balance = cli("balance", "ada", "--at", "2026-01-02T10:00:00Z", "--db", db, "--json").json()
    assert (balance["available"], balance["granted"], balance["used"], balance["expired"]) == ("10", "20", "10", "0")

    # one page at a time: the cursor of the first brings the second, and then nothing new
    first = cli("events", "--customer", "ada", "--limit", "1", "--db", db, "--json").json()
    assert [e["kind"] for e in first["items"]] == ["balance_depleted"]
    second = cli("events", "--after", first["next_cursor"], "--db", db, "--json").json()
    assert [e["kind"] for e in second["items"]] == ["balance_recovered"]
    table = cli("events", "--after", second["next_cursor"], "--db", db)
    assert table.code == 0 and table.out.splitlines() == ["no events", f"next cursor: {second['next_cursor']}"]
    table = cli("events", "--db", db)
    assert table.code == 0 and "balance_recovered" in table.out and "schedule:daily:1" in table.out
    assert table.out.splitlines()[-1] == f"next cursor: {second['next_cursor']}"
    assert json.loads(given("events", "--customer", "bob", "--db", db, "--json").stdout)["items"] == []


def test_an_auto_top_up_rule_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    given("grant", "ada", "20", "--at", T0, "--db", db)
    rule = cli(
        "top-up", "set", "ada", "--unit", "credits", "--threshold", "10", "--amount", "25", "--expires-after",
        "30 days", "--cost-basis", "0.02", "--at", T0, "--db", db, "--json",
    ).json()  # fmt: skip
    assert (rule["threshold"], rule["amount"], rule["target"], rule["category"], rule["expires_after"]) == (
        "10", "25", None, "paid", "30 days",
    )  # fmt: skip
    given("burn", "ada", "15", "--at", "2026-01-01T10:00:00Z", "--db", db)  # net 5: one top-up of 25
    [event] = cli("events", "--customer", "ada", "--db", db, "--json").json()["items"]
    assert (event["kind"], event["previous"], event["current"], event["amount"]) == ("top_up", "5", "30", "25")
    assert cli("balance", "ada", "--db", db, "--json").json()["available"] == "30"
    shown = cli("top-up", "get", "ada", "--unit", "credits", "--db", db)
    assert shown.code == 0 and "30 days" in shown.out and "0.02" in shown.out

    replaced = cli("top-up", "set", "ada", "--unit", "credits", "--threshold", "-50", "--target", "100", "--db", db)
    assert replaced.code == 0 and "-50" in replaced.out
    got = cli("top-up", "get", "ada", "--unit", "credits", "--db", db, "--json").json()
    assert (got["threshold"], got["amount"], got["target"]) == ("-50", None, "100")
    removed = cli("top-up", "remove", "ada", "--unit", "credits", "--db", db, "--json").json()
    assert removed["target"] == "100"
    assert cli("top-up", "remove", "ada", "--unit", "credits", "--db", db, "--json").json() is None
    nothing = cli("top-up", "remove", "ada", "--unit", "credits", "--db", db)
    assert nothing.code == 0 and "ada has no top-up rule in credits: nothing to remove" in nothing.out
    gone = cli("top-up", "get", "ada", "--unit", "credits", "--db", db)
    assert gone.code == 1 and gone.err.startswith("error: NotFound:") and len(gone.err.splitlines()) == 1


def test_balance_alerts_from_the_command_line(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    given("grant", "ada", "100", "--at", T0, "--db", db)
    added = cli(
        "alert", "add", "ada", "--unit", "credits", "--kind", "dropped", "--threshold", "20", "--threshold", "-5",
        "--threshold", "50", "--alert-id", "low", "--at", T0, "--db", db, "--json",
    ).json()  # fmt: skip
    assert (added["id"], added["kind"], added["thresholds"], added["removed_at"]) == (
        "low", "dropped", ["50", "20", "-5"], None,
    )  # fmt: skip
    listed = cli("alert", "list", "ada", "--db", db)
    assert listed.code == 0 and "low" in listed.out and "50, 20, -5" in listed.out
    given("burn", "ada", "85", "--at", "2026-01-01T10:00:00Z", "--db", db)
    [event] = cli("events", "--db", db, "--json").json()["items"]
    assert (event["kind"], event["thresholds"], event["amount"]) == ("balance_dropped", ["50", "20"], None)
    removed = cli("alert", "remove", "low", "--at", "2026-01-01T11:00:00Z", "--db", db, "--json").json()
    assert removed["removed_at"] == "2026-01-01T11:00:00+00:00"
    assert cli("alert", "list", "ada", "--db", db, "--json").json() == []
    assert "ada has no active alerts" in cli("alert", "list", "ada", "--db", db).out
    then = cli("alert", "list", "ada", "--at", "2026-01-01T10:30:00Z", "--db", db, "--json").json()
    assert [a["id"] for a in then] == ["low"]


def _url(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"


def test_schedules_top_ups_and_events_on_a_postgres_url(cli: CLI, postgres_dsn: str) -> None:
    db = _url(postgres_dsn)
    made = cli("schedule", "add", "ada", "10", "--every", "1 day", "--schedule-id", "daily", "--at", T0, "--db", db)
    assert made.code == 0 and "scheduled 10 credits every 1 day for ada as daily" in made.out
    listed = cli("schedule", "list", "ada", "--at", "2026-01-03T10:00:00Z", "--db", db, "--json").json()
    assert [(s["id"], s["period"]) for s in listed] == [("daily", 2)]
    given("top-up", "set", "ada", "--unit", "credits", "--threshold", "0", "--target", "5", "--at", T0, "--db", db)
    given("burn", "ada", "10", "--at", "2026-01-01T10:00:00Z", "--db", db)
    page = cli("events", "--db", db, "--json").json()
    assert [(e["kind"], e["amount"]) for e in page["items"]] == [("top_up", "5")]
    assert cli("events", "--after", page["next_cursor"], "--db", db, "--json").json()["items"] == []


# -- events --follow, in a process of its own ----------------------------------------------------


def test_events_follow_prints_events_written_by_another_process_until_ctrl_c(cli: CLI, tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    given("grant", "ada", "10", "--at", T0, "--db", db)
    given("top-up", "set", "ada", "--unit", "credits", "--threshold", "0", "--amount", "10", "--at", T0, "--db", db)
    given("burn", "ada", "10", "--at", "2026-01-01T10:00:00Z", "--db", db)  # the first top-up
    # Start it with Ctrl-C's default action even if this test runs with SIGINT ignored (as a
    # background job does), which the script would otherwise inherit.
    launcher = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    )
    follower = subprocess.Popen(
        [sys.executable, "-c", launcher, str(SCRIPT), "events", "--follow", "--json", "--interval", "0.1", "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "CREDITCORE_DB"},
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=60))  # one JSON line per page
        assert [(e["seq"], e["kind"]) for e in first["items"]] == [(1, "top_up")]
        cli("burn", "ada", "10", "--at", "2026-01-01T11:00:00Z", "--db", db)  # the second, from another process
        second = json.loads(lines.get(timeout=60))
        assert [(e["seq"], e["kind"], e["amount"]) for e in second["items"]] == [(2, "top_up", "10")]
        assert second["next_cursor"] == json.loads(given("events", "--db", db, "--json").stdout)["next_cursor"]
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=60) == 0
        assert follower.stderr is not None and follower.stderr.read() == ""
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


# -- refusals and usage mistakes: one line each --------------------------------------------------


SCHEDULE, TOP_UP, ALERT = ("schedule", "add", "ada"), ("top-up", "set", "ada"), ("alert", "add", "ada")
VALIDATION, USAGE = "error: ValidationError: ", "error: usage: "
REFUSED = {
    "unknown-schedule": (("schedule", "get", "nope"), 1, "error: NotFound: ", "nope"),
    "cancel-unknown-schedule": (("schedule", "cancel", "nope"), 1, "error: NotFound: ", "nope"),
    "bad-every": ((*SCHEDULE, "10", "--every", "1 fortnight"), 1, VALIDATION, "every"),
    "until-before-start": (
        (*SCHEDULE, "10", "--every", "1 day", "--start", "2026-02-01", "--until", "2026-01-15"),
        1,
        VALIDATION,
        "until",
    ),
    "amount-and-target": (
        (*TOP_UP, "--unit", "credits", "--threshold", "5", "--amount", "10", "--target", "50"),
        1,
        VALIDATION,
        "amount",
    ),
    "neither-amount-nor-target": ((*TOP_UP, "--unit", "credits", "--threshold", "5"), 1, VALIDATION, "amount"),
    "target-not-above-threshold": (
        (*TOP_UP, "--unit", "credits", "--threshold", "5", "--target", "5"),
        1,
        VALIDATION,
        "target",
    ),
    "no-top-up-rule": (("top-up", "get", "ada", "--unit", "credits"), 1, "error: NotFound: ", "ada"),
    "dropped-without-thresholds": ((*ALERT, "--unit", "credits", "--kind", "dropped"), 1, VALIDATION, "thresholds"),
    "depleted-with-a-threshold": (
        (*ALERT, "--unit", "credits", "--kind", "depleted", "--threshold", "5"),
        1,
        VALIDATION,
        "thresholds",
    ),
    "second-alert-of-a-kind": (
        (*ALERT, "--unit", "credits", "--kind", "recovered"),
        1,
        "error: Conflict: ",
        "recovered",
    ),
    "unknown-alert": (("alert", "remove", "nope"), 1, "error: NotFound: ", "nope"),
    "bad-cursor": (("events", "--after", "garbage"), 1, VALIDATION, "after"),
    "unknown-kind": ((*ALERT, "--unit", "credits", "--kind", "low"), 2, USAGE, "--kind"),
    "no-every": ((*SCHEDULE, "10"), 2, USAGE, "--every"),
    "no-unit": ((*TOP_UP, "--threshold", "5", "--amount", "1"), 2, USAGE, "--unit"),
    "bad-metadata": ((*SCHEDULE, "1", "--every", "1 day", "--metadata", "plan"), 2, USAGE, "--metadata"),
    "bad-start": ((*SCHEDULE, "1", "--every", "1 day", "--start", "soon"), 2, USAGE, "--start"),
    "limit-zero": (("events", "--limit", "0"), 2, USAGE, "--limit"),
    "interval-without-follow": (("events", "--interval", "1"), 2, USAGE, "--interval"),
}


@pytest.mark.parametrize(("args", "code", "starts", "names"), REFUSED.values(), ids=REFUSED.keys())
def test_bad_input_is_one_line_naming_the_field(
    tmp_path: Path, args: tuple[str, ...], code: int, starts: str, names: str
) -> None:
    db = str(tmp_path / "credits.db")
    assert invoke("alert", "add", "ada", "--unit", "credits", "--kind", "recovered", "--db", db).exit_code == 0
    line = one_line(invoke(*args, "--db", db), code, starts)
    assert names in line
    assert invoke("events", "--db", db, "--json").stdout.count('"seq"') == 0  # a refusal wrote no event
    assert invoke("schedule", "list", "ada", "--db", db, "--json").stdout.strip() == "[]"  # nor a schedule


READS = {
    "schedule-list": ("schedule", "list", "ada"),
    "schedule-get": ("schedule", "get", "s"),
    "top-up-get": ("top-up", "get", "ada", "--unit", "credits"),
    "alert-list": ("alert", "list", "ada"),
    "events": ("events",),
    "events-follow": ("events", "--follow"),
}


@pytest.mark.parametrize("args", READS.values(), ids=READS.keys())
def test_a_read_refuses_a_missing_ledger_file_and_creates_none(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "ledgr.db"
    line = one_line(invoke(*args, "--db", str(typo)), 1, "error: StorageError: ")
    assert str(typo) in line and "does not create" in line
    assert list(tmp_path.iterdir()) == []


COMMANDS = {
    "schedule add": "creditcore schedule add ada 1000",
    "schedule list": "creditcore schedule list ada",
    "schedule get": "creditcore schedule get",
    "schedule cancel": "creditcore schedule cancel",
    "top-up set": "creditcore top-up set ada",
    "top-up get": "creditcore top-up get ada",
    "top-up remove": "creditcore top-up remove ada",
    "alert add": "creditcore alert add ada",
    "alert list": "creditcore alert list ada",
    "alert remove": "creditcore alert remove",
    "events": "creditcore events --follow",
}


@pytest.mark.parametrize(("command", "example"), COMMANDS.items(), ids=COMMANDS.keys())
def test_every_command_shows_an_example_in_its_help(command: str, example: str) -> None:
    done = invoke(*command.split(), "--help")
    assert done.exit_code == 0, done.stderr
    assert "Example:" in done.stdout and example in done.stdout and "--json" in done.stdout

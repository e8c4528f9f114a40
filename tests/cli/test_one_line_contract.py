"""The command line's contract: reads never create a ledger, a refused grant leaves nothing
(not even its unit), and every refusal or usage mistake is one line on stderr, never a
traceback. Run in process through click's runner (the same ``main`` the console script
calls), with one check through the installed script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli_output import one_line
from creditcore.cli import main

CLI = Callable[..., Any]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"CREDITCORE_DB": None, **(env or {})})  # type: ignore[dict-item]


READS = {
    "balance": ("balance", "ada"),
    "balance-at": ("balance", "ada", "--at", "2027-01-01"),
    "blocks": ("blocks", "ada", "--all"),
    "entries": ("entries",),
    "entries-of-one": ("entries", "ada", "--limit", "5"),
    "verify": ("verify",),
}


@pytest.mark.parametrize("args", READS.values(), ids=READS.keys())
def test_a_read_refuses_a_missing_ledger_file_and_creates_none(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "ledgr.db"
    line = one_line(invoke(*args, "--db", str(typo)), 1, "error: StorageError: ")
    assert str(typo) in line and "does not create" in line
    assert not typo.exists() and list(tmp_path.iterdir()) == []
    # the same through CREDITCORE_DB
    one_line(invoke(*args, env={"CREDITCORE_DB": str(typo)}), 1, "error: StorageError: ")
    assert not typo.exists()


def test_a_read_of_an_existing_ledger_still_works_and_a_write_creates_one(tmp_path: Path) -> None:
    db = str(tmp_path / "new.db")
    assert invoke("grant", "ada", "5", "--db", db).exit_code == 0  # a write may create the file
    for args in READS.values():
        done = invoke(*args, "--db", db)
        assert done.exit_code == 0, (args, done.stderr)


REFUSED_GRANTS = {
    "too-precise": ("1.2345",),
    "expires-before-it-starts": ("5", "--expires-at", "2020-01-01"),
    "negative-cost-basis": ("5", "--cost-basis", "-1"),
    "bad-priority": ("5", "--priority", "5000"),
    "empty-scope": ("5", "--scope", ""),
}


@pytest.mark.parametrize("args", REFUSED_GRANTS.values(), ids=REFUSED_GRANTS.keys())
def test_a_refused_grant_declares_no_unit(tmp_path: Path, args: tuple[str, ...]) -> None:
    db = str(tmp_path / "credits.db")
    one_line(invoke("grant", "ada", *args, "--unit", "jpy", "--scale", "3", "--db", db), 1, "error: ValidationError: ")
    # the unit was not declared: an amount in it is refused, and it can be declared anew with
    # another scale (a declared jpy of scale 3 would refuse scale 2)
    line = one_line(invoke("burn", "ada", "1", "--unit", "jpy", "--db", db), 1, "error: ValidationError: ")
    assert "jpy" in line
    done = invoke("grant", "ada", "1.25", "--unit", "jpy", "--scale", "2", "--db", db, "--json")
    assert done.exit_code == 0, done.stderr
    assert '"amount": "1.25"' in done.stdout


def test_a_granted_unit_is_declared_with_its_grant(tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    assert invoke("grant", "ada", "7.125", "--unit", "kwd", "--scale", "3", "--db", db).exit_code == 0
    done = invoke("balance", "ada", "--unit", "kwd", "--db", db, "--json")
    assert done.exit_code == 0 and '"available": "7.125"' in done.stdout


OUT_OF_RANGE = ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-23:59")
TIMED = {
    "grant-at": ("grant", "ada", "5", "--at"),
    "grant-expires-at": ("grant", "ada", "5", "--expires-at"),
    "grant-effective-at": ("grant", "ada", "5", "--effective-at"),
    "burn-at": ("burn", "ada", "5", "--at"),
    "hold-expires-at": ("hold", "ada", "5", "--hold-id", "h", "--expires-at"),
    "balance-at": ("balance", "ada", "--at"),
    "blocks-at": ("blocks", "ada", "--at"),
    "expire-at": ("expire", "--at"),
}


@pytest.mark.parametrize("args", TIMED.values(), ids=TIMED.keys())
def test_a_time_whose_utc_form_overflows_is_a_one_line_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    db = str(tmp_path / "credits.db")
    for moment in OUT_OF_RANGE:
        line = one_line(invoke(*args, moment, "--db", db), 2, "error: usage: ")
        assert moment in line and "out of range" in line


def test_a_write_dated_in_the_future_is_refused_in_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    assert invoke("grant", "ada", "5", "--expires-at", "2030-01-01", "--db", db).exit_code == 0
    for args in (("expire", "--at", "2099-01-01"), ("burn", "ada", "1", "--at", "2099-01-01T00:00:00Z")):
        line = one_line(invoke(*args, "--db", db), 1, "error: ValidationError: ")
        assert "at" in line and "future" in line
    balance = invoke("balance", "ada", "--db", db, "--json")
    assert '"available": "5"' in balance.stdout and '"used": "0"' in balance.stdout  # nothing was written


USAGE = {
    "unknown-command": ("no-such-command",),
    "missing-argument": ("burn", "ada"),
    "no-ledger": ("balance", "ada"),
    "bad-time": ("grant", "ada", "5", "--expires-at", "next tuesday", "--db", "x.db"),
    "bad-choice": ("burn", "ada", "5", "--overdraft", "maybe", "--db", "x.db"),
    "bad-integer": ("grant", "ada", "5", "--priority", "high", "--db", "x.db"),
    "unknown-option": ("grant", "ada", "5", "--colour", "red", "--db", "x.db"),
    "no-scenario-file": ("simulate", "no-such.toml"),
}


@pytest.mark.parametrize("args", USAGE.values(), ids=USAGE.keys())
def test_a_usage_mistake_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    one_line(invoke(*args), 2, "error: usage: ")
    assert not (tmp_path / "x.db").exists()


def test_the_installed_script_prints_one_line_for_a_usage_mistake(cli: CLI, tmp_path: Path) -> None:
    done = cli("grant", "ada", "5", "--at", "9999-12-31T23:59:59-05:00", "--db", str(tmp_path / "x.db"))
    assert done.code == 2 and "Traceback" not in done.err
    assert done.err.strip().startswith("error: usage: ") and len(done.err.strip().splitlines()) == 1
    assert cli("--help").code == 0 and cli("--version").code == 0


DEBT_OVERFLOW = """\
[simulation]
start = 2027-01-01
duration = "5 days"
overdraft = "debt"

[[customers]]
id = "ada"

[[grants]]
amount = 1

[[usage]]
pattern = "fixed"
every = "1 day"
amount = "9223372036854775807"
"""


def test_a_failed_simulation_leaves_no_partial_ledger_or_timeline(tmp_path: Path) -> None:
    scenario = tmp_path / "overflow.toml"
    scenario.write_text(DEBT_OVERFLOW)
    out = tmp_path / "out"
    out.mkdir()
    db, timeline = out / "sim.db", out / "timeline.csv"
    done = invoke("simulate", str(scenario), "--db", str(db), "--csv", str(timeline))
    line = one_line(done, 1, f"error: {scenario}, line 12: usage #1: ")
    assert "64-bit" in line
    assert list(out.iterdir()) == []  # no ledger, no timeline, no temporary file

    # the same scenario within range runs, and leaves exactly the two files
    scenario.write_text(DEBT_OVERFLOW.replace("9223372036854775807", "3"))
    done = invoke("simulate", str(scenario), "--db", str(db), "--csv", str(timeline), "--json")
    assert done.exit_code == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sim.db", "timeline.csv"]
    assert invoke("verify", "--db", str(db)).exit_code == 0

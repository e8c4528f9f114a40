"""The command line covers the library: every public method of ``Ledger``, of ``Billing`` and of
its namespaces has a command (the table below) or a reason not to
(``creditcore.cli.NOT_ON_THE_COMMAND_LINE``); a command's options are the API's keywords; and
every command has ``--json`` and an example in its ``--help``. A new API method without a
command fails here. Shell completion is click's own."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from creditcore import Ledger
from creditcore.billing import Billing
from creditcore.billing.common import Part
from creditcore.cli import NOT_ON_THE_COMMAND_LINE, WITHOUT_JSON, main

#: Each public method of the API and the command that runs it.
API_TO_COMMAND: dict[str, tuple[str, ...]] = {
    "Ledger.define_unit": ("define-unit",),
    "Ledger.grant": ("grant",),
    "Ledger.burn": ("burn",),
    "Ledger.hold": ("hold",),
    "Ledger.capture": ("capture",),
    "Ledger.release": ("release",),
    "Ledger.void": ("void",),
    "Ledger.reverse": ("reverse",),
    "Ledger.refund": ("refund",),
    "Ledger.change_expiry": ("change-expiry",),
    "Ledger.set_customer": ("customer", "set"),
    "Ledger.get_customer": ("customer", "get"),
    "Ledger.customers": ("customer", "list"),
    "Ledger.schedule_grant": ("schedule", "add"),
    "Ledger.get_schedule": ("schedule", "get"),
    "Ledger.schedules": ("schedule", "list"),
    "Ledger.cancel_schedule": ("schedule", "cancel"),
    "Ledger.set_top_up": ("top-up", "set"),
    "Ledger.get_top_up": ("top-up", "get"),
    "Ledger.remove_top_up": ("top-up", "remove"),
    "Ledger.add_alert": ("alert", "add"),
    "Ledger.alerts": ("alert", "list"),
    "Ledger.remove_alert": ("alert", "remove"),
    "Ledger.events": ("events",),
    "Ledger.expire_due": ("expire",),
    "Ledger.units": ("units",),
    "Ledger.balance": ("balance",),
    "Ledger.balances": ("balances",),
    "Ledger.blocks": ("blocks",),
    "Ledger.get_block": ("get-block",),
    "Ledger.get_hold": ("get-hold",),
    "Ledger.holds": ("holds",),
    "Ledger.preview_burn": ("preview-burn",),
    "Ledger.timeline": ("timeline",),
    "Ledger.verify": ("verify",),
    "Ledger.entries": ("entries",),
    "Billing.charge": ("charge",),
    "Billing.charge_product": ("charge-product",),
    "Billing.purchase_credits": ("purchase",),
    "Billing.grant_starter_credit": ("starter-credit",),
    "billing.meters.create": ("meter", "create"),
    "billing.meters.get": ("meter", "get"),
    "billing.meters.list": ("meter", "list"),
    "billing.meters.record": ("meter", "record"),
    "billing.meters.summary": ("meter", "summary"),
    "billing.prices.create": ("price", "create"),
    "billing.prices.get": ("price", "get"),
    "billing.prices.list": ("price", "list"),
    "billing.prices.delete": ("price", "delete"),
    "billing.prices.quote": ("price", "quote"),
    "billing.usage.record": ("usage", "record"),
    "billing.usage.list": ("usage", "list"),
    "billing.vouchers.create": ("voucher", "create"),
    "billing.vouchers.get": ("voucher", "get"),
    "billing.vouchers.list": ("voucher", "list"),
    "billing.vouchers.void": ("voucher", "void"),
    "billing.invoices.preview": ("invoice", "preview"),
    "billing.invoices.create": ("invoice", "create"),
    "billing.invoices.issue": ("invoice", "issue"),
    "billing.invoices.pay": ("invoice", "pay"),
    "billing.invoices.void": ("invoice", "void"),
    "billing.invoices.get": ("invoice", "get"),
    "billing.invoices.list": ("invoice", "list"),
}

#: Billing's settings (constructor options) and the option that sets each.
BILLING_SETTINGS = {
    "ledger": "--db",
    "timezone": "--timezone",
    "invoice_prefix": "--invoice-prefix",
    "invoice_number_width": "--invoice-number-width",
}

#: The commands of the command line alone, with no API method behind them.
CLI_ONLY = {("demo",), ("simulate",), ("db", "upgrade"), ("completion",)}

#: API keywords a command takes under other names, and which.
OTHER_NAMES = {
    ("Billing.purchase_credits", "invoice_settings"): ("--net-terms", "--memo", "--mark-as-paid", "--require-payment"),
    ("billing.meters.record", "events"): ("--event", "--file"),
}


def public_api() -> dict[str, Any]:
    """Every public name of ``Ledger``, ``Billing`` and its namespaces, as the table names it."""
    found: dict[str, Any] = {f"Ledger.{name}": member for name, member in inspect.getmembers(Ledger) if name[0] != "_"}
    billing = Billing(Ledger.memory())
    settings = set()
    for name in dir(billing):
        if name.startswith("_"):
            continue
        value = getattr(billing, name)
        if isinstance(value, Part):
            for method, member in inspect.getmembers(type(value)):
                if not method.startswith("_"):
                    found[f"billing.{name}.{method}"] = member
        elif callable(value):
            found[f"Billing.{name}"] = value
        else:
            settings.add(name)
    assert settings == set(BILLING_SETTINGS), "a new Billing setting: give it an option and list it in BILLING_SETTINGS"
    return found


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group), f"{' '.join(path)}: {command.name} has no subcommands"
        found = command.commands.get(name)
        assert found is not None, f"no command 'creditcore {' '.join(path)}'"
        command = found
    return command


def every_command(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the tree, with its path from the top."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))


COMMANDS = dict(every_command())
LEAVES = {path: command for path, command in COMMANDS.items() if not isinstance(command, click.Group)}


def test_every_public_method_of_the_api_has_a_command_or_a_reason_not_to() -> None:
    api = public_api()
    missing = sorted(name for name in api if name not in API_TO_COMMAND and name not in NOT_ON_THE_COMMAND_LINE)
    assert not missing, f"no command for {missing}: add one, or say why not in creditcore.cli.NOT_ON_THE_COMMAND_LINE"
    both = sorted(set(API_TO_COMMAND) & set(NOT_ON_THE_COMMAND_LINE))
    assert not both, f"{both} have a command and a reason not to"
    stale = sorted(name for name in [*API_TO_COMMAND, *NOT_ON_THE_COMMAND_LINE] if name not in api)
    assert not stale, f"{stale} are not (or no longer) public names of the API"
    assert all(reason.strip() for reason in NOT_ON_THE_COMMAND_LINE.values())


def test_every_command_runs_an_api_method_or_is_one_of_the_command_line_s_own() -> None:
    for path in API_TO_COMMAND.values():
        command_at(path)
    mapped = set(API_TO_COMMAND.values())
    assert len(mapped) == len(API_TO_COMMAND), "two API methods share a command"
    unexplained = sorted(" ".join(path) for path in LEAVES if path not in mapped and path not in CLI_ONLY)
    assert not unexplained, f"commands that run no API method: {unexplained}"


def _spellings(param: click.Parameter) -> set[str]:
    """The names a parameter answers to: its option names, or its argument's name and metavar."""
    names = {param.name or ""}
    if isinstance(param, click.Option):
        names |= {opt.lstrip("-").replace("-", "_") for opt in [*param.opts, *param.secondary_opts]}
    else:
        names.add((param.metavar or "").strip("[].").lower())
    return names


def _answers(api_name: str, param: click.Parameter) -> bool:
    spellings = _spellings(param)
    if api_name in spellings:
        return True
    # a keyword that takes a list is a repeatable option in the singular
    return param.multiple and any(api_name in (name + "s", name[:-1] + "ies", name + "es") for name in spellings)


@pytest.mark.parametrize("api_name", sorted(API_TO_COMMAND), ids=sorted(API_TO_COMMAND))
def test_a_command_takes_the_api_s_keywords_under_their_own_names(api_name: str) -> None:
    command = command_at(API_TO_COMMAND[api_name])
    unmatched = []
    for name, param in inspect.signature(public_api()[api_name]).parameters.items():
        if name in ("self", "cls") or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        other = OTHER_NAMES.get((api_name, name))
        if other is not None:
            opts = {opt for p in command.params for opt in getattr(p, "opts", ())}
            assert set(other) <= opts, f"{api_name}: {name} is {other}, not all of them options of the command"
            continue
        if not any(_answers(name, p) for p in command.params):
            unmatched.append(name)
    assert not unmatched, (
        f"creditcore {' '.join(API_TO_COMMAND[api_name])} has no option or argument for {api_name}'s {unmatched}"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=[" ".join(p) for p in sorted(COMMANDS)])
def test_every_command_s_help_ends_with_a_real_example(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(main, [*path, "--help"])
    assert done.exit_code == 0, done.output
    text = done.output.split("\nOptions:")[0]  # the docstring's part, before the options
    assert "Example:" in text, f"creditcore {' '.join(path)} --help has no example"
    example = text.split("Example:", 1)[1].strip().splitlines()
    first = f"creditcore {' '.join(path)}"
    assert example and example[0].strip().startswith(first), f"the example does not start with {first!r}: {example}"


def test_the_root_help_has_an_example_too() -> None:
    done = CliRunner().invoke(main, ["--help"])
    assert done.exit_code == 0 and "Example:\n    creditcore grant ada 100" in done.output


@pytest.mark.parametrize("path", sorted(LEAVES), ids=[" ".join(p) for p in sorted(LEAVES)])
def test_every_command_has_json_output_or_a_reason_not_to(path: tuple[str, ...]) -> None:
    names = {opt for param in LEAVES[path].params for opt in getattr(param, "opts", ())}
    if " ".join(path) in WITHOUT_JSON:
        assert "--json" not in names
    else:
        assert "--json" in names, f"creditcore {' '.join(path)} has no --json"


def test_the_older_option_names_still_work_but_help_shows_the_api_s(tmp_path: Path) -> None:
    db = str(tmp_path / "credits.db")
    granted = CliRunner().invoke(main, ["grant", "ada", "5", "--key", "g1", "--db", db, "--json"])
    again = CliRunner().invoke(main, ["grant", "ada", "5", "--idempotency-key", "g1", "--db", db, "--json"])
    assert granted.exit_code == again.exit_code == 0, (granted.output, again.output)
    assert '"replayed": true' in again.stdout  # the same key under either name
    listed = CliRunner().invoke(main, ["blocks", "ada", "--all", "--db", db, "--json"])
    assert listed.exit_code == 0 and '"status": "active"' in listed.stdout
    for path, hidden in (("grant", "--key"), ("blocks", "--all"), ("voucher list", "--all"), ("charge", "--key")):
        shown = CliRunner().invoke(main, [*path.split(), "--help"]).output
        assert hidden not in shown.replace("--all-", "").split(), (path, hidden)
        assert ("--idempotency-key" if hidden == "--key" else "--include-inactive") in shown


# -- shell completion ----------------------------------------------------------------------------

SCRIPT = Path(sys.executable).parent / "creditcore"


def _script(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CREDITCORE_DB"} | env
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env=environment)


def test_click_s_completion_script_and_the_completion_command_print_the_same() -> None:
    sourced = _script(_CREDITCORE_COMPLETE="bash_source")
    assert sourced.returncode == 0 and "_creditcore_completion()" in sourced.stdout, sourced.stderr
    assert "complete -o nosort -F _creditcore_completion creditcore" in sourced.stdout
    printed = CliRunner().invoke(main, ["completion", "bash"])
    assert printed.exit_code == 0 and printed.stdout.strip() == sourced.stdout.strip()
    assert "#compdef creditcore" in CliRunner().invoke(main, ["completion", "zsh"]).stdout
    assert "complete --no-files --command creditcore" in CliRunner().invoke(main, ["completion", "fish"]).stdout


def test_completion_completes_commands_and_choices() -> None:
    commands = _script(_CREDITCORE_COMPLETE="bash_complete", COMP_WORDS="creditcore time", COMP_CWORD="1")
    assert commands.stdout.split() == ["plain,timeline"], commands.stderr
    choices = _script(_CREDITCORE_COMPLETE="bash_complete", COMP_WORDS="creditcore burn ada 5 --overdraft ",
                      COMP_CWORD="5")  # fmt: skip
    assert choices.stdout.split() == ["plain,reject", "plain,partial", "plain,debt"], choices.stderr


def test_completion_for_an_unknown_shell_is_a_one_line_usage_mistake() -> None:
    done = CliRunner().invoke(main, ["completion", "tcsh"])
    assert done.exit_code == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: usage: ") and "SHELL" in done.stderr and "tcsh" in done.stderr
    helped = CliRunner().invoke(main, ["completion", "--help"]).output
    assert 'eval "$(creditcore completion bash)"' in helped and "creditcore completion fish | source" in helped

"""Every ``creditcore ...`` command line the documentation shows parses with today's command
line: the examples of docs/cli.md and the commands in the ```bash blocks of README.md and
docs/. They are parsed, not run (no ledger is touched), so a renamed option or command fails
here, naming the page to fix."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from creditcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BASH = re.compile(r"^```bash\n(?P<body>.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(?P<command>creditcore [^`]+)`")
# a synopsis, not an example: ``creditcore simulate SCENARIO.toml [--db FILE]``
PLACEHOLDER = re.compile(r"^([A-Z][A-Z_]+(\.\w+)?|\[.*)$")


def commands_of(text: str, *, inline: bool) -> list[str]:
    """The ``creditcore`` command lines of a page: in its bash blocks (a line, or a part of a
    ``&&`` chain, that runs ``creditcore``), and with ``inline`` its inline code spans too."""
    found = []
    for block in BASH.finditer(text):
        for line in block["body"].splitlines():
            for part in line.split("&&"):
                words = part.split("#", 1)[0].split(">", 1)[0].split()
                if words and words[0].endswith("creditcore"):
                    found.append(" ".join(["creditcore", *words[1:]]))
    if inline:
        found += [match["command"] for match in INLINE.finditer(text)]
    return [command for command in found if not any(map(PLACEHOLDER.match, shlex.split(command)))]


def parse(command: str) -> None:
    """Parse a command line as the ``creditcore`` script would, down to its last subcommand,
    without invoking anything."""
    args = shlex.split(command.replace("…", "x"))[1:]
    group: click.Command = main
    ctx = group.make_context("creditcore", args)
    while isinstance(group, click.Group):
        name, command_found, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert command_found is not None and name is not None
        group = command_found
        ctx = group.make_context(name, rest, parent=ctx)


CASES = [
    (page.relative_to(ROOT).as_posix(), command)
    for page in PAGES
    for command in commands_of(page.read_text(), inline=page.name == "cli.md")
]


@pytest.mark.parametrize(("page", "command"), CASES)
def test_the_command_line_parses(page: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # example scenarios are given relative to the repository
    monkeypatch.setenv("CREDITCORE_DB", "credits.db")  # as the page's reader would have set it
    try:
        parse(command)
    except click.ClickException as error:
        pytest.fail(f"{page}: `{command}` no longer parses: {error.format_message()}")


def test_the_pages_show_command_lines() -> None:
    assert len(CASES) >= 30
    assert any(page == "README.md" for page, _ in CASES)


def test_commands_are_found_in_bash_blocks_and_inline_code() -> None:
    text = (
        "```bash\npython3 -m venv .venv && .venv/bin/creditcore simulate x.toml --plot a.png\n"
        "creditcore db upgrade --print-sql > out.sql   # note\n```\n"
        "| `grant CUSTOMER AMOUNT` | `creditcore grant ada 5` |\n"
    )
    assert commands_of(text, inline=True) == [
        "creditcore simulate x.toml --plot a.png",
        "creditcore db upgrade --print-sql",
        "creditcore grant ada 5",
    ]


def test_the_command_line_page_names_every_api_call_without_a_command() -> None:
    """What ``cli.NOT_ON_THE_COMMAND_LINE`` exempts is on the page, with the plumbing named."""
    from creditcore.cli import NOT_ON_THE_COMMAND_LINE

    page = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    section = page.split("## What has no command", 1)[1].split("\n## ", 1)[0]
    for name in NOT_ON_THE_COMMAND_LINE:
        shown = f"`{name}`" if name.startswith("Ledger.") else f"`{name.rsplit('.', 1)[1]}`"
        assert shown in section, f"{name} has no command and docs/cli.md does not say why"

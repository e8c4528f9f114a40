"""The README's first command: `creditcore demo` walks the everyday flows."""

from __future__ import annotations

import re
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "creditcore", *args], capture_output=True, text=True, timeout=60)


def test_demo_walks_the_flows_and_ends_with_a_clean_audit() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "captured 18, released 12" in out
    assert "balance: available 82  held 0  used 18" in out
    assert "InsufficientCredits" in out  # the non-trip purchase cannot use the trip voucher
    assert "expire_due() recorded 1 expiry entry" in out
    assert "no problems" in out
    assert "Traceback" not in out + done.stderr


def test_demo_ends_with_a_month_of_usage_billed() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    story = done.stdout[done.stdout.index("5. Billing: meter -> events -> price -> preview -> issue -> pay") :]
    assert "recorded 3 events for dora; req-1 sent again: duplicate" in story
    assert (
        "preview of January: 1600 calls cost 1.20 usd, credit 0.50, due 0.70 (nothing written: available 0.50)" in story
    )
    assert "issued dora-2026-01 as DEMO-0001: total 1.20, credit applied 0.50, amount due 0.70 usd (issued)" in story
    assert "paid with reference card-4242: DEMO-0001 is paid" in story
    assert story.rstrip().endswith("no problems")


def test_demo_shows_whole_block_ids_that_tell_the_blocks_apart() -> None:
    from creditcore.ledger import Ledger

    done = run("demo")
    assert done.returncode == 0, done.stderr
    shown = re.findall(r"\bblk_\w*", done.stdout)
    assert shown
    # each one whole, as the ledger makes them (ids are time-ordered: their first characters
    # are the same for every block made in the same period)
    prefix, tail = Ledger.memory().grant("x", 1).block.id.split("_")
    form = re.compile(rf"{prefix}_[0-9a-f]{{{len(tail)}}}$")
    assert all(form.match(block_id) for block_id in shown), shown
    # the burn that drew two blocks names two blocks
    lines = done.stdout.splitlines()
    drew = lines.index("  burn 60 drew 2 block(s):")
    first, second = (re.search(r"\bblk_\w+", line)[0] for line in lines[drew + 1 : drew + 3])  # type: ignore[index]
    assert first != second
    # the demo grants six blocks: six distinct ids appear in its listing of every entry
    every = lines[lines.index(next(line for line in lines if "Every entry the ledger wrote" in line)) :]
    assert len({found for line in every for found in re.findall(r"\bblk_\w+", line)}) == 6


def test_unknown_command_is_a_usage_error() -> None:
    done = run("no-such-command")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr

"""The README's first command: `creditcore demo` walks the everyday flows."""

from __future__ import annotations

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


def test_unknown_command_is_a_usage_error() -> None:
    done = run("no-such-command")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr

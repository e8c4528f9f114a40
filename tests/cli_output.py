"""What the command-line tests check of a refusal: one line on stderr, no traceback."""

from __future__ import annotations

from typing import Any


def one_line(done: Any, code: int, starts: str) -> str:
    """``done`` (a click ``Result``) exited ``code`` with one line on stderr starting with
    ``starts``, and nothing escaped (no traceback); that line."""
    assert done.exit_code == code, (done.stdout, done.stderr, done.exception)
    assert isinstance(done.exception, SystemExit), done.exception
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), done.stderr
    return lines[0]

"""The README's billing example runs as printed (on a fresh SQLite file)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_billing_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text()
    section = text[text.index("\n## Billing\n") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code.group(1), "README.md (Billing)", "exec"), {})
    finally:
        os.chdir(here)
    assert capsys.readouterr().out == "INV-0001 2.98 1.00 1.98\n"  # what the example's comment says

"""Run the installed ``creditcore`` console script in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).parent / "creditcore"


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code = done.returncode
        self.out = done.stdout
        self.err = done.stderr

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    environment = {k: v for k, v in os.environ.items() if k != "CREDITCORE_DB"}
    environment.update(env or {})
    done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, env=environment, cwd=cwd)
    return Run(done)


@pytest.fixture
def cli() -> Callable[..., Run]:
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    return run_cli

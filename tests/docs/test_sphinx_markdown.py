"""The griffe extension that renders creditcore's reST-flavoured docstrings as Markdown for the
API reference (docs/_ext/sphinx_markdown.py, loaded by mkdocs.yml)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# the extension belongs to the site, not to the package or the tests: load it from its file
EXTENSION = Path(__file__).resolve().parents[2] / "docs" / "_ext" / "sphinx_markdown.py"
_spec = importlib.util.spec_from_file_location("sphinx_markdown", EXTENSION)
assert _spec is not None and _spec.loader is not None
sphinx_markdown = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sphinx_markdown
_spec.loader.exec_module(sphinx_markdown)
candidates, markdown, reference = sphinx_markdown.candidates, sphinx_markdown.markdown, sphinx_markdown.reference

KNOWN = {"creditcore.errors.NotFound", "creditcore.ledger.Ledger.memory"}


def exists(path: str) -> str | None:
    return path if path in KNOWN else None


def test_a_role_becomes_an_optional_reference_to_where_the_name_is_defined() -> None:
    assert reference("~creditcore.errors.NotFound", (), exists) == (
        '<autoref identifier="creditcore.errors.NotFound" optional><code>NotFound</code></autoref>'
    )
    assert reference("memory", ("creditcore.ledger.Ledger", "creditcore.ledger"), exists) == (
        '<autoref identifier="creditcore.ledger.Ledger.memory" optional><code>memory</code></autoref>'
    )


def test_a_titled_role_keeps_its_title() -> None:
    assert ">the errors<" in reference("the errors <creditcore.errors>", (), exists)


def test_a_relative_name_is_looked_for_on_the_class_the_module_and_the_packages_above() -> None:
    assert candidates("Tier", ("creditcore.billing.pricing",)) == [
        "creditcore.billing.pricing.Tier",
        "creditcore.billing.Tier",
        "creditcore.Tier",
    ]
    assert candidates("concurrent.futures.Executor", ("creditcore.simulate",))[-1] == "concurrent.futures.Executor"


def test_a_session_becomes_a_fenced_block_and_a_literal_block_stays_code() -> None:
    text = "Grant::\n\n    ledger.grant('ada', 5)\n\nThen\n>>> 1 + 1\n2\n\nand :class:`NotFound`."
    assert markdown(text, ("creditcore.errors",), exists).splitlines() == [
        "Grant:",
        "",
        "    ledger.grant('ada', 5)",
        "",
        "Then",
        "",
        "```pycon",
        ">>> 1 + 1",
        "2",
        "```",
        "",
        'and <autoref identifier="creditcore.errors.NotFound" optional><code>NotFound</code></autoref>.',
    ]

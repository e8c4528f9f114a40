"""The examples in docstrings are run, so they never go stale."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "creditcore",
    "creditcore.values",
    "creditcore.core.periods",
    "creditcore.core.profiles",
    "creditcore.order",
    "creditcore.rules",
    "creditcore.ledger",
    "creditcore.adapters.memory",
    "creditcore.ids",
    "creditcore.service.batch",
    "creditcore.service.context",
    "creditcore.service.idempotency",
    "creditcore.service.lookup",
    "creditcore.service.reads",
    "creditcore.service.writes",
    "creditcore.core.outcomes",
    "creditcore.core.rules",
    "creditcore.core.order",
    "creditcore.codec",
    "creditcore.service.results",
    "creditcore.testing.contract",
    "creditcore.testing.reference",
    "creditcore.testing.stateful",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failures, _tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0

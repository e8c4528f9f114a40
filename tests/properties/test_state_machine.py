"""The shipped state machine (``creditcore.testing``) against the reference model, on every
adapter.

Each adapter is one entry in ``FACTORIES``: a function from the machine's clock to a fresh,
empty ledger (one per example). The example and step counts come from the Hypothesis
profile (tests/conftest.py: ``ci`` runs 200 examples of up to 50 steps).

The SQLite file runs get a new file per example, in a temporary directory. With
``CREDITCORE_HEAVY=1`` the file run also goes through the ``thorough`` profile (5,000
examples).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import settings

from creditcore import Ledger
from creditcore.testing import run_state_machine

Factory = Callable[[Callable[[], datetime]], Ledger]

FACTORIES: dict[str, Factory] = {
    "memory": lambda clock: Ledger.memory(clock=clock),
    "sqlite-memory": lambda clock: Ledger.sqlite(":memory:", clock=clock),
}


@pytest.mark.parametrize("factory", list(FACTORIES.values()), ids=list(FACTORIES))
def test_the_ledger_agrees_with_the_reference_model(factory: Factory) -> None:
    run_state_machine(factory)


def on_files(directory: Path, durability: str) -> Factory:
    """Ledgers on a new SQLite file per example (the last example's file is removed)."""
    numbers = itertools.count()

    def make(clock: Callable[[], datetime]) -> Ledger:
        number = next(numbers)
        for old in directory.glob(f"example-{number - 1}.db*"):
            old.unlink()
        return Ledger.sqlite(directory / f"example-{number}.db", durability=durability, clock=clock)

    make.__name__ = f"sqlite_file_{durability}"
    return make


# durability="normal": the machine checks behaviour, not what survives a power cut (the crash
# tests in tests/reliability prove durability), and a fsync per write would triple its time
@pytest.mark.parametrize("durability", ["normal"])
def test_the_ledger_on_a_sqlite_file_agrees_with_the_reference_model(tmp_path: Path, durability: str) -> None:
    run_state_machine(on_files(tmp_path, durability))


@pytest.mark.skipif(
    os.environ.get("CREDITCORE_HEAVY", "") in ("", "0"), reason="CREDITCORE_HEAVY=1 runs the heavy variant"
)
def test_heavy_the_ledger_on_a_sqlite_file_agrees_with_the_reference_model_thorough(tmp_path: Path) -> None:
    run_state_machine(on_files(tmp_path, "full"), settings=settings(settings.get_profile("thorough")))

"""The shipped state machine (``creditcore.testing``) against the reference model, on every
adapter.

Each adapter is one entry in ``FACTORIES``: a function from the machine's clock to a fresh,
empty ledger (one per example). The example and step counts come from the Hypothesis
profile (tests/conftest.py: ``ci`` runs 200 examples of up to 50 steps).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

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

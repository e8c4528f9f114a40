"""Test helpers shipped with creditcore, for its own suite and for third-party adapters.

- :mod:`creditcore.testing.strategies`: Hypothesis strategies for creditcore's arguments.
- :mod:`creditcore.testing.reference`: :class:`ReferenceLedger`, a deliberately naive model
  of the documented rules that shares no code with the ledger's rules.
- :mod:`creditcore.testing.stateful`: :class:`LedgerStateMachine`, which drives a ledger and
  the model side by side and checks the ledger's invariants after every step.
- :mod:`creditcore.testing.contract`: :class:`RepositoryContract`, the behaviour tests every
  repository must pass; subclass it with a ``make_repository`` factory to prove an adapter.

Prove an adapter by running the machine on it::

    from creditcore import Ledger
    from creditcore.testing import LedgerStateMachine

    class MyAdapterMachine(LedgerStateMachine):
        def make_ledger(self, clock):
            return Ledger(MyRepository(...), clock=clock)

    TestMyAdapter = MyAdapterMachine.TestCase

or ``run_state_machine(lambda clock: Ledger(MyRepository(...), clock=clock))`` inside a test.
Importing this package needs Hypothesis and pytest (``pip install "creditcore[testing]"``).
"""

from creditcore.testing.reference import ReferenceLedger
from creditcore.testing.stateful import Call, LedgerStateMachine, run_state_machine

__all__ = ["Call", "LedgerStateMachine", "ReferenceLedger", "run_state_machine"]

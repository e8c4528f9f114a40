"""Offline burn-down simulation on the pure core.

>>> from creditcore.simulate import load, run       # doctest: +SKIP
>>> outcome = run(load("examples/ai_app.toml"))    # doctest: +SKIP
>>> outcome.totals.expired                          # doctest: +SKIP

A scenario (TOML, documented on the Scenario format page of the docs) declares customers,
grants, schedules (recurring grants with rollover), top-up rules, usage and jobs, and may price
usage with meters and prices (a period invoice per customer and month: revenue, credit applied,
amount due; see :mod:`~creditcore.simulate.invoicing`); :func:`run` applies each customer's
events in time order to that customer's :class:`~creditcore.state.AccountState` with the rules
of :mod:`creditcore.rules`, and returns the totals per group at the end. Customers are
independent (each draws from random streams of its own), so ``run(scenario, executor=...)``
spreads them over any :class:`concurrent.futures.Executor` and gives the same figures to the
last unit. ``creditcore simulate`` (``--workers N``) is the command line for it.
"""

from creditcore.simulate.engine import Counts, Figures, Outcome, Point, open_ledger, run
from creditcore.simulate.scenario import Scenario, ScenarioError, load, parse

__all__ = ["Counts", "Figures", "Outcome", "Point", "Scenario", "ScenarioError", "load", "open_ledger", "parse", "run"]

"""A validated scenario as frozen values: its customers, its grant, usage and job rules.

:func:`creditcore.simulate.scenario.parse` makes them; :func:`creditcore.simulate.run` reads
them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from creditcore.simulate.distributions import Distribution
from creditcore.simulate.times import Duration
from creditcore.state import Overdraft


@attrs.frozen(kw_only=True)
class Population:
    """Customers of one ``[[customers]]`` table."""

    group: str
    ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Window:
    """Who a rule applies to and when."""

    customers: tuple[int, ...]
    """Indexes into :attr:`Scenario.customers`."""
    begins: datetime
    ends: datetime


@attrs.frozen(kw_only=True)
class GrantRule:
    name: str
    line: int | None = None
    """The line of its ``[[grants]]`` header."""
    window: Window
    amount: int
    every: Duration | None
    expires_after: Duration | None
    effective_after: Duration | None
    priority: int
    category: str
    cost_basis: Decimal | None
    scope: frozenset[str] | None
    single_use: bool = False
    """The first use of each of its blocks voids the rest of that block (SPEC §14)."""
    void_share: float
    void_after: Duration


@attrs.frozen(kw_only=True)
class ReplayEvent:
    at: datetime
    customer: int
    amount: int
    scope: str | None


@attrs.frozen(kw_only=True)
class UsageRule:
    name: str
    line: int | None = None
    window: Window
    pattern: str
    """``fixed``, ``poisson`` or ``replay``."""
    amount: Distribution | None
    every: Duration | None
    per_day: float
    scope: str | None
    events: tuple[ReplayEvent, ...] = ()


@attrs.frozen(kw_only=True)
class JobRule:
    name: str
    line: int | None = None
    window: Window
    per_day: float
    amount: Distribution
    capture_ratio: Distribution
    release_share: float
    duration: Duration
    scope: str | None


@attrs.frozen(kw_only=True)
class Scenario:
    """A validated scenario: everything :func:`creditcore.simulate.run` needs."""

    source: str
    title: str
    start: datetime
    end: datetime
    seed: int
    unit: str
    scale: int
    overdraft: Overdraft
    debt_limit: int | None
    sample_every: Duration
    customers: tuple[str, ...]
    groups: tuple[str, ...]
    """Group names in the order they were first declared."""
    customer_group: tuple[int, ...]
    """For each customer, the index of its group."""
    grants: tuple[GrantRule, ...]
    usage: tuple[UsageRule, ...]
    jobs: tuple[JobRule, ...]

    @property
    def factor(self) -> int:
        return int(10**self.scale)

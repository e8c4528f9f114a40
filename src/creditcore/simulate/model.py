"""A validated scenario as frozen values: its customers, its grant, schedule, top-up, usage and
job rules, and its meters, prices and billing periods.

:func:`creditcore.simulate.scenario.parse` makes them; :func:`creditcore.simulate.run` reads
them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

import attrs

from creditcore.billing.values import PriceModel
from creditcore.simulate.distributions import Distribution
from creditcore.simulate.times import Duration
from creditcore.state import Overdraft
from creditcore.values import MAX_ID_LENGTH


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
    """The first use of each of its blocks voids the rest of that block."""
    void_share: float
    void_after: Duration


@attrs.frozen(kw_only=True)
class ScheduleRule:
    """A ``[[schedules]]`` table: a recurring grant with rollover, set for each of its customers
    at ``window.begins`` (``from``). Its blocks expire at their period's end."""

    name: str
    line: int | None = None
    window: Window
    """``begins``: when period 0 starts; ``ends``: ``until`` or the scenario's end, whichever
    is first (no period starts at or after it)."""
    amount: int
    first_amount: int | None
    """Period 0's grant (``None``: ``amount``)."""
    every: Duration
    rollover_max: int
    """The most of a period's unused credit that carries into the next one (0: refill)."""
    rollover_min: int
    """The least a period starts with: its grant tops the carry up to this."""
    priority: int
    category: str
    cost_basis: Decimal | None
    scope: frozenset[str] | None
    single_use: bool

    def schedule_id(self, index: int, customer: str) -> str:
        """The schedule's id for ``customer`` (rule ``index``, 0-based): the same in the run and
        in a ``--db`` ledger, so both name its blocks alike (``<id>/<period>``), and unique in
        the ledger. A customer id too long to fit is replaced by its digest."""
        found = f"sch{index + 1}.{customer}"
        if len(found) <= MAX_ID_LENGTH:
            return found
        return f"sch{index + 1}.{hashlib.sha256(customer.encode()).hexdigest()}"


@attrs.frozen(kw_only=True)
class TopUpRule:
    """A ``[[top_ups]]`` table: an auto top-up rule, set for each of its customers at
    ``window.begins`` (``from``) and removed at ``window.ends`` if that comes before the
    scenario's end (``until``). A customer has one rule at most."""

    name: str
    line: int | None = None
    window: Window
    threshold: int
    """Signed minor units: the rule fires when net (available less debt) falls to it or below."""
    amount: int | None
    """Exactly one of ``amount`` and ``target``."""
    target: int | None
    category: str
    priority: int
    expires_after: Duration | None
    cost_basis: Decimal | None


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
    meter: int | None = None
    """The index of the meter (:attr:`Scenario.meters`) its events go to: then its amounts are
    the meter's quantities (in the meter's scale), billed on period invoices, and it burns no
    credit itself. ``None``: each event burns its amount of credit."""


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
class MeterRule:
    """A ``[[meters]]`` table: a billing meter that metered usage records to."""

    id: str
    line: int | None = None
    name: str
    event_name: str
    aggregation: str
    """``sum``, ``count``, ``max`` or ``latest``."""
    scale: int
    """The decimal places of its quantities (0 to 12)."""


@attrs.frozen(kw_only=True)
class PriceRule:
    """A ``[[prices]]`` table: the price of a meter's quantity in a billing period, in the
    scenario's unit."""

    line: int | None = None
    meter: int
    """The index of its meter in :attr:`Scenario.meters`."""
    model: PriceModel


@attrs.frozen(kw_only=True)
class BillingPeriod:
    """One calendar month of billing (in the scenario's ``timezone``), cut to the run: its
    invoices cover ``[start, end)`` and are issued at ``end``."""

    start: datetime
    end: datetime
    label: str
    """The month, ``YYYY-MM`` (local)."""


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
    schedules: tuple[ScheduleRule, ...] = ()
    top_ups: tuple[TopUpRule, ...] = ()
    meters: tuple[MeterRule, ...] = ()
    prices: tuple[PriceRule, ...] = ()
    timezone: str = "UTC"
    """The zone of the billing periods' calendar months."""
    periods: tuple[BillingPeriod, ...] = ()
    """The billing periods, when the scenario has meters (else none)."""

    @property
    def factor(self) -> int:
        return int(10**self.scale)

    @property
    def sources(self) -> tuple[GrantRule | ScheduleRule | TopUpRule, ...]:
        """Every rule that makes blocks, in the order the timeline and the chart list them:
        grants, schedules, top-ups."""
        return (*self.grants, *self.schedules, *self.top_ups)

    @property
    def billed(self) -> bool:
        """Whether the scenario names meters: the run then prices metered usage on a period
        invoice per customer and month, and reports revenue, credit applied and amount due
        (and a scenario without them reports as it always has)."""
        return bool(self.meters)

    @property
    def recurring(self) -> bool:
        """Whether the scenario has schedules or top-up rules: the report then also shows what
        they granted and carried (and a scenario without them reports as it always has)."""
        return bool(self.schedules or self.top_ups)

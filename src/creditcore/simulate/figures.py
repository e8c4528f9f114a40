"""What a run reports: the totals (:class:`Figures`), each grant's figures (:class:`ByGrant`:
its breakage, see :mod:`~creditcore.simulate.breakage`), the timeline's points, the operation
counts and the :class:`Outcome` at the scenario's end, all in minor units; with meters, also
what the invoices came to (:mod:`~creditcore.simulate.invoicing`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

import attrs

from creditcore.simulate.invoicing import Billed, Invoiced
from creditcore.simulate.model import Scenario
from creditcore.state import Tally
from creditcore.values import DECIMAL_CONTEXT, to_decimal

FIGURES = ("granted", "used", "expired", "voided", "available", "held", "upcoming", "shortfall", "debt")
#: What schedules and top-ups did: reported for scenarios that have them.
RECURRING = ("scheduled", "carried", "topped_up")
#: Every field of :class:`Figures`, in order.
ALL_FIGURES = FIGURES + RECURRING


@attrs.frozen(kw_only=True)
class Figures:
    """Totals in minor units; ``granted == available + held + used + expired + voided + upcoming``."""

    granted: int = 0
    used: int = 0
    expired: int = 0
    """Credit that expired unused: breakage."""
    voided: int = 0
    available: int = 0
    held: int = 0
    upcoming: int = 0
    shortfall: int = 0
    """Usage no credit covered: refused burns and jobs, the uncovered part of partial burns,
    and debt."""
    debt: int = 0
    """Debt still owed at the end."""
    scheduled: int = 0
    """Of ``granted``: what schedules' period grants granted."""
    carried: int = 0
    """What schedules carried from one period into the next (a move: not in ``granted``)."""
    topped_up: int = 0
    """Of ``granted``: what auto top-ups granted (what the customers were charged for)."""

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{name: getattr(self, name) + getattr(other, name) for name in ALL_FIGURES})


#: What a grant's figures are, in order; the first four move with entries, the last two are
#: the credit in its blocks (``remaining``: effective, held included; ``upcoming``: not yet).
GRANT_FIGURES = ("granted", "used", "expired", "voided", "remaining", "upcoming")
FLOWS = GRANT_FIGURES[:4]


@attrs.frozen(kw_only=True)
class GrantFigures:
    """One grant's figures, in minor units:
    ``granted == used + expired + voided + remaining + upcoming``."""

    granted: int = 0
    used: int = 0
    """Taken by burns, captures and debt settlements."""
    expired: int = 0
    """Expired unused: this grant's breakage."""
    voided: int = 0
    remaining: int = 0
    """Left in its effective blocks (held included)."""
    upcoming: int = 0
    """Left in its blocks not yet effective."""

    def __add__(self, other: GrantFigures) -> GrantFigures:
        return GrantFigures(**{name: getattr(self, name) + getattr(other, name) for name in GRANT_FIGURES})

    @property
    def expired_share(self) -> Decimal | None:
        """What share of what it granted expired unused, in percent to a tenth (``None``: it
        granted nothing)."""
        if not self.granted:
            return None
        with localcontext(DECIMAL_CONTEXT):
            return (Decimal(100 * self.expired) / self.granted).quantize(Decimal("0.1"))

    @property
    def unaccounted(self) -> int:
        """What the identity misses (0 when it holds)."""
        return self.granted - self.used - self.expired - self.voided - self.remaining - self.upcoming


@attrs.frozen(kw_only=True)
class ByGrant:
    """Each grant's figures at the end of a run, in all and per group."""

    names: tuple[str, ...]
    """Every rule that makes blocks, in :attr:`Scenario.sources
    <creditcore.simulate.model.Scenario.sources>` order (grants, schedules, top-ups)."""
    totals: tuple[GrantFigures, ...]
    """Per rule, over every customer."""
    groups: dict[str, tuple[GrantFigures, ...]]
    """Per group (in :attr:`Scenario.groups <creditcore.simulate.model.Scenario.groups>` order),
    per rule."""

    def items(self) -> Iterator[tuple[str, GrantFigures]]:
        """Each rule's name with its figures over every customer."""
        return zip(self.names, self.totals, strict=True)


@attrs.frozen(kw_only=True)
class Point:
    """The whole population's credit at one sampled instant, in minor units."""

    at: datetime
    figures: Figures
    remaining: tuple[int, ...]
    """Credit left in effective blocks (held included, expired excluded), per rule that makes
    blocks (:attr:`Scenario.sources <creditcore.simulate.model.Scenario.sources>`: grants,
    schedules, top-ups)."""
    expired_by_group: tuple[int, ...] = ()
    """Credit expired so far, per group, when the scenario compares its groups
    (:func:`~creditcore.simulate.timeline.compared_groups`); else empty."""
    shortfall_by_group: tuple[int, ...] = ()
    """Usage no credit covered so far, per group, likewise."""
    invoiced: Invoiced | None = None
    """With meters: what the invoices issued so far came to (else ``None``)."""
    grants: tuple[GrantFigures, ...] = ()
    """Per rule that makes blocks (as ``remaining``): what it granted so far, and of that what
    was used, expired, voided, and is left (its ``remaining`` is the one above)."""


@attrs.frozen(kw_only=True)
class Counts:
    """How many of each operation the run applied or had refused."""

    grants: int = 0
    burns: int = 0
    burns_refused: int = 0
    holds: int = 0
    holds_refused: int = 0
    captures: int = 0
    releases: int = 0
    voids: int = 0
    settlements: int = 0
    """Debt settlements the rules recorded (a grant or an activating block paying debt off);
    they follow from other events and are not counted in :attr:`events`."""
    schedules: int = 0
    """Schedules set up: one per customer of each ``[[schedules]]`` table."""
    schedule_grants: int = 0
    """Schedules' period grants (a period whose grant was 0 wrote none)."""
    carries: int = 0
    """Schedules' carries of unused credit into the next period; they follow from the period
    starts and are not counted in :attr:`events`."""
    top_up_rules: int = 0
    """Top-up rules set or removed: per customer of each ``[[top_ups]]`` table, one, or two
    with an ``until`` the run reaches."""
    top_ups: int = 0
    """Auto top-ups; they follow from the steps that lowered the balance and are not counted
    in :attr:`events`."""
    meter_events: int = 0
    """Metered usage events: recorded to a meter, billed on the period invoices."""
    invoices: int = 0
    """Period invoices issued: one per customer with metered usage and per billing period."""

    @property
    def events(self) -> int:
        """Every event the run processed (refused ones included)."""
        return (
            self.grants + self.burns + self.burns_refused + self.holds + self.holds_refused
            + self.captures + self.releases + self.voids + self.schedules + self.schedule_grants + self.top_up_rules
            + self.meter_events + self.invoices
        )  # fmt: skip


@attrs.frozen(kw_only=True)
class Outcome:
    """What a run found: totals, per group, and per customer, at the scenario's end."""

    scenario: Scenario
    totals: Figures
    groups: dict[str, Figures]
    counts: Counts
    customers: dict[str, Figures]
    billing: Billed | None = None
    """With meters: what the period invoices came to, per period, group and customer."""
    by_grant: ByGrant
    """Each grant's (schedule's, top-up rule's) figures at the end: granted, used, expired
    (its breakage), voided, remaining, upcoming, in all and per group."""

    @property
    def events(self) -> int:
        return self.counts.events

    def decimal(self, minor: int) -> Any:
        return to_decimal(minor, self.scenario.scale)


def _figures(tally: Tally, shortfall: int) -> Figures:
    return Figures(
        granted=tally.granted,
        used=tally.used,
        expired=tally.expired,
        voided=tally.voided,
        available=tally.available,
        held=tally.held,
        upcoming=tally.upcoming,
        shortfall=shortfall,
        debt=tally.debt,
    )

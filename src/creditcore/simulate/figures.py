"""What a run reports: the totals (:class:`Figures`), the timeline's points, the operation
counts and the :class:`Outcome` at the scenario's end, all in minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from creditcore.simulate.model import Scenario
from creditcore.state import Tally
from creditcore.values import to_decimal

FIGURES = ("granted", "used", "expired", "voided", "available", "held", "upcoming", "shortfall", "debt")


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

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{name: getattr(self, name) + getattr(other, name) for name in FIGURES})


@attrs.frozen(kw_only=True)
class Point:
    """The whole population's credit at one sampled instant, in minor units."""

    at: datetime
    figures: Figures
    remaining: tuple[int, ...]
    """Credit left in effective blocks (held included, expired excluded), per grant rule."""


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

    @property
    def events(self) -> int:
        """Every event the run processed (refused ones included)."""
        return (
            self.grants + self.burns + self.burns_refused + self.holds + self.holds_refused
            + self.captures + self.releases + self.voids
        )  # fmt: skip


@attrs.frozen(kw_only=True)
class Outcome:
    """What a run found: totals, per group, and per customer, at the scenario's end."""

    scenario: Scenario
    totals: Figures
    groups: dict[str, Figures]
    counts: Counts
    customers: dict[str, Figures]

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

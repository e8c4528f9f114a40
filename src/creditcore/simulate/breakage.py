"""Breakage by grant: for each rule that makes blocks (a ``[[grants]]``, ``[[schedules]]`` or
``[[top_ups]]`` table, by its name), how much it granted, and of that how much was used, expired
unused (breakage), was voided, and is left at the end (effective, or still upcoming).

The figures are read from the run's own entries, not worked out again: each entry a rule wrote
that names a block (``grant``, ``burn``, ``capture``, ``settle``, ``expire``, ``void``, ...)
moves that block's grant's figures as :data:`creditcore.core.effects.TOTALS_EFFECT` says it
moves the customer's totals, and the block's grant is the rule its description names (as the
timeline's ``remaining[<name>]`` reads it). What is left is the credit in the grant's blocks at
the end. A schedule's carry moves credit from one of its blocks into another of its own, so it
moves none of its figures.

So, for each grant, ``granted == used + expired + voided + remaining + upcoming``, and over
every grant each figure adds up to the run's own total (``expired``: the run's breakage).
:func:`check` holds every run to both.
"""

from __future__ import annotations

from collections.abc import Sequence

from creditcore.core.effects import TOTALS_EFFECT
from creditcore.simulate.figures import FLOWS, GRANT_FIGURES, ByGrant, Figures, GrantFigures

#: Per entry kind that moves a grant's figures: (place in :data:`FLOWS`, sign), from the
#: core's own table of what each entry kind adds to the totals (a debt moves no block's credit).
FLOW_OF: dict[str, tuple[tuple[int, int], ...]] = {
    kind: moves
    for kind, effect in TOTALS_EFFECT.items()
    if kind != "reverse_debt"
    if (moves := tuple((FLOWS.index(name), sign) for name, sign in effect if name in FLOWS))
}


def per_grant(flat: Sequence[int]) -> tuple[GrantFigures, ...]:
    """``flat`` (per rule, :data:`GRANT_FIGURES` in order) as values."""
    size = len(GRANT_FIGURES)
    return tuple(
        GrantFigures(**dict(zip(GRANT_FIGURES, flat[start : start + size], strict=True)))
        for start in range(0, len(flat), size)
    )


def by_grant(names: Sequence[str], groups: Sequence[str], tallies: Sequence[int]) -> ByGrant:
    """``tallies`` (per group, per rule, :data:`GRANT_FIGURES` in order, flat) as values."""
    size = len(GRANT_FIGURES) * len(names)
    per_group = {name: per_grant(tallies[g * size : (g + 1) * size]) for g, name in enumerate(groups)}
    totals = tuple(sum((found[r] for found in per_group.values()), GrantFigures()) for r in range(len(names)))
    return ByGrant(names=tuple(names), totals=totals, groups=per_group)


class Unbalanced(AssertionError):
    """A run's figures by grant do not add up: a bug in the simulator, never in a scenario."""


def check(found: ByGrant, totals: Figures, groups: dict[str, Figures]) -> None:
    """Raise :class:`Unbalanced` unless every grant's figures add up (in all and per group) and,
    over every grant, each figure equals the run's own total of it (``expired``: its breakage;
    ``remaining``: ``available + held``)."""
    for where, rules, figures in (
        ("in all", found.totals, totals),
        *((f"in group {name!r}", found.groups[name], groups[name]) for name in groups),
    ):
        for name, grant in zip(found.names, rules, strict=True):
            if grant.unaccounted:
                raise Unbalanced(f"{name!r} {where}: granted {grant.granted} is not used + expired + voided + "
                                 f"remaining + upcoming ({grant.unaccounted} unaccounted): {grant}")  # fmt: skip
        added = sum(rules, GrantFigures())
        expected = GrantFigures(
            granted=figures.granted, used=figures.used, expired=figures.expired, voided=figures.voided,
            remaining=figures.available + figures.held, upcoming=figures.upcoming,
        )  # fmt: skip
        if added != expected:
            raise Unbalanced(f"the grants' figures {where} add up to {added}, not the run's {expected}")

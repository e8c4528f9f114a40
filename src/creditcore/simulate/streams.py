"""Where a run's events come from: the times a rule repeats at, and random streams seeded per
rule and per customer.

Every random draw of a run comes from a ``random.Random`` of its own for each rule, purpose
and customer, seeded from the scenario's seed, the rule's place in the file, what it draws
(arrival times, amounts, job ends, voids) and the customer's id. So a customer's events depend
on nothing but the scenario and that customer: not on the other customers, not on which
worker runs it, not on the order customers are run in. That is what lets a run spread its
customers over processes or machines and still give the same figures to the last unit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from math import log

from creditcore.simulate.model import Scenario
from creditcore.simulate.times import Duration


def stream(scenario: Scenario, kind: str, index: int, purpose: str, customer: str) -> random.Random:
    """The random stream of rule ``kind`` #``index`` (0-based) for ``purpose`` and ``customer``.

    The seed is text (hashed with SHA-512 by ``random``), the same on every platform and
    Python version; the customer's id comes last, after parts that never hold a ``/``."""
    return random.Random(f"{scenario.seed}/{kind}/{index}/{purpose}/{customer}")


def after(duration: Duration, moment: datetime, times: int = 1) -> datetime | None:
    """``duration.after(moment, times)``, or ``None`` past the last date a ``datetime`` holds
    (which is after any scenario's end)."""
    try:
        return duration.after(moment, times)
    except (OverflowError, ValueError):
        return None


def ticks(first: datetime, every: Duration | None, ends: datetime) -> Iterator[datetime]:
    """``first``, ``first + every``, ... before ``ends`` (one tick if ``every`` is None).

    Months are counted from ``first`` (``first + k months``), so the 31st stays the last day
    of each shorter month and comes back in the longer ones."""
    if every is None:
        if first < ends:
            yield first
        return
    k = 0
    while (moment := after(every, first, k)) is not None and moment < ends:
        yield moment
        k += 1


def arrivals(rng: random.Random, begins: datetime, ends: datetime, per_day: float) -> Iterator[datetime]:
    """The arrivals of a Poisson process of ``per_day`` a day in ``[begins, ends)``: gaps drawn
    from an exponential distribution, each time rounded to the microsecond."""
    if per_day <= 0:
        return
    mean_gap = 86400.0 / per_day
    span = (ends - begins).total_seconds()
    draw = rng.random
    offset = 0.0
    while True:
        offset += -log(1.0 - draw()) * mean_gap  # rng.expovariate(1.0), without its call
        if offset >= span:
            return
        moment = begins + timedelta(seconds=offset)
        if moment >= ends:  # within half a microsecond of the end, rounded onto it
            return
        yield moment

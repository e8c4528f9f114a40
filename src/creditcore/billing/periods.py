"""Periods and calendar windows for billing: the ledger's own boundaries, re-exported.

Billing cuts time exactly as the ledger does (:mod:`creditcore.core.periods`), so that a
billing period and a recurring grant's period never disagree by an instant:

- :func:`add`, :func:`period_at`, :func:`index_at`: the boundaries ``anchor + k * every``,
  each computed from the anchor (a 31 January anchor gives 28 February, then 31 March);
- :func:`window`: the calendar ``hour``, ``day``, ``week`` (from Monday 00:00) or ``month``
  containing a time, in an IANA zone;
- :func:`parse_every`, :func:`parse_timezone`: the readings of a step and of a zone.

Every period is half-open ``[start, end)``, a :class:`Period` named tuple of aware UTC times.

>>> from datetime import UTC, datetime
>>> window(datetime(2026, 8, 23, 12, 0, tzinfo=UTC), "week").start.date().isoformat()  # a Sunday
'2026-08-17'
"""

from creditcore.core.periods import (
    SPANS,
    Every,
    Period,
    add,
    index_at,
    parse_every,
    parse_timezone,
    period_at,
    window,
)

__all__ = ["SPANS", "Every", "Period", "add", "index_at", "parse_every", "parse_timezone", "period_at", "window"]

"""Recurring periods and calendar windows in a time zone (kept here for importers: they live
in :mod:`creditcore.core.periods`, where the pure core uses them)."""

from creditcore.core.periods import SPANS, Every, Period, add, index_at, parse_every, parse_timezone, period_at, window

__all__ = ["SPANS", "Every", "Period", "add", "index_at", "parse_every", "parse_timezone", "period_at", "window"]

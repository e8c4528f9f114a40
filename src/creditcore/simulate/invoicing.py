"""Billing in a simulation: its periods, the amount of an invoice line, and what a run invoiced.

A scenario that names ``[[meters]]`` bills its metered usage (``[[usage]]`` with ``meter =``) as
:mod:`creditcore.billing` does: each customer with metered usage gets a period invoice for each
calendar month (in the scenario's ``timezone``, UTC unless it says), issued at the month's end,
the first one starting at the run's start and the last one ending at the run's end. An invoice
has a line per priced meter with usage in the period: its aggregate, priced once and rounded
half-up to the unit (:func:`line_amount`), then paid with credit line by line, in meter order,
by a burn of at most the line's amount with the scope ``meter:<id>`` and
``overdraft="partial"``.

Per invoice, and so per period, group, customer and in all:

- **revenue**: the invoice's total (its priced usage);
- **credit applied**: what the credit burned for its lines;
- **amount due**: ``revenue - credit applied``, what the customer pays in money.

The run computes them with the pure pricing functions and its own accounts
(:mod:`~creditcore.simulate.accounts`); with ``--db`` the same invoices are created and issued
through :class:`creditcore.billing.Billing`, and each stored invoice must agree with the run's.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from creditcore.billing.periods import window
from creditcore.billing.pricing import price, round_half_up
from creditcore.billing.values import PriceModel
from creditcore.errors import CreditError
from creditcore.simulate.model import BillingPeriod
from creditcore.values import DECIMAL_CONTEXT, to_decimal

__all__ = ["INVOICED", "Billed", "Invoiced", "billing_periods", "line_amount"]

#: The figures of an invoice, in :class:`Invoiced` field order.
INVOICED = ("revenue", "credit_applied", "amount_due")


@attrs.frozen(kw_only=True)
class Invoiced:
    """What invoices came to, in minor units of the scenario's unit:
    ``revenue == credit_applied + amount_due``."""

    revenue: int = 0
    """The invoices' totals: the metered usage, priced."""
    credit_applied: int = 0
    """What credit paid of them (burned line by line, each with its meter's scope)."""
    amount_due: int = 0
    """What credit did not cover: due in money."""

    def __add__(self, other: Invoiced) -> Invoiced:
        return Invoiced(
            revenue=self.revenue + other.revenue,
            credit_applied=self.credit_applied + other.credit_applied,
            amount_due=self.amount_due + other.amount_due,
        )


@attrs.frozen(kw_only=True)
class Billed:
    """What a run invoiced: per billing period and group, per group, per customer, in all."""

    periods: tuple[BillingPeriod, ...]
    by_period: tuple[tuple[Invoiced, ...], ...]
    """Per period, per group (in :attr:`Scenario.groups` order)."""
    groups: dict[str, Invoiced]
    """Per group, over the whole run."""
    totals: Invoiced
    customers: dict[str, Invoiced]
    """Per customer with metered usage (each got an invoice per period)."""
    invoices: int
    """How many invoices were issued."""

    def period_totals(self) -> tuple[Invoiced, ...]:
        """Per period, every group's invoices added up."""
        return tuple(sum(groups, Invoiced()) for groups in self.by_period)


def billing_periods(start: datetime, end: datetime, timezone: str) -> tuple[BillingPeriod, ...]:
    """The calendar months in ``timezone`` that ``[start, end)`` touches, each cut to it."""
    zone = ZoneInfo(timezone) if timezone != "UTC" else None
    found: list[BillingPeriod] = []
    moment = start
    while moment < end:
        try:
            month = window(moment, "month", timezone)
            begins, ends = month.start, month.end
        except (CreditError, OverflowError, ValueError):  # a month past the last time there is
            begins, ends = moment, end
        local = begins if zone is None else begins.astimezone(zone)
        found.append(BillingPeriod(start=max(begins, start), end=min(ends, end), label=f"{local:%Y-%m}"))
        moment = ends
    return tuple(found)


def line_amount(model: PriceModel, quantity: int, quantity_scale: int, scale: int) -> int:
    """The amount of an invoice line, in minor units of a unit of ``scale`` places: the exact
    price of ``quantity`` (minor units of a meter of ``quantity_scale`` places) rounded once,
    half-up (never per tier)."""
    if quantity <= 0:
        return 0
    exact = price(model, to_decimal(quantity, quantity_scale))
    return int(round_half_up(exact, scale).scaleb(scale, DECIMAL_CONTEXT))

"""creditcore.billing: usage turned into money on top of a Ledger (SPEC_BILLING.md).

What exists so far is the **pure part**, usable without storage, like :mod:`creditcore.rules`:

- :mod:`~creditcore.billing.values`: :class:`Tier`, :class:`PriceModel` (what a price charges
  for a quantity) and :class:`MeterReading` (one event as aggregation sees it);
- :mod:`~creditcore.billing.pricing`: :func:`price` (exact), :func:`round_half_up`,
  :func:`percent_off`;
- :mod:`~creditcore.billing.metering`: :func:`aggregate` over a half-open span → ``Aggregate
  (value, event_count)``;
- :mod:`~creditcore.billing.periods`: the ledger's periods and calendar windows
  (:func:`window`, :func:`period_at`, :func:`add`, ...).

Not built yet: the ``Billing`` facade and its namespaces (``meters``, ``prices``, ``usage``,
``vouchers``, ``invoices``), ``MeterEvent``, ``InvoiceSettings``, the charges, credit purchases
and starter credit, and billing's storage. Nothing here writes or reads a ledger.

>>> from creditcore.billing import PriceModel, Tier, price, round_half_up
>>> volume = PriceModel("volume", tiers=[Tier(5, 7), Tier(10, "6.5"), Tier(None, 6)])
>>> round_half_up(price(volume, 6), 2)
Decimal('39.00')
"""

from creditcore.billing.metering import Aggregate, aggregate
from creditcore.billing.periods import (
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
from creditcore.billing.pricing import percent_off, price, round_half_up
from creditcore.billing.values import AGGREGATIONS, MODELS, MeterReading, PriceModel, Tier

__all__ = [
    "AGGREGATIONS",
    "MODELS",
    "SPANS",
    "Aggregate",
    "Every",
    "MeterReading",
    "Period",
    "PriceModel",
    "Tier",
    "add",
    "aggregate",
    "index_at",
    "parse_every",
    "parse_timezone",
    "percent_off",
    "period_at",
    "price",
    "round_half_up",
    "window",
]

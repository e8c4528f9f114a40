"""creditcore.billing: usage turned into money on top of a Ledger (SPEC_BILLING.md).

Built so far:

- :class:`Billing` over a ``Ledger``, with the namespaces ``meters`` (create, get, list,
  record events in batches of up to 100, summary) and ``prices`` (create, get, list, delete,
  quote), stored in the ledger's own store (:mod:`~creditcore.billing.repository`) on the
  memory, SQLite and PostgreSQL adapters;
- the **pure part**, usable without storage, like :mod:`creditcore.rules`:
  :mod:`~creditcore.billing.values` (:class:`Tier`, :class:`PriceModel`,
  :class:`MeterReading`), :mod:`~creditcore.billing.pricing` (:func:`price` exact,
  :func:`round_half_up`, :func:`percent_off`), :mod:`~creditcore.billing.metering`
  (:func:`aggregate`) and :mod:`~creditcore.billing.periods` (:func:`window`,
  :func:`period_at`, :func:`add`, ...).

Not built yet: ``usage``, ``vouchers``, ``invoices``, the charges, credit purchases and the
starter credit (the README lists them).

>>> from creditcore.billing import PriceModel, Tier, price, round_half_up
>>> volume = PriceModel("volume", tiers=[Tier(5, 7), Tier(10, "6.5"), Tier(None, 6)])
>>> round_half_up(price(volume, 6), 2)
Decimal('39.00')
"""

from typing import TYPE_CHECKING, Any

from creditcore.billing.metering import Aggregate, aggregate
from creditcore.billing.model import EventStatus, Meter, MeterEvent, Price, Quote, RecordEventsResult, UsageSummary
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

if TYPE_CHECKING:
    from creditcore.billing.facade import Billing


def __getattr__(name: str) -> Any:
    # Billing stands on the Ledger, whose adapters import billing's storage protocol from this
    # package: it loads on first use, so importing the package never loads the ledger
    if name == "Billing":
        from creditcore.billing.facade import Billing

        return Billing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AGGREGATIONS",
    "MODELS",
    "SPANS",
    "Aggregate",
    "Billing",
    "EventStatus",
    "Every",
    "Meter",
    "MeterEvent",
    "MeterReading",
    "Period",
    "Price",
    "PriceModel",
    "Quote",
    "RecordEventsResult",
    "Tier",
    "UsageSummary",
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

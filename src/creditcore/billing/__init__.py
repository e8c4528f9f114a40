"""creditcore.billing: usage turned into money on top of a Ledger (the guide: the Billing page
of the docs).

:class:`Billing` over a ``Ledger`` shares its store, its transactions and its ``atomic()``
batches (the rows: :mod:`~creditcore.billing.repository`, on the memory, SQLite and
PostgreSQL adapters). Its namespaces, one module each: ``meters`` (meters, events in batches
of up to 100, summaries), ``prices`` (per unit, graduated, volume, package; quotes),
``usage`` (usage charged as it happens), ``vouchers`` (percentages off) and ``invoices``
(period invoices: preview, create, issue, pay, void); its verbs: ``charge``,
``charge_product``, ``purchase_credits`` and ``grant_starter_credit``.

The **pure part** is usable without storage, like :mod:`creditcore.rules`:
:mod:`~creditcore.billing.values` (:class:`Tier`, :class:`PriceModel`, :class:`MeterReading`),
:mod:`~creditcore.billing.pricing` (:func:`price` exact, :func:`round_half_up`,
:func:`percent_off`), :mod:`~creditcore.billing.metering` (:func:`aggregate`) and
:mod:`~creditcore.billing.periods` (:func:`window`, :func:`period_at`, :func:`add`, ...).

>>> from creditcore.billing import PriceModel, Tier, price, round_half_up
>>> volume = PriceModel("volume", tiers=[Tier(5, 7), Tier(10, "6.5"), Tier(None, 6)])
>>> round_half_up(price(volume, 6), 2)
Decimal('39.00')
"""

from typing import TYPE_CHECKING, Any

from creditcore.billing.metering import Aggregate, aggregate
from creditcore.billing.model import (
    ChargeResult,
    EventStatus,
    Invoice,
    InvoicePage,
    InvoicePreview,
    InvoiceSettings,
    IssueResult,
    Line,
    Meter,
    MeterEvent,
    Price,
    PurchaseResult,
    Quote,
    RecordEventsResult,
    UsagePage,
    UsageRecord,
    UsageResult,
    UsageSummary,
    Voucher,
)
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
    "ChargeResult",
    "EventStatus",
    "Invoice",
    "InvoicePage",
    "InvoicePreview",
    "InvoiceSettings",
    "IssueResult",
    "Line",
    "Every",
    "Meter",
    "MeterEvent",
    "MeterReading",
    "Period",
    "Price",
    "PriceModel",
    "PurchaseResult",
    "Quote",
    "RecordEventsResult",
    "Tier",
    "UsagePage",
    "UsageRecord",
    "UsageResult",
    "UsageSummary",
    "Voucher",
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

"""What billing's calls take and return: frozen ``attrs`` values with exact ``Decimal`` figures
and aware times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from creditcore.billing.values import Tier
from creditcore.core.state import frozen_dict
from creditcore.errors import ValidationError
from creditcore.model import Block, Entry
from creditcore.values import parse_text

__all__ = [
    "ChargeResult",
    "EventStatus",
    "Invoice",
    "InvoicePage",
    "InvoicePreview",
    "InvoiceSettings",
    "IssueResult",
    "Line",
    "Meter",
    "MeterEvent",
    "Price",
    "PurchaseResult",
    "Quote",
    "RecordEventsResult",
    "UsagePage",
    "UsageRecord",
    "UsageResult",
    "UsageSummary",
    "Voucher",
]


@attrs.frozen(kw_only=True)
class Meter:
    """What a meter counts: the events named ``event_name``, aggregated by ``aggregation``
    (``sum | count | max | unique_count | latest``) over a period."""

    id: str
    """``mtr_…`` unless the caller named it."""
    name: str
    """What people call it (1 to 200 characters)."""
    event_name: str
    """The name of the events it counts, unique among meters."""
    aggregation: str
    """``sum``, ``count``, ``max``, ``unique_count`` or ``latest``."""
    dimensions: tuple[str, ...]
    """The dimensions its events may carry (up to 20 names); a summary can filter on them."""
    scale: int
    """The decimal places of its events' values."""
    description: str | None
    """Yours, as given."""
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    """Yours, as given."""
    created_at: datetime
    """When it was made."""


@attrs.frozen
class MeterEvent:
    """One usage event for :meth:`~creditcore.billing.meters.Meters.record`: checked there, as
    a whole batch, against its meter."""

    meter_id: str
    """The meter it is recorded to."""
    customer: str
    """The customer whose usage it is."""
    value: int | Decimal | str | None = None
    """The quantity, ``>= 0`` with at most the meter's scale: needed by ``sum``, ``max`` and
    ``latest``, ignored by ``count``, refused by ``unique_count``."""
    timestamp: datetime | None = attrs.field(default=None, kw_only=True)
    """When it happened (aware); default the call's ``at``."""
    event_id: str | None = attrs.field(default=None, kw_only=True)
    """Kept forever: the same id again is a duplicate (same fields) or a conflict."""
    unique_key: str | None = attrs.field(default=None, kw_only=True)
    """What a ``unique_count`` meter counts distinct values of."""
    dimensions: Mapping[str, str] | None = attrs.field(default=None, kw_only=True)
    """Values of the meter's dimensions, by name."""


@attrs.frozen(kw_only=True)
class EventStatus:
    """What :meth:`~creditcore.billing.meters.Meters.record` did with one event."""

    event_id: str
    """The event's id: the caller's, or the ``evt_…`` it was given."""
    status: str
    """``"created"`` or ``"duplicate"`` (an event seen before, with the same fields)."""


@attrs.frozen(kw_only=True)
class RecordEventsResult:
    """What :meth:`~creditcore.billing.meters.Meters.record` did with a batch."""

    results: tuple[EventStatus, ...]
    """One per event, in the order given."""
    created: int
    """How many events were written."""
    duplicates: int
    """How many were known already (same id, same fields): nothing written for them."""


@attrs.frozen(kw_only=True)
class UsageSummary:
    """A meter's aggregate over ``[start, end)``, from
    :meth:`~creditcore.billing.meters.Meters.summary`."""

    meter_id: str
    """The meter."""
    customer: str | None
    """The customer summed; ``None``: every customer."""
    aggregation: str
    """The meter's aggregation."""
    start: datetime
    """Where the span begins, inclusive (a ``date`` given becomes its local midnight)."""
    end: datetime
    """Where it ends, exclusive."""
    value: Decimal
    """The aggregate of the events in the span (0 without events)."""
    event_count: int
    """How many events it took in."""


@attrs.frozen(kw_only=True)
class Price:
    """What a meter's quantity costs in ``unit`` (for ``plan``, or every plan if ``None``)."""

    id: str
    """``prc_…`` unless the caller named it."""
    meter_id: str
    """The meter whose quantity it prices."""
    plan: str | None
    """The plan it prices for; ``None``: every plan without a price of its own."""
    model: str
    """``per_unit``, ``graduated``, ``volume`` or ``package``."""
    unit: str
    """The unit it charges in."""
    unit_price: Decimal | None
    """``per_unit``: the price of one unit of quantity; else ``None``."""
    tiers: tuple[Tier, ...] | None
    """``graduated`` and ``volume``: the tiers, ``up_to`` increasing, the last unbounded; else
    ``None``."""
    package_size: Decimal | None
    """``package``: the quantity a package holds; else ``None``."""
    package_price: Decimal | None
    """``package``: the price of each package begun; else ``None``."""
    free_units: Decimal
    """``package``: the quantity given before packages are counted; else 0."""
    created_at: datetime
    """When it was made."""


@attrs.frozen(kw_only=True)
class UsageResult:
    """What ``usage.record`` did: ``charged == burned + shortfall``; ``status`` is
    ``"skipped"`` (and ``op_id`` ``None``) when it charged nothing."""

    op_id: str | None = None
    """The burn's op; ``None`` when it charged nothing."""
    entries: tuple[Entry, ...] = ()
    """The burn's entries."""
    replayed: bool = False
    """True when ``request_id`` matched an earlier identical call."""
    status: str
    """``recorded``, or ``skipped`` when it charged nothing."""
    charged: Decimal
    """What the call charged: ``burned + shortfall``."""
    burned: Decimal
    """What credit paid."""
    shortfall: Decimal
    """What credit did not cover."""
    debt: Decimal
    """What of the shortfall became ledger debt (``overdraft="debt"``)."""
    event_id: str | None = None
    """The event a metered call recorded; ``None`` for priced usage."""


@attrs.frozen(kw_only=True)
class UsageRecord:
    """One ``usage.record`` call as ``usage.list`` shows it."""

    op_id: str | None
    """The burn's op; ``None`` when it charged nothing."""
    customer: str
    """The customer charged."""
    unit: str
    """The unit charged in."""
    status: str
    """``recorded``, or ``skipped`` when it charged nothing."""
    charged: Decimal
    """What the call charged: ``burned + shortfall``."""
    burned: Decimal
    """What credit paid."""
    shortfall: Decimal
    """What credit did not cover."""
    debt: Decimal
    """What of the shortfall became ledger debt."""
    meter_id: str | None
    """A metered call's meter; ``None`` for priced usage."""
    quantity: Decimal | None
    """A metered call's quantity; ``None`` for priced usage."""
    event_id: str | None
    """The event a metered call recorded; ``None`` for priced usage."""
    request_id: str | None
    """The call's ``request_id`` (its idempotency key), if given."""
    at: datetime
    """When the call was dated."""
    description: str | None
    """Yours, as given."""
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    """Yours, as given."""


@attrs.frozen(kw_only=True)
class UsagePage:
    """One page of ``usage.list``; pass ``next_cursor`` as ``after`` for the next (``None``
    at the end)."""

    items: tuple[UsageRecord, ...]
    """The usage records, oldest first."""
    next_cursor: str | None
    """Pass it as ``after`` for the next page; ``None`` on the last page."""


@attrs.frozen(kw_only=True)
class Line:
    """One line of an invoice: a meter's usage, a charge or a credit purchase. ``amount`` is
    its price rounded once; ``discount`` (a voucher's), ``tax`` and ``credit_applied`` (the
    credit its burn ``burn_op_id`` took, with the line's ``scopes``) follow from it."""

    id: str
    """``line_1``, ``line_2``, … in the invoice's order."""
    kind: str
    """``usage | charge | purchase``."""
    meter_id: str | None = None
    """A usage line's meter."""
    price_id: str | None = None
    """The price that priced a usage line."""
    product_id: str | None = None
    """A charge's product, if named."""
    description: str | None = None
    """A usage line's meter name, a charge's description, what a purchase bought."""
    quantity: Decimal | None = None
    """A usage line's quantity of its meter; a purchase's amount of credit."""
    amount: Decimal
    """Its price, rounded once, half up, to the unit's scale."""
    discount: Decimal
    """What the invoice's voucher took off it."""
    tax: Decimal
    """``tax_rate`` percent of ``amount - discount``, rounded half up."""
    credit_applied: Decimal
    """What credit paid of it (its burn ``burn_op_id``)."""
    scopes: frozenset[str] | None = None
    """The scope set its credit burn used (a usage line: ``meter:<meter_id>``)."""
    burn_op_id: str | None = None
    """The op of its credit burn; ``None`` if credit paid nothing."""


@attrs.frozen(kw_only=True)
class InvoicePreview:
    """What issuing an invoice at a time would write, without writing it:
    ``credit_allocations`` has, per line, the ``(block_id, amount)`` its burn would take."""

    customer: str
    """The customer billed."""
    unit: str
    """The unit it bills in."""
    start: datetime | None
    """Where the period begins, inclusive."""
    end: datetime | None
    """Where it ends, exclusive."""
    plan: str | None
    """The plan whose prices it uses; ``None``: the plan-less prices."""
    tax_rate: Decimal | None
    """The tax percentage of each line; ``None``: no tax."""
    lines: tuple[Line, ...]
    """A line per priced meter with usage not charged in advance."""
    subtotal: Decimal
    """The lines' amounts."""
    discount: Decimal
    """The lines' discounts."""
    tax: Decimal
    """The lines' tax."""
    total: Decimal
    """``subtotal - discount + tax``."""
    credit_applied: Decimal
    """What credit would pay."""
    amount_due: Decimal
    """``total - credit_applied``: what the app would collect."""
    voucher_id: str | None
    """The voucher that would discount it, if any."""
    credit_allocations: tuple[tuple[tuple[str, Decimal], ...], ...]
    """Per line, the ``(block_id, amount)`` its credit burn would take, in burn order."""


@attrs.frozen(kw_only=True)
class Invoice:
    """An invoice: ``kind`` ``period | charge | purchase``; ``status`` ``draft | issued |
    paid | void``. A draft's figures are an estimate (recomputed when it is issued) and it has
    no ``number``."""

    id: str
    """``inv_…`` unless the caller named it."""
    number: str | None
    """Taken at issue: the prefix and a gapless counter (``INV-0001``); ``None`` for a draft or a
    draft voided."""
    customer: str
    """The customer billed."""
    kind: str
    """``period``, ``charge`` or ``purchase``."""
    status: str
    """``draft``, ``issued``, ``paid`` or ``void``."""
    unit: str
    """The unit it bills in."""
    start: datetime | None
    """A period invoice's period start, inclusive; ``None`` for a charge or a purchase."""
    end: datetime | None
    """A period invoice's period end, exclusive; ``None`` for a charge or a purchase."""
    plan: str | None
    """The plan whose prices a period invoice uses."""
    tax_rate: Decimal | None
    """The tax percentage of each line; ``None``: no tax."""
    lines: tuple[Line, ...]
    """Its lines, in order."""
    subtotal: Decimal
    """The lines' amounts."""
    discount: Decimal
    """The lines' discounts."""
    tax: Decimal
    """The lines' tax."""
    total: Decimal
    """``subtotal - discount + tax``."""
    credit_applied: Decimal
    """What credit paid."""
    amount_due: Decimal
    """``total - credit_applied``: what the app collects."""
    voucher_id: str | None
    """The voucher that discounted it, if any."""
    memo: str | None
    """A purchase's memo (``InvoiceSettings.memo``)."""
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    """Yours, as given."""
    created_at: datetime
    """When it was made."""
    issued_at: datetime | None = None
    """When it was issued."""
    due_at: datetime | None = None
    """When payment is due: the issue, or for a purchase ``net_terms`` days after it."""
    paid_at: datetime | None = None
    """When it was paid."""
    voided_at: datetime | None = None
    """When it was voided."""
    payment_reference: str | None = None
    """The ``reference`` given to ``pay``; ``"credits"`` when credit paid it all at issue,
    ``"debt"`` when a charge's rest became debt."""


@attrs.frozen(kw_only=True)
class IssueResult:
    """What :meth:`~creditcore.billing.invoices.Invoices.issue` did."""

    invoice: Invoice
    """The invoice issued (``paid`` if nothing is due)."""
    entries: tuple[Entry, ...]
    """Every ledger entry the issue wrote (the lines' burns, and what they triggered)."""


@attrs.frozen(kw_only=True)
class InvoicePage:
    """One page of ``invoices.list``; pass ``next_cursor`` as ``after`` (``None`` at the end)."""

    items: tuple[Invoice, ...]
    """The invoices, in creation order."""
    next_cursor: str | None
    """Pass it as ``after`` for the next page; ``None`` on the last page."""


@attrs.frozen(kw_only=True)
class ChargeResult:
    """What ``charge`` did: its invoice (kind ``charge``), the voucher's ``discount``, the
    ``credit_applied`` by its burn, and what is left: ``amount_due`` on the invoice
    (``overdraft="invoice"``), or ``debt`` in the ledger (``"debt"``: nothing is then due)."""

    invoice: Invoice
    """The charge's invoice, issued (or paid)."""
    discount: Decimal
    """What the voucher took off."""
    credit_applied: Decimal
    """What credit paid."""
    amount_due: Decimal
    """What is due on the invoice (0 when the rest became debt)."""
    debt: Decimal
    """What became ledger debt (``overdraft="debt"``)."""
    voucher_id: str | None
    """The voucher that discounted it, if any."""
    entries: tuple[Entry, ...]
    """The ledger entries of its credit burn."""
    replayed: bool = False
    """True when ``idempotency_key`` matched an earlier identical call."""


def _net_terms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NET_TERMS:
        raise ValidationError("invoice_settings", f"net_terms: expected whole days 0 to {MAX_NET_TERMS}, got {value!r}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("invoice_settings", f"expected True or False, got {value!r}")
    return value


def _memo(value: object) -> str | None:
    try:
        return parse_text(value, "invoice_settings")
    except ValidationError as error:
        raise ValidationError("invoice_settings", f"memo: {error}") from None


MAX_NET_TERMS = 3650
"""The most days of payment terms a purchase's invoice takes (ten years)."""


@attrs.frozen
class InvoiceSettings:
    """How a credit purchase is invoiced (Orb's ``invoice_settings``): payment due
    ``net_terms`` days after issue, a ``memo``, marked paid at once, or the credit granted
    only once the invoice is paid (``require_payment``)."""

    net_terms: int = attrs.field(default=0, converter=_net_terms)
    """Days from issue to due date, 0 to 3,650."""
    memo: str | None = attrs.field(default=None, converter=_memo)
    """Text for the invoice, and the bought block's description."""
    mark_as_paid: bool = attrs.field(default=False, converter=_flag)
    """Pay the invoice at once."""
    require_payment: bool = attrs.field(default=False, converter=_flag)
    """Grant the credit only when the invoice is paid."""


@attrs.frozen(kw_only=True)
class PurchaseResult:
    """What ``purchase_credits`` did: its invoice (kind ``purchase``) and the block bought
    (``None`` until a payment-gated invoice is paid)."""

    invoice: Invoice
    """The purchase's invoice, issued (or paid)."""
    block: Block | None
    """The block bought; ``None`` until a payment-gated invoice is paid."""
    entries: tuple[Entry, ...]
    """The ledger entries of the grant (none before it is made)."""
    replayed: bool = False
    """True when ``idempotency_key`` matched an earlier identical call."""


@attrs.frozen(kw_only=True)
class Quote:
    """What ``quantity`` of a meter costs under the price that applies: ``exact``, and
    ``amount`` rounded once, half-up, to the unit's scale (as an invoice line)."""

    meter_id: str
    """The meter quoted."""
    price_id: str
    """The price that applies: the plan's, else the meter's plan-less one."""
    quantity: Decimal
    """The quantity quoted."""
    exact: Decimal
    """Its exact price, not rounded."""
    amount: Decimal
    """``exact`` rounded once, half up, to the price unit's scale."""


@attrs.frozen(kw_only=True)
class Voucher:
    """A percentage off a customer's charges and invoices, never credit: no block, not
    in ``balance()``. ``status`` is as at the read's ``at``: ``upcoming`` (before
    ``valid_from``), ``active``, ``used`` (a single-use voucher consumed by ``used_by``, an
    invoice id), ``expired`` (from ``valid_until``) or ``voided``; ``used_at``, ``used_by``
    and ``voided_at`` show only what had happened by then."""

    id: str
    """``vch_…`` unless the caller named it."""
    customer: str
    """The customer whose charges it discounts."""
    percent: Decimal
    """Exact, ``0 < percent <= 100``, at most 4 decimal places."""
    scope: frozenset[str] | None
    """``None``: any charge; else charges whose scope set intersects it."""
    valid_from: datetime
    """When it starts to apply."""
    valid_until: datetime | None
    """When it stops applying; ``None``: never."""
    single_use: bool
    """Used up by the first charge or issued invoice it discounts (unused again if that invoice is
    voided)."""
    status: str
    """``upcoming``, ``active``, ``used``, ``expired`` or ``voided``, as at the read's ``at``."""
    used_at: datetime | None
    """When a single-use voucher was used."""
    used_by: str | None
    """The invoice that used it."""
    voided_at: datetime | None
    """When it was voided."""
    description: str | None
    """Yours, as given."""
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    """Yours, as given."""
    created_at: datetime
    """When it was made."""

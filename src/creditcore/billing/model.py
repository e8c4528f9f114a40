"""What billing's calls take and return (SPEC_BILLING B2, B3): frozen ``attrs`` values with
exact ``Decimal`` figures and aware times."""

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
    name: str
    event_name: str
    aggregation: str
    dimensions: tuple[str, ...]
    scale: int
    """The decimal places of its events' values."""
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    created_at: datetime


@attrs.frozen
class MeterEvent:
    """One usage event for :meth:`~creditcore.billing.meters.Meters.record`: checked there, as
    a whole batch, against its meter."""

    meter_id: str
    customer: str
    value: int | Decimal | str | None = None
    timestamp: datetime | None = attrs.field(default=None, kw_only=True)
    """When it happened (aware); default the call's ``at``."""
    event_id: str | None = attrs.field(default=None, kw_only=True)
    """Kept forever: the same id again is a duplicate (same fields) or a conflict."""
    unique_key: str | None = attrs.field(default=None, kw_only=True)
    """What a ``unique_count`` meter counts distinct values of."""
    dimensions: Mapping[str, str] | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(kw_only=True)
class EventStatus:
    event_id: str
    status: str
    """``"created"`` or ``"duplicate"`` (an event seen before, with the same fields)."""


@attrs.frozen(kw_only=True)
class RecordEventsResult:
    results: tuple[EventStatus, ...]
    """One per event, in the order given."""
    created: int
    duplicates: int


@attrs.frozen(kw_only=True)
class UsageSummary:
    meter_id: str
    customer: str | None
    aggregation: str
    start: datetime
    end: datetime
    value: Decimal
    event_count: int


@attrs.frozen(kw_only=True)
class Price:
    """What a meter's quantity costs in ``unit`` (for ``plan``, or every plan if ``None``)."""

    id: str
    meter_id: str
    plan: str | None
    model: str
    unit: str
    unit_price: Decimal | None
    tiers: tuple[Tier, ...] | None
    package_size: Decimal | None
    package_price: Decimal | None
    free_units: Decimal
    created_at: datetime


@attrs.frozen(kw_only=True)
class UsageResult:
    """What ``usage.record`` did: ``charged == burned + shortfall``; ``status`` is
    ``"skipped"`` (and ``op_id`` ``None``) when it charged nothing."""

    op_id: str | None = None
    entries: tuple[Entry, ...] = ()
    replayed: bool = False
    status: str
    charged: Decimal
    burned: Decimal
    shortfall: Decimal
    debt: Decimal
    event_id: str | None = None


@attrs.frozen(kw_only=True)
class UsageRecord:
    """One ``usage.record`` call as ``usage.list`` shows it."""

    op_id: str | None
    customer: str
    unit: str
    status: str
    charged: Decimal
    burned: Decimal
    shortfall: Decimal
    debt: Decimal
    meter_id: str | None
    quantity: Decimal | None
    event_id: str | None
    request_id: str | None
    at: datetime
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)


@attrs.frozen(kw_only=True)
class UsagePage:
    """One page of ``usage.list``; pass ``next_cursor`` as ``after`` for the next (``None``
    at the end)."""

    items: tuple[UsageRecord, ...]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class Line:
    """One line of an invoice: a meter's usage, a charge or a credit purchase. ``amount`` is
    its price rounded once; ``discount`` (a voucher's), ``tax`` and ``credit_applied`` (the
    credit its burn ``burn_op_id`` took, with the line's ``scopes``) follow from it."""

    id: str
    kind: str
    """``usage | charge | purchase``."""
    meter_id: str | None = None
    price_id: str | None = None
    product_id: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    amount: Decimal
    discount: Decimal
    tax: Decimal
    credit_applied: Decimal
    scopes: frozenset[str] | None = None
    burn_op_id: str | None = None


@attrs.frozen(kw_only=True)
class InvoicePreview:
    """What issuing an invoice at a time would write, without writing it:
    ``credit_allocations`` has, per line, the ``(block_id, amount)`` its burn would take."""

    customer: str
    unit: str
    start: datetime | None
    end: datetime | None
    plan: str | None
    tax_rate: Decimal | None
    lines: tuple[Line, ...]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    credit_applied: Decimal
    amount_due: Decimal
    voucher_id: str | None
    credit_allocations: tuple[tuple[tuple[str, Decimal], ...], ...]


@attrs.frozen(kw_only=True)
class Invoice:
    """An invoice: ``kind`` ``period | charge | purchase``; ``status`` ``draft | issued |
    paid | void``. A draft's figures are an estimate (recomputed when it is issued) and it has
    no ``number``."""

    id: str
    number: str | None
    customer: str
    kind: str
    status: str
    unit: str
    start: datetime | None
    end: datetime | None
    plan: str | None
    tax_rate: Decimal | None
    lines: tuple[Line, ...]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    credit_applied: Decimal
    amount_due: Decimal
    voucher_id: str | None
    memo: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    created_at: datetime
    issued_at: datetime | None = None
    due_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    payment_reference: str | None = None


@attrs.frozen(kw_only=True)
class IssueResult:
    invoice: Invoice
    entries: tuple[Entry, ...]
    """Every ledger entry the issue wrote (the lines' burns, and what they triggered)."""


@attrs.frozen(kw_only=True)
class InvoicePage:
    """One page of ``invoices.list``; pass ``next_cursor`` as ``after`` (``None`` at the end)."""

    items: tuple[Invoice, ...]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class ChargeResult:
    """What ``charge`` did: its invoice (kind ``charge``), the voucher's ``discount``, the
    ``credit_applied`` by its burn, and what is left: ``amount_due`` on the invoice
    (``overdraft="invoice"``), or ``debt`` in the ledger (``"debt"``: nothing is then due)."""

    invoice: Invoice
    discount: Decimal
    credit_applied: Decimal
    amount_due: Decimal
    debt: Decimal
    voucher_id: str | None
    entries: tuple[Entry, ...]
    replayed: bool = False


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


#: The most days of payment terms a purchase's invoice takes (ten years).
MAX_NET_TERMS = 3650


@attrs.frozen
class InvoiceSettings:
    """How a credit purchase is invoiced (Orb's ``invoice_settings``): payment due
    ``net_terms`` days after issue, a ``memo``, marked paid at once, or the credit granted
    only once the invoice is paid (``require_payment``)."""

    net_terms: int = attrs.field(default=0, converter=_net_terms)
    memo: str | None = attrs.field(default=None, converter=_memo)
    mark_as_paid: bool = attrs.field(default=False, converter=_flag)
    require_payment: bool = attrs.field(default=False, converter=_flag)


@attrs.frozen(kw_only=True)
class PurchaseResult:
    """What ``purchase_credits`` did: its invoice (kind ``purchase``) and the block bought
    (``None`` until a payment-gated invoice is paid)."""

    invoice: Invoice
    block: Block | None
    entries: tuple[Entry, ...]
    replayed: bool = False


@attrs.frozen(kw_only=True)
class Quote:
    """What ``quantity`` of a meter costs under the price that applies: ``exact``, and
    ``amount`` rounded once, half-up, to the unit's scale (as an invoice line)."""

    meter_id: str
    price_id: str
    quantity: Decimal
    exact: Decimal
    amount: Decimal


@attrs.frozen(kw_only=True)
class Voucher:
    """A percentage off a customer's charges (SPEC_BILLING B5), never credit: no block, not
    in ``balance()``. ``status`` is as at the read's ``at``: ``upcoming`` (before
    ``valid_from``), ``active``, ``used`` (a single-use voucher consumed by ``used_by``, an
    invoice id), ``expired`` (from ``valid_until``) or ``voided``; ``used_at``, ``used_by``
    and ``voided_at`` show only what had happened by then."""

    id: str
    customer: str
    percent: Decimal
    """Exact, ``0 < percent <= 100``, at most 4 decimal places."""
    scope: frozenset[str] | None
    """``None``: any charge; else charges whose scope set intersects it."""
    valid_from: datetime
    valid_until: datetime | None
    single_use: bool
    status: str
    used_at: datetime | None
    used_by: str | None
    voided_at: datetime | None
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    created_at: datetime

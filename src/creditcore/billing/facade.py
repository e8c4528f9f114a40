"""The :class:`Billing` facade: billing's namespaces over one ``Ledger``, sharing its store, its
transactions and its ``atomic()`` batches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from creditcore.billing.charges import Charges
from creditcore.billing.invoices import Invoices
from creditcore.billing.meters import Meters
from creditcore.billing.periods import parse_timezone
from creditcore.billing.prices import Prices
from creditcore.billing.starter import STARTER_AMOUNT, STARTER_LIFETIME, STARTER_UNIT
from creditcore.billing.starter import grant_starter_credit as _grant_starter_credit
from creditcore.billing.usage import Usage
from creditcore.billing.vouchers import Vouchers
from creditcore.errors import ValidationError

if TYPE_CHECKING:
    from creditcore.ledger import Ledger
    from creditcore.model import GrantResult

__all__ = ["MAX_INVOICE_PREFIX", "MAX_NUMBER_WIDTH", "Billing"]

MAX_INVOICE_PREFIX = 20
"""The longest ``invoice_prefix``, in characters."""
MAX_NUMBER_WIDTH = 12
"""The widest ``invoice_number_width``, in digits."""


class Billing:
    """Usage turned into money on top of a :class:`~creditcore.Ledger`.

    >>> from creditcore import Ledger
    >>> from creditcore.billing import Billing, MeterEvent
    >>> billing = Billing(Ledger.memory(units={"usd": 2}))
    >>> meter = billing.meters.create("API calls", "api_call", meter_id="calls")
    >>> price = billing.prices.create("calls", unit="usd", unit_price="0.002")
    >>> billing.prices.quote("calls", 1250).amount
    Decimal('2.50')
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        timezone: str = "UTC",
        invoice_prefix: str = "INV-",
        invoice_number_width: int = 4,
    ) -> None:
        zone = parse_timezone(timezone)
        if not isinstance(invoice_prefix, str) or len(invoice_prefix) > MAX_INVOICE_PREFIX:
            raise ValidationError("invoice_prefix", f"expected a str of 0 to {MAX_INVOICE_PREFIX} characters")
        if (
            isinstance(invoice_number_width, bool)
            or not isinstance(invoice_number_width, int)
            or not 1 <= invoice_number_width <= MAX_NUMBER_WIDTH
        ):
            raise ValidationError(
                "invoice_number_width", f"expected a whole number 1 to {MAX_NUMBER_WIDTH}, got {invoice_number_width!r}"
            )
        self.ledger = ledger
        """The ledger underneath: its store, transactions and ``atomic()`` batches are billing's."""
        self.timezone = zone
        """The IANA zone of customers without one of their own (billing periods, dates)."""
        self.invoice_prefix = invoice_prefix
        """What invoice numbers start with (``INV-``)."""
        self.invoice_number_width = invoice_number_width
        """The digits of an invoice number, zero-padded (``INV-0001``)."""
        ctx = ledger._ctx
        self.meters = Meters(ctx, zone)
        """Meters, their events and summaries (:class:`~creditcore.billing.meters.Meters`)."""
        self.prices = Prices(ctx, zone)
        """What a meter's quantity costs (:class:`~creditcore.billing.prices.Prices`)."""
        self.usage = Usage(ctx, zone)
        """Usage charged as it happens (:class:`~creditcore.billing.usage.Usage`)."""
        self.invoices = Invoices(ctx, zone, invoice_prefix, invoice_number_width)
        """Invoices: previews, drafts, issues, payments and voids
        (:class:`~creditcore.billing.invoices.Invoices`)."""
        charges = Charges(self.invoices)
        self.charge = charges.charge
        """A one-off charge, invoiced at once
        (:meth:`~creditcore.billing.charges.Charges.charge`)."""
        self.charge_product = charges.charge_product
        """A charge of a product (:meth:`~creditcore.billing.charges.Charges.charge_product`)."""
        self.purchase_credits = charges.purchase_credits
        """Credit sold with an invoice
        (:meth:`~creditcore.billing.charges.Charges.purchase_credits`)."""
        self.vouchers = Vouchers(ctx, zone)
        """Percentages off a customer's charges (:class:`~creditcore.billing.vouchers.Vouchers`)."""

    def grant_starter_credit(
        self,
        customer: str,
        *,
        amount: int | Decimal | str = STARTER_AMOUNT,
        unit: str = STARTER_UNIT,
        lifetime: str = STARTER_LIFETIME,
        at: datetime | None = None,
    ) -> GrantResult:
        """The customer's starter credit (Hanzo's): a promotional grant expiring ``lifetime``
        after ``at``, at most once per customer (see :mod:`creditcore.billing.starter`)."""
        return _grant_starter_credit(
            self.ledger, customer, amount=amount, unit=unit, lifetime=lifetime, at=at, timezone=self.timezone
        )

"""The :class:`Billing` facade (SPEC_BILLING B1): billing's namespaces over one ``Ledger``,
sharing its store, its transactions and its ``atomic()`` batches."""

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
MAX_NUMBER_WIDTH = 12


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
        self.timezone = zone
        self.invoice_prefix = invoice_prefix
        self.invoice_number_width = invoice_number_width
        ctx = ledger._ctx
        self.meters = Meters(ctx, zone)
        self.prices = Prices(ctx, zone)
        self.usage = Usage(ctx, zone)
        self.invoices = Invoices(ctx, zone, invoice_prefix, invoice_number_width)
        charges = Charges(self.invoices)
        self.charge = charges.charge
        self.charge_product = charges.charge_product
        self.purchase_credits = charges.purchase_credits
        self.vouchers = Vouchers(ctx, zone)

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

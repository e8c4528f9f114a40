"""The billing commands on the ledger of ``--db`` (or ``CREDITCORE_DB``): a
:class:`~creditcore.billing.Billing` over the same SQLite file or PostgreSQL URL the other
commands open, in the same transactions.

- ``meter`` create, list, record, summary; ``price`` create, list, delete, quote; ``usage``
  record, list (:mod:`~creditcore.cli.billing_meters`);
- ``voucher`` create, list, void; ``invoice`` preview, create, issue, pay, void, get, list
  (:mod:`~creditcore.cli.billing_invoices`);
- ``charge``, ``charge-product``, ``purchase`` and ``starter-credit`` (here).

Decisions, shared by every billing command:

- **Billing settings are per-command options with environment variables**, as ``--db`` is:
  ``--timezone`` (``CREDITCORE_TIMEZONE``, default UTC) on the commands that read a date or a
  billing period (``meter summary``, ``usage record``, ``voucher create``, ``invoice preview``
  and ``create``, ``starter-credit``); ``--invoice-prefix`` and ``--invoice-number-width``
  (``CREDITCORE_INVOICE_PREFIX``, ``CREDITCORE_INVOICE_NUMBER_WIDTH``; default ``INV-`` and 4)
  on the commands that number an invoice (``invoice issue``, ``charge``, ``charge-product``,
  ``purchase``). Set them once in the environment; the number counter itself is the store's.
- **A date alone** in ``--start``, ``--end``, ``--valid-from`` and ``--valid-until`` is passed
  as a date: its midnight in the customer's zone (else ``--timezone``), as the API reads a
  ``date``. Every other time (``--at``, ``--since``, ...) is an ISO 8601 time, UTC without an
  offset, as in the other commands.
- **Units**: a price, usage, a charge or a starter credit in a unit the ledger has not seen
  takes ``--scale N`` to declare it (as ``grant --scale``); ``purchase`` has
  ``--invoice-unit-scale`` for its invoice's unit. The declaration commits with the write, or
  not at all.
- **charge-product is its own command** (``billing.charge_product``: the product's charge,
  whose scope set also reaches credit for ``usage:products``), while ``charge --product-id``
  is ``billing.charge`` naming a product (scope ``product:<id>`` only).
- A refusal (any :class:`~creditcore.errors.CreditError`) exits 1 with one line; a usage
  mistake (a bad ``--tier``, an unreadable ``--event`` or ``--file``) exits 2 with one line.
"""

from __future__ import annotations

from datetime import datetime

import click

from creditcore.billing import InvoiceSettings
from creditcore.billing.charges import CHARGE_OVERDRAFTS
from creditcore.billing.model import ChargeResult
from creditcore.billing.starter import STARTER_AMOUNT, STARTER_LIFETIME, STARTER_UNIT
from creditcore.cli.billing_common import (
    KEY,
    declare,
    numbering_options,
    open_billing,
    scale_option,
    show_entries,
    show_invoice,
    zone_option,
)
from creditcore.cli.billing_invoices import invoice, voucher
from creditcore.cli.billing_meters import meter, price, usage
from creditcore.cli.common import ISO, admin, print_json, show_result

__all__ = [
    "BILLING_COMMANDS", "charge", "charge_product", "invoice", "meter", "price", "purchase", "starter_credit", "usage",
    "voucher",
]  # fmt: skip

_OVERDRAFT = click.option(
    "--overdraft", type=click.Choice(CHARGE_OVERDRAFTS), default="invoice", show_default=True,
    help="What credit does not cover: due on the invoice, ledger debt (the invoice paid), or refused.",
)  # fmt: skip


def _show_charge(r: ChargeResult, customer: str, as_json: bool) -> None:
    if as_json:
        print_json(r)
        return
    i = r.invoice
    replayed = " (replayed: this key was used before, nothing new was written)" if r.replayed else ""
    show_invoice(
        i,
        f"charged {customer} {i.subtotal} {i.unit} on invoice {i.id} ({i.number}): discount {r.discount}, credit "
        f"{r.credit_applied}, due {r.amount_due}, debt {r.debt}{replayed}",
    )
    show_entries(r.entries)


@click.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", required=True, help="The charge's unit (see --scale).")
@scale_option()
@click.option("--scope", "scopes", multiple=True, help="The charge's scope: credit of any of these pays (repeatable).")
@click.option("--product-id", help="The product charged for: adds the scope product:<id> (see also charge-product).")
@click.option("--description")
@_OVERDRAFT
@KEY
@click.option("--at", type=ISO, help="Date the charge (default: now).")
@numbering_options
@admin
def charge(
    customer: str, amount: str, unit: str, scale: int | None, scopes: tuple[str, ...], product_id: str | None,
    description: str | None, overdraft: str, idempotency_key: str | None, at: datetime | None, invoice_prefix: str,
    invoice_number_width: int, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Charge CUSTOMER AMOUNT at once: an invoice of one line, less the best voucher, paid by
    credit as far as it goes; the rest by --overdraft.

    For a product's charge that may also use credit for products (usage:products), use
    charge-product; --product-id here only adds the scope product:<id>.

    \b
    Example:
      creditcore charge ada 12.50 --unit usd --scope realm:berlin --overdraft debt --idempotency-key trip-881
    """
    with (
        open_billing(db, invoice_prefix=invoice_prefix, invoice_number_width=invoice_number_width) as billing,
        billing.ledger.atomic(),
    ):
        declare(billing.ledger, unit, scale)
        r = billing.charge(
            customer, amount, unit=unit, scope=scopes or None, product_id=product_id, description=description,
            overdraft=overdraft, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
    _show_charge(r, customer, as_json)


@click.command("charge-product")
@click.argument("customer")
@click.argument("product_id")
@click.argument("amount")
@click.option("--unit", required=True, help="The charge's unit (see --scale).")
@scale_option()
@click.option("--scope", "scopes", multiple=True, help="More scope besides usage:products (repeatable).")
@click.option("--description")
@_OVERDRAFT
@KEY
@click.option("--at", type=ISO, help="Date the charge (default: now).")
@numbering_options
@admin
def charge_product(
    customer: str, product_id: str, amount: str, unit: str, scale: int | None, scopes: tuple[str, ...],
    description: str | None, overdraft: str, idempotency_key: str | None, at: datetime | None, invoice_prefix: str,
    invoice_number_width: int, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Charge CUSTOMER AMOUNT for PRODUCT_ID (Aima's chargeProduct): charge with the scope
    set --scope + usage:products + product:PRODUCT_ID.

    \b
    Example:
      creditcore charge-product ada helmet 3 --unit usd --scope realm:berlin/usage:products
    """
    with (
        open_billing(db, invoice_prefix=invoice_prefix, invoice_number_width=invoice_number_width) as billing,
        billing.ledger.atomic(),
    ):
        declare(billing.ledger, unit, scale)
        r = billing.charge_product(
            customer, product_id, amount, unit=unit, scope=scopes or None, description=description,
            overdraft=overdraft, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
    _show_charge(r, customer, as_json)


@click.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--cost-basis", required=True, help="The price of one credit in --invoice-unit, e.g. 0.01.")
@click.option("--invoice-unit", default="usd", show_default=True, help="The invoice's unit.")
@click.option("--invoice-unit-scale", type=int, help="Declare --invoice-unit with this many places if it is new.")
@click.option("--net-terms", type=int, default=0, show_default=True, help="Payment is due this many days after issue.")
@click.option("--memo", help="The invoice's memo (also the block's description).")
@click.option("--mark-as-paid", is_flag=True, help="The invoice is paid at once.")
@click.option("--require-payment", is_flag=True, help="Grant the credit only once the invoice is paid (invoice pay).")
@click.option("--unit", default="credits", show_default=True, help="The unit of the credit bought.")
@click.option("--expires-at", type=ISO, help="When the credit bought expires (default: never).")
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--scope", "scopes", multiple=True, help="Only burns of this scope may use it (repeatable).")
@KEY
@click.option("--at", type=ISO, help="Date the purchase (default: now).")
@numbering_options
@admin
def purchase(
    customer: str, amount: str, cost_basis: str, invoice_unit: str, invoice_unit_scale: int | None, net_terms: int,
    memo: str | None, mark_as_paid: bool, require_payment: bool, unit: str, expires_at: datetime | None,
    priority: int, scopes: tuple[str, ...], idempotency_key: str | None, at: datetime | None, invoice_prefix: str,
    invoice_number_width: int, db: str, as_json: bool,
) -> None:  # fmt: skip
    """CUSTOMER buys AMOUNT of paid credit at --cost-basis each: an invoice issued at once,
    the credit granted now (or, with --require-payment, when the invoice is paid).

    \b
    Example:
      creditcore purchase ada 1000 --cost-basis 0.01 --invoice-unit-scale 2 --net-terms 30 --memo "Top-up"
    """
    with (
        open_billing(db, invoice_prefix=invoice_prefix, invoice_number_width=invoice_number_width) as billing,
        billing.ledger.atomic(),
    ):
        declare(billing.ledger, invoice_unit, invoice_unit_scale)
        settings = InvoiceSettings(
            net_terms=net_terms, memo=memo, mark_as_paid=mark_as_paid, require_payment=require_payment
        )
        r = billing.purchase_credits(
            customer, amount, cost_basis=cost_basis, invoice_unit=invoice_unit, invoice_settings=settings, unit=unit,
            expires_at=expires_at, priority=priority, scope=scopes or None, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
    if as_json:
        print_json(r)
        return
    i = r.invoice
    granted = f"granted as block {r.block.id}" if r.block is not None else "granted once the invoice is paid"
    replayed = " (replayed: this key was used before, nothing new was written)" if r.replayed else ""
    show_invoice(
        i, f"{customer} bought {amount} {unit} on invoice {i.id} ({i.number}, {i.status}): {granted}{replayed}"
    )
    show_entries(r.entries)


@click.command("starter-credit")
@click.argument("customer")
@click.option("--amount", default=STARTER_AMOUNT, show_default=True)
@click.option("--unit", default=STARTER_UNIT, show_default=True, help="A declared unit (see --scale).")
@scale_option()
@click.option("--lifetime", default=STARTER_LIFETIME, show_default=True, help='How long it lasts, e.g. "1 month".')
@click.option("--at", type=ISO, help="Date the grant (default: now).")
@zone_option
@admin
def starter_credit(
    customer: str, amount: str, unit: str, scale: int | None, lifetime: str, at: datetime | None, timezone: str,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """Grant CUSTOMER's starter credit: promotional, expiring --lifetime later, at most once
    per customer (again with the same arguments: replayed).

    \b
    Example:
      creditcore starter-credit ada --scale 2
    """
    with open_billing(db, timezone=timezone) as billing, billing.ledger.atomic():
        declare(billing.ledger, unit, scale)
        r = billing.grant_starter_credit(customer, amount=amount, unit=unit, lifetime=lifetime, at=at)
    expiry = f", expiring {r.block.expires_at:%Y-%m-%d %H:%M} UTC" if r.block.expires_at else ""
    show_result(r, f"granted {customer} a starter credit of {r.block.amount} {r.block.unit} as block {r.block.id}"
                f"{expiry}", as_json)  # fmt: skip


#: Every billing command, for ``creditcore.cli`` to register.
BILLING_COMMANDS: tuple[click.Command, ...] = (
    meter, price, usage, voucher, invoice, charge, charge_product, purchase, starter_credit,
)  # fmt: skip

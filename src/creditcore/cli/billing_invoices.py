"""``voucher`` (create, get, list, void) and ``invoice`` (preview, create, issue, pay, void, get,
list): vouchers and invoices on the ledger of ``--db``.

A period's ``--start`` and ``--end`` take a date alone (its midnight in the customer's zone,
else ``--timezone``) or an ISO 8601 time; ``invoice issue`` numbers the invoice with
``--invoice-prefix`` and ``--invoice-number-width`` (or their environment variables).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import click
from rich.table import Table

from creditcore.billing.model import Voucher
from creditcore.cli.billing_common import (
    AS_OF,
    AT,
    DAY_OR_TIME,
    KEY,
    invoices_table,
    names,
    numbering_options,
    open_billing,
    show_entries,
    show_invoice,
    show_preview,
    when,
    zone_option,
)
from creditcore.cli.common import ISO, Aliased, admin, console, metadata_pairs, print_json

__all__ = ["invoice", "voucher"]

STATUSES = ("draft", "issued", "paid", "void")

# -- voucher -------------------------------------------------------------------------------------


def _voucher_table(vouchers: Iterable[Voucher]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "voucher", "customer", "percent", "status", "scope", "valid from (UTC)", "valid until (UTC)", "single use",
        "used by", "description",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name == "percent" else "left", no_wrap=name == "voucher")
    for v in vouchers:
        table.add_row(
            v.id, v.customer, f"{v.percent}%", v.status, names(v.scope, "any"), when(v.valid_from),
            when(v.valid_until) or "never", "yes" if v.single_use else "no", v.used_by or "", v.description or "",
        )  # fmt: skip
    return table


@click.group()
def voucher() -> None:
    """Percentages off a customer's charges and invoices (never credit): create, get, list,
    void.

    \b
    Example:
      creditcore voucher create ada 20 --scope trip --single-use
    """


@voucher.command("create")
@click.argument("customer")
@click.argument("percent")
@click.option("--scope", "scopes", multiple=True, help="Only charges of this scope (repeatable; default: any charge).")
@click.option("--valid-from", type=DAY_OR_TIME, help="Usable from this time (default: --at).")
@click.option("--valid-until", type=DAY_OR_TIME, help="Usable until before this time (default: no end).")
@click.option("--single-use", is_flag=True, help="The first charge or issued invoice it discounts uses it up.")
@click.option("--voucher-id", help="Your id for the voucher (default: vch_...); repeating it replays.")
@click.option("--description")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--at", type=ISO, help=AT)
@zone_option
@admin
def create_voucher(
    customer: str, percent: str, scopes: tuple[str, ...], valid_from: date | None, valid_until: date | None,
    single_use: bool, voucher_id: str | None, description: str | None, metadata: tuple[str, ...],
    at: datetime | None, timezone: str, db: str, as_json: bool,
) -> None:  # fmt: skip
    """PERCENT off CUSTOMER's charges (0 < PERCENT <= 100); one voucher per charge or
    invoice, the best one.

    \b
    Example:
      creditcore voucher create ada 20 --scope trip --valid-until 2026-02-01 --single-use
    """
    with open_billing(db, timezone=timezone) as billing:
        found = billing.vouchers.create(
            customer, percent, scope=scopes or None, valid_from=valid_from, valid_until=valid_until,
            single_use=single_use, voucher_id=voucher_id, description=description,
            metadata=metadata_pairs(metadata) or None, at=at,
        )  # fmt: skip
        if as_json:
            print_json(found)
        else:
            console().print(_voucher_table([found]))


@voucher.command("get")
@click.argument("voucher_id")
@click.option("--at", type=ISO, help=AS_OF)
@admin
def get_voucher(voucher_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """One voucher, whatever its status (exit 1 if unknown).

    \b
    Example:
      creditcore voucher get vch_01a2304b83657646aa05a3478176146b --json
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.vouchers.get(voucher_id, at=at)
    if as_json:
        print_json(found)
    else:
        console().print(_voucher_table([found]))


@voucher.command("list")
@click.argument("customer")
@click.option(
    "--include-inactive", "--all", "include_inactive", is_flag=True, cls=Aliased, aliases=("--all",),
    help="Also upcoming, used, expired and voided vouchers.",
)  # fmt: skip
@click.option("--at", type=ISO, help=AS_OF)
@admin
def list_vouchers(customer: str, include_inactive: bool, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's active vouchers (all with --include-inactive), in creation order.

    \b
    Example:
      creditcore voucher list ada --include-inactive
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.vouchers.list(customer, include_inactive=include_inactive, at=at)
        if as_json:
            print_json(found)
        elif not found:
            console().print(f"{customer} has no {'' if include_inactive else 'active '}vouchers")
        else:
            console().print(_voucher_table(found))


@voucher.command("void")
@click.argument("voucher_id")
@click.option("--at", type=ISO, help=AT)
@admin
def void_voucher(voucher_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Void an upcoming or active voucher (a voided one again: unchanged).

    \b
    Example:
      creditcore voucher void vch_01a2304b83657646aa05a3478176146b
    """
    with open_billing(db) as billing:
        found = billing.vouchers.void(voucher_id, at=at)
        if as_json:
            print_json(found)
        else:
            console().print(_voucher_table([found]))


# -- invoice -------------------------------------------------------------------------------------


@click.group()
def invoice() -> None:
    """Period invoices of metered usage: preview, create, issue, pay, void, get, list.

    \b
    Example:
      creditcore invoice preview ada --start 2026-01-01 --end 2026-02-01
    """


_START = click.option("--start", type=DAY_OR_TIME, required=True, help="The period's start (a date: local midnight).")
_END = click.option("--end", type=DAY_OR_TIME, required=True, help="The period's end, excluded (a date: its midnight).")
_UNIT = click.option("--unit", help="The invoice's unit (default: the one unit the meters' prices share).")
_PLAN = click.option("--plan", help="Price usage with this plan's prices (default: those without a plan).")
_TAX = click.option("--tax-rate", help="Tax in percent (0-100, up to 4 places) on each line after its discount.")


@invoice.command("preview")
@click.argument("customer")
@_START
@_END
@_UNIT
@_PLAN
@_TAX
@click.option("--at", type=ISO, help="What issuing at this time would write (default: now).")
@zone_option
@admin
def preview(
    customer: str, start: date, end: date, unit: str | None, plan: str | None, tax_rate: str | None,
    at: datetime | None, timezone: str, db: str, as_json: bool,
) -> None:  # fmt: skip
    """What CUSTOMER's invoice for [--start, --end) would be if issued now; writes nothing.

    \b
    Example:
      creditcore invoice preview ada --start 2026-01-01 --end 2026-02-01 --tax-rate 19
    """
    with open_billing(db, read_only=True, timezone=timezone) as billing:
        # start and end take a date too (local midnight), though typed as datetimes
        found = billing.invoices.preview(
            customer, start=start, end=end, unit=unit, plan=plan, tax_rate=tax_rate,
            at=at,
        )  # fmt: skip
        if as_json:
            print_json(found)
        else:
            show_preview(found)


@invoice.command("create")
@click.argument("customer")
@_START
@_END
@_UNIT
@_PLAN
@_TAX
@click.option("--invoice-id", help="Your id for the invoice (default: inv_...); repeating it replays.")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable).")
@KEY
@click.option("--at", type=ISO, help=AT)
@zone_option
@admin
def create_invoice(
    customer: str, start: date, end: date, unit: str | None, plan: str | None, tax_rate: str | None,
    invoice_id: str | None, metadata: tuple[str, ...], idempotency_key: str | None, at: datetime | None,
    timezone: str, db: str, as_json: bool,
) -> None:  # fmt: skip
    """A draft invoice of CUSTOMER's usage in [--start, --end): its figures an estimate until
    it is issued.

    \b
    Example:
      creditcore invoice create ada --start 2026-01-01 --end 2026-02-01 --invoice-id ada-2026-01
    """
    with open_billing(db, timezone=timezone) as billing:
        found = billing.invoices.create(
            customer, start=start, end=end, unit=unit, plan=plan, tax_rate=tax_rate,
            invoice_id=invoice_id, metadata=metadata_pairs(metadata) or None, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
        if as_json:
            print_json(found)
        else:
            show_invoice(found, f"draft invoice {found.id} for {found.customer}: {found.total} {found.unit} (estimate)")


@invoice.command("issue")
@click.argument("invoice_id")
@click.option("--at", type=ISO, help="Date the issue (default: now).")
@numbering_options
@admin
def issue(
    invoice_id: str, at: datetime | None, invoice_prefix: str, invoice_number_width: int, db: str, as_json: bool
) -> None:
    """Issue a draft: recompute it, apply credit line by line, take the next number (paid at
    once if nothing is due).

    \b
    Example:
      creditcore invoice issue ada-2026-01 --invoice-prefix ACME- --invoice-number-width 6
    """
    with open_billing(db, invoice_prefix=invoice_prefix, invoice_number_width=invoice_number_width) as billing:
        r = billing.invoices.issue(invoice_id, at=at)
        if as_json:
            print_json(r)
            return
        i = r.invoice
        show_invoice(i, f"issued invoice {i.id} as {i.number}: {i.status}, amount due {i.amount_due} {i.unit}")
        show_entries(r.entries)


@invoice.command("pay")
@click.argument("invoice_id")
@click.option("--reference", help="Your payment's reference, e.g. a payment provider's id.")
@click.option("--at", type=ISO, help="Date the payment (default: now).")
@admin
def pay(invoice_id: str, reference: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """Mark an issued invoice paid (a purchase that required payment grants its credit now).

    \b
    Example:
      creditcore invoice pay ada-2026-01 --reference pi_3NcXk2
    """
    with open_billing(db) as billing:
        found = billing.invoices.pay(invoice_id, reference=reference, at=at)
        if as_json:
            print_json(found)
        else:
            show_invoice(found, f"invoice {found.id} ({found.number}) is paid")


@invoice.command("void")
@click.argument("invoice_id")
@click.option("--at", type=ISO, help=AT)
@admin
def void_invoice(invoice_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Void a draft or issued invoice; an issued one gives back the credit it applied and its
    single-use voucher.

    \b
    Example:
      creditcore invoice void ada-2026-01
    """
    with open_billing(db) as billing:
        found = billing.invoices.void(invoice_id, at=at)
        if as_json:
            print_json(found)
        else:
            show_invoice(found, f"invoice {found.id} is void")


@invoice.command("get")
@click.argument("invoice_id")
@admin
def get_invoice(invoice_id: str, db: str, as_json: bool) -> None:
    """One invoice, its figures and its lines.

    \b
    Example:
      creditcore invoice get ada-2026-01 --json
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.invoices.get(invoice_id)
        if as_json:
            print_json(found)
        else:
            show_invoice(found)


@invoice.command("list")
@click.option("--customer", help="Only this customer's invoices.")
@click.option("--status", "status", multiple=True, type=click.Choice(STATUSES), help="Only these (repeatable).")
@click.option("--after", help="The cursor a previous page printed.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@admin
def list_invoices(
    customer: str | None, status: tuple[str, ...], after: str | None, limit: int, db: str, as_json: bool
) -> None:
    """Invoices of every kind, in creation order.

    \b
    Example:
      creditcore invoice list --customer ada --status issued --status paid
    """
    with open_billing(db, read_only=True) as billing:
        page = billing.invoices.list(customer, status=status or None, after=after, limit=limit)
        if as_json:
            print_json(page)
            return
        out = console()
        out.print(invoices_table(page.items) if page.items else "no invoices")
        if page.next_cursor is not None:
            out.print(f"more: --after {page.next_cursor}")

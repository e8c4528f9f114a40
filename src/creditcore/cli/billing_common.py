"""What the billing commands share: the :class:`~creditcore.billing.Billing` they open over the
ledger of ``--db``, its options (``--timezone``, ``--invoice-prefix``,
``--invoice-number-width``, each with an environment variable), a date-or-time parameter, the
declaration of a new unit (``--scale``), and the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import click
from rich.table import Table

from creditcore.billing import Billing
from creditcore.billing.model import Invoice, InvoicePreview, Line
from creditcore.billing.values import Tier
from creditcore.cli.common import ISO, console, entries_table, idempotency_key, sqlite_ledger
from creditcore.ledger import Ledger
from creditcore.model import Entry

F = TypeVar("F", bound=Callable[..., Any])

# -- the Billing over --db -----------------------------------------------------------------------


@contextmanager
def open_billing(
    db: str,
    *,
    read_only: bool = False,
    timezone: str = "UTC",
    invoice_prefix: str = "INV-",
    invoice_number_width: int = 4,
) -> Iterator[Billing]:
    """The ledger of ``--db`` (as :func:`~creditcore.cli.common.sqlite_ledger` opens it) with a
    :class:`Billing` over it; any refusal inside, a bad setting too, exits 1 with one line."""
    with sqlite_ledger(db, read_only=read_only) as ledger:
        yield Billing(
            ledger, timezone=timezone, invoice_prefix=invoice_prefix, invoice_number_width=invoice_number_width
        )


def declare(ledger: Ledger, unit: str, scale: int | None) -> None:
    """``--scale``: declare ``unit`` with that many decimal places if it is new (the caller
    runs this in ``ledger.atomic()`` with its write, so a refused write declares nothing)."""
    if scale is not None:
        ledger.define_unit(unit, scale)


# -- options -------------------------------------------------------------------------------------


def zone_option(command: F) -> F:
    """``--timezone`` (``CREDITCORE_TIMEZONE``): ``Billing(timezone=)``."""
    return click.option(
        "--timezone",
        envvar="CREDITCORE_TIMEZONE",
        show_envvar=True,
        default="UTC",
        show_default=True,
        help="The IANA zone of customers without one in their profile: a date alone (2026-01-01) is its midnight "
        "there, and a billing period is its calendar month.",
    )(command)


def numbering_options(command: F) -> F:
    """``--invoice-prefix`` and ``--invoice-number-width`` (with environment variables): how
    the invoice the command issues is numbered (the counter is the store's, shared)."""
    command = click.option(
        "--invoice-number-width",
        envvar="CREDITCORE_INVOICE_NUMBER_WIDTH",
        show_envvar=True,
        type=int,
        default=4,
        show_default=True,
        help="Zero-pad the invoice number to this many digits (1-12).",
    )(command)
    return click.option(
        "--invoice-prefix",
        envvar="CREDITCORE_INVOICE_PREFIX",
        show_envvar=True,
        default="INV-",
        show_default=True,
        help="The issued invoice's number starts with this (0-20 characters).",
    )(command)


def scale_option(what: str = "--unit") -> Callable[[F], F]:
    """``--scale``: declare the unit if it is new (as ``grant --scale`` does)."""
    return click.option(
        "--scale", type=int, help=f"Declare {what} with this many decimal places if it is new (e.g. 2 for usd)."
    )


class _DayOrTime(click.ParamType):  # type: ignore[type-arg]
    """A date alone (``2026-01-01``: 00:00 in the customer's zone, else ``--timezone``), or an
    ISO 8601 time as everywhere else (one without an offset is UTC)."""

    name = "DATE|ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        moment: datetime = ISO.convert(text, param, ctx)
        return moment


DAY_OR_TIME = _DayOrTime()

AT = "Date the change (default: now)."
AS_OF = "As it stood at this time (default: now)."
KEY = idempotency_key


# -- output --------------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def text(value: object) -> str:
    return "" if value is None else str(value)


def names(found: Iterable[str] | None, empty: str = "") -> str:
    return empty if not found else ", ".join(sorted(found))


def tiers_text(tiers: Iterable[Tier] | None) -> str:
    """Tiers as ``--tier`` takes them: ``UP_TO:UNIT_PRICE[:FLAT_FEE]``, space-separated."""
    return " ".join(
        f"{'inf' if t.up_to is None else t.up_to}:{t.unit_price}" + (f":{t.flat_fee}" if t.flat_fee else "")
        for t in tiers or ()
    )


def pairs_table(rows: Iterable[tuple[str, str]], title: str | None = None) -> Table:
    """A two-column table of names and values."""
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("value", no_wrap=True)
    for name, value in rows:
        table.add_row(name, value)
    return table


def lines_table(lines: Iterable[Line], allocations: Iterable[Iterable[tuple[str, Decimal]]] | None = None) -> Table:
    """An invoice's lines; a preview's with the credit each line's burn would take."""
    table = Table(title="lines", title_justify="left")
    columns = ["line", "kind", "meter / product", "description", "quantity", "amount", "discount", "tax", "credit"]
    columns += ["scopes"] + (["credit from"] if allocations is not None else ["burn op"])
    for name in columns:
        right = name in ("quantity", "amount", "discount", "tax", "credit")
        table.add_column(name, justify="right" if right else "left", no_wrap=name in ("credit from", "burn op"))
    taken = list(allocations) if allocations is not None else None
    for n, li in enumerate(lines):
        last = (
            li.burn_op_id or ""
            if taken is None
            else "\n".join(f"{amount} from {block}" for block, amount in (taken[n] if n < len(taken) else ()))
        )
        table.add_row(
            li.id, li.kind, li.meter_id or li.product_id or "", li.description or "", text(li.quantity),
            str(li.amount), str(li.discount), str(li.tax), str(li.credit_applied), names(li.scopes), last,
        )  # fmt: skip
    return table


def _figures(found: Invoice | InvoicePreview) -> list[tuple[str, str]]:
    rows = [
        ("customer", found.customer),
        ("unit", found.unit),
        ("period (UTC)", f"{when(found.start)} to {when(found.end)}" if found.start and found.end else ""),
        ("plan", text(found.plan)),
        ("tax rate", "" if found.tax_rate is None else f"{found.tax_rate}%"),
        ("subtotal", str(found.subtotal)),
        ("discount", str(found.discount)),
        ("tax", str(found.tax)),
        ("total", str(found.total)),
        ("credit applied", str(found.credit_applied)),
        ("amount due", str(found.amount_due)),
        ("voucher", text(found.voucher_id)),
    ]
    return [(name, value) for name, value in rows if value]


def show_invoice(invoice: Invoice, headline: str | None = None) -> None:
    """One invoice: its headline, its figures and dates, and its lines."""
    out = console()
    if headline:
        out.print(headline)
    rows = [("invoice", invoice.id), ("number", text(invoice.number)), ("kind", invoice.kind)]
    rows += [("status", invoice.status), *_figures(invoice), ("memo", text(invoice.memo))]
    rows += [
        ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(invoice.metadata.items()))),
        ("created (UTC)", when(invoice.created_at)),
        ("issued (UTC)", when(invoice.issued_at)),
        ("due (UTC)", when(invoice.due_at)),
        ("paid (UTC)", when(invoice.paid_at)),
        ("voided (UTC)", when(invoice.voided_at)),
        ("payment reference", text(invoice.payment_reference)),
    ]
    out.print(pairs_table([(name, value) for name, value in rows if value or name == "number"]))
    if invoice.lines:
        out.print(lines_table(invoice.lines))


def show_preview(preview: InvoicePreview) -> None:
    out = console()
    out.print(
        f"preview of {preview.customer}'s invoice (nothing written): amount due {preview.amount_due} {preview.unit}"
    )
    out.print(pairs_table(_figures(preview)))
    if preview.lines:
        out.print(lines_table(preview.lines, preview.credit_allocations))
    else:
        out.print("no lines: no priced usage in the period")


def invoices_table(invoices: Iterable[Invoice]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "invoice", "number", "customer", "kind", "status", "unit", "period (UTC)", "total", "credit", "due",
        "issued (UTC)", "due at (UTC)",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("total", "credit", "due") else "left", no_wrap=True)
    for i in invoices:
        period = f"{when(i.start)} to {when(i.end)}" if i.start and i.end else ""
        table.add_row(
            i.id, text(i.number), i.customer, i.kind, i.status, i.unit, period, str(i.total), str(i.credit_applied),
            str(i.amount_due), when(i.issued_at), when(i.due_at),
        )  # fmt: skip
    return table


def show_entries(entries: Iterable[Entry], title: str = "ledger entries") -> None:
    found = list(entries)
    if found:
        console().print(entries_table(found, title))

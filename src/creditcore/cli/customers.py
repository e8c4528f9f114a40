"""``customer set``, ``customer get`` and ``customer list``: customer profiles.

``set`` changes only the fields given (``--clear FIELD`` empties one); each prints the
profile as a table, or JSON with ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from creditcore.cli.common import ISO, admin, console, metadata_pairs, print_json, sqlite_ledger
from creditcore.model import Customer
from creditcore.service.customers import KEEP

_FIELDS = ("name", "email", "external_id", "metadata", "timezone")


def _table(customers: Iterable[Customer]) -> Table:
    table = Table(title_justify="left")
    for name in ("customer", "name", "email", "external id", "timezone", "metadata", "created (UTC)", "updated (UTC)"):
        table.add_column(name, no_wrap=name == "customer")
    for c in customers:
        table.add_row(
            c.id, c.name or "", c.email or "", c.external_id or "", c.timezone or "",
            ", ".join(f"{k}={v}" for k, v in sorted(c.metadata.items())),
            f"{c.created_at:%Y-%m-%d %H:%M}", f"{c.updated_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    return table


def _show(found: Customer, as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    console().print(_table([found]))


@click.group()
def customer() -> None:
    """Customer profiles: set, get, list.

    \b
    Example:
      creditcore customer set ada --name Ada --external-id crm-1
    """


@customer.command("set")
@click.argument("customer_id", metavar="CUSTOMER")
@click.option("--name")
@click.option("--email")
@click.option("--external-id", help="Your own id for the customer (unique per ledger).")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable): replaces the whole map.")
@click.option("--timezone", help="An IANA zone name, e.g. Europe/Berlin.")
@click.option("--clear", "cleared", multiple=True, type=click.Choice(_FIELDS), help="Empty this field (repeatable).")
@click.option("--at", type=ISO, help="Date the change (default: now).")
@admin
def set_(
    customer_id: str, name: str | None, email: str | None, external_id: str | None, metadata: tuple[str, ...],
    timezone: str | None, cleared: tuple[str, ...], at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Set CUSTOMER's profile: only the fields given change (the first call creates it).

    \b
    Example:
      creditcore customer set ada --name Ada --email ada@example.com --metadata plan=pro --timezone Europe/Berlin
    """
    given: dict[str, Any] = {
        "name": name, "email": email, "external_id": external_id,
        "metadata": metadata_pairs(metadata) if metadata else None, "timezone": timezone,
    }  # fmt: skip
    both = sorted(field for field in cleared if given[field] is not None)
    if both:
        raise click.BadParameter(
            f"--clear {both[0]} and --{both[0].replace('_', '-')} together: set it or clear it", param_hint="'--clear'"
        )
    fields = {field: (None if field in cleared else KEEP if value is None else value) for field, value in given.items()}
    with sqlite_ledger(db) as ledger:
        _show(ledger.set_customer(customer_id, **fields, at=at), as_json)


@customer.command("get")
@click.argument("customer_id", metavar="[CUSTOMER]", required=False)
@click.option("--external-id", help="Find the customer by your own id instead.")
@click.option("--at", type=ISO, help="The profile as it was then (default: now).")
@admin
def get(customer_id: str | None, external_id: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's profile (or the one holding --external-id).

    \b
    Example:
      creditcore customer get --external-id crm-1 --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        _show(ledger.get_customer(customer_id, external_id=external_id, at=at), as_json)


@customer.command("list")
@click.option("--after", help="The cursor a previous page printed.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--at", type=ISO, help="The customers as they were then (default: now).")
@admin
def list_(after: str | None, limit: int, at: datetime | None, db: str, as_json: bool) -> None:
    """Every customer, in the order the ledger first saw them.

    \b
    Example:
      creditcore customer list --limit 50
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        page = ledger.customers(after=after, limit=limit, at=at)
        if as_json:
            print_json(page)
            return
        out = console()
        out.print(_table(page.items))
        if page.next_cursor is not None:
            out.print(f"more: --after {page.next_cursor}")

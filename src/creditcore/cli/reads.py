"""The reads: ``balance``, ``blocks``, ``entries`` and ``verify``, which never create a ledger
file, and ``expire``, the sweep that records what fell due, on a SQLite ledger (``--db`` or
``CREDITCORE_DB``).

Each prints a table, or JSON with ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime

import click
from rich.table import Table

from creditcore.cli.common import ISO, admin, console, entries_table, print_json, sqlite_ledger
from creditcore.model import Block
from creditcore.values import DEFAULT_UNIT


def _block_table(blocks: Iterable[Block]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "block", "status", "remaining", "held", "available", "amount", "priority", "category", "cost basis",
        "scope", "effective (UTC)", "expires (UTC)",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("remaining", "held", "available", "amount") else "left",
                         no_wrap=name == "block")  # fmt: skip
    for b in blocks:
        table.add_row(
            b.id, b.status, str(b.remaining), str(b.held), str(b.available), str(b.amount), str(b.priority),
            b.category, "" if b.cost_basis is None else str(b.cost_basis),
            ", ".join(sorted(b.scope)) if b.scope else "any", f"{b.effective_at:%Y-%m-%d %H:%M}",
            f"{b.expires_at:%Y-%m-%d %H:%M}" if b.expires_at else "never",
        )  # fmt: skip
    return table


@click.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Count only credit a burn of these scopes can use (repeatable).")
@click.option("--at", type=ISO, help="The balance at this time, past or future (default: now).")
@admin
def balance(customer: str, unit: str, scopes: tuple[str, ...], at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's balance."""
    with sqlite_ledger(db, read_only=True) as ledger:
        b = ledger.balance(customer, unit=unit, scope=scopes or None, at=at)
        if as_json:
            print_json(b)
            return
        out = console()
        out.print(f"{customer}, {unit}, at {b.at:%Y-%m-%d %H:%M:%S} UTC")
        table = Table()
        table.add_column("")
        table.add_column("amount", justify="right")
        for name in ("available", "held", "upcoming", "used", "expired", "voided", "granted", "debt", "net"):
            table.add_row(name, str(getattr(b, name)), style="bold" if name == "available" else None)
        out.print(table)


@click.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--all", "include_inactive", is_flag=True, help="Also upcoming, used up, expired and voided blocks.")
@click.option("--at", type=ISO, help="The blocks as they stand at this time (default: now).")
@admin
def blocks(customer: str, unit: str, include_inactive: bool, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's blocks, in burn order."""
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.blocks(customer, unit=unit, at=at, include_inactive=include_inactive)
        if as_json:
            print_json(found)
            return
        if not found:
            console().print(f"{customer} has no {'' if include_inactive else 'active '}blocks in {unit}")
            return
        console().print(_block_table(found))


@click.command()
@click.argument("customer", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--after", help="The cursor printed at the end of the previous page.")
@admin
def entries(customer: str | None, limit: int, after: str | None, db: str, as_json: bool) -> None:
    """The ledger's entries (of CUSTOMER, if given), oldest first."""
    with sqlite_ledger(db, read_only=True) as ledger:
        page = ledger.entries(customer, limit=limit, after=after)
        if as_json:
            print_json(page)
            return
        out = console()
        out.print(entries_table(page.items))
        if page.next_cursor is not None:
            out.print(f"more: --after {page.next_cursor}")


@click.command()
@click.option("--at", type=ISO, help="Record what fell due up to this time (default: now).")
@admin
def expire(at: datetime | None, db: str, as_json: bool) -> None:
    """Record every expiry and hold timeout that fell due, for all customers."""
    with sqlite_ledger(db) as ledger:
        written = ledger.expire_due(at=at)
        if as_json:
            print_json({"entries": written})
            return
        out = console()
        out.print(f"recorded {len(written)} entr{'y' if len(written) == 1 else 'ies'}")
        if written:
            out.print(entries_table(written))


@click.command()
@admin
def verify(db: str, as_json: bool) -> None:
    """Recompute every balance from the entries; exit 1 if storage disagrees anywhere."""
    with sqlite_ledger(db, read_only=True) as ledger:
        report = ledger.verify()
    if as_json:
        print_json(report)
    else:
        click.echo(str(report))
    if not report.ok:
        sys.exit(1)

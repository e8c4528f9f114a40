"""The ``creditcore`` command line: ``simulate``, the admin commands on a SQLite ledger, and
``demo``.

A refused operation (any :class:`~creditcore.errors.CreditError`) exits 1 with one line on
stderr naming the error class; a usage mistake exits 2 with one line too; neither prints a
traceback. Every command runs in the library's own ``decimal`` context
(:data:`~creditcore.values.DECIMAL_CONTEXT`).

The shared pieces live in :mod:`~creditcore.cli.common` (the group's error handling, the
shared options and the output); :mod:`~creditcore.cli.simulate` and :mod:`~creditcore.cli.demo`
hold their commands; the admin commands are still here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime

import click
from rich.table import Table

from creditcore.cli.common import ISO, Main, admin, console, entries_table, print_json, show_result, sqlite_ledger
from creditcore.cli.demo import demo
from creditcore.cli.simulate import simulate
from creditcore.model import Block, Hold
from creditcore.values import DEFAULT_UNIT

__all__ = [
    "ISO", "main", "demo", "simulate", "grant", "burn", "hold", "capture", "release", "void", "balance", "blocks",
    "entries", "expire", "verify",
]  # fmt: skip


@click.group(cls=Main)
@click.version_option(package_name="creditcore")
def main() -> None:
    """creditcore: an embeddable prepaid-credit ledger."""


for _command in (demo, simulate):
    main.add_command(_command)
del _command


def _hold_line(hold: Hold) -> str:
    pinned = ", ".join(f"{amount} from {block_id}" for block_id, amount in hold.allocations)
    return f"hold {hold.id} for {hold.customer}: {hold.amount} {hold.unit} {hold.status} ({pinned})"


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scale", type=int, help="Declare --unit with this many decimal places if it is new.")
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--category", type=click.Choice(["promotional", "paid"]), default="promotional", show_default=True)
@click.option("--expires-at", type=ISO, help="When the block expires (default: never).")
@click.option("--effective-at", type=ISO, help="When the block becomes usable (default: now).")
@click.option("--scope", "scopes", multiple=True, help="Only burns of this scope may use it (repeatable).")
@click.option("--cost-basis", help="The price paid per credit, e.g. 0.01.")
@click.option("--description")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def grant(
    customer: str, amount: str, unit: str, scale: int | None, priority: int, category: str,
    expires_at: datetime | None, effective_at: datetime | None, scopes: tuple[str, ...], cost_basis: str | None,
    description: str | None, key: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Grant AMOUNT of credit to CUSTOMER as a new block."""
    with sqlite_ledger(db) as ledger:
        with ledger.atomic():  # a refused grant declares no unit: both commit or neither
            if scale is not None:
                ledger.define_unit(unit, scale)
            r = ledger.grant(
                customer, amount, unit=unit, priority=priority, category=category, expires_at=expires_at,
                effective_at=effective_at, scope=scopes or None, cost_basis=cost_basis, description=description,
                idempotency_key=key, at=at,
            )  # fmt: skip
        show_result(r, f"granted {r.block.amount} {r.block.unit} to {customer} as block {r.block.id}", as_json)


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", help="The kind of usage: scoped blocks of this scope may pay for it.")
@click.option("--overdraft", type=click.Choice(["reject", "partial", "debt"]), default="reject", show_default=True)
@click.option("--description")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def burn(
    customer: str, amount: str, unit: str, scope: str | None, overdraft: str, description: str | None,
    key: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Use AMOUNT of CUSTOMER's credit, in burn order."""
    with sqlite_ledger(db) as ledger:
        r = ledger.burn(
            customer, amount, unit=unit, scope=scope, overdraft=overdraft, description=description,
            idempotency_key=key, at=at,
        )  # fmt: skip
        show_result(r, f"burned {r.burned} {unit} of {customer}: shortfall {r.shortfall}, debt {r.debt}", as_json)


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--hold-id", required=True, help="Your id for this hold; repeating it replays.")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope")
@click.option("--expires-at", type=ISO, help="Release the hold automatically then.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def hold(
    customer: str, amount: str, hold_id: str, unit: str, scope: str | None, expires_at: datetime | None,
    at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Reserve AMOUNT of CUSTOMER's credit until it is captured or released."""
    with sqlite_ledger(db) as ledger:
        r = ledger.hold(customer, amount, hold_id=hold_id, unit=unit, scope=scope, expires_at=expires_at, at=at)
        show_result(r, _hold_line(r.hold), as_json)


@main.command()
@click.argument("hold_id")
@click.argument("amount", required=False)
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def capture(hold_id: str, amount: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """Use AMOUNT of a hold (default: all of it) and release the rest."""
    with sqlite_ledger(db) as ledger:
        r = ledger.capture(hold_id, amount, at=at)
        show_result(r, f"hold {hold_id}: captured {r.captured}, released {r.released}", as_json)


@main.command()
@click.argument("hold_id")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def release(hold_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Give all of a hold's credit back."""
    with sqlite_ledger(db) as ledger:
        r = ledger.release(hold_id, at=at)
        show_result(r, f"hold {hold_id}: released {r.released}", as_json)


@main.command()
@click.argument("block_id")
@click.argument("amount", required=False)
@click.option("--reason", help="Why, e.g. refund or chargeback.")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def void(
    block_id: str, amount: str | None, reason: str | None, key: str | None, at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Remove AMOUNT of a block's unheld credit (default: all of it)."""
    with sqlite_ledger(db) as ledger:
        r = ledger.void(block_id, amount, reason=reason, idempotency_key=key, at=at)
        show_result(r, f"voided {r.voided} of block {block_id}", as_json)


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


@main.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", help="Count only credit this scope can use.")
@click.option("--at", type=ISO, help="The balance at this time, past or future (default: now).")
@admin
def balance(customer: str, unit: str, scope: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's balance."""
    with sqlite_ledger(db, read_only=True) as ledger:
        b = ledger.balance(customer, unit=unit, scope=scope, at=at)
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


@main.command()
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


@main.command()
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


@main.command()
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


@main.command()
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

"""The reads: ``balance``, ``balances``, ``blocks``, ``get-block``, ``holds``, ``get-hold``,
``preview-burn``, ``units``, ``entries`` and ``verify``, which never create a ledger file, and
``expire``, the sweep that records what fell due, on a ledger (``--db`` or ``CREDITCORE_DB``).
``timeline`` is in :mod:`~creditcore.cli.timeline`.

Each prints a table, or JSON with ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime

import click
from rich.table import Table

from creditcore.cli.common import ISO, Aliased, admin, console, entries_table, print_json, sqlite_ledger
from creditcore.cli.writes import CATEGORIES
from creditcore.model import Balance, Block, Hold
from creditcore.state import ENTRY_KINDS, HOLD_STATUSES
from creditcore.values import DEFAULT_UNIT

_FIGURES = ("available", "held", "upcoming", "used", "expired", "voided", "granted", "debt", "net")


def _time(moment: datetime | None, empty: str = "") -> str:
    return empty if moment is None else f"{moment:%Y-%m-%d %H:%M}"


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
            ", ".join(sorted(b.scope)) if b.scope else "any", _time(b.effective_at), _time(b.expires_at, "never"),
        )  # fmt: skip
    return table


def _hold_table(holds: Iterable[Hold]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "hold", "customer", "status", "amount", "captured", "unit", "pinned", "scope", "categories",
        "created (UTC)", "expires (UTC)", "settled (UTC)", "description",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("amount", "captured") else "left", no_wrap=name == "hold")
    for h in holds:
        table.add_row(
            h.id, h.customer, h.status, str(h.amount), str(h.captured), h.unit,
            "\n".join(f"{amount} from {block_id}" for block_id, amount in h.allocations),
            ", ".join(sorted(h.scope)) if h.scope else "unscoped", ", ".join(sorted(h.categories or ())) or "any",
            _time(h.created_at), _time(h.expires_at, "never"), _time(h.settled_at), h.description or "",
        )  # fmt: skip
    return table


@click.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Count only credit a burn of these scopes can use (repeatable).")
@click.option("--at", type=ISO, help="The balance at this time, past or future (default: now).")
@admin
def balance(customer: str, unit: str, scopes: tuple[str, ...], at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's balance in --unit (balances: in every unit).

    \b
    Example:
      creditcore balance ada --at 2027-03-01 --json
    """
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
        for name in _FIGURES:
            table.add_row(name, str(getattr(b, name)), style="bold" if name == "available" else None)
        out.print(table)


@click.command()
@click.argument("customer")
@click.option("--at", type=ISO, help="The balances at this time, past or future (default: now).")
@admin
def balances(customer: str, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's balance in every unit it has entries in (JSON: an object by unit).

    \b
    Example:
      creditcore balances ada --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found: dict[str, Balance] = ledger.balances(customer, at=at)
    if as_json:
        print_json(found)
        return
    if not found:
        console().print(f"{customer} has no entries in any unit")
        return
    table = Table(title_justify="left")
    table.add_column("unit")
    for name in _FIGURES:
        table.add_column(name, justify="right", style="bold" if name == "available" else None)
    for unit, b in found.items():
        table.add_row(unit, *(str(getattr(b, name)) for name in _FIGURES))
    console().print(table)


@click.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option(
    "--include-inactive", "--all", "include_inactive", is_flag=True, cls=Aliased, aliases=("--all",),
    help="Also upcoming, used up, expired and voided blocks.",
)  # fmt: skip
@click.option("--at", type=ISO, help="The blocks as they stand at this time (default: now).")
@admin
def blocks(customer: str, unit: str, include_inactive: bool, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's blocks in --unit, in burn order.

    \b
    Example:
      creditcore blocks ada --include-inactive
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.blocks(customer, unit=unit, at=at, include_inactive=include_inactive)
        if as_json:
            print_json(found)
            return
        if not found:
            console().print(f"{customer} has no {'' if include_inactive else 'active '}blocks in {unit}")
            return
        console().print(_block_table(found))


@click.command("get-block")
@click.argument("block_id")
@click.option("--at", type=ISO, help="The block as it stood at this time (default: now).")
@admin
def get_block(block_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """One block, whatever its status (exit 1 if unknown).

    \b
    Example:
      creditcore get-block blk_01a2304b83657646aa05a3478176146b --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.get_block(block_id, at=at)
    if as_json:
        print_json(found)
    else:
        console().print(_block_table([found]))


@click.command()
@click.argument("customer")
@click.option(
    "--status", type=click.Choice([*HOLD_STATUSES, "all"]), default="active", show_default=True,
    help="Only holds with this status (all: every status).",
)  # fmt: skip
@click.option("--at", type=ISO, help="The holds as they stood at this time (default: now).")
@admin
def holds(customer: str, status: str, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's holds, oldest first.

    \b
    Example:
      creditcore holds ada --status all
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.holds(customer, status=None if status == "all" else status, at=at)
    if as_json:
        print_json(found)
    elif not found:
        console().print(f"{customer} has no {'' if status == 'all' else status + ' '}holds")
    else:
        console().print(_hold_table(found))


@click.command("get-hold")
@click.argument("hold_id")
@click.option("--at", type=ISO, help="The hold as it stood at this time (default: now).")
@admin
def get_hold(hold_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """One hold: its status, what it pinned and what was captured (exit 1 if unknown).

    \b
    Example:
      creditcore get-hold render-17
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.get_hold(hold_id, at=at)
    if as_json:
        print_json(found)
    else:
        console().print(_hold_table([found]))


@click.command("preview-burn")
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", "scopes", multiple=True, help="The burn's scope (repeatable).")
@CATEGORIES
@click.option("--at", type=ISO, help="Preview a burn at this time (default: now).")
@admin
def preview_burn(
    customer: str, amount: str, unit: str, scopes: tuple[str, ...], categories: tuple[str, ...], at: datetime | None,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """The blocks a burn of AMOUNT would draw, and what it would fall short; writes nothing.

    \b
    Example:
      creditcore preview-burn ada 30 --scope chat
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.preview_burn(
            customer, amount, unit=unit, scope=scopes or None, categories=categories or None, at=at
        )
    if as_json:
        print_json(found)
        return
    out = console()
    out.print(f"a burn of {amount} {unit} from {customer} would draw (nothing written); shortfall {found.shortfall}")
    if found.allocations:
        table = Table(title_justify="left")
        table.add_column("block", no_wrap=True)
        table.add_column("amount", justify="right")
        for block_id, taken in found.allocations:
            table.add_row(block_id, str(taken))
        out.print(table)


@click.command()
@admin
def units(db: str, as_json: bool) -> None:
    """Every declared unit and its decimal places (JSON: an object of scales by unit).

    \b
    Example:
      creditcore units --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.units()
    if as_json:
        print_json(found)
        return
    table = Table(title_justify="left")
    table.add_column("unit")
    table.add_column("decimal places", justify="right")
    for name, scale in sorted(found.items()):
        table.add_row(name, str(scale))
    console().print(table)


@click.command()
@click.argument("customer", required=False)
@click.option("--unit", help="Only entries in this unit.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(ENTRY_KINDS), help="Only these kinds (repeatable).")
@click.option("--block-id", help="Only the entries of this block.")
@click.option("--op-id", help="Only the entries of this operation.")
@click.option("--since", type=ISO, help="Only entries at or after this time.")
@click.option("--until", type=ISO, help="Only entries before this time.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--after", help="The cursor printed at the end of the previous page.")
@admin
def entries(
    customer: str | None, unit: str | None, kinds: tuple[str, ...], block_id: str | None, op_id: str | None,
    since: datetime | None, until: datetime | None, limit: int, after: str | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """The ledger's entries (of CUSTOMER, if given), oldest first, filtered.

    \b
    Example:
      creditcore entries ada --kind burn --kind capture --since 2027-01-01 --until 2027-02-01
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        page = ledger.entries(
            customer, unit=unit, kinds=kinds or None, block_id=block_id, op_id=op_id, since=since, until=until,
            after=after, limit=limit,
        )  # fmt: skip
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
    """Record every expiry, hold timeout, schedule period and top-up that fell due, for all
    customers.

    \b
    Example:
      creditcore expire --json
    """
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
    """Recompute every balance from the entries; exit 1 if storage disagrees anywhere.

    \b
    Example:
      creditcore verify --db credits.db
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        report = ledger.verify()
    if as_json:
        print_json(report)
    else:
        click.echo(str(report))
    if not report.ok:
        sys.exit(1)

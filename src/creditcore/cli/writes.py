"""The writes: ``define-unit``, ``grant``, ``burn``, ``hold``, ``capture``, ``release``,
``void``, ``reverse``, ``refund`` and ``change-expiry`` on a ledger (``--db`` or
``CREDITCORE_DB``; a SQLite file is created if missing).

Each prints its headline and the entries it wrote, or the result as JSON with ``--json``; a
refused write exits 1 with one line on stderr.
"""

from __future__ import annotations

from datetime import datetime

import click

from creditcore.cli.common import (
    ISO,
    admin,
    console,
    idempotency_key,
    metadata_option,
    metadata_pairs,
    print_json,
    show_result,
    sqlite_ledger,
)
from creditcore.model import Hold
from creditcore.values import DEFAULT_UNIT

CATEGORIES = click.option(
    "--category", "categories", multiple=True, type=click.Choice(["promotional", "paid"]),
    help="Only blocks of this category may pay (repeatable; default: every category).",
)  # fmt: skip


def _hold_line(hold: Hold) -> str:
    pinned = ", ".join(f"{amount} from {block_id}" for block_id, amount in hold.allocations)
    return f"hold {hold.id} for {hold.customer}: {hold.amount} {hold.unit} {hold.status} ({pinned})"


@click.command()
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
@click.option("--single-use", is_flag=True, help="The first burn or capture voids the rest of the block.")
@click.option(
    "--settle-debt/--no-settle-debt", default=None, help="Whether it pays debt off first (default: the ledger's)."
)
@click.option("--description")
@metadata_option()
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def grant(
    customer: str, amount: str, unit: str, scale: int | None, priority: int, category: str,
    expires_at: datetime | None, effective_at: datetime | None, scopes: tuple[str, ...], cost_basis: str | None,
    single_use: bool, settle_debt: bool | None, description: str | None, metadata: tuple[str, ...],
    idempotency_key: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Grant AMOUNT of credit to CUSTOMER as a new block.

    \b
    Example:
      creditcore grant ada 100 --category paid --cost-basis 0.01 --expires-at 2027-12-31
    """
    with sqlite_ledger(db) as ledger:
        with ledger.atomic():  # a refused grant declares no unit: both commit or neither
            if scale is not None:
                ledger.define_unit(unit, scale)
            r = ledger.grant(
                customer, amount, unit=unit, priority=priority, category=category, expires_at=expires_at,
                effective_at=effective_at, scope=scopes or None, cost_basis=cost_basis, single_use=single_use,
                settle_debt=settle_debt, description=description, metadata=metadata_pairs(metadata) or None,
                idempotency_key=idempotency_key, at=at,
            )  # fmt: skip
        show_result(r, f"granted {r.block.amount} {r.block.unit} to {customer} as block {r.block.id}", as_json)


@click.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option(
    "--scope", "scopes", multiple=True,
    help="The kind of usage: blocks of any of these scopes may pay for it (repeatable).",
)  # fmt: skip
@CATEGORIES
@click.option(
    "--overdraft", type=click.Choice(["reject", "partial", "debt"]), default="reject", show_default=True,
    help="Not enough credit: refuse, burn what there is, or record the rest as debt.",
)  # fmt: skip
@click.option("--description")
@metadata_option()
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def burn(
    customer: str, amount: str, unit: str, scopes: tuple[str, ...], categories: tuple[str, ...], overdraft: str,
    description: str | None, metadata: tuple[str, ...], idempotency_key: str | None, at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Use AMOUNT of CUSTOMER's credit, in burn order.

    \b
    Example:
      creditcore burn ada 30 --scope chat --overdraft partial --idempotency-key req-881
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.burn(
            customer, amount, unit=unit, scope=scopes or None, categories=categories or None, overdraft=overdraft,
            description=description, metadata=metadata_pairs(metadata) or None, idempotency_key=idempotency_key,
            at=at,
        )  # fmt: skip
        show_result(r, f"burned {r.burned} {unit} of {customer}: shortfall {r.shortfall}, debt {r.debt}", as_json)


@click.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--hold-id", required=True, help="Your id for this hold; repeating it replays.")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Blocks of any of these scopes may be pinned (repeatable).")
@CATEGORIES
@click.option("--expires-at", type=ISO, help="Release the hold automatically then.")
@click.option("--description")
@metadata_option()
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def hold(
    customer: str, amount: str, hold_id: str, unit: str, scopes: tuple[str, ...], categories: tuple[str, ...],
    expires_at: datetime | None, description: str | None, metadata: tuple[str, ...], at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Reserve AMOUNT of CUSTOMER's credit until it is captured or released (see get-hold and
    holds for the holds' state).

    \b
    Example:
      creditcore hold ada 40 --hold-id render-17 --expires-at 2027-06-01T12:00:00Z
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.hold(
            customer, amount, hold_id=hold_id, unit=unit, scope=scopes or None, categories=categories or None,
            expires_at=expires_at, description=description, metadata=metadata_pairs(metadata) or None, at=at,
        )  # fmt: skip
        show_result(r, _hold_line(r.hold), as_json)


@click.command()
@click.argument("hold_id")
@click.argument("amount", required=False)
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def capture(hold_id: str, amount: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """Use AMOUNT of a hold (default: all of it) and release the rest.

    \b
    Example:
      creditcore capture render-17 25
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.capture(hold_id, amount, at=at)
        show_result(r, f"hold {hold_id}: captured {r.captured}, released {r.released}", as_json)


@click.command()
@click.argument("hold_id")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def release(hold_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Give all of a hold's credit back.

    \b
    Example:
      creditcore release render-17
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.release(hold_id, at=at)
        show_result(r, f"hold {hold_id}: released {r.released}", as_json)


@click.command()
@click.argument("block_id")
@click.argument("amount", required=False)
@click.option("--reason", help="Why, e.g. refund or chargeback.")
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def void(
    block_id: str, amount: str | None, reason: str | None, idempotency_key: str | None, at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Remove AMOUNT of a block's unheld credit (default: all of it).

    \b
    Example:
      creditcore void blk_01a2304b83657646aa05a3478176146b --reason chargeback
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.void(block_id, amount, reason=reason, idempotency_key=idempotency_key, at=at)
        show_result(r, f"voided {r.voided} of block {block_id}", as_json)


@click.command()
@click.argument("op_id")
@click.argument("amount", required=False)
@click.option("--expires-at", type=ISO, help="When the refunded credit expires (default: never).")
@click.option("--category", type=click.Choice(["promotional", "paid"]), default="paid", show_default=True)
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--description")
@metadata_option()
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def refund(
    op_id: str, amount: str | None, expires_at: datetime | None, category: str, priority: int,
    description: str | None, metadata: tuple[str, ...], idempotency_key: str | None, at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Give fresh credit for the burn or capture OP_ID: AMOUNT (default: all it took less its
    reversals and refunds), as a new block linked to it (reverse gives it back to the blocks
    it came from instead).

    \b
    Example:
      creditcore refund op_01a2304b83657646aa05a3478176146b 5 --expires-at 2027-12-31
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.refund(
            op_id, amount, expires_at=expires_at, category=category, priority=priority, description=description,
            metadata=metadata_pairs(metadata) or None, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
        show_result(r, f"refunded {r.refunded} {r.block.unit} of op {op_id} as block {r.block.id}", as_json)


@click.command()
@click.argument("op_id")
@click.argument("amount", required=False)
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def reverse(
    op_id: str, amount: str | None, idempotency_key: str | None, at: datetime | None, db: str, as_json: bool
) -> None:
    """Undo the burn or capture OP_ID, fully or AMOUNT of it: the credit goes back to the
    blocks it came from (latest drawn first) and debt it made is cancelled.

    \b
    Example:
      creditcore reverse op_01a2304b83657646aa05a3478176146b 5 --idempotency-key undo-881
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.reverse(op_id, amount, idempotency_key=idempotency_key, at=at)
        show_result(r, f"reversed {r.reversed} of op {op_id}", as_json)


@click.command("change-expiry")
@click.argument("block_id")
@click.option("--expires-at", type=ISO, required=True, help="When the moved credit expires.")
@click.option("--amount", help="Move this much (default: all the block's unheld remaining).")
@idempotency_key
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@admin
def change_expiry(
    block_id: str, expires_at: datetime, amount: str | None, idempotency_key: str | None, at: datetime | None,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """Move BLOCK_ID's credit (or --amount of it) into a new block that is the same but
    expires at --expires-at; the balance does not change.

    \b
    Example:
      creditcore change-expiry blk_01a2304b83657646aa05a3478176146b --expires-at 2027-12-31 --amount 20
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.change_expiry(block_id, expires_at, amount=amount, idempotency_key=idempotency_key, at=at)
        b = r.block
        expiry = f"{b.expires_at:%Y-%m-%d %H:%M} UTC" if b.expires_at else "never"
        show_result(r, f"moved {b.amount} {b.unit} of block {block_id} to block {b.id}, expiring {expiry}", as_json)


@click.command("define-unit")
@click.argument("name")
@click.argument("scale", type=int)
@admin
def define_unit(name: str, scale: int, db: str, as_json: bool) -> None:
    """Declare the unit NAME with SCALE decimal places (again with the same scale: nothing
    changes; with another: refused). grant --scale does this with its grant.

    \b
    Example:
      creditcore define-unit usd 2
    """
    with sqlite_ledger(db) as ledger:
        ledger.define_unit(name, scale)
    if as_json:
        print_json({"name": name, "scale": scale})
    else:
        console().print(f"unit {name} has {scale} decimal place{'' if scale == 1 else 's'}")

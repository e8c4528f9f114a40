"""The ``creditcore`` command line: ``simulate``, the admin commands on a SQLite ledger, and
``demo``.

A refused operation (any :class:`~creditcore.errors.CreditError`) exits 1 with one line on
stderr naming the error class; a usage mistake exits 2 with one line too; neither prints a
traceback. Every command runs in the library's own ``decimal`` context
(:data:`~creditcore.values.DECIMAL_CONTEXT`).

One module per command group: :mod:`~creditcore.cli.common` (the group's error handling, the
shared options and the output), :mod:`~creditcore.cli.simulate`, :mod:`~creditcore.cli.writes`
(grant, burn, hold, capture, release, void, refund), :mod:`~creditcore.cli.customers` (customer
set, get, list), :mod:`~creditcore.cli.settings` (schedule, top-up, alert, events),
:mod:`~creditcore.cli.reads` (balance, blocks, entries, expire, verify),
:mod:`~creditcore.cli.db` (the PostgreSQL schema), :mod:`~creditcore.cli.billing` (meter, price,
usage, voucher, invoice, charge, charge-product, purchase, starter-credit) and
:mod:`~creditcore.cli.demo`.
"""

from __future__ import annotations

import click

from creditcore.cli.billing import BILLING_COMMANDS
from creditcore.cli.common import ISO, Main
from creditcore.cli.customers import customer
from creditcore.cli.db import db
from creditcore.cli.demo import demo
from creditcore.cli.reads import balance, blocks, entries, expire, verify
from creditcore.cli.settings import alert, events, schedule, top_up
from creditcore.cli.simulate import simulate
from creditcore.cli.writes import burn, capture, grant, hold, refund, release, void

__all__ = [
    "ISO", "main", "demo", "simulate", "grant", "burn", "hold", "capture", "release", "void", "refund", "balance",
    "blocks", "entries", "expire", "verify", "db", "customer", "schedule", "top_up", "alert", "events",
]  # fmt: skip


@click.group(cls=Main)
@click.version_option(package_name="creditcore")
def main() -> None:
    """creditcore: an embeddable prepaid-credit ledger."""


for _command in (
    demo,
    simulate,
    grant,
    burn,
    hold,
    capture,
    release,
    void,
    refund,
    customer,
    schedule,
    top_up,
    alert,
    balance,
    blocks,
    entries,
    events,
    expire,
    verify,
    db,
    *BILLING_COMMANDS,
):
    main.add_command(_command)
del _command

"""The ``creditcore`` command line: a command for every operation of the library's API
(:class:`~creditcore.Ledger` and :class:`~creditcore.billing.Billing`), on the ledger of
``--db`` (a SQLite file or a PostgreSQL URL; default ``CREDITCORE_DB``), plus ``simulate``,
``demo``, ``db`` and ``completion``.

The conventions, the same for every command:

- **Names follow the API.** A top-level command is a :class:`~creditcore.Ledger` method with
  dashes (``change_expiry`` is ``change-expiry``, ``get_hold`` is ``get-hold``: ``hold`` is the
  write); a namespace of :class:`~creditcore.billing.Billing` is a group (``meter``, ``price``,
  ``usage``, ``voucher``, ``invoice``) with its methods as subcommands. An option is the API's
  keyword with dashes (``--expires-at``, ``--idempotency-key``, ``--at``); a keyword that takes
  a list is a repeatable option in the singular (``--scope``, ``--category`` for
  ``categories``, ``--kind`` for ``kinds``, ``--threshold``). The older spellings ``--key``
  and ``--all`` still work, left out of ``--help``.
- **Output**: a table or a short line by default; ``--json`` prints the result object with
  its field names as keys (amounts as strings, times in ISO 8601). Not ``demo`` (a story to
  read) or ``completion`` (a shell script): :data:`WITHOUT_JSON`.
- **Help**: every ``--help`` ends with an example.
- **Errors**: a refused operation (any :class:`~creditcore.errors.CreditError`) exits 1 with
  one line on stderr naming the error class; a usage mistake exits 2 with one line too;
  neither prints a traceback. Every command runs in the library's own ``decimal`` context
  (:data:`~creditcore.values.DECIMAL_CONTEXT`).

What of the API has no command, and why, is :data:`NOT_ON_THE_COMMAND_LINE`
(``tests/cli/test_api_coverage.py`` checks that every other public method has one).

One module per command group: :mod:`~creditcore.cli.common` (the group's error handling, the
shared options and the output), :mod:`~creditcore.cli.simulate`, :mod:`~creditcore.cli.writes`
(define-unit, grant, burn, hold, capture, release, void, reverse, refund, change-expiry),
:mod:`~creditcore.cli.customers` (customer set, get, list), :mod:`~creditcore.cli.settings`
(schedule, top-up, alert, events), :mod:`~creditcore.cli.reads` (balance, balances, blocks,
get-block, holds, get-hold, preview-burn, units, entries, expire, verify),
:mod:`~creditcore.cli.timeline` (timeline, its chart in :mod:`~creditcore.cli.timeline_chart`),
:mod:`~creditcore.cli.db` (the PostgreSQL schema), :mod:`~creditcore.cli.billing` (meter,
price, usage, voucher, invoice, charge, charge-product, purchase, starter-credit),
:mod:`~creditcore.cli.completion` and :mod:`~creditcore.cli.demo`.
"""

from __future__ import annotations

import click

from creditcore.cli.billing import BILLING_COMMANDS
from creditcore.cli.common import ISO, Main
from creditcore.cli.completion import completion
from creditcore.cli.customers import customer
from creditcore.cli.db import db
from creditcore.cli.demo import demo
from creditcore.cli.reads import (
    balance,
    balances,
    blocks,
    entries,
    expire,
    get_block,
    get_hold,
    holds,
    preview_burn,
    units,
    verify,
)
from creditcore.cli.settings import alert, events, schedule, top_up
from creditcore.cli.simulate import simulate
from creditcore.cli.timeline import timeline
from creditcore.cli.writes import (
    burn,
    capture,
    change_expiry,
    define_unit,
    grant,
    hold,
    refund,
    release,
    reverse,
    void,
)

__all__ = [
    "ISO", "NOT_ON_THE_COMMAND_LINE", "WITHOUT_JSON", "main", "demo", "simulate", "define_unit", "grant", "burn",
    "hold", "capture", "release", "void", "reverse", "refund", "change_expiry", "balance", "balances", "blocks",
    "get_block", "holds", "get_hold", "preview_burn", "units", "timeline", "entries", "expire", "verify", "db",
    "customer", "schedule", "top_up", "alert", "events", "completion",
]  # fmt: skip

#: The public API without a command, and why. The names are those of ``Ledger`` (``Ledger.x``),
#: of ``Billing`` itself (``Billing.x``) and of its namespaces (``billing.meters.x``, ...).
NOT_ON_THE_COMMAND_LINE: dict[str, str] = {
    "Ledger.atomic": "a Python context manager for batching calls; each command is one transaction already "
    "(grant --scale, meter record and the billing commands that declare a unit batch their own writes)",
    "Ledger.close": "the command opens and closes the ledger itself",
    "Ledger.memory": "a constructor: an in-memory ledger ends with its process (creditcore demo runs on one)",
    "Ledger.sqlite": "a constructor: --db FILE (or CREDITCORE_DB) opens a SQLite ledger",
    "Ledger.postgres": "a constructor: --db postgresql://... opens a PostgreSQL ledger (creditcore db: its schema)",
    "Ledger.repository": "the storage adapter object, a Python value",
    "Ledger.burn_order": "a setting of the Ledger object (Ledger(burn_order=...)); the CLI uses the default order",
    "Ledger.future_tolerance": "a setting of the Ledger object; the CLI uses the default (five minutes)",
    # the plumbing every billing namespace inherits from creditcore.billing.common.Part: how a
    # namespace reads and writes, not operations of their own
    **{
        f"billing.{namespace}.{name}": "the namespaces' plumbing (billing.common.Part), not an operation"
        for namespace in ("meters", "prices", "usage", "invoices", "vouchers")
        for name in ("instant", "read_time", "reading", "write_time", "writing", "zone_of")
    },
    "billing.invoices.grant_purchase": "a step of purchase (Billing.purchase_credits, the purchase command) and of "
    "invoice pay, not an operation of its own",
    "billing.invoices.issued": "a step of invoice issue and of charge, not an operation of its own",
    "billing.invoices.time_of_write": "a step of every invoice write, not an operation of its own",
}

#: The commands without ``--json``, and why.
WITHOUT_JSON: dict[str, str] = {
    "demo": "a story to read, printed as it happens",
    "completion": "prints a shell script",
}


@click.group(cls=Main)
@click.version_option(package_name="creditcore")
def main() -> None:
    """creditcore: an embeddable prepaid-credit ledger. Every admin command works on the
    ledger of --db (a SQLite file or a postgresql:// URL; default: $CREDITCORE_DB) and
    takes --json.

    \b
    Example:
      creditcore grant ada 100 --db credits.db && creditcore balance ada --db credits.db
    """


for _command in (
    demo,
    simulate,
    define_unit,
    grant,
    burn,
    hold,
    capture,
    release,
    void,
    reverse,
    refund,
    change_expiry,
    customer,
    schedule,
    top_up,
    alert,
    balance,
    balances,
    blocks,
    get_block,
    holds,
    get_hold,
    preview_burn,
    units,
    timeline,
    entries,
    events,
    expire,
    verify,
    db,
    completion,
    *BILLING_COMMANDS,
):
    main.add_command(_command)
del _command

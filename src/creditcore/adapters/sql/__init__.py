"""What every SQL adapter shares, written once for any SQL database.

- :mod:`.dialect`: the few ways databases differ (placeholders, types, table options, the
  append-only triggers, reading JSON in a migration), as a small value each adapter passes in;
- :mod:`.codec`: rows <-> the core's states (blocks, holds, entries, accounts and their units'
  totals, idempotency records), what a write moved, and the domain's enumerations checked on
  the way in and out;
- :mod:`.statements`: every statement text, rendered once for a dialect (those that depend on
  what a write moved, once for each set of columns);
- :mod:`.schema`: the schema and its one list of forward migrations;
- :mod:`.snapshots`: the snapshot policy and the past read through snapshots.

What is a database's own (connections, transactions, locking, error translation, how the
migrations are recorded) lives in its adapter (:mod:`creditcore.adapters.sqlite`).
"""

from creditcore.repository import SNAPSHOT_EVERY

from .dialect import SQLITE, Dialect
from .schema import MIGRATIONS
from .statements import Statements

__all__ = ["MIGRATIONS", "SNAPSHOT_EVERY", "SQLITE", "Dialect", "Statements"]

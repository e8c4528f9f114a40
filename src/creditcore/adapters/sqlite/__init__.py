"""The SQLite adapter: a ledger in one file that several threads and processes share.

Storage only: it stores and loads what the rules decide. The only filters it applies are
"live" (a block with ``remaining > 0``) and "active" (a hold with ``status = 'active'``), so a
load reads a customer's current state without scanning their history.

How it talks to SQLite (see the SQLite and Reliability pages of the docs):

- a file is opened only if it is empty or a creditcore ledger: another application's
  database, a table of creditcore's name with other columns, or a file that is not a SQLite
  database raises ``StorageError`` before anything is written to it;
- one connection per thread (per process after a ``fork``), opened with
  ``isolation_level=None`` so that this module, not the ``sqlite3`` module, says where a
  transaction starts and ends; a thread opens a second one only to read while a transaction
  of its own (a batch of another asyncio task, a suspended generator) is open, as a read
  sees committed state only, and a second write of the thread raises ``StorageError`` at once
  instead of waiting for itself;
- every write is ``BEGIN IMMEDIATE … COMMIT`` (``ROLLBACK`` on any error): the write lock is
  taken before the first read, so a read-check-write can never be overtaken by another
  writer, and a busy database is waited for (``busy_timeout``) and retried a few times at
  ``BEGIN`` only, never half-way through;
- every read is a deferred ``BEGIN`` ended by ``ROLLBACK``: one consistent snapshot;
- ``journal_mode=WAL``, ``synchronous=FULL`` (``durability="full"``, every acknowledged
  commit survives a power loss) or ``NORMAL`` (``"normal"``: consistent, survives a process
  crash, may lose the last commits on a power loss), ``foreign_keys=ON``;
- ``STRICT`` tables with ``CHECK`` constraints for what storage guarantees (the domain's
  enumerations are checked by the codec, not the schema), amounts as integers of minor units, times as
  integer microseconds since the epoch (UTC), JSON text for metadata, scopes and
  allocations, ``Decimal`` cost bases as text;
- the schema is created and migrated forward with sqlite-utils when the file is opened;
- every ``sqlite3`` error becomes a :class:`~creditcore.errors.StorageError` (the original
  is chained as ``__cause__``).

``":memory:"`` gives a private in-memory database: one connection that threads take turns
on, gone when the repository is closed.

Layout: the rows, statements, migrations and snapshot policy are the shared SQL layer's
(:mod:`creditcore.adapters.sql`, in its SQLite dialect); this package holds what is SQLite's
own: :mod:`.connections` (per thread, PRAGMAs, WAL), :mod:`.transactions` (BEGIN, COMMIT,
ROLLBACK, busy retries), :mod:`.errors`, :mod:`.schema` (applying the migrations with
sqlite-utils, refusing a foreign file), :mod:`.session` (one transaction's reads and writes)
and :mod:`.repository`.
"""

from creditcore.adapters.sql.schema import MIGRATIONS
from creditcore.repository import SNAPSHOT_EVERY

from .connections import DURABILITY
from .repository import MAX_BUSY_TIMEOUT, SQLiteRepository

__all__ = [
    "DURABILITY",
    "MAX_BUSY_TIMEOUT",
    "MIGRATIONS",
    "SNAPSHOT_EVERY",
    "SQLiteRepository",
]

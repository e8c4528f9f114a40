"""Where a ``--db`` simulation writes its ledger (see the ``storage`` fixture in conftest.py)."""

from __future__ import annotations

import attrs

from creditcore import Ledger
from creditcore.simulate import Scenario, open_ledger


def postgres_url(dsn: str) -> str:
    """A libpq connection string as the ``postgresql://`` URL ``--db`` takes."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"


@attrs.frozen
class Storage:
    db: str
    """What ``--db`` is given: a file that does not exist yet, or a ``postgresql://`` URL."""
    postgres: bool

    def open(self, scenario: Scenario) -> Ledger:
        """The ledger ``scenario`` writes to, as ``creditcore simulate --db`` opens it."""
        return open_ledger(scenario, self.db, postgres=self.postgres)

    def reopen(self) -> Ledger:
        """The written ledger, as an admin command opens it."""
        return Ledger.postgres(self.db) if self.postgres else Ledger.sqlite(self.db)

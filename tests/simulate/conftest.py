"""``storage``: where a ``--db`` simulation writes its ledger, once a new SQLite file and once
an empty PostgreSQL database (``postgres_dsn``, a real server started from a wheel), so that a
test of the written ledger runs on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from simstorage import Storage, postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "postgres":
        return Storage(postgres_url(request.getfixturevalue("postgres_dsn")), postgres=True)
    return Storage(str(tmp_path / "sim.db"), postgres=False)

"""The repository contract (creditcore.testing.contract) against every adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditcore.adapters.memory import MemoryRepository
from creditcore.adapters.postgres import PostgresRepository
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.repository import Repository
from creditcore.testing.contract import RepositoryContract


class TestMemoryRepository(RepositoryContract):
    def make_repository(self, tmp_path: Path) -> Repository:
        return MemoryRepository()

    def reopen(self, repository: Repository, tmp_path: Path) -> Repository | None:
        # the store lives as long as the object: "reopening" is a new ledger over it
        return repository


class TestSQLiteFile(RepositoryContract):
    def make_repository(self, tmp_path: Path) -> Repository:
        return SQLiteRepository(tmp_path / "ledger.db")

    def reopen(self, repository: Repository, tmp_path: Path) -> Repository | None:
        repository.close()
        return SQLiteRepository(tmp_path / "ledger.db")


class TestSQLiteFileNormalDurability(TestSQLiteFile):
    def make_repository(self, tmp_path: Path) -> Repository:
        return SQLiteRepository(tmp_path / "ledger.db", durability="normal")


class TestSQLiteInMemory(RepositoryContract):
    concurrent_readers = False

    def make_repository(self, tmp_path: Path) -> Repository:
        return SQLiteRepository(":memory:")


class TestPostgres(RepositoryContract):
    """PostgreSQL: a real server from the test extra's wheel, a fresh database per test."""

    @pytest.fixture(autouse=True)
    def _database(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def make_repository(self, tmp_path: Path) -> Repository:
        return PostgresRepository(self.dsn)

    def reopen(self, repository: Repository, tmp_path: Path) -> Repository | None:
        repository.close()
        return PostgresRepository(self.dsn)


class TestPostgresPartitioned(TestPostgres):
    """The same contract on the layout hash-partitioned by customer (what Citus distributes):
    the same statements, on every table's 8 partitions."""

    def make_repository(self, tmp_path: Path) -> Repository:
        return PostgresRepository(self.dsn, partitions=8)

"""The repository contract (creditcore.testing.contract) against every adapter."""

from __future__ import annotations

from pathlib import Path

from creditcore.adapters.memory import MemoryRepository
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

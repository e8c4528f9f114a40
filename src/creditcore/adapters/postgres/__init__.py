"""The PostgreSQL adapter (``pip install "creditcore[postgres]"``): the same contract as
SQLite's for apps on many servers. See :class:`PostgresRepository`."""

from .repository import PostgresRepository

__all__ = ["PostgresRepository"]

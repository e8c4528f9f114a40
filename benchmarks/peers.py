"""The peers: what users pick instead of a ledger library (benchmark environment only: see
``benchmarks/requirements.txt``).

Users who need prepaid credit mostly write it themselves over the ORM their app already
has, so the peers are a hand-rolled burn in SQLAlchemy Core and one in the SQLAlchemy ORM
(:mod:`benchmarks.handrolled`): a SQLite file, ``synchronous=NORMAL``, one transaction per
burn, the same workload and burn order as the ledger, and no holds, no idempotency and no
validation. A peer whose package is not installed is skipped, and the runner says so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Peer:
    name: str
    module: str
    """The package it needs: the peer is skipped when it is not installed."""
    make: Callable[[str], Any]
    """A new peer on a SQLite file at the given path (``synchronous=NORMAL``)."""
    what: str


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _core(path: str) -> Any:
    from benchmarks.handrolled import CoreBurns

    return CoreBurns(path, "NORMAL")


def _orm(path: str) -> Any:
    from benchmarks.handrolled import OrmBurns

    return OrmBurns(path, "NORMAL")


PEERS = (
    Peer(
        "SQLAlchemy Core",
        "sqlalchemy",
        _core,
        "hand-rolled burn in SQLAlchemy Core (no holds, no idempotency, no validation)",
    ),
    Peer(
        "SQLAlchemy ORM",
        "sqlalchemy",
        _orm,
        "hand-rolled burn in the SQLAlchemy ORM (no holds, no idempotency, no validation)",
    ),
)

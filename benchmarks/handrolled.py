"""What users write instead of a ledger library: a hand-rolled burn in SQLAlchemy.

Two tables, as a SQLAlchemy user would declare them: ``blocks`` (integer key, customer,
priority, expiry, what is left) and ``entries`` (integer key, one row per block a write
touched, with the available balance after it), each indexed by customer. A SQLite file in
WAL mode at ``synchronous=NORMAL`` (set on every new connection by an event listener), one
transaction per burn, SQLAlchemy's defaults otherwise (its connection pool, the ``sqlite3``
driver's own BEGIN). A burn reads the customer's blocks with credit left, active and in the
ledger's default burn order, takes what it needs, updates them and adds its entries.

These burns do much less than the ledger's: no holds, no idempotency keys, no validation
of the arguments, no check that the history only moves forward, no account totals, no
operation ids, no result objects. Imported only when SQLAlchemy is installed
(``pip install -r benchmarks/requirements.txt``); it is never a dependency of creditcore.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    or_,
    select,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy import update as sql_update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchmarks.workload import START, BurnSpec, GrantSpec


class Base(DeclarativeBase):
    pass


class Block(Base):
    __tablename__ = "blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer: Mapped[str] = mapped_column(String, index=True)
    priority: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    remaining: Mapped[int] = mapped_column(Integer)


class Entry(Base):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String)
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"))
    amount: Mapped[int] = mapped_column(Integer)
    available_after: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)


blocks = cast(Table, Block.__table__)
entries = cast(Table, Entry.__table__)


def _naive(value: datetime) -> datetime:
    """UTC without its offset: how SQLAlchemy's ``DateTime`` keeps time on SQLite."""
    return value.replace(tzinfo=None)


def _engine(path: str, synchronous: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi: Any, _record: Any) -> None:
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.close()

    Base.metadata.create_all(engine)
    return engine


class _HandRolled:
    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self.engine = _engine(path, synchronous)
        self.keys: list[tuple[str, int]] = []

    def close(self) -> None:
        self.engine.dispose()

    def grants(self, specs: Iterable[GrantSpec]) -> int:
        """Every grant in one transaction, all at ``START`` (setup); returns the total."""
        specs = list(specs)
        available: dict[str, int] = {}
        at = _naive(START)
        with self.engine.begin() as conn:
            for spec in specs:
                available[spec.customer] = available.get(spec.customer, 0) + spec.amount
                expires = None if spec.expires_at is None else _naive(spec.expires_at)
                key = conn.execute(
                    sql_insert(blocks).values(
                        customer=spec.customer, priority=spec.priority, expires_at=expires, remaining=spec.amount
                    )
                ).inserted_primary_key
                assert key is not None
                block_id = key[0]
                conn.execute(
                    sql_insert(entries).values(
                        customer=spec.customer,
                        kind="grant",
                        block_id=block_id,
                        amount=spec.amount,
                        available_after=available[spec.customer],
                        at=at,
                    )
                )
                self.keys.append((spec.customer, spec.number))
        return sum(available.values())

    def remaining(self) -> dict[tuple[str, int], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(blocks.c.id, blocks.c.remaining).order_by(blocks.c.id)).all()
        return {self.keys[block_id - 1]: left for block_id, left in rows}

    def burn(self, spec: BurnSpec) -> int:
        raise NotImplementedError

    def burns_each(self, specs: Iterable[BurnSpec]) -> int:
        """One transaction per burn; returns the total burned."""
        return sum(self.burn(spec) for spec in specs)


#: The statements of a burn, built once and reused as a careful user would: SQLAlchemy then
#: reuses their compiled form instead of building and hashing a new statement per burn.
_LIVE = (
    select(blocks.c.id, blocks.c.remaining)
    .where(
        blocks.c.customer == bindparam("customer"),
        blocks.c.remaining > 0,
        or_(blocks.c.expires_at.is_(None), blocks.c.expires_at > bindparam("at")),
    )
    .order_by(blocks.c.priority, blocks.c.expires_at.is_(None), blocks.c.expires_at, blocks.c.id)
)
_TAKE = sql_update(blocks).where(blocks.c.id == bindparam("block")).values(remaining=bindparam("left"))
_RECORD = sql_insert(entries)
_LIVE_OBJECTS = (
    select(Block)
    .where(
        Block.customer == bindparam("customer"),
        Block.remaining > 0,
        or_(Block.expires_at.is_(None), Block.expires_at > bindparam("at")),
    )
    .order_by(Block.priority, Block.expires_at.is_(None), Block.expires_at, Block.id)
)


class CoreBurns(_HandRolled):
    """The burn in SQLAlchemy Core: a ``select``, then an ``update`` and an ``insert`` with a
    list of parameter sets each, inside ``engine.begin()``."""

    def burn(self, spec: BurnSpec) -> int:
        at = _naive(spec.at)
        with self.engine.begin() as conn:
            live = conn.execute(_LIVE, {"customer": spec.customer, "at": at}).all()
            available = sum(left for _, left in live)
            need = spec.amount
            updates = []
            rows = []
            for block_id, left in live:
                take = min(need, left)
                need -= take
                available -= take
                updates.append({"block": block_id, "left": left - take})
                rows.append(
                    {
                        "customer": spec.customer,
                        "kind": "burn",
                        "block_id": block_id,
                        "amount": take,
                        "available_after": available,
                        "at": at,
                    }
                )
                if not need:
                    break
            if updates:
                conn.execute(_TAKE, updates)
                conn.execute(_RECORD, rows)
        return spec.amount - need


class OrmBurns(_HandRolled):
    """The burn in the SQLAlchemy ORM: a ``Session`` per burn, the blocks loaded as
    objects, changed in place, and new ``Entry`` objects added; the commit flushes them."""

    def burn(self, spec: BurnSpec) -> int:
        at = _naive(spec.at)
        with Session(self.engine) as session, session.begin():
            live = session.scalars(_LIVE_OBJECTS, {"customer": spec.customer, "at": at}).all()
            available = sum(block.remaining for block in live)
            need = spec.amount
            for block in live:
                take = min(need, block.remaining)
                need -= take
                available -= take
                block.remaining -= take
                session.add(
                    Entry(
                        customer=spec.customer,
                        kind="burn",
                        block_id=block.id,
                        amount=take,
                        available_after=available,
                        at=at,
                    )
                )
                if not need:
                    break
        return spec.amount - need

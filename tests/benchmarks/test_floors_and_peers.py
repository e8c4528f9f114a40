"""The floors and the hand-rolled peers do the ledger's work, so the ratios compare like with
like: on a small workload each one leaves every block with the credit the ledger leaves it,
which it can only do by burning the same blocks in the same order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks import floors, peers, workload
from creditcore import Ledger


@pytest.fixture(scope="module")
def small() -> workload.Workload:
    return workload.make(seed=3, customers=4, grants=6, burns=300, holds=0)


@pytest.fixture(scope="module")
def ledger_remaining(small: workload.Workload) -> dict[tuple[str, int], int]:
    """Each block's credit after the ledger burned the workload."""
    ledger = Ledger.memory()
    ids = {}
    for grant in small.grants:
        result = ledger.grant(
            grant.customer, grant.amount, priority=grant.priority, expires_at=grant.expires_at, at=workload.START
        )
        ids[grant.customer, grant.number] = result.block.id
    for spec in small.burns:
        ledger.burn(spec.customer, spec.amount, overdraft="partial", at=spec.at)
    after = small.burns[-1].at  # before the first expiry: later, expired blocks read as empty
    return {key: int(ledger.get_block(block_id, at=after).remaining) for key, block_id in ids.items()}


def _burn_each(subject: Any, small: workload.Workload) -> dict[tuple[str, int], int]:
    try:
        subject.grants(small.grants)
        subject.burns_each(small.burns)
        left: dict[tuple[str, int], int] = subject.remaining()
        return left
    finally:
        subject.close()


def test_the_dict_floor_leaves_every_block_as_the_ledger_does(
    small: workload.Workload, ledger_remaining: dict[tuple[str, int], int]
) -> None:
    floor = floors.DictFloor()
    for grant in small.grants:
        floor.grant(grant, workload.START)
    for spec in small.burns:
        floor.burn(spec)
    assert floor.remaining() == ledger_remaining


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_the_lean_floor_leaves_every_block_as_the_ledger_does(
    small: workload.Workload, ledger_remaining: dict[tuple[str, int], int], tmp_path: Path, synchronous: str
) -> None:
    assert _burn_each(floors.LeanFloor(str(tmp_path / "lean.db"), synchronous), small) == ledger_remaining


def test_the_lean_floor_in_one_transaction_leaves_every_block_as_the_ledger_does(
    small: workload.Workload, ledger_remaining: dict[tuple[str, int], int], tmp_path: Path
) -> None:
    floor = floors.LeanFloor(str(tmp_path / "lean.db"), "FULL")
    try:
        floor.grants(small.grants)
        floor.burns_together(small.burns)
        assert floor.remaining() == ledger_remaining
    finally:
        floor.close()


def test_the_lean_floor_records_the_available_balance_after_each_grant(tmp_path: Path) -> None:
    few = workload.make(seed=1, customers=2, grants=3, burns=0, holds=0)
    floor = floors.LeanFloor(str(tmp_path / "lean.db"), "NORMAL")
    try:
        floor.grants(few.grants)
        rows = floor.conn.execute("SELECT customer, amount, available_after FROM entries ORDER BY id").fetchall()
    finally:
        floor.close()
    running: dict[str, int] = {}
    for customer, amount, after in rows:
        running[customer] = running.get(customer, 0) + amount
        assert after == running[customer], f"{customer}: a grant recorded {after} available, not {running[customer]}"


def test_the_schema_floor_leaves_every_block_as_the_ledger_does(
    small: workload.Workload, ledger_remaining: dict[tuple[str, int], int], tmp_path: Path
) -> None:
    assert _burn_each(floors.SchemaFloor(str(tmp_path / "schema.db"), "NORMAL"), small) == ledger_remaining


@pytest.mark.parametrize("peer", ["SQLAlchemy Core", "SQLAlchemy ORM"])
def test_the_hand_rolled_sqlalchemy_burns_leave_every_block_as_the_ledger_does(
    small: workload.Workload, ledger_remaining: dict[tuple[str, int], int], tmp_path: Path, peer: str
) -> None:
    pytest.importorskip("sqlalchemy", reason="the peers install from benchmarks/requirements.txt")
    (found,) = [p for p in peers.PEERS if p.name == peer]
    assert _burn_each(found.make(str(tmp_path / "peer.db")), small) == ledger_remaining


def test_the_postgres_lean_floor_leaves_every_block_as_the_postgres_ledger_does(
    small: workload.Workload,
    ledger_remaining: dict[tuple[str, int], int],
    postgres_databases: Callable[[], str],
) -> None:
    ledger = Ledger.postgres(postgres_databases())
    try:
        ids = {}
        with ledger.atomic():
            for grant in small.grants:
                result = ledger.grant(
                    grant.customer,
                    grant.amount,
                    priority=grant.priority,
                    expires_at=grant.expires_at,
                    at=workload.START,
                )
                ids[grant.customer, grant.number] = result.block.id
        burned = sum(
            int(ledger.burn(spec.customer, spec.amount, overdraft="partial", at=spec.at).burned) for spec in small.burns
        )
        after = small.burns[-1].at
        on_postgres = {key: int(ledger.get_block(block_id, at=after).remaining) for key, block_id in ids.items()}
    finally:
        ledger.close()
    assert on_postgres == ledger_remaining
    floor = floors.PgLeanFloor(postgres_databases())
    try:
        assert floor.grants(small.grants) == sum(grant.amount for grant in small.grants)
        assert floor.burns_each(small.burns) == burned
        assert floor.remaining() == on_postgres
    finally:
        floor.close()

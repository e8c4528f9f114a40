"""The seeded workload every subject runs: the same grants, burns and holds for the
ledger, the hand-written floors and the peers.

Grants are all made at ``START``; burn ``i`` happens ``i + 1`` milliseconds later, so a
customer's history only moves forward. Expiries fall between 30 and 365 days after the
start (a fifth of the grants never expire), beyond the last burn, so every subject sees the
same credit; the burn order still has to weigh priority, then expiry, then creation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, tzinfo=UTC)
TICK = timedelta(milliseconds=1)
PRIORITIES = (0, 10, 50, 100)


@dataclass(frozen=True, slots=True)
class GrantSpec:
    customer: str
    number: int
    """Creation order within the customer (the last tie-breaker of the burn order)."""
    amount: int
    priority: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class BurnSpec:
    customer: str
    amount: int
    at: datetime


@dataclass(frozen=True, slots=True)
class HoldSpec:
    customer: str
    hold_id: str
    amount: int
    capture: int | None
    """How much to capture (0..amount), or ``None`` to release."""
    at: datetime


@dataclass(frozen=True, slots=True)
class Workload:
    customers: int
    grants: tuple[GrantSpec, ...]
    burns: tuple[BurnSpec, ...]
    holds: tuple[HoldSpec, ...]

    def burn_prefix(self, n: int) -> Workload:
        return Workload(customers=self.customers, grants=self.grants, burns=self.burns[:n], holds=())

    def hold_prefix(self, n: int) -> Workload:
        return Workload(customers=self.customers, grants=self.grants, burns=(), holds=self.holds[:n])


def make(*, seed: int, customers: int, grants: int, burns: int, holds: int) -> Workload:
    """``customers`` x ``grants`` grants of 10..1000 credits with a random priority and
    expiry, ``burns`` burns of 1..50 credits against random customers (``overdraft="partial"``
    semantics: a customer may run dry), and ``holds`` hold -> capture/release cycles of
    1..20 credits (half captured in part or in full, half released)."""
    rng = random.Random(seed)
    specs = []
    for c in range(customers):
        for g in range(grants):
            never = rng.random() < 0.2
            specs.append(
                GrantSpec(
                    customer=f"c{c}",
                    number=g + 1,
                    amount=rng.randint(10, 1000),
                    priority=rng.choice(PRIORITIES),
                    expires_at=None if never else START + timedelta(days=rng.randint(30, 365)),
                )
            )
    burn_specs = tuple(
        BurnSpec(customer=f"c{rng.randrange(customers)}", amount=rng.randint(1, 50), at=START + TICK * (i + 1))
        for i in range(burns)
    )
    hold_specs = []
    for i in range(holds):
        amount = rng.randint(1, 20)
        capture = rng.randint(0, amount) if rng.random() < 0.5 else None
        hold_specs.append(
            HoldSpec(
                customer=f"c{rng.randrange(customers)}",
                hold_id=f"h{i}",
                amount=amount,
                capture=capture,
                at=START + TICK * (i + 1),
            )
        )
    return Workload(customers=customers, grants=tuple(specs), burns=burn_specs, holds=tuple(hold_specs))

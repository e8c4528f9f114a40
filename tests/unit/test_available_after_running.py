"""SPEC §4: each entry's ``available_after`` is the customer's available balance in its unit
after exactly that entry, even among entries dated one instant (two blocks expiring
together, a hold timing out into a block that expired, a release, a settlement, a reversal):
replaying a customer's entries one at a time, ``available_after`` is the running balance;
and the last entry of each instant shows the balance read at that instant."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import event, given
from hypothesis import strategies as st

from creditcore import CreditError, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

# what an entry does to its block's unheld credit (capture takes held credit: no change)
UNHELD = {
    "grant": 1, "move_in": 1, "reverse": 1, "release": 1,
    "burn": -1, "settle": -1, "expire": -1, "void": -1, "move_out": -1, "hold": -1,
    "capture": 0,
}  # fmt: skip


def check_running(ledger: Ledger, customer: str = "ada", unit: str = "credits") -> int:
    """Replay the customer's entries one at a time with a model of its own: each entry's
    available_after is the unheld credit of the blocks effective at its time; the last entry
    of each instant matches the balance read then. Returns how many entries it checked."""
    with ledger.repository.reader() as reader:
        blocks = {b.id: b for b in reader.history(customer)[0]}
    entries = [e for e in ledger.entries(customer, limit=10_000).items if e.unit == unit]
    unheld: dict[str, Decimal] = {}
    for number, entry in enumerate(entries):
        if entry.block_id is not None:
            unheld[entry.block_id] = unheld.get(entry.block_id, Decimal(0)) + UNHELD[entry.kind] * entry.amount
        running = sum(
            (credit for block_id, credit in unheld.items() if blocks[block_id].effective_at <= entry.at), Decimal(0)
        )
        assert entry.available_after == running, (number, entry.kind, entry.at, entry.available_after, running)
        last_of_instant = number + 1 == len(entries) or entries[number + 1].at != entry.at
        if last_of_instant:
            assert entry.available_after == ledger.balance(customer, unit=unit, at=entry.at).available, entry
    return len(entries)


def test_two_blocks_expiring_at_one_instant() -> None:
    ledger = Ledger.memory(clock=lambda: T0 + 10 * HOUR)
    ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 5, expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 3, at=T0)
    expired = ledger.expire_due(at=T0 + 2 * HOUR)
    assert [(e.kind, e.amount, e.available_after) for e in expired] == [("expire", 10, 8), ("expire", 5, 3)]
    assert check_running(ledger) == 5


def test_a_hold_timing_out_into_an_expired_block() -> None:
    ledger = Ledger.memory(clock=lambda: T0 + 10 * HOUR)
    ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 2, at=T0)
    ledger.hold("ada", 4, hold_id="h1", expires_at=T0 + 2 * HOUR, at=T0)
    due = ledger.expire_due(at=T0 + 3 * HOUR)
    # the expiry takes the 6 unheld; the timeout gives 4 back, which then expire at once
    assert [(e.kind, e.amount, e.available_after) for e in due] == [
        ("expire", 6, 2),
        ("release", 4, 6),
        ("expire", 4, 2),
    ]
    check_running(ledger)


def test_a_reversal_into_an_expired_block_and_a_settlement() -> None:
    ledger = Ledger.memory(clock=lambda: T0 + 10 * HOUR)
    ledger.grant("ada", 10, expires_at=T0 + HOUR, at=T0)
    burn = ledger.burn("ada", 12, overdraft="debt", at=T0)
    ledger.grant("ada", 5, effective_at=T0 + 2 * HOUR, at=T0)  # settles the debt when it starts
    reversed_ = ledger.reverse(burn.op_id, at=T0 + 3 * HOUR)
    assert [e.kind for e in reversed_.entries] == ["reverse", "reverse", "expire"]
    assert [e.available_after for e in reversed_.entries] == [5, 15, 5]
    check_running(ledger)


# -- any sequence of operations ------------------------------------------------------------------

STEPS = [
    "grant", "grant", "grant_later", "burn", "burn_debt", "hold", "capture", "release", "void",
    "reverse", "change_expiry", "expire_due",
]  # fmt: skip
operations = st.lists(
    st.tuples(
        st.sampled_from(STEPS),
        st.integers(1, 12),  # amount
        st.integers(0, 4),  # picks an expiry, a scope, a block, a hold or an op
        st.sampled_from([timedelta(0), timedelta(0), HOUR // 2, HOUR]),  # how far the clock moves first
    ),
    min_size=1,
    max_size=25,
)
EXPIRIES = [None, T0 + 2 * HOUR, T0 + 2 * HOUR, T0 + HOUR, T0 + 2 * HOUR]  # ties are common


@given(operations)
def test_available_after_is_a_running_balance_for_any_sequence(
    steps: list[tuple[str, int, int, timedelta]],
) -> None:
    ledger = Ledger.memory(clock=lambda: T0 + 100 * HOUR)
    at = T0
    # two blocks that end at one instant, whatever the steps do
    blocks: list[str] = [ledger.grant("ada", 6, expires_at=T0 + 2 * HOUR, at=T0).block.id for _ in range(2)]
    holds: list[str] = []
    ops: list[str] = []
    for number, (name, amount, pick, step) in enumerate(steps):
        at += step
        with contextlib.suppress(CreditError):  # a refused step writes nothing
            if name in ("grant", "grant_later"):
                expires = EXPIRIES[pick]
                effective = at + HOUR // 2 if name == "grant_later" else None
                result = ledger.grant(
                    "ada", amount, expires_at=expires, effective_at=effective,
                    scope={"trip"} if pick == 4 else None, at=at,
                )  # fmt: skip
                blocks.append(result.block.id)
            elif name in ("burn", "burn_debt"):
                overdraft = "debt" if name == "burn_debt" else "partial"
                ops.append(ledger.burn("ada", amount, overdraft=overdraft, scope="trip" if pick else None, at=at).op_id)
            elif name == "hold":
                ledger.hold("ada", amount, hold_id=f"h{number}", expires_at=EXPIRIES[pick], at=at)
                holds.append(f"h{number}")
            elif name == "capture" and holds:
                ops.append(ledger.capture(holds[pick % len(holds)], min(amount, 1), at=at).op_id)
            elif name == "release" and holds:
                ledger.release(holds[pick % len(holds)], at=at)
            elif name == "void" and blocks:
                ledger.void(blocks[pick % len(blocks)], at=at)
            elif name == "reverse" and ops:
                ledger.reverse(ops[pick % len(ops)], at=at)
            elif name == "change_expiry" and blocks:
                moved = ledger.change_expiry(blocks[pick % len(blocks)], at + HOUR, amount=1, at=at)
                blocks.append(moved.block.id)
            elif name == "expire_due":
                ledger.expire_due(at=at)
    ledger.expire_due(at=at + 4 * HOUR)
    check_running(ledger)
    entries = ledger.entries("ada", limit=10_000).items
    moments = [e.at for e in entries if e.kind in ("expire", "release")]
    event("entries of one instant that end credit" if len(moments) > len(set(moments)) else "none")

"""Results never depend on the caller's ``decimal`` context: the library computes in its own
(``creditcore.values.DECIMAL_CONTEXT``), whatever precision, rounding or traps the host app
set — on every adapter and for every read and write."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditcore import IdempotencyConflict, InsufficientCredits, Ledger
from creditcore.testing import strategies as cst
from creditcore.values import canonical, parse_amount, to_decimal, whole_minor_units

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
contexts = cst.decimal_contexts()


def scenario(adapter: str) -> list[str]:
    """Every kind of read and write, with amounts of many digits; what each returned, as
    text (``repr`` of a Decimal does not depend on any context)."""
    ledger = (
        Ledger.memory(clock=lambda: T0, units={"usd": 2}, debt_limit="50.005", future_tolerance=None)
        if adapter == "memory"
        else Ledger.sqlite(":memory:", clock=lambda: T0, units={"usd": 2}, debt_limit="50.005", future_tolerance=None)
    )
    seen: list[str] = []
    try:
        grant = ledger.grant(
            "ada", "12345.67", unit="usd", cost_basis="0.123456789012345678901234567891", idempotency_key="g", at=T0
        )
        seen.append(repr(grant.block))
        seen.append(repr(ledger.grant("ada", "0.01", unit="usd", expires_at=T0 + HOUR, at=T0).block))
        burn = ledger.burn("ada", "12345.60", unit="usd", idempotency_key="b", at=T0 + HOUR)
        seen.append(repr((burn.burned, burn.shortfall, burn.debt, burn.entries)))
        debt = ledger.burn("ada", "50.07", unit="usd", overdraft="debt", at=T0 + 2 * HOUR)
        seen.append(repr((debt.burned, debt.shortfall, debt.debt)))
        try:
            ledger.burn("ada", "1.00", unit="usd", overdraft="debt", at=T0 + 2 * HOUR)
        except InsufficientCredits as error:  # the limit of 50.00 reached exactly
            seen.append(f"refused {error.requested!r} {error.available!r}")
        try:
            ledger.burn("ada", "12345.61", unit="usd", idempotency_key="b", at=T0 + 2 * HOUR)
        except IdempotencyConflict as error:
            seen.append(f"conflict {error.field}")
        try:
            ledger.grant(
                "ada", "12345.67", unit="usd", cost_basis="0.123456789012345678901234567892", idempotency_key="g"
            )
        except IdempotencyConflict as error:
            seen.append(f"conflict {error.field}")
        ledger.grant("bob", "98765.43", unit="usd", at=T0)
        hold = ledger.hold("bob", "98765.42", unit="usd", hold_id="h", at=T0 + HOUR)
        capture = ledger.capture("h", "12345.67", at=T0 + HOUR)
        seen.append(repr((hold.hold, capture.captured, capture.released)))
        seen.append(repr(ledger.reverse(capture.op_id, "0.01", at=T0 + 2 * HOUR).reversed))
        for customer in ("ada", "bob"):
            seen.append(repr(ledger.balance(customer, unit="usd")))
            seen.append(repr(ledger.balance(customer, unit="usd", at=T0 + HOUR)))
            seen.append(repr(ledger.balances(customer)))
            seen.append(repr(ledger.blocks(customer, unit="usd", include_inactive=True)))
            seen.append(repr(ledger.timeline(customer, unit="usd")))
            seen.append(repr(ledger.preview_burn(customer, "0.99", unit="usd")))
        seen.append(repr(ledger.entries(limit=1000).items))
        seen.append(str(ledger.verify()))
    finally:
        ledger.close()
    # ids differ between runs: compare by position
    return [_without_ids(text) for text in seen]


def _without_ids(text: str) -> str:
    import re

    return re.sub(r"(op|blk)_[0-9a-f]{32}", r"\1_*", text)


EXPECTED = {adapter: scenario(adapter) for adapter in ("memory", "sqlite")}


@pytest.mark.parametrize("adapter", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=contexts)
def test_any_decimal_context_gives_identical_results(adapter: str, context: decimal.Context) -> None:
    with decimal.localcontext(context):
        seen = scenario(adapter)
    assert seen == EXPECTED[adapter]


def test_the_example_of_a_host_with_six_digits() -> None:
    with decimal.localcontext(decimal.Context(prec=6)):
        ledger = Ledger.memory(units={"usd": 2})
        block = ledger.grant("ada", "12345.67", unit="usd").block
        burn = ledger.burn("ada", "12345.68", unit="usd", overdraft="partial")
    assert (block.remaining, burn.burned, burn.shortfall) == (Decimal("12345.67"), Decimal("12345.67"), Decimal("0.01"))


@given(context=contexts, minor=st.integers(-(2**63) + 1, 2**63 - 1), scale=st.integers(0, 18))
def test_conversions_are_exact_in_any_context(context: decimal.Context, minor: int, scale: int) -> None:
    with decimal.localcontext(context):
        shown = to_decimal(minor, scale)
        assert parse_amount(str(shown.copy_abs()), scale, allow_zero=True) == abs(minor)
        assert whole_minor_units(shown.copy_abs(), scale) == abs(minor)
        assert canonical(shown) == canonical(Decimal(minor).scaleb(-scale, decimal.Context(prec=100)))

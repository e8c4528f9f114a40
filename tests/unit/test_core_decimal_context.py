"""Issue 10 item 3, the core's share: the values the core builds (Balance, its ``net``, Block,
Hold, Entry) and the amounts its refusals quote are exact whatever ``decimal`` context the
caller has set (a precision of 6, traps on Inexact and Rounded)."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditcore import InsufficientCredits, rules
from creditcore.model import Balance, Block, Entry, Hold
from creditcore.state import AccountState, Burn, Grant, PlaceHold, Tally
from creditcore.values import MAX_MINOR

T0 = datetime(2026, 1, 1, tzinfo=UTC)

minor = st.integers(0, MAX_MINOR)
contexts = st.builds(
    decimal.Context,
    prec=st.integers(1, 12),
    rounding=st.sampled_from([decimal.ROUND_HALF_EVEN, decimal.ROUND_DOWN, decimal.ROUND_CEILING]),
    traps=st.sampled_from([[], [decimal.Inexact], [decimal.Inexact, decimal.Rounded]]),
)


def exact(amount: int, scale: int) -> Decimal:
    """The amount with ``scale`` places, built from its digits (no arithmetic at all)."""
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(scale + 1, "0")
    return Decimal(f"{sign}{digits[: len(digits) - scale]}.{digits[len(digits) - scale :]}" if scale else f"{amount}")


@given(available=minor, debt=minor, held=minor, scale=st.integers(0, 18), context=contexts)
def test_a_balance_and_its_net_are_exact_in_any_caller_context(
    available: int, debt: int, held: int, scale: int, context: decimal.Context
) -> None:
    tally = Tally(available=available, unscoped_available=available, held=held, granted=available + held, debt=debt)
    with decimal.localcontext(context):
        balance = Balance.from_tally(tally, "usd", scale, T0)
        net = balance.net
    assert balance.available == exact(available, scale) and balance.held == exact(held, scale)
    assert balance.debt == exact(debt, scale) and balance.granted == exact(available + held, scale)
    assert net == exact(available - debt, scale)


@given(amount=st.integers(1, MAX_MINOR // 2), scale=st.integers(0, 18), context=contexts)
def test_blocks_holds_entries_and_refusals_are_exact_in_any_caller_context(
    amount: int, scale: int, context: decimal.Context
) -> None:
    state, granted = rules.grant(
        AccountState(customer="ada"), Grant(op_id="g", block_id="b", unit="usd", amount=amount), T0
    )
    state, held = rules.hold(state, PlaceHold(op_id="h", hold_id="h", unit="usd", amount=amount), T0)
    with decimal.localcontext(context):
        block = Block.from_state(state.blocks["b"], scale, T0)
        hold = Hold.from_state(state.holds["h"], scale, T0)
        entry = Entry.from_state(granted[0], scale)
        with pytest.raises(InsufficientCredits) as caught:
            rules.burn(state, Burn(op_id="u", unit="usd", amount=amount + 1), T0, scale=scale)
    assert block.amount == block.held == exact(amount, scale) and block.available == 0
    assert hold.amount == exact(amount, scale) and hold.allocations == (("b", exact(amount, scale)),)
    assert entry.amount == entry.available_after == exact(amount, scale)
    assert caught.value.requested == exact(amount + 1, scale) and caught.value.available == 0
    assert f"requested {exact(amount + 1, scale)} usd" in str(caught.value)
    assert len(held) == 1


def test_the_reported_figure() -> None:
    with decimal.localcontext(decimal.Context(prec=6)):
        balance = Balance.from_tally(Tally(available=1234567, debt=1), "eur", 2, T0)
        assert (balance.available, balance.net) == (Decimal("12345.67"), Decimal("12345.66"))

"""SPEC §4 and §3: a balance without ``scope`` counts scoped credit in ``available``, which a
burn or hold without a scope cannot use. The two must agree in words: ``Balance`` has
``unscoped_available`` (the part a burn with ``scope=None`` can use, with or without a scope
asked for), and an InsufficientCredits refusal names the scoped credit it could not use and
how to reach it, in the unit with its scale."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditcore import InsufficientCredits, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def eur() -> Ledger:
    ledger = Ledger.memory(units={"eur": 2}, clock=lambda: T0)
    ledger.grant("ada", "20.00", unit="eur", at=T0)
    ledger.grant("ada", "10.00", unit="eur", scope={"trip"}, at=T0)
    return ledger


def test_the_reported_case_agrees_in_words(eur: Ledger) -> None:
    balance = eur.balance("ada", unit="eur")
    assert (balance.available, balance.unscoped_available) == (Decimal("30.00"), Decimal("20.00"))
    with pytest.raises(InsufficientCredits) as caught:
        eur.burn("ada", "30.00", unit="eur")
    text = str(caught.value)
    assert "requested 30.00 eur but only 20.00 eur is available without a scope" in text
    assert "10.00 eur more is available only to scope 'trip': pass scope='trip' to use it" in text
    assert caught.value.available == balance.unscoped_available
    assert eur.burn("ada", "30.00", unit="eur", scope="trip").burned == Decimal("30.00")


def test_a_hold_says_the_same(eur: Ledger) -> None:
    with pytest.raises(InsufficientCredits) as caught:
        eur.hold("ada", "20.01", unit="eur", hold_id="h1")
    text = str(caught.value)
    assert "only 20.00 eur is available without a scope" in text
    assert "10.00 eur more is available only to scope 'trip': pass scope='trip' to use it" in text
    assert "a hold reserves all of its amount or nothing" in text


def test_a_burn_of_another_scope_names_the_scopes_it_cannot_reach(eur: Ledger) -> None:
    eur.grant("ada", "4.00", unit="eur", scope={"video", "image"}, at=T0)
    with pytest.raises(InsufficientCredits) as caught:
        eur.burn("ada", "25.00", unit="eur", scope="food")
    text = str(caught.value)
    assert "only 20.00 eur is available to scope 'food'" in text
    assert "14.00 eur more is available only to scopes 'image', 'trip', 'video'" in text
    assert "4.00 eur to 'image' or 'video'; 10.00 eur to 'trip'" in text
    with pytest.raises(InsufficientCredits) as caught:
        eur.burn("ada", "35.00", unit="eur", scope="trip", overdraft="reject")
    assert "only 30.00 eur is available to scope 'trip'" in str(caught.value)
    assert "4.00 eur more is available only to scopes 'image', 'video'" in str(caught.value)


def test_without_scoped_credit_the_refusal_is_as_before() -> None:
    ledger = Ledger.memory(units={"eur": 2}, clock=lambda: T0)
    ledger.grant("ada", "12.40", unit="eur", at=T0)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", "12.41", unit="eur")
    assert str(caught.value) == (
        "requested 12.41 eur but only 12.40 eur is available (pass overdraft='partial' or 'debt' to burn what there is)"
    )


def test_scoped_credit_that_is_not_active_is_not_named() -> None:
    ledger = Ledger.memory(clock=lambda: T0)
    ledger.grant("ada", 5, at=T0)
    ledger.grant("ada", 7, scope={"trip"}, effective_at=T0 + HOUR, at=T0)
    ledger.grant("ada", 3, scope={"trip"}, at=T0)
    ledger.hold("ada", 3, scope="trip", hold_id="h1", at=T0)
    balance = ledger.balance("ada")
    assert (balance.available, balance.unscoped_available, balance.upcoming) == (5, 5, 7)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", 6)
    assert "only" in str(caught.value) and "scope" not in str(caught.value)  # nothing scoped it could use


def test_the_balance_with_a_scope_still_shows_the_unscoped_part(eur: Ledger) -> None:
    trip = eur.balance("ada", unit="eur", scope="trip")
    food = eur.balance("ada", unit="eur", scope="food")
    assert (trip.available, trip.unscoped_available) == (Decimal("30.00"), Decimal("20.00"))
    assert (food.available, food.unscoped_available) == (Decimal("20.00"), Decimal("20.00"))


SCOPES = [None, frozenset({"trip"}), frozenset({"video"}), frozenset({"trip", "video"})]


@given(
    grants=st.lists(
        st.tuples(
            st.integers(1, 50),
            st.sampled_from(SCOPES),
            st.sampled_from([None, T0 + HOUR, T0 + 3 * HOUR]),  # expiry
            st.booleans(),  # upcoming until T0 + 2h
        ),
        min_size=1,
        max_size=6,
    ),
    hold=st.integers(0, 30),
    at=st.sampled_from([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 4 * HOUR]),
    amount=st.integers(1, 200),
    scope=st.sampled_from([None, "trip", "video", "food"]),
)
def test_unscoped_available_is_what_a_burn_without_scope_can_use(
    grants: list[tuple[int, frozenset[str] | None, datetime | None, bool]],
    hold: int,
    at: datetime,
    amount: int,
    scope: str | None,
) -> None:
    ledger = Ledger.memory(units={"eur": 2}, clock=lambda: at, future_tolerance=None)
    for minor, scopes, expires, upcoming in grants:
        ledger.grant(
            "ada", Decimal(minor).scaleb(-2), unit="eur", scope=scopes, expires_at=expires,
            effective_at=T0 + 2 * HOUR if upcoming and (expires is None or expires > T0 + 2 * HOUR) else None,
            at=T0,
        )  # fmt: skip
    if hold:
        with contextlib.suppress(InsufficientCredits):  # a hold of more than there is: none
            ledger.hold("ada", Decimal(hold).scaleb(-2), unit="eur", hold_id="h", at=T0)
    plain = ledger.balance("ada", unit="eur", at=at)
    scoped = ledger.balance("ada", unit="eur", at=at, scope=scope)
    assert scoped.unscoped_available == plain.unscoped_available <= plain.available
    usable = plain.unscoped_available if scope is None else scoped.available
    wanted = Decimal(amount).scaleb(-2)
    # what a burn can draw is exactly what these figures say
    assert ledger.preview_burn("ada", wanted, unit="eur", scope=scope, at=at).shortfall == max(
        Decimal(0), wanted - usable
    )
    if wanted <= usable:
        return
    with pytest.raises(InsufficientCredits) as caught:
        ledger.burn("ada", wanted, unit="eur", scope=scope, at=at)
    text = str(caught.value)
    assert caught.value.available == usable
    assert f"only {usable:.2f} eur is available" in text
    out_of_reach = plain.available - (scoped.available if scope is not None else plain.unscoped_available)
    if out_of_reach:
        assert f"{out_of_reach:.2f} eur more is available only to scope" in text
        assert "scope=" in text
    else:
        assert "more is available only to" not in text

"""The starter credit (SPEC_BILLING B7) on every adapter: one promotional grant per customer
under the key ``starter-credit:<customer>``, expiring ``lifetime`` after ``at`` in the
customer's zone; the same arguments replay at any time, others conflict; bad input is
refused naming its field, with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import IdempotencyConflict, Ledger, ValidationError
from creditcore.billing.starter import grant_starter_credit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FAR = T0 + 10_000 * DAY


@pytest.fixture
def usd(ledger: Ledger) -> Ledger:
    ledger.define_unit("usd", 2)
    ledger.define_unit("eur", 2)
    return ledger


def _everything(ledger: Ledger) -> tuple[object, ...]:
    """All the ledger shows that a grant could write."""
    return (
        tuple(ledger.entries(limit=10_000).items),
        tuple(ledger.customers(limit=10_000).items),
        tuple(ledger.blocks("ada", include_inactive=True, at=FAR)),
        ledger.balances("ada", at=FAR),
        ledger.balances("ada", at=T0 + DAY),
    )


def test_the_starter_credit_is_a_promotional_grant_that_expires(usd: Ledger) -> None:
    result = grant_starter_credit(usd, "ada", at=T0)
    block = result.block
    assert (block.amount, block.unit, block.category, block.scope) == (Decimal("5.00"), "usd", "promotional", None)
    assert (block.effective_at, block.expires_at, block.description) == (T0, T0 + 30 * DAY, "starter credit")
    assert block.metadata == {"tag": "starter-credit", "credit_type": "starter", "lifetime": "30 days"}
    assert not result.replayed
    assert [e.kind for e in result.entries] == ["grant"]
    assert usd.balance("ada", unit="usd", at=T0 + 30 * DAY - HOUR).available == Decimal("5.00")
    assert usd.balance("ada", unit="usd", at=T0 + 30 * DAY).available == 0
    # the key is the implicit one: the same grant under it replays
    same = usd.grant(
        "ada", "5", unit="usd", expires_at=T0 + 30 * DAY, category="promotional", description="starter credit",
        metadata={"tag": "starter-credit", "credit_type": "starter", "lifetime": "30 days"},
        idempotency_key="starter-credit:ada", at=T0 + DAY,
    )  # fmt: skip
    assert (same.replayed, same.op_id) == (True, result.op_id)


def test_a_second_call_replays_at_any_time(usd: Ledger) -> None:
    first = grant_starter_credit(usd, "ada", at=T0 + DAY)
    usd.burn("ada", 1, unit="usd", at=T0 + 2 * DAY)
    before = _everything(usd)
    for at in (T0 + DAY, T0 + 20 * DAY, None, T0):  # the same time, later, now, before the last write
        again = grant_starter_credit(usd, "ada", amount="5", at=at)
        assert (again.replayed, again.op_id, again.block.id) == (True, first.op_id, first.block.id)
        assert again.block.expires_at == T0 + 31 * DAY
        assert again.entries == first.entries
    assert _everything(usd) == before
    # one per customer: another customer gets its own
    other = grant_starter_credit(usd, "bob", at=T0 + 2 * DAY)
    assert not other.replayed and other.block.expires_at == T0 + 32 * DAY


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"amount": "6.00"}, "amount"), ({"amount": 10}, "amount"), ({"unit": "eur"}, "unit"),
     ({"lifetime": "60 days"}, "lifetime"), ({"lifetime": "1 month"}, "lifetime")],
)  # fmt: skip
def test_other_arguments_conflict_and_write_nothing(usd: Ledger, arguments: dict[str, object], field: str) -> None:
    grant_starter_credit(usd, "ada", at=T0)
    before = _everything(usd)
    for at in (T0, T0 + DAY):
        with pytest.raises(IdempotencyConflict) as conflict:
            grant_starter_credit(usd, "ada", at=at, **arguments)  # type: ignore[arg-type]
        assert (conflict.value.field, conflict.value.key) == (field, "starter-credit:ada")
    assert _everything(usd) == before


def test_the_key_taken_by_another_write_conflicts(usd: Ledger) -> None:
    usd.grant("ada", 10, unit="usd", at=T0)
    usd.burn("ada", 1, unit="usd", idempotency_key="starter-credit:ada", at=T0)
    usd.grant("bob", 5, unit="usd", idempotency_key="starter-credit:bob", at=T0)  # no expiry
    before = _everything(usd)
    with pytest.raises(IdempotencyConflict) as conflict:
        grant_starter_credit(usd, "ada", at=T0)
    assert conflict.value.field == "operation"
    with pytest.raises(IdempotencyConflict) as conflict:
        grant_starter_credit(usd, "bob", at=T0)
    assert conflict.value.field == "expires_at"
    assert _everything(usd) == before


def test_the_lifetime_is_counted_in_the_customer_zone(usd: Ledger) -> None:
    # 30 days from 12:00 in New York keep 12:00 local across the change to summer time
    usd.set_customer("ny", timezone="America/New_York", at=T0)
    start = datetime(2026, 3, 1, 17, tzinfo=UTC)  # 12:00 EST
    assert grant_starter_credit(usd, "ny", at=start).block.expires_at == datetime(2026, 3, 31, 16, tzinfo=UTC)
    # without a profile: the zone given (the Billing's), else UTC
    assert grant_starter_credit(usd, "utc", at=start).block.expires_at == start + 30 * DAY
    given = grant_starter_credit(usd, "berlin", at=start, timezone="America/New_York")
    assert given.block.expires_at == datetime(2026, 3, 31, 16, tzinfo=UTC)
    # months keep the local day, clamped to the month
    month = grant_starter_credit(usd, "jan", lifetime="1 month", at=datetime(2026, 1, 31, 9, tzinfo=UTC))
    assert month.block.expires_at == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert month.block.metadata["lifetime"] == "1 month"


def test_other_amounts_units_and_lifetimes(usd: Ledger) -> None:
    made = grant_starter_credit(usd, "ada", amount=100, unit="credits", lifetime="2 weeks", at=T0)
    assert (made.block.amount, made.block.unit, made.block.expires_at) == (Decimal(100), "credits", T0 + 14 * DAY)
    assert made.block.metadata["lifetime"] == "2 weeks"
    hours = grant_starter_credit(usd, "bob", amount="0.01", lifetime="90 minutes", at=T0)
    assert (hours.block.amount, hours.block.expires_at) == (Decimal("0.01"), T0 + 90 * timedelta(minutes=1))


def test_without_at_the_grant_is_dated_now_or_at_the_last_write(usd: Ledger) -> None:
    assert grant_starter_credit(usd, "ada").block.expires_at == T0 + 30 * DAY  # the clock stands at T0
    usd.grant("bob", 1, at=T0 + 10 * DAY)  # bob's history is ahead of the clock
    made = grant_starter_credit(usd, "bob")
    assert (made.block.effective_at, made.block.expires_at) == (T0 + 10 * DAY, T0 + 40 * DAY)


def test_a_starter_credit_settles_debt_as_a_grant_does(usd: Ledger) -> None:
    usd.burn("ada", 2, unit="usd", overdraft="debt", at=T0)
    made = grant_starter_credit(usd, "ada", at=T0 + HOUR)
    assert [e.kind for e in made.entries] == ["grant", "settle"]
    assert usd.balance("ada", unit="usd", at=T0 + HOUR).available == 3


def test_it_joins_an_atomic_batch(usd: Ledger) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), usd.atomic():
        grant_starter_credit(usd, "ada", at=T0)
        raise Boom
    assert _everything(usd)[0] == ()
    with usd.atomic():
        first = grant_starter_credit(usd, "ada", at=T0)
        assert grant_starter_credit(usd, "ada", at=T0 + HOUR).op_id == first.op_id  # replays in the batch
        usd.burn("ada", 1, unit="usd", at=T0)
    assert usd.balance("ada", unit="usd", at=T0).available == 4


def test_the_future_check_comes_after_the_key(usd: Ledger) -> None:
    first = grant_starter_credit(usd, "ada", at=T0)
    usd._ctx.future_tolerance = timedelta(minutes=5)
    assert grant_starter_credit(usd, "ada", at=T0 + DAY).op_id == first.op_id  # a retry replays
    before = _everything(usd)
    with pytest.raises(ValidationError) as refused:
        grant_starter_credit(usd, "bob", at=T0 + DAY)
    assert refused.value.field == "at"
    assert _everything(usd) == before


#: One bad argument each, on top of ``grant_starter_credit(ledger, "ada", at=T0 + DAY)``.
BAD_STARTS: list[tuple[dict[str, object], str]] = [
    ({"customer": ""}, "customer"),
    ({"customer": None}, "customer"),
    ({"customer": "x" * 201}, "customer"),
    ({"amount": 0}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "5.001"}, "amount"),  # more places than usd has
    ({"amount": 5.0}, "amount"),  # a float
    ({"amount": None}, "amount"),
    ({"unit": "gbp"}, "unit"),  # not declared
    ({"unit": ""}, "unit"),
    ({"lifetime": "30 seconds"}, "lifetime"),
    ({"lifetime": "thirty days"}, "lifetime"),
    ({"lifetime": "0 days"}, "lifetime"),
    ({"lifetime": 30}, "lifetime"),
    ({"lifetime": timedelta(days=30)}, "lifetime"),  # kept in metadata as given: a str
    ({"lifetime": "300000 years"}, "lifetime"),
    ({"lifetime": "9000 years"}, "lifetime"),  # past the latest time from at
    ({"at": datetime(2026, 1, 2)}, "at"),  # naive
    ({"at": T0}, "at"),  # before the customer's last write
    ({"timezone": "Mars/Olympus"}, "timezone"),
]


@pytest.mark.parametrize(("arguments", "field"), BAD_STARTS)
def test_bad_input_is_refused_and_nothing_is_written(usd: Ledger, arguments: dict[str, object], field: str) -> None:
    usd.grant("ada", 10, unit="usd", at=T0 + HOUR)
    given: dict[str, object] = {"customer": "ada", "at": T0 + DAY, **arguments}
    customer = given.pop("customer")
    before = _everything(usd)
    with pytest.raises(ValidationError) as refused:
        grant_starter_credit(usd, customer, **given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _everything(usd) == before
    # nothing kept the key: the corrected call succeeds
    assert not grant_starter_credit(usd, "ada", at=T0 + DAY).replayed

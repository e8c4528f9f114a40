"""SPEC §15: customer profiles (Velobase's deposit creates a customer with a name, email and
metadata; Orb finds customers by external id; an admin lists them), on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from creditcore import Conflict, Ledger, NotFound, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_the_first_set_customer_creates_the_customer(ledger: Ledger) -> None:
    made = ledger.set_customer(
        "ada", name="Ada Lovelace", email="ada@example.com", external_id="crm-1", metadata={"plan": "pro"},
        timezone="Europe/London", at=T0,
    )  # fmt: skip
    assert (made.id, made.name, made.email, made.external_id, made.metadata, made.timezone) == (
        "ada", "Ada Lovelace", "ada@example.com", "crm-1", {"plan": "pro"}, "Europe/London",
    )  # fmt: skip
    assert (made.created_at, made.updated_at) == (T0, T0)
    assert ledger.get_customer("ada") == made
    assert ledger.get_customer(external_id="crm-1") == made
    assert ledger.entries().items == ()  # a profile writes no entry


def test_an_omitted_field_is_kept_and_none_clears_it(ledger: Ledger) -> None:
    ledger.set_customer("ada", name="Ada", email="ada@example.com", metadata={"a": "1"}, at=T0)
    changed = ledger.set_customer("ada", email=None, metadata=None, at=T0 + HOUR)
    assert (changed.name, changed.email, changed.metadata) == ("Ada", None, {})
    assert (changed.created_at, changed.updated_at) == (T0, T0 + HOUR)


def test_a_call_that_changes_nothing_writes_nothing(ledger: Ledger) -> None:
    first = ledger.set_customer("ada", name="Ada", at=T0)
    again = ledger.set_customer("ada", name="Ada", at=T0 + HOUR)
    assert again == first and again.updated_at == T0


def test_a_past_read_shows_the_profile_as_it_was(ledger: Ledger) -> None:
    ledger.set_customer("ada", name="Ada", at=T0)
    ledger.set_customer("ada", name="Ada L.", at=T0 + HOUR)
    assert ledger.get_customer("ada", at=T0 + HOUR / 2).name == "Ada"
    assert ledger.get_customer("ada", at=T0 + HOUR).name == "Ada L."
    with pytest.raises(NotFound):
        ledger.get_customer("ada", at=T0 - HOUR)


def test_a_customer_with_entries_but_no_profile_has_an_empty_one(ledger: Ledger) -> None:
    ledger.grant("bob", 5, at=T0)
    found = ledger.get_customer("bob", at=T0)
    assert (found.name, found.email, found.external_id, found.metadata, found.timezone) == (None, None, None, {}, None)
    assert (found.created_at, found.updated_at) == (T0, T0)
    later = ledger.set_customer("bob", name="Bob", at=T0 + HOUR)
    assert (later.created_at, later.updated_at) == (T0, T0 + HOUR)


def test_created_at_is_the_earlier_of_the_first_profile_change_and_the_first_entry(ledger: Ledger) -> None:
    ledger.set_customer("cy", name="Cy", at=T0 + HOUR)
    ledger.grant("cy", 5, at=T0)  # a profile is not a write to the customer's history
    assert ledger.get_customer("cy", at=T0 + HOUR).created_at == T0


def test_an_unknown_customer_is_not_found_only_here(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.get_customer("nobody")
    with pytest.raises(NotFound):
        ledger.get_customer(external_id="nothing")
    assert ledger.balance("nobody").available == 0


def test_an_external_id_is_unique_per_ledger(ledger: Ledger) -> None:
    ledger.set_customer("ada", external_id="crm-1", at=T0)
    with pytest.raises(Conflict):
        ledger.set_customer("bob", name="Bob", external_id="crm-1", at=T0)
    with pytest.raises(NotFound):
        ledger.get_customer("bob", at=T0)  # the refused call wrote nothing
    ledger.set_customer("ada", external_id="crm-2", at=T0 + HOUR)  # frees crm-1
    assert ledger.set_customer("bob", external_id="crm-1", at=T0 + HOUR).external_id == "crm-1"
    assert ledger.get_customer(external_id="crm-1").id == "bob"
    assert ledger.get_customer(external_id="crm-2").id == "ada"


def test_customers_lists_everyone_in_the_order_first_seen(ledger: Ledger) -> None:
    ledger.set_customer("cy", name="Cy", at=T0)
    ledger.grant("ada", 1, at=T0 + HOUR)
    ledger.set_customer("ada", name="Ada", at=T0 + HOUR)
    ledger.burn("bob", 1, overdraft="debt", at=T0 + 2 * HOUR)
    page = ledger.customers(at=T0 + 3 * HOUR)
    assert [c.id for c in page.items] == ["cy", "ada", "bob"] and page.next_cursor is None
    assert [c.id for c in ledger.customers(at=T0 + HOUR / 2).items] == ["cy"]
    first = ledger.customers(limit=2, at=T0 + 3 * HOUR)
    assert [c.id for c in first.items] == ["cy", "ada"] and first.next_cursor is not None
    rest = ledger.customers(after=first.next_cursor, limit=2, at=T0 + 3 * HOUR)
    assert [c.id for c in rest.items] == ["bob"] and rest.next_cursor is None


def test_a_profile_history_is_its_own(ledger: Ledger, clock: Any) -> None:
    ledger.set_customer("ada", name="Ada", at=T0 + HOUR)
    with pytest.raises(ValidationError) as caught:
        ledger.set_customer("ada", name="Ada L.", at=T0)
    assert caught.value.field == "at"
    clock.now = T0  # the clock behind the profile: dated at its last change
    assert ledger.set_customer("ada", name="Ada L.").updated_at == T0 + HOUR
    ledger.grant("ada", 5, at=T0 + HOUR / 2)  # a write before the profile's time is fine


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": "@example.com"}, "email"),
        ({"email": "ada@"}, "email"),
        ({"email": "a" * 310 + "@example.com"}, "email"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"metadata": {"k": 5}}, "metadata"),
        ({"metadata": "k=v"}, "metadata"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"at": datetime(2026, 1, 1)}, "at"),
    ],
)
def test_a_bad_profile_is_refused_and_writes_nothing(ledger: Ledger, arguments: dict[str, object], field: str) -> None:
    ledger.set_customer("ada", name="Ada", at=T0)
    with pytest.raises(ValidationError) as caught:
        ledger.set_customer("ada", **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert ledger.get_customer("ada").name == "Ada" and ledger.get_customer("ada").updated_at == T0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "customer"),
        ({"customer": "ada", "external_id": "crm-1"}, "customer"),
        ({"customer": ""}, "customer"),
        ({"external_id": 5}, "external_id"),
    ],
)
def test_get_customer_takes_exactly_one_of_customer_and_external_id(
    ledger: Ledger, arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.get_customer(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(("limit", "after"), [(0, None), (10_001, None), (True, None), (10, "not-a-cursor")])
def test_customers_refuses_a_bad_page(ledger: Ledger, limit: object, after: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ledger.customers(limit=limit, after=after)  # type: ignore[arg-type]
    assert caught.value.field == ("after" if after else "limit")

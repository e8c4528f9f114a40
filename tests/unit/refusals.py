"""What every bad-input table checks of a refused call: the error family, the field, a
message a person can act on, and a ledger left exactly as it was (SPEC §20: "an error writes
nothing: no entry, block, profile, setting, schedule, alert, event or key")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from creditcore import (
    Conflict,
    CreditError,
    HoldNotActive,
    IdempotencyConflict,
    Ledger,
    NotFound,
    TopUp,
    ValidationError,
)


def all_entries(ledger: Ledger, page_size: int) -> list[Any]:
    """Every entry, read page by page (so paging itself is exercised too)."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = ledger.entries(after=cursor, limit=page_size)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


def top_up_or_none(ledger: Ledger, customer: str, unit: str) -> TopUp | None:
    """The customer's auto top-up rule in ``unit``, ``None`` when it has none."""
    try:
        return ledger.get_top_up(customer, unit=unit)
    except NotFound:
        return None


def snapshot(
    ledger: Ledger, customers: Iterable[str], *, page_size: int, future: datetime | None = None
) -> dict[str, Any]:
    """Everything a user could read about ``customers`` (their credit, and their settings:
    schedules, top-up rules, alerts) and the whole event outbox; ``future`` adds a read at
    that time and the timeline."""
    units = ledger.units()
    views: dict[str, Any] = {}
    for customer in customers:
        view: dict[str, Any] = {
            "balance": {unit: ledger.balance(customer, unit=unit) for unit in units},
            "balances": ledger.balances(customer),
            "holds": ledger.holds(customer, status=None),
            "blocks": {unit: ledger.blocks(customer, unit=unit, include_inactive=True) for unit in units},
            "schedules": ledger.schedules(customer),
            "top_ups": {unit: top_up_or_none(ledger, customer, unit) for unit in units},
            "alerts": ledger.alerts(customer),
        }
        if future is not None:
            view["future"] = ledger.balance(customer, at=future)
            view["timeline"] = ledger.timeline(customer)
        views[customer] = view
    profiles = [*ledger.customers(limit=10_000).items]
    return {
        "units": units,
        "entries": all_entries(ledger, page_size),
        "customers": views,
        "profiles": profiles,
        "events": ledger.events(limit=10_000),
    }


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    """No entry, block, hold, unit, balance, profile, setting (schedule, top-up rule, alert)
    or event changed; each part is compared on its own, so a failure names what moved."""
    assert after["units"] == before["units"]
    assert after["entries"] == before["entries"]
    for customer, view in before["customers"].items():
        for part in ("schedules", "top_ups", "alerts"):
            assert after["customers"][customer][part] == view[part], f"{customer}'s {part} changed"
    assert after["customers"] == before["customers"]
    assert after["profiles"] == before["profiles"]
    assert after["events"] == before["events"], "the event outbox changed"


def fields_of(field: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if field is None:
        return ()
    return (field,) if isinstance(field, str) else field


def check_refusal(error: BaseException, fields: tuple[str, ...], mentions: tuple[str, ...]) -> None:
    """The error is of SPEC §7's family, names the expected field, and its message is one
    readable line that mentions ``mentions`` (default: the field)."""
    assert isinstance(error, CreditError)
    if isinstance(error, ValidationError):
        assert isinstance(error, ValueError)
    if isinstance(error, NotFound):
        assert isinstance(error, LookupError)
    if isinstance(error, HoldNotActive | IdempotencyConflict):
        assert isinstance(error, Conflict)
    if fields:
        assert error.field in fields, f"field {error.field!r}, expected one of {fields}"  # type: ignore[attr-defined]
    elif isinstance(error, ValidationError | IdempotencyConflict):
        assert isinstance(error.field, str) and error.field

    message = str(error)
    assert message and message == message.strip() and "\n" not in message
    assert not message.startswith(("'", '"')), message
    named = mentions or ((error.field,) if fields else ())  # type: ignore[attr-defined]
    assert named, "every row names something the message must mention"
    for text in named:
        assert text in message, f"{text!r} not in {message!r}"
    if isinstance(error, IdempotencyConflict):
        assert error.key in message and error.field in message
    if isinstance(error, HoldNotActive):
        assert error.hold_id in message and error.status in message

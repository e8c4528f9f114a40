"""Making a call again, differently: the same values written otherwise, one argument
changed, another kind of call under the same key; and how two refusals are compared
(the error's class and field, its amounts, a hold's status)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditcore.errors import CreditError, HoldNotActive, IdempotencyConflict, InsufficientCredits, ValidationError
from creditcore.testing import strategies as cst
from creditcore.testing.stateful.calls import CUSTOMERS, HOUR, START, UNITS, Call


def error_signature(error: CreditError) -> str:
    name = type(error).__name__
    return f"{name}:{error.field}" if isinstance(error, ValidationError) else name


def same_error_details(call: Call, real: CreditError | None, expected: CreditError | None) -> None:
    if isinstance(real, ValidationError) and isinstance(expected, ValidationError):
        assert real.field == expected.field, f"{call}: ValidationError on {real.field!r}, expected {expected.field!r}"
    elif isinstance(real, InsufficientCredits) and isinstance(expected, InsufficientCredits):
        got, want = (real.requested, real.available), (expected.requested, expected.available)
        assert got == want, f"{call}: InsufficientCredits requested/available {got}, expected {want}"
    elif isinstance(real, HoldNotActive) and isinstance(expected, HoldNotActive):
        assert real.status == expected.status, f"{call}: HoldNotActive({real.status}), expected {expected.status}"
    elif (
        isinstance(real, IdempotencyConflict)
        and isinstance(expected, IdempotencyConflict)
        # no field is named for a key used by another kind of call, nor for a generated
        # schedule id used again
        and expected.field not in ("operation", "arguments")
    ):
        assert real.field == expected.field, f"{call}: conflict names {real.field!r}, expected {expected.field!r}"


def reformatted(call: Call) -> Call:
    """The same values written differently: amounts in another form, times in another zone,
    a set of names as another collection (one name as a ``str`` and back)."""
    changes: dict[str, Any] = {}
    for name, value in call.kwargs.items():
        if isinstance(value, datetime):
            zone = cst.ZONES[(cst.ZONES.index(value.tzinfo) + 1) % len(cst.ZONES)] if value.tzinfo in cst.ZONES else UTC
            changes[name] = value.astimezone(zone)
        elif name == "amount" and value is not None:
            changes[name] = str(value) if not isinstance(value, str) else Decimal(value)
        elif name in ("scope", "categories") and value is not None:
            changes[name] = _other_collection(value)
        elif name in ("every", "expires_after") and value is not None:
            changes[name] = _other_duration(value)
        elif name == "thresholds":  # kept descending, whatever order they come in
            changes[name] = tuple(str(t) for t in reversed(list(value)))
    return call.but(**changes)


def _other_duration(value: str | timedelta) -> str | timedelta:
    """The same step written otherwise: minutes and hours as a ``timedelta`` and back."""
    if isinstance(value, timedelta):
        minutes = int(value.total_seconds()) // 60
        return f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
    count, unit = value.split()
    if unit.startswith(("minute", "hour")):
        return timedelta(**{unit.rstrip("s") + "s": int(count)})
    return f" {count}  {unit} "


def _other_collection(value: str | Collection[str]) -> str | Collection[str]:
    """The same set of names written otherwise: a ``str`` as a one-element list, one name in
    a collection as a ``str``, several as a tuple or a set."""
    if isinstance(value, str):
        return [value]
    names = sorted(value)
    if len(names) == 1:
        return names[0]
    return frozenset(names) if isinstance(value, tuple) else tuple(reversed(names))


def changed_call(call: Call, choice: int, customer: str | None) -> Call:
    """``call`` with one argument changed (which one: ``choice``)."""
    options = [name for name in _CHANGES if name in call.kwargs and (call.kind, name) not in _FIXED]
    if not options:
        return other_kind(call, customer)
    name = options[choice % len(options)]
    return call.but(**{name: _CHANGES[name](call.kwargs[name], call)})


def _next_customer(value: str, call: Call) -> str:
    return CUSTOMERS[(CUSTOMERS.index(value) + 1) % len(CUSTOMERS)]


def _more(value: object, call: Call) -> object:
    if call.kind == "capture":
        return Decimal(0) if value is None else None
    if value is None:  # void, reverse, change_expiry: all there is -> an amount
        return Decimal(1)
    unit = call.kwargs.get("unit", "credits")
    return Decimal(str(value)) + Decimal(1).scaleb(-UNITS[unit])


_FAR = START + timedelta(days=1000)
_CHANGES: dict[str, Callable[[Any, Call], object]] = {
    "customer": _next_customer,
    "amount": _more,
    "unit": lambda value, call: "credits" if value == "usd" else "usd",
    "effective_at": lambda value, call: START if value is None else None,
    "expires_at": lambda value, call: (
        value + HOUR if call.kind == "change_expiry" else (_FAR if value is None else None)
    ),
    "priority": lambda value, call: (value + 1) % 1001,
    "category": lambda value, call: "paid" if value == "promotional" else "promotional",
    "cost_basis": lambda value, call: Decimal(7) if value is None else None,
    "scope": lambda value, call: (
        (frozenset({"trip"}) if value is None else None)
        if call.kind == "grant"
        else ("trip" if value is None else None)
    ),
    "categories": lambda value, call: "promotional" if value is None else None,
    "single_use": lambda value, call: not value,
    "overdraft": lambda value, call: "partial" if value == "reject" else "reject",
    # None means the ledger's default (True), so only False differs from it
    "settle_debt": lambda value, call: value is False,
    "description": lambda value, call: (value or "") + "!",
    "metadata": lambda value, call: {**(value or {}), "changed": "yes"},
    "reason": lambda value, call: (value or "") + "!",
    # schedules: every argument is compared as given
    "every": lambda value, call: "2 hours" if value != "2 hours" else "1 hour",
    "first_amount": lambda value, call: Decimal(1) if value is None else Decimal(str(value)) + 1,
    "rollover_max": lambda value, call: Decimal(str(value)) + 1,
    "rollover_min": lambda value, call: Decimal(str(value)) + 1,
    "anchor": lambda value, call: START if value is None else value + timedelta(minutes=1),
    "start": lambda value, call: _FAR if value is None else value + HOUR,
    "until": lambda value, call: _FAR if value is None else value + HOUR,
    "timezone": lambda value, call: "UTC" if value is None else None,
    # alerts, keyed by their id
    "kind": lambda value, call: "recovered" if value != "recovered" else "depleted",
    "thresholds": lambda value, call: (*value, -99) if call.kwargs.get("kind") == "dropped" else (),
}
# the hold id is the key of holds, captures and releases: changing it makes another call
_FIXED = {("hold", "hold_id"), ("capture", "hold_id"), ("release", "hold_id")}


def other_kind(call: Call, customer: str | None) -> Call:
    """Another kind of call under the same key: a conflict, except across namespaces (a hold
    id is not an idempotency key). ``customer``: whose the call's target is."""
    kw = call.kwargs
    if call.kind == "void":
        return Call("change_expiry", {"block_id": kw["block_id"], "expires_at": _FAR,
                                      "idempotency_key": kw["idempotency_key"]})  # fmt: skip
    if call.kind == "change_expiry":
        return Call("void", {"block_id": kw["block_id"], "idempotency_key": kw["idempotency_key"]})
    if call.kind in ("reverse", "refund"):
        return Call("burn", {"customer": customer or CUSTOMERS[0], "amount": 1, "unit": "credits",
                             "idempotency_key": kw["idempotency_key"]})  # fmt: skip
    if call.kind == "grant":
        return Call("burn", {"customer": kw["customer"], "amount": kw["amount"], "unit": kw["unit"],
                             "idempotency_key": kw["idempotency_key"]})  # fmt: skip
    if call.kind == "burn":
        return Call("grant", {"customer": kw["customer"], "amount": kw["amount"], "unit": kw["unit"],
                              "idempotency_key": kw["idempotency_key"]})  # fmt: skip
    if call.kind == "hold":
        return Call("grant", {"customer": kw["customer"], "amount": kw["amount"], "unit": kw["unit"],
                              "idempotency_key": kw["hold_id"]})  # fmt: skip
    if call.kind == "capture":
        return Call("release", {"hold_id": kw["hold_id"]})
    if call.kind == "schedule_grant":
        if kw.get("idempotency_key") is not None:
            return Call("burn", {"customer": kw["customer"], "amount": 1, "unit": kw.get("unit", "credits"),
                                 "idempotency_key": kw["idempotency_key"]})  # fmt: skip
        return Call("cancel_schedule", {"schedule_id": kw["schedule_id"]})  # another namespace: a cancel
    if call.kind == "add_alert":  # another kind of call with the alert's id
        return Call("remove_alert", {"alert_id": kw["alert_id"]})
    if call.kind == "cancel_schedule":  # a schedule under its id with other arguments: a conflict
        return Call("schedule_grant", {"customer": customer or CUSTOMERS[0], "amount": 1, "every": "1 hour",
                                       "description": "other", "schedule_id": kw["schedule_id"]})  # fmt: skip
    return Call("capture", {"hold_id": kw["hold_id"], "amount": None})

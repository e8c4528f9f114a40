"""SPEC §9 and §7: the pure core's commands and rules are public, so they refuse nonsense
themselves. Every command (Grant, Burn, PlaceHold, Capture, Release, Void, ChangeExpiry,
Reverse) checks its fields when it is made, and every rule checks the ``at`` it is given:
a bad value raises ValidationError naming the field, never mints credit, never acts as
another choice, never leaks a TypeError. Legitimate commands (the Ledger's, the simulator's)
still pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditcore import BurnOrder, Ledger, ValidationError, rules
from creditcore.state import (
    AccountState,
    AddAlert,
    Burn,
    Capture,
    ChangeExpiry,
    EntryState,
    Grant,
    PlaceHold,
    Refund,
    Release,
    Reverse,
    ScheduleGrant,
    SetTopUp,
    Void,
)
from creditcore.values import MAX_MINOR

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PARIS = timezone(timedelta(hours=2))

BURN_ENTRY = EntryState(
    op_id="op-burn", customer="ada", unit="usd", kind="burn", block_id="b1", amount=5, available_after=5, at=T0
)

# a valid form of each command
VALID: dict[type, dict[str, Any]] = {
    Grant: {"op_id": "op", "block_id": "b", "unit": "usd", "amount": 10},
    Burn: {"op_id": "op", "unit": "usd", "amount": 10},
    PlaceHold: {"op_id": "op", "hold_id": "h", "unit": "usd", "amount": 10},
    Capture: {"op_id": "op", "hold_id": "h"},
    Release: {"op_id": "op", "hold_id": "h"},
    Void: {"op_id": "op", "block_id": "b"},
    ChangeExpiry: {"op_id": "op", "block_id": "b", "new_block_id": "b2", "expires_at": T0},
    Reverse: {"op_id": "op", "target": "op-burn", "target_entries": (BURN_ENTRY,)},
    Refund: {"op_id": "op", "block_id": "b", "target": "op-burn", "target_entries": (BURN_ENTRY,)},
    ScheduleGrant: {"schedule_id": "s", "unit": "usd", "amount": 10, "every": "1 month"},
    SetTopUp: {"unit": "usd", "threshold": 0, "target": 10},
    AddAlert: {"alert_id": "a", "unit": "usd", "kind": "depleted"},
}

# what each field of each command is
FIELDS: dict[type, dict[str, str]] = {
    Grant: {
        "op_id": "id", "block_id": "id", "unit": "id", "amount": "amount", "effective_at": "optional_time",
        "expires_at": "optional_time", "priority": "priority", "category": "category",
        "cost_basis": "cost_basis", "scope": "scope_set", "description": "text", "metadata": "metadata",
        "settle_debt": "bool", "single_use": "bool",
    },
    Burn: {
        "op_id": "id", "unit": "id", "amount": "amount", "scope": "scope_set", "categories": "categories",
        "overdraft": "overdraft",
        "debt_limit": "debt_limit", "description": "text", "metadata": "metadata",
    },
    PlaceHold: {
        "op_id": "id", "hold_id": "id", "unit": "id", "amount": "amount", "scope": "scope_set",
        "categories": "categories", "expires_at": "optional_time", "description": "text", "metadata": "metadata",
    },
    Capture: {"op_id": "id", "hold_id": "id", "amount": "capture_amount"},
    Release: {"op_id": "id", "hold_id": "id"},
    Void: {"op_id": "id", "block_id": "id", "amount": "optional_amount", "reason": "text"},
    ChangeExpiry: {
        "op_id": "id", "block_id": "id", "new_block_id": "id", "expires_at": "time", "amount": "optional_amount",
    },
    Reverse: {
        "op_id": "id", "target": "id", "target_entries": "entries", "prior": "prior",
        "amount": "optional_amount", "captured_nothing": "bool",
    },
    Refund: {
        "op_id": "id", "block_id": "id", "target": "id", "target_entries": "entries", "prior": "prior",
        "amount": "optional_amount", "expires_at": "optional_time", "priority": "priority", "category": "category",
        "description": "text", "metadata": "metadata", "settle_debt": "bool", "captured_nothing": "bool",
    },
    ScheduleGrant: {
        "schedule_id": "id", "unit": "id", "amount": "zero_amount", "every": "every", "anchor": "optional_time",
        "start": "optional_time", "until": "optional_time", "first_amount": "optional_zero_amount",
        "rollover_max": "zero_amount", "rollover_min": "zero_amount", "timezone": "timezone", "priority": "priority",
        "category": "category", "scope": "scope_set", "single_use": "bool", "cost_basis": "cost_basis",
        "settle_debt": "bool", "description": "text", "metadata": "metadata",
    },
    SetTopUp: {
        "unit": "id", "threshold": "threshold", "amount": "not_none", "target": "target", "category": "category",
        "priority": "priority", "expires_after": "every_or_none_ok", "cost_basis": "cost_basis",
    },
    AddAlert: {"alert_id": "id", "unit": "id", "kind": "alert_kind", "thresholds": "thresholds"},
}  # fmt: skip

naive_times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
not_a_time = st.one_of(naive_times, st.text(max_size=5), st.integers(), st.floats(), st.dates())
# not an int of minor units: bools, floats, Decimals and numeric text are the edge's business
not_an_int = st.one_of(
    st.booleans(), st.floats(), st.decimals(allow_nan=False), st.integers().map(str), st.just([1]), st.none()
)
too_big = st.integers(min_value=MAX_MINOR + 1, max_value=2**80)
not_an_id = st.one_of(
    st.just(""), st.text(min_size=201, max_size=230), st.integers(), st.binary(min_size=1, max_size=5)
)

NONSENSE: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(not_an_id, st.none()),
    "optional_id": not_an_id,
    "amount": st.one_of(st.integers(max_value=0), too_big, not_an_int),
    "optional_amount": st.one_of(st.integers(max_value=0), too_big, not_an_int.filter(lambda v: v is not None)),
    "capture_amount": st.one_of(st.integers(max_value=-1), too_big, not_an_int.filter(lambda v: v is not None)),
    "debt_limit": st.one_of(st.integers(max_value=-1), too_big, not_an_int.filter(lambda v: v is not None)),
    "time": st.one_of(not_a_time, st.none()),
    "optional_time": not_a_time,
    "priority": st.one_of(
        st.integers(max_value=-1), st.integers(min_value=1001), st.booleans(), st.floats(), st.just("5")
    ),
    "category": st.one_of(st.text(max_size=12).filter(lambda v: v not in ("promotional", "paid")), st.integers()),
    "overdraft": st.one_of(
        st.text(max_size=12).filter(lambda v: v not in ("reject", "partial", "debt")), st.integers(), st.none()
    ),
    "cost_basis": st.one_of(
        st.integers(max_value=-1),
        st.decimals(max_value=Decimal("-0.0001")),
        st.just(Decimal("NaN")),
        st.just(Decimal("Infinity")),
        st.floats(),
        st.booleans(),
        st.just("abc"),
    ),
    "scope_set": st.one_of(
        st.just(""),
        st.just(frozenset()),
        st.just(frozenset({""})),
        st.integers(),
        st.just(frozenset({5})),
        st.just({"trip": "x"}),
        st.text(min_size=201, max_size=230),
    ),
    "categories": st.one_of(
        st.just("free"), st.just(frozenset()), st.just(frozenset({"paid", "gift"})), st.integers(), st.just({"paid": 1})
    ),
    "text": st.one_of(st.integers(), st.text(min_size=2001, max_size=2010), st.binary(min_size=1, max_size=3)),
    "metadata": st.one_of(
        st.integers(min_value=1),
        st.just({"key": 5}),
        st.just({"": "value"}),
        st.just({5: "value"}),
        st.just([("key", "value")]),
        st.just({f"k{i}": "v" for i in range(65)}),
    ),
    "bool": st.one_of(st.integers(), st.none(), st.just("yes")),
    "zero_amount": st.one_of(st.integers(max_value=-1), too_big, not_an_int.filter(lambda v: v is not None)),
    "optional_zero_amount": st.one_of(st.integers(max_value=-1), too_big, not_an_int.filter(lambda v: v is not None)),
    "every": st.sampled_from(["0 days", "1 fortnight", "", timedelta(seconds=30), timedelta(0), 5, None, "1.5 days"]),
    "every_or_none_ok": st.sampled_from(["0 days", "1 fortnight", timedelta(seconds=30), 5]),
    "timezone": st.sampled_from(["Mars/Base", "", 5, None, "utc+2"]),
    "threshold": st.one_of(st.floats(), st.booleans(), st.just("5"), st.none(), st.just(MAX_MINOR + 1)),
    "target": st.one_of(st.integers(max_value=0), st.floats(), st.just("20"), st.booleans()),
    "not_none": st.one_of(st.integers(), st.floats(), st.just("5")),
    "alert_kind": st.one_of(st.sampled_from(["bogus", "", "Depleted"]), st.integers(), st.none()),
    "thresholds": st.one_of(st.just((5,)), st.just((1.5,)), st.integers(), st.just("10"), st.just(None)),
    "entries": st.one_of(
        st.just(()),
        st.just((5,)),
        st.just((attrs.evolve(BURN_ENTRY, op_id="another"),)),
        st.just((BURN_ENTRY, attrs.evolve(BURN_ENTRY, unit="eur"))),
        st.integers(),
    ),
    "prior": st.one_of(st.just((BURN_ENTRY,)), st.just(("x",)), st.integers()),
}


@st.composite
def nonsense_commands(draw: st.DrawFn) -> tuple[type, str, Any]:
    command = draw(st.sampled_from(sorted(FIELDS, key=lambda c: c.__name__)))
    field = draw(st.sampled_from(sorted(FIELDS[command])))
    return command, field, draw(NONSENSE[FIELDS[command][field]])


def test_the_table_covers_every_field_of_every_command() -> None:
    for command, fields in FIELDS.items():
        assert set(fields) == set(attrs.fields_dict(command)), command.__name__


def test_the_valid_forms_are_valid() -> None:
    for command, arguments in VALID.items():
        command(**arguments)


@given(nonsense_commands())
def test_every_command_refuses_nonsense_naming_the_field(case: tuple[type, str, Any]) -> None:
    command, field, bad = case
    with pytest.raises(ValidationError) as caught:
        command(**{**VALID[command], field: bad})
    assert caught.value.field == field, (command.__name__, field, bad, caught.value)


@given(nonsense_commands())
def test_a_command_cannot_be_evolved_into_nonsense_either(case: tuple[type, str, Any]) -> None:
    command, field, bad = case
    made = command(**VALID[command])
    with pytest.raises(ValidationError) as caught:
        attrs.evolve(made, **{field: bad})
    assert caught.value.field == field


def test_the_reported_examples() -> None:
    state, _ = rules.grant(AccountState(customer="ada"), Grant(op_id="g", block_id="b1", unit="usd", amount=10), T0)
    for make, field in [
        (lambda: Burn(op_id="x", unit="usd", amount=-5), "amount"),
        (lambda: Capture(op_id="x", hold_id="h", amount=-5), "amount"),
        (lambda: Void(op_id="x", block_id="b1", amount=-5), "amount"),
        (lambda: PlaceHold(op_id="x", hold_id="h", unit="usd", amount=-5), "amount"),
        (lambda: Grant(op_id="x", block_id="b2", unit="usd", amount=-5), "amount"),
        (lambda: Burn(op_id="x", unit="usd", amount=5, overdraft="bogus"), "overdraft"),  # type: ignore[arg-type]
        (lambda: Grant(op_id="x", block_id="b2", unit="usd", amount=5, expires_at=datetime(2027, 1, 1)), "expires_at"),
    ]:
        with pytest.raises(ValidationError) as caught:
            make()
        assert caught.value.field == field
    with pytest.raises(ValidationError) as caught:
        rules.burn(state, Burn(op_id="x", unit="usd", amount=5), datetime(2026, 1, 2))
    assert caught.value.field == "at"
    assert rules.tally(state, "usd", T0).available == 10  # nothing minted, nothing taken


def test_grant_expiry_must_follow_its_effective_time() -> None:
    with pytest.raises(ValidationError) as caught:
        Grant(op_id="x", block_id="b", unit="usd", amount=5, effective_at=T0 + HOUR, expires_at=T0 + HOUR)
    assert caught.value.field == "expires_at"
    with pytest.raises(ValidationError) as caught:
        ChangeExpiry(op_id="x", block_id="b", new_block_id="b", expires_at=T0)
    assert caught.value.field == "new_block_id"


def test_times_are_normalised_to_utc_and_collections_to_their_frozen_form() -> None:
    grant = Grant(
        op_id="x", block_id="b", unit="usd", amount=5, effective_at=T0.astimezone(PARIS),
        expires_at=(T0 + HOUR).astimezone(PARIS), scope={"trip"}, cost_basis="0.10",  # type: ignore[arg-type]
    )  # fmt: skip
    assert grant.effective_at == T0 and grant.effective_at.tzinfo is UTC
    assert grant.expires_at is not None and grant.expires_at.tzinfo is UTC
    assert grant.scope == frozenset({"trip"}) and type(grant.scope) is frozenset
    assert grant.cost_basis == Decimal("0.10")
    hold = PlaceHold(op_id="x", hold_id="h", unit="usd", amount=5, expires_at=T0.astimezone(PARIS))
    assert hold.expires_at is not None and hold.expires_at.tzinfo is UTC
    reverse = Reverse(op_id="x", target="op-burn", target_entries=[BURN_ENTRY])  # type: ignore[arg-type]
    assert reverse.target_entries == (BURN_ENTRY,)
    state, entries = rules.grant(AccountState(customer="ada"), grant, T0.astimezone(PARIS))
    assert all(e.at.tzinfo is UTC for e in entries) and state.last_at is not None and state.last_at.tzinfo is UTC


# -- the rules' own arguments --------------------------------------------------------------------


def account() -> AccountState:
    """A customer with a block, a hold and a burn: every rule has something to act on."""
    state = AccountState(customer="ada")
    state, _ = rules.grant(state, Grant(op_id="g", block_id="b1", unit="usd", amount=100), T0)
    state, _ = rules.hold(state, PlaceHold(op_id="h", hold_id="h1", unit="usd", amount=10), T0)
    return state


def burned(state: AccountState) -> tuple[EntryState, ...]:
    _, entries = rules.burn(state, Burn(op_id="op-burn", unit="usd", amount=5), T0)
    return entries


RULES: dict[str, Callable[[AccountState, Any], object]] = {
    "grant": lambda s, at: rules.grant(s, Grant(op_id="g2", block_id="b2", unit="usd", amount=1), at),
    "burn": lambda s, at: rules.burn(s, Burn(op_id="u", unit="usd", amount=1), at),
    "hold": lambda s, at: rules.hold(s, PlaceHold(op_id="h2", hold_id="h2", unit="usd", amount=1), at),
    "capture": lambda s, at: rules.capture(s, Capture(op_id="c", hold_id="h1"), at),
    "release": lambda s, at: rules.release(s, Release(op_id="r", hold_id="h1"), at),
    "void": lambda s, at: rules.void(s, Void(op_id="v", block_id="b1", amount=1), at),
    "change_expiry": lambda s, at: rules.change_expiry(
        s, ChangeExpiry(op_id="m", block_id="b1", new_block_id="b3", expires_at=T0 + HOUR), at
    ),
    "reverse": lambda s, at: rules.reverse(s, Reverse(op_id="rv", target="op-burn", target_entries=burned(s)), at),
    "advance": rules.advance,
    "view": rules.view,
    "tally": lambda s, at: rules.tally(s, "usd", at),
    "preview_burn": lambda s, at: rules.preview_burn(s, "usd", 1, at),
    "plan_draw": lambda s, at: rules.plan_draw(s.blocks.values(), "usd", None, 1, at),
    "rebuild": lambda s, at: rules.rebuild("ada", s.blocks.values(), s.holds.values(), (), until=at),
    "timeline": lambda s, at: rules.timeline("ada", s.blocks.values(), (), "usd", at),
}
FIELD_OF = {"rebuild": "until", "timeline": "horizon"}


def test_every_rule_works_with_a_proper_time() -> None:
    state = account()
    for name, rule in RULES.items():
        rule(state, T0 + timedelta(minutes=1)), name


@given(st.sampled_from(sorted(RULES)), st.one_of(not_a_time, st.none()))
def test_every_rule_refuses_a_time_that_is_not_aware(name: str, at: Any) -> None:
    if at is None and name in FIELD_OF:
        return  # rebuild and timeline take None: no limit
    state = account()
    with pytest.raises(ValidationError) as caught:
        RULES[name](state, at)
    assert caught.value.field == FIELD_OF.get(name, "at"), (name, at)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: rules.burn(s, Grant(op_id="g", block_id="b", unit="usd", amount=1), T0), "command"),  # type: ignore[arg-type]
        (lambda s: rules.burn({"customer": "ada"}, Burn(op_id="u", unit="usd", amount=1), T0), "state"),  # type: ignore[arg-type]
        (lambda s: rules.burn(s, Burn(op_id="u", unit="usd", amount=1), T0, order="fifo"), "order"),  # type: ignore[arg-type]
        (lambda s: rules.burn(s, Burn(op_id="u", unit="usd", amount=1), T0, scale=-1), "scale"),
        (lambda s: rules.void(s, Void(op_id="v", block_id="b1"), T0, scale="2"), "scale"),  # type: ignore[arg-type]
        (lambda s: rules.preview_burn(s, "usd", -5, T0), "amount"),
        (lambda s: rules.preview_burn(s, "usd", True, T0), "amount"),
        (lambda s: rules.preview_burn(s, 5, 1, T0), "unit"),  # type: ignore[arg-type]
        (lambda s: rules.tally(s, "usd", T0, scope=5), "scope"),  # type: ignore[arg-type]
        (lambda s: rules.plan_draw(s.blocks.values(), "usd", None, 0, T0), "amount"),
        (lambda s: rules.plan_draw(s.blocks.values(), "usd", None, 1, T0, order=None), "order"),  # type: ignore[arg-type]
        (lambda s: rules.next_due(None), "state"),  # type: ignore[arg-type]
        (lambda s: rules.reverse(AccountState(customer="bob"), Reverse(
            op_id="rv", target="op-burn", target_entries=(BURN_ENTRY,)), T0), "target_entries"),
    ],
)  # fmt: skip
def test_the_rules_refuse_their_other_arguments(call: Callable[[AccountState], object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call(account())
    assert caught.value.field == field


def test_view_refuses_the_past_as_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        rules.view(account(), T0 - HOUR)
    assert caught.value.field == "at" and "rebuild()" in str(caught.value)


# -- legitimate commands still pass --------------------------------------------------------------


@given(
    amount=st.integers(min_value=1, max_value=MAX_MINOR),
    priority=st.integers(min_value=0, max_value=1000),
    category=st.sampled_from(["promotional", "paid"]),
    overdraft=st.sampled_from(["reject", "partial", "debt"]),
    scope=st.one_of(st.none(), st.text(min_size=1, max_size=200)),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=MAX_MINOR)),
)
def test_every_legitimate_value_is_accepted(
    amount: int, priority: int, category: str, overdraft: str, scope: str | None, limit: int | None
) -> None:
    Grant(
        op_id="g", block_id="b", unit="usd", amount=amount, priority=priority, category=category,
        scope=None if scope is None else frozenset({scope}), cost_basis=Decimal(0),
        effective_at=T0, expires_at=T0 + HOUR, description="", metadata={"k": "v"}, settle_debt=False,
    )  # fmt: skip
    Burn(op_id="u", unit="usd", amount=amount, scope=scope, overdraft=overdraft, debt_limit=limit)  # type: ignore[arg-type]
    PlaceHold(op_id="h", hold_id="h", unit="usd", amount=amount, scope=scope, expires_at=T0)
    Capture(op_id="c", hold_id="h", amount=0)
    Capture(op_id="c", hold_id="h", amount=amount)
    Void(op_id="v", block_id="b", amount=amount, reason="refund")
    ChangeExpiry(op_id="m", block_id="b", new_block_id="b2", expires_at=T0, amount=amount)
    Reverse(op_id="r", target="op-burn", target_entries=(BURN_ENTRY,), amount=amount)


def test_the_ledger_still_builds_every_command() -> None:
    ledger = Ledger.memory(units={"usd": 2}, debt_limit="5", future_tolerance=None)
    big = ledger.grant("zed", "92233720368547758.07", unit="usd", priority=1000, category="paid", at=T0)
    ledger.void(big.block.id, at=T0)
    block = ledger.grant(
        "ada", "10.00", unit="usd", priority=0, scope={"trip"}, cost_basis="0", expires_at=T0 + 2 * HOUR,
        effective_at=T0 - HOUR, metadata={"k": "v"}, description="d", settle_debt=False, at=T0,
    ).block  # fmt: skip
    ledger.grant("ada", "1.00", unit="usd", at=T0.astimezone(PARIS))
    burn = ledger.burn("ada", "0.50", unit="usd", scope="trip", at=T0)
    ledger.burn("ada", "3.00", unit="usd", overdraft="debt", at=T0)
    ledger.burn("ada", "1", unit="usd", overdraft="partial", at=T0)
    ledger.hold("ada", "1.00", unit="usd", hold_id="h1", scope="trip", expires_at=T0 + HOUR, at=T0)
    ledger.capture("h1", 0, at=T0)
    ledger.hold("ada", "1.00", unit="usd", hold_id="h2", scope="trip", at=T0)
    ledger.release("h2", at=T0)
    ledger.reverse(burn.op_id, "0.25", at=T0)
    ledger.change_expiry(block.id, T0 + 3 * HOUR, amount="1.00", at=T0)
    ledger.void(block.id, "1.00", reason="refund", at=T0)
    ledger.expire_due(at=T0 + 4 * HOUR)
    assert ledger.verify().ok
    assert ledger.preview_burn("ada", "0.01", unit="usd", scope="trip", at=T0 + 4 * HOUR).shortfall >= 0
    assert ledger.balance("ada", unit="usd", at=T0).unscoped_available >= 0
    assert ledger.blocks("ada", unit="usd", include_inactive=True, at=T0 + 4 * HOUR)
    assert BurnOrder.fifo() is not None

"""The bad-input table (SPEC §12): invalid calls, each raising its documented error and leaving
the ledger unchanged.

Every row runs against a fresh ledger with a fixed clock and the same small history (see
:func:`build`). The test takes a snapshot through the public API (every entry, paged; the
balances, holds and blocks of every customer involved; the units), makes the bad call, checks
the error (class, SPEC's parent classes, ``.field`` / ``.status`` / ``.requested`` /
``.available``, a readable one-line message that names the field or the id) and compares a new
snapshot with the old one. Where the bad call carried an idempotency key or a new hold id, a
corrected call with the same key must then succeed as a fresh operation: a failed call records
no key (SPEC §6).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import refusals

from creditcore import (
    Conflict,
    CreditError,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientCredits,
    Ledger,
    NotFound,
    Result,
    ValidationError,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
NAIVE = datetime(2026, 3, 1, 12, 0)
#: Earlier than ada's last entry (T0 - 4 days): her history only moves forward.
EARLY = T0 - 5 * DAY
CUSTOMERS = ("ada", "bob", "zed")  # zed never written
LONG = "x" * 201
MAX = 2**63 - 1

#: ada's available credit at T0 for a burn or hold without scope, and with scope "trip".
ADA_UNSCOPED = Decimal(85)
ADA_TRIP = Decimal(105)
ADA_USD = Decimal("40.00")


def build() -> Ledger:
    """A ledger at T0 with a small known history.

    ada (last entry at T0 - 4d):
      100 credits unscoped (key g1), 20 credits scoped {"trip"} expiring T0 + 30d,
      50.00 usd (key g2);
      h_active 10 (active), h_released 5 (released), h_captured 5 (3 captured),
      h_expired 4 (expired at T0 - 6d, its timeout recorded by the burn b1 of 2 at T0 - 5d),
      h_usd 10.00 usd (active), h_lapsing 3 (expires T0 - 1h: due, not yet recorded).
    bob: 5 credits (key gb).
    """
    ledger = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    ledger.grant("ada", 100, idempotency_key="g1", at=T0 - 10 * DAY)
    ledger.grant("ada", "50.00", unit="usd", idempotency_key="g2", at=T0 - 10 * DAY)
    ledger.grant("ada", 20, scope={"trip"}, expires_at=T0 + 30 * DAY, category="paid", at=T0 - 10 * DAY)
    ledger.grant("bob", 5, idempotency_key="gb", at=T0 - 10 * DAY)
    ledger.hold("ada", 10, hold_id="h_active", at=T0 - 9 * DAY)
    ledger.hold("ada", 5, hold_id="h_released", at=T0 - 8 * DAY)
    ledger.release("h_released", at=T0 - 8 * DAY)
    ledger.hold("ada", 5, hold_id="h_captured", at=T0 - 8 * DAY)
    ledger.capture("h_captured", 3, at=T0 - 8 * DAY)
    ledger.hold("ada", 4, hold_id="h_expired", expires_at=T0 - 6 * DAY, at=T0 - 7 * DAY)
    ledger.burn("ada", 2, idempotency_key="b1", at=T0 - 5 * DAY)
    ledger.hold("ada", "10.00", unit="usd", hold_id="h_usd", at=T0 - 4 * DAY)
    ledger.hold("ada", 3, hold_id="h_lapsing", expires_at=T0 - HOUR, at=T0 - 4 * DAY)
    return ledger


def test_setup_is_what_the_table_assumes() -> None:
    ledger = build()
    assert ledger.balance("ada").available == ADA_TRIP
    assert ledger.preview_burn("ada", 1000).shortfall == 1000 - ADA_UNSCOPED
    assert ledger.preview_burn("ada", 1000, scope="trip").shortfall == 1000 - ADA_TRIP
    assert ledger.balance("ada", unit="usd").available == ADA_USD
    statuses = {h.id: h.status for h in ledger.holds("ada", status=None)}
    assert statuses == {
        "h_active": "active", "h_released": "released", "h_captured": "captured", "h_expired": "expired",
        "h_usd": "active", "h_lapsing": "expired",
    }  # fmt: skip
    kinds = [e.kind for e in ledger.entries("ada", kinds={"release"}).items]
    assert len(kinds) == 3  # h_released, the rest of h_captured, the timeout of h_expired; not h_lapsing yet
    assert ledger.balance("zed").granted == 0


# -- snapshots ------------------------------------------------------------------------------


def snapshot(ledger: Ledger) -> dict[str, Any]:
    return refusals.snapshot(ledger, CUSTOMERS, page_size=4)


# -- the table ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bad:
    """One invalid call and what it must raise."""

    call: Callable[[Ledger], object]
    error: type[CreditError]
    field: str | tuple[str, ...] | None = None
    """``.field`` of a ValidationError or IdempotencyConflict (a tuple: any of them)."""
    expect: Mapping[str, object] = dataclasses.field(default_factory=dict)
    """Other attributes of the error, e.g. ``status`` or ``requested``."""
    mentions: tuple[str, ...] = ()
    """Text ``str(error)`` must contain (default: the field)."""
    retry: Callable[[Ledger], object] | None = None
    """A corrected call (same key / hold id) that must then succeed as a new operation."""
    prepare: Callable[[Ledger], object] | None = None
    """Extra valid setup for this row, done before the snapshot."""


def V(call: Callable[[Ledger], object], fld: str | tuple[str, ...], **kw: Any) -> Bad:
    return Bad(call, ValidationError, fld, **kw)


def first_block(ledger: Ledger) -> str:
    return ledger.blocks("ada", include_inactive=True)[0].id


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def too_many_keys() -> dict[str, str]:
    return {f"k{i}": "v" for i in range(65)}


def debt_to_the_limit(ledger: Ledger) -> None:
    """bob (5 credits) burns into a debt of exactly 2**63 - 1."""
    ledger.burn("bob", MAX, overdraft="debt")
    ledger.burn("bob", 5, overdraft="debt")
    assert ledger.balance("bob").debt == MAX


def insufficient(requested: Decimal | int | str, available: Decimal | int) -> dict[str, object]:
    return {"requested": Decimal(requested), "available": Decimal(available)}


ROWS = [
    # ---- define_unit ------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.define_unit("usd", 3), ("scale", "unit"), mentions=("usd",)), id="unit-redeclare-usd"),
    pytest.param(
        V(lambda lg: lg.define_unit("credits", 2), ("scale", "unit"), mentions=("credits",)),
        id="unit-redeclare-credits",
    ),
    pytest.param(
        V(lambda lg: lg.define_unit("", 2), "unit", retry=lambda lg: lg.define_unit("pts", 2)), id="unit-empty-name"
    ),
    pytest.param(V(lambda lg: lg.define_unit(LONG, 2), "unit"), id="unit-201-chars"),
    pytest.param(V(lambda lg: lg.define_unit(None, 2), "unit"), id="unit-none"),
    pytest.param(
        V(lambda lg: lg.define_unit("pts", -1), "scale", retry=lambda lg: lg.define_unit("pts", 2)),
        id="unit-negative-scale",
    ),
    pytest.param(V(lambda lg: lg.define_unit("pts", 2.0), "scale"), id="unit-float-scale"),
    pytest.param(V(lambda lg: lg.define_unit("pts", True), "scale"), id="unit-bool-scale"),
    pytest.param(V(lambda lg: lg.define_unit("pts", "2"), "scale"), id="unit-str-scale"),
    # ---- grant: amounts -----------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.grant("ada", 1.0), "amount"), id="grant-float"),
    pytest.param(V(lambda lg: lg.grant("ada", True), "amount"), id="grant-bool"),
    pytest.param(V(lambda lg: lg.grant("ada", None), "amount"), id="grant-none"),
    pytest.param(V(lambda lg: lg.grant("ada", [1]), "amount"), id="grant-list"),
    pytest.param(V(lambda lg: lg.grant("ada", "NaN"), "amount"), id="grant-nan-str"),
    pytest.param(V(lambda lg: lg.grant("ada", Decimal("NaN")), "amount"), id="grant-nan-decimal"),
    pytest.param(V(lambda lg: lg.grant("ada", float("nan")), "amount"), id="grant-nan-float"),
    pytest.param(V(lambda lg: lg.grant("ada", "Infinity"), "amount"), id="grant-infinity-str"),
    pytest.param(V(lambda lg: lg.grant("ada", Decimal("-Infinity")), "amount"), id="grant-neg-infinity"),
    pytest.param(V(lambda lg: lg.grant("ada", "abc"), "amount"), id="grant-abc"),
    pytest.param(V(lambda lg: lg.grant("ada", ""), "amount"), id="grant-empty-str"),
    pytest.param(V(lambda lg: lg.grant("ada", 0), "amount"), id="grant-zero"),
    pytest.param(V(lambda lg: lg.grant("ada", Decimal("-0.00")), "amount"), id="grant-negative-zero"),
    pytest.param(V(lambda lg: lg.grant("ada", -5), "amount"), id="grant-negative"),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", "1.5", idempotency_key="k-prec"),
            "amount",
            retry=lambda lg: lg.grant("ada", Decimal("1.0"), idempotency_key="k-prec"),
        ),
        id="grant-credits-1.5",
    ),
    pytest.param(V(lambda lg: lg.grant("ada", "1E-100000"), "amount"), id="grant-tiny-exponent"),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", "0.001", unit="usd"),
            "amount",
            retry=lambda lg: lg.grant("ada", "0.010", unit="usd"),
        ),
        id="grant-usd-0.001",
    ),
    pytest.param(V(lambda lg: lg.grant("ada", 2**63), "amount"), id="grant-2**63"),
    pytest.param(V(lambda lg: lg.grant("ada", "1E+30"), "amount"), id="grant-1e30"),
    pytest.param(
        V(lambda lg: lg.grant("ada", "92233720368547758.08", unit="usd"), "amount"), id="grant-usd-2**63-minor"
    ),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", MAX, idempotency_key="k-over"),
            "amount",
            retry=lambda lg: lg.grant("ada", 1, idempotency_key="k-over"),
        ),
        id="grant-total-past-2**63-1",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", "92233720368547758.07", unit="usd"), "amount"), id="grant-usd-total-past-2**63-1"
    ),
    # ---- grant: identifiers, unit -------------------------------------------------------------
    pytest.param(V(lambda lg: lg.grant("", 1), "customer"), id="grant-empty-customer"),
    pytest.param(V(lambda lg: lg.grant(LONG, 1), "customer"), id="grant-201-char-customer"),
    pytest.param(V(lambda lg: lg.grant(None, 1), "customer"), id="grant-none-customer"),
    pytest.param(V(lambda lg: lg.grant(42, 1), "customer"), id="grant-int-customer"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, unit="eur"), "unit", mentions=("eur",)), id="grant-unknown-unit"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, unit=""), "unit"), id="grant-empty-unit"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, unit=LONG), "unit"), id="grant-201-char-unit"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, idempotency_key=""), "idempotency_key"), id="grant-empty-key"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, idempotency_key=LONG), "idempotency_key"), id="grant-201-char-key"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, idempotency_key=7), "idempotency_key"), id="grant-int-key"),
    # ---- grant: times -------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.grant("ada", 1, at=NAIVE), "at"), id="grant-naive-at"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, at="2026-03-01T12:00:00+00:00"), "at"), id="grant-str-at"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, effective_at=NAIVE), "effective_at"), id="grant-naive-effective-at"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, expires_at=NAIVE + DAY), "expires_at"), id="grant-naive-expires-at"),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", 1, at=EARLY, idempotency_key="k-early"),
            "at",
            retry=lambda lg: lg.grant("ada", 1, idempotency_key="k-early"),
        ),
        id="grant-at-before-last-entry",
    ),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", 1, expires_at=T0, idempotency_key="k-exp"),
            "expires_at",
            retry=lambda lg: lg.grant("ada", 1, expires_at=T0 + DAY, idempotency_key="k-exp"),
        ),
        id="grant-expires-at-equals-at",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, effective_at=T0 - 2 * HOUR, expires_at=T0 - HOUR), "expires_at"),
        id="grant-expires-before-at",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, effective_at=T0 + 2 * DAY, expires_at=T0 + 2 * DAY), "expires_at"),
        id="grant-expires-equals-effective",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, effective_at=T0 + 2 * DAY, expires_at=T0 + DAY), "expires_at"),
        id="grant-expires-before-effective",
    ),
    # ---- grant: priority, category, cost basis, scope, settle_debt ------------------------------
    pytest.param(V(lambda lg: lg.grant("ada", 1, priority=-1), "priority"), id="grant-priority-minus-1"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, priority=1001), "priority"), id="grant-priority-1001"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, priority="5"), "priority"), id="grant-priority-str"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, priority=True), "priority"), id="grant-priority-bool"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, priority=5.0), "priority"), id="grant-priority-float"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, category="gift"), "category"), id="grant-category-unknown"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, category="Paid"), "category"), id="grant-category-case"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, category=None), "category"), id="grant-category-none"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, cost_basis=-1), "cost_basis"), id="grant-cost-basis-negative"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, cost_basis=0.5), "cost_basis"), id="grant-cost-basis-float"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, cost_basis="NaN"), "cost_basis"), id="grant-cost-basis-nan"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope={"trip": "x"}), "scope"), id="grant-scope-a-dict"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope=set()), "scope"), id="grant-scope-empty-set"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope={""}), "scope"), id="grant-scope-empty-name"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope={LONG}), "scope"), id="grant-scope-201-char-name"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope=[1]), "scope"), id="grant-scope-int-name"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, scope=5), "scope"), id="grant-scope-int"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, settle_debt="yes"), "settle_debt"), id="grant-settle-debt-str"),
    # ---- grant: metadata, description -----------------------------------------------------------
    pytest.param(V(lambda lg: lg.grant("ada", 1, metadata=[("a", "b")]), "metadata"), id="grant-metadata-list"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, metadata="a=b"), "metadata"), id="grant-metadata-str"),
    pytest.param(
        V(
            lambda lg: lg.grant("ada", 1, metadata=too_many_keys(), idempotency_key="k-meta"),
            "metadata",
            retry=lambda lg: lg.grant("ada", 1, metadata={"k": "v"}, idempotency_key="k-meta"),
        ),
        id="grant-metadata-65-keys",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, metadata={"k" * 101: "v"}), "metadata"), id="grant-metadata-101-char-key"
    ),
    pytest.param(V(lambda lg: lg.grant("ada", 1, metadata={1: "v"}), "metadata"), id="grant-metadata-int-key"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, metadata={"k": 1}), "metadata"), id="grant-metadata-int-value"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, metadata={"k": None}), "metadata"), id="grant-metadata-none-value"),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, metadata={"k": "v" * 2001}), "metadata"), id="grant-metadata-2001-char-value"
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", 1, description="d" * 2001), "description"), id="grant-description-2001-chars"
    ),
    pytest.param(V(lambda lg: lg.grant("ada", 1, description=5), "description"), id="grant-description-int"),
    # ---- grant: idempotency -------------------------------------------------------------------
    pytest.param(
        Bad(lambda lg: lg.grant("ada", 101, idempotency_key="g1"), IdempotencyConflict, "amount", mentions=("g1",)),
        id="grant-key-other-amount",
    ),
    pytest.param(
        Bad(lambda lg: lg.grant("bob", 100, idempotency_key="g1"), IdempotencyConflict, "customer", mentions=("g1",)),
        id="grant-key-other-customer",
    ),
    pytest.param(
        Bad(lambda lg: lg.grant("ada", 100, priority=10, idempotency_key="g1"), IdempotencyConflict, "priority"),
        id="grant-key-other-priority",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.grant("ada", 100, metadata={"a": "b"}, idempotency_key="g1"), IdempotencyConflict, "metadata"
        ),
        id="grant-key-other-metadata",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.grant("ada", 100, description="x", priority=9, idempotency_key="g1"),
            IdempotencyConflict,
            "priority",
        ),
        id="grant-key-first-differing-field",
    ),
    pytest.param(
        Bad(lambda lg: lg.grant("ada", 2, idempotency_key="b1"), IdempotencyConflict, None, mentions=("b1",)),
        id="grant-key-of-a-burn",
    ),
    pytest.param(
        Bad(lambda lg: lg.grant("ada", 101, idempotency_key="g1", at=EARLY), IdempotencyConflict, "amount"),
        id="grant-key-checked-before-time",
    ),
    pytest.param(
        V(lambda lg: lg.grant("ada", "1.5", idempotency_key="g1"), "amount"), id="grant-arguments-checked-before-key"
    ),
    # ---- burn ---------------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.burn("ada", 1.5), "amount"), id="burn-float"),
    pytest.param(V(lambda lg: lg.burn("ada", False), "amount"), id="burn-bool"),
    pytest.param(V(lambda lg: lg.burn("ada", None), "amount"), id="burn-none"),
    pytest.param(V(lambda lg: lg.burn("ada", "inf"), "amount"), id="burn-inf-str"),
    pytest.param(V(lambda lg: lg.burn("ada", 0), "amount"), id="burn-zero"),
    pytest.param(V(lambda lg: lg.burn("ada", "-1"), "amount"), id="burn-negative"),
    pytest.param(V(lambda lg: lg.burn("ada", Decimal("1.5")), "amount"), id="burn-credits-1.5"),
    pytest.param(V(lambda lg: lg.burn("ada", "0.001", unit="usd"), "amount"), id="burn-usd-0.001"),
    pytest.param(V(lambda lg: lg.burn("ada", 2**63, overdraft="debt"), "amount"), id="burn-2**63"),
    pytest.param(
        V(lambda lg: lg.burn("bob", 1, overdraft="debt"), "amount", prepare=debt_to_the_limit),
        id="burn-debt-past-2**63-1",
    ),
    pytest.param(V(lambda lg: lg.burn("ada", 1, unit="eur"), "unit"), id="burn-unknown-unit"),
    pytest.param(V(lambda lg: lg.burn("", 1), "customer"), id="burn-empty-customer"),
    pytest.param(V(lambda lg: lg.burn(["ada"], 1), "customer"), id="burn-list-customer"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, scope=""), "scope"), id="burn-empty-scope"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, scope=LONG), "scope"), id="burn-201-char-scope"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, scope=set()), "scope"), id="burn-empty-scope-set"),
    pytest.param(
        V(
            lambda lg: lg.burn("ada", 1, overdraft="allow", idempotency_key="k-od"),
            "overdraft",
            retry=lambda lg: lg.burn("ada", 1, overdraft="partial", idempotency_key="k-od"),
        ),
        id="burn-overdraft-unknown",
    ),
    pytest.param(V(lambda lg: lg.burn("ada", 1, overdraft=None), "overdraft"), id="burn-overdraft-none"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, overdraft=True), "overdraft"), id="burn-overdraft-bool"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, idempotency_key=""), "idempotency_key"), id="burn-empty-key"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, idempotency_key=LONG), "idempotency_key"), id="burn-201-char-key"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, metadata={"k": 1}), "metadata"), id="burn-metadata-int-value"),
    pytest.param(
        V(lambda lg: lg.burn("ada", 1, description="d" * 2001), "description"), id="burn-description-2001-chars"
    ),
    pytest.param(V(lambda lg: lg.burn("ada", 1, at=NAIVE), "at"), id="burn-naive-at"),
    pytest.param(
        V(
            lambda lg: lg.burn("ada", 1, at=EARLY, idempotency_key="k-b-early"),
            "at",
            retry=lambda lg: lg.burn("ada", 1, idempotency_key="k-b-early"),
        ),
        id="burn-at-before-last-entry",
    ),
    pytest.param(V(lambda lg: lg.burn("ada", 1000, at=EARLY), "at"), id="burn-time-checked-before-credit"),
    pytest.param(
        Bad(
            lambda lg: lg.burn("ada", 1000, idempotency_key="k-big"),
            InsufficientCredits,
            expect=insufficient(1000, ADA_UNSCOPED),
            mentions=("1000",),
            retry=lambda lg: lg.burn("ada", 1, idempotency_key="k-big"),
        ),
        id="burn-insufficient",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.burn("ada", "40.01", unit="usd"),
            InsufficientCredits,
            expect=insufficient("40.01", ADA_USD),
            mentions=("40.01",),
        ),
        id="burn-usd-insufficient",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.burn("ada", 106, scope="trip", overdraft="reject"),
            InsufficientCredits,
            expect=insufficient(106, ADA_TRIP),
            mentions=("106",),
        ),
        id="burn-scoped-insufficient",
    ),
    pytest.param(
        Bad(lambda lg: lg.burn("zed", 1), InsufficientCredits, expect=insufficient(1, 0), mentions=("1",)),
        id="burn-unknown-customer",
    ),
    pytest.param(
        Bad(lambda lg: lg.burn("ada", 3, idempotency_key="b1"), IdempotencyConflict, "amount", mentions=("b1",)),
        id="burn-key-other-amount",
    ),
    pytest.param(
        Bad(lambda lg: lg.burn("ada", 2, overdraft="partial", idempotency_key="b1"), IdempotencyConflict, "overdraft"),
        id="burn-key-other-overdraft",
    ),
    pytest.param(
        Bad(lambda lg: lg.burn("ada", 100, idempotency_key="g1"), IdempotencyConflict, None, mentions=("g1",)),
        id="burn-key-of-a-grant",
    ),
    pytest.param(
        Bad(lambda lg: lg.burn("ada", 1000, idempotency_key="b1"), IdempotencyConflict, "amount"),
        id="burn-key-checked-before-credit",
    ),
    # ---- preview_burn -------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.preview_burn("ada", 1.0), "amount"), id="preview-float"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 0), "amount"), id="preview-zero"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", -1), "amount"), id="preview-negative"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", "1.5"), "amount"), id="preview-credits-1.5"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", "0.001", unit="usd"), "amount"), id="preview-usd-0.001"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 2**63), "amount"), id="preview-2**63"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 1, unit="eur"), "unit"), id="preview-unknown-unit"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 1, scope=""), "scope"), id="preview-empty-scope"),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 1, at=NAIVE), "at"), id="preview-naive-at"),
    pytest.param(V(lambda lg: lg.preview_burn(None, 1), "customer"), id="preview-none-customer"),
    # ---- hold ---------------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.hold("ada", 1.0, hold_id="h_new"), "amount"), id="hold-float"),
    pytest.param(V(lambda lg: lg.hold("ada", True, hold_id="h_new"), "amount"), id="hold-bool"),
    pytest.param(V(lambda lg: lg.hold("ada", "NaN", hold_id="h_new"), "amount"), id="hold-nan"),
    pytest.param(V(lambda lg: lg.hold("ada", 0, hold_id="h_new"), "amount"), id="hold-zero"),
    pytest.param(V(lambda lg: lg.hold("ada", -1, hold_id="h_new"), "amount"), id="hold-negative"),
    pytest.param(
        V(
            lambda lg: lg.hold("ada", "1.5", hold_id="h_new"),
            "amount",
            retry=lambda lg: lg.hold("ada", 1, hold_id="h_new"),
        ),
        id="hold-credits-1.5",
    ),
    pytest.param(V(lambda lg: lg.hold("ada", "0.001", unit="usd", hold_id="h_new"), "amount"), id="hold-usd-0.001"),
    pytest.param(V(lambda lg: lg.hold("ada", 2**63, hold_id="h_new"), "amount"), id="hold-2**63"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id=""), "hold_id"), id="hold-empty-id"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id=LONG), "hold_id"), id="hold-201-char-id"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id=None), "hold_id"), id="hold-none-id"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id=5), "hold_id"), id="hold-int-id"),
    pytest.param(V(lambda lg: lg.hold("", 1, hold_id="h_new"), "customer"), id="hold-empty-customer"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id="h_new", unit="eur"), "unit"), id="hold-unknown-unit"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id="h_new", scope=""), "scope"), id="hold-empty-scope"),
    pytest.param(
        V(lambda lg: lg.hold("ada", 1, hold_id="h_new", metadata={"k": "v" * 2001}), "metadata"),
        id="hold-metadata-2001-char-value",
    ),
    pytest.param(
        V(lambda lg: lg.hold("ada", 1, hold_id="h_new", description="d" * 2001), "description"),
        id="hold-description-2001-chars",
    ),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id="h_new", at=NAIVE), "at"), id="hold-naive-at"),
    pytest.param(
        V(lambda lg: lg.hold("ada", 1, hold_id="h_new", expires_at=NAIVE + DAY), "expires_at"),
        id="hold-naive-expires-at",
    ),
    pytest.param(
        V(
            lambda lg: lg.hold("ada", 1, hold_id="h_new", expires_at=T0),
            "expires_at",
            retry=lambda lg: lg.hold("ada", 1, hold_id="h_new", expires_at=T0 + HOUR),
        ),
        id="hold-expires-at-equals-at",
    ),
    pytest.param(
        V(lambda lg: lg.hold("ada", 1, hold_id="h_new", expires_at=T0 - HOUR), "expires_at"), id="hold-expires-in-past"
    ),
    pytest.param(
        V(
            lambda lg: lg.hold("ada", 1, hold_id="h_new", at=EARLY),
            "at",
            retry=lambda lg: lg.hold("ada", 1, hold_id="h_new"),
        ),
        id="hold-at-before-last-entry",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.hold("ada", 1000, hold_id="h_big"),
            InsufficientCredits,
            expect=insufficient(1000, ADA_UNSCOPED),
            mentions=("1000",),
            retry=lambda lg: lg.hold("ada", 85, hold_id="h_big"),
        ),
        id="hold-insufficient",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.hold("ada", 200, hold_id="h_big", scope="trip"),
            InsufficientCredits,
            expect=insufficient(200, ADA_TRIP),
            mentions=("200",),
        ),
        id="hold-scoped-insufficient",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.hold("ada", "40.01", unit="usd", hold_id="h_big"),
            InsufficientCredits,
            expect=insufficient("40.01", ADA_USD),
            mentions=("40.01",),
        ),
        id="hold-usd-insufficient",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.hold("zed", 1, hold_id="h_zed"),
            InsufficientCredits,
            expect=insufficient(1, 0),
            mentions=("1",),
        ),
        id="hold-unknown-customer",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("ada", 11, hold_id="h_active"), IdempotencyConflict, "amount", mentions=("h_active",)),
        id="hold-id-reused-other-amount",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("bob", 10, hold_id="h_active"), IdempotencyConflict, "customer"),
        id="hold-id-reused-other-customer",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("ada", 5, hold_id="h_released", scope="trip"), IdempotencyConflict, "scope"),
        id="hold-id-reused-other-scope",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("ada", 3, hold_id="h_lapsing"), IdempotencyConflict, "expires_at"),
        id="hold-id-reused-other-expiry",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("ada", "10.00", hold_id="h_usd"), IdempotencyConflict, ("unit", "amount")),
        id="hold-id-reused-other-unit",
    ),
    pytest.param(
        Bad(lambda lg: lg.hold("ada", 6, hold_id="h_captured", at=EARLY), IdempotencyConflict, "amount"),
        id="hold-id-checked-before-time",
    ),
    # ---- capture ------------------------------------------------------------------------------
    pytest.param(Bad(lambda lg: lg.capture("nope"), NotFound, mentions=("nope",)), id="capture-unknown-hold"),
    pytest.param(V(lambda lg: lg.capture(""), "hold_id"), id="capture-empty-id"),
    pytest.param(V(lambda lg: lg.capture(LONG), "hold_id"), id="capture-201-char-id"),
    pytest.param(V(lambda lg: lg.capture(None), "hold_id"), id="capture-none-id"),
    pytest.param(V(lambda lg: lg.capture("h_active", 1.0), "amount"), id="capture-float"),
    pytest.param(V(lambda lg: lg.capture("h_active", True), "amount"), id="capture-bool"),
    pytest.param(V(lambda lg: lg.capture("h_active", "abc"), "amount"), id="capture-abc"),
    pytest.param(V(lambda lg: lg.capture("h_active", -1), "amount"), id="capture-negative"),
    pytest.param(V(lambda lg: lg.capture("h_active", "1.5"), "amount"), id="capture-credits-1.5"),
    pytest.param(V(lambda lg: lg.capture("h_usd", "0.001"), "amount"), id="capture-usd-0.001"),
    pytest.param(V(lambda lg: lg.capture("h_active", 2**63), "amount"), id="capture-2**63"),
    pytest.param(
        V(lambda lg: lg.capture("h_active", 11), "amount", retry=lambda lg: lg.capture("h_active", 10)),
        id="capture-more-than-held",
    ),
    pytest.param(V(lambda lg: lg.capture("h_usd", "10.01"), "amount"), id="capture-usd-more-than-held"),
    pytest.param(V(lambda lg: lg.capture("h_active", at=NAIVE), "at"), id="capture-naive-at"),
    pytest.param(
        V(lambda lg: lg.capture("h_active", at=EARLY), "at", retry=lambda lg: lg.capture("h_active")),
        id="capture-at-before-last-entry",
    ),
    pytest.param(V(lambda lg: lg.capture("nope", 1.5), "amount"), id="capture-float-on-unknown-hold"),
    pytest.param(
        Bad(
            lambda lg: lg.capture("h_released"), HoldNotActive, expect={"status": "released"}, mentions=("h_released",)
        ),
        id="capture-after-release",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.capture("h_captured"), HoldNotActive, expect={"status": "captured"}, mentions=("h_captured",)
        ),
        id="capture-again-other-amount",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.capture("h_captured", 2),
            HoldNotActive,
            expect={"status": "captured"},
            mentions=("h_captured",),
        ),
        id="capture-again-smaller-amount",
    ),
    pytest.param(
        Bad(lambda lg: lg.capture("h_lapsing"), HoldNotActive, expect={"status": "expired"}, mentions=("h_lapsing",)),
        id="capture-after-timeout-due",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.capture("h_lapsing", 1), HoldNotActive, expect={"status": "expired"}, mentions=("h_lapsing",)
        ),
        id="capture-part-after-timeout-due",
    ),
    pytest.param(
        Bad(lambda lg: lg.capture("h_expired"), HoldNotActive, expect={"status": "expired"}, mentions=("h_expired",)),
        id="capture-after-timeout-recorded",
    ),
    # ---- release ------------------------------------------------------------------------------
    pytest.param(Bad(lambda lg: lg.release("nope"), NotFound, mentions=("nope",)), id="release-unknown-hold"),
    pytest.param(V(lambda lg: lg.release(""), "hold_id"), id="release-empty-id"),
    pytest.param(V(lambda lg: lg.release(5), "hold_id"), id="release-int-id"),
    pytest.param(V(lambda lg: lg.release("h_active", at=NAIVE), "at"), id="release-naive-at"),
    pytest.param(
        V(lambda lg: lg.release("h_active", at=EARLY), "at", retry=lambda lg: lg.release("h_active")),
        id="release-at-before-last-entry",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.release("h_captured"), HoldNotActive, expect={"status": "captured"}, mentions=("h_captured",)
        ),
        id="release-after-capture",
    ),
    pytest.param(
        Bad(lambda lg: lg.release("h_lapsing"), HoldNotActive, expect={"status": "expired"}, mentions=("h_lapsing",)),
        id="release-after-timeout-due",
    ),
    pytest.param(
        Bad(lambda lg: lg.release("h_expired"), HoldNotActive, expect={"status": "expired"}, mentions=("h_expired",)),
        id="release-after-timeout-recorded",
    ),
    # ---- reads --------------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.balance(""), "customer"), id="balance-empty-customer"),
    pytest.param(V(lambda lg: lg.balance(LONG), "customer"), id="balance-201-char-customer"),
    pytest.param(V(lambda lg: lg.balance("ada", unit="eur"), "unit"), id="balance-unknown-unit"),
    pytest.param(V(lambda lg: lg.balance("ada", at=NAIVE), "at"), id="balance-naive-at"),
    pytest.param(V(lambda lg: lg.balance("ada", scope=""), "scope"), id="balance-empty-scope"),
    pytest.param(V(lambda lg: lg.blocks("ada", unit="eur"), "unit"), id="blocks-unknown-unit"),
    pytest.param(V(lambda lg: lg.blocks("ada", at=NAIVE), "at"), id="blocks-naive-at"),
    pytest.param(
        V(lambda lg: lg.blocks("ada", include_inactive="yes"), "include_inactive"), id="blocks-include-inactive-str"
    ),
    pytest.param(V(lambda lg: lg.blocks(None), "customer"), id="blocks-none-customer"),
    pytest.param(Bad(lambda lg: lg.get_block("blk_nope"), NotFound, mentions=("blk_nope",)), id="get-block-unknown"),
    pytest.param(V(lambda lg: lg.get_block(""), "block_id"), id="get-block-empty-id"),
    pytest.param(V(lambda lg: lg.get_block(None), "block_id"), id="get-block-none-id"),
    pytest.param(V(lambda lg: lg.get_block(first_block(lg), at=NAIVE), "at"), id="get-block-naive-at"),
    pytest.param(Bad(lambda lg: lg.get_hold("nope"), NotFound, mentions=("nope",)), id="get-hold-unknown"),
    pytest.param(V(lambda lg: lg.get_hold(""), "hold_id"), id="get-hold-empty-id"),
    pytest.param(V(lambda lg: lg.get_hold(LONG), "hold_id"), id="get-hold-201-char-id"),
    pytest.param(V(lambda lg: lg.get_hold("h_active", at=NAIVE), "at"), id="get-hold-naive-at"),
    pytest.param(V(lambda lg: lg.holds("ada", status="pending"), "status"), id="holds-unknown-status"),
    pytest.param(V(lambda lg: lg.holds("ada", status=1), "status"), id="holds-int-status"),
    pytest.param(V(lambda lg: lg.holds("", status=None), "customer"), id="holds-empty-customer"),
    pytest.param(V(lambda lg: lg.holds("ada", at=NAIVE), "at"), id="holds-naive-at"),
    pytest.param(
        V(lambda lg: lg.entries(kinds=["grant", "bogus"]), "kinds", mentions=("bogus",)), id="entries-unknown-kind"
    ),
    pytest.param(V(lambda lg: lg.entries(kinds="bogus"), "kinds"), id="entries-kinds-str"),
    pytest.param(V(lambda lg: lg.entries(kinds=5), "kinds"), id="entries-kinds-int"),
    pytest.param(V(lambda lg: lg.entries(after="garbage"), "after"), id="entries-cursor-garbage"),
    pytest.param(V(lambda lg: lg.entries(after=""), "after"), id="entries-cursor-empty"),
    pytest.param(V(lambda lg: lg.entries(after=5), "after"), id="entries-cursor-int"),
    pytest.param(V(lambda lg: lg.entries(after=cursor("creditcore:-1")), "after"), id="entries-cursor-negative"),
    pytest.param(V(lambda lg: lg.entries(after=cursor("creditcore:x")), "after"), id="entries-cursor-not-int"),
    pytest.param(V(lambda lg: lg.entries(limit=0), "limit"), id="entries-limit-0"),
    pytest.param(V(lambda lg: lg.entries(limit=10001), "limit"), id="entries-limit-10001"),
    pytest.param(V(lambda lg: lg.entries(limit="5"), "limit"), id="entries-limit-str"),
    pytest.param(V(lambda lg: lg.entries(limit=True), "limit"), id="entries-limit-bool"),
    pytest.param(V(lambda lg: lg.entries(limit=5.0), "limit"), id="entries-limit-float"),
    pytest.param(V(lambda lg: lg.entries(since=NAIVE), "since"), id="entries-naive-since"),
    pytest.param(V(lambda lg: lg.entries(until="2026-03-01"), "until"), id="entries-str-until"),
    pytest.param(V(lambda lg: lg.entries(customer=""), "customer"), id="entries-empty-customer"),
    # -- SPEC §14: scope sets, categories, single use -------------------------------------------
    pytest.param(V(lambda lg: lg.burn("ada", 1, scope=["trip", ""]), "scope"), id="burn-scope-set-empty-name"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, scope={"trip": 1}), "scope"), id="burn-scope-a-dict"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, categories=set()), "categories"), id="burn-categories-empty"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, categories="gift"), "categories"), id="burn-categories-unknown"),
    pytest.param(V(lambda lg: lg.burn("ada", 1, categories=["paid", 1]), "categories"), id="burn-categories-int"),
    pytest.param(V(lambda lg: lg.hold("ada", 1, hold_id="hx", scope=[]), "scope"), id="hold-scope-set-empty"),
    pytest.param(
        V(lambda lg: lg.hold("ada", 1, hold_id="hx", categories="free"), "categories"), id="hold-categories-unknown"
    ),
    pytest.param(
        Bad(
            lambda lg: lg.burn("ada", 30, categories="paid"),
            InsufficientCredits,
            expect={"available": 0},
            mentions=("leaves out",),
        ),
        id="burn-paid-only-has-no-unscoped-paid-credit",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.burn("ada", 25, scope="trip", categories="paid"),
            InsufficientCredits,
            expect={"available": 20},
            mentions=("leaves out",),
        ),
        id="burn-trip-paid-only-twenty",
    ),
    pytest.param(V(lambda lg: lg.preview_burn("ada", 1, categories=()), "categories"), id="preview-categories-empty"),
    pytest.param(V(lambda lg: lg.balance("ada", scope=[""]), "scope"), id="balance-scope-set-empty-name"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, single_use=1), "single_use"), id="grant-single-use-int"),
    pytest.param(V(lambda lg: lg.grant("ada", 1, single_use="yes"), "single_use"), id="grant-single-use-str"),
    # -- SPEC §15: customers --------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.set_customer("ada", name=""), "name"), id="customer-empty-name"),
    pytest.param(V(lambda lg: lg.set_customer("ada", name=LONG), "name"), id="customer-201-char-name"),
    pytest.param(V(lambda lg: lg.set_customer("ada", email="ada.example.com"), "email"), id="customer-email-no-at"),
    pytest.param(V(lambda lg: lg.set_customer("ada", email="ada@"), "email"), id="customer-email-at-last"),
    pytest.param(V(lambda lg: lg.set_customer("ada", email=7), "email"), id="customer-email-int"),
    pytest.param(V(lambda lg: lg.set_customer("ada", external_id=""), "external_id"), id="customer-empty-external"),
    pytest.param(V(lambda lg: lg.set_customer("ada", metadata=too_many_keys()), "metadata"), id="customer-metadata"),
    pytest.param(V(lambda lg: lg.set_customer("ada", timezone="Moon/Base"), "timezone"), id="customer-bad-zone"),
    pytest.param(V(lambda lg: lg.set_customer("", name="A"), "customer"), id="customer-empty-id"),
    pytest.param(V(lambda lg: lg.set_customer("ada", name="A", at=NAIVE), "at"), id="customer-naive-at"),
    pytest.param(V(lambda lg: lg.set_customer("ada", name="A", at=T0 + DAY), "at"), id="customer-future-at"),
    pytest.param(
        V(
            lambda lg: lg.set_customer("ada", name="B", at=T0 - DAY),
            "at",
            prepare=lambda lg: lg.set_customer("ada", name="A", at=T0),
        ),
        id="customer-before-its-last-change",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.set_customer("bob", external_id="crm"),
            Conflict,
            mentions=("crm",),
            prepare=lambda lg: lg.set_customer("ada", external_id="crm"),
        ),
        id="customer-external-id-taken",
    ),
    pytest.param(V(lambda lg: lg.get_customer(), "customer"), id="get-customer-neither"),
    pytest.param(V(lambda lg: lg.get_customer("ada", external_id="x"), "customer"), id="get-customer-both"),
    pytest.param(Bad(lambda lg: lg.get_customer("zed"), NotFound, mentions=("zed",)), id="get-customer-unknown"),
    pytest.param(
        Bad(lambda lg: lg.get_customer(external_id="nope"), NotFound, mentions=("nope",)),
        id="get-customer-unknown-external",
    ),
    pytest.param(
        Bad(lambda lg: lg.get_customer("ada", at=T0 - 20 * DAY), NotFound, mentions=("ada",)),
        id="get-customer-before-first-seen",
    ),
    pytest.param(V(lambda lg: lg.customers(limit=0), "limit"), id="customers-limit-0"),
    pytest.param(V(lambda lg: lg.customers(after="garbage"), "after"), id="customers-cursor-garbage"),
    pytest.param(V(lambda lg: lg.customers(at=NAIVE), "at"), id="customers-naive-at"),
    # -- SPEC §16: refunds ----------------------------------------------------------------------
    pytest.param(Bad(lambda lg: lg.refund("op_nope"), NotFound, mentions=("op_nope",)), id="refund-unknown-op"),
    pytest.param(V(lambda lg: lg.refund(""), "op_id"), id="refund-empty-op"),
    pytest.param(V(lambda lg: lg.refund(grant_op(lg)), "op_id"), id="refund-a-grant"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), 3), "amount"), id="refund-more-than-burned"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), 0), "amount"), id="refund-zero"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), "0.5"), "amount"), id="refund-below-precision"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), 1.0), "amount"), id="refund-float"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), expires_at=T0), "expires_at"), id="refund-expires-now"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), category="gift"), "category"), id="refund-bad-category"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), priority=1001), "priority"), id="refund-bad-priority"),
    pytest.param(V(lambda lg: lg.refund(burn_op(lg), at=EARLY), "at"), id="refund-before-last-entry"),
    pytest.param(
        V(lambda lg: lg.refund(burn_op(lg), 2), "amount", prepare=lambda lg: lg.reverse(burn_op(lg), 1)),
        id="refund-more-than-left-after-a-reversal",
    ),
    pytest.param(
        Bad(lambda lg: lg.refund(burn_op(lg), 2, idempotency_key="b1"), IdempotencyConflict, "operation"),
        id="refund-with-a-burns-key",
    ),
]


def grant_op(ledger: Ledger) -> str:
    return next(e.op_id for e in ledger.entries("bob").items if e.kind == "grant")


def burn_op(ledger: Ledger) -> str:
    return next(e.op_id for e in ledger.entries("ada", limit=1000).items if e.kind == "burn")


@pytest.mark.parametrize("row", ROWS)
def test_bad_input(row: Bad) -> None:
    ledger = build()
    if row.prepare is not None:
        row.prepare(ledger)
    before = snapshot(ledger)

    with pytest.raises(row.error) as caught:
        row.call(ledger)
    error = caught.value

    fields = refusals.fields_of(row.field)
    refusals.check_refusal(error, fields, row.mentions)
    for name, value in row.expect.items():
        assert getattr(error, name) == value, f"{name}: {getattr(error, name)!r} != {value!r}"

    # nothing written: no entry, block, hold, unit, or changed balance
    refusals.assert_unchanged(before, snapshot(ledger))

    # a failed call records no key: the corrected call goes through as a new operation
    if row.retry is not None:
        result = row.retry(ledger)
        if isinstance(result, Result):
            assert result.replayed is False
            assert result.entries
        assert snapshot(ledger) != before


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 60
    grown = [row for row in ROWS if row.id.startswith(("customer", "get-customer", "customers", "refund"))]
    assert len(grown) >= 30  # SPEC §14 to §20 add at least 40 with the settings and schedules to come


def test_error_classes_are_what_spec_says() -> None:
    for cls in (ValidationError, InsufficientCredits, NotFound, Conflict, IdempotencyConflict, HoldNotActive):
        assert issubclass(cls, CreditError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(NotFound, LookupError)
    assert issubclass(IdempotencyConflict, Conflict)
    assert issubclass(HoldNotActive, Conflict)


def test_decimal_one_point_zero_is_a_whole_credit() -> None:
    """The precision rule judges by value (SPEC §1): the counterpart of the 1.5 rows."""
    ledger = build()
    assert ledger.grant("ada", Decimal("1.0")).block.amount == 1
    assert ledger.burn("ada", Decimal("1.000")).burned == 1
    assert ledger.grant("ada", "0.010", unit="usd").block.amount == Decimal("0.01")


def test_a_grant_up_to_the_64_bit_limit_is_fine() -> None:
    """The counterpart of the overflow rows: the largest total that fits is accepted."""
    ledger = build()
    granted = ledger.balance("ada").granted
    assert ledger.grant("ada", MAX - int(granted)).block.amount == MAX - granted
    assert ledger.balance("ada").granted == MAX
    assert ledger.grant("zed", MAX).block.amount == MAX

"""A second bad-input table (SPEC §12), for void, reverse, change_expiry, expire_due and the
reads that page or chart: each invalid call raises its documented error and leaves the ledger
unchanged (entries, balances, blocks, holds, units, timeline).

It follows tests/unit/test_bad_input.py: every row runs against a fresh ledger with a fixed
clock and the small history of :func:`build`; rows name blocks and ops by role (``"main"``,
``"b2"``) because their ids are generated. A row with ``retry`` then makes the corrected call
with the same idempotency key, which must go through as a new operation (a failed call records
no key, SPEC §6)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import refusals

from creditcore import (
    Conflict,
    CreditError,
    IdempotencyConflict,
    Ledger,
    NotFound,
    Result,
    ValidationError,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
NAIVE = datetime(2026, 3, 1, 12, 0)
#: Earlier than ada's last entry (T0 - 4 days).
EARLY = T0 - 5 * DAY
LONG = "x" * 201
CUSTOMERS = ("ada", "bob", "zed")  # zed never written


@dataclasses.dataclass
class Built:
    ledger: Ledger
    ids: dict[str, str]
    """Block ids by role."""
    ops: dict[str, str]
    """Op ids by role."""


def build() -> Built:
    """A ledger at T0 with a small known history.

    ada (last entry at T0 - 4d), credits:
      main      100 (key g1); 10 of it moved to ``moved`` (key ce1)   -> 90 left
      spent     5, priority 1, used up by burn b1 (key b1)            -> depleted
      expired   5, expired at T0 - 8d, its expire entry recorded
      lapsing   4, expires at T0 - 1h: due, not recorded yet
      voided    6, voided by key v1
      held      8, priority 0, all pinned by the active hold h_full
      partly    10, priority 2: burn b2 (key b2) took 3, capture took 1, 4 pinned by h_part
                -> 6 left, 4 held, 2 unheld
      upcoming  10, effective at T0 + 5d
      moved     10, expires T0 + 30d
      ops: b3 (a burn of 2, fully reversed by key r1), capture (h_cap, 1 of 2), release (h_rel)
    ada, usd: ``usd`` 50.00.
    bob: a burn of 3 into debt (key bd), then a grant of 5 that settled it.
    """
    lg = Ledger.memory(clock=lambda: T0, units={"usd": 2}, future_tolerance=None)  # rows date writes freely
    ids: dict[str, str] = {}
    ops: dict[str, str] = {}
    g = lg.grant("ada", 100, idempotency_key="g1", at=T0 - 10 * DAY)
    ids["main"], ops["grant"] = g.block.id, g.op_id
    ids["usd"] = lg.grant("ada", "50.00", unit="usd", at=T0 - 10 * DAY).block.id
    ids["spent"] = lg.grant("ada", 5, priority=1, at=T0 - 10 * DAY).block.id
    ids["expired"] = lg.grant("ada", 5, priority=900, expires_at=T0 - 8 * DAY, at=T0 - 10 * DAY).block.id
    ids["lapsing"] = lg.grant("ada", 4, priority=900, expires_at=T0 - HOUR, at=T0 - 10 * DAY).block.id
    ids["voided"] = lg.grant("ada", 6, priority=900, at=T0 - 10 * DAY).block.id
    ops["b1"] = lg.burn("ada", 5, idempotency_key="b1", at=T0 - 9 * DAY).op_id
    ops["void"] = lg.void(ids["voided"], idempotency_key="v1", at=T0 - 7 * DAY).op_id
    ids["held"] = lg.grant("ada", 8, priority=0, at=T0 - 6 * DAY).block.id
    ops["hold"] = lg.hold("ada", 8, hold_id="h_full", at=T0 - 6 * DAY).op_id
    ids["partly"] = lg.grant("ada", 10, priority=2, at=T0 - 6 * DAY).block.id
    lg.hold("ada", 4, hold_id="h_part", at=T0 - 6 * DAY)
    ids["upcoming"] = lg.grant("ada", 10, priority=900, effective_at=T0 + 5 * DAY, at=T0 - 5 * DAY).block.id
    ops["b2"] = lg.burn("ada", 3, idempotency_key="b2", at=T0 - 5 * DAY).op_id
    lg.hold("ada", 2, hold_id="h_cap", at=T0 - 5 * DAY)
    ops["capture"] = lg.capture("h_cap", 1, at=T0 - 5 * DAY).op_id
    lg.hold("ada", 1, hold_id="h_rel", at=T0 - 5 * DAY)
    ops["release"] = lg.release("h_rel", at=T0 - 5 * DAY).op_id
    ops["b3"] = lg.burn("ada", 2, at=T0 - 4 * DAY).op_id
    ops["reverse"] = lg.reverse(ops["b3"], idempotency_key="r1", at=T0 - 4 * DAY).op_id
    moved = lg.change_expiry(ids["main"], T0 + 30 * DAY, amount=10, idempotency_key="ce1", at=T0 - 4 * DAY)
    ids["moved"], ops["move"] = moved.block.id, moved.op_id
    ops["expire"] = f"expire:{ids['expired']}"
    ops["bd"] = lg.burn("bob", 3, overdraft="debt", idempotency_key="bd", at=T0 - 10 * DAY).op_id
    lg.grant("bob", 5, at=T0 - 10 * DAY)
    return Built(lg, ids, ops)


def test_setup_is_what_the_table_assumes() -> None:
    built = build()
    lg, ids = built.ledger, built.ids

    def block(role: str) -> tuple[Decimal, Decimal, str]:
        b = lg.get_block(ids[role])
        return b.remaining, b.held, b.status

    assert block("main") == (Decimal(90), Decimal(0), "active")
    assert block("spent") == (Decimal(0), Decimal(0), "depleted")
    assert block("expired") == (Decimal(0), Decimal(0), "expired")
    assert block("lapsing")[2] == "expired"
    assert block("voided") == (Decimal(0), Decimal(0), "voided")
    assert block("held") == (Decimal(8), Decimal(8), "active")
    assert block("partly") == (Decimal(6), Decimal(4), "active")
    assert block("upcoming") == (Decimal(10), Decimal(0), "upcoming")
    assert block("moved") == (Decimal(10), Decimal(0), "active")
    assert block("usd") == (Decimal("50.00"), Decimal(0), "active")
    assert lg.entries(op_id=built.ops["expire"]).items  # the recorded expiry
    assert not lg.entries(kinds={"expire"}, block_id=ids["lapsing"]).items  # the one still due
    assert {h.id: h.status for h in lg.holds("ada", status=None)} == {
        "h_full": "active", "h_part": "active", "h_cap": "captured", "h_rel": "released",
    }  # fmt: skip
    assert lg.balance("bob").debt == 0
    assert lg.entries("ada").items[-1].at == T0 - 4 * DAY


# -- snapshots ------------------------------------------------------------------------------------


def snapshot(ledger: Ledger) -> dict[str, Any]:
    return refusals.snapshot(ledger, CUSTOMERS, page_size=7, future=T0 + 60 * DAY)


# -- the table ------------------------------------------------------------------------------------

Call = Callable[[Built], object]


@dataclasses.dataclass(frozen=True)
class Bad:
    call: Call
    error: type[CreditError]
    field: str | tuple[str, ...] | None = None
    """``.field`` of a ValidationError or IdempotencyConflict (a tuple: any of them)."""
    mentions: tuple[str, ...] = ()
    """Text ``str(error)`` must contain (default: the field). ``{role}`` is replaced by that
    block's or op's id."""
    retry: Call | None = None
    """A corrected call (same key) that must then succeed as a new operation."""


def V(call: Call, fld: str | tuple[str, ...], **kw: Any) -> Bad:
    return Bad(call, ValidationError, fld, **kw)


def C(call: Call, **kw: Any) -> Bad:
    return Bad(call, Conflict, **kw)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


ROWS = [
    # ---- void: ids ----------------------------------------------------------------------------------
    pytest.param(Bad(lambda b: b.ledger.void("blk_nope"), NotFound, mentions=("blk_nope",)), id="void-unknown-block"),
    pytest.param(V(lambda b: b.ledger.void(""), "block_id"), id="void-empty-id"),
    pytest.param(V(lambda b: b.ledger.void(None), "block_id"), id="void-none-id"),
    pytest.param(V(lambda b: b.ledger.void(5), "block_id"), id="void-int-id"),
    pytest.param(V(lambda b: b.ledger.void(LONG), "block_id"), id="void-201-char-id"),
    # ---- void: amounts --------------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], 0), "amount"), id="void-zero"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], -1), "amount"), id="void-negative"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], Decimal("-0")), "amount"), id="void-negative-zero"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], 1.0), "amount"), id="void-float"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], True), "amount"), id="void-bool"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], "NaN"), "amount"), id="void-nan"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], "Infinity"), "amount"), id="void-infinity"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], "abc"), "amount"), id="void-abc"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], "1.5"), "amount"), id="void-credits-1.5"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["usd"], "0.001"), "amount"), id="void-usd-0.001"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], 2**63), "amount"), id="void-2**63"),
    pytest.param(
        V(
            lambda b: b.ledger.void(b.ids["main"], 91, idempotency_key="k-v"),
            "amount",
            retry=lambda b: b.ledger.void(b.ids["main"], 90, idempotency_key="k-v"),
        ),
        id="void-more-than-remaining",
    ),
    pytest.param(
        V(lambda b: b.ledger.void(b.ids["partly"], 3), "amount", retry=lambda b: b.ledger.void(b.ids["partly"], 2)),
        id="void-more-than-unheld",
    ),
    pytest.param(V(lambda b: b.ledger.void(b.ids["usd"], "50.01"), "amount"), id="void-usd-more-than-remaining"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["upcoming"], 11), "amount"), id="void-upcoming-more-than-remaining"),
    pytest.param(V(lambda b: b.ledger.void("blk_nope", 1.5), "amount"), id="void-float-on-unknown-block"),
    # ---- void: nothing unheld left --------------------------------------------------------------
    pytest.param(C(lambda b: b.ledger.void(b.ids["spent"]), mentions=("{spent}",)), id="void-used-up"),
    pytest.param(C(lambda b: b.ledger.void(b.ids["spent"], 1), mentions=("{spent}",)), id="void-used-up-amount"),
    pytest.param(C(lambda b: b.ledger.void(b.ids["expired"]), mentions=("{expired}",)), id="void-expired"),
    pytest.param(C(lambda b: b.ledger.void(b.ids["lapsing"]), mentions=("{lapsing}",)), id="void-expiry-due"),
    pytest.param(C(lambda b: b.ledger.void(b.ids["voided"]), mentions=("{voided}",)), id="void-voided"),
    pytest.param(C(lambda b: b.ledger.void(b.ids["held"]), mentions=("{held}",)), id="void-fully-held"),
    # ---- void: other arguments, time, keys --------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], reason="r" * 2001), "reason"), id="void-reason-2001-chars"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], reason=7), "reason"), id="void-reason-int"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], idempotency_key=""), "idempotency_key"), id="void-empty-key"),
    pytest.param(
        V(lambda b: b.ledger.void(b.ids["main"], idempotency_key=LONG), "idempotency_key"), id="void-201-char-key"
    ),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], at=NAIVE), "at"), id="void-naive-at"),
    pytest.param(V(lambda b: b.ledger.void(b.ids["main"], at="2026-03-01T12:00:00+00:00"), "at"), id="void-str-at"),
    pytest.param(
        V(
            lambda b: b.ledger.void(b.ids["main"], 1, idempotency_key="k-ve", at=EARLY),
            "at",
            retry=lambda b: b.ledger.void(b.ids["main"], 1, idempotency_key="k-ve"),
        ),
        id="void-at-before-last-entry",
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.void(b.ids["voided"], 1, idempotency_key="v1"),
            IdempotencyConflict,
            "amount",
            mentions=("v1",),
        ),
        id="void-key-other-amount",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.void(b.ids["main"], idempotency_key="v1"), IdempotencyConflict, "block_id"),
        id="void-key-other-block",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.void(b.ids["voided"], reason="x", idempotency_key="v1"), IdempotencyConflict, "reason"),
        id="void-key-other-reason",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.void(b.ids["main"], idempotency_key="g1"), IdempotencyConflict, None, mentions=("g1",)),
        id="void-key-of-a-grant",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.void(b.ids["voided"], 3, idempotency_key="v1", at=EARLY), IdempotencyConflict, "amount"),
        id="void-key-checked-before-time-and-state",
    ),
    # ---- reverse: ids and kinds of op ----------------------------------------------------------
    pytest.param(Bad(lambda b: b.ledger.reverse("op_nope"), NotFound, mentions=("op_nope",)), id="reverse-unknown-op"),
    pytest.param(V(lambda b: b.ledger.reverse(""), "op_id"), id="reverse-empty-id"),
    pytest.param(V(lambda b: b.ledger.reverse(None), "op_id"), id="reverse-none-id"),
    pytest.param(V(lambda b: b.ledger.reverse(LONG), "op_id"), id="reverse-201-char-id"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["grant"]), "op_id", mentions=("{grant}",)), id="reverse-grant"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["hold"]), "op_id"), id="reverse-hold"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["release"]), "op_id"), id="reverse-release"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["void"]), "op_id"), id="reverse-void"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["move"]), "op_id"), id="reverse-change-expiry"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["reverse"]), "op_id"), id="reverse-a-reversal"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["expire"]), "op_id"), id="reverse-an-expiry"),
    # ---- reverse: amounts ----------------------------------------------------------------------
    pytest.param(
        V(
            lambda b: b.ledger.reverse(b.ops["b2"], 4, idempotency_key="k-r"),
            "amount",
            retry=lambda b: b.ledger.reverse(b.ops["b2"], 3, idempotency_key="k-r"),
        ),
        id="reverse-more-than-the-op-took",
    ),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b3"]), "amount"), id="reverse-fully-reversed-op"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b3"], 1), "amount"), id="reverse-fully-reversed-op-amount"),
    pytest.param(
        V(
            lambda b: b.ledger.reverse(b.ops["capture"], 2),
            "amount",
            retry=lambda b: b.ledger.reverse(b.ops["capture"], 1),
        ),
        id="reverse-capture-beyond-captured",
    ),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["bd"], 4), "amount"), id="reverse-debt-burn-beyond"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], 0), "amount"), id="reverse-zero"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], -1), "amount"), id="reverse-negative"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], 1.0), "amount"), id="reverse-float"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], "1.5"), "amount"), id="reverse-credits-1.5"),
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], "x"), "amount"), id="reverse-abc"),
    pytest.param(V(lambda b: b.ledger.reverse("op_nope", 1.5), "amount"), id="reverse-float-on-unknown-op"),
    # ---- reverse: time and keys --------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.reverse(b.ops["b2"], at=NAIVE), "at"), id="reverse-naive-at"),
    pytest.param(
        V(
            lambda b: b.ledger.reverse(b.ops["b2"], idempotency_key="k-re", at=EARLY),
            "at",
            retry=lambda b: b.ledger.reverse(b.ops["b2"], idempotency_key="k-re"),
        ),
        id="reverse-at-before-last-entry",
    ),
    pytest.param(
        V(lambda b: b.ledger.reverse(b.ops["b2"], idempotency_key=7), "idempotency_key"), id="reverse-int-key"
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.reverse(b.ops["b3"], 1, idempotency_key="r1"),
            IdempotencyConflict,
            "amount",
            mentions=("r1",),
        ),
        id="reverse-key-other-amount",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.reverse(b.ops["b2"], idempotency_key="r1"), IdempotencyConflict, "op_id"),
        id="reverse-key-other-op",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.reverse(b.ops["b2"], idempotency_key="b2"), IdempotencyConflict, None, mentions=("b2",)),
        id="reverse-key-of-a-burn",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.reverse(b.ops["b3"], 2, idempotency_key="r1", at=EARLY), IdempotencyConflict, "amount"),
        id="reverse-key-checked-before-time-and-state",
    ),
    # ---- change_expiry: ids, expiry -------------------------------------------------------------------
    pytest.param(
        Bad(lambda b: b.ledger.change_expiry("blk_nope", T0 + DAY), NotFound, mentions=("blk_nope",)),
        id="move-unknown-block",
    ),
    pytest.param(V(lambda b: b.ledger.change_expiry("", T0 + DAY), "block_id"), id="move-empty-id"),
    pytest.param(V(lambda b: b.ledger.change_expiry(None, T0 + DAY), "block_id"), id="move-none-id"),
    pytest.param(
        V(
            lambda b: b.ledger.change_expiry(b.ids["main"], T0 - DAY, idempotency_key="k-m"),
            "expires_at",
            retry=lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, idempotency_key="k-m"),
        ),
        id="move-expiry-in-the-past",
    ),
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], T0), "expires_at"), id="move-expiry-equals-at"),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, at=T0 + 2 * DAY), "expires_at"),
        id="move-expiry-before-explicit-at",
    ),
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], NAIVE + DAY), "expires_at"), id="move-naive-expiry"),
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], None), "expires_at"), id="move-none-expiry"),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["main"], "2026-04-01T00:00:00+00:00"), "expires_at"),
        id="move-str-expiry",
    ),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["upcoming"], T0 + 5 * DAY), "expires_at"),
        id="move-upcoming-expiry-at-its-start",
    ),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["spent"], T0 - DAY), "expires_at"),
        id="move-past-expiry-on-used-up-block",
    ),
    # ---- change_expiry: amounts --------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount=0), "amount"), id="move-zero"),
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount=-3), "amount"), id="move-negative"),
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount=2.0), "amount"), id="move-float"),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount="1.5"), "amount"), id="move-credits-1.5"
    ),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["usd"], T0 + DAY, amount="0.001"), "amount"), id="move-usd-0.001"
    ),
    pytest.param(
        V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount=91), "amount"), id="move-more-than-remaining"
    ),
    pytest.param(
        V(
            lambda b: b.ledger.change_expiry(b.ids["partly"], T0 + DAY, amount=3),
            "amount",
            retry=lambda b: b.ledger.change_expiry(b.ids["partly"], T0 + DAY, amount=2),
        ),
        id="move-more-than-unheld",
    ),
    pytest.param(
        V(lambda b: b.ledger.change_expiry("blk_nope", T0 + DAY, amount=1.5), "amount"),
        id="move-float-on-unknown-block",
    ),
    # ---- change_expiry: nothing unheld left -----------------------------------------------------------
    pytest.param(
        C(lambda b: b.ledger.change_expiry(b.ids["spent"], T0 + DAY), mentions=("{spent}",)), id="move-used-up"
    ),
    pytest.param(
        C(lambda b: b.ledger.change_expiry(b.ids["expired"], T0 + DAY), mentions=("{expired}",)), id="move-expired"
    ),
    pytest.param(
        C(lambda b: b.ledger.change_expiry(b.ids["lapsing"], T0 + DAY), mentions=("{lapsing}",)), id="move-expiry-due"
    ),
    pytest.param(
        C(lambda b: b.ledger.change_expiry(b.ids["voided"], T0 + DAY), mentions=("{voided}",)), id="move-voided"
    ),
    pytest.param(
        C(lambda b: b.ledger.change_expiry(b.ids["held"], T0 + DAY), mentions=("{held}",)), id="move-fully-held"
    ),
    # ---- change_expiry: time and keys -----------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, at=NAIVE), "at"), id="move-naive-at"),
    pytest.param(
        V(
            lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, idempotency_key="k-me", at=EARLY),
            "at",
            retry=lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, idempotency_key="k-me"),
        ),
        id="move-at-before-last-entry",
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.change_expiry(b.ids["main"], T0 + DAY, amount=10, idempotency_key="ce1"),
            IdempotencyConflict,
            "expires_at",
            mentions=("ce1",),
        ),
        id="move-key-other-expiry",
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.change_expiry(b.ids["main"], T0 + 30 * DAY, amount=9, idempotency_key="ce1"),
            IdempotencyConflict,
            "amount",
        ),
        id="move-key-other-amount",
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.change_expiry(b.ids["moved"], T0 + 30 * DAY, amount=10, idempotency_key="ce1"),
            IdempotencyConflict,
            "block_id",
        ),
        id="move-key-other-block",
    ),
    pytest.param(
        Bad(
            lambda b: b.ledger.change_expiry(b.ids["voided"], T0 + DAY, idempotency_key="v1"),
            IdempotencyConflict,
            None,
            mentions=("v1",),
        ),
        id="move-key-of-a-void",
    ),
    # ---- expire_due ------------------------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.expire_due(at=NAIVE), "at"), id="expire-due-naive-at"),
    pytest.param(V(lambda b: b.ledger.expire_due(at="2026-03-02"), "at"), id="expire-due-str-at"),
    # ---- entries --------------------------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.entries(block_id=""), "block_id"), id="entries-empty-block-id"),
    pytest.param(V(lambda b: b.ledger.entries(op_id=""), "op_id"), id="entries-empty-op-id"),
    pytest.param(V(lambda b: b.ledger.entries(unit=""), "unit"), id="entries-empty-unit"),
    pytest.param(V(lambda b: b.ledger.entries(kinds=["burn", 1]), "kinds"), id="entries-kinds-with-an-int"),
    pytest.param(V(lambda b: b.ledger.entries(after=cursor("other:5")), "after"), id="entries-cursor-other-prefix"),
    pytest.param(V(lambda b: b.ledger.entries(after=cursor("creditcore:")), "after"), id="entries-cursor-no-seq"),
    pytest.param(V(lambda b: b.ledger.entries(after=1.5), "after"), id="entries-cursor-float"),
    pytest.param(V(lambda b: b.ledger.entries(after="!!!"), "after"), id="entries-cursor-not-base64"),
    pytest.param(V(lambda b: b.ledger.entries(limit=-1), "limit"), id="entries-limit-negative"),
    pytest.param(V(lambda b: b.ledger.entries(limit=None), "limit"), id="entries-limit-none"),
    pytest.param(V(lambda b: b.ledger.entries(since="2026-03-01"), "since"), id="entries-str-since"),
    pytest.param(V(lambda b: b.ledger.entries(until=NAIVE), "until"), id="entries-naive-until"),
    # ---- timeline -------------------------------------------------------------------------------------
    pytest.param(V(lambda b: b.ledger.timeline("ada", since=NAIVE), "since"), id="timeline-naive-since"),
    pytest.param(V(lambda b: b.ledger.timeline("ada", until=NAIVE), "until"), id="timeline-naive-until"),
    pytest.param(
        V(lambda b: b.ledger.timeline("ada", unit="eur"), "unit", mentions=("eur",)), id="timeline-unknown-unit"
    ),
    pytest.param(V(lambda b: b.ledger.timeline(""), "customer"), id="timeline-empty-customer"),
    pytest.param(V(lambda b: b.ledger.timeline(None), "customer"), id="timeline-none-customer"),
    # ---- past reads of things that did not exist yet --------------------------------------------------
    pytest.param(
        Bad(lambda b: b.ledger.get_block(b.ids["moved"], at=T0 - 5 * DAY), NotFound, mentions=("{moved}",)),
        id="get-block-before-it-was-made",
    ),
    pytest.param(
        Bad(lambda b: b.ledger.get_hold("h_cap", at=T0 - 6 * DAY), NotFound, mentions=("h_cap",)),
        id="get-hold-before-it-was-placed",
    ),
]


def _named(text: str, built: Built) -> str:
    for role, value in {**built.ids, **built.ops}.items():
        text = text.replace("{" + role + "}", value)
    return text


@pytest.mark.parametrize("row", ROWS)
def test_bad_operation(row: Bad) -> None:
    built = build()
    ledger = built.ledger
    before = snapshot(ledger)

    with pytest.raises(row.error) as caught:
        row.call(built)
    error = caught.value

    refusals.check_refusal(error, refusals.fields_of(row.field), tuple(_named(t, built) for t in row.mentions))

    # nothing written
    refusals.assert_unchanged(before, snapshot(ledger))
    assert ledger.verify().ok

    # a failed call records no key: the corrected call goes through as a new operation
    if row.retry is not None:
        result = row.retry(built)
        assert isinstance(result, Result)
        assert result.replayed is False
        assert result.entries
        assert snapshot(ledger) != before


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 60


def test_replays_are_not_errors() -> None:
    """The counterparts of the key rows: the same call with the same key replays."""
    built = build()
    lg, ids, ops = built.ledger, built.ids, built.ops
    before = snapshot(lg)
    assert lg.void(ids["voided"], idempotency_key="v1", at=EARLY).replayed is True
    assert lg.reverse(ops["b3"], idempotency_key="r1").replayed is True
    replay = lg.change_expiry(ids["main"], T0 + 30 * DAY, amount=10, idempotency_key="ce1")
    assert replay.replayed is True and replay.block.id == ids["moved"]
    assert snapshot(lg) == before

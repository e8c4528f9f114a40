"""A third bad-input table (SPEC §12, §20), for the settings and the event outbox: schedules
(§17), auto top-up rules (§18), balance alerts and ``events()`` (§19). Each invalid call
raises its documented error (§7) and writes nothing: no entry, block, profile, setting,
schedule, alert, event or key (§20).

It follows tests/unit/test_bad_input.py and test_bad_input_operations.py: every row runs
against a fresh ledger with a fixed clock and the small history of :func:`build`, whose due
events (an expiry, a schedule's last expiry) are pending and would each write an event, so a
refusal that recorded them would show. Schedules and alerts carry the caller's ids, which name
them by role (``s_monthly``, ``s_ended``, ``a_depleted``). After the bad call the test compares
the snapshot (entries, balances, blocks, holds, units, profiles, schedules, top-up rules,
alerts, the outbox), checks that no customer's last write moved (SPEC §13), and, for a row with
``retry``, makes the corrected call with the same key (``idempotency_key``, ``schedule_id``,
``alert_id``), which must go through: a failed call records no key (SPEC §6).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import refusals

from creditcore import Conflict, CreditError, IdempotencyConflict, Ledger, NotFound, Result, ValidationError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
NAIVE = datetime(2026, 3, 1, 12, 0)
LONG = "x" * 201
CUSTOMERS = ("ada", "bob", "zed")  # zed never written
#: Each customer's last write (SPEC §13): ada's a burn, bob's the change of an alert.
LAST_WRITE = {"ada": T0 - 4 * DAY, "bob": T0 - 2 * DAY + HOUR}
#: Earlier than ada's last write.
EARLY = T0 - 5 * DAY
#: After bob's last entry (T0 - 2d, a period of s_lapsing) but before his last write.
BOB_BETWEEN = T0 - 2 * DAY + HOUR / 2
#: Just past the clock plus the default future_tolerance (5 minutes).
FUTURE = T0 + timedelta(minutes=5, microseconds=1)


def build() -> Ledger:
    """A ledger at T0 (default future_tolerance of 5 minutes) with a small known history.

    ada (last write T0 - 4d: the burn b1 of 70), credits 100 (key g1), 4 expiring at T0 - 1h
    (due, not recorded: it would fire a_dropped at 45), usd 50.00;
      s_monthly  10 every month from T0 - 10d (keys schedule_id and k-s): active, period 0
      s_ended    5 every day from T0 - 9d until T0 - 7d: ended by until
      s_cancelled 3 every week, cancelled at T0 - 8d: ended
      top-up in usd: below 5.00 add 20.00; none in credits
      a_depleted, a_dropped (50, 45) in credits; a_removed (recovered) added and removed
    bob (last write T0 - 2d + 1h: the alert a_bob; last entry T0 - 2d), credits:
      5 (key gb) burned; a top-up rule (at or below 0 add 10) that fired once (event 2)
      s_lapsing  1 every day from T0 - 3d until T0 - 1d - 1h: its last block expires at
                 T0 - 1d (due, not recorded: it would fire a_bob), so it has ended
      a_bob      dropped at 10
    events: 1 balance_dropped (ada, 50), 2 top_up (bob).
    """
    lg = Ledger.memory(clock=lambda: T0, units={"usd": 2})
    lg.grant("ada", 100, idempotency_key="g1", at=T0 - 10 * DAY)
    lg.grant("ada", "50.00", unit="usd", at=T0 - 10 * DAY)
    lg.grant("ada", 4, priority=900, expires_at=T0 - HOUR, at=T0 - 10 * DAY)
    lg.schedule_grant("ada", 10, every="1 month", schedule_id="s_monthly", idempotency_key="k-s", at=T0 - 10 * DAY)
    lg.schedule_grant(
        "ada", 5, every="1 day", start=T0 - 9 * DAY, until=T0 - 7 * DAY, schedule_id="s_ended", at=T0 - 9 * DAY
    )
    lg.schedule_grant("ada", 3, every="1 week", schedule_id="s_cancelled", at=T0 - 9 * DAY)
    lg.cancel_schedule("s_cancelled", at=T0 - 8 * DAY)
    lg.set_top_up("ada", unit="usd", threshold="5.00", amount="20.00", at=T0 - 6 * DAY)
    lg.add_alert("ada", unit="credits", kind="depleted", alert_id="a_depleted", at=T0 - 5 * DAY)
    lg.add_alert("ada", unit="credits", kind="dropped", thresholds=(50, 45), alert_id="a_dropped", at=T0 - 5 * DAY)
    lg.add_alert("ada", unit="credits", kind="recovered", alert_id="a_removed", at=T0 - 5 * DAY)
    lg.remove_alert("a_removed", at=T0 - 5 * DAY)
    lg.burn("ada", 70, idempotency_key="b1", at=T0 - 4 * DAY)
    lg.grant("bob", 5, idempotency_key="gb", at=T0 - 10 * DAY)
    lg.set_top_up("bob", unit="credits", threshold=0, amount=10, at=T0 - 10 * DAY)
    lg.burn("bob", 5, at=T0 - 9 * DAY)
    lg.schedule_grant("bob", 1, every="1 day", until=T0 - DAY - HOUR, schedule_id="s_lapsing", at=T0 - 3 * DAY)
    lg.add_alert("bob", unit="credits", kind="dropped", thresholds=(10,), alert_id="a_bob", at=LAST_WRITE["bob"])
    return lg


def test_setup_is_what_the_table_assumes() -> None:
    lg = build()
    assert {s.id: s.status for s in lg.schedules("ada")} == {
        "s_monthly": "active", "s_ended": "ended", "s_cancelled": "ended",
    }  # fmt: skip
    assert lg.get_schedule("s_lapsing").status == "ended"
    assert [a.id for a in lg.alerts("ada")] == ["a_depleted", "a_dropped"]
    assert lg.get_top_up("ada", unit="usd").amount == Decimal("20.00")
    with pytest.raises(NotFound):
        lg.get_top_up("ada", unit="credits")
    assert [(e.kind, e.customer) for e in lg.events().items] == [("balance_dropped", "ada"), ("top_up", "bob")]
    assert lg.entries("ada", limit=1000).items[-1].at == LAST_WRITE["ada"]
    assert lg.entries("bob", limit=1000).items[-1].at == T0 - 2 * DAY < LAST_WRITE["bob"]
    assert lg.balance("ada").available == 43 and lg.balance("bob").available == 10
    # the due steps are pending, and each would write an event once recorded
    lg.expire_due(at=T0)
    fired = [(e.kind, e.customer, e.thresholds) for e in lg.events().items[2:]]
    assert sorted(fired) == [("balance_dropped", "ada", (Decimal(45),)), ("balance_dropped", "bob", (Decimal(10),))]


# -- snapshots ------------------------------------------------------------------------------------


def snapshot(ledger: Ledger) -> dict[str, Any]:
    return refusals.snapshot(ledger, CUSTOMERS, page_size=5)


# -- the table ------------------------------------------------------------------------------------

Call = Callable[[Ledger], object]


@dataclasses.dataclass(frozen=True)
class Bad:
    """One invalid call and what it must raise."""

    call: Call
    error: type[CreditError]
    field: str | tuple[str, ...] | None = None
    """``.field`` of a ValidationError or IdempotencyConflict (a tuple: any of them)."""
    mentions: tuple[str, ...] = ()
    """Text ``str(error)`` must contain (default: the field)."""
    retry: Call | None = None
    """A corrected call (same key, schedule id or alert id) that must then go through."""


def V(call: Call, fld: str | tuple[str, ...], **kw: Any) -> Bad:
    return Bad(call, ValidationError, fld, **kw)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def monthly(lg: Ledger, amount: int = 10, **kw: Any) -> Any:
    """s_monthly's call again, with ``kw`` changed."""
    args: dict[str, Any] = {"every": "1 month", "schedule_id": "s_monthly", **kw}
    return lg.schedule_grant("ada", amount, **args)


def daily(lg: Ledger, amount: Any = 1, **kw: Any) -> object:
    """A new daily schedule for ada (valid unless ``kw`` says otherwise)."""
    args: dict[str, Any] = {"every": "1 day", **kw}
    return lg.schedule_grant("ada", amount, **args)


def top_up(lg: Ledger, **kw: Any) -> object:
    """A new credits rule for ada: at or below 10, add 5 (valid unless ``kw`` says otherwise)."""
    args: dict[str, Any] = {"unit": "credits", "threshold": 10, "amount": 5, **kw}
    return lg.set_top_up("ada", **args)


def alert(lg: Ledger, kind: Any = "depleted", **kw: Any) -> object:
    """A new credits alert for zed (valid unless ``kw`` says otherwise)."""
    args: dict[str, Any] = {"unit": "credits", "kind": kind, **kw}
    return lg.add_alert("zed", **args)


ADA_BEFORE = (LAST_WRITE["ada"].isoformat(),)
BOB_BEFORE = (LAST_WRITE["bob"].isoformat(),)
TOO_FAR = ("future_tolerance",)

ROWS = [
    # ---- schedule_grant: every ------------------------------------------------------------------
    pytest.param(V(lambda lg: daily(lg, every="0 days"), "every", mentions=("0 days",)), id="schedule-every-0-days"),
    pytest.param(
        V(lambda lg: daily(lg, every="1 fortnight"), "every", mentions=("1 fortnight",)), id="schedule-every-fortnight"
    ),
    pytest.param(
        V(lambda lg: daily(lg, every=timedelta(seconds=30)), "every", mentions=("one minute",)),
        id="schedule-every-30-second-timedelta",
    ),
    pytest.param(
        V(lambda lg: daily(lg, every="30 seconds"), "every", mentions=("one minute",)), id="schedule-every-30-seconds"
    ),
    pytest.param(V(lambda lg: daily(lg, every=30), "every", mentions=("int",)), id="schedule-every-int"),
    pytest.param(V(lambda lg: daily(lg, every=True), "every"), id="schedule-every-bool"),
    pytest.param(V(lambda lg: daily(lg, every=None), "every"), id="schedule-every-none"),
    pytest.param(V(lambda lg: daily(lg, every="1.5 days"), "every"), id="schedule-every-fraction"),
    pytest.param(V(lambda lg: daily(lg, every="-1 days"), "every"), id="schedule-every-negative"),
    pytest.param(V(lambda lg: daily(lg, every=timedelta(days=-1)), "every"), id="schedule-every-negative-timedelta"),
    pytest.param(V(lambda lg: daily(lg, every="100000 years"), "every"), id="schedule-every-past-all-times"),
    # ---- schedule_grant: amounts ------------------------------------------------------------------
    pytest.param(V(lambda lg: daily(lg, -1), "amount"), id="schedule-amount-negative"),
    pytest.param(V(lambda lg: daily(lg, "1.5"), "amount", mentions=("1.5",)), id="schedule-amount-credits-1.5"),
    pytest.param(V(lambda lg: daily(lg, "0.001", unit="usd"), "amount"), id="schedule-amount-usd-0.001"),
    pytest.param(V(lambda lg: daily(lg, 1.0), "amount"), id="schedule-amount-float"),
    pytest.param(V(lambda lg: daily(lg, True), "amount"), id="schedule-amount-bool"),
    pytest.param(V(lambda lg: daily(lg, 2**63), "amount"), id="schedule-amount-2**63"),
    pytest.param(V(lambda lg: daily(lg, first_amount=-1), "first_amount"), id="schedule-first-amount-negative"),
    pytest.param(
        V(lambda lg: daily(lg, "1.00", unit="usd", first_amount="0.001"), "first_amount"),
        id="schedule-first-amount-usd-0.001",
    ),
    pytest.param(V(lambda lg: daily(lg, rollover_max=-1), "rollover_max"), id="schedule-rollover-max-negative"),
    pytest.param(V(lambda lg: daily(lg, rollover_max=2**63), "rollover_max"), id="schedule-rollover-max-2**63"),
    pytest.param(V(lambda lg: daily(lg, rollover_min="1.5"), "rollover_min"), id="schedule-rollover-min-credits-1.5"),
    pytest.param(V(lambda lg: daily(lg, rollover_min=-2), "rollover_min"), id="schedule-rollover-min-negative"),
    pytest.param(
        V(
            lambda lg: daily(lg, 0, schedule_id="s_new", idempotency_key="k-new"),
            "amount",
            mentions=("first_amount", "rollover_min"),
            retry=lambda lg: daily(lg, 0, first_amount=5, schedule_id="s_new", idempotency_key="k-new"),
        ),
        id="schedule-all-zero",
    ),
    pytest.param(
        V(lambda lg: daily(lg, 0, first_amount=0, rollover_min=0, rollover_max=5), "amount"),
        id="schedule-all-zero-with-a-rollover-max",
    ),
    # ---- schedule_grant: times -----------------------------------------------------------------------
    pytest.param(
        V(
            lambda lg: daily(lg, start=T0 - HOUR, schedule_id="s_new"),
            "start",
            retry=lambda lg: daily(lg, start=T0 + DAY, schedule_id="s_new"),
        ),
        id="schedule-start-before-at",
    ),
    pytest.param(
        V(lambda lg: daily(lg, start=T0 - 2 * HOUR, at=T0 - HOUR), "start"), id="schedule-start-before-explicit-at"
    ),
    pytest.param(
        V(lambda lg: daily(lg, start=T0 + DAY, until=T0 + DAY), "until", mentions=("until", "start")),
        id="schedule-until-equals-start",
    ),
    pytest.param(V(lambda lg: daily(lg, start=T0 + DAY, until=T0 + HOUR), "until"), id="schedule-until-before-start"),
    pytest.param(V(lambda lg: daily(lg, until=T0), "until"), id="schedule-until-equals-default-start"),
    pytest.param(
        V(lambda lg: daily(lg, anchor=T0 + 2 * DAY, until=T0 + DAY), "until"), id="schedule-until-before-anchor-start"
    ),
    pytest.param(V(lambda lg: daily(lg, anchor=NAIVE), "anchor"), id="schedule-naive-anchor"),
    pytest.param(V(lambda lg: daily(lg, start=NAIVE + DAY), "start"), id="schedule-naive-start"),
    pytest.param(V(lambda lg: daily(lg, until=NAIVE + DAY), "until"), id="schedule-naive-until"),
    pytest.param(V(lambda lg: daily(lg, at=NAIVE), "at"), id="schedule-naive-at"),
    pytest.param(V(lambda lg: daily(lg, anchor="2026-03-01T00:00:00+00:00"), "anchor"), id="schedule-str-anchor"),
    pytest.param(V(lambda lg: daily(lg, until="2026-04-01"), "until"), id="schedule-str-until"),
    pytest.param(V(lambda lg: daily(lg, anchor=datetime(1, 1, 1, tzinfo=UTC)), "anchor"), id="schedule-anchor-year-1"),
    pytest.param(
        V(lambda lg: daily(lg, timezone="Mars/Olympus"), "timezone", mentions=("Mars/Olympus",)),
        id="schedule-unknown-timezone",
    ),
    pytest.param(V(lambda lg: daily(lg, timezone=""), "timezone"), id="schedule-empty-timezone"),
    pytest.param(V(lambda lg: daily(lg, timezone=1), "timezone"), id="schedule-int-timezone"),
    # ---- schedule_grant: the rest as grant -----------------------------------------------------------
    pytest.param(V(lambda lg: daily(lg, priority=1001), "priority"), id="schedule-priority-1001"),
    pytest.param(V(lambda lg: daily(lg, priority=-1), "priority"), id="schedule-priority-minus-1"),
    pytest.param(V(lambda lg: daily(lg, priority=True), "priority"), id="schedule-priority-bool"),
    pytest.param(V(lambda lg: daily(lg, priority="5"), "priority"), id="schedule-priority-str"),
    pytest.param(V(lambda lg: daily(lg, category="gift"), "category"), id="schedule-category-unknown"),
    pytest.param(V(lambda lg: daily(lg, category=None), "category"), id="schedule-category-none"),
    pytest.param(V(lambda lg: daily(lg, scope=set()), "scope"), id="schedule-scope-empty"),
    pytest.param(V(lambda lg: daily(lg, scope=[""]), "scope"), id="schedule-scope-empty-name"),
    pytest.param(V(lambda lg: daily(lg, scope={"trip": 1}), "scope"), id="schedule-scope-a-dict"),
    pytest.param(V(lambda lg: daily(lg, scope=5), "scope"), id="schedule-scope-int"),
    pytest.param(V(lambda lg: daily(lg, metadata={"a": 1}), "metadata"), id="schedule-metadata-int-value"),
    pytest.param(V(lambda lg: daily(lg, metadata="a=b"), "metadata"), id="schedule-metadata-str"),
    pytest.param(
        V(lambda lg: daily(lg, metadata={f"k{i}": "v" for i in range(65)}), "metadata"), id="schedule-metadata-65-keys"
    ),
    pytest.param(V(lambda lg: daily(lg, description="d" * 2001), "description"), id="schedule-description-2001"),
    pytest.param(V(lambda lg: daily(lg, description=7), "description"), id="schedule-description-int"),
    pytest.param(V(lambda lg: daily(lg, cost_basis=-1), "cost_basis"), id="schedule-cost-basis-negative"),
    pytest.param(V(lambda lg: daily(lg, single_use=1), "single_use"), id="schedule-single-use-int"),
    pytest.param(V(lambda lg: daily(lg, settle_debt="yes"), "settle_debt"), id="schedule-settle-debt-str"),
    pytest.param(V(lambda lg: daily(lg, unit="eur"), "unit", mentions=("eur",)), id="schedule-unknown-unit"),
    pytest.param(V(lambda lg: lg.schedule_grant("", 1, every="1 day"), "customer"), id="schedule-empty-customer"),
    # ---- schedule_grant: ids and keys ------------------------------------------------------------------
    pytest.param(V(lambda lg: daily(lg, schedule_id=""), "schedule_id"), id="schedule-id-empty"),
    pytest.param(V(lambda lg: daily(lg, schedule_id=5), "schedule_id"), id="schedule-id-int"),
    pytest.param(V(lambda lg: daily(lg, schedule_id=LONG), "schedule_id"), id="schedule-id-201-chars"),
    pytest.param(V(lambda lg: daily(lg, idempotency_key=""), "idempotency_key"), id="schedule-key-empty"),
    pytest.param(
        Bad(lambda lg: monthly(lg, 11), IdempotencyConflict, "amount", mentions=("s_monthly",)),
        id="schedule-id-other-amount",
    ),
    pytest.param(
        Bad(lambda lg: monthly(lg, every="2 months"), IdempotencyConflict, "every"), id="schedule-id-other-every"
    ),
    pytest.param(
        Bad(lambda lg: monthly(lg, 11, priority=5), IdempotencyConflict, "amount"),
        id="schedule-id-names-the-first-difference",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.schedule_grant("bob", 10, every="1 month", schedule_id="s_monthly"),
            IdempotencyConflict,
            "customer",
        ),
        id="schedule-id-of-another-customer",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.schedule_grant("ada", 5, every="1 week", schedule_id="s_ended"), IdempotencyConflict, "every"
        ),
        id="schedule-id-of-an-ended-schedule",
    ),
    pytest.param(
        Bad(
            lambda lg: monthly(lg, every="1 week", schedule_id=None, idempotency_key="k-s"),
            IdempotencyConflict,
            "every",
        ),
        id="schedule-key-other-every",
    ),
    pytest.param(
        Bad(
            lambda lg: monthly(lg, schedule_id=None, idempotency_key="g1"),
            IdempotencyConflict,
            "operation",
            mentions=("g1",),
        ),
        id="schedule-key-of-a-grant",
    ),
    pytest.param(
        Bad(lambda lg: monthly(lg, schedule_id="s_other", idempotency_key="k-s"), IdempotencyConflict, "schedule_id"),
        id="schedule-key-other-schedule-id",
    ),
    # ---- schedule_grant: time order (SPEC §13) -------------------------------------------------------
    pytest.param(
        V(
            lambda lg: daily(lg, schedule_id="s_new", idempotency_key="k-new", at=FUTURE),
            "at",
            mentions=TOO_FAR,
            retry=lambda lg: daily(lg, schedule_id="s_new", idempotency_key="k-new"),
        ),
        id="schedule-at-past-the-tolerance",
    ),
    pytest.param(
        V(
            lambda lg: daily(lg, schedule_id="s_new", at=EARLY),
            "at",
            mentions=ADA_BEFORE,
            retry=lambda lg: daily(lg, schedule_id="s_new"),
        ),
        id="schedule-at-before-last-write",
    ),
    pytest.param(
        V(lambda lg: lg.schedule_grant("bob", 1, every="1 day", at=BOB_BETWEEN), "at", mentions=BOB_BEFORE),
        id="schedule-at-before-a-setting-change",
    ),
    # ---- schedule_grant: check order (SPEC §3, §20: arguments, key, time, state) ----------------------
    pytest.param(
        V(lambda lg: daily(lg, every="1 fortnight", at=EARLY), "every"), id="schedule-bad-every-before-past-at"
    ),
    pytest.param(V(lambda lg: daily(lg, -1, at=T0 + DAY), "amount"), id="schedule-bad-amount-before-future-at"),
    pytest.param(V(lambda lg: monthly(lg, every="1 fortnight"), "every"), id="schedule-bad-every-before-known-id"),
    pytest.param(
        Bad(lambda lg: monthly(lg, 11, at=EARLY), IdempotencyConflict, "amount"), id="schedule-id-before-past-at"
    ),
    pytest.param(
        Bad(lambda lg: monthly(lg, 12, at=T0 + DAY), IdempotencyConflict, "amount"), id="schedule-id-before-future-at"
    ),
    # `start` against `at` waits until after the key and the time (as a grant's expiry against
    # `at`), so a retry of a schedule that succeeded replays whenever it comes
    pytest.param(
        V(lambda lg: daily(lg, start=EARLY - HOUR, at=EARLY), "at", mentions=ADA_BEFORE),
        id="schedule-past-at-before-start-against-it",
    ),
    pytest.param(
        Bad(lambda lg: monthly(lg, start=T0 - HOUR), IdempotencyConflict, "start"),
        id="schedule-id-before-start-against-at",
    ),
    # ---- get_schedule, schedules --------------------------------------------------------------------
    pytest.param(Bad(lambda lg: lg.get_schedule("s_nope"), NotFound, mentions=("s_nope",)), id="get-schedule-unknown"),
    pytest.param(
        Bad(lambda lg: lg.get_schedule("s_monthly", at=T0 - 11 * DAY), NotFound, mentions=("s_monthly",)),
        id="get-schedule-before-it-was-made",
    ),
    pytest.param(V(lambda lg: lg.get_schedule(""), "schedule_id"), id="get-schedule-empty-id"),
    pytest.param(V(lambda lg: lg.get_schedule(5), "schedule_id"), id="get-schedule-int-id"),
    pytest.param(V(lambda lg: lg.get_schedule(LONG), "schedule_id"), id="get-schedule-201-char-id"),
    pytest.param(V(lambda lg: lg.get_schedule("s_monthly", at=NAIVE), "at"), id="get-schedule-naive-at"),
    pytest.param(V(lambda lg: lg.schedules(""), "customer"), id="schedules-empty-customer"),
    pytest.param(V(lambda lg: lg.schedules(None), "customer"), id="schedules-none-customer"),
    pytest.param(V(lambda lg: lg.schedules("ada", at=NAIVE), "at"), id="schedules-naive-at"),
    # ---- cancel_schedule ---------------------------------------------------------------------------------
    pytest.param(
        Bad(lambda lg: lg.cancel_schedule("s_nope"), NotFound, mentions=("s_nope",)), id="cancel-unknown-schedule"
    ),
    pytest.param(
        Bad(lambda lg: lg.cancel_schedule("s_ended"), Conflict, mentions=("s_ended", "ended")),
        id="cancel-schedule-ended-by-until",
    ),
    pytest.param(
        Bad(lambda lg: lg.cancel_schedule("s_lapsing"), Conflict, mentions=("s_lapsing",)),
        id="cancel-schedule-ended-by-until-not-yet-recorded",
    ),
    pytest.param(V(lambda lg: lg.cancel_schedule(""), "schedule_id"), id="cancel-empty-id"),
    pytest.param(V(lambda lg: lg.cancel_schedule(5), "schedule_id"), id="cancel-int-id"),
    pytest.param(V(lambda lg: lg.cancel_schedule("s_monthly", at=NAIVE), "at"), id="cancel-naive-at"),
    pytest.param(
        V(
            lambda lg: lg.cancel_schedule("s_monthly", at=FUTURE),
            "at",
            mentions=TOO_FAR,
            retry=lambda lg: lg.cancel_schedule("s_monthly"),
        ),
        id="cancel-at-past-the-tolerance",
    ),
    pytest.param(
        V(
            lambda lg: lg.cancel_schedule("s_monthly", at=EARLY),
            "at",
            mentions=ADA_BEFORE,
            retry=lambda lg: lg.cancel_schedule("s_monthly"),
        ),
        id="cancel-at-before-last-write",
    ),
    pytest.param(V(lambda lg: lg.cancel_schedule("s_ended", at=EARLY), "at"), id="cancel-ended-past-at-names-the-time"),
    pytest.param(
        V(lambda lg: lg.cancel_schedule("s_lapsing", at=BOB_BETWEEN), "at", mentions=BOB_BEFORE),
        id="cancel-at-before-a-setting-change",
    ),
    # ---- set_top_up ----------------------------------------------------------------------------------------
    pytest.param(
        V(lambda lg: top_up(lg, amount=None), "amount", mentions=("amount", "target")),
        id="top-up-neither-amount-nor-target",
    ),
    pytest.param(
        V(lambda lg: top_up(lg, target=50), "amount", mentions=("amount", "target")), id="top-up-both-amount-and-target"
    ),
    pytest.param(
        V(lambda lg: top_up(lg, amount=None, target=10), "target", mentions=("threshold",)),
        id="top-up-target-equals-threshold",
    ),
    pytest.param(V(lambda lg: top_up(lg, amount=None, target=-5), "target"), id="top-up-target-below-threshold"),
    pytest.param(V(lambda lg: top_up(lg, amount=None, target="20.5"), "target"), id="top-up-target-credits-20.5"),
    pytest.param(V(lambda lg: top_up(lg, threshold="1.5"), "threshold"), id="top-up-threshold-credits-1.5"),
    pytest.param(V(lambda lg: top_up(lg, unit="usd", threshold="0.001"), "threshold"), id="top-up-threshold-usd-0.001"),
    pytest.param(V(lambda lg: top_up(lg, threshold=1.0), "threshold"), id="top-up-threshold-float"),
    pytest.param(V(lambda lg: top_up(lg, threshold=None), "threshold"), id="top-up-threshold-none"),
    pytest.param(V(lambda lg: top_up(lg, threshold="abc"), "threshold"), id="top-up-threshold-abc"),
    pytest.param(V(lambda lg: top_up(lg, threshold=-(2**63)), "threshold"), id="top-up-threshold-minus-2**63"),
    pytest.param(V(lambda lg: top_up(lg, amount=0), "amount"), id="top-up-amount-zero"),
    pytest.param(V(lambda lg: top_up(lg, amount=-5), "amount"), id="top-up-amount-negative"),
    pytest.param(V(lambda lg: top_up(lg, unit="usd", amount="0.001"), "amount"), id="top-up-amount-usd-0.001"),
    pytest.param(V(lambda lg: top_up(lg, amount=2**63), "amount"), id="top-up-amount-2**63"),
    pytest.param(V(lambda lg: top_up(lg, expires_after="0 days"), "expires_after"), id="top-up-expires-after-0-days"),
    pytest.param(
        V(lambda lg: top_up(lg, expires_after="1 fortnight"), "expires_after"), id="top-up-expires-after-fortnight"
    ),
    pytest.param(
        V(lambda lg: top_up(lg, expires_after=timedelta(seconds=30)), "expires_after", mentions=("one minute",)),
        id="top-up-expires-after-30-seconds",
    ),
    pytest.param(V(lambda lg: top_up(lg, expires_after=30), "expires_after"), id="top-up-expires-after-int"),
    pytest.param(V(lambda lg: top_up(lg, unit="eur"), "unit", mentions=("eur",)), id="top-up-unknown-unit"),
    pytest.param(V(lambda lg: top_up(lg, unit=""), "unit"), id="top-up-empty-unit"),
    pytest.param(V(lambda lg: top_up(lg, category="gift"), "category"), id="top-up-category-unknown"),
    pytest.param(V(lambda lg: top_up(lg, priority=-1), "priority"), id="top-up-priority-minus-1"),
    pytest.param(V(lambda lg: top_up(lg, cost_basis="x"), "cost_basis"), id="top-up-cost-basis-abc"),
    pytest.param(
        V(lambda lg: lg.set_top_up("", unit="credits", threshold=10, amount=5), "customer"), id="top-up-empty-customer"
    ),
    pytest.param(V(lambda lg: top_up(lg, at=NAIVE), "at"), id="top-up-naive-at"),
    pytest.param(V(lambda lg: top_up(lg, at=FUTURE), "at", mentions=TOO_FAR), id="top-up-at-past-the-tolerance"),
    pytest.param(V(lambda lg: top_up(lg, at=EARLY), "at", mentions=ADA_BEFORE), id="top-up-at-before-last-write"),
    pytest.param(
        V(
            lambda lg: lg.set_top_up("bob", unit="credits", threshold=1, amount=10, at=BOB_BETWEEN),
            "at",
            mentions=BOB_BEFORE,
        ),
        id="top-up-at-before-a-setting-change",
    ),
    pytest.param(V(lambda lg: top_up(lg, amount=None, at=EARLY), "amount"), id="top-up-bad-arguments-before-past-at"),
    pytest.param(
        V(lambda lg: top_up(lg, expires_after="1 fortnight", at=T0 + DAY), "expires_after"),
        id="top-up-bad-expiry-before-future-at",
    ),
    # ---- get_top_up, remove_top_up ---------------------------------------------------------------------
    pytest.param(
        Bad(lambda lg: lg.get_top_up("ada", unit="credits"), NotFound, mentions=("ada", "credits")),
        id="get-top-up-none-set",
    ),
    pytest.param(
        Bad(lambda lg: lg.get_top_up("zed", unit="usd"), NotFound, mentions=("zed", "usd")),
        id="get-top-up-unknown-customer",
    ),
    pytest.param(
        Bad(lambda lg: lg.get_top_up("ada", unit="usd", at=T0 - 7 * DAY), NotFound, mentions=("usd",)),
        id="get-top-up-before-it-was-set",
    ),
    pytest.param(V(lambda lg: lg.get_top_up("ada", unit="eur"), "unit"), id="get-top-up-unknown-unit"),
    pytest.param(V(lambda lg: lg.get_top_up("ada", unit=5), "unit"), id="get-top-up-int-unit"),
    pytest.param(V(lambda lg: lg.get_top_up("", unit="usd"), "customer"), id="get-top-up-empty-customer"),
    pytest.param(V(lambda lg: lg.get_top_up("ada", unit="usd", at=NAIVE), "at"), id="get-top-up-naive-at"),
    pytest.param(V(lambda lg: lg.remove_top_up("ada", unit="eur"), "unit"), id="remove-top-up-unknown-unit"),
    pytest.param(V(lambda lg: lg.remove_top_up("", unit="usd"), "customer"), id="remove-top-up-empty-customer"),
    pytest.param(V(lambda lg: lg.remove_top_up("ada", unit="usd", at=NAIVE), "at"), id="remove-top-up-naive-at"),
    pytest.param(
        V(lambda lg: lg.remove_top_up("ada", unit="usd", at=FUTURE), "at", mentions=TOO_FAR),
        id="remove-top-up-at-past-the-tolerance",
    ),
    pytest.param(
        V(lambda lg: lg.remove_top_up("ada", unit="usd", at=EARLY), "at", mentions=ADA_BEFORE),
        id="remove-top-up-at-before-last-write",
    ),
    pytest.param(
        V(lambda lg: lg.remove_top_up("bob", unit="credits", at=BOB_BETWEEN), "at", mentions=BOB_BEFORE),
        id="remove-top-up-at-before-a-setting-change",
    ),
    # ---- add_alert: arguments ---------------------------------------------------------------------------
    pytest.param(V(lambda lg: alert(lg, "low"), "kind", mentions=("low",)), id="alert-unknown-kind"),
    pytest.param(V(lambda lg: alert(lg, "Depleted"), "kind"), id="alert-kind-case"),
    pytest.param(V(lambda lg: alert(lg, None), "kind"), id="alert-kind-none"),
    pytest.param(
        V(
            lambda lg: alert(lg, "dropped", alert_id="a_new"),
            "thresholds",
            mentions=("20",),
            retry=lambda lg: alert(lg, "dropped", thresholds=(5,), alert_id="a_new"),
        ),
        id="alert-dropped-without-thresholds",
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=range(21)), "thresholds", mentions=("20",)),
        id="alert-dropped-21-thresholds",
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=(5, 5)), "thresholds", mentions=("distinct",)),
        id="alert-dropped-duplicate-thresholds",
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", unit="usd", thresholds=("5", "5.00")), "thresholds"),
        id="alert-dropped-thresholds-equal-by-value",
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=("1.5",)), "thresholds"), id="alert-dropped-threshold-credits-1.5"
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=(1.0,)), "thresholds"), id="alert-dropped-threshold-float"
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=("NaN",)), "thresholds"), id="alert-dropped-threshold-nan"
    ),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds=(2**63,)), "thresholds"), id="alert-dropped-threshold-2**63"
    ),
    pytest.param(
        V(lambda lg: alert(lg, "depleted", thresholds=(5,)), "thresholds"), id="alert-depleted-with-thresholds"
    ),
    pytest.param(
        V(lambda lg: alert(lg, "recovered", thresholds=[1]), "thresholds"), id="alert-recovered-with-thresholds"
    ),
    pytest.param(V(lambda lg: alert(lg, "dropped", thresholds=5), "thresholds"), id="alert-thresholds-an-int"),
    pytest.param(V(lambda lg: alert(lg, "dropped", thresholds="5"), "thresholds"), id="alert-thresholds-a-str"),
    pytest.param(V(lambda lg: alert(lg, "dropped", thresholds=None), "thresholds"), id="alert-thresholds-none"),
    pytest.param(
        V(lambda lg: alert(lg, "dropped", thresholds={5: "five"}), "thresholds"),
        id="alert-thresholds-a-dict",
    ),
    pytest.param(V(lambda lg: alert(lg, unit="eur"), "unit", mentions=("eur",)), id="alert-unknown-unit"),
    pytest.param(V(lambda lg: alert(lg, alert_id=""), "alert_id"), id="alert-id-empty"),
    pytest.param(V(lambda lg: alert(lg, alert_id=5), "alert_id"), id="alert-id-int"),
    pytest.param(V(lambda lg: alert(lg, alert_id=LONG), "alert_id"), id="alert-id-201-chars"),
    pytest.param(
        V(lambda lg: lg.add_alert("", unit="credits", kind="depleted"), "customer"), id="alert-empty-customer"
    ),
    # ---- add_alert: ids, state, time ----------------------------------------------------------------------
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="depleted", alert_id="a_new"),
            Conflict,
            mentions=("depleted", "a_depleted"),
            retry=lambda lg: lg.add_alert("ada", unit="usd", kind="depleted", alert_id="a_new"),
        ),
        id="alert-second-of-a-kind",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="dropped", thresholds=(1,)),
            Conflict,
            mentions=("a_dropped",),
        ),
        id="alert-second-dropped",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="recovered", alert_id="a_depleted"),
            IdempotencyConflict,
            "kind",
            mentions=("a_depleted",),
        ),
        id="alert-id-other-kind",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="dropped", thresholds=(50, 44), alert_id="a_dropped"),
            IdempotencyConflict,
            "thresholds",
        ),
        id="alert-id-other-thresholds",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("bob", unit="credits", kind="depleted", alert_id="a_depleted"),
            IdempotencyConflict,
            "customer",
        ),
        id="alert-id-of-another-customer",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="usd", kind="depleted", alert_id="a_depleted"),
            IdempotencyConflict,
            "unit",
        ),
        id="alert-id-other-unit",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="usd", kind="recovered", alert_id="a_removed"),
            IdempotencyConflict,
            "unit",
        ),
        id="alert-id-of-a-removed-alert",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="dropped", thresholds=(1,), alert_id="a_depleted"),
            IdempotencyConflict,
            "kind",
        ),
        id="alert-id-before-second-of-a-kind",
    ),
    pytest.param(V(lambda lg: alert(lg, at=NAIVE), "at"), id="alert-naive-at"),
    pytest.param(
        V(
            lambda lg: alert(lg, alert_id="a_new", at=FUTURE),
            "at",
            mentions=TOO_FAR,
            retry=lambda lg: alert(lg, alert_id="a_new"),
        ),
        id="alert-at-past-the-tolerance",
    ),
    pytest.param(
        V(
            lambda lg: lg.add_alert("ada", unit="usd", kind="depleted", alert_id="a_new", at=EARLY),
            "at",
            mentions=ADA_BEFORE,
            retry=lambda lg: lg.add_alert("ada", unit="usd", kind="depleted", alert_id="a_new"),
        ),
        id="alert-at-before-last-write",
    ),
    pytest.param(
        V(lambda lg: lg.add_alert("bob", unit="usd", kind="depleted", at=BOB_BETWEEN), "at", mentions=BOB_BEFORE),
        id="alert-at-before-a-setting-change",
    ),
    pytest.param(
        V(lambda lg: lg.add_alert("bob", unit="usd", kind="depleted", at=BOB_BETWEEN), "at", mentions=("last write",)),
        id="alert-at-before-a-setting-change-says-last-write",
    ),
    pytest.param(V(lambda lg: alert(lg, "low", at=EARLY), "kind"), id="alert-bad-kind-before-past-at"),
    pytest.param(
        V(lambda lg: lg.add_alert("ada", unit="credits", kind="low", alert_id="a_depleted"), "kind"),
        id="alert-bad-kind-before-known-id",
    ),
    pytest.param(
        V(lambda lg: lg.add_alert("ada", unit="credits", kind="dropped", alert_id="a_depleted"), "thresholds"),
        id="alert-missing-thresholds-before-known-id",
    ),
    pytest.param(
        Bad(
            lambda lg: lg.add_alert("ada", unit="credits", kind="recovered", alert_id="a_depleted", at=T0 + DAY),
            IdempotencyConflict,
            "kind",
        ),
        id="alert-id-before-future-at",
    ),
    pytest.param(
        V(lambda lg: lg.add_alert("ada", unit="credits", kind="depleted", at=EARLY), "at"),
        id="alert-past-at-before-second-of-a-kind",
    ),
    # ---- remove_alert, alerts -------------------------------------------------------------------------------
    pytest.param(Bad(lambda lg: lg.remove_alert("a_nope"), NotFound, mentions=("a_nope",)), id="remove-alert-unknown"),
    pytest.param(V(lambda lg: lg.remove_alert(""), "alert_id"), id="remove-alert-empty-id"),
    pytest.param(V(lambda lg: lg.remove_alert(5), "alert_id"), id="remove-alert-int-id"),
    pytest.param(V(lambda lg: lg.remove_alert("a_depleted", at=NAIVE), "at"), id="remove-alert-naive-at"),
    pytest.param(
        V(lambda lg: lg.remove_alert("a_depleted", at=FUTURE), "at", mentions=TOO_FAR),
        id="remove-alert-at-past-the-tolerance",
    ),
    pytest.param(
        V(lambda lg: lg.remove_alert("a_depleted", at=EARLY), "at", mentions=ADA_BEFORE),
        id="remove-alert-at-before-last-write",
    ),
    pytest.param(
        V(lambda lg: lg.remove_alert("a_bob", at=BOB_BETWEEN), "at", mentions=BOB_BEFORE),
        id="remove-alert-at-before-a-setting-change",
    ),
    pytest.param(V(lambda lg: lg.alerts(""), "customer"), id="alerts-empty-customer"),
    pytest.param(V(lambda lg: lg.alerts(5), "customer"), id="alerts-int-customer"),
    pytest.param(V(lambda lg: lg.alerts("ada", at=NAIVE), "at"), id="alerts-naive-at"),
    # ---- events --------------------------------------------------------------------------------------------
    pytest.param(V(lambda lg: lg.events(limit=0), "limit"), id="events-limit-0"),
    pytest.param(V(lambda lg: lg.events(limit=10_001), "limit"), id="events-limit-10001"),
    pytest.param(V(lambda lg: lg.events(limit=-1), "limit"), id="events-limit-negative"),
    pytest.param(V(lambda lg: lg.events(limit=True), "limit"), id="events-limit-bool"),
    pytest.param(V(lambda lg: lg.events(limit=5.0), "limit"), id="events-limit-float"),
    pytest.param(V(lambda lg: lg.events(limit="5"), "limit"), id="events-limit-str"),
    pytest.param(V(lambda lg: lg.events(limit=None), "limit"), id="events-limit-none"),
    pytest.param(V(lambda lg: lg.events(after="garbage"), "after", mentions=("events()",)), id="events-cursor-garbage"),
    pytest.param(V(lambda lg: lg.events(after=""), "after"), id="events-cursor-empty"),
    pytest.param(V(lambda lg: lg.events(after="!!!"), "after"), id="events-cursor-not-base64"),
    pytest.param(V(lambda lg: lg.events(after=5), "after"), id="events-cursor-int"),
    pytest.param(
        V(lambda lg: lg.events(after=cursor("creditcore-events:-1")), "after"), id="events-cursor-negative-seq"
    ),
    pytest.param(
        V(lambda lg: lg.events(after=lg.entries(limit=1).next_cursor), "after"), id="events-cursor-of-entries"
    ),
    pytest.param(
        V(lambda lg: lg.events(after=lg.customers(limit=1).next_cursor), "after"), id="events-cursor-of-customers"
    ),
    pytest.param(V(lambda lg: lg.events(customer=""), "customer"), id="events-empty-customer"),
    pytest.param(V(lambda lg: lg.events(customer=5), "customer"), id="events-int-customer"),
    pytest.param(V(lambda lg: lg.events(customer=LONG), "customer"), id="events-201-char-customer"),
]


@pytest.mark.parametrize("row", ROWS)
def test_bad_setting(row: Bad) -> None:
    ledger = build()
    before = snapshot(ledger)

    with pytest.raises(row.error) as caught:
        row.call(ledger)

    refusals.check_refusal(caught.value, refusals.fields_of(row.field), row.mentions)

    # nothing written: no entry, block, profile, setting, schedule, alert, event or key
    refusals.assert_unchanged(before, snapshot(ledger))
    assert ledger.verify().ok

    if row.retry is None:
        # no customer's history moved: a write dated at its last write still goes through
        for customer, last in LAST_WRITE.items():
            ledger.add_alert(customer, unit="usd", kind="recovered", at=last)
        return

    # a failed call records no key: the corrected call with the same key goes through
    result = row.retry(ledger)
    if isinstance(result, Result):
        assert result.replayed is False
    assert snapshot(ledger) != before


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 45
    prefixes = {
        "schedule_grant": "schedule-", "get_schedule": "get-schedule-", "schedules": "schedules-",
        "cancel_schedule": "cancel-", "set_top_up": "top-up-", "get_top_up": "get-top-up-",
        "remove_top_up": "remove-top-up-", "add_alert": "alert-", "remove_alert": "remove-alert-",
        "alerts": "alerts-", "events": "events-",
    }  # fmt: skip
    for method, prefix in prefixes.items():
        assert any(row.id.startswith(prefix) for row in ROWS), f"no row for {method}"


def test_replays_and_repeats_are_not_errors() -> None:
    """The counterparts of the id and time rows: a call that changes nothing is no write, so it
    is not refused for its time (SPEC §6, §13, §17-§19) and leaves everything as it was."""
    lg = build()
    before = snapshot(lg)
    for at in (EARLY, T0 + DAY):
        assert monthly(lg, idempotency_key="k-s", at=at).replayed is True
        assert lg.cancel_schedule("s_cancelled", at=at).replayed is True
        assert lg.add_alert("ada", unit="credits", kind="depleted", alert_id="a_depleted", at=at).id == "a_depleted"
        assert lg.remove_alert("a_removed", at=at).removed_at == T0 - 5 * DAY
        assert lg.set_top_up("ada", unit="usd", threshold="5", amount="20", at=at).updated_at == T0 - 6 * DAY
        assert lg.remove_top_up("ada", unit="credits", at=at) is None
    assert snapshot(lg) == before

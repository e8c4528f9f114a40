"""billing.vouchers (SPEC_BILLING B5) on every adapter: a voucher reads back exactly, its
status follows the read's ``at``, ``voucher_id`` replays or conflicts, ``void`` moves only
upcoming and active vouchers, bad input is refused naming its field with nothing written,
vouchers are never credit; and the helpers the charges and invoices use: ``eligible``
(the order of B5), ``consume`` and ``restore``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from creditcore import Conflict, IdempotencyConflict, Ledger, NotFound, ValidationError
from creditcore.billing.model import Voucher
from creditcore.billing.vouchers import Vouchers, consume, eligible, live, restore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FAR = T0 + 10_000 * DAY


@pytest.fixture
def vouchers(ledger: Ledger) -> Vouchers:
    return Vouchers(ledger._ctx, "UTC")


def _stored(vouchers: Vouchers, ledger: Ledger) -> tuple[object, ...]:
    """Everything readable that a voucher call could write: the vouchers of the customers
    the tests use (each as at several times), and everything the ledger shows."""
    found = tuple(
        tuple(vouchers.list(who, include_inactive=True, at=when))
        for who in ("ada", "bob", "x" * 200)
        for when in (T0 - DAY, T0, T0 + 5 * HOUR, FAR)
    )
    return (
        found,
        tuple(ledger.entries(limit=10_000).items),
        tuple(ledger.customers(limit=10_000).items),
        ledger.balance("ada", at=T0),
    )


def test_a_voucher_reads_back_exactly(vouchers: Vouchers) -> None:
    made = vouchers.create(
        "ada", "12.50", scope={"meter:calls", "product:p1"}, valid_until=T0 + 30 * DAY, single_use=True,
        voucher_id="v1", description="welcome", metadata={"origin_id": "42"}, at=T0,
    )  # fmt: skip
    assert made == Voucher(
        id="v1", customer="ada", percent=Decimal("12.5"), scope=frozenset({"meter:calls", "product:p1"}),
        valid_from=T0, valid_until=T0 + 30 * DAY, single_use=True, status="active", used_at=None, used_by=None,
        voided_at=None, description="welcome", metadata={"origin_id": "42"}, created_at=T0,
    )  # fmt: skip
    assert vouchers.get("v1", at=T0) == made
    assert vouchers.get("v1") == made  # the clock stands at T0
    assert vouchers.list("ada") == [made]
    assert vouchers.list("bob") == []
    plain = vouchers.create("ada", 100, at=T0 + HOUR)
    assert plain.id.startswith("vch_")
    assert (plain.percent, plain.scope, plain.valid_from, plain.valid_until) == (Decimal(100), None, T0 + HOUR, None)
    assert (plain.single_use, plain.description, plain.metadata, plain.created_at) == (False, None, {}, T0 + HOUR)
    assert vouchers.list("ada", at=T0 + HOUR) == [made, plain]
    with pytest.raises(NotFound):
        vouchers.get("nope")


def test_a_str_scope_is_one_scope(vouchers: Vouchers) -> None:
    made = vouchers.create("ada", 5, scope="realm:F/usage:trip", at=T0)
    assert made.scope == frozenset({"realm:F/usage:trip"})
    assert vouchers.get(made.id).scope == frozenset({"realm:F/usage:trip"})


def test_the_status_follows_the_read_time(vouchers: Vouchers) -> None:
    made = vouchers.create("ada", 10, valid_from=T0 + DAY, valid_until=T0 + 3 * DAY, voucher_id="v", at=T0)
    assert made.status == "upcoming"

    def status(at: datetime) -> str:
        return vouchers.get("v", at=at).status

    assert status(T0) == "upcoming"
    assert status(T0 + DAY - timedelta(microseconds=1)) == "upcoming"
    assert status(T0 + DAY) == "active"  # valid_from is in
    assert status(T0 + 3 * DAY - timedelta(microseconds=1)) == "active"
    assert status(T0 + 3 * DAY) == "expired"  # valid_until is out
    assert status(FAR) == "expired"
    # the default read time is the clock, never before the voucher's last change
    assert vouchers.get("v").status == "upcoming"
    # a time before it was made: it did not exist
    with pytest.raises(NotFound):
        vouchers.get("v", at=T0 - timedelta(microseconds=1))
    assert vouchers.list("ada", include_inactive=True, at=T0 - HOUR) == []


def test_a_voucher_made_ahead_of_the_clock_is_read_at_its_time(vouchers: Vouchers) -> None:
    made = vouchers.create("ada", 10, voucher_id="v", at=T0 + 5 * DAY)
    assert vouchers.get("v") == made  # the clock is at T0: read at the voucher's last change
    assert vouchers.list("ada") == [made]


def test_list_shows_the_active_ones_or_all_in_creation_order(vouchers: Vouchers) -> None:
    later = vouchers.create("ada", 10, valid_from=T0 + 10 * DAY, voucher_id="later", at=T0)
    short = vouchers.create("ada", 20, valid_until=T0 + DAY, voucher_id="short", at=T0)
    gone = vouchers.create("ada", 30, voucher_id="gone", at=T0)
    kept = vouchers.create("ada", 40, voucher_id="kept", at=T0)
    vouchers.create("bob", 50, voucher_id="bobs", at=T0)
    vouchers.void("gone", at=T0 + HOUR)
    assert [v.id for v in vouchers.list("ada", at=T0)] == ["short", "gone", "kept"]
    assert [v.id for v in vouchers.list("ada", at=T0 + 2 * HOUR)] == ["short", "kept"]
    assert [v.id for v in vouchers.list("ada", at=T0 + 2 * DAY)] == ["kept"]
    assert [v.id for v in vouchers.list("ada", at=T0 + 10 * DAY)] == ["later", "kept"]
    every = vouchers.list("ada", include_inactive=True, at=T0 + 2 * DAY)
    assert [(v.id, v.status) for v in every] == [
        ("later", "upcoming"), ("short", "expired"), ("gone", "voided"), ("kept", "active"),
    ]  # fmt: skip
    assert [v.id for v in vouchers.list("bob", at=T0)] == ["bobs"]
    assert later.status == "upcoming" and short.status == gone.status == kept.status == "active"


def test_void_moves_upcoming_and_active_vouchers_only(vouchers: Vouchers, ledger: Ledger) -> None:
    vouchers.create("ada", 10, voucher_id="active", at=T0)
    vouchers.create("ada", 10, valid_from=T0 + DAY, voucher_id="upcoming", at=T0)
    vouchers.create("ada", 10, valid_until=T0 + HOUR, voucher_id="expired", at=T0)
    vouchers.create("ada", 10, single_use=True, voucher_id="used", at=T0)
    vouchers.create("ada", 10, voucher_id="fresh", at=T0)
    with vouchers.writing() as (_uow, rows):
        consume(rows, "used", "inv_1", T0 + HOUR)

    voided = vouchers.void("active", at=T0 + 2 * HOUR)
    assert (voided.status, voided.voided_at) == ("voided", T0 + 2 * HOUR)
    assert vouchers.get("active", at=T0 + 2 * HOUR) == voided
    assert vouchers.get("active", at=T0 + HOUR).status == "active"  # before the void
    assert vouchers.get("active", at=T0 + HOUR).voided_at is None
    upcoming = vouchers.void("upcoming", at=T0 + 2 * HOUR)
    assert (upcoming.status, upcoming.voided_at) == ("voided", T0 + 2 * HOUR)
    # voided: returned unchanged, whenever
    assert vouchers.void("active", at=T0 + 5 * HOUR) == voided
    assert vouchers.void("active") == voided
    assert vouchers.get("active", at=FAR) == voided
    before = _stored(vouchers, ledger)
    with pytest.raises(Conflict):
        vouchers.void("expired", at=T0 + HOUR)  # valid_until is out
    with pytest.raises(Conflict):
        vouchers.void("used", at=T0 + 2 * HOUR)
    with pytest.raises(NotFound):
        vouchers.void("nope", at=T0 + 2 * HOUR)
    with pytest.raises(ValidationError) as early:
        vouchers.void("fresh", at=T0 - HOUR)  # before it was made
    assert early.value.field == "at"
    assert _stored(vouchers, ledger) == before
    # an expired voucher can still be voided before its end (a past at after its making)
    assert vouchers.void("expired", at=T0 + HOUR - timedelta(microseconds=1)).status == "voided"


def test_a_void_is_dated_by_the_clock_never_before_the_voucher(vouchers: Vouchers, ledger: Ledger) -> None:
    vouchers.create("ada", 10, voucher_id="ahead", at=T0 + DAY)
    vouchers.create("ada", 10, voucher_id="now", at=T0 - DAY)
    assert vouchers.void("ahead").voided_at == T0 + DAY  # the clock (T0) is behind it
    assert vouchers.void("now").voided_at == T0


def test_voucher_id_replays_and_conflicts(vouchers: Vouchers, ledger: Ledger) -> None:
    made = vouchers.create(
        "ada", "10.0", scope=["b", "a"], valid_until=T0 + DAY, voucher_id="v", description="d",
        metadata={"k": "v"}, at=T0,
    )  # fmt: skip
    # the same arguments, written otherwise, at another time: the voucher; valid_from was the
    # default, computed from at, so it is not compared (a retry replays whenever it comes)
    again = vouchers.create(
        "ada", Decimal("1E+1"), scope=("a", "b", "a"), valid_until=T0 + DAY, voucher_id="v", description="d",
        metadata={"k": "v"}, at=T0 + 2 * DAY,
    )  # fmt: skip
    assert again == vouchers.get("v", at=T0 + 2 * DAY)
    assert (again.id, again.percent, again.created_at, again.valid_from) == ("v", Decimal(10), T0, T0)
    assert again.status == "expired"
    same = {
        "customer": "ada", "percent": 10, "scope": {"a", "b"}, "valid_until": T0 + DAY, "description": "d",
        "metadata": {"k": "v"},
    }  # fmt: skip
    assert vouchers.create(**same, valid_from=T0, voucher_id="v", at=T0) == made  # type: ignore[arg-type]
    before = _stored(vouchers, ledger)
    other: object
    for field, other in [
        ("customer", "bob"), ("percent", "10.01"), ("scope", "a"), ("scope", None), ("valid_until", None),
        ("valid_from", T0 - HOUR), ("single_use", True), ("description", None), ("metadata", {}),
    ]:  # fmt: skip
        with pytest.raises(IdempotencyConflict) as conflict:
            vouchers.create(**{**same, field: other}, voucher_id="v", at=T0)  # type: ignore[arg-type]
        assert conflict.value.field == field
    assert _stored(vouchers, ledger) == before
    # a voided voucher's id replays too, showing it voided
    vouchers.void("v", at=T0 + HOUR)
    assert vouchers.create(**same, voucher_id="v", at=T0 + 3 * HOUR).status == "voided"  # type: ignore[arg-type]


def test_a_replay_comes_before_the_future_check(vouchers: Vouchers, ledger: Ledger) -> None:
    made = vouchers.create("ada", 10, voucher_id="v", at=T0)
    ledger._ctx.future_tolerance = timedelta(minutes=5)
    assert vouchers.create("ada", 10, voucher_id="v", at=T0 + DAY) == made  # replays
    before = _stored(vouchers, ledger)
    with pytest.raises(ValidationError) as refused:
        vouchers.create("ada", 10, voucher_id="w", at=T0 + DAY)
    assert refused.value.field == "at"
    with pytest.raises(ValidationError) as refused:
        vouchers.void("v", at=T0 + DAY)
    assert refused.value.field == "at"
    assert _stored(vouchers, ledger) == before
    assert vouchers.create("ada", 10, voucher_id="w", at=T0 + timedelta(minutes=5)).created_at == T0 + timedelta(
        minutes=5
    )


def test_dates_are_midnight_in_the_customer_zone(ledger: Ledger) -> None:
    berlin = Vouchers(ledger._ctx, "Europe/Berlin")
    ledger.set_customer("tokyo", timezone="Asia/Tokyo", at=T0)
    made = berlin.create("tokyo", 10, valid_from=date(2026, 1, 2), valid_until=date(2026, 1, 3), at=T0)
    assert (made.valid_from, made.valid_until) == (
        datetime(2026, 1, 1, 15, tzinfo=UTC),
        datetime(2026, 1, 2, 15, tzinfo=UTC),
    )
    other = berlin.create("ada", 10, valid_from=date(2026, 1, 2), at=T0)  # no profile: the Billing's zone
    assert other.valid_from == datetime(2026, 1, 1, 23, tzinfo=UTC)


#: One bad argument each, on top of ``create("ada", 10, at=T0)``.
BAD_VOUCHERS: list[tuple[dict[str, object], str]] = [
    ({"percent": 0}, "percent"),
    ({"percent": "0.0000"}, "percent"),
    ({"percent": -5}, "percent"),
    ({"percent": "100.0001"}, "percent"),
    ({"percent": 101}, "percent"),
    ({"percent": "12.34567"}, "percent"),  # 5 places
    ({"percent": 12.5}, "percent"),  # a float
    ({"percent": True}, "percent"),
    ({"percent": "ten"}, "percent"),
    ({"percent": "NaN"}, "percent"),
    ({"percent": None}, "percent"),
    ({"customer": ""}, "customer"),
    ({"customer": None}, "customer"),
    ({"customer": "x" * 201}, "customer"),
    ({"scope": ""}, "scope"),
    ({"scope": []}, "scope"),
    ({"scope": ["a", 5]}, "scope"),
    ({"scope": {"a": "b"}}, "scope"),
    ({"valid_from": datetime(2026, 1, 1)}, "valid_from"),  # naive
    ({"valid_from": "2026-01-01"}, "valid_from"),
    ({"valid_until": datetime(2026, 1, 2)}, "valid_until"),  # naive
    ({"valid_from": T0 + DAY, "valid_until": T0 + DAY}, "valid_until"),
    ({"valid_from": T0 + DAY, "valid_until": T0}, "valid_until"),
    ({"valid_until": T0}, "valid_until"),  # not later than the default valid_from (at)
    ({"valid_until": T0 - HOUR}, "valid_until"),
    ({"single_use": 1}, "single_use"),
    ({"single_use": None}, "single_use"),
    ({"voucher_id": ""}, "voucher_id"),
    ({"voucher_id": 7}, "voucher_id"),
    ({"voucher_id": "v" * 201}, "voucher_id"),
    ({"description": 5}, "description"),
    ({"description": "d" * 2001}, "description"),
    ({"metadata": {"a": 1}}, "metadata"),
    ({"metadata": {f"k{n}": "v" for n in range(65)}}, "metadata"),
    ({"metadata": ["a"]}, "metadata"),
    ({"at": datetime(2026, 1, 1)}, "at"),  # naive
    ({"at": "2026-01-01T00:00:00Z"}, "at"),
]


@pytest.mark.parametrize(("arguments", "field"), BAD_VOUCHERS)
def test_a_bad_voucher_is_refused_and_nothing_is_written(
    vouchers: Vouchers, ledger: Ledger, arguments: dict[str, object], field: str
) -> None:
    vouchers.create("ada", 25, voucher_id="kept", at=T0)
    ledger.grant("ada", 10, at=T0)
    given: dict[str, object] = {"customer": "ada", "percent": 10, "at": T0, **arguments}
    before = _stored(vouchers, ledger)
    with pytest.raises(ValidationError) as refused:
        vouchers.create(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert _stored(vouchers, ledger) == before


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda v: v.get(""), ValidationError, "voucher_id"),
        (lambda v: v.get("kept", at=datetime(2026, 1, 2)), ValidationError, "at"),
        (lambda v: v.get("nope"), NotFound, None),
        (lambda v: v.list(""), ValidationError, "customer"),
        (lambda v: v.list("ada", include_inactive="yes"), ValidationError, "include_inactive"),
        (lambda v: v.list("ada", at=5), ValidationError, "at"),
        (lambda v: v.void(None), ValidationError, "voucher_id"),
        (lambda v: v.void("kept", at=datetime(2026, 1, 2)), ValidationError, "at"),
        (lambda v: v.void("kept", at=T0 - HOUR), ValidationError, "at"),  # before it was made
        (lambda v: v.void("nope", at=T0), NotFound, None),
    ],
)
def test_bad_reads_and_voids(
    vouchers: Vouchers, ledger: Ledger, call: object, error: type[Exception], field: str | None
) -> None:
    vouchers.create("ada", 25, voucher_id="kept", at=T0)
    before = _stored(vouchers, ledger)
    with pytest.raises(error) as refused:
        call(vouchers)  # type: ignore[operator]
    if field is not None:
        assert refused.value.field == field  # type: ignore[attr-defined]
    assert _stored(vouchers, ledger) == before


def test_a_voucher_is_never_credit_and_moves_no_history(vouchers: Vouchers, ledger: Ledger) -> None:
    vouchers.create("ada", 50, voucher_id="v", at=T0 + DAY)
    vouchers.void("v", at=T0 + 2 * DAY)
    assert list(ledger.entries(limit=10_000).items) == []
    assert ledger.balance("ada", at=T0 + 3 * DAY).granted == 0
    assert list(ledger.blocks("ada", include_inactive=True, at=T0 + 3 * DAY)) == []
    # the customer's last write did not move: a grant dated before the voucher is taken
    assert ledger.grant("ada", 5, at=T0).block.amount == 5


def test_vouchers_join_an_atomic_batch(vouchers: Vouchers, ledger: Ledger) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), ledger.atomic():
        vouchers.create("ada", 10, voucher_id="v", at=T0)
        ledger.grant("ada", 10, at=T0)
        raise Boom
    assert vouchers.list("ada", include_inactive=True, at=FAR) == []
    with pytest.raises(NotFound):
        vouchers.get("v")
    with ledger.atomic():
        vouchers.create("ada", 10, voucher_id="v", at=T0)
        assert vouchers.get("v").status == "active"  # the batch sees its own writes
        ledger.grant("ada", 10, at=T0)
    assert vouchers.get("v").percent == 10


# -- eligible, consume, restore ----------------------------------------------------------------


def _voucher(ident: str, percent: str, *, until: datetime | None = None, **more: object) -> Voucher:
    fields: dict[str, object] = {
        "id": ident, "customer": "ada", "percent": Decimal(percent), "scope": None, "valid_from": T0,
        "valid_until": until, "single_use": False, "status": "active", "used_at": None, "used_by": None,
        "voided_at": None, "description": None, "metadata": {}, "created_at": T0, **more,
    }  # fmt: skip
    return Voucher(**fields)  # type: ignore[arg-type]


def test_eligible_takes_the_highest_percent_then_the_earliest_end_then_the_first_made() -> None:
    at = T0 + HOUR
    ten, twenty = _voucher("ten", "10"), _voucher("twenty", "20")
    assert eligible([ten, twenty], at, None) == twenty
    assert eligible([twenty, ten], at, None) == twenty
    forever, soon, sooner = (
        _voucher("forever", "20"),
        _voucher("soon", "20", until=T0 + 5 * DAY),
        _voucher("sooner", "20", until=T0 + DAY),
    )
    assert eligible([forever, soon, sooner], at, None) == sooner
    assert eligible([forever, soon], at, None) == soon  # None last
    first, second = _voucher("first", "20", until=T0 + DAY), _voucher("second", "20", until=T0 + DAY)
    assert eligible([first, second], at, None) == first
    assert eligible([second, first], at, None) == second  # the order given is the creation order
    assert eligible([_voucher("a", "20"), _voucher("b", "20.0000")], at, None).id == "a"  # type: ignore[union-attr]
    assert eligible([], at, None) is None


def test_eligible_judges_the_window_the_use_and_the_scope() -> None:
    window = _voucher("w", "50", valid_from=T0 + DAY, until=T0 + 2 * DAY)
    assert eligible([window], T0 + DAY - timedelta(microseconds=1), None) is None
    assert eligible([window], T0 + DAY, None) == window
    assert eligible([window], T0 + 2 * DAY - timedelta(microseconds=1), None) == window
    assert eligible([window], T0 + 2 * DAY, None) is None
    used = _voucher("u", "90", used_at=T0, used_by="inv", status="used")
    voided = _voucher("x", "80", voided_at=T0, status="voided")
    plain = _voucher("p", "5")
    assert eligible([used, voided, plain], T0 + HOUR, None) == plain
    scoped = _voucher("s", "60", scope=frozenset({"realm:F", "usage:trip"}))
    charge = {"realm:F/usage:trip", "realm:F", "usage:trip"}
    assert eligible([plain, scoped], T0 + HOUR, charge) == scoped
    assert eligible([plain, scoped], T0 + HOUR, frozenset({"realm:G"})) == plain
    assert eligible([plain, scoped], T0 + HOUR, None) == plain  # an unscoped charge: unscoped vouchers
    assert eligible([scoped], T0 + HOUR, ()) is None


def test_eligible_over_stored_vouchers(vouchers: Vouchers) -> None:
    vouchers.create("ada", 10, voucher_id="a", at=T0)
    vouchers.create("ada", 30, scope="meter:calls", voucher_id="b", at=T0)
    vouchers.create("ada", 30, scope="meter:calls", valid_until=T0 + DAY, voucher_id="c", at=T0)
    vouchers.create("ada", 30, scope="meter:calls", valid_until=T0 + DAY, voucher_id="d", at=T0)
    vouchers.create("ada", 90, voucher_id="gone", at=T0)
    vouchers.create("bob", 99, voucher_id="bobs", at=T0)
    vouchers.void("gone", at=T0)
    with vouchers.reading() as (_reader, rows):
        found = live(rows, "ada", T0 + HOUR)
    assert [v.id for v in found] == ["a", "b", "c", "d"]
    assert eligible(found, T0 + HOUR, {"meter:calls"}).id == "c"  # type: ignore[union-attr]
    assert eligible(found, T0 + 2 * DAY, {"meter:calls"}).id == "b"  # type: ignore[union-attr]
    assert eligible(found, T0 + HOUR, {"meter:other"}).id == "a"  # type: ignore[union-attr]
    assert eligible(vouchers.list("ada", at=T0 + HOUR), T0 + HOUR, {"meter:calls"}).id == "c"  # type: ignore[union-attr]


def test_consume_and_restore_a_single_use_voucher(vouchers: Vouchers, ledger: Ledger) -> None:
    vouchers.create("ada", 10, single_use=True, voucher_id="once", at=T0)
    vouchers.create("ada", 10, voucher_id="many", at=T0)
    vouchers.create("ada", 10, single_use=True, voucher_id="gone", at=T0)
    vouchers.void("gone", at=T0)
    with vouchers.writing() as (_uow, rows):
        used = consume(rows, "once", "inv_1", T0 + HOUR)
        assert consume(rows, "many", "inv_1", T0 + HOUR).status == "active"  # not single-use: left as it is
    assert (used.status, used.used_at, used.used_by) == ("used", T0 + HOUR, "inv_1")
    assert vouchers.get("once", at=T0 + HOUR) == used
    early = vouchers.get("once", at=T0 + HOUR - timedelta(microseconds=1))
    assert (early.status, early.used_at, early.used_by) == ("active", None, None)
    assert vouchers.get("once", at=FAR).status == "used"  # used wins over nothing ending
    assert [v.id for v in vouchers.list("ada", at=T0 + 2 * HOUR)] == ["many"]
    with vouchers.reading() as (_reader, rows):
        assert [v.id for v in live(rows, "ada", T0 + 2 * HOUR)] == ["many"]
    assert vouchers.get("many", at=FAR).used_at is None
    before = _stored(vouchers, ledger)
    expected = vouchers.get("once", at=T0 + 2 * HOUR)
    with vouchers.writing() as (_uow, rows):
        assert consume(rows, "once", "inv_1", T0 + 2 * HOUR) == expected  # the same invoice again: unchanged
        with pytest.raises(Conflict):
            consume(rows, "once", "inv_2", T0 + 2 * HOUR)
        with pytest.raises(Conflict):
            consume(rows, "gone", "inv_2", T0 + 2 * HOUR)
        with pytest.raises(NotFound):
            consume(rows, "nope", "inv_2", T0 + 2 * HOUR)
        restore(rows, "once", invoice_id="inv_2")  # not its invoice: nothing happens
        restore(rows, "many")  # not used: nothing happens
    assert _stored(vouchers, ledger) == before
    with vouchers.writing() as (_uow, rows):
        restore(rows, "once", invoice_id="inv_1")
        with pytest.raises(NotFound):
            restore(rows, "nope")
    again = vouchers.get("once", at=T0 + 3 * HOUR)
    assert (again.status, again.used_at, again.used_by) == ("active", None, None)
    with vouchers.writing() as (_uow, rows):  # usable again, by another invoice
        assert consume(rows, "once", "inv_3", T0 + 3 * HOUR).used_by == "inv_3"
    with pytest.raises(Conflict):
        vouchers.void("once", at=T0 + 4 * HOUR)
    with vouchers.writing() as (_uow, rows):
        restore(rows, "once")
    assert vouchers.void("once", at=T0 + 4 * HOUR).status == "voided"

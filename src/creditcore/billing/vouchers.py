"""``billing.vouchers``: percentages off a customer's charges and invoices.

A voucher is never credit (no block, nothing in ``balance()``): it takes ``percent`` off each
line it is eligible for, before tax and credits. It is stored as a billing object of kind
``"voucher"`` whose status column is what happened to it (``live``, ``used``, ``voided``);
what the caller sees as ``status`` adds time: ``upcoming`` before ``valid_from``, ``expired``
from ``valid_until``, each as at the read's ``at``.

A voucher's history is its own, as a customer's profile's is: writing one writes no ledger entry
and never moves the customer's last write (only writes of ledger entries do). A void dated
before the voucher was made is refused (``ValidationError("at")``); without ``at`` a void or a
read is dated ``max(clock, the voucher's last change)``; a read at a time before the voucher was
made does not see it (``get`` → ``NotFound``; ``list`` leaves it out).

For the invoices and charges (in their transaction): :func:`live` (a customer's vouchers
not used or voided), :func:`eligible` (the one voucher a charge or an invoice takes),
:func:`consume` (a single-use voucher used by an invoice) and :func:`restore` (unused again
when that invoice is voided).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

import attrs

from creditcore.billing.common import Part, body, check_replay, read_body
from creditcore.billing.model import Voucher
from creditcore.billing.repository import BillingObject, BillingReader, BillingWriter
from creditcore.billing.values import parse_number
from creditcore.core.state import frozen_dict
from creditcore.errors import Conflict, NotFound, ValidationError
from creditcore.ids import new_id
from creditcore.service.context import exact, write
from creditcore.values import (
    canonical,
    parse_bool,
    parse_id,
    parse_metadata,
    parse_optional_id,
    parse_scope,
    parse_text,
    parse_time,
)

__all__ = ["MAX_PERCENT_PLACES", "STATUSES", "Vouchers", "consume", "eligible", "live", "restore", "view"]

KIND = "voucher"
#: What happened to a voucher, as its row's status column keeps it.
LIVE, USED, VOIDED = "live", "used", "voided"
#: What ``Voucher.status`` may be.
STATUSES = ("upcoming", "active", "used", "expired", "voided")
#: Decimal places a voucher's percent may have.
MAX_PERCENT_PLACES = 4
HUNDRED = Decimal(100)


@attrs.frozen(kw_only=True)
class VoucherRecord:
    """A voucher as its row's document keeps it: the arguments it was made with (a caller's
    ``voucher_id`` again is compared with them) and what happened to it since."""

    id: str
    customer: str
    percent: Decimal
    scope: tuple[str, ...] | None
    """Sorted: a set, kept in one order."""
    valid_from: datetime
    valid_until: datetime | None
    single_use: bool
    description: str | None
    metadata: Mapping[str, str] = attrs.field(converter=frozen_dict)
    created_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None
    voided_at: datetime | None = None

    @property
    def changed_at(self) -> datetime:
        """The voucher's last change: when it was made, used or voided."""
        return max(t for t in (self.created_at, self.used_at, self.voided_at) if t is not None)


def _percent(value: object) -> Decimal:
    number = parse_number(value, "percent", places=MAX_PERCENT_PLACES, positive=True)
    if number > HUNDRED:
        raise ValidationError("percent", f"must be at most 100, got {value}")
    return Decimal(canonical(number))  # one form: "10.50" and "1.05E+1" are 10.5


def _record(found: BillingObject) -> VoucherRecord:
    record: VoucherRecord = read_body(found.body, VoucherRecord)
    return record


def _stored(record: VoucherRecord, status: str) -> BillingObject:
    return BillingObject(kind=KIND, id=record.id, customer=record.customer, status=status, body=body(record))


def _load(rows: BillingReader, voucher_id: str) -> tuple[BillingObject, VoucherRecord]:
    found = rows.get_object(KIND, voucher_id)
    if found is None:
        raise NotFound(f"no voucher {voucher_id!r}")
    return found, _record(found)


def view(record: VoucherRecord, at: datetime) -> Voucher:
    """The voucher as at ``at``: its status then, and only what had happened by then."""
    used = record.used_at is not None and record.used_at <= at
    voided = record.voided_at is not None and record.voided_at <= at
    if voided:
        status = "voided"
    elif used:
        status = "used"
    elif at < record.valid_from:
        status = "upcoming"
    elif record.valid_until is not None and at >= record.valid_until:
        status = "expired"
    else:
        status = "active"
    return Voucher(
        id=record.id,
        customer=record.customer,
        percent=record.percent,
        scope=None if record.scope is None else frozenset(record.scope),
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        single_use=record.single_use,
        status=status,
        used_at=record.used_at if used else None,
        used_by=record.used_by if used else None,
        voided_at=record.voided_at if voided else None,
        description=record.description,
        metadata=record.metadata,
        created_at=record.created_at,
    )


class Vouchers(Part):
    """Percentage vouchers of customers."""

    @write
    def create(
        self,
        customer: str,
        percent: int | Decimal | str,
        *,
        scope: str | Iterable[str] | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
        single_use: bool = False,
        voucher_id: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> Voucher:
        """A new voucher of ``percent`` off the customer's charges (``voucher_id`` again with
        the same arguments returns it). ``valid_from`` defaults to ``at``; ``valid_until`` is
        ``None`` (never ends) or later; a ``date`` is 00:00 in the customer's zone."""
        who = parse_id(customer, "customer")
        rate = _percent(percent)
        scopes = parse_scope(scope)
        once = parse_bool(single_use, "single_use")
        ident = parse_optional_id(voucher_id, "voucher_id")
        text = parse_text(description)
        meta = parse_metadata(metadata)
        given_at = None if at is None else parse_time(at, "at")
        with self.writing() as (uow, rows):
            zone = self.zone_of(uow, who, given_at or self._ctx.now())
            start = None if valid_from is None else self.instant(valid_from, "valid_from", zone)
            end = None if valid_until is None else self.instant(valid_until, "valid_until", zone)
            if start is not None and end is not None and end <= start:
                raise ValidationError("valid_until", f"{end.isoformat()} must be later than valid_from")
            given: dict[str, object] = {
                "customer": who,
                "percent": rate,
                "scope": None if scopes is None else tuple(sorted(scopes)),
                "valid_until": end,
                "single_use": once,
                "description": text,
                "metadata": meta,
            }
            if start is not None:  # a default computed from `at` is not compared: a retry replays
                given["valid_from"] = start
            if ident is not None:
                stored = rows.get_object(KIND, ident)
                if stored is not None:
                    check_replay(KIND, stored, (VoucherRecord,), ident, given)
                    record = _record(stored)
                    return view(record, max(given_at or self._ctx.now(), record.changed_at))
            when = self.write_time(given_at)  # after the id: a retry replays whenever it comes
            start = when if start is None else start
            if end is not None and end <= start:
                raise ValidationError(
                    "valid_until",
                    f"{end.isoformat()} must be later than valid_from ({start.isoformat()}, the call's at)",
                )
            record = VoucherRecord(
                id=ident or new_id("vch"),
                customer=who,
                percent=rate,
                scope=None if scopes is None else tuple(sorted(scopes)),
                valid_from=start,
                valid_until=end,
                single_use=once,
                description=text,
                metadata=meta,
                created_at=when,
            )
            rows.put_object(_stored(record, LIVE))
            return view(record, when)

    @exact
    def get(self, voucher_id: str, *, at: datetime | None = None) -> Voucher:
        """The voucher as at ``at`` (default: now, never before its last change); ``NotFound``
        if unknown, or not made yet at ``at``."""
        ident = parse_id(voucher_id, "voucher_id")
        given_at = None if at is None else parse_time(at, "at")
        with self.reading() as (_reader, rows):
            _found, record = _load(rows, ident)
        when = given_at if given_at is not None else max(self._ctx.now(), record.changed_at)
        if when < record.created_at:
            raise NotFound(
                f"no voucher {ident!r} at {when.isoformat()}: it was made at {record.created_at.isoformat()}"
            )
        return view(record, when)

    @exact
    def list(
        self, customer: str, *, include_inactive: bool = False, at: datetime | None = None
    ) -> builtins.list[Voucher]:
        """The customer's active vouchers at ``at`` (every one made by then with
        ``include_inactive``), in creation order."""
        who = parse_id(customer, "customer")
        everything = parse_bool(include_inactive, "include_inactive")
        given_at = None if at is None else parse_time(at, "at")
        with self.reading() as (_reader, rows):
            records = [_record(o) for o in rows.list_objects(KIND, customer=who)]
        when = given_at
        if when is None:
            when = max([self._ctx.now(), *(r.changed_at for r in records)])
        found = [view(r, when) for r in records if r.created_at <= when]
        return found if everything else [v for v in found if v.status == "active"]

    @write
    def void(self, voucher_id: str, *, at: datetime | None = None) -> Voucher:
        """Void an upcoming or active voucher: it discounts nothing from then on. A voided
        one is returned unchanged; a used or expired one → ``Conflict``; unknown →
        ``NotFound``."""
        ident = parse_id(voucher_id, "voucher_id")
        given_at = None if at is None else parse_time(at, "at")
        with self.writing() as (_uow, rows):
            found, record = _load(rows, ident)
            if found.status == VOIDED:
                assert record.voided_at is not None
                return view(record, record.voided_at if given_at is None else max(given_at, record.voided_at))
            when = self.write_time(given_at)
            if given_at is None:
                when = max(when, record.changed_at)
            elif when < record.changed_at:
                raise ValidationError(
                    "at",
                    f"{when.isoformat()} is before the voucher's last change ({record.changed_at.isoformat()}): "
                    "a voucher's history only moves forward",
                )
            if found.status == USED:
                raise Conflict(f"voucher {ident!r} was used by invoice {record.used_by!r}: it cannot be voided")
            if view(record, when).status == "expired":
                raise Conflict(
                    f"voucher {ident!r} expired at {record.valid_until.isoformat() if record.valid_until else '?'}: "
                    "it cannot be voided"
                )
            voided = attrs.evolve(record, voided_at=when)
            rows.put_object(_stored(voided, VOIDED))
            return view(voided, when)


# -- for the invoices and charges --------------------------------------------------------------


def live(rows: BillingReader, customer: str, at: datetime) -> list[Voucher]:
    """The customer's vouchers neither used nor voided, as at ``at``, in creation order (what
    :func:`eligible` chooses from)."""
    return [view(_record(o), at) for o in rows.list_objects(KIND, customer=customer, statuses=[LIVE])]


def _rank(voucher: Voucher) -> tuple[Decimal, bool, datetime | None]:
    # highest percent, then the earliest valid_until (None last)
    return (-voucher.percent, voucher.valid_until is None, voucher.valid_until)


def eligible(vouchers: Iterable[Voucher], at: datetime, scopes: Iterable[str] | None) -> Voucher | None:
    """The one voucher a charge or an invoice at ``at`` takes: among those with
    ``valid_from <= at < valid_until``, neither used nor voided, and unscoped or whose scope
    intersects ``scopes`` (a charge's scope set; for an invoice, its lines' scopes together;
    ``None``: unscoped vouchers only), the highest percent, then the earliest ``valid_until``
    (``None`` last), then the first created — ``vouchers`` are given in creation order, as
    :func:`live` and ``Vouchers.list`` give them."""
    wanted = frozenset(()) if scopes is None else frozenset(scopes)
    best: Voucher | None = None
    for voucher in vouchers:
        if voucher.used_at is not None or voucher.voided_at is not None or voucher.status in (USED, VOIDED):
            continue
        if at < voucher.valid_from or (voucher.valid_until is not None and at >= voucher.valid_until):
            continue
        if voucher.scope is not None and not voucher.scope & wanted:
            continue
        if best is None or _rank(voucher) < _rank(best):  # strict: the first created keeps a tie
            best = voucher
    return best


def consume(rows: BillingWriter, voucher_id: str, invoice_id: str, at: datetime) -> Voucher:
    """A single-use voucher used by the invoice ``invoice_id`` (a charge's or an issued one)
    at ``at``, in the caller's transaction; a voucher that is not single-use is left as it is.
    Consumed again by the same invoice: unchanged. Used by another invoice, or voided →
    ``Conflict``; unknown → ``NotFound``."""
    found, record = _load(rows, voucher_id)
    if not record.single_use:
        return view(record, at)
    if found.status == USED:
        if record.used_by == invoice_id:
            return view(record, max(at, record.changed_at))
        raise Conflict(f"voucher {voucher_id!r} was used by invoice {record.used_by!r} already")
    if found.status == VOIDED:
        raise Conflict(f"voucher {voucher_id!r} is voided")
    used = attrs.evolve(record, used_at=at, used_by=invoice_id)
    rows.put_object(_stored(used, USED))
    return view(used, at)


def restore(rows: BillingWriter, voucher_id: str, *, invoice_id: str | None = None) -> None:
    """A single-use voucher unused again (``used_at``, ``used_by`` cleared) after the invoice
    that used it was voided, in the caller's transaction. Nothing happens to a voucher that
    is not used (or, given ``invoice_id``, not used by that invoice); unknown → ``NotFound``."""
    found, record = _load(rows, voucher_id)
    if found.status != USED or (invoice_id is not None and record.used_by != invoice_id):
        return
    rows.put_object(_stored(attrs.evolve(record, used_at=None, used_by=None), LIVE))

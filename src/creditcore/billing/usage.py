"""``billing.usage``: usage charged as it happens, one ledger burn a call.

- **Priced**: the app names the ``amount``; it is burned with ``scope``.
- **Metered**: the app names a ``sum`` or ``count`` meter and a quantity; the call records one
  event marked *charged in advance* and burns what that quantity adds to the price of the
  customer's advance quantity this billing period (the calendar month in its zone):
  ``round(price(Q + q)) - round(price(Q))``, so a graduated price charges each unit at its
  tier and the rounding never drifts from what an invoice of the month would say.

Every call that writes is one transaction: the event, the burn and the usage record commit
together (inside the caller's ``atomic()`` if there is one). ``request_id`` is the call's
idempotency key: a retry returns the first call's result (``replayed=True``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from creditcore.billing import meters, prices, pricing
from creditcore.billing.common import Part, body, check_replay, read_body
from creditcore.billing.model import UsagePage, UsageRecord, UsageResult
from creditcore.billing.periods import window
from creditcore.billing.repository import BillingObject, BillingWriter, MeterEventRecord
from creditcore.billing.values import meter_scope, parse_decimal, parse_number
from creditcore.errors import IdempotencyConflict, ValidationError
from creditcore.ids import new_id
from creditcore.model import Entry
from creditcore.repository import UnitOfWork
from creditcore.service import reads, writes
from creditcore.service.context import exact, write
from creditcore.values import (
    OVERDRAFT_MODES,
    canonical,
    parse_amount,
    parse_choice,
    parse_id,
    parse_limit,
    parse_metadata,
    parse_optional_id,
    parse_optional_time,
    parse_scope,
    parse_text,
    to_decimal,
)

__all__ = ["Usage"]

KIND = "usage"
_CURSOR = "usage:"
_ONE = Decimal(1)


class Usage(Part):
    """Usage charged as it happens."""

    @write
    def record(
        self,
        customer: str,
        *,
        amount: int | Decimal | str | None = None,
        meter_id: str | None = None,
        quantity: int | Decimal | str | None = None,
        unit: str,
        plan: str | None = None,
        request_id: str | None = None,
        scope: str | Iterable[str] | None = None,
        overdraft: str = "debt",
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> UsageResult:
        """Charge the customer's usage now: at most one burn of its credit in ``unit``.

        Give exactly one of ``amount`` and ``meter_id``:

        - **priced**: ``amount >= 0`` in ``unit``'s precision is burned with ``scope``;
        - **metered**: a ``sum`` meter with ``quantity > 0`` in the meter's scale, or a ``count``
          meter with ``quantity`` left out (or 1). The call records one event of that quantity,
          dated ``at`` and marked *charged in advance* (so invoices leave it out), and burns what
          it adds to the price of the customer's quantity of that meter charged in advance this
          billing period (the calendar month in the customer's zone):
          ``round(price(Q + q)) - round(price(Q))``, under the price of (``meter_id``, ``plan``),
          else the meter's plan-less price, else 0. The burn's scope set is ``scope`` plus
          ``meter:<meter_id>``; ``unit`` must be the price's.

        ``overdraft`` is the burn's: ``"debt"`` (the default: the usage already happened),
        ``"partial"``, or ``"reject"`` (``InsufficientCredits``, and nothing is written, not
        even the event). A charge of 0 is ``status="skipped"`` and burns nothing: ``amount=0``
        writes nothing at all and keeps no key; a metered call still records its event.
        Credit is eligible as at ``at``, which may not precede the customer's last write.

        ``request_id`` is the call's idempotency key (and a metered call's event id): the same
        id with the same arguments returns the first result (``replayed=True``); with others,
        or an id a ledger write or another event already took, ``IdempotencyConflict``.
        ``ValidationError`` names a bad argument: ``"amount"`` for both or neither of ``amount``
        and ``meter_id``, ``"quantity"`` without a ``meter_id``, ``"meter_id"`` for a meter of
        another aggregation, ``"unit"`` for another unit than the price's. An unknown meter is
        ``NotFound``.
        """
        ctx = self._ctx
        who = parse_id(customer, "customer")
        name, scale = ctx.unit(unit)
        if (amount is None) == (meter_id is None):
            raise ValidationError("amount", "give either amount (priced usage) or meter_id (metered usage), not both")
        if quantity is not None and meter_id is None:
            raise ValidationError("quantity", "a quantity needs a meter_id")
        priced = None if amount is None else parse_amount(amount, scale, allow_zero=True)
        meter_ident = parse_optional_id(meter_id, "meter_id")
        group = parse_optional_id(plan, "plan")
        key = parse_optional_id(request_id, "request_id")
        scopes = parse_scope(scope)
        mode = parse_choice(overdraft, "overdraft", OVERDRAFT_MODES)
        text = parse_text(description)
        meta = parse_metadata(metadata)
        when = parse_optional_time(at, "at")
        ctx.check_future(when)
        given = {
            "customer": who, "amount": None if priced is None else to_decimal(priced, scale), "meter_id": meter_ident,
            "quantity": None if quantity is None else canonical(parse_decimal(quantity, "quantity")), "unit": name,
            "plan": group,
            "scope": sorted(scopes) if scopes is not None else None, "overdraft": mode, "description": text,
            "metadata": meta,
        }  # fmt: skip
        if priced == 0:
            return UsageResult(status="skipped", charged=Decimal(0), burned=Decimal(0), shortfall=Decimal(0),
                               debt=Decimal(0))  # fmt: skip
        with ctx.atomic(), self.writing() as (uow, rows):
            if key is not None:
                stored = rows.find_key(KIND, key)
                if stored is not None:
                    check_replay(KIND, stored, (_Stored, UsageRecord), key, given, within="given")
                    return self._replay(stored)
            moment = ctx.write_time(when, uow.load_account(who))
            event: MeterEventRecord | None = None
            if meter_ident is not None:
                event, charge = self._metered(rows, uow, who, meter_ident, quantity, name, scale, group, key, moment)
                scopes = (scopes or frozenset()) | {meter_scope(meter_ident)}
            else:
                assert priced is not None
                charge = priced
            figures = {"charged": to_decimal(charge, scale)}
            op_id: str | None = None
            entries: tuple[Entry, ...] = ()
            if charge:
                burned = writes.burn(
                    ctx, who, to_decimal(charge, scale), unit=name, scope=scopes, overdraft=mode,
                    description=text, metadata=meta, idempotency_key=key, at=when,
                )  # fmt: skip
                if burned.replayed:
                    raise IdempotencyConflict(key or "", "operation", "the key was first used by a ledger burn")
                op_id, entries = burned.op_id, burned.entries
                figures |= {"burned": burned.burned, "shortfall": burned.shortfall, "debt": burned.debt}
            else:
                figures |= {"burned": Decimal(0), "shortfall": Decimal(0), "debt": Decimal(0)}
            if event is not None:
                rows.add_meter_events([event])
            record = UsageRecord(
                op_id=op_id, customer=who, unit=name, status="recorded" if charge else "skipped",
                meter_id=meter_ident, quantity=None if event is None else event.value,
                event_id=None if event is None else event.event_id, request_id=key, at=moment,
                description=text, metadata=meta, **figures,
            )  # fmt: skip
            rows.put_object(
                BillingObject(
                    kind=KIND, id=op_id or new_id("usg"), customer=who, status=record.status, key=key,
                    body=body(_Stored(given=given, record=record)),
                )
            )  # fmt: skip
            return _result(record, entries, replayed=False)

    def _metered(
        self, rows: BillingWriter, uow: UnitOfWork, customer: str, meter_id: str, quantity: object, unit: str,
        scale: int, plan: str | None, key: str | None, at: datetime,
    ) -> tuple[MeterEventRecord, int]:  # fmt: skip
        """The event a metered call records, and what it charges in minor units."""
        meter = meters.load(rows, meter_id)
        if meter.aggregation == "sum":
            if quantity is None:
                raise ValidationError("quantity", f"meter {meter_id!r} sums its events: give the quantity")
            q = parse_number(quantity, "quantity", places=meter.scale, positive=True)
        elif meter.aggregation == "count":
            if quantity is not None and parse_number(quantity, "quantity", places=meter.scale) != _ONE:
                raise ValidationError("quantity", f"meter {meter_id!r} counts events: each is 1 (leave quantity out)")
            q = _ONE
        else:
            raise ValidationError(
                "meter_id",
                f"usage charged as it happens needs a sum or count meter; {meter_id!r} is {meter.aggregation}",
            )
        event = MeterEventRecord(
            event_id=key or new_id("evt"), meter_id=meter_id, customer=customer, timestamp=at, value=q,
            advance=True, recorded_at=at,
        )  # fmt: skip
        if key is not None and rows.find_meter_events([key]):
            raise IdempotencyConflict(key, "request_id", f"event {key!r} was recorded by another call")
        price = prices.applying(rows, meter_id, plan)
        if price is None:
            return event, 0
        if price.unit != unit:
            raise ValidationError("unit", f"meter {meter_id!r} is priced in {price.unit!r}, not {unit!r}")
        zone = self.zone_of(uow, customer, at)
        month = window(at, "month", zone)
        earlier = rows.meter_events(meter_id, customer=customer, start=month.start, end=at + timedelta(microseconds=1))
        before = sum((e.value or _ONE for e in earlier if e.advance), Decimal(0))
        model = prices.model_of(price)
        charge = pricing.round_half_up(pricing.price(model, before + q), scale) - pricing.round_half_up(
            pricing.price(model, before), scale
        )
        return event, int(charge.scaleb(scale))

    def _read(self, stored: BillingObject) -> UsageRecord:
        record: UsageRecord = read_body(stored.body, _Stored, UsageRecord).record
        return record

    def _replay(self, stored: BillingObject) -> UsageResult:
        record = self._read(stored)
        entries: tuple[Entry, ...] = ()
        if record.op_id is not None:
            entries = reads.entries(self._ctx, op_id=record.op_id, limit=10_000).items
        return _result(record, entries, replayed=True)

    @exact
    def list(
        self,
        customer: str,
        *,
        unit: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> UsagePage:
        """The customer's usage records, oldest first, of ``unit`` and ``[since, until)``."""
        who = parse_id(customer, "customer")
        name = None if unit is None else parse_id(unit, "unit")
        start = parse_optional_time(since, "since")
        end = parse_optional_time(until, "until")
        size = parse_limit(limit)
        position, _ = reads.decode_cursor(_CURSOR, after, "usage.list()")
        found: builtins.list[UsageRecord] = []
        last = position
        with self.reading() as (_reader, rows):
            while len(found) < size:
                chunk = rows.list_objects(KIND, customer=who, after=last, limit=size)
                for obj in chunk:
                    last = obj.number
                    record = self._read(obj)
                    if (
                        (name is None or record.unit == name)
                        and (start is None or record.at >= start)
                        and (end is None or record.at < end)
                    ):
                        found.append(record)
                        if len(found) == size:
                            break
                if len(chunk) < size:
                    break
        more = len(found) == size
        return UsagePage(items=tuple(found), next_cursor=reads.encode_cursor(_CURSOR, last, None) if more else None)


@attrs.frozen(kw_only=True)
class _Stored:
    """A usage record as stored: the call's arguments (a retry is compared with them) and the
    record."""

    given: Mapping[str, object]
    record: UsageRecord


def _result(record: UsageRecord, entries: tuple[Entry, ...], *, replayed: bool) -> UsageResult:
    return UsageResult(
        op_id=record.op_id, entries=entries, replayed=replayed, status=record.status, charged=record.charged,
        burned=record.burned, shortfall=record.shortfall, debt=record.debt, event_id=record.event_id,
    )  # fmt: skip

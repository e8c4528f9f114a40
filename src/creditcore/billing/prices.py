"""``billing.prices``: what a meter's quantity costs, one live price per (meter, plan); quotes
priced exactly and rounded once, as an invoice line is."""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from creditcore.billing import meters, pricing
from creditcore.billing.common import Part, body, check_replay, read_body
from creditcore.billing.model import Price, Quote
from creditcore.billing.repository import BillingObject, BillingReader
from creditcore.billing.values import PriceModel, Tier, parse_number
from creditcore.errors import Conflict, NotFound
from creditcore.ids import new_id
from creditcore.service.context import exact, write
from creditcore.values import parse_id, parse_optional_id

__all__ = ["Prices"]

KIND = "price"
LIVE, DELETED = "live", "deleted"


def slot(meter_id: str, plan: str | None) -> str:
    """The key of the live price of (meter, plan): one at a time."""
    return json.dumps([meter_id, plan])


def read(found: BillingObject) -> Price:
    price: Price = read_body(found.body, Price, Tier)
    return price


def load(rows: BillingReader, price_id: str) -> Price:
    found = rows.get_object(KIND, price_id)
    if found is None or found.status != LIVE:
        raise NotFound(f"no price {price_id!r}" + (" (it was deleted)" if found is not None else ""))
    return read(found)


def pick(find: Callable[[str | None], Price | None], plan: str | None) -> Price | None:
    """The price that applies to a meter under ``plan`` (``find`` gives the live price of a
    plan, or of ``None``: the plan-less one): the plan's, else the plan-less one."""
    found = find(plan)
    return found if found is not None or plan is None else find(None)


def applying(rows: BillingReader, meter_id: str, plan: str | None) -> Price | None:
    """The price of (meter, plan), else the meter's plan-less one, else ``None``."""

    def find(group: str | None) -> Price | None:
        found = rows.find_key(KIND, slot(meter_id, group))
        return None if found is None else read(found)

    return pick(find, plan)


@functools.lru_cache(maxsize=1024)
def model_of(price: Price) -> PriceModel:
    return PriceModel(
        price.model,
        unit_price=price.unit_price,
        tiers=price.tiers,
        package_size=price.package_size,
        package_price=price.package_price,
        free_units=price.free_units,
    )


class Prices(Part):
    """Prices of meters."""

    @write
    def create(
        self,
        meter_id: str,
        *,
        model: str = "per_unit",
        unit: str,
        unit_price: int | Decimal | str | None = None,
        tiers: Sequence[Tier] | None = None,
        package_size: int | Decimal | str | None = None,
        package_price: int | Decimal | str | None = None,
        free_units: int | Decimal | str = 0,
        plan: str | None = None,
        price_id: str | None = None,
        at: datetime | None = None,
    ) -> Price:
        """A new price of the meter in ``unit`` (a declared unit), for ``plan`` or plan-less."""
        meter = parse_id(meter_id, "meter_id")
        shape = PriceModel(
            model,
            unit_price=unit_price,
            tiers=tiers,
            package_size=package_size,
            package_price=package_price,
            free_units=free_units,
        )
        name, _scale = self._ctx.unit(unit)
        group = parse_optional_id(plan, "plan")
        ident = parse_optional_id(price_id, "price_id")
        when = self.write_time(at)
        given = {"meter_id": meter, "plan": group, "unit": name, **attrs.asdict(shape, recurse=False)}
        with self.writing() as (_uow, rows):
            if ident is not None:
                stored = rows.get_object(KIND, ident)
                if stored is not None:
                    check_replay(KIND, stored, (Price, Tier), ident, given)
                    return read(stored)
            meters.load(rows, meter)
            taken = rows.find_key(KIND, slot(meter, group))
            if taken is not None:
                raise Conflict(
                    f"meter {meter!r} has a price for plan {group!r} already: {taken.id!r} (delete it first)"
                )
            price = Price(id=ident or new_id("prc"), created_at=when, **given)
            rows.put_object(
                BillingObject(kind=KIND, id=price.id, status=LIVE, key=slot(meter, group), body=body(price))
            )
            return price

    @exact
    def get(self, price_id: str) -> Price:
        """The live price ``price_id``; ``NotFound`` if there is none or it was deleted (the
        invoices it priced keep their lines)."""
        ident = parse_id(price_id, "price_id")
        with self.reading() as (_reader, rows):
            return load(rows, ident)

    @exact
    def list(self, meter_id: str | None = None, plan: str | None = None) -> builtins.list[Price]:
        """The live prices, in creation order, of the meter and plan (``None``: any)."""
        meter = None if meter_id is None else parse_id(meter_id, "meter_id")
        group = None if plan is None else parse_id(plan, "plan")
        with self.reading() as (_reader, rows):
            found = [read(o) for o in rows.list_objects(KIND, statuses=[LIVE])]
        return [p for p in found if (meter is None or p.meter_id == meter) and (group is None or p.plan == group)]

    @write
    def delete(self, price_id: str, *, at: datetime | None = None) -> Price:
        """Delete a live price: it prices nothing new; its (meter, plan) is free again."""
        ident = parse_id(price_id, "price_id")
        self.write_time(at)
        with self.writing() as (_uow, rows):
            price = load(rows, ident)
            rows.put_object(BillingObject(kind=KIND, id=ident, status=DELETED, body=body(price)))
            return price

    @exact
    def quote(self, meter_id: str, quantity: int | Decimal | str, *, plan: str | None = None) -> Quote:
        """What ``quantity`` of the meter costs under the price that applies."""
        meter_ident = parse_id(meter_id, "meter_id")
        group = parse_optional_id(plan, "plan")
        with self.reading() as (reader, rows):
            meter = meters.load(rows, meter_ident)
            amount = parse_number(quantity, "quantity", places=meter.scale)
            price = applying(rows, meter_ident, group)
            if price is None:
                raise NotFound(f"meter {meter_ident!r} has no price" + (f" for plan {group!r}" if group else ""))
            scale = self._ctx.scale(price.unit, reader)
        exact_price = pricing.price(model_of(price), amount)
        return Quote(
            meter_id=meter_ident,
            price_id=price.id,
            quantity=amount,
            exact=exact_price,
            amount=pricing.round_half_up(exact_price, scale),
        )

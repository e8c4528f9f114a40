"""Customer profiles: ``set_customer``, ``get_customer`` and ``customers()``.

A profile is not part of a customer's account: setting one locks the customer (so two
changes of one profile are serialised) but writes no entry, records no due event and does not
move the customer's last write. Its versions are its own history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from creditcore.core import profiles
from creditcore.core.periods import parse_timezone
from creditcore.core.profiles import ProfileState
from creditcore.errors import Conflict, NotFound, ValidationError
from creditcore.model import Customer, CustomerPage
from creditcore.repository import Reader
from creditcore.service.context import Context
from creditcore.service.reads import decode_cursor, encode_cursor
from creditcore.values import (
    parse_email,
    parse_id,
    parse_limit,
    parse_metadata,
    parse_name,
    parse_optional_id,
    parse_optional_time,
)

#: What a keyword left out of ``set_customer`` is: the field is kept (``None`` clears it).
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP", "__bool__": lambda self: False})()

_PARSERS: dict[str, Callable[[Any], Any]] = {
    "name": lambda v: None if v is None else parse_name(v),
    "email": lambda v: None if v is None else parse_email(v),
    "external_id": lambda v: parse_optional_id(v, "external_id"),
    "metadata": lambda v: None if v is None else parse_metadata(v),
    "timezone": lambda v: None if v is None else parse_timezone(v),
}
_CURSOR_PREFIX = "creditcore-customers:"


def set_customer(ctx: Context, customer: str, fields: Mapping[str, Any], at: datetime | None) -> Customer:
    customer = parse_id(customer, "customer")
    given = {name: _PARSERS[name](value) for name, value in fields.items() if value is not KEEP}
    when = parse_optional_time(at, "at")
    ctx.check_future(when)
    with ctx.transaction() as uow:
        uow.lock(customer)
        versions = uow.profiles(customer)
        current = versions[-1] if versions else None
        if when is None:
            now = ctx.now()
            when = current.at if current is not None and current.at > now else now
        changed = profiles.change(current, customer, given, when)
        if changed is None:
            assert current is not None
            return _customer(uow, customer, versions, current.at)
        old = current.external_id if current is not None else None
        if changed.external_id is not None and changed.external_id != old:
            holder = uow.customer_of(changed.external_id)
            if holder is not None and holder != customer:
                raise Conflict(f"external id {changed.external_id!r} is held by customer {holder!r}")
        uow.save_profile(changed, released=old if old != changed.external_id else None)
        return _customer(uow, customer, [*versions, changed], when)


def get_customer(
    ctx: Context, customer: str | None = None, *, external_id: str | None = None, at: datetime | None = None
) -> Customer:
    if (customer is None) == (external_id is None):
        raise ValidationError("customer", "pass exactly one of customer and external_id")
    who = None if customer is None else parse_id(customer, "customer")
    ext = parse_optional_id(external_id, "external_id")
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        if who is None:
            assert ext is not None
            who = reader.customer_of(ext)
            if who is None:
                raise NotFound(f"no customer has the external id {ext!r}")
        return _customer(reader, who, reader.profiles(who), when if when is not None else _now(ctx, reader, who))


def customers(ctx: Context, *, after: str | None = None, limit: int = 100, at: datetime | None = None) -> CustomerPage:
    position, _ = decode_cursor(_CURSOR_PREFIX, after, "customers()")
    limit = parse_limit(limit)
    when = parse_optional_time(at, "at")
    with ctx.reader() as reader:
        moment = when if when is not None else ctx.now()
        found = reader.customer_page(position, limit + 1, moment)
        items = [_customer(reader, who, reader.profiles(who), moment) for _, who in found[:limit]]
    more = len(found) > limit
    return CustomerPage(
        items=items, next_cursor=encode_cursor(_CURSOR_PREFIX, found[limit - 1][0], None) if more else None
    )


def _now(ctx: Context, reader: Reader, customer: str) -> datetime:
    """A read's default time for one customer: now, or its profile's or account's last
    change if the clock is behind it."""
    now = ctx.now()
    versions = reader.profiles(customer)
    last = reader.load_account(customer).last_at
    return max(t for t in (now, versions[-1].at if versions else None, last) if t is not None)


def _customer(reader: Reader, customer: str, versions: list[ProfileState], at: datetime) -> Customer:
    """The customer as it stood at ``at``: ``NotFound`` if it had neither a profile nor an
    entry then."""
    first = reader.first_seen(customer)
    if first is None or first > at:
        raise NotFound(f"no customer {customer!r}" + ("" if first is None else f" at {at.isoformat()}"))
    version = profiles.at_time(versions, at)
    if version is None:
        return Customer(
            id=customer, name=None, email=None, external_id=None, metadata={}, timezone=None,
            created_at=first, updated_at=first,
        )  # fmt: skip
    return Customer(
        id=customer,
        name=version.name,
        email=version.email,
        external_id=version.external_id,
        metadata=dict(version.metadata),
        timezone=version.timezone,
        created_at=first,
        updated_at=version.at,
    )

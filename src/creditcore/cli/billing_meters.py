"""``meter`` (create, get, list, record, summary), ``price`` (create, get, list, delete, quote)
and ``usage`` (record, list): meters, prices and usage on the ledger of ``--db``.

``meter record`` takes its events from repeatable ``--event`` options (a JSON object, or
``KEY=VALUE,...`` with the fields of a ``MeterEvent``) and from ``--file`` (a JSON array, a
JSON object, or JSONL; ``-`` for stdin), and records them in calls of at most 100 events (the
API's batch) inside one ``ledger.atomic()`` batch: all of them, or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any, cast

import click
from rich.table import Table

from creditcore.billing.meters import MAX_EVENTS_PER_BATCH
from creditcore.billing.model import EventStatus, Meter, MeterEvent, Price, RecordEventsResult, UsageRecord
from creditcore.billing.values import AGGREGATIONS, MODELS, Tier
from creditcore.cli.billing_common import (
    AT,
    DAY_OR_TIME,
    declare,
    open_billing,
    pairs_table,
    scale_option,
    show_entries,
    text,
    tiers_text,
    when,
    zone_option,
)
from creditcore.cli.common import ISO, admin, console, metadata_pairs, print_json
from creditcore.values import OVERDRAFT_MODES

# -- meter ---------------------------------------------------------------------------------------


def _meter_table(meters: Iterable[Meter]) -> Table:
    table = Table(title_justify="left")
    for name in ("meter", "name", "event name", "aggregation", "dimensions", "scale", "description", "created (UTC)"):
        table.add_column(name, no_wrap=name == "meter")
    for m in meters:
        table.add_row(
            m.id, m.name, m.event_name, m.aggregation, ", ".join(m.dimensions), str(m.scale), m.description or "",
            when(m.created_at),
        )  # fmt: skip
    return table


@click.group()
def meter() -> None:
    """Meters and their usage events: create, get, list, record, summary.

    \b
    Example:
      creditcore meter create "API calls" api_call --meter-id calls
    """


@meter.command("create")
@click.argument("name")
@click.argument("event_name")
@click.option("--aggregation", type=click.Choice(AGGREGATIONS), default="sum", show_default=True)
@click.option("--meter-id", help="Your id for the meter (default: mtr_...); repeating it replays.")
@click.option("--dimension", "dimensions", multiple=True, help="A dimension events may carry (repeatable, up to 20).")
@click.option("--scale", type=int, default=0, show_default=True, help="The decimal places of event values (0-12).")
@click.option("--description")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--at", type=ISO, help=AT)
@admin
def create_meter(
    name: str, event_name: str, aggregation: str, meter_id: str | None, dimensions: tuple[str, ...], scale: int,
    description: str | None, metadata: tuple[str, ...], at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """A meter NAME counting the events EVENT_NAME, aggregated by --aggregation over a period.

    \b
    Example:
      creditcore meter create "API calls" api_call --meter-id calls --dimension region
    """
    with open_billing(db) as billing:
        found = billing.meters.create(
            name, event_name, aggregation=aggregation, meter_id=meter_id, dimensions=dimensions, scale=scale,
            description=description, metadata=metadata_pairs(metadata) or None, at=at,
        )  # fmt: skip
        if as_json:
            print_json(found)
        else:
            console().print(_meter_table([found]))


@meter.command("get")
@click.argument("meter_id")
@admin
def get_meter(meter_id: str, db: str, as_json: bool) -> None:
    """One meter (exit 1 if unknown).

    \b
    Example:
      creditcore meter get calls --json
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.meters.get(meter_id)
    if as_json:
        print_json(found)
    else:
        console().print(_meter_table([found]))


@meter.command("list")
@admin
def list_meters(db: str, as_json: bool) -> None:
    """Every meter, in creation order.

    \b
    Example:
      creditcore meter list --json
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.meters.list()
        if as_json:
            print_json(found)
        elif not found:
            console().print("no meters")
        else:
            console().print(_meter_table(found))


_EVENT_FIELDS = ("meter_id", "customer", "value", "timestamp", "event_id", "unique_key", "dimensions")


def _event(found: object, where: str, meter_id: str | None, customer: str | None) -> MeterEvent:
    """One event as ``MeterEvent``; its shape checked here (exit 2), its values by the API."""
    if not isinstance(found, Mapping):
        raise click.BadParameter(f"{where}: expected a JSON object, got {type(found).__name__}")
    unknown = sorted(str(key) for key in found if key not in _EVENT_FIELDS)
    if unknown:
        raise click.BadParameter(f"{where}: no field {unknown[0]!r} (the fields: {', '.join(_EVENT_FIELDS)})")
    fields: dict[str, Any] = dict(found)
    stamp = fields.get("timestamp")
    if isinstance(stamp, str):
        try:
            fields["timestamp"] = ISO.convert(stamp, None, None)
        except click.BadParameter as error:
            raise click.BadParameter(f"{where}: timestamp: {error.message}") from None
    # a missing meter_id or customer goes on as None: the API names it (ValidationError, exit 1)
    return MeterEvent(
        cast(str, fields.get("meter_id", meter_id)), cast(str, fields.get("customer", customer)), fields.get("value"),
        timestamp=fields.get("timestamp"), event_id=fields.get("event_id"), unique_key=fields.get("unique_key"),
        dimensions=fields.get("dimensions"),
    )  # fmt: skip


def _option_event(given: str) -> dict[str, Any]:
    """``--event``: a JSON object, or ``KEY=VALUE,...`` (``dimensions.NAME=VALUE`` for a dimension)."""
    if given.lstrip().startswith("{"):
        try:
            found: dict[str, Any] = json.loads(given, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise click.BadParameter(f"{given[:60]!r} is not JSON: {error.msg}", param_hint="'--event'") from None
        return found
    fields: dict[str, Any] = {}
    for pair in given.split(","):
        key, equals, value = pair.strip().partition("=")
        if not equals or not key:
            raise click.BadParameter(f"expected KEY=VALUE,..., got {pair!r}", param_hint="'--event'")
        if key.startswith("dimensions."):
            fields.setdefault("dimensions", {})[key.removeprefix("dimensions.")] = value
        else:
            fields[key] = value
    return fields


def _file_events(stream: IO[str]) -> list[tuple[str, object]]:
    """A file's events, each with where it came from: a JSON array or object, or JSONL."""
    source = "stdin" if stream.name == "<stdin>" else stream.name
    content = stream.read()
    try:
        whole = json.loads(content, parse_float=Decimal)
    except json.JSONDecodeError:
        whole = None
        found: list[tuple[str, object]] = []
        for number, line in enumerate(content.splitlines(), 1):
            if line.strip():
                try:
                    found.append((f"{source} line {number}", json.loads(line, parse_float=Decimal)))
                except json.JSONDecodeError as error:
                    raise click.BadParameter(
                        f"{source} line {number} is not JSON: {error.msg}", param_hint="'--file'"
                    ) from None
        return found
    if isinstance(whole, list):
        return [(f"{source} item {n}", item) for n, item in enumerate(whole, 1)]
    return [(source, whole)]


def _status_table(results: Iterable[EventStatus]) -> Table:
    table = Table(title_justify="left")
    table.add_column("event", no_wrap=True)
    table.add_column("status")
    for r in results:
        table.add_row(r.event_id, r.status)
    return table


@meter.command("record")
@click.option(
    "--event", "events", multiple=True,
    help="One event (repeatable): a JSON object, or KEY=VALUE,... of meter_id, customer, value, timestamp, "
    "event_id, unique_key and dimensions.NAME.",
)  # fmt: skip
@click.option(
    "--file", "file", type=click.File("r", encoding="utf-8"),
    help="Events from a file: a JSON array of objects, one object, or JSONL (one object a line); - for stdin.",
)  # fmt: skip
@click.option("--meter-id", help="The meter of events that name none.")
@click.option("--customer", help="The customer of events that name none.")
@click.option("--at", type=ISO, help="Date the call (default: now); an event's timestamp defaults to it.")
@admin
def record_events(
    events: tuple[str, ...], file: IO[str] | None, meter_id: str | None, customer: str | None, at: datetime | None,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """Record usage events: all of them or none. An event id seen before with the same fields
    is a duplicate (nothing written); more than 100 events go in calls of 100 in one batch.

    \b
    Example:
      creditcore meter record --meter-id calls --customer ada --event value=3 --event value=5,event_id=req-2
      creditcore meter record --file events.jsonl
      cat events.json | creditcore meter record --file - --json
    """
    given: list[tuple[str, object]] = [(f"--event {n}", _option_event(e)) for n, e in enumerate(events, 1)]
    if file is not None:
        given += _file_events(file)
    if not given:
        raise click.UsageError("give --event (repeatable) or --file (JSON or JSONL; - for stdin)")
    batch = [_event(found, where, meter_id, customer) for where, found in given]
    with open_billing(db) as billing:
        results: list[EventStatus] = []
        with billing.ledger.atomic():
            for start in range(0, len(batch), MAX_EVENTS_PER_BATCH):
                done = billing.meters.record(batch[start : start + MAX_EVENTS_PER_BATCH], at=at)
                results += done.results
        created = sum(1 for r in results if r.status == "created")
        found = RecordEventsResult(results=tuple(results), created=created, duplicates=len(results) - created)
        if as_json:
            print_json(found)
            return
        out = console()
        out.print(f"recorded {len(results)} event(s): {found.created} created, {found.duplicates} duplicate(s)")
        out.print(_status_table(results))


def _dimension_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="'--dimension'")
        found[key] = value
    return found


@meter.command("summary")
@click.argument("meter_id")
@click.option("--customer", help="Only this customer's events (default: every customer's).")
@click.option("--start", type=DAY_OR_TIME, required=True, help="From this time (a date: its midnight, local).")
@click.option("--end", type=DAY_OR_TIME, required=True, help="To before this time (a date: its midnight, local).")
@click.option("--dimension", "dimensions", multiple=True, help="NAME=VALUE: only events with it (repeatable).")
@click.option("--at", type=ISO, help="Only the events recorded by this time (default: now).")
@zone_option
@admin
def summary(
    meter_id: str, customer: str | None, start: date, end: date, dimensions: tuple[str, ...], at: datetime | None,
    timezone: str, db: str, as_json: bool,
) -> None:  # fmt: skip
    """METER_ID's aggregate over [--start, --end), as its aggregation counts.

    \b
    Example:
      creditcore meter summary calls --customer ada --start 2026-01-01 --end 2026-02-01 --dimension region=eu
    """
    with open_billing(db, read_only=True, timezone=timezone) as billing:
        found = billing.meters.summary(
            meter_id, customer=customer, start=start, end=end,  # a date is taken too
            dimensions=_dimension_pairs(dimensions) or None, at=at,
        )  # fmt: skip
        if as_json:
            print_json(found)
            return
        console().print(
            pairs_table(
                [
                    ("meter", found.meter_id), ("customer", found.customer or "every customer"),
                    ("aggregation", found.aggregation), ("from (UTC)", when(found.start)),
                    ("to (UTC)", when(found.end)), ("value", str(found.value)), ("events", str(found.event_count)),
                ]
            )
        )  # fmt: skip


# -- price ---------------------------------------------------------------------------------------


def _price_table(prices: Iterable[Price]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "price", "meter", "plan", "model", "unit", "unit price", "tiers (up_to:unit_price[:flat_fee])", "package",
        "free units", "created (UTC)",
    ):  # fmt: skip
        table.add_column(name, no_wrap=name == "price")
    for p in prices:
        package = "" if p.package_size is None else f"{p.package_price} per {p.package_size}"
        table.add_row(
            p.id, p.meter_id, text(p.plan), p.model, p.unit, text(p.unit_price), tiers_text(p.tiers), package,
            str(p.free_units), when(p.created_at),
        )  # fmt: skip
    return table


def _tiers(given: tuple[str, ...]) -> list[tuple[str | None, str, str | None]]:
    """``--tier UP_TO:UNIT_PRICE[:FLAT_FEE]`` (``UP_TO`` ``inf`` for no bound), shape only."""
    found: list[tuple[str | None, str, str | None]] = []
    for tier in given:
        parts = tier.split(":")
        if len(parts) not in (2, 3) or not all(part.strip() for part in parts):
            raise click.BadParameter(
                f"expected UP_TO:UNIT_PRICE[:FLAT_FEE] (UP_TO inf for no bound), got {tier!r}", param_hint="'--tier'"
            )
        up_to = None if parts[0].strip().lower() in ("inf", "none") else parts[0].strip()
        found.append((up_to, parts[1].strip(), parts[2].strip() if len(parts) == 3 else None))
    return found


@click.group()
def price() -> None:
    """What a meter's usage costs: create, get, list, delete, quote.

    \b
    Example:
      creditcore price create calls --unit usd --scale 2 --unit-price 0.002
    """


@price.command("create")
@click.argument("meter_id")
@click.option("--model", type=click.Choice(MODELS), default="per_unit", show_default=True)
@click.option("--unit", required=True, help="What the price is in (a declared unit; see --scale).")
@scale_option()
@click.option("--unit-price", help="per_unit: the price of one unit of usage, e.g. 0.002.")
@click.option(
    "--tier", "tiers", multiple=True,
    help="graduated and volume: UP_TO:UNIT_PRICE[:FLAT_FEE], cumulative and increasing, the last UP_TO may be inf "
    "(repeatable, in order).",
)  # fmt: skip
@click.option("--package-size", help="package: the units a package holds.")
@click.option("--package-price", help="package: the price of each package begun.")
@click.option("--free-units", default="0", show_default=True, help="package: units free before the first package.")
@click.option("--plan", help="Only for this plan (default: every plan without a price of its own).")
@click.option("--price-id", help="Your id for the price (default: prc_...); repeating it replays.")
@click.option("--at", type=ISO, help=AT)
@admin
def create_price(
    meter_id: str, model: str, unit: str, scale: int | None, unit_price: str | None, tiers: tuple[str, ...],
    package_size: str | None, package_price: str | None, free_units: str, plan: str | None, price_id: str | None,
    at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Price METER_ID's usage in --unit: per_unit, graduated, volume or package.

    \b
    Example:
      creditcore price create calls --unit usd --scale 2 --unit-price 0.002
      creditcore price create tokens --model graduated --unit usd --tier 1000:0 --tier inf:0.00001:0.50
    """
    shapes = _tiers(tiers)
    with open_billing(db) as billing, billing.ledger.atomic():
        declare(billing.ledger, unit, scale)
        found = billing.prices.create(
            meter_id, model=model, unit=unit, unit_price=unit_price,
            tiers=[Tier(up_to, rate, fee or 0) for up_to, rate, fee in shapes] or None,
            package_size=package_size, package_price=package_price, free_units=free_units, plan=plan,
            price_id=price_id, at=at,
        )  # fmt: skip
    if as_json:
        print_json(found)
    else:
        console().print(_price_table([found]))


@price.command("get")
@click.argument("price_id")
@admin
def get_price(price_id: str, db: str, as_json: bool) -> None:
    """One live price (exit 1 if unknown or deleted).

    \b
    Example:
      creditcore price get prc_01a2312fbdfb6d6642db6b3e4e8f8816
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.prices.get(price_id)
    if as_json:
        print_json(found)
    else:
        console().print(_price_table([found]))


@price.command("list")
@click.option("--meter-id", help="Only this meter's prices.")
@click.option("--plan", help="Only this plan's prices.")
@admin
def list_prices(meter_id: str | None, plan: str | None, db: str, as_json: bool) -> None:
    """The live prices, in creation order.

    \b
    Example:
      creditcore price list --meter-id calls
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.prices.list(meter_id, plan)
        if as_json:
            print_json(found)
        elif not found:
            console().print("no prices")
        else:
            console().print(_price_table(found))


@price.command("delete")
@click.argument("price_id")
@click.option("--at", type=ISO, help=AT)
@admin
def delete_price(price_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Delete a price: it prices nothing new; issued invoices keep their lines.

    \b
    Example:
      creditcore price delete prc_01a2312fbdfb6d6642db6b3e4e8f8816
    """
    with open_billing(db) as billing:
        found = billing.prices.delete(price_id, at=at)
        if as_json:
            print_json(found)
            return
        out = console()
        out.print(f"deleted price {found.id} of meter {found.meter_id}")
        out.print(_price_table([found]))


@price.command("quote")
@click.argument("meter_id")
@click.argument("quantity")
@click.option("--plan", help="The plan's price if it has one (default: the price without a plan).")
@admin
def quote(meter_id: str, quantity: str, plan: str | None, db: str, as_json: bool) -> None:
    """What QUANTITY of METER_ID's usage costs, rounded once as an invoice line is.

    \b
    Example:
      creditcore price quote calls 1250 --json
    """
    with open_billing(db, read_only=True) as billing:
        found = billing.prices.quote(meter_id, quantity, plan=plan)
        if as_json:
            print_json(found)
            return
        unit = billing.prices.get(found.price_id).unit
        console().print(
            f"{found.quantity} of {found.meter_id} costs {found.amount} {unit} (exactly {found.exact}) "
            f"under price {found.price_id}"
        )


# -- usage ---------------------------------------------------------------------------------------


def _usage_table(records: Iterable[UsageRecord]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "at (UTC)", "status", "charged", "burned", "debt", "unit", "meter", "quantity", "request", "op", "description",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("charged", "burned", "debt", "quantity") else "left",
                         no_wrap=name in ("op", "at (UTC)"))  # fmt: skip
    for r in records:
        table.add_row(
            f"{r.at:%Y-%m-%d %H:%M:%S}", r.status, str(r.charged), str(r.burned), str(r.debt), r.unit,
            text(r.meter_id), text(r.quantity), text(r.request_id), text(r.op_id), text(r.description),
        )  # fmt: skip
    return table


@click.group()
def usage() -> None:
    """Usage charged as it happens: record, list.

    \b
    Example:
      creditcore usage record ada --amount 12 --unit credits --request-id req-1
    """


@usage.command("record")
@click.argument("customer")
@click.option("--amount", help="Priced usage: burn this much (0 records nothing).")
@click.option("--meter-id", help="Metered usage instead: an event of this sum or count meter, charged at its price.")
@click.option("--quantity", help="With --meter-id of a sum meter: how much (a count meter counts 1).")
@click.option("--unit", required=True, help="The unit charged (a metered charge: the price's).")
@scale_option()
@click.option("--plan", help="Price metered usage with this plan's price.")
@click.option("--request-id", help="The call's idempotency key: a retry with the same id replays.")
@click.option("--scope", "scopes", multiple=True, help="The burn's scope (repeatable).")
@click.option("--overdraft", type=click.Choice(OVERDRAFT_MODES), default="debt", show_default=True)
@click.option("--description")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--at", type=ISO, help="Date the usage (default: now).")
@zone_option
@admin
def record_usage(
    customer: str, amount: str | None, meter_id: str | None, quantity: str | None, unit: str, scale: int | None,
    plan: str | None, request_id: str | None, scopes: tuple[str, ...], overdraft: str, description: str | None,
    metadata: tuple[str, ...], at: datetime | None, timezone: str, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Charge CUSTOMER's usage now: --amount, or --meter-id (and --quantity) at the meter's
    price, the difference its running month's quantity makes.

    \b
    Example:
      creditcore usage record ada --amount 12 --unit credits --request-id req-1
      creditcore usage record ada --meter-id tokens --quantity 1500 --unit usd
    """
    with open_billing(db, timezone=timezone) as billing, billing.ledger.atomic():
        declare(billing.ledger, unit, scale)
        r = billing.usage.record(
            customer, amount=amount, meter_id=meter_id, quantity=quantity, unit=unit, plan=plan, request_id=request_id,
            scope=scopes or None, overdraft=overdraft, description=description,
            metadata=metadata_pairs(metadata) or None, at=at,
        )  # fmt: skip
    if as_json:
        print_json(r)
        return
    replayed = " (replayed: this request id was used before, nothing new was written)" if r.replayed else ""
    event = f", event {r.event_id}" if r.event_id else ""
    console().print(
        f"usage of {customer} {r.status}: charged {r.charged} {unit}, burned {r.burned}, shortfall {r.shortfall}, "
        f"debt {r.debt}{event}{replayed}"
    )
    show_entries(r.entries, f"op {r.op_id}")


@usage.command("list")
@click.argument("customer")
@click.option("--unit", help="Only usage in this unit.")
@click.option("--since", type=ISO, help="Only usage at or after this time.")
@click.option("--until", type=ISO, help="Only usage before this time.")
@click.option("--after", help="The cursor a previous page printed.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@admin
def list_usage(
    customer: str, unit: str | None, since: datetime | None, until: datetime | None, after: str | None, limit: int,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """CUSTOMER's usage calls, oldest first.

    \b
    Example:
      creditcore usage list ada --since 2026-01-01 --until 2026-02-01
    """
    with open_billing(db, read_only=True) as billing:
        page = billing.usage.list(customer, unit=unit, since=since, until=until, after=after, limit=limit)
        if as_json:
            print_json(page)
            return
        out = console()
        out.print(_usage_table(page.items) if page.items else f"{customer} has no usage")
        if page.next_cursor is not None:
            out.print(f"more: --after {page.next_cursor}")


__all__ = ["meter", "price", "usage"]

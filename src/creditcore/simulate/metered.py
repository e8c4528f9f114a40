"""The billing tables of a scenario: ``[[meters]]`` and ``[[prices]]``.

A meter is what metered usage (``[[usage]]`` with ``meter = "<id>"``) records its
quantities to; a price turns a meter's quantity in a billing period into an
invoice line in the scenario's unit. Every mistake is refused as the other tables' are: one
line naming the table, the key and the line of the file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from creditcore.billing.values import MAX_METER_ID_LENGTH, MAX_QUANTITY_PLACES, MODELS, PriceModel, Tier, meter_scope
from creditcore.errors import ValidationError
from creditcore.simulate.fields import _exact, _identifier, _integer, _name
from creditcore.simulate.model import MeterRule, PriceRule
from creditcore.simulate.reading import ScenarioError, _array, _kind, _Loader, _Problem, _Table, locate

__all__ = ["AGGREGATIONS", "read_meters", "read_prices"]

#: The aggregations a simulated meter may have: each event has a value, and no unique key.
AGGREGATIONS = ("sum", "count", "max", "latest")
#: What a price's scope for its meter's invoice lines looks like: ``meter:<id>``.


def _aggregation(value: object) -> str:
    if value == "unique_count":
        raise _Problem('"unique_count" is not simulated (the simulated events carry no unique key): use "count"')
    if not isinstance(value, str) or value not in AGGREGATIONS:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise _Problem(f"must be one of {', '.join(map(repr, AGGREGATIONS))}, got {shown}")
    return value


def _meter_id(value: object) -> str:
    ident = _identifier(value)
    if len(ident) > MAX_METER_ID_LENGTH:
        raise _Problem(
            f"is {len(ident)} characters long; a meter's id may have {MAX_METER_ID_LENGTH} (its invoice lines "
            f"burn with the scope {meter_scope('<id>')})"
        )
    return ident


def read_meters(loader: _Loader, data: dict[str, Any]) -> list[MeterRule]:
    """The ``[[meters]]`` tables: ``id``, ``name``, ``event``, ``aggregation``, ``scale``."""
    meters: list[MeterRule] = []
    ids: dict[str, int] = {}
    events: dict[str, int] = {}
    for number, table in enumerate(_array(loader, data, "meters"), start=1):
        ident = table.need("id", _meter_id, " (the meter's id, which [[prices]] and [[usage]] name)")
        if ident in ids:
            raise table.fail("id", f"meter {ident!r} is declared twice (meters #{ids[ident]})")
        event = table.get("event", _identifier, ident)
        if event in events:
            raise table.fail("event", f"the event name {event!r} is taken by meters #{events[event]}")
        scale = table.get("scale", _integer, 0)
        if not 0 <= scale <= MAX_QUANTITY_PLACES:
            raise table.fail("scale", f"must be between 0 and {MAX_QUANTITY_PLACES}, got {scale}")
        meter = MeterRule(
            id=ident,
            line=locate(loader.text, table.path),
            name=table.get("name", _name, ident),
            event_name=event,
            aggregation=table.get("aggregation", _aggregation, "sum"),
            scale=scale,
        )
        table.done()
        ids[ident] = number
        events[event] = number
        meters.append(meter)
    return meters


def meter_index(meters: Sequence[MeterRule]) -> Callable[[object], int]:
    """A parser of a ``meter`` key: the index of the meter it names."""
    where = {meter.id: i for i, meter in enumerate(meters)}

    def index(value: object) -> int:
        ident = _identifier(value)
        if ident not in where:
            known = f"; meters: {', '.join(where)}" if where else ": the scenario declares no [[meters]]"
            raise _Problem(f"no meter {ident!r}{known}")
        return where[ident]

    return index


def read_prices(loader: _Loader, data: dict[str, Any], meters: Sequence[MeterRule], unit: str) -> list[PriceRule]:
    """The ``[[prices]]`` tables: ``meter``, ``model``, ``unit``, ``unit_price``, ``tiers``,
    ``package_size``, ``package_price``, ``free_units``; one per meter."""
    prices: list[PriceRule] = []
    priced: dict[int, int] = {}
    index = meter_index(meters)
    for number, table in enumerate(_array(loader, data, "prices"), start=1):
        meter = table.need("meter", index, " (the id of the [[meters]] table it prices)")
        if meter in priced:
            raise table.fail("meter", f"meter {meters[meter].id!r} has a price already (prices #{priced[meter]})")
        model = table.get("model", _model, "per_unit")
        given = table.get("unit", _identifier, unit)
        if given != unit:
            raise table.fail(
                "unit", f"must be the scenario's unit {unit!r}: its credit pays the invoices, got {given!r}"
            )
        arguments: dict[str, Any] = {
            name: table.get(name, _exact, None) for name in ("unit_price", "package_size", "package_price")
        }
        arguments["free_units"] = table.get("free_units", _exact, Decimal(0))
        arguments["tiers"] = table.get("tiers", functools.partial(_tiers, loader, table), None)
        try:
            shape = PriceModel(model, **arguments)
        except ValidationError as problem:
            raise _placed(loader, table, problem) from None
        prices.append(PriceRule(line=locate(loader.text, table.path), meter=meter, model=shape))
        table.done()
        priced[meter] = number
    return prices


def _model(value: object) -> str:
    if not isinstance(value, str) or value not in MODELS:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise _Problem(f"must be one of {', '.join(map(repr, MODELS))}, got {shown}")
    return value


def _tiers(loader: _Loader, price: _Table, value: object) -> tuple[Tier, ...]:
    """``tiers = [{ up_to = 1000, unit_price = "0.01" }, ..., { unit_price = "0.005" }]``: each
    tier a table of ``up_to`` (left out on the last tier: no bound), ``unit_price`` and
    ``flat_fee``."""
    if not isinstance(value, list) or not value:
        raise _Problem(
            f'expected a non-empty array of tables such as [{{ up_to = 1000, unit_price = "0.01" }}, '
            f'{{ unit_price = "0.005" }}], got {_kind(value) if value != [] else "an empty array"}'
        )
    tiers: list[Tier] = []
    for position, item in enumerate(value):
        tier = _Table(loader, item, (*price.path, "tiers", position))
        up_to = tier.get("up_to", _exact, None)
        if up_to is None and position != len(value) - 1:
            raise loader.error(
                tier.path,
                f"only the last tier may leave out up_to (no bound); tier {position + 1} of {len(value)} does",
            )
        unit_price = tier.need("unit_price", _exact)
        flat_fee = tier.get("flat_fee", _exact, Decimal(0))
        try:
            tiers.append(Tier(up_to, unit_price, flat_fee=flat_fee))
        except ValidationError as problem:
            raise _placed(loader, tier, problem) from None
        tier.done()
    return tuple(tiers)


def _placed(loader: _Loader, table: _Table, problem: ValidationError) -> ScenarioError:
    """A refusal of the billing values, at the key it names (the table itself when that key
    is missing: "a graduated price needs tiers")."""
    if table.has(problem.field):
        return table.fail(problem.field, problem.message)
    return loader.error(table.path, problem.message)

"""What billing's namespaces share: the ledger's context, a transaction or a reader on its
store, times and zones (a ``date`` is local midnight in the customer's zone), the JSON
documents objects are stored as, and the comparison that makes a caller id replay."""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from creditcore.billing.repository import BillingObject, BillingReader, BillingWriter
from creditcore.core import profiles
from creditcore.errors import IdempotencyConflict, ValidationError
from creditcore.service.context import Context
from creditcore.values import canonical, parse_time

#: How far after ``at`` an event's timestamp may be (5 minutes): clocks differ a little.
EVENT_CLOCK_SKEW_SECONDS = 300


class Part:
    """The plumbing of one namespace over the ledger's context (``_ctx``, as the ``Ledger``
    keeps it, so :func:`creditcore.service.context.write` runs its writes)."""

    def __init__(self, ctx: Context, zone: str) -> None:
        self._ctx = ctx
        self._zone = zone

    @contextmanager
    def writing(self) -> Iterator[tuple[Any, BillingWriter]]:
        """The caller's batch's unit of work inside ``atomic()``, else a transaction of its
        own, and billing's rows in it."""
        with self._ctx.transaction() as uow:
            yield uow, uow.billing()

    @contextmanager
    def reading(self) -> Iterator[tuple[Any, BillingReader]]:
        with self._ctx.reader() as reader:
            yield reader, reader.billing()

    def write_time(self, at: object) -> datetime:
        """The time of a write that writes no ledger entry (a meter, a price, meter events):
        ``at`` or now, checked against ``future_tolerance`` only, never against the customer's
        last write (which only writes of ledger entries move)."""
        when = None if at is None else parse_time(at, "at")
        self._ctx.check_future(when)
        return when if when is not None else self._ctx.now()

    def read_time(self, at: object) -> datetime:
        return self._ctx.now() if at is None else parse_time(at, "at")

    def zone_of(self, reader: Any, customer: str | None, at: datetime) -> str:
        """A customer's zone: its profile's ``timezone`` at ``at``, else the Billing's."""
        if customer is not None:
            version = profiles.at_time(reader.profiles(customer), at)
            if version is not None and version.timezone is not None:
                return version.timezone
        return self._zone

    def instant(self, value: object, field: str, zone: str) -> datetime:
        """A time as billing takes it: an aware ``datetime``, or a ``date`` meaning 00:00 local
        in ``zone``."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time(), ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))
        return parse_time(value, field)


# -- documents ---------------------------------------------------------------------------------
#
# A document is JSON. An attrs value is ``{"$Class": {field: value}}``; each field is written as
# its declared type says (a ``Decimal`` as its exact text, a time in ISO form, a set as a sorted
# list) and read back the same way. A value whose type the field does not say (the arguments a
# call was made with, ``Mapping[str, object]``) carries a tag of its own: ``{"$decimal": ...}``,
# ``{"$time": ...}``, ``{"$set": [...]}``; reading accepts a tag in a typed field too (documents
# were once written with every value tagged). A mapping's key that could read as a tag gets one
# more ``$`` (``"$$decimal"``), taken off when it is read.


def _tagged(value: object) -> object:
    """What the JSON encoder cannot write itself, tagged (it calls this for each such value):
    exact decimals, aware times, sets, attrs values by class name."""
    kind = type(value)
    if kind is Decimal:
        return {"$decimal": str(value)}  # exactly as given: 2.50 reads back as 2.50
    if kind is datetime:
        return {"$time": value.isoformat()}  # type: ignore[attr-defined]
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(value)}
    if isinstance(value, Mapping):
        return _mapping(value)
    fields = _fields(kind)  # type: ignore[arg-type]  # a class is hashable
    if fields is None:
        raise TypeError(f"a billing document cannot hold a {kind.__name__}")
    return {
        "$" + kind.__name__: {
            name: getattr(value, name) if write is None else write(getattr(value, name)) for name, write, _ in fields
        }
    }


def _field(value: object) -> object:
    return _mapping(value) if type(value) is dict else value


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping as a JSON object; a key that could read as a tag (``$...``) gets one more
    ``$``, taken off when it is read."""
    return {("$" + key if key[:1] == "$" else key): _field(v) for k, v in value.items() for key in (str(k),)}


def _unescaped(found: dict[str, Any]) -> dict[str, Any]:
    return {(key[1:] if key[:2] == "$$" else key): v for key, v in found.items()}


def _optional(convert: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda value: None if value is None else convert(value)


def _read_decimal(value: object) -> object:
    return Decimal(value) if type(value) is str else value  # a tagged one is read already


def _read_time(value: object) -> object:
    return datetime.fromisoformat(value) if type(value) is str else value


def _read_set(value: object) -> object:
    return frozenset(value) if type(value) is list else value


def _read_tuple(value: object) -> object:
    return tuple(value) if type(value) is list else value


_Convert = Callable[[Any], object]
_Codec = tuple[_Convert | None, _Convert | None]
#: How a field of each declared type is written and read (``X | None`` writes ``None`` as is;
#: ``None``: as it is).
_TYPED: dict[object, tuple[_Convert, _Convert]] = {
    Decimal: (str, _read_decimal),
    datetime: (datetime.isoformat, _read_time),
    frozenset[str]: (sorted, _read_set),
}


def _codec(hint: object) -> _Codec:
    """How a field of type ``hint`` is written and read; a type this table does not know is
    written tagged, as the JSON encoder meets its values."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    optional = isinstance(hint, types.UnionType) and len(args) == 1
    inner = args[0] if optional else hint
    if inner in _TYPED:
        write, read = _TYPED[inner]
        return (_optional(write), read) if optional else (write, read)
    if typing.get_origin(inner) is tuple:
        return None, _read_tuple  # its items are written as they come (an attrs value by its class)
    if inner in (str, int, bool) or typing.get_origin(inner) is typing.Literal:
        return None, None  # JSON's own
    return _field, None


@functools.cache
def _fields(kind: type) -> tuple[tuple[str, _Convert | None, _Convert | None], ...] | None:
    """The fields of an attrs class, in order, with how each is written and read (``None``
    for any other class)."""
    if not attrs.has(kind):
        return None
    hints = typing.get_type_hints(kind)
    return tuple((f.name, *_codec(hints[f.name])) for f in attrs.fields(kind))


def body(value: object) -> str:
    """An attrs value as the JSON document its row holds (exact decimals, aware times)."""
    return json.dumps(value, default=_tagged, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _hook(kinds: Mapping[str, type], escaped: bool) -> Callable[[dict[str, Any]], object]:
    """What each JSON object of a document reads back as (innermost first; ``escaped``: the
    document has keys written with one more ``$``)."""

    def read(found: dict[str, Any]) -> object:
        if len(found) != 1:
            return _unescaped(found) if escaped else found
        ((tag, inner),) = found.items()
        if tag[:1] != "$":
            return found
        if tag[:2] == "$$":
            return {tag[1:]: inner}
        if tag == "$decimal":
            return Decimal(inner)
        if tag == "$time":
            return datetime.fromisoformat(inner)
        if tag == "$set":
            return frozenset(inner)
        if tag == "$map":  # how a mapping with such keys was once written
            return inner
        kind = kinds.get(tag[1:])
        if kind is None:
            return found
        fields = _fields(kind)
        assert fields is not None
        return kind(
            **{
                name: inner[name] if convert is None else convert(inner[name])
                for name, _, convert in fields
                if name in inner
            }
        )

    return read


def read_body(text: str, *types: type) -> Any:
    """The value a document holds, built from the attrs classes named in it (``types``).

    The values are frozen, so one document read twice gives back the same object (the last
    few thousand are kept: an invoice reads every meter and price of the store)."""
    return _decoded(text, types)


@functools.lru_cache(maxsize=4096)
def _decoded(text: str, types: tuple[type, ...]) -> Any:
    return json.loads(text, object_hook=_hook({t.__name__: t for t in types}, '"$$' in text))


def check_replay(
    kind: str,
    stored: BillingObject,
    types: tuple[type, ...],
    caller_id: str,
    given: Mapping[str, object],
    *,
    within: str | None = None,
) -> None:
    """A caller id given again (``meter_id``, ``price_id``, ...): the same arguments replay,
    others raise ``IdempotencyConflict`` naming the first that differs. The stored object's
    fields are compared (its document read with ``types``), or those of its member ``within``
    (the arguments it keeps)."""
    first = read_body(stored.body, *types)
    if within is not None:
        first = getattr(first, within)
    for field, value in given.items():
        was = first.get(field) if isinstance(first, Mapping) else getattr(first, field, None)
        if _json(json.loads(body(was))) != _json(json.loads(body(value))):
            raise IdempotencyConflict(caller_id, field, f"{kind} {caller_id!r} was made with another {field}")


def _json(value: object) -> str:
    """A document's member in a form equal numbers share (1.5 and 1.50 alike)."""
    return json.dumps(_same(value), sort_keys=True)


def _same(value: object) -> object:
    if isinstance(value, list):
        return [_same(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and "$decimal" in value:
            return {"$decimal": canonical(Decimal(value["$decimal"]))}
        return {k: _same(v) for k, v in value.items()}
    return value


def need(value: object, field: str) -> None:
    """A required argument left out (``None``)."""
    if value is None:
        raise ValidationError(field, "is required")

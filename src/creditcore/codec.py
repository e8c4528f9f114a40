"""A write's result as JSON text and back, exactly (``decode_result(encode_result(r)) == r``):
for an app that passes results between processes or keeps them (the crash tests hand them
from a child to its parent this way). Idempotency records do not keep results: they keep the
figures a replay rebuilds one from (see :mod:`creditcore.service.results`)."""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from creditcore.model import (
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    GrantResult,
    HoldResult,
    RefundResult,
    ReleaseResult,
    Result,
    ReverseResult,
    VoidResult,
)

__all__ = ["RESULT_TYPES", "decode_result", "encode_result"]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


RESULT_TYPES: dict[str, type[Result]] = {
    cls.__name__: cls
    for cls in (
        GrantResult,
        BurnResult,
        HoldResult,
        CaptureResult,
        ReleaseResult,
        VoidResult,
        ReverseResult,
        RefundResult,
        ChangeExpiryResult,
    )
}


def encode_result(result: Result) -> str:
    """A write's result as JSON text with a ``"type"`` tag: ``Decimal`` as strings,
    ``datetime`` as ISO 8601, nested blocks, holds and entries as objects.

    ``decode_result(encode_result(r)) == r`` for every result a ledger returns.
    """
    name = type(result).__name__
    if RESULT_TYPES.get(name) is not type(result):
        raise TypeError(f"cannot store a {name}: only the result classes of creditcore.model are known")
    fields = _to_json(result)
    assert isinstance(fields, dict)
    return _json({"type": name, **fields})


def decode_result(text: str) -> Result:
    """The result that :func:`encode_result` turned into ``text``."""
    data = json.loads(text)
    name = data.pop("type")
    cls = RESULT_TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown result type {name!r}")
    decoded = _from_json(cls, data)
    assert isinstance(decoded, Result)
    return decoded


def _to_json(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: _to_json(getattr(value, f.name)) for f in attrs.fields(typing.cast(Any, type(value)))}
    if isinstance(value, (frozenset, set)):
        return sorted(_to_json(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__} in a result")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(hint: Any, value: Any) -> Any:
    """``value`` read back as the type ``hint`` names (the field annotations of the model)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is types.UnionType or origin is typing.Union:
        (chosen,) = (a for a in args if a is not type(None))
        return _from_json(chosen, value)
    if hint is Decimal:
        return Decimal(_expect(value, str))
    if hint is datetime:
        return datetime.fromisoformat(_expect(value, str))
    if hint in (str, int, bool):
        return _expect(value, hint)
    if origin is tuple:
        items = _expect(value, list)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in items)
        return tuple(_from_json(a, v) for a, v in zip(args, items, strict=True))
    if origin is frozenset:
        return frozenset(_from_json(args[0], v) for v in _expect(value, list))
    if origin in (Mapping, dict):
        return {k: _from_json(args[1], v) for k, v in _expect(value, dict).items()}
    if isinstance(hint, type) and attrs.has(hint):
        data = _expect(value, dict)
        hints = _hints(hint)
        return hint(**{f.alias: _from_json(hints[f.name], data[f.name]) for f in attrs.fields(hint) if f.init})
    raise TypeError(f"cannot read back a value of type {hint!r}")


_V = TypeVar("_V")


def _expect(value: object, kind: type[_V]) -> _V:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected a {kind.__name__}, found {value!r}")
    return value

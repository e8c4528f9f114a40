"""Billing's stored documents (``creditcore.billing.common``): every value reads back equal and
exactly as written (a decimal's places, a time's offset, metadata whose keys look like tags),
documents written before fields were typed (each decimal, time and set tagged) still read, and
a caller id given again compares the arguments by value, not by how they are written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore.billing.common import body, check_replay, read_body
from creditcore.billing.invoices import TYPES, Purchase, Stored
from creditcore.billing.model import Invoice, Line, Meter
from creditcore.billing.repository import BillingObject
from creditcore.errors import IdempotencyConflict

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.builds(
    lambda digits, exponent: Decimal(f"{digits}E{exponent}"), st.integers(-(10**20), 10**20), st.integers(-30, 30)
)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])
)
names = st.text(min_size=1, max_size=12)
# keys a reader could take for tags: "$decimal", "$map", "$Line", ...
keys = names | st.sampled_from(["$decimal", "$time", "$set", "$map", "$Line", "$", "$$"])
metadata = st.dictionaries(keys, names, max_size=4)


lines = st.builds(
    Line,
    id=names,
    kind=st.sampled_from(["usage", "charge", "purchase"]),
    meter_id=st.none() | names,
    price_id=st.none() | names,
    product_id=st.none() | names,
    description=st.none() | names,
    quantity=st.none() | decimals,
    amount=decimals,
    discount=decimals,
    tax=decimals,
    credit_applied=decimals,
    scopes=st.none() | st.frozensets(names, min_size=1, max_size=3),
    burn_op_id=st.none() | names,
)

invoices = st.builds(
    Invoice,
    id=names,
    number=st.none() | names,
    customer=names,
    kind=st.sampled_from(["period", "charge", "purchase"]),
    status=st.sampled_from(["draft", "issued", "paid", "void"]),
    unit=names,
    start=st.none() | times,
    end=st.none() | times,
    plan=st.none() | names,
    tax_rate=st.none() | decimals,
    lines=st.lists(lines, max_size=3).map(tuple),
    subtotal=decimals,
    discount=decimals,
    tax=decimals,
    total=decimals,
    credit_applied=decimals,
    amount_due=decimals,
    voucher_id=st.none() | names,
    memo=st.none() | names,
    metadata=metadata,
    created_at=times,
    issued_at=st.none() | times,
    paid_at=st.none() | times,
)

purchases = st.builds(
    Purchase,
    amount=decimals,
    unit=names,
    cost_basis=decimals,
    expires_at=st.none() | times,
    priority=st.integers(0, 100),
    scope=st.none() | st.frozensets(names, min_size=1, max_size=3),
    block_id=st.none() | names,
)

# what a call was made with: no field type says what each value is
arguments = st.dictionaries(
    keys, st.none() | names | decimals | times | st.frozensets(names, max_size=3) | metadata, max_size=5
)
stored = st.builds(Stored, invoice=invoices, given=arguments, purchase=st.none() | purchases)


def _plain_keys(value: Stored) -> bool:
    """No mapping with a key like a tag: a document written before fields were typed wrapped
    such a mapping, which its reader could not tell apart from a tag once inside it."""
    maps = [value.given, value.invoice.metadata, *(v for v in value.given.values() if isinstance(v, dict))]
    return not any(str(k)[:1] == "$" for m in maps for k in m)


def _same_places(a: object, b: object) -> None:
    """Equal, and every decimal written with the same digits (2.50 stays 2.50)."""
    assert a == b
    assert body(a) == body(b)


@settings(max_examples=60, deadline=None)
@given(stored)
def test_a_document_reads_back_equal_and_exact(value: Stored) -> None:
    text = body(value)
    back = read_body(text, *TYPES)
    _same_places(back, value)
    for line, was in zip(back.invoice.lines, value.invoice.lines, strict=True):
        assert str(line.amount) == str(was.amount)
        assert line.scopes == was.scopes
    assert back.invoice.created_at.utcoffset() == value.invoice.created_at.utcoffset()
    assert dict(back.invoice.metadata) == dict(value.invoice.metadata)
    assert dict(back.given).keys() == dict(value.given).keys()


def _tag_everything(value: object) -> object:
    """The document as it was written before fields were typed: each decimal, time and set
    tagged, and a mapping whose keys look like tags wrapped."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, frozenset):
        return {"$set": sorted(value)}
    if isinstance(value, (Stored, Invoice, Line, Purchase)):
        import attrs

        return {
            "$" + type(value).__name__: {
                f.name: _tag_everything(getattr(value, f.name)) for f in attrs.fields(type(value))
            }
        }
    if isinstance(value, tuple):
        return [_tag_everything(v) for v in value]
    if hasattr(value, "items"):
        return {str(k): _tag_everything(v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


@settings(max_examples=40, deadline=None)
@given(stored.filter(_plain_keys))
def test_a_document_written_with_every_value_tagged_still_reads(value: Stored) -> None:
    old = json.dumps(_tag_everything(value), sort_keys=True)
    _same_places(read_body(old, *TYPES), value)


WHEN = datetime(2030, 1, 1, tzinfo=UTC)


def _invoice(**changes: object) -> Invoice:
    zero = Decimal("0.00")
    fields: dict[str, object] = {
        "id": "inv_1", "number": None, "customer": "ada", "kind": "period", "status": "draft", "unit": "usd",
        "start": WHEN, "end": WHEN, "plan": None, "tax_rate": None, "lines": (), "subtotal": zero, "discount": zero,
        "tax": zero, "total": zero, "credit_applied": zero, "amount_due": zero, "voucher_id": None, "memo": None,
        "metadata": {}, "created_at": WHEN,
    }  # fmt: skip
    return Invoice(**{**fields, **changes})  # type: ignore[arg-type]


def test_typed_fields_are_written_plain_and_untyped_ones_tagged() -> None:
    value = Stored(
        invoice=_invoice(tax_rate=Decimal("7.50"), metadata={"$decimal": "1"}),
        given={"tax_rate": Decimal("7.50"), "start": WHEN},
    )
    document = json.loads(body(value))["$Stored"]
    assert document["invoice"]["$Invoice"]["tax_rate"] == "7.50"
    assert document["invoice"]["$Invoice"]["start"] == WHEN.isoformat()
    assert document["invoice"]["$Invoice"]["metadata"] == {"$$decimal": "1"}
    assert document["given"] == {"tax_rate": {"$decimal": "7.50"}, "start": {"$time": WHEN.isoformat()}}
    assert read_body(body(value), *TYPES) == value


def _meter_object(**changes: object) -> BillingObject:
    fields: dict[str, object] = {
        "id": "m1", "name": "tokens", "event_name": "tokens", "aggregation": "sum", "dimensions": ("model",),
        "scale": 2, "description": None, "metadata": {}, "created_at": WHEN,
    }  # fmt: skip
    fields.update(changes)
    meter = Meter(**fields)  # type: ignore[arg-type]
    return BillingObject(kind="meter", id="m1", body=body(meter))


@pytest.mark.parametrize(
    "old_document",
    [False, True],
    ids=["typed", "tagged"],
)
def test_a_caller_id_given_again_compares_values_not_their_writing(old_document: bool) -> None:
    found = _meter_object()
    if old_document:
        found = BillingObject(
            kind="meter", id="m1", body=json.dumps(_tag_everything_meter(read_body(found.body, Meter)), sort_keys=True)
        )
    same = {"name": "tokens", "aggregation": "sum", "dimensions": ("model",), "scale": 2}
    check_replay("meter", found, (Meter,), "m1", same)  # replays
    check_replay("meter", found, (Meter,), "m1", {"dimensions": ["model"]})  # a list is the same sequence
    for field, other in [("name", "calls"), ("scale", 3), ("dimensions", ("region",)), ("description", "x")]:
        with pytest.raises(IdempotencyConflict) as caught:
            check_replay("meter", found, (Meter,), "m1", {**same, field: other})
        assert caught.value.field == field


def _tag_everything_meter(meter: Meter) -> object:
    import attrs

    return {
        "$Meter": {
            f.name: {"$time": v.isoformat()} if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
            for f in attrs.fields(Meter)
            for v in [getattr(meter, f.name)]
        }
    }


def test_a_given_decimal_replays_whatever_its_places() -> None:
    stored = Stored(invoice=_invoice(), given={"tax_rate": Decimal("7.5"), "start": WHEN})
    found = BillingObject(kind="invoice", id="inv_1", body=body(stored))
    check_replay("invoice", found, TYPES, "inv_1", {"tax_rate": Decimal("7.50"), "start": WHEN}, within="given")
    with pytest.raises(IdempotencyConflict) as caught:
        check_replay("invoice", found, TYPES, "inv_1", {"tax_rate": Decimal("7.51")}, within="given")
    assert caught.value.field == "tax_rate"

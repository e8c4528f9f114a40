"""Text on the SQLite adapter: any text the ledger accepts is stored and read back exactly
(every plane of Unicode, combining marks, NUL, bidi controls) in every place text goes — ids,
units, scopes, keys, hold ids, descriptions, metadata; text it cannot store (a lone
surrogate such as ``"\\udcff"``, which has no UTF-8 form) is refused as ValidationError naming
the argument, as on every adapter, and nothing is written. The adapter itself never lets a
raw UnicodeEncodeError out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creditcore import Ledger, StorageError, ValidationError
from creditcore.adapters.sqlite import SQLiteRepository
from creditcore.repository import EntryQuery
from creditcore.testing.contract import START, ManualClock, snapshot

BAD = "\udcff"
ODD = ("\U0001f600", "e\u0301", "\u202eevil", "a\x00b", "\ufeff", "\u0000", "\U0010fffd", "日本語")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    opened = Ledger.sqlite(path, clock=ManualClock(), units={"usd": 2})
    opened.grant("ada", 10)
    opened.grant("ada", 5, scope=["ok"])
    opened.hold("ada", 1, hold_id="h1")
    yield opened
    opened.close()


def file_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


Call = Callable[[Ledger, str], Any]
CALLS: dict[str, tuple[str, Call]] = {
    # name: (the field the error names, the call with the text in one place)
    "grant customer": ("customer", lambda lg, t: lg.grant(t, 1)),
    "grant unit": ("unit", lambda lg, t: lg.grant("ada", 1, unit=t)),
    "define_unit": ("unit", lambda lg, t: lg.define_unit(t, 2)),
    "grant key": ("idempotency_key", lambda lg, t: lg.grant("ada", 1, idempotency_key=t)),
    "grant description": ("description", lambda lg, t: lg.grant("ada", 1, description=t)),
    "grant metadata key": ("metadata", lambda lg, t: lg.grant("ada", 1, metadata={t: "v"})),
    "grant metadata value": ("metadata", lambda lg, t: lg.grant("ada", 1, metadata={"k": t})),
    "grant scope": ("scope", lambda lg, t: lg.grant("ada", 1, scope=["ok", t])),
    "burn customer": ("customer", lambda lg, t: lg.burn(t, 1, overdraft="debt")),
    "burn scope": ("scope", lambda lg, t: lg.burn("ada", 1, scope=t, overdraft="partial")),
    "burn key": ("idempotency_key", lambda lg, t: lg.burn("ada", 1, idempotency_key=t)),
    "burn description": ("description", lambda lg, t: lg.burn("ada", 1, description=t)),
    "hold id": ("hold_id", lambda lg, t: lg.hold("ada", 1, hold_id=t)),
    "hold metadata": ("metadata", lambda lg, t: lg.hold("ada", 1, hold_id="h2", metadata={"k": t})),
    "capture of a hold id": ("hold_id", lambda lg, t: lg.capture(t, 1)),
    "release of a hold id": ("hold_id", lambda lg, t: lg.release(t)),
    "void reason": ("reason", lambda lg, t: lg.void(lg.blocks("ada")[0].id, 1, reason=t)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_lone_surrogate_is_refused_as_validation_error_and_nothing_is_written(
    ledger: Ledger, path: Path, name: str
) -> None:
    field, call = CALLS[name]
    before, stored = snapshot(ledger), file_bytes(path)
    with pytest.raises(ValidationError) as raised:
        call(ledger, f"x{BAD}y")
    assert raised.value.field is not None and raised.value.field.startswith(field), raised.value.field
    assert snapshot(ledger) == before
    assert file_bytes(path) == stored


@pytest.mark.parametrize(
    "read",
    [
        lambda lg: lg.balance(BAD),
        lambda lg: lg.blocks(BAD),
        lambda lg: lg.get_hold(BAD),
        lambda lg: lg.entries(customer=BAD),
        lambda lg: lg.balance("ada", unit=BAD),
    ],
)
def test_a_read_with_a_lone_surrogate_is_validation_error(ledger: Ledger, read: Callable[[Ledger], Any]) -> None:
    with pytest.raises(ValidationError):
        read(ledger)


@pytest.mark.parametrize("text", ODD, ids=ascii)
def test_any_text_the_ledger_accepts_is_stored_and_read_back_exactly(path: Path, text: str) -> None:
    clock = ManualClock()
    ledger = Ledger.sqlite(path, clock=clock)
    try:
        ledger.define_unit(text, 2)
        granted = ledger.grant(
            text, "1.25", unit=text, scope=[text], description=text, metadata={text: text}, idempotency_key=text
        )
        ledger.hold(text, "0.25", unit=text, scope=text, hold_id=text, description=text, metadata={"k": text})
        ledger.burn(text, "0.50", unit=text, scope=text, idempotency_key=f"b{text}", description=text)
        clock.advance(timedelta(minutes=1))
        before = snapshot(ledger)
    finally:
        ledger.close()
    again = Ledger.sqlite(path, clock=clock)
    try:
        assert snapshot(again) == before
        assert again.units()[text] == 2
        assert again.grant(text, "1.25", unit=text, scope=[text], description=text, metadata={text: text},
                           idempotency_key=text).replayed  # fmt: skip
        assert again.get_hold(text).metadata == {"k": text}
        (block,) = again.blocks(text, unit=text)
        assert block.id == granted.block.id and block.scope == frozenset({text}) and block.description == text
        balance = again.balance(text, unit=text)
        assert (balance.held, balance.used) == (Decimal("0.25"), Decimal("0.50"))
        assert [e.description for e in again.entries(customer=text).items] == [text, text, text]
        assert again.verify().ok
    finally:
        again.close()


def test_the_adapter_never_lets_a_unicode_error_out(path: Path) -> None:
    """Called directly, with text no ledger passes on: StorageError, never UnicodeEncodeError."""
    repository = SQLiteRepository(path)
    try:
        with repository.reader() as reader:
            for read in (
                lambda: reader.load_account(BAD),
                lambda: reader.history(BAD),
                lambda: reader.find_block(BAD),
                lambda: reader.find_hold(BAD),
                lambda: reader.find_operation("key", BAD),
                lambda: reader.list_entries(EntryQuery(customer=BAD)),
                lambda: reader.past_history(BAD, START),
            ):
                with pytest.raises(StorageError) as raised:
                    read()
                assert isinstance(raised.value.__cause__, UnicodeError)
        with pytest.raises(StorageError), repository.transaction() as uow:
            uow.add_unit(BAD, 2)
        with repository.reader() as reader:
            assert reader.units() == {}
    finally:
        repository.close()

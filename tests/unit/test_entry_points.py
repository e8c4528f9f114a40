"""The typed entry points: ``Ledger.memory``, ``Ledger.sqlite`` and ``Ledger.postgres`` take
``Ledger``'s own options by name, so a misspelt one fails ``mypy --strict`` and raises
``TypeError`` before any store is opened; and a ledger closes itself at the end of a ``with``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

import creditcore.adapters.postgres
from creditcore import BurnOrder, InsufficientCredits, Ledger, StorageError, ValidationError
from creditcore.adapters.memory import MemoryRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BOGUS_DSN = "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=1"
CONSTRUCTORS: dict[str, Callable[..., Ledger]] = {
    "memory": Ledger.memory,
    "sqlite": Ledger.sqlite,
    "postgres": Ledger.postgres,
}


def _options() -> dict[str, inspect.Parameter]:
    """``Ledger.__init__``'s options: every parameter but ``self`` and the repository."""
    parameters = list(inspect.signature(Ledger.__init__).parameters.values())
    return {p.name: p for p in parameters[2:]}


# -- the four signatures agree ---------------------------------------------------------------


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_each_constructor_takes_every_option_of_the_ledger_with_its_default_and_type(name: str) -> None:
    constructor = inspect.signature(CONSTRUCTORS[name]).parameters
    for option, expected in _options().items():
        assert option in constructor, f"Ledger.{name} lacks the option {option!r}"
        actual = constructor[option]
        assert actual.kind is inspect.Parameter.KEYWORD_ONLY, f"Ledger.{name}({option}) is not keyword-only"
        assert actual.default == expected.default, f"Ledger.{name}({option}) defaults to {actual.default!r}"
        if name == "postgres" and option == "clock":
            # the one widening: clock="database" reads the server's clock
            assert set(str(expected.annotation).split(" | ")) < set(str(actual.annotation).split(" | "))
            assert "Literal['database']" in str(actual.annotation).replace('"', "'")
        else:
            assert actual.annotation == expected.annotation, f"Ledger.{name}({option}) is typed {actual.annotation}"


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_no_constructor_takes_arbitrary_keywords(name: str) -> None:
    kinds = {p.kind for p in inspect.signature(CONSTRUCTORS[name]).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, f"Ledger.{name} still accepts **options"


# -- a misspelt option -----------------------------------------------------------------------

_TYPOS = """\
from creditcore import Ledger

Ledger.memory(units={"usd": 2}, future_tolerance=None)
Ledger.memory(unitz={"usd": 2})
Ledger.sqlite(":memory:", durability="normal", settle_debt=False)
Ledger.sqlite(":memory:", future_tolerence=None)
Ledger.postgres("postgresql://", clock="database", debt_limit=5)
Ledger.postgres("postgresql://", burnorder=None)
Ledger.postgres("postgresql://", clock="databse")
"""


def test_a_misspelt_option_fails_type_checking_and_a_correct_one_passes(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(_TYPOS)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")  # not the project's: only the snippet is checked, strictly
    out, err, _ = mypy_api.run(
        [str(snippet), "--strict", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    )
    errors = {
        int(line.split(":")[1]): line
        for line in out.splitlines()
        if line.startswith(str(snippet)) and ": error:" in line
    }
    assert set(errors) == {4, 6, 8, 9}, f"mypy reported on lines {sorted(errors)}, not 4, 6, 8 and 9:\n{out}{err}"
    assert '"unitz"' in errors[4]
    assert '"future_tolerence"' in errors[6]
    assert '"burnorder"' in errors[8]
    assert '"clock"' in errors[9]  # only the literal "database" is a clock


@pytest.mark.parametrize(
    "open_ledger",
    [
        lambda path: Ledger.memory(unitz={"usd": 2}),  # type: ignore[call-arg]
        lambda path: Ledger.sqlite(path, future_tolerence=None),  # type: ignore[call-arg]
        lambda path: Ledger.postgres(BOGUS_DSN, burnorder=None),  # type: ignore[call-arg]
    ],
    ids=["memory", "sqlite", "postgres"],
)
def test_a_misspelt_option_raises_type_error_before_any_store_is_opened(
    open_ledger: Callable[[Path], Ledger], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ledger.postgres connected before it checked its options")

    monkeypatch.setattr(creditcore.adapters.postgres, "PostgresRepository", no_connection)
    path = tmp_path / "ledger.db"
    with pytest.raises(TypeError, match=r"unitz|future_tolerence|burnorder"):
        open_ledger(path)
    assert not path.exists(), "Ledger.sqlite created its file before it checked its options"


def test_a_refused_option_closes_the_sqlite_store_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from creditcore.adapters.sqlite import SQLiteRepository

    closed: list[bool] = []
    close = SQLiteRepository.close

    def recording_close(self: SQLiteRepository) -> None:
        closed.append(True)
        close(self)

    monkeypatch.setattr(SQLiteRepository, "close", recording_close)
    with pytest.raises(ValidationError):
        Ledger.sqlite(tmp_path / "ledger.db", future_tolerance=timedelta(minutes=-1))
    assert closed == [True]


# -- every option reaches the ledger ---------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    opened: list[Ledger] = []

    def build(**options: Any) -> Ledger:
        if request.param == "memory":
            ledger = Ledger.memory(**options)
        else:
            ledger = Ledger.sqlite(tmp_path / f"l{len(opened)}.db", durability="normal", **options)
        opened.append(ledger)
        return ledger

    yield build
    for ledger in opened:
        ledger.close()


def test_the_clock_dates_writes_without_at(make: Callable[..., Ledger]) -> None:
    ledger = make(clock=lambda: T0 + timedelta(days=3))
    assert ledger.grant("ada", 5).block.created_at == T0 + timedelta(days=3)


def test_units_are_declared(make: Callable[..., Ledger]) -> None:
    ledger = make(clock=lambda: T0, units={"usd": 2})
    assert ledger.grant("ada", "1.25", unit="usd").block.remaining == Decimal("1.25")
    with pytest.raises(ValidationError):
        make(clock=lambda: T0).grant("ada", "1.25", unit="usd")  # not declared without the option


def test_the_burn_order_decides_which_block_burns(make: Callable[..., Ledger]) -> None:
    for order, burnt in ((None, "soon"), (BurnOrder.fifo(), "old")):
        ledger = make(clock=lambda: T0 + timedelta(hours=2), burn_order=order)
        blocks = {
            "old": ledger.grant("ada", 5, at=T0, expires_at=T0 + timedelta(days=30)).block.id,
            "soon": ledger.grant("ada", 5, at=T0 + timedelta(hours=1), expires_at=T0 + timedelta(days=2)).block.id,
        }
        ledger.burn("ada", 1, at=T0 + timedelta(hours=2))
        assert ledger.get_block(blocks[burnt]).remaining == 4, f"burn_order={order} burnt the wrong block"


def test_settle_debt_false_leaves_debt_after_a_grant(make: Callable[..., Ledger]) -> None:
    for settle, debt in ((True, 0), (False, 3)):
        ledger = make(clock=lambda: T0, settle_debt=settle)
        ledger.burn("ada", 3, overdraft="debt", at=T0)
        ledger.grant("ada", 10, at=T0)
        assert ledger.balance("ada", at=T0).debt == debt, f"settle_debt={settle}"


def test_the_debt_limit_caps_debt(make: Callable[..., Ledger]) -> None:
    ledger = make(clock=lambda: T0, debt_limit=10)
    ledger.burn("ada", 10, overdraft="debt", at=T0)
    with pytest.raises(InsufficientCredits):
        ledger.burn("ada", 1, overdraft="debt", at=T0)


def test_the_future_tolerance_is_honoured(make: Callable[..., Ledger]) -> None:
    ledger = make(clock=lambda: T0, future_tolerance=timedelta(minutes=1))
    assert ledger.future_tolerance == timedelta(minutes=1)
    ledger.grant("ada", 1, at=T0 + timedelta(seconds=59))
    with pytest.raises(ValidationError) as refused:
        ledger.grant("ada", 1, at=T0 + timedelta(minutes=2))
    assert refused.value.field == "at"


# -- the ledger as a context manager ---------------------------------------------------------


def test_a_with_block_closes_the_ledger(tmp_path: Path) -> None:
    with Ledger.sqlite(tmp_path / "ledger.db") as ledger:
        assert isinstance(ledger, Ledger)
        ledger.grant("ada", 5)
    with pytest.raises(StorageError, match="closed"):
        ledger.grant("ada", 1)
    with Ledger.sqlite(tmp_path / "ledger.db") as reopened:
        assert reopened.balance("ada").available == 5  # what was written inside stayed


def test_a_with_block_closes_the_ledger_when_it_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), Ledger.sqlite(tmp_path / "ledger.db") as ledger:
        ledger.grant("ada", 5)
        raise RuntimeError("boom")  # propagates: closing does not swallow it
    with pytest.raises(StorageError, match="closed"):
        ledger.grant("ada", 1)


def test_a_with_block_closes_any_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    repository = MemoryRepository()
    closed: list[bool] = []
    monkeypatch.setattr(repository, "close", lambda: closed.append(True))
    with Ledger(repository) as ledger:
        ledger.grant("ada", 1)
    assert closed == [True]

"""Scenario files: TOML in, a validated, frozen :class:`Scenario` out.

Every mistake raises :class:`ScenarioError` naming the key (``grants #2: expires_after``) and
the line of the file it sits on. ``tomllib`` keeps no positions, so :func:`locate` finds the
line in the source text: the n-th ``[[table]]`` header, then the key inside it.

Amounts are exact: an int, a numeric string or a TOML float taken as written (``4.99``),
turned into integer minor units of the scenario's unit. Only the random draws of a
distribution are floats, and each draw is rounded to the unit's precision at once.

The work a scenario may ask for is bounded before anything runs: about :data:`MAX_EVENTS`
events, :data:`MAX_CUSTOMERS` customers, times between :data:`FIRST_TIME` and
:data:`LAST_TIME` (every expiry, job end and timeline point included), durations of at
most :data:`MAX_DURATION_YEARS` years, amounts and per-customer totals that fit in a signed
64-bit number of minor units, replay files of at most :data:`MAX_EVENTS` rows of at most
:data:`MAX_REPLAY_LINE` bytes each.
"""

from __future__ import annotations

import calendar
import csv
import difflib
import functools
import math
import random
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar, cast

import attrs

from creditcore.errors import ValidationError
from creditcore.state import Overdraft
from creditcore.values import (
    CATEGORIES,
    DEFAULT_UNIT,
    MAX_MINOR,
    MAX_PRIORITY,
    MAX_TEXT_LENGTH,
    OVERDRAFT_MODES,
    parse_amount,
    parse_id,
)

#: The most events (grants, burns, job holds and their ends, replayed rows) a scenario may ask
#: for, estimated from its rates before it runs: about half an hour of simulation.
MAX_EVENTS = 100_000_000
#: The most customers a scenario may declare (a run keeps each one's account in memory:
#: about 1.5 KB each).
MAX_CUSTOMERS = 1_000_000
#: The longest duration a scenario may name.
MAX_DURATION_YEARS = 10_000
#: The earliest and latest time a simulation may reach (a day inside ``datetime``'s range, as
#: a ledger accepts): its start, its end, and every expiry, job end or void it makes.
FIRST_TIME = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LAST_TIME = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
#: The longest line of a replay file, in bytes.
MAX_REPLAY_LINE = 10_000
#: The largest sigma of a lognormal distribution (already 40 orders of magnitude of spread).
MAX_SIGMA = 10.0

T = TypeVar("T")
Path_ = tuple[str | int, ...]
"""Where a value sits: ``("grants", 1, "amount")`` is the amount of the second ``[[grants]]``."""


class ScenarioError(Exception):
    """A scenario (or the events file it replays) that cannot be simulated.

    ``str()`` is one line: ``file, line N: where: what is wrong``.
    """

    def __init__(self, source: str, line: int | None, where: str, message: str) -> None:
        at = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{at}: {where + ': ' if where else ''}{message}")
        self.source = source
        self.line = line
        self.where = where
        self.message = message


# -- durations and distributions -------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month|year)s?\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_LIMIT_OF = {"minute": 60 * 24 * 366, "hour": 24 * 366, "day": 366, "week": 53, "month": 12, "year": 1}


@attrs.frozen
class Duration:
    """A span such as ``"30 days"`` or ``"1 month"``; months and years follow the calendar."""

    months: int = 0
    seconds: int = 0
    text: str = ""

    def after(self, moment: datetime, times: int = 1) -> datetime:
        """``moment`` plus this span ``times`` times (months counted from ``moment``, so the
        31st of January plus one month is the 28th or 29th of February, plus two the 31st
        of March).

        Raises ``OverflowError`` (one line) when the result would fall after :data:`LAST_TIME`.
        """
        try:
            if self.months:
                total = moment.month - 1 + self.months * times
                year, month = moment.year + total // 12, total % 12 + 1
                day = min(moment.day, calendar.monthrange(year, month)[1])
                moment = moment.replace(year=year, month=month, day=day)
            found = moment + timedelta(seconds=self.seconds * times)
        except (OverflowError, ValueError):
            found = None
        if found is None or found > LAST_TIME:
            span = self.text or "the duration"
            if times != 1:
                span = f"{times} x {span}"
            raise OverflowError(
                f"{span} after {moment.isoformat()} is past {LAST_TIME.date().isoformat()}, "
                "the last date a simulation may reach"
            )
        return found

    @property
    def is_zero(self) -> bool:
        return not self.months and not self.seconds


def parse_duration(value: object) -> Duration:
    if not isinstance(value, str) or not (found := _DURATION.match(value)):
        raise ValueError(f'expected a duration such as "30 days", "12 hours" or "1 month", got {value!r}')
    digits, unit = found[1].lstrip("0") or "0", found[2]
    count = int(digits) if len(digits) <= 12 else None
    if count is None or count > MAX_DURATION_YEARS * _LIMIT_OF[unit]:
        shown = value.strip()[:40]
        raise ValueError(f"{shown!r} is longer than {MAX_DURATION_YEARS:,} years, the longest a scenario may use")
    if unit in ("month", "year"):
        return Duration(months=count * (12 if unit == "year" else 1), text=value.strip())
    return Duration(seconds=count * _SECONDS[unit], text=value.strip())


@attrs.frozen
class Distribution:
    """Where a random amount or ratio comes from.

    ``fixed`` (``value``), ``uniform`` (``min``, ``max``), ``lognormal`` (``median``,
    ``sigma``, optional ``max`` cap) or ``beta`` (``a``, ``b``; ratios only).
    """

    kind: str
    a: float = 0.0
    b: float = 0.0
    cap: float | None = None
    exact: int | None = None
    """A fixed amount in minor units: no float is involved."""

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "beta":
            return rng.betavariate(self.a, self.b)
        # rng.lognormvariate(a, b) is exp(rng.normalvariate(a, b)): the same draws, without
        # the OverflowError of a far tail
        exponent = rng.normalvariate(self.a, self.b)
        value = math.exp(exponent) if exponent < 709 else math.inf
        return value if self.cap is None else min(value, self.cap)

    def draw_minor(self, rng: random.Random, factor: int) -> int:
        """An amount in minor units (``factor`` = 10 ** scale): at least one minor unit, at
        most the largest amount a ledger stores."""
        if self.exact is not None:
            return self.exact
        scaled = self.draw(rng) * factor
        if not scaled < MAX_MINOR:  # a far tail (or infinity) is the largest amount
            return MAX_MINOR
        return max(1, round(scaled))


# -- the scenario ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Population:
    """Customers of one ``[[customers]]`` table."""

    group: str
    ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Window:
    """Who a rule applies to and when."""

    customers: tuple[int, ...]
    """Indexes into :attr:`Scenario.customers`."""
    begins: datetime
    ends: datetime


@attrs.frozen(kw_only=True)
class GrantRule:
    name: str
    line: int | None = None
    """The line of its ``[[grants]]`` header."""
    window: Window
    amount: int
    every: Duration | None
    expires_after: Duration | None
    effective_after: Duration | None
    priority: int
    category: str
    cost_basis: Decimal | None
    scope: frozenset[str] | None
    void_share: float
    void_after: Duration


@attrs.frozen(kw_only=True)
class ReplayEvent:
    at: datetime
    customer: int
    amount: int
    scope: str | None


@attrs.frozen(kw_only=True)
class UsageRule:
    name: str
    line: int | None = None
    window: Window
    pattern: str
    """``fixed``, ``poisson`` or ``replay``."""
    amount: Distribution | None
    every: Duration | None
    per_day: float
    scope: str | None
    events: tuple[ReplayEvent, ...] = ()


@attrs.frozen(kw_only=True)
class JobRule:
    name: str
    line: int | None = None
    window: Window
    per_day: float
    amount: Distribution
    capture_ratio: Distribution
    release_share: float
    duration: Duration
    scope: str | None


@attrs.frozen(kw_only=True)
class Scenario:
    """A validated scenario: everything :func:`creditcore.simulate.run` needs."""

    source: str
    title: str
    start: datetime
    end: datetime
    seed: int
    unit: str
    scale: int
    overdraft: Overdraft
    debt_limit: int | None
    sample_every: Duration
    customers: tuple[str, ...]
    groups: tuple[str, ...]
    """Group names in the order they were first declared."""
    customer_group: tuple[int, ...]
    """For each customer, the index of its group."""
    grants: tuple[GrantRule, ...]
    usage: tuple[UsageRule, ...]
    jobs: tuple[JobRule, ...]

    @property
    def factor(self) -> int:
        return int(10**self.scale)


# -- where a key sits in the source ------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*(=|\.)")


def locate(text: str, path: Path_) -> int | None:
    """The 1-based line of the value at ``path`` in TOML ``text`` (the table's header when
    the key itself is missing), or ``None``."""
    lines = text.splitlines()
    if not path:
        return None
    table = str(path[0])
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else None
    keys = [str(k) for k in path[(2 if index is not None else 1) :] if not isinstance(k, int)]
    start, seen = None, -1
    for number, line in enumerate(lines):
        header = _HEADER.match(line)
        if header and header[2].strip("\"' ") == table:
            seen += 1
            if index is None or seen == index:
                start = number
                break
    if start is None:
        # a top-level key, or an inline array of tables: look for "table =" itself
        pattern = _key_pattern(table)
        for number, line in enumerate(lines):
            if pattern.match(line):
                return number + 1
        return None
    if not keys:
        return start + 1
    pattern = _key_pattern(keys[0])
    for number in range(start + 1, len(lines)):
        if _HEADER.match(lines[number]):
            break
        if pattern.match(lines[number]):
            return number + 1
    return start + 1


def _where(path: Path_) -> str:
    """``("grants", 1, "amount")`` -> ``grants #2: amount``."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]} #{part + 1}"
        else:
            parts.append(str(part))
    return ": ".join(parts) if len(parts) < 2 else parts[0] + ": " + ".".join(parts[1:])


class _Problem(Exception):
    """A bad value, before it is placed in the file."""


class _Table:
    """One TOML table being read: every key must be known, every read names its key."""

    def __init__(self, loader: _Loader, data: object, path: Path_) -> None:
        if not isinstance(data, dict):
            raise loader.error(path, f"expected a table, got {_kind(data)}")
        self.loader = loader
        self.data: dict[str, Any] = data
        self.path = path
        self.read: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, parse: Callable[[Any], T], default: T) -> T:
        self.read.add(key)
        if key not in self.data:
            return default
        return self.parse(key, parse)

    def need(self, key: str, parse: Callable[[Any], T], why: str = "") -> T:
        self.read.add(key)
        if key not in self.data:
            raise self.loader.error(self.path, f"missing key {key!r}{why}")
        return self.parse(key, parse)

    def parse(self, key: str, parse: Callable[[Any], T]) -> T:
        try:
            return parse(self.data[key])
        except (_Problem, ValueError, ArithmeticError, ValidationError) as problem:
            message = problem.message if isinstance(problem, ValidationError) else str(problem)
            raise self.loader.error((*self.path, key), message) from None

    def fail(self, key: str, message: str) -> ScenarioError:
        return self.loader.error((*self.path, key), message)

    def done(self, allowed: Sequence[str] = ()) -> None:
        known = set(self.read) | set(allowed)
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(sorted(known))}"
                raise self.loader.error((*self.path, key), f"unknown key {key!r}{hint}")


def _kind(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


class _Loader:
    def __init__(self, text: str, source: str, base: Path) -> None:
        self.text = text
        self.source = source
        self.base = base

    def error(self, path: Path_, message: str) -> ScenarioError:
        return ScenarioError(self.source, locate(self.text, path), _where(path), message)


# -- value parsers -----------------------------------------------------------------------------


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Problem(f"expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise _Problem(f"expected a finite number, got {value}")
    return float(value)


def _non_negative(value: object) -> float:
    number = _number(value)
    if number < 0:
        raise _Problem(f"must be zero or more, got {value}")
    return number


def _share(value: object) -> float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise _Problem(f"must be between 0 and 1, got {value}")
    return number


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Problem(f"expected an integer, got {_kind(value)}")
    return value


def _longest_id(prefix: str, count: int) -> str:
    """The prefix of a population whose longest id (``prefix`` + ``count``) is an id."""
    return parse_id(f"{prefix}{count}", "prefix")


def _name(value: object) -> str:
    name = _text(value)
    if len(name) > MAX_TEXT_LENGTH // 10:
        raise _Problem(f"is {len(name)} characters long; a name may have {MAX_TEXT_LENGTH // 10}")
    return name


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        got = _kind(value) if not isinstance(value, str) else "an empty one"
        raise _Problem(f"expected a non-empty string, got {got}")
    return value


def _identifier(value: object) -> str:
    return parse_id(value, "id")


def _exact(value: object) -> Decimal:
    """An exact number: an int, a numeric string, or a TOML float as it was written."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Problem(f"expected a number or a numeric string, got {_kind(value)}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise _Problem(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise _Problem(f"{value!r} is not a finite number")
    return number


def _moment(value: object) -> datetime:
    """A TOML date or date-time; one without an offset is taken as UTC. It must lie between
    :data:`FIRST_TIME` and :data:`LAST_TIME`."""
    if isinstance(value, datetime):
        try:
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            moment = None
        if moment is None or not FIRST_TIME <= moment <= LAST_TIME:
            raise _Problem(
                f"{value.isoformat()} is out of range: times must lie between {FIRST_TIME.date().isoformat()} and "
                f"{LAST_TIME.date().isoformat()} (UTC)"
            )
        return moment
    if isinstance(value, date):
        return _moment(datetime.combine(value, time()))
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return _moment(parsed)
    raise _Problem(f"expected a date or date-time such as 2026-01-01 or 2026-01-01T09:00:00Z, got {value!r}")


def _string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (parse_id(value, "scope"),)
    if not isinstance(value, list) or not value:
        raise _Problem(f"expected a string or a non-empty array of strings, got {_kind(value)}")
    return tuple(parse_id(item, "name") for item in value)


# -- the loader ------------------------------------------------------------------------------------

_TOP = ("simulation", "customers", "grants", "usage", "jobs")


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Raises :class:`ScenarioError` (one line, naming the key and line) for any mistake, and
    ``OSError`` if the file cannot be read.
    """
    file = Path(path)
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise ScenarioError(str(file), None, "", f"not UTF-8 text ({problem.reason})") from None
    return parse(text, source=str(file), base=file.parent)


def parse(text: str, *, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    """Validate scenario ``text``; ``base`` is where relative file names (replays) start."""
    loader = _Loader(text, source, base or Path.cwd())
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise ScenarioError(source, None, "", f"not valid TOML: {problem}") from None
    root = _Table(loader, data, ())
    for key in data:
        if key not in _TOP:
            close = difflib.get_close_matches(key, _TOP, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; the tables are {', '.join(_TOP)}"
            raise loader.error((key,), f"unknown table {key!r}{hint}")
    sim = _Table(loader, data.get("simulation", {}), ("simulation",)) if "simulation" in data else None
    if sim is None:
        raise loader.error((), "missing table [simulation] (start, end and seed)")

    title = sim.get("title", _text, Path(source).stem)
    start = sim.need("start", _moment)
    if sim.has("end") and sim.has("duration"):
        raise sim.fail("duration", "give either end or duration, not both")
    if sim.has("duration"):
        end = sim.get("duration", lambda v: parse_duration(v).after(start), start)
    else:
        end = sim.need("end", _moment, " (or duration)")
    if end <= start:
        raise sim.fail("end" if sim.has("end") else "duration", f"must be after start ({start.isoformat()})")
    seed = sim.get("seed", _integer, 0)
    unit = sim.get("unit", _identifier, DEFAULT_UNIT)
    scale = sim.get("scale", _integer, 0)
    if not 0 <= scale <= 18:
        raise sim.fail("scale", f"must be between 0 and 18, got {scale}")
    if unit == DEFAULT_UNIT and scale != 0:
        raise sim.fail("scale", f"the unit {DEFAULT_UNIT!r} has scale 0; name another unit for decimal places")

    def amount_of(value: object) -> int:
        return parse_amount(_exact(value), scale)

    chosen = sim.get("overdraft", str, "reject")
    if chosen not in OVERDRAFT_MODES:
        raise sim.fail("overdraft", f"must be one of {', '.join(OVERDRAFT_MODES)}, got {chosen!r}")
    overdraft = cast(Overdraft, chosen)
    debt_limit = sim.get("debt_limit", lambda v: parse_amount(_exact(v), scale, allow_zero=True), None)
    if debt_limit is not None and overdraft != "debt":
        raise sim.fail("debt_limit", 'only applies with overdraft = "debt"')
    short = end - start <= timedelta(days=14)
    default_sample = Duration(seconds=3600, text="1 hour") if short else Duration(seconds=86400, text="1 day")
    sample_every = sim.get("sample_every", parse_duration, default_sample)
    if sample_every.is_zero:
        raise sim.fail("sample_every", "must be longer than zero")
    _reach(sim, "sample_every", sample_every, end)
    span = (end - start).total_seconds()
    approx = sample_every.months * 28 * 86400 + sample_every.seconds
    if span / approx > 20_000:
        raise sim.fail("sample_every", f"{sample_every.text} gives more than 20,000 timeline points; sample less often")
    sim.done()

    # customers
    tables = _array(loader, data, "customers")
    if not tables:
        raise loader.error(("customers",), "missing [[customers]]: declare at least one customer or population")
    customers: list[str] = []
    groups: list[str] = []
    customer_group: list[int] = []
    seen: dict[str, Path_] = {}
    for table in tables:
        group = table.get("group", _identifier, "default")
        if table.has("id") and (table.has("count") or table.has("prefix")):
            raise table.fail("count" if table.has("count") else "prefix", "a table has either id or count and prefix")
        if table.has("id"):
            ids: tuple[str, ...] = (table.need("id", _identifier),)
        else:
            count = table.need("count", _integer, " (or id, for one named customer)")
            if not 1 <= count <= MAX_CUSTOMERS:
                raise table.fail("count", f"must be between 1 and {MAX_CUSTOMERS:,}, got {count}")
            prefix = table.need("prefix", _text)
            width = len(str(count))
            table.parse("prefix", functools.partial(_longest_id, count=count))
            ids = tuple(f"{prefix}{i:0{width}d}" for i in range(1, count + 1))
        table.done()
        if group not in groups:
            groups.append(group)
        for ident in ids:
            if ident in seen:
                raise table.fail("id" if table.has("id") else "prefix", f"customer {ident!r} is declared twice")
            seen[ident] = table.path
            customers.append(ident)
            customer_group.append(groups.index(group))
        if len(customers) > MAX_CUSTOMERS:
            raise table.fail(
                "count" if table.has("count") else "id", f"more than {MAX_CUSTOMERS:,} customers in all; declare fewer"
            )
    index_of = {ident: i for i, ident in enumerate(customers)}

    def window(table: _Table) -> Window:
        if table.has("group") and table.has("customers"):
            raise table.fail("customers", "name either group or customers, not both")
        chosen: tuple[int, ...]
        if table.has("group"):
            wanted_groups: tuple[str, ...] = table.get("group", _string_list, ())
            for name in wanted_groups:
                if name not in groups:
                    raise table.fail("group", f"no customers are in group {name!r}; groups: {', '.join(groups)}")
            wanted = {groups.index(name) for name in wanted_groups}
            chosen = tuple(i for i, g in enumerate(customer_group) if g in wanted)
        elif table.has("customers"):
            named: tuple[str, ...] = table.get("customers", _string_list, ())
            for name in named:
                if name not in index_of:
                    raise table.fail("customers", f"customer {name!r} is not declared in [[customers]]")
            chosen = tuple(sorted({index_of[name] for name in named}))
        else:
            chosen = tuple(range(len(customers)))
        begins = table.get("from", lambda v: _offset(v, start), start)
        ends = table.get("until", lambda v: _offset(v, start), end)
        if not start <= begins < end:
            raise table.fail("from", f"must fall within the simulation, {start.isoformat()} to {end.isoformat()}")
        if ends <= begins:
            raise table.fail("until", f"must be after from ({begins.isoformat()})")
        return Window(customers=chosen, begins=begins, ends=min(ends, end))

    largest = MAX_MINOR / 10**scale

    def amount_distribution(table: _Table, key: str) -> Distribution:
        return table.need(key, lambda v: _distribution(v, amount_of, largest))

    names: set[str] = set()

    def name_of(table: _Table, kind: str, number: int) -> str:
        name = table.get("name", _name, f"{kind} {number}")
        if name in names:
            raise table.fail("name", f"the name {name!r} is used twice")
        names.add(name)
        return name

    grants: list[GrantRule] = []
    for number, table in enumerate(_array(loader, data, "grants"), start=1):
        every = table.get("every", parse_duration, None)
        if every is not None and every.is_zero:
            raise table.fail("every", "must be longer than zero")
        category = table.get("category", str, "promotional")
        if category not in CATEGORIES:
            raise table.fail("category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
        priority = table.get("priority", _integer, 50)
        if not 0 <= priority <= MAX_PRIORITY:
            raise table.fail("priority", f"must be between 0 and {MAX_PRIORITY}, got {priority}")
        cost_basis = table.get("cost_basis", _exact, None)
        if cost_basis is not None and cost_basis < 0:
            raise table.fail("cost_basis", f"must be zero or more, got {cost_basis}")
        expires_after = table.get("expires_after", parse_duration, None)
        if expires_after is not None and expires_after.is_zero:
            raise table.fail("expires_after", "must be longer than zero")
        void_share = table.get("void_share", _share, 0.0)
        effective_after = table.get("effective_after", parse_duration, None)
        void_after = table.get("void_after", parse_duration, Duration(seconds=7 * 86400, text="7 days"))
        # the latest moment each duration may be counted from is the end
        if every is not None:
            _reach(table, "every", every, end)
        latest = end if effective_after is None else _reach(table, "effective_after", effective_after, end)
        if expires_after is not None:
            _reach(table, "expires_after", expires_after, latest)
        if void_share > 0:
            _reach(table, "void_after", void_after, end)
        rule = GrantRule(
            name=name_of(table, "grant", number),
            line=locate(text, table.path),
            window=window(table),
            amount=table.need("amount", amount_of),
            every=every,
            expires_after=expires_after,
            effective_after=effective_after,
            priority=priority,
            category=category,
            cost_basis=cost_basis,
            scope=table.get("scope", lambda v: frozenset(_string_list(v)), None),
            void_share=void_share,
            void_after=void_after,
        )
        table.done()
        grants.append(rule)
    if not grants:
        raise loader.error(("grants",), "missing [[grants]]: a simulation needs credit to burn")

    usage: list[UsageRule] = []
    for number, table in enumerate(_array(loader, data, "usage"), start=1):
        pattern = table.need("pattern", str)
        name = name_of(table, "usage", number)
        scope = table.get("scope", _identifier, None)
        if pattern == "replay":
            file = table.need("file", _text)
            where = locate(text, (*table.path, "file"))
            events = _read_replay(loader.base / file, file, index_of, scale, start, end, (source, where))
            use = UsageRule(
                name=name,
                line=locate(text, table.path),
                window=Window(customers=(), begins=start, ends=end),
                pattern=pattern,
                amount=None,
                every=None,
                per_day=0.0,
                scope=scope,
                events=events,
            )
        elif pattern in ("fixed", "poisson"):
            if pattern == "fixed":
                every = table.need("every", parse_duration, ' (for pattern = "fixed")')
                if every.is_zero:
                    raise table.fail("every", "must be longer than zero")
                _reach(table, "every", every, end)
                per_day = 0.0
            else:
                every = None
                per_day = table.need("per_day", _non_negative, ' (mean events per customer per day, for "poisson")')
            use = UsageRule(
                name=name,
                line=locate(text, table.path),
                window=window(table),
                pattern=pattern,
                amount=amount_distribution(table, "amount"),
                every=every,
                per_day=per_day,
                scope=scope,
            )
        else:
            raise table.fail("pattern", f'must be "fixed", "poisson" or "replay", got {pattern!r}')
        table.done()
        usage.append(use)

    jobs: list[JobRule] = []
    for number, table in enumerate(_array(loader, data, "jobs"), start=1):
        ratio = table.get("capture_ratio", lambda v: _distribution(v, None), Distribution("fixed", a=1.0))
        duration = table.get("duration", parse_duration, Duration(seconds=600, text="10 minutes"))
        _reach(table, "duration", duration, end)
        job = JobRule(
            name=name_of(table, "job", number),
            line=locate(text, table.path),
            window=window(table),
            per_day=table.need("per_day", _non_negative, " (mean jobs per customer per day)"),
            amount=amount_distribution(table, "amount"),
            capture_ratio=ratio,
            release_share=table.get("release_share", _share, 0.0),
            duration=duration,
            scope=table.get("scope", _identifier, None),
        )
        table.done()
        jobs.append(job)
    if not usage and not jobs:
        raise loader.error(("usage",), "missing [[usage]] or [[jobs]]: a simulation needs something to burn credit")
    root.read.update(_TOP)
    _check_work(loader, start, end, len(customers), grants, usage, jobs)

    return Scenario(
        source=source,
        title=title,
        start=start,
        end=end,
        seed=seed,
        unit=unit,
        scale=scale,
        overdraft=overdraft,
        debt_limit=debt_limit,
        sample_every=sample_every,
        customers=tuple(customers),
        groups=tuple(groups),
        customer_group=tuple(customer_group),
        grants=tuple(grants),
        usage=tuple(usage),
        jobs=tuple(jobs),
    )


def rule_where(scenario: Scenario, origin: tuple[str, int] | None) -> tuple[int | None, str]:
    """The line and the name (``usage #2``) of the rule at ``origin``, e.g. ``("usage", 1)``."""
    if origin is None:
        return None, ""
    kind, index = origin
    rules: Sequence[GrantRule | UsageRule | JobRule] = getattr(scenario, kind)
    return rules[index].line, _where(origin)


def _reach(table: _Table, key: str, duration: Duration, moment: datetime) -> datetime:
    """``duration`` after ``moment`` (a run applies it to times up to its end): refused with
    its key when that passes :data:`LAST_TIME`."""
    try:
        return duration.after(moment)
    except OverflowError as problem:
        raise table.fail(key, str(problem)) from None


def _count(value: float) -> str:
    return f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"


def _ticks_at_most(window: Window, every: Duration | None) -> int:
    """How many times a rule repeating ``every`` fires in ``window``, at most (exact integers:
    a total is compared with :data:`MAX_MINOR` without rounding)."""
    if every is None:
        return 1
    shortest = timedelta(days=every.months * 28, seconds=every.seconds)
    return (window.ends - window.begins) // shortest + 1


def _check_work(
    loader: _Loader,
    start: datetime,
    end: datetime,
    customers: int,
    grants: Sequence[GrantRule],
    usage: Sequence[UsageRule],
    jobs: Sequence[JobRule],
) -> None:
    """Refuse, before anything runs, a scenario that asks for more than :data:`MAX_EVENTS`
    events, or that could grant a customer more than a signed 64-bit total, naming the key
    that asks for the most."""
    asked = _check_usage(usage, jobs)
    for i, grant in enumerate(grants):
        ticks = _ticks_at_most(grant.window, grant.every)
        asked.append((ticks * len(grant.window.customers), ("grants", i, "every" if grant.every else "amount")))
    _check_events(loader, asked)
    most_of = [_ticks_at_most(grant.window, grant.every) * grant.amount for grant in grants]
    if sum(most_of) <= MAX_MINOR:
        return  # no customer can reach it (the usual case: no loop over every customer)
    granted = [0] * customers
    for i, grant in enumerate(grants):
        most = most_of[i]
        for customer in grant.window.customers:
            granted[customer] += most
            if granted[customer] > MAX_MINOR:
                what = f"{grant.amount} minor units every {grant.every.text}" if grant.every else "this amount"
                raise loader.error(
                    ("grants", i, "amount"),
                    f"{what} could grant customer number {customer + 1} more than {MAX_MINOR:,} minor units in all, "
                    "the most a ledger holds in one unit",
                )


def _check_events(loader: _Loader, asked: list[tuple[float, Path_]]) -> None:
    total = sum(count for count, _ in asked)
    if total > MAX_EVENTS:
        count, path = max(asked, key=lambda found: found[0])
        raise loader.error(
            path,
            f"the scenario asks for about {_count(total)} events ({_count(count)} here), more than the "
            f"{MAX_EVENTS:,} a run may have: lower the rate, the number of customers or the duration",
        )


def _check_usage(usage: Sequence[UsageRule], jobs: Sequence[JobRule]) -> list[tuple[float, Path_]]:
    asked: list[tuple[float, Path_]] = []
    for i, use in enumerate(usage):
        days = (use.window.ends - use.window.begins).total_seconds() / 86400
        if use.pattern == "replay":
            asked.append((float(len(use.events)), ("usage", i, "file")))
        elif use.pattern == "fixed":
            asked.append((_ticks_at_most(use.window, use.every) * len(use.window.customers), ("usage", i, "every")))
        else:
            asked.append((use.per_day * days * len(use.window.customers), ("usage", i, "per_day")))
    for i, job in enumerate(jobs):
        days = (job.window.ends - job.window.begins).total_seconds() / 86400
        asked.append((2 * job.per_day * days * len(job.window.customers), ("jobs", i, "per_day")))
    return asked


def _array(loader: _Loader, data: Mapping[str, Any], key: str) -> list[_Table]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise loader.error((key,), f"expected an array of tables ([[{key}]]), got {_kind(value)}")
    return [_Table(loader, item, (key, i)) for i, item in enumerate(value)]


def _offset(value: object, start: datetime) -> datetime:
    """``from``/``until``: a duration after the start, or a date-time."""
    if isinstance(value, str) and _DURATION.match(value):
        return parse_duration(value).after(start)
    try:
        return _moment(value)
    except _Problem:
        raise _Problem(f'expected a duration after start such as "30 days", or a date-time, got {value!r}') from None


_DISTRIBUTION_KEYS = {
    "fixed": ("value",),
    "uniform": ("min", "max"),
    "lognormal": ("median", "sigma", "max"),
    "beta": ("a", "b"),
}


def _distribution(value: object, amount_of: Callable[[object], int] | None, largest: float = math.inf) -> Distribution:
    """An amount (``amount_of`` given; no parameter above ``largest``) or a ratio in 0..1
    (``None``)."""
    ratio = amount_of is None
    if not isinstance(value, dict):
        if ratio:
            return Distribution("fixed", a=_share(value))
        assert amount_of is not None
        minor = amount_of(value)
        return Distribution("fixed", a=float(minor), exact=minor)
    kind = value.get("distribution")
    allowed = ("fixed", "uniform", "beta") if ratio else ("fixed", "uniform", "lognormal")
    if kind not in allowed:
        raise _Problem(f"distribution must be one of {', '.join(allowed)}, got {kind!r}")
    keys = _DISTRIBUTION_KEYS[kind]
    for key in value:
        if key != "distribution" and key not in keys:
            raise _Problem(f"unknown key {key!r} for a {kind} distribution; it takes {', '.join(keys)}")
    optional = {"max"} if kind == "lognormal" else set()
    for key in keys:
        if key not in value and key not in optional:
            raise _Problem(f"a {kind} distribution needs {', '.join(k for k in keys if k not in optional)}")

    def num(key: str) -> float:
        try:
            number = _share(value[key]) if ratio else _non_negative(value[key])
        except _Problem as problem:
            raise _Problem(f"{key} {problem}") from None
        if key != "sigma" and number > largest:
            raise _Problem(f"{key} {value[key]} is more than the largest amount a ledger stores ({largest:.6g})")
        return number

    if kind == "fixed":
        if ratio:
            return Distribution("fixed", a=num("value"))
        assert amount_of is not None
        minor = amount_of(value["value"])
        return Distribution("fixed", a=float(minor), exact=minor)
    if kind == "uniform":
        low, high = num("min"), num("max")
        if high < low:
            raise _Problem(f"max ({high}) is less than min ({low})")
        return Distribution("uniform", a=low, b=high)
    if kind == "beta":
        a, b = _non_negative(value["a"]), _non_negative(value["b"])
        if a <= 0 or b <= 0:
            raise _Problem("a and b of a beta distribution must be more than zero")
        return Distribution("beta", a=a, b=b)
    median, sigma = num("median"), num("sigma")
    if median <= 0:
        raise _Problem("median must be more than zero")
    if sigma > MAX_SIGMA:
        raise _Problem(f"sigma {sigma} is more than {MAX_SIGMA:g} (that spreads amounts over 40 orders of magnitude)")
    cap = num("max") if "max" in value else None
    return Distribution("lognormal", a=math.log(median), b=sigma, cap=cap)


def _read_replay(
    path: Path,
    name: str,
    index_of: Mapping[str, int],
    scale: int,
    start: datetime,
    end: datetime,
    origin: tuple[str, int | None],
) -> tuple[ReplayEvent, ...]:
    """The events of a replay CSV (``timestamp,customer,amount[,scope]``, UTF-8), in time order
    (file order among equal times). Any row that cannot be read is refused with its line."""
    try:
        handle = path.open("rb")
    except OSError as problem:
        raise ScenarioError(origin[0], origin[1], "usage: file", f"cannot read {name}: {problem.strerror}") from None
    source = str(path)
    events: list[ReplayEvent] = []
    with handle:
        reader = csv.reader(_text_lines(handle, source))
        try:
            header = next(reader, None)
            expected = ["timestamp", "customer", "amount"]
            if header is None or [h.strip() for h in header[:3]] != expected:
                raise ScenarioError(source, 1, "", "the header must be timestamp,customer,amount[,scope]")
            has_scope = len(header) > 3 and header[3].strip() == "scope"
            for row in reader:
                if not row or not "".join(row).strip():
                    continue
                number = reader.line_num
                events.append(_replay_row(row, has_scope, index_of, scale, start, end, source, number))
                if len(events) > MAX_EVENTS:
                    raise ScenarioError(source, number, "", f"more than {MAX_EVENTS:,} rows, the most a run may replay")
        except csv.Error as problem:
            raise ScenarioError(source, reader.line_num + 1, "", f"not a CSV row: {problem}") from None
    events.sort(key=lambda e: e.at)
    return tuple(events)


def _text_lines(handle: Any, source: str) -> Iterator[str]:
    """The lines of a binary file as UTF-8 text (a byte-order mark is skipped); a line that is
    not UTF-8 or is longer than :data:`MAX_REPLAY_LINE` bytes is refused with its number."""
    for number, raw in enumerate(iter(lambda: handle.readline(MAX_REPLAY_LINE + 1), b""), start=1):
        if len(raw) > MAX_REPLAY_LINE:
            raise ScenarioError(source, number, "", f"the line is longer than {MAX_REPLAY_LINE:,} bytes")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as problem:
            where = f"byte {problem.start + 1} of the line"
            raise ScenarioError(source, number, "", f"not UTF-8 text ({problem.reason} at {where})") from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def _replay_row(
    row: list[str],
    has_scope: bool,
    index_of: Mapping[str, int],
    scale: int,
    start: datetime,
    end: datetime,
    source: str,
    number: int,
) -> ReplayEvent:
    def bad(column: str, message: str) -> ScenarioError:
        return ScenarioError(source, number, column, message)

    if len(row) < 3:
        raise bad("", f"expected timestamp,customer,amount, got {len(row)} column(s)")
    shown = row[0].strip()[:40]
    try:
        when = _moment(row[0].strip())
    except _Problem as problem:
        raise bad("timestamp", str(problem)) from None
    if not start <= when < end:
        raise bad("timestamp", f"{shown} is outside the simulation ({start.isoformat()} to {end.isoformat()})")
    customer = row[1].strip()
    if customer not in index_of:
        raise bad("customer", f"{customer[:40]!r} is not declared in [[customers]]")
    text = row[2].strip()
    if len(text) > 100:
        raise bad("amount", f"{text[:40]}... ({len(text)} characters) is not an amount a ledger stores")
    try:
        amount = parse_amount(text, scale)
    except ValidationError as problem:
        raise bad("amount", problem.message) from None
    except (ValueError, ArithmeticError):
        raise bad("amount", f"{text[:40]!r} is not an amount a ledger stores") from None
    scope = row[3].strip() if has_scope and len(row) > 3 and row[3].strip() else None
    if scope is not None:
        try:
            parse_id(scope, "scope")
        except ValidationError as problem:
            raise bad("scope", problem.message) from None
    return ReplayEvent(at=when, customer=index_of[customer], amount=amount, scope=scope)

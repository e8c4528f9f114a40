"""Scenario files: TOML in, a validated, frozen :class:`Scenario` out.

Every mistake raises :class:`ScenarioError` naming the key (``grants #2: expires_after``) and
the line of the file it sits on. ``tomllib`` keeps no positions, so :func:`locate` finds the
line in the source text: the n-th ``[[table]]`` header, then the key inside it.

Amounts are exact: an int, a numeric string or a TOML float taken as written (``4.99``),
turned into integer minor units of the scenario's unit. Only the random draws of a
distribution are floats, and each draw is rounded to the unit's precision at once.
"""

from __future__ import annotations

import calendar
import csv
import difflib
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
from creditcore.values import CATEGORIES, DEFAULT_UNIT, MAX_PRIORITY, OVERDRAFT_MODES, parse_amount, parse_id

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


@attrs.frozen
class Duration:
    """A span such as ``"30 days"`` or ``"1 month"``; months and years follow the calendar."""

    months: int = 0
    seconds: int = 0
    text: str = ""

    def after(self, moment: datetime, times: int = 1) -> datetime:
        """``moment`` plus this span ``times`` times (months counted from ``moment``, so the
        31st of January plus one month is the 28th or 29th of February, plus two the 31st
        of March)."""
        if self.months:
            total = moment.month - 1 + self.months * times
            year, month = moment.year + total // 12, total % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            moment = moment.replace(year=year, month=month, day=day)
        return moment + timedelta(seconds=self.seconds * times)

    @property
    def is_zero(self) -> bool:
        return not self.months and not self.seconds


def parse_duration(value: object) -> Duration:
    if not isinstance(value, str) or not (found := _DURATION.match(value)):
        raise ValueError(f'expected a duration such as "30 days", "12 hours" or "1 month", got {value!r}')
    count, unit = int(found[1]), found[2]
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
        value = rng.lognormvariate(self.a, self.b)
        return value if self.cap is None else min(value, self.cap)

    def draw_minor(self, rng: random.Random, factor: int) -> int:
        """An amount in minor units (``factor`` = 10 ** scale), at least one minor unit."""
        if self.exact is not None:
            return self.exact
        return max(1, round(self.draw(rng) * factor))


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
        except (_Problem, ValueError, ValidationError) as problem:
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
    """A TOML date or date-time; one without an offset is taken as UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
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
        end = sim.get("duration", parse_duration, Duration()).after(start)
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
            if not 1 <= count <= 10_000_000:
                raise table.fail("count", f"must be between 1 and 10000000, got {count}")
            prefix = table.need("prefix", _text)
            width = len(str(count))
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

    def amount_distribution(table: _Table, key: str) -> Distribution:
        return table.need(key, lambda v: _distribution(v, amount_of))

    names: set[str] = set()

    def name_of(table: _Table, kind: str, number: int) -> str:
        name = table.get("name", _text, f"{kind} {number}")
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
        rule = GrantRule(
            name=name_of(table, "grant", number),
            window=window(table),
            amount=table.need("amount", amount_of),
            every=every,
            expires_after=expires_after,
            effective_after=table.get("effective_after", parse_duration, None),
            priority=priority,
            category=category,
            cost_basis=cost_basis,
            scope=table.get("scope", lambda v: frozenset(_string_list(v)), None),
            void_share=void_share,
            void_after=table.get("void_after", parse_duration, Duration(seconds=7 * 86400, text="7 days")),
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
                per_day = 0.0
            else:
                every = None
                per_day = table.need("per_day", _non_negative, ' (mean events per customer per day, for "poisson")')
            use = UsageRule(
                name=name,
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
        job = JobRule(
            name=name_of(table, "job", number),
            window=window(table),
            per_day=table.need("per_day", _non_negative, " (mean jobs per customer per day)"),
            amount=amount_distribution(table, "amount"),
            capture_ratio=ratio,
            release_share=table.get("release_share", _share, 0.0),
            duration=table.get("duration", parse_duration, Duration(seconds=600, text="10 minutes")),
            scope=table.get("scope", _identifier, None),
        )
        table.done()
        jobs.append(job)
    if not usage and not jobs:
        raise loader.error(("usage",), "missing [[usage]] or [[jobs]]: a simulation needs something to burn credit")
    root.read.update(_TOP)

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


def _distribution(value: object, amount_of: Callable[[object], int] | None) -> Distribution:
    """An amount (``amount_of`` given) or a ratio in 0..1 (``None``)."""
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
            return _share(value[key]) if ratio else _non_negative(value[key])
        except _Problem as problem:
            raise _Problem(f"{key} {problem}") from None

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
    """The events of a replay CSV (``timestamp,customer,amount[,scope]``), in time order
    (file order among equal times)."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as problem:
        raise ScenarioError(origin[0], origin[1], "usage: file", f"cannot read {name}: {problem.strerror}") from None
    events: list[ReplayEvent] = []
    with handle:
        rows: Iterator[list[str]] = csv.reader(handle)
        header = next(rows, None)
        expected = ["timestamp", "customer", "amount"]
        if header is None or [h.strip() for h in header[:3]] != expected:
            raise ScenarioError(str(path), 1, "", "the header must be timestamp,customer,amount[,scope]")
        has_scope = len(header) > 3 and header[3].strip() == "scope"
        for number, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue

            def bad(column: str, message: str, line: int = number) -> ScenarioError:
                return ScenarioError(str(path), line, column, message)

            if len(row) < 3:
                raise bad("", f"expected timestamp,customer,amount, got {len(row)} column(s)")
            try:
                when = _moment(row[0].strip())
            except _Problem as problem:
                raise bad("timestamp", str(problem)) from None
            if not start <= when < end:
                raise bad("timestamp", f"{row[0]} is outside the simulation ({start.isoformat()} to {end.isoformat()})")
            customer = row[1].strip()
            if customer not in index_of:
                raise bad("customer", f"{customer!r} is not declared in [[customers]]")
            try:
                amount = parse_amount(row[2].strip(), scale)
            except ValidationError as problem:
                raise bad("amount", problem.message) from None
            scope = row[3].strip() if has_scope and len(row) > 3 and row[3].strip() else None
            events.append(ReplayEvent(at=when, customer=index_of[customer], amount=amount, scope=scope))
    events.sort(key=lambda e: e.at)
    return tuple(events)

"""Scenario files: TOML in, a validated, frozen :class:`Scenario` out.

Every mistake raises :class:`ScenarioError` naming the key (``grants #2: expires_after``) and
the line of the file it sits on. ``tomllib`` keeps no positions, so :func:`locate` finds the
line in the source text: the n-th ``[[table]]`` header, then the key inside it.

Amounts are exact: an int, a numeric string or a TOML float taken as written (``4.99``),
turned into integer minor units of the scenario's unit. Only the random draws of a
distribution are floats, and each draw is rounded to the unit's precision at once.

The work a scenario may ask for is bounded before anything runs (see
:mod:`creditcore.simulate.limits`): the events its rates ask for are estimated here, and a
scenario asking for more than :data:`MAX_EVENTS` is refused with the key that asks for most.

The billing tables (``[[meters]]``, ``[[prices]]``) are read by
:mod:`~creditcore.simulate.metered`; a ``[[usage]]`` with ``meter`` records its quantities
(in the meter's scale) to that meter instead of burning credit.

The parts live beside it: :mod:`~creditcore.simulate.reading` (tables, lines, errors),
:mod:`~creditcore.simulate.fields` (values), :mod:`~creditcore.simulate.times` (durations and
times), :mod:`~creditcore.simulate.distributions`, :mod:`~creditcore.simulate.replay` (CSV
files) and :mod:`~creditcore.simulate.model` (the frozen values); their public names are
importable from here too.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

from creditcore.billing.periods import parse_timezone
from creditcore.periods import parse_every
from creditcore.simulate.distributions import Distribution, _distribution
from creditcore.simulate.fields import (
    _exact,
    _flag,
    _identifier,
    _integer,
    _longest_id,
    _name,
    _non_negative,
    _share,
    _string_list,
    _text,
)
from creditcore.simulate.invoicing import billing_periods
from creditcore.simulate.limits import (
    FIRST_TIME,
    LAST_TIME,
    MAX_CUSTOMERS,
    MAX_DURATION_YEARS,
    MAX_EVENTS,
    MAX_POINTS,
    MAX_REPLAY_LINE,
    MAX_SIGMA,
)
from creditcore.simulate.metered import meter_index, read_meters, read_prices
from creditcore.simulate.model import (
    BillingPeriod,
    GrantRule,
    JobRule,
    MeterRule,
    Population,
    ReplayEvent,
    Scenario,
    ScheduleRule,
    TopUpRule,
    UsageRule,
    Window,
)
from creditcore.simulate.reading import Path_, ScenarioError, _array, _Loader, _Problem, _Table, _where, locate
from creditcore.simulate.replay import _read_replay
from creditcore.simulate.times import Duration, _moment, _offset, _reach, parse_duration
from creditcore.state import Overdraft
from creditcore.values import (
    CATEGORIES,
    DEFAULT_UNIT,
    MAX_MINOR,
    MAX_PRIORITY,
    OVERDRAFT_MODES,
    parse_amount,
    to_decimal,
)

__all__ = [
    "FIRST_TIME",
    "LAST_TIME",
    "MAX_CUSTOMERS",
    "MAX_DURATION_YEARS",
    "MAX_EVENTS",
    "MAX_REPLAY_LINE",
    "MAX_SIGMA",
    "Distribution",
    "Duration",
    "GrantRule",
    "JobRule",
    "Path_",
    "Population",
    "ReplayEvent",
    "Scenario",
    "ScenarioError",
    "ScheduleRule",
    "TopUpRule",
    "UsageRule",
    "Window",
    "load",
    "locate",
    "parse",
    "parse_duration",
    "rule_where",
]

_TOP = ("simulation", "customers", "grants", "schedules", "top_ups", "usage", "jobs", "meters", "prices")


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
    if span / approx > MAX_POINTS:
        raise sim.fail(
            "sample_every", f"{sample_every.text} gives more than {MAX_POINTS:,} timeline points; sample less often"
        )
    timezone = sim.get("timezone", parse_timezone, None)
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

    # billing: meters and their prices, in the scenario's unit
    meters = read_meters(loader, data)
    prices = read_prices(loader, data, meters, unit)
    periods: tuple[BillingPeriod, ...] = ()
    if meters:
        # a timeline point at each billing period's end: at most one more a month
        if span / approx + span / (28 * 86400) > MAX_POINTS:
            raise loader.error(
                ("meters", 0), f"its monthly billing periods and the timeline (a point every {sample_every.text}) "
                f"come to more than {MAX_POINTS:,} timeline points; shorten the run or sample less often",
            )  # fmt: skip
        periods = billing_periods(start, end, timezone or "UTC")
    elif timezone is not None:
        raise sim.fail("timezone", "only applies with [[meters]]: it is the zone of the billing months")
    metered_by = meter_index(meters)

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

    def quantity_distribution(table: _Table, meter: MeterRule) -> Distribution | None:
        """A metered usage's quantities, in its meter's scale (a count meter counts events: no
        quantity needed)."""

        def quantity_of(value: object) -> int:
            return parse_amount(_exact(value), meter.scale, "quantity")

        def read(value: object) -> Distribution:
            return _distribution(value, quantity_of, MAX_MINOR / 10**meter.scale)

        if meter.aggregation == "count":
            return table.get("amount", read, None)
        return table.need("amount", read, f" (the quantity each event records to meter {meter.id!r})")

    def zero_or_more(value: object) -> int:
        return parse_amount(_exact(value), scale, allow_zero=True)

    def signed(value: object) -> int:
        return parse_amount(_exact(value), scale, signed=True)

    def category_of(table: _Table, default: str) -> str:
        category = table.get("category", str, default)
        if category not in CATEGORIES:
            raise table.fail("category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
        return category

    def priority_of(table: _Table) -> int:
        priority = table.get("priority", _integer, 50)
        if not 0 <= priority <= MAX_PRIORITY:
            raise table.fail("priority", f"must be between 0 and {MAX_PRIORITY}, got {priority}")
        return priority

    def cost_basis_of(table: _Table) -> Decimal | None:
        cost_basis = table.get("cost_basis", _exact, None)
        if cost_basis is not None and cost_basis < 0:
            raise table.fail("cost_basis", f"must be zero or more, got {cost_basis}")
        return cost_basis

    def lasting(table: _Table, key: str) -> Duration | None:
        """A duration counted from any moment of the run (an expiry after a grant)."""
        duration = table.get(key, parse_duration, None)
        if duration is not None:
            if duration.is_zero:
                raise table.fail(key, "must be longer than zero")
            _reach(table, key, duration, end)
        return duration

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
        category = category_of(table, "promotional")
        priority = priority_of(table)
        cost_basis = cost_basis_of(table)
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
            single_use=table.get("single_use", _flag, False),
            void_share=void_share,
            void_after=void_after,
        )
        table.done()
        grants.append(rule)

    schedules: list[ScheduleRule] = []
    for number, table in enumerate(_array(loader, data, "schedules"), start=1):
        every = table.need("every", _period, ' (how often a period starts, e.g. "1 month")')
        _reach(table, "every", every, end)
        amount = table.need("amount", zero_or_more, " (granted at each period's start)")
        first_amount = table.get("first_amount", zero_or_more, None)
        rollover_min = table.get("rollover_min", zero_or_more, 0)
        if amount == 0 and (first_amount or 0) == 0 and rollover_min == 0:
            raise table.fail("amount", "amount, first_amount and rollover_min are all 0: nothing would be granted")
        schedule = ScheduleRule(
            name=name_of(table, "schedule", number),
            line=locate(text, table.path),
            window=window(table),
            amount=amount,
            first_amount=first_amount,
            every=every,
            rollover_max=table.get("rollover_max", zero_or_more, 0),
            rollover_min=rollover_min,
            priority=priority_of(table),
            category=category_of(table, "promotional"),
            cost_basis=cost_basis_of(table),
            scope=table.get("scope", lambda v: frozenset(_string_list(v)), None),
            single_use=table.get("single_use", _flag, False),
        )
        table.done()
        schedules.append(schedule)

    top_ups: list[TopUpRule] = []
    ruled: dict[int, int] = {}  # customer -> the number of the [[top_ups]] table that covers it
    for number, table in enumerate(_array(loader, data, "top_ups"), start=1):
        threshold = table.need("threshold", signed, " (the net balance at or below which it tops up)")
        if table.has("amount") and table.has("target"):
            raise table.fail("target", "give either amount or target, not both")
        target = table.get("target", signed, None)
        if target is not None and target <= threshold:
            shown = to_decimal(threshold, scale)
            raise table.fail("target", f"must be more than the threshold ({shown}), got {to_decimal(target, scale)}")
        top_up = TopUpRule(
            name=name_of(table, "top-up", number),
            line=locate(text, table.path),
            window=window(table),
            threshold=threshold,
            amount=None if target is not None else table.need("amount", amount_of, " (or target)"),
            target=target,
            category=category_of(table, "paid"),
            priority=priority_of(table),
            expires_after=lasting(table, "expires_after"),
            cost_basis=cost_basis_of(table),
        )
        for customer in top_up.window.customers:
            earlier = ruled.setdefault(customer, number)
            if earlier != number:
                chosen_by = "group" if table.has("group") else "customers" if table.has("customers") else None
                clash = (
                    f"customer {customers[customer]!r} has a top-up rule already (top_ups #{earlier}); "
                    "a customer has one rule at most"
                )
                raise table.fail(chosen_by, clash) if chosen_by else loader.error(table.path, clash)
        table.done()
        top_ups.append(top_up)
    if not grants and not schedules and not top_ups:
        raise loader.error(
            ("grants",), "missing [[grants]], [[schedules]] or [[top_ups]]: a simulation needs credit to burn"
        )

    usage: list[UsageRule] = []
    for number, table in enumerate(_array(loader, data, "usage"), start=1):
        pattern = table.need("pattern", str)
        name = name_of(table, "usage", number)
        meter = table.get("meter", metered_by, None)
        metered: MeterRule | None = None if meter is None else meters[meter]
        if metered is not None and table.has("scope"):
            raise table.fail(
                "scope",
                f"a metered usage burns no credit itself: its invoice lines burn with scope 'meter:{metered.id}'",
            )
        scope = table.get("scope", _identifier, None)
        if pattern == "replay":
            file = table.need("file", _text)
            where = locate(text, (*table.path, "file"))
            events = _read_replay(
                loader.base / file, file, index_of, scale if metered is None else metered.scale, start, end,
                (source, where),
            )  # fmt: skip
            if metered is not None and any(event.scope is not None for event in events):
                raise table.fail(
                    "file", f"a metered replay takes no scope: its invoice lines burn with 'meter:{metered.id}'"
                )
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
                meter=meter,
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
            drawn = amount_distribution(table, "amount") if metered is None else quantity_distribution(table, metered)
            use = UsageRule(
                name=name,
                line=locate(text, table.path),
                window=window(table),
                pattern=pattern,
                amount=drawn,
                every=every,
                per_day=per_day,
                scope=scope,
                meter=meter,
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
    _check_work(loader, start, end, len(customers), grants, schedules, usage, jobs, _invoices(periods, usage))

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
        schedules=tuple(schedules),
        top_ups=tuple(top_ups),
        meters=tuple(meters),
        prices=tuple(prices),
        timezone=timezone or "UTC",
        periods=periods,
    )


def rule_where(scenario: Scenario, origin: tuple[str, int] | None) -> tuple[int | None, str]:
    """The line and the name (``usage #2``) of the rule at ``origin``, e.g. ``("usage", 1)``."""
    if origin is None:
        return None, ""
    kind, index = origin
    rules: Sequence[GrantRule | ScheduleRule | TopUpRule | UsageRule | JobRule] = getattr(scenario, kind)
    return rules[index].line, _where(origin)


def _period(value: object) -> Duration:
    """A schedule's ``every``: a duration the ledger's periods take too (a minute or more)."""
    every = parse_duration(value)
    if every.is_zero:
        raise _Problem("must be longer than zero")
    parse_every(every.text)
    return every


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
    schedules: Sequence[ScheduleRule],
    usage: Sequence[UsageRule],
    jobs: Sequence[JobRule],
    invoices: Sequence[tuple[float, Path_]] = (),
) -> None:
    """Refuse, before anything runs, a scenario that asks for more than :data:`MAX_EVENTS`
    events (``invoices`` too), or that could grant a customer more than a signed 64-bit total,
    naming the key that asks for the most. (What top-ups grant depends on the run: a run whose
    top-ups would pass that total stops, naming the rule.)"""
    asked = _check_usage(usage, jobs)
    asked.extend(invoices)
    for i, grant in enumerate(grants):
        ticks = _ticks_at_most(grant.window, grant.every)
        asked.append((ticks * len(grant.window.customers), ("grants", i, "every" if grant.every else "amount")))
    for i, schedule in enumerate(schedules):
        # a period's start is a carry and a grant
        asked.append((2 * _ticks_at_most(schedule.window, schedule.every) * len(schedule.window.customers),
                      ("schedules", i, "every")))  # fmt: skip
    _check_events(loader, asked)
    # (window, the most it grants a customer, where, what) of every rule that grants
    most_of: list[tuple[Window, int, Path_, str]] = []
    for i, grant in enumerate(grants):
        what = f"{grant.amount} minor units every {grant.every.text}" if grant.every else "this amount"
        most_of.append((grant.window, _ticks_at_most(grant.window, grant.every) * grant.amount, ("grants", i, "amount"),
                        what))  # fmt: skip
    for i, schedule in enumerate(schedules):
        first = schedule.amount if schedule.first_amount is None else schedule.first_amount
        each = max(schedule.amount, schedule.rollover_min)
        most = first + (_ticks_at_most(schedule.window, schedule.every) - 1) * each
        most_of.append((schedule.window, most, ("schedules", i, "amount"),
                        f"{each} minor units every {schedule.every.text}"))  # fmt: skip
    if sum(most for _, most, _, _ in most_of) <= MAX_MINOR:
        return  # no customer can reach it (the usual case: no loop over every customer)
    granted = [0] * customers
    for window, most, path, what in most_of:
        for customer in window.customers:
            granted[customer] += most
            if granted[customer] > MAX_MINOR:
                raise loader.error(
                    path,
                    f"{what} could grant customer number {customer + 1} more than {MAX_MINOR:,} minor units in all, "
                    "the most a ledger holds in one unit",
                )


def metered_customers(usage: Sequence[UsageRule]) -> list[int]:
    """The customers with metered usage (ascending): each gets an invoice per billing period."""
    found: set[int] = set()
    for rule in usage:
        if rule.meter is None:
            continue
        if rule.pattern == "replay":
            found.update(event.customer for event in rule.events)
        else:
            found.update(rule.window.customers)
    return sorted(found)


def _invoices(periods: Sequence[BillingPeriod], usage: Sequence[UsageRule]) -> list[tuple[float, Path_]]:
    """The invoices a scenario asks for (one per customer with metered usage and per billing
    period), as :func:`_check_work` counts events: at the first metered usage."""
    first = next((i for i, rule in enumerate(usage) if rule.meter is not None), None)
    if first is None:
        return []
    return [(float(len(periods) * len(metered_customers(usage))), ("usage", first, "meter"))]


# MAX_EVENTS is read from this module's namespace: lowering it here (as the fuzz test does)
# lowers the bound every parse checks.
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

"""Fuzz: whatever values a scenario (and the events file it replays) holds, ``creditcore
simulate`` exits 0 with a consistent summary, or 1 or 2 with one line on stderr; never a
traceback, never a hang, never a partial file.

A small base scenario that uses every key (schedules and top-ups included) gets a few of its
values replaced by hostile ones (huge, tiny, negative, infinite, not a number, out of the years
datetimes hold, the wrong type). The run goes through the command line's own ``main`` in process. The bound on the
work a scenario may ask for is lowered for the test, so that whatever passes it runs in a
moment; the check is the same.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from creditcore.cli import main


class Raw(str):
    """A TOML literal written as it is (a date, a time)."""


def toml(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (a lone surrogate is a TOML error)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    raise TypeError(value)


BASE: dict[str, list[dict[str, Any]]] = {
    "simulation": [
        {
            "start": Raw("2027-01-01"), "duration": "20 days", "seed": 1, "unit": "usd", "scale": 2,
            "overdraft": "debt", "debt_limit": "5.00", "sample_every": "1 day",
        }
    ],
    "customers": [{"count": 3, "prefix": "c-", "group": "a"}, {"id": "vip", "group": "b"}],
    "grants": [
        {
            "amount": "10.00", "every": "1 week", "expires_after": "10 days", "effective_after": "1 day",
            "priority": 10, "category": "promotional", "cost_basis": "0.01", "void_share": 0.3, "void_after": "3 days",
            "from": "1 day", "until": "15 days", "scope": ["chat", "video"],
        },
        {"amount": 25, "group": "b", "category": "paid"},
    ],
    "schedules": [
        {
            "name": "Plan", "group": "a", "amount": "5.00", "every": "1 week", "first_amount": "8.00",
            "rollover_max": "2.50", "rollover_min": "1.00", "from": "2 days", "until": "18 days", "priority": 20,
            "category": "paid", "scope": ["chat"], "single_use": False, "cost_basis": "0.5",
        }
    ],
    "top_ups": [
        {
            "name": "Auto", "group": "b", "threshold": "1.00", "amount": "4.00", "expires_after": "1 week",
            "category": "paid", "priority": 5, "cost_basis": "1", "from": "1 day", "until": "15 days",
        }
    ],
    "usage": [
        {"pattern": "poisson", "per_day": 2, "amount": {"distribution": "lognormal", "median": 1, "sigma": 0.5}},
        {"pattern": "fixed", "every": "2 days", "amount": "0.50", "scope": "chat", "customers": ["vip"]},
        {"pattern": "replay", "file": "events.csv"},
    ],
    "jobs": [
        {
            "per_day": 1, "amount": {"distribution": "uniform", "min": 1, "max": 5},
            "capture_ratio": {"distribution": "beta", "a": 2, "b": 2}, "release_share": 0.1, "duration": "2 hours",
        }
    ],
}  # fmt: skip

NUMBERS = st.one_of(
    st.sampled_from([0, 1, 3, -1, 2**62, 2**63 - 1, -(2**63), 1e300, -1e300, 1e-300, 5e-324, math.inf, math.nan, 0.5]),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
AMOUNTS = st.one_of(
    NUMBERS,
    st.sampled_from(
        [
            "1",
            "4.99",
            "0",
            "-5",
            "1E+1000000",
            "1E-1000000",
            "1." + "0" * 5000,
            "9" * 5000,
            "NaN",
            "Infinity",
            "9223372036854775807",
            "92233720368547758.07",
            "0.001",
            " 7 ",
            "",
            "abc",
        ]
    ),
)
DURATIONS = st.one_of(
    st.sampled_from(
        [
            "1 minute",
            "6 hours",
            "1 day",
            "2 weeks",
            "1 month",
            "1 year",
            "0 days",
            "100000 years",
            "9999999999 days",
            "9" * 40 + " days",
            "10000 years",
            "120000 months",
            "a while",
            "",
        ]
    ),
    st.builds(
        "{} {}".format, st.integers(0, 10**13), st.sampled_from(["minute", "hour", "day", "week", "month", "year"])
    ),
    NUMBERS,
)
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
TIMES = st.one_of(
    st.sampled_from(
        [
            Raw("2027-01-01"),
            Raw("0001-01-01"),
            Raw("9999-12-30"),
            Raw("9999-12-31"),
            Raw("9999-12-31T23:59:59-05:00"),
            Raw("0001-01-01T00:00:00+05:00"),
            Raw("2027-01-01T09:00:00"),
            "2027-01-01",
            "soon",
            Raw("1999-12-31"),
        ]
    ),
    st.datetimes(timezones=st.none() | OFFSETS).map(lambda moment: Raw(moment.isoformat())),
)
SHARES = st.one_of(NUMBERS, st.sampled_from([0, 0.5, 1, 1.0000001, -0.1]))
WORDS = st.one_of(
    st.sampled_from(["chat", "", "x" * 300, "a", "\udcff", "ümlaut", "u-"]), st.text(max_size=30), NUMBERS, st.just([])
)


def distributions(amounts: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        amounts,
        st.fixed_dictionaries({"distribution": st.just("uniform"), "min": NUMBERS, "max": NUMBERS}),
        st.fixed_dictionaries(
            {"distribution": st.just("lognormal"), "median": NUMBERS, "sigma": NUMBERS},
            optional={"max": NUMBERS},
        ),
        st.fixed_dictionaries({"distribution": st.just("beta"), "a": NUMBERS, "b": NUMBERS}),
        st.fixed_dictionaries({"distribution": st.sampled_from(["fixed", "gaussian"]), "value": amounts}),
    )


# (table, index, key) -> what may be put there
POOLS: dict[tuple[str, int, str], st.SearchStrategy[Any]] = {
    ("simulation", 0, "start"): TIMES,
    ("simulation", 0, "duration"): DURATIONS,
    ("simulation", 0, "end"): TIMES,
    ("simulation", 0, "seed"): NUMBERS,
    ("simulation", 0, "scale"): st.sampled_from([-1, 0, 2, 18, 19, 10**18]),
    ("simulation", 0, "overdraft"): st.sampled_from(["reject", "partial", "debt", "maybe"]),
    ("simulation", 0, "debt_limit"): AMOUNTS,
    ("simulation", 0, "sample_every"): DURATIONS,
    ("customers", 0, "count"): st.sampled_from([0, -1, 1, 2, 1_000_001, 2**63 - 1]),
    ("customers", 0, "prefix"): WORDS,
    ("customers", 1, "id"): WORDS,
    ("grants", 0, "amount"): AMOUNTS,
    ("grants", 0, "every"): DURATIONS,
    ("grants", 0, "expires_after"): DURATIONS,
    ("grants", 0, "effective_after"): DURATIONS,
    ("grants", 0, "priority"): NUMBERS,
    ("grants", 0, "cost_basis"): AMOUNTS,
    ("grants", 0, "void_share"): SHARES,
    ("grants", 0, "void_after"): DURATIONS,
    ("grants", 0, "from"): st.one_of(DURATIONS, TIMES),
    ("grants", 0, "until"): st.one_of(DURATIONS, TIMES),
    ("grants", 0, "scope"): WORDS,
    ("grants", 0, "name"): WORDS,
    ("grants", 1, "amount"): AMOUNTS,
    ("grants", 1, "every"): DURATIONS,
    ("schedules", 0, "amount"): AMOUNTS,
    ("schedules", 0, "every"): DURATIONS,
    ("schedules", 0, "first_amount"): AMOUNTS,
    ("schedules", 0, "rollover_max"): AMOUNTS,
    ("schedules", 0, "rollover_min"): AMOUNTS,
    ("schedules", 0, "from"): st.one_of(DURATIONS, TIMES),
    ("schedules", 0, "until"): st.one_of(DURATIONS, TIMES),
    ("schedules", 0, "scope"): WORDS,
    ("schedules", 0, "single_use"): st.sampled_from([True, False, 1, "yes"]),
    ("schedules", 0, "priority"): NUMBERS,
    ("top_ups", 0, "threshold"): AMOUNTS,
    ("top_ups", 0, "amount"): AMOUNTS,
    ("top_ups", 0, "target"): AMOUNTS,
    ("top_ups", 0, "expires_after"): DURATIONS,
    ("top_ups", 0, "from"): st.one_of(DURATIONS, TIMES),
    ("top_ups", 0, "until"): st.one_of(DURATIONS, TIMES),
    ("usage", 0, "per_day"): NUMBERS,
    ("usage", 0, "amount"): distributions(AMOUNTS),
    ("usage", 1, "every"): DURATIONS,
    ("usage", 1, "amount"): distributions(AMOUNTS),
    ("usage", 1, "scope"): WORDS,
    ("jobs", 0, "per_day"): NUMBERS,
    ("jobs", 0, "amount"): distributions(AMOUNTS),
    ("jobs", 0, "capture_ratio"): distributions(SHARES),
    ("jobs", 0, "release_share"): SHARES,
    ("jobs", 0, "duration"): DURATIONS,
}

ROWS = st.sampled_from(
    [
        b"2027-01-03T10:00:00Z,vip,3.50,chat\n",
        b"2027-01-04T10:00:00+01:00,c-1,1,\n",
        b"2027-01-05T10:00:00Z,vip,\xff\xfe,chat\n",
        b"2027-01-05T10:00:00Z,vip," + b"9" * 5000 + b"\n",
        b"2027-01-05T10:00:00Z,vip,1E+400\n",
        b"2027-01-05T10:00:00Z,vip,2\x00\n",
        b"9999-12-31T23:59:59-05:00,vip,1\n",
        b"2027-01-05T10:00:00Z,vip,1," + b"s" * 20_000 + b"\n",
        b'2027-01-05T10:00:00Z,vip,1,"' + b"q\n" * 3 + b'"\n',
        b"2027-01-05T10:00:00Z,ghost,1\n",
        b"\n",
        b"only,two\n",
    ]
)


def scenario_text(values: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for table, entries in values.items():
        for entry in entries:
            lines.append(f"[{table}]" if table == "simulation" else f"[[{table}]]")
            lines.extend(f"{key} = {toml(value)}" for key, value in entry.items())
            lines.append("")
    return "\n".join(lines)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_scenario_value_yields_a_traceback(data: st.DataObject) -> None:
    values = {table: [dict(entry) for entry in entries] for table, entries in BASE.items()}
    for table, index, key in data.draw(st.lists(st.sampled_from(sorted(POOLS)), max_size=4, unique=True), "keys"):
        values[table][index][key] = data.draw(POOLS[table, index, key], f"{table}[{index}].{key}")
        if key == "end":
            values[table][index].pop("duration", None)
    if data.draw(st.booleans(), "drop usage"):
        values.pop("usage")
    events = b"timestamp,customer,amount,scope\n" + b"".join(data.draw(st.lists(ROWS, max_size=4), "rows"))
    with_db = data.draw(st.booleans(), "--db")

    with tempfile.TemporaryDirectory() as folder, mock.patch("creditcore.simulate.scenario.MAX_EVENTS", 3000):
        here = Path(folder)
        (here / "scenario.toml").write_text(scenario_text(values), encoding="utf-8", errors="surrogatepass")
        (here / "events.csv").write_bytes(events)
        out = here / "out"
        out.mkdir()
        args = ["simulate", str(here / "scenario.toml"), "--json", "--csv", str(out / "t.csv")]
        if with_db:
            args += ["--db", str(out / "sim.db")]
        done = CliRunner().invoke(main, args)

        event(f"exit {done.exit_code}")
        assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
        assert done.exit_code in (0, 1, 2), (done.exit_code, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout
        if done.exit_code:
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
            assert list(out.iterdir()) == []  # nothing partial is left
            return
        summary = json.loads(done.stdout)
        totals = {name: Decimal(value) for name, value in summary["totals"].items()}
        assert totals["granted"] == sum(
            totals[name] for name in ("available", "held", "used", "expired", "voided", "upcoming")
        )
        assert summary["events"] <= 3 * 3000  # about the bound (Poisson draws may exceed the mean a little)
        assert sorted(p.name for p in out.iterdir()) == (["sim.db", "t.csv"] if with_db else ["t.csv"])


def test_the_bound_is_checked_before_the_run() -> None:
    # per_day = 1e300 used to loop for ever: it is refused at once
    values = {table: [dict(entry) for entry in entries] for table, entries in BASE.items()}
    values["usage"][0]["per_day"] = 1e300
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        (here / "scenario.toml").write_text(scenario_text(values))
        (here / "events.csv").write_bytes(b"timestamp,customer,amount\n")
        began = datetime.now(UTC)
        done = CliRunner().invoke(main, ["simulate", str(here / "scenario.toml")])
        assert datetime.now(UTC) - began < timedelta(seconds=10)
    assert done.exit_code == 1 and "usage #1: per_day" in done.stderr and "100,000,000" in done.stderr

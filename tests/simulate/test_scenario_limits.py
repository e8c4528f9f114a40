"""Scenarios that ask for too much (or for the impossible) are refused before they run, with
one line naming the file, the line and the key; none ends in a traceback or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditcore.simulate import ScenarioError, parse, run
from creditcore.simulate.scenario import MAX_CUSTOMERS, MAX_EVENTS, MAX_REPLAY_LINE

UNIFORM = '{ distribution = "uniform", min = 1, max = 3 }'
GOOD = """\
[simulation]
start = 2027-01-01
duration = "30 days"
seed = 1

[[customers]]
count = 3
prefix = "u-"

[[grants]]
amount = 10
every = "1 week"
expires_after = "10 days"

[[usage]]
pattern = "poisson"
per_day = 1
amount = { distribution = "uniform", min = 1, max = 3 }

[[jobs]]
per_day = 0.5
amount = 4
"""


SCHEDULE = '\n[[schedules]]\namount = {amount}\nevery = "{every}"\n'
TOP_UP = "\n[[top_ups]]\nthreshold = {threshold}\namount = 5\n"


def changed(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# (the scenario, the key the message must name, its line, a phrase of the message)
TOO_MUCH = {
    "huge-duration-in-years": (
        changed('duration = "30 days"', 'duration = "100000 years"'), "simulation: duration", 3, "10,000 years",
    ),
    "huge-duration-in-days": (
        changed('duration = "30 days"', 'duration = "9999999999 days"'), "simulation: duration", 3, "10,000 years",
    ),
    "duration-of-5000-digits": (
        changed('duration = "30 days"', f'duration = "{"9" * 5000} days"'), "simulation: duration", 3, "10,000 years",
    ),
    "run-past-year-9999": (
        changed("start = 2027-01-01", "start = 9999-12-20"), "simulation: duration", 3, "last date a simulation",
    ),
    "start-whose-utc-form-overflows": (
        changed("start = 2027-01-01", "start = 9999-12-31T23:59:59-05:00"), "simulation: start", 2, "out of range",
    ),
    "start-before-year-1-in-utc": (
        changed("start = 2027-01-01", "start = 0001-01-01T00:00:00+05:00"), "simulation: start", 2, "out of range",
    ),
    "no-room-after-the-end-to-sample": (
        changed('duration = "30 days"', 'end = 9999-12-30T12:00:00Z\nsample_every = "1 day"'),
        "simulation: sample_every", 4, "last date a simulation",
    ),
    "expiry-past-year-9999": (
        changed("start = 2027-01-01", "start = 9999-11-25", changed('every = "1 week"\n', "")),
        "grants #1: expires_after", 12, "last date",
    ),
    "huge-every": (changed('every = "1 week"', 'every = "9999999999 days"'), "grants #1: every", 12, "10,000 years"),
    "huge-from": (changed("amount = 10", 'amount = 10\nfrom = "100000 years"'), "grants #1: from", 12, "10,000"),
    "job-ending-past-year-9999": (
        changed("start = 2027-01-01", "start = 9990-01-01", changed("amount = 4", 'amount = 4\nduration = "20 years"')),
        "jobs #1: duration", 23, "last date",
    ),
    "lognormal-sigma-1e300": (
        changed(UNIFORM, '{ distribution = "lognormal", median = 2, sigma = 1e300 }'), "usage #1: amount", 18, "sigma",
    ),
    "lognormal-median-1e300": (
        changed(UNIFORM, '{ distribution = "lognormal", median = 1e300, sigma = 1 }'),
        "usage #1: amount", 18, "largest amount",
    ),
    "uniform-max-1e300": (
        changed("min = 1, max = 3", "min = 1, max = 1e300"), "usage #1: amount", 18, "largest amount",
    ),
    "per-day-1e300": (changed("per_day = 1\n", "per_day = 1e300\n"), "usage #1: per_day", 17, f"{MAX_EVENTS:,}"),
    "jobs-per-day-1e9": (changed("per_day = 0.5", "per_day = 1e9"), "jobs #1: per_day", 21, "events"),
    "a-grant-every-minute-for-many-customers": (
        changed('every = "1 week"', 'every = "1 minute"', changed("count = 3", "count = 100000")),
        "grants #1: every", 12, "events",
    ),
    "too-many-customers": (
        changed("count = 3", f"count = {MAX_CUSTOMERS + 1}"), "customers #1: count", 7, f"{MAX_CUSTOMERS:,}",
    ),
    "a-recurring-grant-past-64-bits": (
        changed("amount = 10", "amount = 4611686018427387904"), "grants #1: amount", 11, "the most a ledger holds",
    ),
    "an-amount-past-64-bits": (
        changed("amount = 10", 'amount = "9223372036854775808"'), "grants #1: amount", 11, "64-bit",
    ),
    "an-amount-of-5000-digits": (
        changed("amount = 10", f'amount = "1.{"0" * 5000}"\nfoo = 1'), "grants #1: foo", 12, "unknown key",
    ),
    "a-prefix-too-long-for-an-id": (
        changed('prefix = "u-"', f'prefix = "{"u" * 300}"'), "customers #1: prefix", 8, "200",
    ),
    "a-name-too-long": (
        changed("amount = 10", f'amount = 10\nname = "{"n" * 500}"'), "grants #1: name", 12, "characters",
    ),
    # [[schedules]] and [[top_ups]] tables added after the others (their header on line 24)
    "a-schedule-past-64-bits": (
        GOOD + SCHEDULE.format(amount=4611686018427387904, every="1 week"), "schedules #1: amount", 25,
        "the most a ledger holds",
    ),
    "a-schedule-every-minute-for-many-customers": (
        changed("count = 3", "count = 100000", GOOD + SCHEDULE.format(amount=1, every="1 minute")),
        "schedules #1: every", 26, "events",
    ),
    "a-schedule-every-9999999999-days": (
        GOOD + SCHEDULE.format(amount=1, every="9999999999 days"), "schedules #1: every", 26, "10,000 years",
    ),
    "a-schedule-starting-in-100000-years": (
        GOOD + SCHEDULE.format(amount=1, every="1 month") + 'from = "100000 years"\n', "schedules #1: from", 27,
        "10,000",
    ),
    "a-top-up-expiring-past-year-9999": (
        GOOD + TOP_UP.format(threshold=0) + 'expires_after = "10000 years"\n', "top_ups #1: expires_after", 27,
        "last date",
    ),
    "a-top-up-threshold-past-64-bits": (
        GOOD + TOP_UP.format(threshold='"-9223372036854775808"'), "top_ups #1: threshold", 25, "64-bit",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", TOO_MUCH.values(), ids=TOO_MUCH.keys())
def test_a_scenario_asking_too_much_is_refused_with_its_key_and_line(case: tuple[str, str, int, str]) -> None:
    text, where, line, phrase = case
    with pytest.raises(ScenarioError) as raised:
        parse(text, source="s.toml")
    error = raised.value
    assert (error.where, error.line) == (where, line), str(error)
    assert phrase in error.message and "\n" not in str(error), str(error)
    assert len(str(error)) < 400, str(error)


def test_a_scenario_up_to_the_limits_runs() -> None:
    # the last days a simulation may reach, one grant of the largest amount per customer, and
    # a lognormal with the widest spread: nothing asked for lies past the limits, so it runs
    text = changed("start = 2027-01-01", "start = 9999-12-20", changed('duration = "30 days"', 'duration = "5 days"'))
    text = changed(
        'every = "1 week"\nexpires_after = "10 days"', "", changed("amount = 10", "amount = 9223372036854775807", text)
    )
    text = changed(UNIFORM, '{ distribution = "lognormal", median = 1e18, sigma = 10 }', text)
    found = parse(text, source="s.toml")
    outcome = run(found)
    assert outcome.totals.granted == 3 * 9223372036854775807
    assert outcome.totals.used + outcome.totals.available + outcome.totals.held == outcome.totals.granted


def test_a_total_that_outgrows_64_bits_mid_run_stops_the_run_naming_the_rule() -> None:
    text = changed("seed = 1", 'seed = 1\noverdraft = "debt"', changed("per_day = 1\n", "per_day = 5\n"))
    text = changed(UNIFORM, '"9223372036854775807"', text)
    found = parse(text, source="s.toml")
    with pytest.raises(ScenarioError) as raised:
        run(found)
    assert (raised.value.where, raised.value.line) == ("usage #1", 16), str(raised.value)
    assert "64-bit" in raised.value.message and "the run stopped at 2027-01-0" in raised.value.message


REPLAY = changed(
    f'pattern = "poisson"\nper_day = 1\namount = {UNIFORM}',
    'pattern = "replay"\nfile = "events.csv"',
)
HEADER = b"timestamp,customer,amount,scope\n"
ROW = b"2027-01-02T10:00:00Z,u-1,3,chat\n"
BAD_ROWS = {
    "invalid-utf-8": (ROW + b"2027-01-02T11:00:00Z,u-\xff\xfe,2,chat\n", 3, "", "UTF-8"),
    "a-line-too-long": (ROW + b"2027-01-02T11:00:00Z,u-1,2," + b"x" * 200_000 + b"\n", 3, "", f"{MAX_REPLAY_LINE:,}"),
    "a-quoted-field-past-the-csv-limit": (
        ROW + b'2027-01-02T11:00:00Z,u-1,2,"' + (b"x" * 9000 + b"\n") * 20 + b'"\n', 3, "", "field larger",
    ),
    "a-nul-byte": (ROW + b"2027-01-02T11:00:00Z,u-1,2\x00,chat\n", 3, "amount", "not a number"),
    "an-amount-of-5000-digits": (ROW + b"2027-01-02T11:00:00Z,u-1," + b"9" * 5000 + b",chat\n", 3, "amount", ""),
    "an-amount-past-64-bits": (ROW + b"2027-01-02T11:00:00Z,u-1,1E+400,chat\n", 3, "amount", "64-bit"),
    "a-time-whose-utc-form-overflows": (ROW + b"9999-12-31T23:59:59-05:00,u-1,2,chat\n", 3, "timestamp", "range"),
    "a-scope-too-long": (ROW + b"2027-01-02T11:00:00Z,u-1,2," + b"s" * 300 + b"\n", 3, "scope", "200"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_replay_row_is_refused_with_its_line(tmp_path: Path, case: tuple[bytes, int, str, str]) -> None:
    rows, line, column, phrase = case
    (tmp_path / "events.csv").write_bytes(HEADER + rows)
    with pytest.raises(ScenarioError) as raised:
        parse(REPLAY, source="s.toml", base=tmp_path)
    error = raised.value
    assert error.source == str(tmp_path / "events.csv") and error.line >= line, str(error)
    assert error.where == column and phrase in error.message, str(error)
    assert "\n" not in str(error) and len(str(error)) < 400, str(error)


def test_a_replay_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_bytes(b"\xef\xbb\xbf" + HEADER + ROW)
    found = parse(REPLAY, source="s.toml", base=tmp_path)
    assert len(found.usage[0].events) == 1 and found.usage[0].events[0].scope == "chat"

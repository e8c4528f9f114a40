"""Replay files: the usage a ``pattern = "replay"`` rule reads from a CSV.

``timestamp,customer,amount[,scope]``, UTF-8; every row that cannot be read is refused with
its file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from creditcore.errors import ValidationError
from creditcore.simulate.limits import MAX_EVENTS, MAX_REPLAY_LINE
from creditcore.simulate.model import ReplayEvent
from creditcore.simulate.reading import ScenarioError, _Problem
from creditcore.simulate.times import _moment
from creditcore.values import parse_amount, parse_id


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

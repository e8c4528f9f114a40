"""Reading a TOML scenario table by table, and the errors that name ``file, line N: key``.

Every mistake raises :class:`ScenarioError` naming the key (``grants #2: expires_after``) and
the line of the file it sits on. ``tomllib`` keeps no positions, so :func:`locate` finds the
line in the source text: the n-th ``[[table]]`` header, then the key inside it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from creditcore.errors import ValidationError

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

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, int | None, str, str]]:
        # as its own fields, so that a worker's error arrives whole in the process that ran it
        return (ScenarioError, (self.source, self.line, self.where, self.message))


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


def _array(loader: _Loader, data: Mapping[str, Any], key: str) -> list[_Table]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise loader.error((key,), f"expected an array of tables ([[{key}]]), got {_kind(value)}")
    return [_Table(loader, item, (key, i)) for i, item in enumerate(value)]

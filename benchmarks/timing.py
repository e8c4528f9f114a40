"""How the benchmarks time things: rates, interleaved contests, per-call costs in rounds.

The machine is shared and absolute numbers are noisy, so every ratio is taken from two
figures of the same run, measured interleaved (creditcore, then each rival, then
creditcore again, ...) and each the best of several repeats.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from creditcore import Ledger

#: A timed run: the seconds its timed part took and the credits it moved (which must be the
#: same on every side of a contest, or they did not do the same work).
Run = Callable[[], tuple[float, int]]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(run: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def failure(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class Rival:
    """What creditcore is measured against in a contest: a floor or a peer."""

    name: str
    kind: str
    """``"floor"`` or ``"peer"``."""
    run: Run | None
    note: str | None = None
    """Why it does not run (a peer that is not installed)."""


def contest(name: str, count: int, unit: str, subject: Run, rivals: list[Rival], repeats: int) -> dict[str, Any]:
    """creditcore's ``subject`` against each rival, interleaved, best of ``repeats`` each.

    ``ratio`` is the rival's best time over creditcore's: creditcore's speed as a fraction of
    the rival's (above 1, creditcore is faster). A rival that fails is reported as failed and
    not run again; the others go on. A rival that moves other credits than creditcore is a
    failure too: it did not do the same work."""
    best_subject = float("inf")
    best = {rival.name: float("inf") for rival in rivals}
    failed: dict[str, str] = {}
    for _ in range(repeats):
        seconds, ours = subject()
        best_subject = min(best_subject, seconds)
        for rival in rivals:
            if rival.run is None or rival.name in failed:
                continue
            try:
                seconds, theirs = rival.run()
            except Exception as error:  # one rival's failure is reported, the rest goes on
                failed[rival.name] = failure(error)
                say(f"  {name}: {rival.name} FAILED: {failed[rival.name]}")
                continue
            if theirs != ours:
                failed[rival.name] = f"it moved {theirs} credits where creditcore moved {ours}"
                say(f"  {name}: {rival.name} FAILED: {failed[rival.name]}")
                continue
            best[rival.name] = min(best[rival.name], seconds)
    against: list[dict[str, Any]] = []
    for rival in rivals:
        row: dict[str, Any] = {"name": rival.name, "kind": rival.kind}
        if rival.run is None:
            row["note"] = rival.note or "not run"
        elif rival.name in failed:
            row["failed"] = failed[rival.name]
        else:
            row["per_s"] = rate(count, best[rival.name])
            row["ratio"] = best[rival.name] / best_subject
        against.append(row)
    figure = {
        "name": name,
        "operations": count,
        "unit": unit,
        "creditcore_per_s": rate(count, best_subject),
        "against": against,
    }
    shown = ", ".join(
        f"{row['name']} {row['per_s']:,.0f}/s (ratio {row['ratio']:.3f})" if "ratio" in row else f"{row['name']} -"
        for row in against
    )
    say(f"  {name}: creditcore {figure['creditcore_per_s']:,.0f}/s; {shown}")
    return figure


def per_call(action: Callable[[int], object], calls: int) -> float:
    """Seconds per call of ``calls`` calls of ``action(i)``."""
    started = time.perf_counter()
    for i in range(calls):
        action(i)
    return (time.perf_counter() - started) / calls


class Subject:
    """One customer of a scaling curve, measured a round at a time so that every level of
    the curve sees the same moments of a shared machine; each figure is the best round.

    A round burns 1 credit ``calls`` times (each burn its own write, later than the last),
    reads the current balance ``calls`` times (or ``balance_calls``) and, when ``middle`` is
    given, a past balance at ``middle``."""

    def __init__(
        self,
        ledger: Ledger,
        customer: str,
        last: datetime,
        middle: datetime | None,
        balance_calls: int | None = None,
    ) -> None:
        self.ledger = ledger
        self.customer = customer
        self.middle = middle
        self.balance_calls = balance_calls
        self.next_at = last + timedelta(seconds=1)
        self.best: dict[str, float] = {}

    def keep(self, name: str, seconds: float) -> None:
        self.best[name] = min(seconds, self.best.get(name, float("inf")))

    def measure_round(self, calls: int) -> None:
        ledger, customer = self.ledger, self.customer
        start = self.next_at
        tick = timedelta(milliseconds=1)
        self.next_at += tick * (calls + 1)
        self.keep("burn", per_call(lambda i: ledger.burn(customer, 1, at=start + tick * i), calls))
        self.keep("balance", per_call(lambda _i: ledger.balance(customer), self.balance_calls or calls))
        middle = self.middle
        if middle is not None:
            self.keep("past_balance", per_call(lambda _i: ledger.balance(customer, at=middle), max(2, calls // 40)))

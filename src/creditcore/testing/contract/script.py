"""The pieces the contract tests share with other suites: a clock moved by hand, a
snapshot of everything a ledger stores, a stable ``repr`` (:func:`describe`), and
:func:`run_script`, a seeded random workload whose transcript two ledgers can be compared by
(:func:`normalise_ids`, :func:`assert_same_transcript`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import attrs

from creditcore.errors import CreditError
from creditcore.ledger import Ledger
from creditcore.model import Result
from creditcore.repository import EntryQuery, iterate_entries

START = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
UNITS = {"usd": 2}
D = Decimal


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Everything a ledger stores, read through its repository, as one comparable value:
    units, customers, and per customer the account, every block, hold and entry."""
    with ledger.repository.reader() as reader:
        customers = reader.customers()
        return {
            "units": reader.units(),
            "customers": customers,
            "accounts": {c: reader.load_account(c) for c in customers},
            "history": {c: reader.history(c) for c in customers},
            "entries": list(iterate_entries(reader, EntryQuery(limit=500))),
        }


def describe(value: object) -> str:
    """``repr(value)``, except that sets are listed sorted: the same value always reads the
    same, whatever order its sets were built in; a field outside the value (``eq=False``,
    such as an entry's ``txid``) is left out."""
    if attrs.has(type(value)):
        fields = [f for f in attrs.fields(cast(Any, type(value))) if f.eq]
        return f"{type(value).__name__}({', '.join(f'{f.name}={describe(getattr(value, f.name))}' for f in fields)})"
    if isinstance(value, (frozenset, set)):
        return f"{type(value).__name__}({{{', '.join(sorted(describe(v) for v in value))}}})"
    if isinstance(value, tuple):
        return f"({describe(value[0])},)" if len(value) == 1 else f"({', '.join(describe(v) for v in value)})"
    if isinstance(value, list):
        return f"[{', '.join(describe(v) for v in value)}]"
    if isinstance(value, Mapping):
        return f"{{{', '.join(f'{describe(k)}: {describe(v)}' for k, v in value.items())}}}"
    return repr(value)


_ID = re.compile(r"\b(blk|op)_[0-9a-f]{32}\b")
_SEQ = re.compile(r"\bseq=(\d+)")


def normalise_ids(texts: list[str]) -> list[str]:
    """``texts`` with every generated block and op id replaced by its first-seen order
    (``blk#1``, ``op#2``, ...), and every entry's ``seq`` by its rank among all the seqs
    shown, so two ledgers that did the same things compare equal. (``seq`` is strictly
    increasing across a ledger, not gapless: PostgreSQL's come from a sequence. A transcript
    ends with every entry, so the ranks are one adapter's seqs as a gapless one numbers them,
    and entries numbered in another order still differ.)"""
    seen: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"{match.group(1)}#{len(seen) + 1}")

    ranks = {seq: rank for rank, seq in enumerate(sorted({int(s) for t in texts for s in _SEQ.findall(t)}), 1)}
    return [_SEQ.sub(lambda m: f"seq={ranks[int(m.group(1))]}", _ID.sub(name, text)) for text in texts]


def run_script(ledger: Ledger, clock: ManualClock, seed: int, steps: int = 200) -> list[str]:
    """Drive ``ledger`` through ``steps`` random operations chosen by ``seed`` alone, and
    return a transcript: each call's outcome (result or error), then the final balances,
    blocks, holds and entries, and the verify report.

    The choices depend only on the seed and on what earlier calls returned, so two ledgers
    that behave the same produce the same transcript (once ids are normalised with
    :func:`normalise_ids`).
    """
    rng = random.Random(seed)
    customers = ("ada", "bob", "cy")
    blocks: list[str] = []
    holds: list[str] = []
    drawn: list[str] = []  # op ids of burns and captures, for reversals
    keyed: list[tuple[Callable[..., Result], tuple[Any, ...], dict[str, Any]]] = []
    transcript: list[str] = []

    def amount(unit: str, low: int, high: int) -> str:
        value = rng.randint(low, high)
        return f"{value}.{rng.randint(0, 99):02d}" if unit == "usd" else str(value)

    def key(prefix: str, step: int) -> str | None:
        return f"{prefix}{step}" if rng.random() < 0.4 else None

    for step in range(steps):
        clock.advance(rng.choice((timedelta(0), timedelta(microseconds=1), timedelta(minutes=7), HOUR, DAY)))
        now = clock.now
        customer = rng.choice(customers)
        unit = rng.choice(("credits", "credits", "usd"))
        roll = rng.random()
        call: Callable[..., Result]
        args: tuple[Any, ...]
        kwargs: dict[str, Any]
        if roll < 0.24:
            call, args = ledger.grant, (customer, amount(unit, 1, 60))
            kwargs = {
                "unit": unit,
                "expires_at": rng.choice((None, now + HOUR, now + DAY, now + 3 * DAY)),
                "effective_at": rng.choice((None, None, None, now + 2 * HOUR)),
                "priority": rng.choice((10, 50, 90)),
                "category": rng.choice(("promotional", "paid")),
                "cost_basis": rng.choice((None, "0.01", "1.5")),
                "scope": rng.choice((None, None, {"trip"}, {"trip", "food"})),
                "metadata": rng.choice((None, {"plan": "pro"})),
                "idempotency_key": key("g", step),
            }
        elif roll < 0.48:
            call, args = ledger.burn, (customer, amount(unit, 1, 40))
            kwargs = {
                "unit": unit,
                "scope": rng.choice((None, None, "trip")),
                "overdraft": rng.choice(("reject", "partial", "debt")),
                "description": rng.choice((None, "job ✓")),
                "idempotency_key": key("b", step),
            }
        elif roll < 0.60:
            call, args = ledger.hold, (customer, amount(unit, 1, 30))
            kwargs = {
                "unit": unit,
                "hold_id": f"h{step}",
                "scope": rng.choice((None, None, "trip")),
                "expires_at": rng.choice((None, now + 2 * HOUR)),
            }
        elif roll < 0.68 and holds:
            choice = rng.choice((None, "0", "1", "5", "50"))
            call, args, kwargs = ledger.capture, (rng.choice(holds), choice), {}
        elif roll < 0.73 and holds:
            call, args, kwargs = ledger.release, (rng.choice(holds),), {}
        elif roll < 0.78 and blocks:
            call, args = ledger.void, (rng.choice(blocks), rng.choice((None, "1", "2")))
            kwargs = {"reason": "refund", "idempotency_key": key("v", step)}
        elif roll < 0.84 and drawn:
            call, args = ledger.reverse, (rng.choice(drawn), rng.choice((None, "1")))
            kwargs = {"idempotency_key": key("r", step)}
        elif roll < 0.89 and blocks:
            call, args = ledger.change_expiry, (rng.choice(blocks), now + rng.choice((HOUR, 5 * DAY)))
            kwargs = {"amount": rng.choice((None, "1")), "idempotency_key": key("c", step)}
        elif roll < 0.94 and keyed:
            call, args, kwargs = rng.choice(keyed)  # a retry: replays (or conflicts, for a hold id)
        else:
            transcript.append(f"{step} expire_due -> {describe(ledger.expire_due())}")
            continue
        try:
            result = call(*args, **kwargs)
        except CreditError as error:
            transcript.append(f"{step} {call.__name__}{args!r} -> {type(error).__name__}: {error}")
            continue
        transcript.append(f"{step} {call.__name__}{args!r} -> {describe(result)}")
        if result.replayed:
            continue
        block = getattr(result, "block", None)
        if block is not None:
            blocks.append(block.id)
        if call == ledger.hold:
            holds.append(kwargs["hold_id"])
        if call in (ledger.burn, ledger.capture):
            drawn.append(result.op_id)
        if kwargs.get("idempotency_key") or call == ledger.hold:
            keyed.append((call, args, kwargs))
    for customer in customers:
        transcript.append(f"balances {customer}: {describe(ledger.balances(customer))}")
        for unit in ("credits", "usd"):
            transcript.append(
                f"blocks {customer} {unit}: {describe(ledger.blocks(customer, unit=unit, include_inactive=True))}"
            )
        transcript.append(f"holds {customer}: {describe(ledger.holds(customer, status=None))}")
    with ledger.repository.reader() as reader:
        transcript.extend(describe(e) for e in iterate_entries(reader, EntryQuery(limit=500)))
        transcript.append(f"customers: {reader.customers()!r}")
    transcript.append(f"verify: {ledger.verify()}")
    return normalise_ids(transcript)


def assert_same_transcript(actual: list[str], expected: list[str]) -> None:
    """Fail with the first line where two transcripts of :func:`run_script` differ."""
    for number, (got, want) in enumerate(zip(actual, expected, strict=False)):
        assert got == want, f"the transcripts differ at line {number}:\n  got:  {got}\n  want: {want}"
    assert len(actual) == len(expected), f"{len(actual)} transcript lines, expected {len(expected)}"

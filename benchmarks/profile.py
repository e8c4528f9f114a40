"""Profiles behind the bars that fall short: ``python -m benchmarks.profile`` from the
repository root writes ``benchmarks/results/profile_*.txt`` (``--out DIR`` elsewhere,
``--smoke`` for tiny sizes, as the tests run it).

- ``profile_memory_burns.txt``: a memory-adapter burn against the dict floor's, and where
  the burn spends its time (cProfile, by own time).
- ``profile_sqlite_normal.txt``: a SQLite burn at ``synchronous=NORMAL``, one transaction
  each, split by statement (the time from one statement to the next, so the Python work
  after a statement counts with it), next to the lean floor's and the schema floor's.
- ``profile_sqlite_grants.txt``: grants loaded inside one ``atomic()``, split the same way,
  and where the ledger's Python goes (cProfile).

Everything goes through the public API; the statement split reads the ledger's SQLite
connection through ``SQLiteRepository.connection()``, its documented door for inspection.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import io
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/profile.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import floors, subjects, workload
from benchmarks.run import RESULTS, machine
from creditcore import Ledger

SIZES = {
    "full": {"memory_burns": 20_000, "sqlite_burns": 3_000, "customers": 1_000, "repeats": 5},
    "smoke": {"memory_burns": 200, "sqlite_burns": 30, "customers": 5, "repeats": 1},
}


def _cprofile(run: Callable[[], object], out: io.StringIO, lines: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(lines)
    out.write(text.getvalue().replace(str(Path.cwd()) + "/", ""))


def memory_burns(out: io.StringIO, sizes: dict[str, Any]) -> None:
    wl = workload.make(seed=6, customers=100, grants=10, burns=sizes["memory_burns"], holds=0)
    floor_seconds = []
    ledger_seconds = []
    for _ in range(sizes["repeats"]):
        floor = floors.DictFloor()
        for grant in wl.grants:
            floor.grant(grant, workload.START)
        gc.collect()
        started = time.perf_counter()
        for spec in wl.burns:
            floor.burn(spec)
        floor_seconds.append(time.perf_counter() - started)
        ledger = Ledger.memory()
        subjects.grant_all(ledger, wl)
        gc.collect()
        started = time.perf_counter()
        subjects.burn_all(ledger, wl)
        ledger_seconds.append(time.perf_counter() - started)
    floor_us = min(floor_seconds) / len(wl.burns) * 1e6
    ledger_us = min(ledger_seconds) / len(wl.burns) * 1e6
    print(f"dict floor: {floor_us:.2f} us per burn; memory ledger: {ledger_us:.2f} us per burn", file=out)
    print(
        f"ratio {floor_us / ledger_us:.3f}; the 0.10 bar (issue 12) allows {10 * floor_us:.2f} us per burn, "
        f"the 1/5 bar (SPEC §11) {5 * floor_us:.2f} us\n",
        file=out,
    )
    ledger = Ledger.memory()
    subjects.grant_all(ledger, wl)
    print(f"cProfile of {len(wl.burns):,} memory-ledger burns, by own time:", file=out)
    _cprofile(lambda: subjects.burn_all(ledger, wl), out, 30)


def _statements(
    conn: sqlite3.Connection, run: Callable[[], object], count: int
) -> tuple[float, list[tuple[str, float]]]:
    """Microseconds per operation in all, and from each kind of statement to the next."""
    spent: dict[str, float] = collections.defaultdict(float)
    last: list[Any] = [None, 0.0]

    def seen(sql: str) -> None:
        now = time.perf_counter()
        if last[0] is not None:
            spent[last[0]] += now - last[1]
        last[0], last[1] = " ".join(sql.split()[:3]), now

    conn.set_trace_callback(seen)
    started = time.perf_counter()
    run()
    total = time.perf_counter() - started
    conn.set_trace_callback(None)
    return total / count * 1e6, sorted(((k, v / count * 1e6) for k, v in spent.items()), key=lambda kv: -kv[1])


def _connection(ledger: Ledger) -> sqlite3.Connection:
    conn: sqlite3.Connection = ledger.repository.connection()  # type: ignore[attr-defined]
    return conn


def _split(out: io.StringIO, name: str, per_op: float, split: list[tuple[str, float]], unit: str) -> None:
    print(f"\n{name}: {per_op:.1f} us per {unit}; from each statement to the next:", file=out)
    for statement, micros in split[:8]:
        print(f"  {micros:7.1f} us  {statement}", file=out)


def sqlite_normal(out: io.StringIO, sizes: dict[str, Any]) -> None:
    count = sizes["sqlite_burns"]
    wl = workload.make(seed=6, customers=100, grants=10, burns=count, holds=0)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger.sqlite(os.path.join(directory, "ledger.db"), durability="normal")
        subjects.grant_all(ledger, wl)
        rows.append(("creditcore", *_statements(_connection(ledger), lambda: subjects.burn_all(ledger, wl), count)))
        ledger.close()
        for name, floor in (
            ("lean floor", floors.LeanFloor(os.path.join(directory, "lean.db"), "NORMAL")),
            ("schema floor", floors.SchemaFloor(os.path.join(directory, "schema.db"), "NORMAL")),
        ):
            floor.grants(wl.grants)
            rows.append((name, *_statements(floor.conn, lambda f=floor: f.burns_each(wl.burns), count)))  # type: ignore[misc]
            floor.close()
    print(f"{count:,} burns, one transaction each, synchronous=NORMAL (traced, so slower than untraced)", file=out)
    for name, per_burn, split in rows:
        _split(out, name, per_burn, split, "burn")
    print(
        "\nA floor's burn is its statements and little else: the lean floor's are the fewest an\n"
        "application would write (two tables, integer keys); the schema floor issues the\n"
        "ledger's kind of statements on the ledger's own tables. The ledger's burn is its\n"
        "statements and, between them, the Python of a burn: the checks, the rule and the\n"
        "result (the memory adapter's whole burn, see profile_memory_burns.txt).",
        file=out,
    )


def sqlite_grants(out: io.StringIO, sizes: dict[str, Any]) -> None:
    customers = sizes["customers"]
    wl = workload.make(seed=6, customers=customers, grants=20, burns=0, holds=0)
    count = len(wl.grants)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger.sqlite(os.path.join(directory, "ledger.db"))
        rows.append(("creditcore", *_statements(_connection(ledger), lambda: subjects.grant_all(ledger, wl), count)))
        ledger.close()
        for name, floor in (
            ("lean floor", floors.LeanFloor(os.path.join(directory, "lean.db"), "FULL")),
            ("schema floor", floors.SchemaFloor(os.path.join(directory, "schema.db"), "FULL")),
        ):
            rows.append((name, *_statements(floor.conn, lambda f=floor: f.grants(wl.grants), count)))  # type: ignore[misc]
            floor.close()
        ledger = Ledger.sqlite(os.path.join(directory, "profiled.db"))
        profiled = io.StringIO()
        _cprofile(lambda: subjects.grant_all(ledger, wl), profiled, 25)
        ledger.close()
    print(f"{count:,} grants to {customers:,} customers in one transaction, synchronous=FULL (traced)", file=out)
    for name, per_grant, split in rows:
        _split(out, name, per_grant, split, "grant")
    print(
        "\nThe lean floor's grant is a sum over the customer's blocks (its available balance\n"
        "after the grant) and two INSERTs; the schema floor's writes the ledger's rows and each\n"
        "customer's totals once, at the end. Where the ledger's Python goes (cProfile):\n",
        file=out,
    )
    out.write(profiled.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the profiles run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the profile_*.txt files go")
    args = parser.parse_args(argv)
    sizes = SIZES["smoke" if args.smoke else "full"]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, produce in (
        ("profile_memory_burns.txt", memory_burns),
        ("profile_sqlite_normal.txt", sqlite_normal),
        ("profile_sqlite_grants.txt", sqlite_grants),
    ):
        out = io.StringIO()
        info = machine()
        print(f"{name} - {info['when']}, {info['platform']}, {info['cpus']} CPUs, Python {info['python']}\n", file=out)
        produce(out, sizes)
        (args.out / name).write_text(out.getvalue())
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

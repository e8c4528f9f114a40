"""Every benchmark figure in one run: ``python -m benchmarks`` (or ``python benchmarks/run.py``)
from the repository root; ``--smoke`` for tiny sizes.

Prints a table, writes ``benchmarks/results/results.json`` and ``scaling.png``. Each bar of
SPEC §11 is a ratio of two figures measured in this same run, interleaved (subject, floor,
subject, floor, ...) and taken as the best of several repeats, because the machine is
shared and absolute numbers are noisy.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import floors, peers, scaling, subjects, workload
from benchmarks.workload import START, Workload
from creditcore import Ledger
from creditcore.adapters.memory import MemoryRepository
from creditcore.adapters.sqlite import SQLiteRepository

RESULTS = Path(__file__).resolve().parent / "results"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "customers": 100,
        "grants": 10,
        "memory_burns": 20_000,
        "holds": 5_000,
        "sqlite_full": 1_500,
        "sqlite_normal": 5_000,
        "sqlite_atomic": 20_000,
        "load_customers": 1_000,
        "repeats": 5,
        "peer_burns": (100, 1_000, 10_000),
        "peer_holds": (100, 1_000, 10_000),
        "peer_budget": 120.0,
        "history": (100, 1_000, 10_000, 100_000, 1_000_000),
        "dead": (100, 1_000, 10_000),
        "calls": 200,
        "simulation": (1_000_000, 10_000),
    },
    "smoke": {
        "customers": 5,
        "grants": 4,
        "memory_burns": 200,
        "holds": 50,
        "sqlite_full": 20,
        "sqlite_normal": 20,
        "sqlite_atomic": 100,
        "load_customers": 5,
        "repeats": 1,
        "peer_burns": (10, 30),
        "peer_holds": (5,),
        "peer_budget": 20.0,
        "history": (100, 1_000),
        "dead": (10, 100),
        "calls": 5,
        "simulation": (1_000, 10),
    },
}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(run: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- subjects against their floors --------------------------------------------------------------


def dict_floor_burns(wl: Workload) -> tuple[float, int]:
    floor = floors.DictFloor()
    for spec in wl.grants:
        floor.grant(spec, START)
    return timed(lambda: sum(floor.burn(spec) for spec in wl.burns))


def dict_floor_holds(wl: Workload) -> tuple[float, int]:
    floor = floors.DictFloor()
    for spec in wl.grants:
        floor.grant(spec, START)

    def run() -> int:
        captured = 0
        for spec in wl.holds:
            if floor.hold(spec):
                captured += floor.settle(spec)
        return captured

    return timed(run)


def memory_burns(wl: Workload) -> tuple[float, int]:
    ledger = Ledger.memory()
    subjects.grant_all(ledger, wl)
    return timed(lambda: subjects.burn_all(ledger, wl))


def memory_holds(wl: Workload) -> tuple[float, int]:
    ledger = Ledger.memory()
    subjects.grant_all(ledger, wl)
    return timed(lambda: subjects.hold_all(ledger, wl))


def sqlite_ledger(directory: str, durability: str) -> Ledger:
    path = tempfile.mktemp(suffix=".db", dir=directory)
    return Ledger.sqlite(path, durability=durability)


def sqlite_burns(wl: Workload, directory: str, durability: str, atomic: bool) -> tuple[float, int]:
    ledger = sqlite_ledger(directory, durability)
    try:
        subjects.grant_all(ledger, wl)
        return timed(lambda: (subjects.burn_all_atomic if atomic else subjects.burn_all)(ledger, wl))
    finally:
        ledger.close()


def sqlite_holds(wl: Workload, directory: str) -> tuple[float, int]:
    ledger = sqlite_ledger(directory, "full")
    try:
        subjects.grant_all(ledger, wl)
        return timed(lambda: subjects.hold_all(ledger, wl))
    finally:
        ledger.close()


def sqlite_floor_burns(wl: Workload, directory: str, synchronous: str, together: bool) -> tuple[float, int]:
    floor = floors.SQLiteFloor(tempfile.mktemp(suffix=".db", dir=directory), synchronous)
    try:
        floor.grants(wl.grants)
        return timed(lambda: (floor.burns_together if together else floor.burns_each)(wl.burns))
    finally:
        floor.close()


def sqlite_grants(wl: Workload, directory: str) -> tuple[float, int]:
    ledger = sqlite_ledger(directory, "full")
    try:
        return timed(lambda: (subjects.grant_all(ledger, wl), sum(g.amount for g in wl.grants))[1])
    finally:
        ledger.close()


def sqlite_floor_grants(wl: Workload, directory: str) -> tuple[float, int]:
    floor = floors.SQLiteFloor(tempfile.mktemp(suffix=".db", dir=directory), "FULL")
    try:
        return timed(lambda: (floor.grants(wl.grants), sum(g.amount for g in wl.grants))[1])
    finally:
        floor.close()


def compare(
    name: str,
    count: int,
    unit: str,
    subject: Callable[[], tuple[float, int]],
    floor: Callable[[], tuple[float, int]],
    repeats: int,
) -> dict[str, Any]:
    """Interleaved runs, best of ``repeats`` for each side; both must do the same work."""
    best_subject = best_floor = float("inf")
    for _ in range(repeats):
        seconds, subject_total = subject()
        best_subject = min(best_subject, seconds)
        seconds, floor_total = floor()
        best_floor = min(best_floor, seconds)
        if subject_total != floor_total:
            raise AssertionError(f"{name}: creditcore moved {subject_total} credits, the floor {floor_total}")
    figure = {
        "name": name,
        "operations": count,
        "unit": unit,
        "creditcore_per_s": rate(count, best_subject),
        "floor_per_s": rate(count, best_floor),
        "ratio": best_floor / best_subject,
    }
    say(
        f"  {name}: creditcore {figure['creditcore_per_s']:,.0f}/s, floor {figure['floor_per_s']:,.0f}/s, "
        f"ratio {figure['ratio']:.3f}"
    )
    return figure


def floors_figures(sizes: dict[str, Any], directory: str) -> dict[str, dict[str, Any]]:
    seed = 6
    repeats = sizes["repeats"]
    common = {"seed": seed, "customers": sizes["customers"], "grants": sizes["grants"]}
    wl = workload.make(**common, burns=sizes["memory_burns"], holds=sizes["holds"])
    out = {}
    say("memory adapter vs the plain-dict floor")
    out["memory_burns"] = compare(
        "memory burns", len(wl.burns), "burns", lambda: memory_burns(wl), lambda: dict_floor_burns(wl), repeats
    )
    out["memory_holds"] = compare(
        "memory hold+capture/release",
        len(wl.holds),
        "cycles",
        lambda: memory_holds(wl),
        lambda: dict_floor_holds(wl),
        repeats,
    )
    say("SQLite adapter vs raw sqlite3")
    for durability, key in (("FULL", "sqlite_full"), ("NORMAL", "sqlite_normal")):
        w = workload.make(**common, burns=sizes[key], holds=0)
        out[f"sqlite_each_{durability.lower()}"] = compare(
            f"SQLite one txn per burn, synchronous={durability}",
            len(w.burns),
            "burns",
            lambda w=w, d=durability: sqlite_burns(w, directory, d.lower(), atomic=False),  # type: ignore[misc]
            lambda w=w, d=durability: sqlite_floor_burns(w, directory, d, together=False),  # type: ignore[misc]
            repeats,
        )
    w = workload.make(**common, burns=sizes["sqlite_atomic"], holds=0)
    out["sqlite_atomic"] = compare(
        "SQLite all burns in one atomic(), synchronous=FULL",
        len(w.burns),
        "burns",
        lambda: sqlite_burns(w, directory, "full", atomic=True),
        lambda: sqlite_floor_burns(w, directory, "FULL", together=True),
        repeats,
    )
    w = workload.make(seed=seed, customers=sizes["load_customers"], grants=sizes["grants"] * 2, burns=0, holds=0)
    out["sqlite_atomic_grants"] = compare(
        "SQLite all grants in one atomic(), synchronous=FULL",
        len(w.grants),
        "grants",
        lambda: sqlite_grants(w, directory),
        lambda: sqlite_floor_grants(w, directory),
        repeats,
    )
    return out


# -- peers --------------------------------------------------------------------------------------


def peer_figures(sizes: dict[str, Any], directory: str) -> dict[str, list[dict[str, Any]]]:
    common = {"seed": 7, "customers": sizes["customers"], "grants": sizes["grants"]}
    budget = sizes["peer_budget"]
    repeats = sizes["repeats"]
    out: dict[str, list[dict[str, Any]]] = {}

    def ladder(
        peer: str,
        module: str,
        counts: tuple[int, ...],
        unit: str,
        ours: Callable[[Workload], tuple[float, int]],
        theirs: Callable[[Workload], tuple[float, int]],
        prefix: Callable[[Workload, int], Workload],
        wl: Workload,
        quick: int,
    ) -> None:
        rows: list[dict[str, Any]] = out.setdefault(peer, [])
        if not peers.available(module):
            rows.append({"note": f"{peer} is not installed (pip install -r benchmarks/requirements.txt)"})
            say(f"  {peer}: not installed, skipped")
            return
        last: tuple[int, float] | None = None
        for count in counts:
            if last is not None:
                # both peers grow faster than linearly: extrapolate with the square
                estimate = last[1] * (count / last[0]) ** 2
                if estimate > budget:
                    rows.append(
                        {
                            "operations": count,
                            "note": f"not run: {peer} would take about {estimate:,.0f} s here "
                            f"({last[1]:.1f} s at {last[0]:,}; budget {budget:.0f} s)",
                        }
                    )
                    say(f"  {peer} at {count:,}: skipped, estimated {estimate:,.0f} s")
                    continue
            w = prefix(wl, count)
            their_seconds = our_seconds = float("inf")
            # a slow peer runs once; a quick one as often as the floors
            for _ in range(repeats if count <= quick else 1):
                seconds, their_total = theirs(w)
                their_seconds = min(their_seconds, seconds)
                seconds, our_total = ours(w)
                our_seconds = min(our_seconds, seconds)
                if their_total != our_total:
                    raise AssertionError(
                        f"{peer} at {count}: creditcore moved {our_total} credits, {peer} {their_total}"
                    )
            last = (count, their_seconds)
            rows.append(
                {
                    "operations": count,
                    "unit": unit,
                    "creditcore_per_s": rate(count, our_seconds),
                    "peer_per_s": rate(count, their_seconds),
                    "ratio": their_seconds / our_seconds,
                }
            )
            say(
                f"  {peer} at {count:,} {unit}: creditcore {rate(count, our_seconds):,.0f}/s, "
                f"{peer} {rate(count, their_seconds):,.0f}/s, creditcore is {their_seconds / our_seconds:.1f}x"
            )

    say("peers")
    burns = workload.make(**common, burns=max(sizes["peer_burns"]), holds=0)
    ladder(
        "boilpayment-credits",
        "boilpayment_credits",
        sizes["peer_burns"],
        "burns",
        memory_burns,
        peers.boilpayment_burns,
        Workload.burn_prefix,
        burns,
        quick=10_000,
    )
    holds = workload.make(**common, burns=0, holds=max(sizes["peer_holds"]))
    ladder(
        "a-ledger",
        "a_ledger",
        sizes["peer_holds"],
        "hold cycles",
        lambda w: sqlite_holds(w, directory),
        lambda w: peers.aledger_holds(w, tempfile.mkdtemp(dir=directory)),
        Workload.hold_prefix,
        holds,
        quick=0,
    )
    return out


# -- scaling ------------------------------------------------------------------------------------


def scaling_figures(sizes: dict[str, Any], directory: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    clock_at = START + timedelta(days=30)
    for adapter in ("memory", "sqlite"):
        say(f"scaling on the {adapter} adapter")
        repository = (
            MemoryRepository()
            if adapter == "memory"
            else SQLiteRepository(tempfile.mktemp(suffix=".db", dir=directory), durability="normal")
        )
        ledger = Ledger(repository, clock=lambda: clock_at)
        history: list[tuple[int, scaling.Subject]] = []
        for size in sizes["history"]:
            started = time.perf_counter()
            middle, last = scaling.build_history(repository, f"h{size}", size)
            history.append((size, scaling.Subject(ledger, f"h{size}", last, middle)))
            say(f"  built a history of {size:,} entries in {time.perf_counter() - started:.1f} s")
        dead: list[tuple[int, scaling.Subject]] = []
        for size in sizes["dead"]:
            last = scaling.build_dead_blocks(repository, f"d{size}", size)
            dead.append((size, scaling.Subject(ledger, f"d{size}", last, None)))
        scaling.settle(repository)
        for _ in range(sizes["repeats"]):
            for _size, subject in [*history, *dead]:
                subject.measure_round(sizes["calls"])
        for size, subject in history:
            f = subject.best
            say(
                f"  history {size:>9,}: burn {f['burn'] * 1e6:8.1f} us, balance {f['balance'] * 1e6:8.1f} us, "
                f"past balance {f['past_balance'] * 1e6:10.1f} us"
            )
        for size, subject in dead:
            f = subject.best
            say(f"  dead blocks {size:>7,}: burn {f['burn'] * 1e6:8.1f} us, balance {f['balance'] * 1e6:8.1f} us")
        ledger.close()
        out[adapter] = {
            "history": [{"entries": size, **subject.best} for size, subject in history],
            "dead_blocks": [{"dead_blocks": size, **subject.best} for size, subject in dead],
        }
    return out


# -- simulation (benchmarks/simulation.py, when present) ---------------------------------------------


def simulation_figures(sizes: dict[str, Any]) -> dict[str, Any] | None:
    if importlib.util.find_spec("benchmarks.simulation") is None:
        say("simulation: benchmarks/simulation.py is not here yet, skipped")
        return None
    from benchmarks import simulation  # type: ignore[attr-defined]

    events, customers = sizes["simulation"]
    say(f"simulation: {events:,} events, {customers:,} customers")
    try:
        result: dict[str, Any] = simulation.measure(events, customers)
    except Exception as error:  # its own module: report it, keep the other figures
        say(f"simulation FAILED: {type(error).__name__}: {error}")
        return {"failed": f"{type(error).__name__}: {error}"}
    return result


# -- bars ---------------------------------------------------------------------------------------


def bars(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def bar(text: str, measured: float | None, limit: float, higher_is_better: bool) -> None:
        if measured is None:
            found.append({"bar": text, "measured": None, "limit": limit, "verdict": "NOT MEASURED"})
            return
        ok = measured >= limit if higher_is_better else measured <= limit
        found.append({"bar": text, "measured": measured, "limit": limit, "verdict": "PASS" if ok else "FALL SHORT"})

    f = results["floors"]
    bar("memory burns / dict floor >= 0.2", f["memory_burns"]["ratio"], 0.2, True)
    bar("SQLite one txn per burn / raw sqlite3, FULL >= 0.7", f["sqlite_each_full"]["ratio"], 0.7, True)
    bar("SQLite one txn per burn / raw sqlite3, NORMAL >= 0.7", f["sqlite_each_normal"]["ratio"], 0.7, True)
    bar("SQLite burns inside atomic() / raw sqlite3 one txn >= 0.4", f["sqlite_atomic"]["ratio"], 0.4, True)
    bar("SQLite grants inside atomic() / raw sqlite3 one txn >= 0.4", f["sqlite_atomic_grants"]["ratio"], 0.4, True)
    for adapter, curves in results["scaling"].items():
        history, dead = curves["history"], curves["dead_blocks"]
        first, last = history[0], history[-1]
        span = f"{first['entries']:.0e} -> {last['entries']:.0e} entries".replace("+0", "")
        bar(f"{adapter}: burn cost {span} <= 1.25x", last["burn"] / first["burn"], 1.25, False)
        bar(
            f"{adapter}: burn cost {dead[0]['dead_blocks']:,} -> {dead[-1]['dead_blocks']:,} dead blocks <= 1.25x",
            dead[-1]["burn"] / dead[0]["burn"],
            1.25,
            False,
        )
        bar(f"{adapter}: current balance {span} <= 1.25x", last["balance"] / first["balance"], 1.25, False)
        base = next((row for row in history if row["entries"] == 1_000), first)
        bar(
            f"{adapter}: past balance at {last['entries']:,} / at {base['entries']:,} entries <= 3x",
            last["past_balance"] / base["past_balance"],
            3.0,
            False,
        )
    sim = results.get("simulation") or {}
    peak_gib = None
    if "peak_memory_mib" in sim:
        peak_gib = sim["peak_memory_mib"] / 1024
    elif "peak_bytes" in sim:
        peak_gib = sim["peak_bytes"] / 2**30
    bar(f"simulation of {results['sizes']['simulation'][0]:,} events: peak GiB < 1", peak_gib, 1.0, False)
    return found


# -- output -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
    }


def table(results: dict[str, Any]) -> str:
    lines = ["", "== bars (SPEC §11) ==", f"{'bar':<66} {'measured':>10}  verdict"]
    for row in results["bars"]:
        shown = "-" if row["measured"] is None else f"{row['measured']:.3f}"
        lines.append(f"{row['bar']:<66} {shown:>10}  {row['verdict']}")
    lines += ["", "== floors ==", f"{'figure':<52} {'creditcore/s':>13} {'floor/s':>12} {'ratio':>7}"]
    for row in results["floors"].values():
        lines.append(
            f"{row['name']:<52} {row['creditcore_per_s']:>13,.0f} {row['floor_per_s']:>12,.0f} {row['ratio']:>7.3f}"
        )
    lines += ["", "== peers (ratio = peer time / creditcore time: above 1, creditcore leads) =="]
    for peer, rows in results["peers"].items():
        for row in rows:
            if "ratio" in row:
                lines.append(
                    f"{peer:<20} {row['operations']:>7,} {row['unit']:<12} "
                    f"creditcore {row['creditcore_per_s']:>10,.0f}/s  "
                    f"{peer} {row['peer_per_s']:>10,.0f}/s  ratio {row['ratio']:>7.1f}"
                )
            else:
                lines.append(f"{peer:<20} {row.get('operations', ''):>7} {row['note']}")
    lines += ["", "== scaling (microseconds per call) =="]
    for adapter, curves in results["scaling"].items():
        for row in curves["history"]:
            lines.append(
                f"{adapter:<7} history {row['entries']:>9,}: burn {row['burn'] * 1e6:8.1f}  balance "
                f"{row['balance'] * 1e6:8.1f}  past balance {row['past_balance'] * 1e6:10.1f}"
            )
        for row in curves["dead_blocks"]:
            lines.append(
                f"{adapter:<7} dead blocks {row['dead_blocks']:>6,}: burn {row['burn'] * 1e6:8.1f}  balance "
                f"{row['balance'] * 1e6:8.1f}"
            )
    if results.get("simulation"):
        lines += ["", "== simulation ==", json.dumps(results["simulation"], default=str)]
    lines.append(
        f"\nmachine: {results['machine']['platform']}, {results['machine']['cpus']} CPUs, "
        f"Python {results['machine']['python']}, SQLite {results['machine']['sqlite']}"
    )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"memory": "-", "sqlite": "--"}
    for adapter, curves in results["scaling"].items():
        xs = [row["entries"] for row in curves["history"]]
        for name, marker in (("burn", "o"), ("balance", "s"), ("past_balance", "^")):
            left.plot(
                xs,
                [row[name] * 1e6 for row in curves["history"]],
                styles[adapter],
                marker=marker,
                label=f"{adapter}: {name.replace('_', ' ')}",
            )
        xs = [row["dead_blocks"] for row in curves["dead_blocks"]]
        for name, marker in (("burn", "o"), ("balance", "s")):
            right.plot(
                xs,
                [row[name] * 1e6 for row in curves["dead_blocks"]],
                styles[adapter],
                marker=marker,
                label=f"{adapter}: {name}",
            )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="entries in the customer's history",
        ylabel="microseconds per call",
        title="cost vs history",
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel="used-up and expired blocks",
        ylabel="microseconds per call",
        title="cost vs dead blocks",
    )
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"creditcore scaling ({results['machine']['cpus']} CPUs, Python {results['machine']['python']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results.json and scaling.png go")
    args = parser.parse_args(argv)
    sizes = SIZES["smoke" if args.smoke else "full"]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {"mode": "smoke" if args.smoke else "full", "machine": machine(), "sizes": sizes}
    with tempfile.TemporaryDirectory(prefix="creditcore-bench-") as directory:
        results["floors"] = floors_figures(sizes, directory)
        results["peers"] = peer_figures(sizes, directory)
        results["scaling"] = scaling_figures(sizes, directory)
    results["simulation"] = simulation_figures(sizes)
    results["bars"] = bars(results)
    results["seconds"] = time.perf_counter() - started
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    plot(results, args.out / "scaling.png")
    print(table(results))
    print(f"\n{results['seconds']:.0f} s; wrote {args.out / 'results.json'} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

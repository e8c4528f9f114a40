"""Every benchmark figure in one run: ``python -m benchmarks`` (or ``python benchmarks/run.py``)
from the repository root; ``--smoke`` for tiny sizes, ``--only GROUP`` for some groups.

Prints a table and writes ``results.json``, ``bars.md`` (the bars as a Markdown table for the
README) and ``scaling.png`` to ``benchmarks/results/`` (a smoke run: to a new temporary
directory, so that it never overwrites a real run's figures). Each bar is a ratio of two
figures measured in this same run, interleaved (creditcore, each rival, creditcore, ...) and
taken as the best of several repeats, because the machine is shared and absolute numbers
are noisy. A case that fails is reported, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bars, billing, corners, floors, peak, peers, report, simulation, subjects, workload
from benchmarks.timing import Rival, Run, contest, failure, say, timed
from benchmarks.workload import START, Workload
from creditcore import Ledger

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = ("floors", "postgres", "scaling", "corners", "billing", "peak", "simulation")

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
        "history": (100, 1_000, 10_000, 100_000, 1_000_000),
        "dead": (100, 1_000, 10_000),
        "calls": 200,
        "live_blocks": (10, 100, 1_000, 10_000),
        "entries": (1_000, 10_000),
        "grown_events": (10, 100, 1_000, 10_000),
        # a round of the grown ledger is short and its bar tight (1.25x): more rounds than the
        # other corners, against a shared machine's bursts
        "grown_repeats": 7,
        "corner_repeats": 3,
        "peak_grants": 16_000,
        "peak_timeout": 600.0,
        "simulation": (1_000_000, 10_000),
        "simulation_repeats": 1,
        "workers_repeats": 2,
        "pg_burns": 2_000,
        "pg_repeats": 3,
        "pg_processes": 8,
        "pg_process_burns": 300,
        "record_batches": 100,
        "summary_own": 10_000,
        "summary_others": (10_000, 100_000, 1_000_000),
        "summary_days": 100,
        "summary_calls": 20,
        "invoice_lines": 20,
        "invoice_calls": 25,
        # billing's rounds are short and its flat bar tight (1.25x): more rounds, as for the grown ledger
        "billing_repeats": 7,
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
        "history": (100, 1_000),
        "dead": (10, 100),
        "calls": 5,
        "live_blocks": (10, 100),
        "entries": (100, 1_000),
        "grown_events": (10, 100),
        "grown_repeats": 1,
        "corner_repeats": 1,
        "peak_grants": 500,
        "peak_timeout": 120.0,
        "simulation": (1_000, 10),
        "simulation_repeats": 1,
        "workers_repeats": 1,
        "pg_burns": 20,
        "pg_repeats": 1,
        "pg_processes": 8,
        "pg_process_burns": 5,
        "record_batches": 2,
        "summary_own": 100,
        "summary_others": (100, 1_000),
        "summary_days": 10,
        "summary_calls": 2,
        "invoice_lines": 20,
        "invoice_calls": 2,
        "billing_repeats": 1,
    },
}

_SYNCHRONOUS = {"FULL": 2, "NORMAL": 1}


# -- creditcore's side ----------------------------------------------------------------------------


def memory_burns(wl: Workload) -> tuple[float, int]:
    ledger = Ledger.memory()
    subjects.grant_all(ledger, wl)
    return timed(lambda: subjects.burn_all(ledger, wl))


def memory_holds(wl: Workload) -> tuple[float, int]:
    ledger = Ledger.memory()
    subjects.grant_all(ledger, wl)
    return timed(lambda: subjects.hold_all(ledger, wl))


def sqlite_ledger(directory: str, synchronous: str) -> Ledger:
    """A new SQLite ledger at ``synchronous`` (FULL or NORMAL), checked: a floor compared
    with it must run at the same level."""
    ledger = Ledger.sqlite(tempfile.mktemp(suffix=".db", dir=directory), durability=synchronous.lower())
    settings = getattr(ledger.repository, "settings", None)
    if settings is not None:
        found = settings()
        if found.get("synchronous") != _SYNCHRONOUS[synchronous] or found.get("journal_mode") != "wal":
            ledger.close()
            raise AssertionError(f"the ledger runs {found}, not WAL at synchronous={synchronous}: fix the floors")
    return ledger


def sqlite_burns(wl: Workload, directory: str, synchronous: str, together: bool) -> tuple[float, int]:
    ledger = sqlite_ledger(directory, synchronous)
    try:
        subjects.grant_all(ledger, wl)
        return timed(lambda: (subjects.burn_all_atomic if together else subjects.burn_all)(ledger, wl))
    finally:
        ledger.close()


def sqlite_grants(wl: Workload, directory: str) -> tuple[float, int]:
    ledger = sqlite_ledger(directory, "FULL")
    try:

        def run() -> int:
            subjects.grant_all(ledger, wl)
            return sum(g.amount for g in wl.grants)

        return timed(run)
    finally:
        ledger.close()


# -- the rivals' side -------------------------------------------------------------------------------


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


def rival_burns(make: Callable[[str], Any], wl: Workload, directory: str, together: bool) -> tuple[float, int]:
    """A SQLite floor or peer on a new file: the grants (setup), then the burns, timed."""
    rival = make(tempfile.mktemp(suffix=".db", dir=directory))
    try:
        rival.grants(wl.grants)
        return timed(lambda: rival.burns_together(wl.burns) if together else rival.burns_each(wl.burns))
    finally:
        rival.close()


def rival_grants(make: Callable[[str], Any], wl: Workload, directory: str) -> tuple[float, int]:
    rival = make(tempfile.mktemp(suffix=".db", dir=directory))
    try:
        return timed(lambda: rival.grants(wl.grants))
    finally:
        rival.close()


def sqlite_floors(synchronous: str) -> dict[str, Callable[[str], Any]]:
    """The raw-sqlite3 floors at ``synchronous``, by name: each makes one on a new file."""
    return {
        "lean floor": lambda path: floors.LeanFloor(path, synchronous),
        "schema floor": lambda path: floors.SchemaFloor(path, synchronous),
    }


def burns_rival(
    name: str, kind: str, make: Callable[[str], Any], wl: Workload, directory: str, together: bool
) -> Rival:
    return Rival(name, kind, lambda: rival_burns(make, wl, directory, together))


def peer_rivals(wl: Workload, directory: str) -> list[Rival]:
    """The peers on the burns, one transaction each; a peer not installed is skipped, and
    the runner says so."""
    found = []
    for peer in peers.PEERS:
        if peers.available(peer.module):
            found.append(burns_rival(peer.name, "peer", peer.make, wl, directory, together=False))
        else:
            note = f"not installed: pip install -r benchmarks/requirements.txt ({peer.module})"
            found.append(Rival(peer.name, "peer", None, note))
            say(f"  {peer.name}: {note}, skipped")
    return found


def floor_figures(sizes: dict[str, Any], directory: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """creditcore against the floors and, at NORMAL, against the peers in the same contest;
    the peers' rows are returned apart."""
    seed = 6
    repeats = sizes["repeats"]
    common = {"seed": seed, "customers": sizes["customers"], "grants": sizes["grants"]}
    out: dict[str, Any] = {}

    def case(key: str, name: str, count: int, unit: str, subject: Run, rivals: list[Rival]) -> None:
        try:
            out[key] = contest(name, count, unit, subject, rivals, repeats)
        except Exception as error:  # one case's failure is reported; the others run
            out[key] = {"name": name, "failed": failure(error)}
            say(f"  {name} FAILED: {out[key]['failed']}")

    say("memory adapter vs the plain-dict floor")
    wl = workload.make(**common, burns=sizes["memory_burns"], holds=sizes["holds"])
    rival = Rival("dict floor", "floor", lambda: dict_floor_burns(wl))
    case("memory_burns", "memory burns", len(wl.burns), "burns", lambda: memory_burns(wl), [rival])
    rival = Rival("dict floor", "floor", lambda: dict_floor_holds(wl))
    name = "memory hold+capture/release"
    case("memory_holds", name, len(wl.holds), "cycles", lambda: memory_holds(wl), [rival])

    say("SQLite adapter vs raw sqlite3 (the lean floor, the ledger's own schema) and the peers")
    for level, size in (("FULL", "sqlite_full"), ("NORMAL", "sqlite_normal")):
        w = workload.make(**common, burns=sizes[size], holds=0)
        rivals = [burns_rival(n, "floor", make, w, directory, False) for n, make in sqlite_floors(level).items()]
        if level == "NORMAL":
            rivals += peer_rivals(w, directory)
        name = f"SQLite one transaction per burn, synchronous={level}"
        case(f"sqlite_each_{level.lower()}", name, len(w.burns), "burns", _ledger_burns(w, directory, level), rivals)

    w = workload.make(**common, burns=sizes["sqlite_atomic"], holds=0)
    rivals = [burns_rival(n, "floor", make, w, directory, True) for n, make in sqlite_floors("FULL").items()]
    name = "SQLite all burns in one atomic() / one transaction, synchronous=FULL"
    case("sqlite_atomic", name, len(w.burns), "burns", lambda: sqlite_burns(w, directory, "FULL", True), rivals)

    g = workload.make(seed=seed, customers=sizes["load_customers"], grants=sizes["grants"] * 2, burns=0, holds=0)
    rivals = [Rival(n, "floor", _grants_run(make, g, directory)) for n, make in sqlite_floors("FULL").items()]
    name = "SQLite all grants in one atomic() / one transaction, synchronous=FULL"
    case("sqlite_atomic_grants", name, len(g.grants), "grants", lambda: sqlite_grants(g, directory), rivals)
    return out, _peer_rows(out.get("sqlite_each_normal", {}))


def _ledger_burns(wl: Workload, directory: str, synchronous: str) -> Run:
    return lambda: sqlite_burns(wl, directory, synchronous, together=False)


def _grants_run(make: Callable[[str], Any], wl: Workload, directory: str) -> Run:
    return lambda: rival_grants(make, wl, directory)


def _peer_rows(figure: dict[str, Any]) -> list[dict[str, Any]]:
    """The peers' rows of the NORMAL contest, moved out of its ``against`` into rows of their
    own (what each peer is, what it was measured on)."""
    rows = []
    for row in [row for row in figure.get("against", ()) if row["kind"] == "peer"]:
        figure["against"].remove(row)
        peer = next(p for p in peers.PEERS if p.name == row["name"])
        rows.append(
            {
                **row,
                "what": peer.what,
                "operations": figure["operations"],
                "unit": "burns, one transaction each, synchronous=NORMAL",
                "creditcore_per_s": figure["creditcore_per_s"],
            }
        )
    return rows


# -- PostgreSQL -------------------------------------------------------------------------------------


def postgres_figures(sizes: dict[str, Any]) -> dict[str, Any]:
    """creditcore on PostgreSQL against the raw-psycopg lean floor, one transaction per burn,
    writers in several processes on different customers against one process, and the
    scaling curves of the scaling group (:mod:`benchmarks.postgres`), on a throwaway server
    with the default settings."""
    from benchmarks import postgres

    out: dict[str, Any] = {}
    say("PostgreSQL: starting a server (tests/pgserver.py)")
    try:
        server = postgres.start_server()
    except Exception as error:
        say(f"  PostgreSQL FAILED: {failure(error)}")
        return {"failed": failure(error)}
    try:
        say("PostgreSQL adapter vs raw psycopg (the lean floor)")
        wl = workload.make(
            seed=6, customers=sizes["customers"], grants=sizes["grants"], burns=sizes["pg_burns"], holds=0
        )
        try:
            out["each_burn"] = postgres.each_burn(server, wl, sizes["pg_repeats"])
        except Exception as error:
            out["each_burn"] = {"name": "PostgreSQL one transaction per burn", "failed": failure(error)}
            say(f"  PostgreSQL one transaction per burn FAILED: {out['each_burn']['failed']}")
        processes = sizes["pg_processes"]
        say(f"PostgreSQL: {processes} processes on {processes} customers vs 1 process")
        try:
            out["processes"] = postgres.many_processes(
                server, processes, sizes["pg_process_burns"], sizes["pg_repeats"]
            )
        except Exception as error:
            out["processes"] = {"failed": failure(error)}
            say(f"  PostgreSQL processes FAILED: {out['processes']['failed']}")
        say("PostgreSQL: scaling, as on SQLite (a burn as the history and the dead blocks grow)")
        try:
            out["scaling"] = postgres.curves(server, sizes["history"], sizes["dead"], sizes["calls"], sizes["repeats"])
        except Exception as error:
            out["scaling"] = {"failed": failure(error)}
            say(f"  PostgreSQL scaling FAILED: {out['scaling']['failed']}")
    finally:
        server.stop()
    return out


# -- scaling and the corners ------------------------------------------------------------------------


def scaling_figures(sizes: dict[str, Any], directory: str) -> dict[str, Any]:
    """The history and dead-block curves (:func:`benchmarks.scaling.curves`, built through the
    port: when the port changes under it, each adapter's curve reports the failure)."""
    out: dict[str, Any] = {}
    for adapter in ("memory", "sqlite"):
        say(f"scaling on the {adapter} adapter")
        try:
            from benchmarks import scaling
            from creditcore.adapters.memory import MemoryRepository
            from creditcore.adapters.sqlite import SQLiteRepository

            repository = (
                MemoryRepository()
                if adapter == "memory"
                else SQLiteRepository(tempfile.mktemp(suffix=".db", dir=directory), durability="normal")
            )
            ledger = Ledger(repository, clock=lambda: scaling.CLOCK)
            try:
                out[adapter] = scaling.curves(
                    ledger,
                    sizes["history"],
                    sizes["dead"],
                    sizes["calls"],
                    sizes["repeats"],
                    lambda: scaling.settle(repository),  # noqa: B023 (called before the loop moves on)
                )
            finally:
                ledger.close()
        except Exception as error:  # built through the port: report a change there, keep the rest
            out[adapter] = {"failed": failure(error)}
            say(f"  scaling on {adapter} FAILED: {out[adapter]['failed']}")
    return out


def corner_figures(sizes: dict[str, Any], directory: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    say("live blocks: a burn of one block beside N live blocks")
    try:
        out["live_blocks"] = corners.live_blocks(
            sizes["live_blocks"], sizes["calls"], sizes["corner_repeats"], directory
        )
    except Exception as error:
        out["live_blocks"] = {"failed": failure(error)}
        say(f"  live blocks FAILED: {out['live_blocks']['failed']}")
    say("verify() and timeline() over used-up blocks")
    try:
        out["verify_timeline"] = corners.verify_and_timeline(sizes["entries"], sizes["corner_repeats"], directory)
    except Exception as error:
        out["verify_timeline"] = {"failed": failure(error)}
        say(f"  verify and timeline FAILED: {out['verify_timeline']['failed']}")
    say("grown ledger: a burn beside N events, N/10 ended schedules and removed alerts")
    try:
        out["grown_ledger"] = corners.grown_ledger(
            sizes["grown_events"], sizes["calls"], sizes["grown_repeats"], directory
        )
    except Exception as error:
        out["grown_ledger"] = {"failed": failure(error)}
        say(f"  grown ledger FAILED: {out['grown_ledger']['failed']}")
    return out


def billing_figures(sizes: dict[str, Any], directory: str) -> dict[str, Any]:
    """Billing's bars (:mod:`benchmarks.billing`): recording events against the usage floor,
    a summary beside others' events, an invoice's issue against one burn."""
    out: dict[str, Any] = {}
    repeats = sizes["billing_repeats"]
    say("billing: meters.record in batches of 100 vs raw sqlite3 (the usage floor)")
    try:
        out["record"] = billing.record_events(sizes["record_batches"], repeats, directory)
    except Exception as error:
        out["record"] = {"failed": failure(error)}
        say(f"  billing record FAILED: {out['record']['failed']}")
    say("billing: a day's summary of one customer beside N events of other customers (SQLite)")
    try:
        out["summary"] = billing.summary_flat(
            sizes["summary_own"],
            sizes["summary_others"],
            sizes["summary_days"],
            sizes["summary_calls"],
            repeats,
            directory,
        )
    except Exception as error:
        out["summary"] = {"failed": failure(error)}
        say(f"  billing summary FAILED: {out['summary']['failed']}")
    say(f"billing: issuing a {sizes['invoice_lines']}-line invoice vs one burn")
    try:
        out["issue"] = billing.invoice_issue(sizes["invoice_lines"], sizes["invoice_calls"], repeats, directory)
    except Exception as error:
        out["issue"] = {"failed": failure(error)}
        say(f"  billing issue FAILED: {out['issue']['failed']}")
    return out


def peak_figures(sizes: dict[str, Any]) -> dict[str, Any]:
    grants = sizes["peak_grants"]
    say(f"peak memory: {grants:,} grants to one customer in one memory atomic(), in a fresh process")
    try:
        found = peak.measure(grants, sizes["peak_timeout"])
    except Exception as error:
        say(f"  peak memory FAILED: {failure(error)}")
        return {"grants": grants, "failed": failure(error)}
    if "peak_mib" in found:
        say(f"  peak {found['peak_mib']:.1f} MiB above the start, {found['seconds']:.1f} s ({found['method']})")
    else:
        say(f"  {found}")
    return found


def simulation_figures(sizes: dict[str, Any]) -> dict[str, Any]:
    events, customers = sizes["simulation"]
    say(f"simulation: {events:,} events, {customers:,} customers, one core")
    try:
        result: dict[str, Any] = simulation.measure(events, customers, sizes["simulation_repeats"])
        say(
            f"  {result['us_per_event']:.2f} us per event, {result['usage_events_per_second']:,} usage events/s, "
            f"peak {result['peak_memory_mib']} MiB"
        )
    except Exception as error:
        say(f"  simulation FAILED: {failure(error)}")
        result = {"failed": failure(error)}
    say("simulation: --workers 2 against --workers 1")
    try:
        result["workers"] = simulation.workers(events, customers, sizes["workers_repeats"])
        say(f"  {result['workers']}")
    except Exception as error:
        result["workers"] = {"failed": failure(error)}
        say(f"  simulate --workers FAILED: {failure(error)}")
    return result


# -- the run ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def failures(results: dict[str, Any]) -> list[str]:
    """Every case, rival and peer that failed, in words."""
    found = []
    for key, figure in (results.get("floors") or {}).items():
        if "failed" in figure:
            found.append(f"floors/{key}: {figure['failed']}")
        found += [
            f"floors/{key}/{row['name']}: {row['failed']}" for row in figure.get("against", ()) if "failed" in row
        ]
    found += [f"peers/{row['name']}: {row['failed']}" for row in results.get("peers") or () if "failed" in row]
    postgres = results.get("postgres") or {}
    if "failed" in postgres:
        found.append(f"postgres: {postgres['failed']}")
    for key, figure in postgres.items():
        if isinstance(figure, dict):
            if "failed" in figure:
                found.append(f"postgres/{key}: {figure['failed']}")
            found += [
                f"postgres/{key}/{row['name']}: {row['failed']}" for row in figure.get("against", ()) if "failed" in row
            ]
    for group in ("scaling", "corners", "billing"):
        for key, figure in (results.get(group) or {}).items():
            if isinstance(figure, dict) and "failed" in figure:
                found.append(f"{group}/{key}: {figure['failed']}")
            if isinstance(figure, dict):
                found += [
                    f"{group}/{key}/{row['name']}: {row['failed']}"
                    for row in figure.get("against", ())
                    if "failed" in row
                ]
    for group in ("peak", "simulation"):
        figure = results.get(group) or {}
        if "failed" in figure:
            found.append(f"{group}: {figure['failed']}")
    workers = (results.get("simulation") or {}).get("workers") or {}
    if "failed" in workers:
        found.append(f"simulation/workers: {workers['failed']}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--only", action="append", choices=GROUPS, help="run only this group (repeatable)")
    parser.add_argument(
        "--out", type=Path, default=None, help="where the results go (default benchmarks/results; smoke: a temp dir)"
    )
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    sizes = SIZES[mode]
    out = args.out or (Path(tempfile.mkdtemp(prefix="creditcore-smoke-")) if args.smoke else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    groups = args.only or GROUPS
    started = time.perf_counter()
    results: dict[str, Any] = {"mode": mode, "groups": list(groups), "machine": machine(), "sizes": sizes}
    with tempfile.TemporaryDirectory(prefix="creditcore-bench-") as directory:
        if "floors" in groups:
            results["floors"], results["peers"] = floor_figures(sizes, directory)
        if "postgres" in groups:
            results["postgres"] = postgres_figures(sizes)
        if "scaling" in groups:
            results["scaling"] = scaling_figures(sizes, directory)
        if "corners" in groups:
            results["corners"] = corner_figures(sizes, directory)
        if "billing" in groups:
            results["billing"] = billing_figures(sizes, directory)
    if "peak" in groups:
        results["peak"] = peak_figures(sizes)
    if "simulation" in groups:
        results["simulation"] = simulation_figures(sizes)
    results["bars"] = bars.compute(results)
    results["failures"] = failures(results)
    results["seconds"] = time.perf_counter() - started
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "bars.md").write_text(bars.markdown(results))
    report.plot(results, out / "scaling.png")
    print(report.table(results))
    print(f"\n{results['seconds']:.0f} s; wrote results.json, bars.md and scaling.png to {out}")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

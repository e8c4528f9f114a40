"""How fast ``creditcore simulate`` runs in memory, and how much memory it takes.

``measure()`` simulates about ``events`` usage events (Poisson arrivals, lognormal amounts)
over ``customers`` customers with monthly expiring plan credits and a paid top-up, and
compares it with a floor: a plain-dict loop making the same random draws and a naive
burn-down (a list of [expiry, remaining] per customer, first block with credit first).
Each side runs in a fresh subprocess, on one core, so the peak memory reported (VmHWM, or
``ru_maxrss`` off Linux) is that run's own. It also reports the cost per event (every event
the run processed: grants and usage, in CPU time) against :data:`BASELINE`, the cost
measured before the speed work of issue 12.

``workers()`` runs the same scenario with ``creditcore simulate --json --workers 1`` and
``--workers 2`` (wall-clock time of the whole command, best of the repeats) and checks that
both print the same thing; on a ``creditcore`` without ``--workers`` it says so.

    python benchmarks/simulation.py                 # 10**6 events, 10**4 customers
    python benchmarks/simulation.py 200000 2000     # smaller
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DAYS = 90

#: The simulator's cost per event before the speed work of issue 12 (its bar: 3x faster per
#: event on one core), measured with this module's children for ``measure(1_000_000, 10_000)``
#: on the code of the commit below, on the project's 2-CPU machine, on 2026-11-30 between
#: 18:36 and 18:42 UTC: CPU time, best of 3, each run interleaved with the floor's (CPU
#: seconds 49.6, 46.4, 47.3 for the simulator; 2.73, 2.45, 3.29 for the floor). The machine
#: was shared (load average 4.8 to 6.2 from other work), which is why CPU time, not wall
#: time, is the figure (wall-clock runs at load 2 to 3 gave 50.1 s at best). The floor of the
#: same runs lets a later run on another machine, or under another load, compare like with
#: like: the verdict takes a run's speed-up against the floor of its own run. Changing the
#: scenario or the floor below makes these figures meaningless: measure them again on that
#: commit (``git archive <commit> src | tar -x -C DIR``, then run this file's ``--child``
#: modes with ``PYTHONPATH=DIR/src``).
BASELINE: dict[str, Any] = {
    "commit": "b14b4196459aaa6546cb7dd374f152fe0c686e2f",
    "requested_events": 1_000_000,
    "customers": 10_000,
    "events": 1_040_041,  # every event the run processed (grants and usage): per event divides by it
    "us_per_event": 44.60,  # 46.39 CPU seconds / 1,040,041 events
    "floor_us_per_usage_event": 2.454,  # 2.454 CPU seconds / 1,000,041 usage events
}


def scenario_text(events: int, customers: int) -> str:
    per_day = events / (customers * DAYS)
    return f"""
[simulation]
title = "benchmark"
start = 2026-01-01
duration = "{DAYS} days"
seed = 1
overdraft = "partial"

[[customers]]
count = {customers}
prefix = "c"

[[grants]]
name = "Plan"
amount = 300
every = "1 month"
expires_after = "1 month"
priority = 10

[[grants]]
name = "Top-up"
amount = 500
category = "paid"
cost_basis = "0.02"

[[usage]]
name = "Usage"
pattern = "poisson"
per_day = {per_day!r}
amount = {{ distribution = "lognormal", median = 3, sigma = 0.6, max = 100 }}
"""


def _peak_bytes() -> int:
    """This process's peak resident memory. On Linux, VmHWM of /proc/self/status: it belongs
    to the process's own memory since exec, while ru_maxrss keeps the peak of the process
    that forked it (the benchmark runner, holding millions of entries by then)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # kilobytes on Linux


def run_simulation(events: int, customers: int) -> dict[str, Any]:
    from creditcore.simulate import parse, run

    scenario = parse(scenario_text(events, customers))
    began, cpu = time.perf_counter(), time.process_time()
    outcome = run(scenario)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    usage = outcome.counts.burns + outcome.counts.burns_refused
    return {
        "usage_events": usage,
        "events": outcome.events,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_bytes": _peak_bytes(),
    }


def run_floor(events: int, customers: int) -> dict[str, Any]:
    """The same draws and a naive burn-down in plain dicts and lists."""
    rng = random.Random("1/usage/0/arrivals")
    amounts = random.Random("1/usage/0/amounts")
    mu, sigma = math.log(3), 0.6
    month = 30 * 86400.0
    span = DAYS * 86400.0
    blocks: dict[int, list[list[float]]] = {c: [[math.inf, 500.0]] for c in range(customers)}
    next_grant = 0.0
    mean_gap = 86400.0 * DAYS / events  # customers x per_day arrivals a day
    began, cpu = time.perf_counter(), time.process_time()
    offset, count = 0.0, 0
    while True:
        offset += rng.expovariate(1.0) * mean_gap
        if offset >= span:
            break
        while next_grant <= offset:  # monthly plan credits for everyone, expiring a month later
            for c in range(customers):
                blocks[c].insert(0, [next_grant + month, 300.0])
            next_grant += month
        customer = rng.randrange(customers)
        need: float = max(1, round(min(amounts.lognormvariate(mu, sigma), 100.0)))
        for block in blocks[customer]:
            if block[0] > offset and block[1] > 0:
                take = min(need, block[1])
                block[1] -= take
                need -= take
                if not need:
                    break
        count += 1
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    return {"usage_events": count, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_bytes": _peak_bytes()}


def _child(kind: str, events: int, customers: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(events), str(customers)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(events: int = 1_000_000, customers: int = 10_000, repeats: int = 1) -> dict[str, Any]:
    """Simulate about ``events`` usage events over ``customers`` in memory; report events/s,
    the cost per event against :data:`BASELINE`, the ratio to the plain-dict floor and the
    peak memory (each in its own process; the best of ``repeats``, interleaved)."""
    runs = []
    for _ in range(repeats):
        runs.append((_child("simulation", events, customers), _child("floor", events, customers)))
    simulated = min((s for s, _ in runs), key=lambda r: r["cpu_seconds"])
    floor = min((f for _, f in runs), key=lambda r: r["cpu_seconds"])
    rate = simulated["usage_events"] / simulated["seconds"]
    floor_rate = floor["usage_events"] / floor["seconds"]
    # per event in CPU time: on a shared machine, the time the run had the core, not the
    # time it waited for it
    us_per_event = simulated["cpu_seconds"] / simulated["events"] * 1e6
    floor_us = floor["cpu_seconds"] / floor["usage_events"] * 1e6
    base = BASELINE
    # the same scenario (its draws may differ from the baseline's: per event, it does not matter)
    comparable = base["us_per_event"] > 0 and (events, customers) == (base["requested_events"], base["customers"])
    return {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "customers": customers,
        "usage_events": simulated["usage_events"],
        "all_events": simulated["events"],
        "seconds": round(simulated["seconds"], 2),
        "usage_events_per_second": round(rate),
        "floor_usage_events_per_second": round(floor_rate),
        "ratio_to_floor": round(rate / floor_rate, 3),
        "peak_memory_mib": round(simulated["peak_bytes"] / 2**20, 1),
        "floor_peak_memory_mib": round(floor["peak_bytes"] / 2**20, 1),
        "under_1_gib": simulated["peak_bytes"] < 2**30,
        "us_per_event": us_per_event,
        "floor_us_per_usage_event": floor_us,
        "baseline": {
            **base,
            # the speed-up on this machine's clock, and against the floor of the same run
            "speedup": base["us_per_event"] / us_per_event if comparable else None,
            "speedup_by_floor": (base["us_per_event"] / base["floor_us_per_usage_event"]) / (us_per_event / floor_us)
            if comparable
            else None,
            "note": None if comparable else "not the baseline's size: no speed-up figure",
        },
    }


def _command() -> list[str]:
    return [sys.executable, "-m", "creditcore", "simulate"]


def workers_available() -> bool:
    """Whether this creditcore's ``simulate`` takes ``--workers``."""
    shown = subprocess.run([*_command(), "--help"], capture_output=True, text=True, check=True)
    return "--workers" in shown.stdout


def workers(events: int, customers: int, repeats: int) -> dict[str, Any]:
    """``creditcore simulate SCENARIO --json --workers N`` for N = 1 and 2: the best
    wall-clock time of each (the whole command, start-up included), the speed-up, and
    whether both printed the same summary."""
    if not workers_available():
        return {"available": False, "note": "creditcore simulate has no --workers option here"}
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as directory:
        scenario = Path(directory) / "scenario.toml"
        scenario.write_text(scenario_text(events, customers))
        best = {1: float("inf"), 2: float("inf")}
        printed: dict[int, set[str]] = {1: set(), 2: set()}
        for _ in range(repeats):
            for count in (1, 2):
                began = time.perf_counter()
                done = subprocess.run(
                    [*_command(), str(scenario), "--json", "--workers", str(count)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                best[count] = min(best[count], time.perf_counter() - began)
                printed[count].add(done.stdout)
    identical = len(printed[1] | printed[2]) == 1
    return {
        "available": True,
        "cpus": cpus,
        "events": events,
        "customers": customers,
        "seconds_1": best[1],
        "seconds_2": best[2],
        "speedup": best[1] / best[2],
        "identical": identical,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n, m = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(run_simulation(n, m) if kind == "simulation" else run_floor(n, m)))
    else:
        sizes = [int(arg) for arg in sys.argv[1:3]]
        print(json.dumps(measure(*sizes), indent=2))

"""How fast ``creditcore simulate`` runs in memory, and how much memory it takes.

``measure()`` simulates about ``events`` usage events (Poisson arrivals, lognormal amounts)
over ``customers`` customers with monthly expiring plan credits and a paid top-up, and
compares it with a floor: a plain-dict loop making the same random draws and a naive
burn-down (a list of [expiry, remaining] per customer, first block with credit first).
Each side runs in a fresh subprocess, so the peak memory reported (VmHWM, or ``ru_maxrss`` off Linux) is that
run's own.

    python benchmarks/simulation.py                 # 10**6 events, 10**4 customers
    python benchmarks/simulation.py 200000 2000     # smaller
"""

from __future__ import annotations

import json
import math
import platform
import random
import resource
import subprocess
import sys
import time
from typing import Any

DAYS = 90


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
    began = time.perf_counter()
    outcome = run(scenario)
    seconds = time.perf_counter() - began
    usage = outcome.counts.burns + outcome.counts.burns_refused
    return {"usage_events": usage, "events": outcome.events, "seconds": seconds, "peak_bytes": _peak_bytes()}


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
    began = time.perf_counter()
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
        need = max(1, round(min(amounts.lognormvariate(mu, sigma), 100.0)))
        for block in blocks[customer]:
            if block[0] > offset and block[1] > 0:
                take = min(need, block[1])
                block[1] -= take
                need -= take
                if not need:
                    break
        count += 1
    seconds = time.perf_counter() - began
    return {"usage_events": count, "seconds": seconds, "peak_bytes": _peak_bytes()}


def _child(kind: str, events: int, customers: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(events), str(customers)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(events: int = 1_000_000, customers: int = 10_000) -> dict[str, Any]:
    """Simulate about ``events`` usage events over ``customers`` in memory; report events/s,
    the ratio to the plain-dict floor and the peak memory (each in its own process)."""
    simulated = _child("simulation", events, customers)
    floor = _child("floor", events, customers)
    rate = simulated["usage_events"] / simulated["seconds"]
    floor_rate = floor["usage_events"] / floor["seconds"]
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
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n, m = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(run_simulation(n, m) if kind == "simulation" else run_floor(n, m)))
    else:
        sizes = [int(arg) for arg in sys.argv[1:3]]
        print(json.dumps(measure(*sizes), indent=2))

"""Peak memory of many grants to one customer inside one memory ``atomic()`` (issue 12: the
memory adapter's undo log once kept every intermediate state, 3.5 GiB at 16,000 grants).

Measured in a fresh Python process, so nothing else the runner did counts: the peak
resident memory of that process (``VmHWM`` in ``/proc/self/status``; ``ru_maxrss`` where
there is no ``/proc``) minus its resident memory (``VmRSS``) just before the first grant,
after the imports and the empty ledger. Resident memory, not ``tracemalloc``: it counts
everything the grants make the process hold, and costs the run nothing.

The process runs under an address-space limit (``RLIMIT_AS``), so code that would need
gigabytes stops early with ``MemoryError`` and is reported as over the limit, and under a
time limit.

    python -m benchmarks.peak 16000
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

#: The child's address-space limit: far above the bar, far below this machine's memory.
LIMIT_BYTES = 3 * 2**30


def _status(field: str) -> int | None:
    """A ``/proc/self/status`` figure in bytes, or None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak() -> int:
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def child(grants: int) -> dict[str, Any]:
    """Run in the fresh process: ``grants`` grants to one customer in one ``atomic()``."""
    import gc

    from benchmarks.workload import START, TICK
    from creditcore import Ledger

    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))
    ledger = Ledger.memory(clock=lambda: START + timedelta(days=1))
    gc.collect()
    before = _status("VmRSS") or _peak()
    started = time.perf_counter()
    try:
        with ledger.atomic():
            for i in range(grants):
                ledger.grant("ada", 10, priority=50, expires_at=None, at=START + TICK * i)
    except MemoryError:
        return {"grants": grants, "over_limit": True, "seconds": time.perf_counter() - started}
    seconds = time.perf_counter() - started
    balance = ledger.balance("ada").available
    if balance != 10 * grants:
        raise AssertionError(f"{grants} grants of 10 left {balance} available")
    return {
        "grants": grants,
        "seconds": seconds,
        "peak_mib": (_peak() - before) / 2**20,
        "before_mib": before / 2**20,
        "method": "VmHWM - VmRSS before the grants" if _status("VmHWM") else "ru_maxrss - VmRSS before the grants",
    }


def measure(grants: int, timeout: float) -> dict[str, Any]:
    """Run :func:`child` in a fresh process; a run over the time or memory limit is
    reported as such (``over_limit`` or ``timed_out``), not raised."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.peak", str(grants)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"grants": grants, "timed_out": True, "seconds": timeout}
    if done.returncode != 0:
        if "MemoryError" in done.stderr:
            return {"grants": grants, "over_limit": True}
        raise RuntimeError(f"the peak-memory process failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["limit_mib"] = LIMIT_BYTES / 2**20
    return result


if __name__ == "__main__":
    print(json.dumps(child(int(sys.argv[1]))))

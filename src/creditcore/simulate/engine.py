"""The simulation: a scenario's events applied to the pure core, customer by customer, in this
process or spread over any :class:`concurrent.futures.Executor`.

Each customer's account is an :class:`~creditcore.state.AccountState`; every event calls a
rule (``rules.grant``, ``rules.burn``, ``rules.hold``, ``rules.capture``, ``rules.release``,
``rules.void``, ``rules.schedule_grant``, ``rules.set_top_up``) directly, with no repository in
between; a schedule's periods and the top-ups are the core's own due events and reactions.
Customers never touch each other, and every random draw comes from a stream of the customer's
own, seeded from the scenario's seed, the rule's place and the customer's id: so a run can cut
its customers into parts, run each part anywhere, and add the parts up, and the figures are the
same to the last unit whether it ran in one process, on 2 workers or on 50 machines.

The scenario's end is exclusive: nothing dated at or after it is applied. A job that is still
running at the end keeps its hold, no schedule's period starts at or after it, a void or a
block's activation that would fall later is not made (an activation at the end itself counts,
as a read at the end would count it), and the totals are the state at the end, the same as the
timeline's last point.

With a ``ledger`` (``creditcore simulate --db``) every operation the core applied is also
written through that :class:`~creditcore.ledger.Ledger`, at the same instant, customer by
customer, so the file holds the whole history; its balances equal the summary. Such a run
stays in this process.

The parts live beside it: :mod:`~creditcore.simulate.streams` (ticks, arrivals, random
streams), :mod:`~creditcore.simulate.accounts` (one customer's events through the rules),
:mod:`~creditcore.simulate.timeline` (the sampled points), :mod:`~creditcore.simulate.parts`
(cutting and adding up), :mod:`~creditcore.simulate.figures` (what a run reports),
:mod:`~creditcore.simulate.breakage` (each grant's figures, and the check they add up) and
:mod:`~creditcore.simulate.mirror` (the ``--db`` ledger); the public names are importable from
here too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from decimal import localcontext

from creditcore.ledger import Ledger
from creditcore.simulate.accounts import PartResult, run_part
from creditcore.simulate.figures import FIGURES, Counts, Figures, Outcome, Point
from creditcore.simulate.mirror import open_ledger
from creditcore.simulate.model import Scenario
from creditcore.simulate.parts import cut, merge, split, work
from creditcore.simulate.timeline import points, sample_times
from creditcore.values import DECIMAL_CONTEXT

__all__ = ["FIGURES", "Counts", "Figures", "Outcome", "Point", "open_ledger", "run"]

#: Parts per worker of an executor, by default: enough that a worker that drew lighter
#: customers takes another part while the others finish theirs.
PARTS_PER_WORKER = 4


def run(
    scenario: Scenario,
    *,
    ledger: Ledger | None = None,
    on_point: Callable[[Point], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    parts: int | None = None,
) -> Outcome:
    """Simulate ``scenario``.

    ``on_point`` receives each sampled point of the timeline, in time order, once the run is
    done. ``on_progress`` receives ``(done, total)`` as the run goes: the work done and the
    work in all, in events as the scenario's rates estimate them. With ``ledger`` (see
    :func:`open_ledger`), every operation is also written through it, in this process.

    With ``executor`` (any :class:`concurrent.futures.Executor`: a ``ProcessPoolExecutor``,
    or one that spreads tasks over machines, such as Dask's ``client.get_executor()``) the
    customers are cut into ``parts`` (default: 4 per worker of the executor, or per core of
    this machine when it does not say) and each part runs as one task; the outcome and the
    timeline are the same as without it, to the last unit. A task receives the rules and its
    customers only, and must run the same Python and creditcore as this process.

    >>> from concurrent.futures import ProcessPoolExecutor                 # doctest: +SKIP
    >>> with ProcessPoolExecutor(4) as pool:                               # doctest: +SKIP
    ...     outcome = run(load("examples/ai_app.toml"), executor=pool)
    """
    if parts is not None and (type(parts) is not int or parts < 1):
        raise ValueError(f"parts must be an int of at least 1, got {parts!r}")
    if ledger is not None and executor is not None:
        raise ValueError("a run that writes through a ledger runs in this process: pass ledger or executor, not both")
    times = sample_times(scenario)
    with localcontext(DECIMAL_CONTEXT):
        if executor is None:
            results = [(range(len(scenario.customers)), _in_process(scenario, ledger, on_progress))]
        else:
            workers = getattr(executor, "_max_workers", None)
            if parts is None:
                parts = PARTS_PER_WORKER * (workers if type(workers) is int else os.cpu_count() or 1)
            results = _on(executor, scenario, parts, on_progress)
        merged = merge(scenario, results, times)
        if on_point is not None:
            for point in points(scenario, times, merged.changes):
                on_point(point)
    return merged.outcome


def _in_process(
    scenario: Scenario, ledger: Ledger | None, on_progress: Callable[[int, int], None] | None
) -> PartResult:
    if on_progress is None:
        return run_part(scenario, ledger=ledger)
    cost = work(scenario)
    total = sum(cost)
    finished = 0  # the work of the customers whose run is over
    on_progress(0, total)

    def progress(customer: int, events: int, over: bool) -> None:
        nonlocal finished
        if over:
            finished += cost[customer]
            on_progress(finished, total)
        else:  # within a long customer's run: its events so far, never past its estimate
            on_progress(finished + min(events, cost[customer] - 1), total)

    return run_part(scenario, ledger=ledger, on_progress=progress)


def _on(
    executor: Executor, scenario: Scenario, parts: int, on_progress: Callable[[int, int], None] | None
) -> list[tuple[range, PartResult]]:
    """Each part as a task of ``executor``; their results once all are done."""
    cost = work(scenario)
    ranges = split(cost, parts)
    total = sum(cost)
    done = 0
    if on_progress is not None:
        on_progress(0, total)
    pending: dict[Future[PartResult], range] = {}
    results: list[tuple[range, PartResult]] = []
    try:
        for customers, part in zip(ranges, cut(scenario, ranges), strict=True):
            pending[executor.submit(run_part, part)] = customers
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                customers = pending.pop(future)
                results.append((customers, future.result()))
                done += sum(cost[customers.start : customers.stop])
                if on_progress is not None:
                    on_progress(done, total)
    finally:
        for future in pending:  # a part failed or the run was interrupted: start no more
            future.cancel()
    return results

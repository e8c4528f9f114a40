"""``creditcore simulate``: run a scenario's burn-down and print, chart or store what it did.

The ledger (``--db``) and the timeline (``--csv``) are written next to their names and moved
there only when the run succeeds, so a failed or interrupted run leaves no partial file. A
``--db postgresql://...`` ledger goes to a database that holds no ledger yet, in one
transaction: a failed or interrupted run leaves no customer or entry there either.
``--workers N`` runs the customers in N processes; the output is the same for any N.
``--plot FILE`` draws the burn-down, or with ``--chart breakage`` each grant's breakage. A
progress bar (percentage and time left) goes to stderr on a terminal, or anywhere with
``--progress``; never to stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from creditcore.cli.common import console, fail, is_postgres
from creditcore.errors import CreditError

if TYPE_CHECKING:
    from creditcore.ledger import Ledger
    from creditcore.simulate import Scenario

#: The most worker processes ``--workers`` takes.
MAX_WORKERS = 1024
#: What ``--chart`` may ask ``--plot`` to draw (the first, unless it says).
CHARTS = ("burn-down", "breakage")


@click.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="Also write every operation to a new ledger: a SQLite file that does not exist yet, or a PostgreSQL "
    "database (postgresql://...) whose ledger holds no customer or entry (its schema is created or brought "
    "forward). CREDITCORE_DB is not read: a simulation never writes to the app's ledger by accident.",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the chart here (.png or .svg).")
@click.option(
    "--chart",
    type=click.Choice(CHARTS),
    help="What --plot draws: burn-down (credit left over time, the default) or breakage (per grant: what it "
    "granted, used, expired unused, voided and has left at the end).",
)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the sampled timeline here as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    help="Run the customers in this many processes (the output is the same for any number).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: on a terminal, once a run takes a second).",
)
def simulate(
    scenario: str, db: str | None, plot: str | None, chart: str | None, csv_path: str | None, as_json: bool,
    workers: int, progress: bool | None,
) -> None:  # fmt: skip
    """Simulate the burn-down of SCENARIO.toml (its format: the "Scenario format" page of the docs).

    \b
    Example:
      creditcore simulate examples/promotions.toml --plot breakage.png --chart breakage
    """
    from creditcore.simulate import ScenarioError, load, open_ledger, run
    from creditcore.simulate.breakage_chart import draw_breakage
    from creditcore.simulate.chart import FORMATS, ChartUnavailable, draw
    from creditcore.simulate.report import as_json as summary_json
    from creditcore.simulate.report import operations_line, summary_table

    if plot is not None and Path(plot).suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{plot!r}: the chart is written as .png or .svg", param_hint="--plot")
    if chart is not None and plot is None:
        raise click.UsageError(f"--chart {chart} says what --plot draws: add --plot FILE.png (or .svg)")
    breakage = chart == "breakage"
    postgres = db is not None and is_postgres(db)
    db_path = None if postgres else db  # a file, written next to its name
    for option, target in (("--plot", plot), ("--csv", csv_path), ("--db", db_path)):
        if target is not None and not Path(target).absolute().parent.is_dir():
            raise click.BadParameter(f"{target!r}: its folder does not exist", param_hint=option)
    if db_path is not None and Path(db_path).exists():
        raise click.BadParameter(f"{db!r} exists already: a simulation writes a new ledger", param_hint="--db")
    if db is not None and workers > 1:
        raise click.UsageError(
            f"--db writes every operation through one ledger in one process: drop --workers {workers} or --db"
        )
    try:
        found = load(scenario)
    except ScenarioError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"error: cannot read {scenario}: {error.strerror}", err=True)
        sys.exit(1)
    points: list[Any] = []
    sinks: list[Callable[[Any], None]] = []
    if plot is not None and not breakage:
        sinks.append(points.append)
    # the ledger and the timeline are written next to their names and moved there only when
    # the run succeeds: a failed or interrupted run leaves no partial file (a PostgreSQL
    # ledger: the run is one transaction, committed only when it succeeds)
    with (
        _new_file(db_path, replace=False) as db_file,
        _new_file(csv_path, replace=True) as csv_file,
        _simulation_outputs(csv_file, found, sinks) as on_point,
        _progress(progress) as on_progress,
        _workers(min(workers, len(found.customers))) as pool,
    ):
        ledger = None
        try:
            if db_file is not None:
                ledger = open_ledger(found, db_file)
            elif db is not None:  # PostgreSQL
                ledger = _postgres_ledger(found, db)
            with ledger.atomic() if postgres and ledger is not None else nullcontext():
                outcome = run(found, ledger=ledger, on_point=on_point, on_progress=on_progress, executor=pool)
        except ScenarioError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except CreditError as error:
            fail(error)
        finally:
            if ledger is not None:
                ledger.close()
    if plot is not None:
        try:
            if breakage:
                draw_breakage(outcome.by_grant, found, plot)
            else:
                draw(points, found, plot)
        except ChartUnavailable as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except OSError as error:
            click.echo(f"error: cannot write the chart to {plot}: {error.strerror}", err=True)
            sys.exit(1)
    if as_json:
        click.echo(json.dumps(summary_json(outcome), indent=2))
        return
    out = console()
    out.print(summary_table(outcome))
    out.print(operations_line(outcome))
    ledger_name = _without_secrets(db) if postgres and db is not None else db
    for label, target in (("timeline", csv_path), ("chart", plot), ("ledger", ledger_name)):
        if target is not None:
            out.print(f"{label}: {target}")


def _postgres_ledger(scenario: Scenario, url: str) -> Ledger:
    """The PostgreSQL ledger at ``url`` for the run; refuses (``--db``, exit 2) a database
    whose ledger holds any customer or entry."""
    from creditcore.simulate.mirror import NotANewLedger, open_ledger

    try:
        return open_ledger(scenario, url, postgres=True)
    except NotANewLedger as error:
        raise click.BadParameter(f"{_without_secrets(url)!r} {error}", param_hint="--db") from None


def _without_secrets(url: str) -> str:
    """A PostgreSQL URL as messages show it: without its password or query parameters."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "the PostgreSQL URL"
    user = f"{parts.username}@" if parts.username else ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@contextmanager
def _new_file(target: str | None, *, replace: bool) -> Iterator[str | None]:
    """A temporary name next to ``target``, moved to ``target`` when the block succeeds and
    removed (with SQLite's companion files) when it fails. ``replace=False`` never overwrites
    a file that appeared at ``target`` meanwhile."""
    if target is None:
        yield None
        return
    final = Path(target)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.partial")
    try:
        yield str(temporary)
    except BaseException:
        for name in (str(temporary), *(f"{temporary}{tail}" for tail in _SQLITE_COMPANIONS)):
            Path(name).unlink(missing_ok=True)
        raise
    try:
        if replace:
            os.replace(temporary, final)
        else:
            try:
                os.link(temporary, final)  # fails if the name was taken meanwhile
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if final.exists():
                    raise FileExistsError(f"{target} exists already") from None
                os.replace(temporary, final)
            else:
                temporary.unlink()
        wal = Path(f"{temporary}-wal")
        if wal.exists():  # normally gone once the ledger is closed
            os.replace(wal, f"{final}-wal")
        Path(f"{temporary}-shm").unlink(missing_ok=True)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        click.echo(f"error: cannot write {target}: {error.strerror or error}", err=True)
        sys.exit(1)


@contextmanager
def _simulation_outputs(
    csv_path: str | None, scenario: Any, sinks: list[Callable[[Any], None]]
) -> Iterator[Callable[[Any], None]]:
    from creditcore.simulate.report import TimelineCSV

    handle = None
    try:
        if csv_path is not None:
            try:
                handle = open(csv_path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as error:
                click.echo(f"error: cannot write {csv_path}: {error.strerror}", err=True)
                sys.exit(1)
            sinks.append(TimelineCSV(handle, scenario))

        def each(point: Any) -> None:
            for sink in sinks:
                sink(point)

        yield each
    finally:
        if handle is not None:
            handle.close()


@contextmanager
def _workers(count: int) -> Iterator[Executor | None]:
    """``count`` worker processes (none for one: the run stays in this process). They ignore
    Ctrl-C, which this process handles: an interrupted or failed run ends them at once."""
    if count <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=count, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
    try:
        yield pool
    except BaseException:
        # no public way to end running tasks; their results are of no use any more
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


@contextmanager
def _progress(wanted: bool | None) -> Iterator[Callable[[int, int], None] | None]:
    """The progress bar: on stderr when it is a terminal (``wanted`` None) or when asked
    (True); never with ``--no-progress`` (False)."""
    stream = sys.stderr
    terminal = stream.isatty()
    if wanted is False or (wanted is None and not terminal):
        yield None
        return
    bar = ProgressBar(stream, terminal=terminal, delay=1.0 if wanted is None else 0.0)
    try:
        yield bar
    finally:
        bar.close()


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class ProgressBar:
    """``simulating [#########...........]  45%  ETA 0:00:12`` on ``stream``.

    On a terminal it is one line redrawn in place (at most 10 times a second) and erased at
    the end; elsewhere (a log, a pipe) a line is written at most every ``every`` seconds, and
    the last one says how long the run took. It appears only once ``delay`` seconds have
    passed, so a quick run shows none. Work is counted in estimated events (see
    :func:`creditcore.simulate.run`); the time left is the time so far, scaled to the work
    left."""

    WIDTH = 30

    def __init__(self, stream: IO[str], *, terminal: bool, delay: float = 0.0, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.stream = stream
        self.terminal = terminal
        self.delay = delay
        self.every = 0.1 if terminal else every
        self.clock = clock
        self.began = clock()
        self.shown = -1.0
        """When the bar was last drawn (negative: never)."""

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.began < self.delay:
            return
        if self.shown >= 0 and now - self.shown < self.every and done < total:
            return
        self.draw(done, total, now)

    def line(self, done: int, total: int, now: float) -> str:
        share = min(1.0, done / total) if total > 0 else 1.0
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = now - self.began
        if done >= total:
            tail = f"took {_clock(elapsed)}"
        elif done > 0:
            tail = f"ETA {_clock(elapsed * (total - done) / done)}"
        else:
            tail = "ETA -:--:--"
        return f"simulating [{bar}] {int(share * 100):3d}%  {tail}"

    def draw(self, done: int, total: int, now: float) -> None:
        text = self.line(done, total, now)
        if self.terminal:
            self.stream.write(f"\r{text}\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = now

    def close(self) -> None:
        """Erase the bar from a terminal (elsewhere its lines stay, the last one at 100%)."""
        if self.terminal and self.shown >= 0:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

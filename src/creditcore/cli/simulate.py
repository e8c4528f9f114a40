"""``creditcore simulate``: run a scenario's burn-down and print, chart or store what it did.

The ledger (``--db``) and the timeline (``--csv``) are written next to their names and moved
there only when the run succeeds, so a failed or interrupted run leaves no partial file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from creditcore.cli.common import console, fail
from creditcore.errors import CreditError


@click.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", type=click.Path(dir_okay=False), help="Also write every operation to this new SQLite ledger.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the burn-down chart here (.png or .svg).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the sampled timeline here as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
def simulate(scenario: str, db: str | None, plot: str | None, csv_path: str | None, as_json: bool) -> None:
    """Simulate the burn-down of SCENARIO.toml (the format is in the README)."""
    from creditcore.simulate import ScenarioError, load, open_ledger, run
    from creditcore.simulate.chart import FORMATS, ChartUnavailable, draw
    from creditcore.simulate.report import as_json as summary_json
    from creditcore.simulate.report import operations_line, summary_table

    if plot is not None and Path(plot).suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{plot!r}: the chart is written as .png or .svg", param_hint="--plot")
    for option, target in (("--plot", plot), ("--csv", csv_path), ("--db", db)):
        if target is not None and not Path(target).absolute().parent.is_dir():
            raise click.BadParameter(f"{target!r}: its folder does not exist", param_hint=option)
    if db is not None and Path(db).exists():
        raise click.BadParameter(f"{db!r} exists already: a simulation writes a new ledger", param_hint="--db")
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
    if plot is not None:
        sinks.append(points.append)
    # the ledger and the timeline are written next to their names and moved there only when
    # the run succeeds: a failed or interrupted run leaves no partial file
    with (
        _new_file(db, replace=False) as db_file,
        _new_file(csv_path, replace=True) as csv_file,
        _simulation_outputs(csv_file, found, sinks) as on_point,
        _progress(found) as on_progress,
    ):
        ledger = None
        try:
            if db_file is not None:
                ledger = open_ledger(found, db_file)
            outcome = run(found, ledger=ledger, on_point=on_point, on_progress=on_progress)
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
    for label, target in (("timeline", csv_path), ("chart", plot), ("ledger", db)):
        if target is not None:
            out.print(f"{label}: {target}")


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
def _progress(scenario: Any) -> Iterator[Callable[[datetime], None] | None]:
    """A progress bar on stderr, over simulated time, once a run has taken a second; only
    on a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    began = time.monotonic()
    span = (scenario.end - scenario.start).total_seconds()
    bar: list[Any] = []

    def advance(at: datetime) -> None:
        if not bar:
            if time.monotonic() - began < 1.0:
                return
            progress = Progress(
                TextColumn("simulating"), BarColumn(), TextColumn("{task.fields[day]}"), TimeElapsedColumn(),
                console=Console(file=sys.stderr), transient=True,
            )  # fmt: skip
            progress.start()
            bar.extend([progress, progress.add_task("run", total=span, day="")])
        progress, task = bar
        progress.update(task, completed=(at - scenario.start).total_seconds(), day=f"{at:%Y-%m-%d}")

    try:
        yield advance
    finally:
        if bar:
            bar[0].stop()

"""``creditcore timeline``: one customer's balance after each moment it changed
(:meth:`~creditcore.Ledger.timeline`), as a table or JSON, and with ``--plot`` as a step chart
of the available balance (:mod:`~creditcore.cli.timeline_chart`, which needs matplotlib)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from creditcore.cli.common import ISO, admin, console, fail, print_json, sqlite_ledger
from creditcore.values import DEFAULT_UNIT


@click.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--since", type=ISO, help="From this time, inclusive (default: the first entry).")
@click.option("--until", type=ISO, help="Up to before this time (default: now).")
@click.option(
    "--plot", type=click.Path(dir_okay=False),
    help='Also draw the available balance over time here (.png or .svg; pip install "creditcore[plot]").',
)  # fmt: skip
@admin
def timeline(
    customer: str, unit: str, since: datetime | None, until: datetime | None, plot: str | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """CUSTOMER's balance in --unit after each moment it changed, oldest first: entries,
    expiries and hold timeouts due, upcoming blocks becoming active.

    \b
    Example:
      creditcore timeline ada --since 2027-01-01 --plot ada.png
    """
    if plot is not None:
        from creditcore.simulate.chart import FORMATS  # the simulator's charts' formats

        if Path(plot).suffix.lower() not in FORMATS:
            raise click.BadParameter(f"{plot!r}: the chart is written as .png or .svg", param_hint="'--plot'")
        if not Path(plot).absolute().parent.is_dir():
            raise click.BadParameter(f"{plot!r}: its folder does not exist", param_hint="'--plot'")
    with sqlite_ledger(db, read_only=True) as ledger:
        points = ledger.timeline(customer, unit=unit, since=since, until=until)
    if plot is not None:  # drawn first: a chart that cannot be drawn prints nothing else
        if not points:
            click.echo(f"error: {customer} has no balance points in {unit} in that range: nothing to plot", err=True)
            sys.exit(1)
        from creditcore.cli.timeline_chart import ChartUnavailable, draw

        end = max(points[-1].at, until if until is not None else datetime.now(UTC))
        try:
            draw(points, plot, customer=customer, unit=unit, end=end)
        except ChartUnavailable as error:
            fail(error)
        except OSError as error:
            click.echo(f"error: cannot write the chart to {plot}: {error.strerror}", err=True)
            sys.exit(1)
    if as_json:
        print_json(points)
        return
    out = console()
    if not points:
        out.print(f"{customer} has no balance points in {unit}")
    else:
        table = Table(title=f"{customer}, {unit}", title_justify="left")
        table.add_column("at (UTC)", no_wrap=True)
        for name in ("available", "held", "used", "expired", "debt"):
            table.add_column(name, justify="right", style="bold" if name == "available" else None)
        for p in points:
            table.add_row(
                f"{p.at:%Y-%m-%d %H:%M:%S}", str(p.available), str(p.held), str(p.used), str(p.expired), str(p.debt)
            )
        out.print(table)
    if plot is not None:
        out.print(f"chart: {plot}")

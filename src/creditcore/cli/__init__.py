"""The ``creditcore`` command line: ``simulate``, the admin commands on a SQLite ledger, and
``demo``.

A refused operation (any :class:`~creditcore.errors.CreditError`) exits 1 with one line on
stderr naming the error class; a usage mistake exits 2 with one line too; neither prints a
traceback. Every command runs in the library's own ``decimal`` context
(:data:`~creditcore.values.DECIMAL_CONTEXT`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
from rich.console import Console
from rich.table import Table

from creditcore.errors import CreditError
from creditcore.ledger import Ledger
from creditcore.model import Balance, Block, Entry, Hold, Result
from creditcore.values import DECIMAL_CONTEXT, DEFAULT_UNIT

F = TypeVar("F", bound=Callable[..., Any])


def _balance_line(balance: Balance) -> str:
    return (
        f"available {balance.available}  held {balance.held}  used {balance.used}  "
        f"expired {balance.expired}  upcoming {balance.upcoming}  granted {balance.granted}"
    )


def _entry_lines(entries: Iterable[Entry]) -> list[str]:
    lines = []
    for e in entries:
        target = e.block_id or "-"
        lines.append(
            f"    #{e.seq:<3} {e.at:%Y-%m-%d %H:%M}  {e.kind:<8} {e.amount:>6} {e.unit:<8} "
            f"block {target}  available after {e.available_after}"
        )
    return lines


class _Main(click.Group):
    """The command group: usage mistakes become one line on stderr (exit 2), and every
    command runs in the library's own decimal context, whatever the caller's."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        with localcontext(DECIMAL_CONTEXT):
            if not standalone_mode:
                return super().main(args, prog_name, complete_var, standalone_mode, **extra)
            try:
                done = super().main(args, prog_name, complete_var, False, **extra)
            except click.ClickException as error:
                _usage_line(error)
                sys.exit(error.exit_code)
            except click.Abort:
                click.echo("error: aborted", err=True)
                sys.exit(1)
            sys.exit(done if isinstance(done, int) else 0)


def _usage_line(error: click.ClickException) -> None:
    """A usage mistake as one line: what is wrong, and where help is."""
    text = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    hint = f" (see: {context.command_path} --help)" if isinstance(error, click.UsageError) and context else ""
    label = "usage" if isinstance(error, click.UsageError) else type(error).__name__
    click.echo(f"error: {label}: {text}{hint}", err=True)


@click.group(cls=_Main)
@click.version_option(package_name="creditcore")
def main() -> None:
    """creditcore: an embeddable prepaid-credit ledger."""


@main.command()
def demo() -> None:
    """Walk through the everyday flows on an in-memory ledger and print what they wrote."""
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    now = [start]
    ledger = Ledger.memory(clock=lambda: now[0])
    echo = click.echo

    def step(title: str) -> None:
        echo("")
        echo(click.style(f"[{now[0]:%Y-%m-%d %H:%M}] {title}", bold=True))

    step("1. Deposit, freeze, consume part, check the balance (an AI app running a job)")
    grant = ledger.grant("ada", 100, category="paid", cost_basis="0.01", description="100-credit top-up")
    echo(f"  granted 100 paid credits as block {grant.block.id}")
    held = ledger.hold("ada", 30, hold_id="job-1", expires_at=start + timedelta(hours=1))
    echo(f"  hold job-1 reserves 30: {_balance_line(ledger.balance('ada'))}")
    now[0] += timedelta(minutes=5)
    captured = ledger.capture("job-1", 18)
    echo(f"  the job used 18: captured {captured.captured}, released {captured.released}")
    echo(f"  balance: {_balance_line(ledger.balance('ada'))}")
    echo(f"  hold status: {ledger.get_hold(held.hold.id).status}")

    step("2. A burn that spans blocks of different priority and expiry")
    now[0] += timedelta(days=1)
    ledger.grant("bob", 20, priority=10, expires_at=now[0] + timedelta(days=30), description="promo, 30 days")
    ledger.grant("bob", 50, priority=50, expires_at=now[0] + timedelta(days=7), description="trial, 7 days")
    ledger.grant("bob", 100, priority=50, category="paid", cost_basis="0.02", description="paid, no expiry")
    echo("  bob's blocks in burn order:")
    for block in ledger.blocks("bob"):
        expiry = f"{block.expires_at:%Y-%m-%d}" if block.expires_at else "never"
        echo(f"    priority {block.priority:<3} expires {expiry:<10} {block.category:<11} {block.remaining:>4}")
    burn = ledger.burn("bob", 60, description="usage")
    echo(f"  burn 60 drew {len(burn.entries)} block(s):")
    for line in _entry_lines(burn.entries):
        echo(line)
    now[0] += timedelta(days=8)
    echo(f"  8 days later the 7-day trial block has expired: {_balance_line(ledger.balance('bob'))}")

    step("3. A scoped voucher (a mobility app)")
    ledger.grant("cleo", 15, scope={"trip"}, expires_at=now[0] + timedelta(days=14), description="trip voucher")
    ledger.grant("cleo", 10, description="general credit")
    echo(f"  trip balance {ledger.balance('cleo', scope='trip').available}, total {ledger.balance('cleo').available}")
    trip = ledger.burn("cleo", 18, scope="trip", description="ride")
    echo(f"  an 18-credit ride uses the voucher first ({len(trip.entries)} entries):")
    for line in _entry_lines(trip.entries):
        echo(line)
    try:
        ledger.burn("cleo", 10, description="snack")
    except Exception as error:  # the refusal is the point of this step
        echo(f"  a 10-credit non-trip purchase is refused: {type(error).__name__}: {error}")
    echo(f"  balance: {_balance_line(ledger.balance('cleo'))}")

    step("4. Undo a burn, sweep the expiries, audit the ledger")
    reversed_burn = ledger.reverse(trip.op_id, 5)
    echo(f"  reversing 5 of the ride gives back {reversed_burn.reversed} (latest drawn block first)")
    swept = ledger.expire_due()
    echo(f"  expire_due() recorded {len(swept)} expiry entr{'y' if len(swept) == 1 else 'ies'}:")
    for line in _entry_lines(swept):
        echo(line)
    echo(f"  verify(): {ledger.verify()}")

    step("Every entry the ledger wrote")
    page = ledger.entries(limit=1000)
    for line in _entry_lines(page.items):
        echo(line)


# -- shared pieces -------------------------------------------------------------------------------


def _console(err: bool = False) -> Console:
    """A console for tables; off a terminal, wide enough that ids are never cut."""
    stream = sys.stderr if err else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False)


def _fail(error: BaseException) -> None:
    """One line on stderr naming the error, then exit 1."""
    text = " ".join(str(error).split())
    click.echo(f"error: {type(error).__name__}: {text}", err=True)
    sys.exit(1)


def _jsonable(value: Any) -> Any:
    """Results and reads as JSON: amounts as strings, times in ISO 8601, sets sorted."""
    if attrs.has(type(value)):
        found = {field.name: _jsonable(getattr(value, field.name)) for field in attrs.fields(type(value))}
        for extra in ("net", "ok"):  # computed properties a reader wants too
            if hasattr(type(value), extra) and isinstance(getattr(type(value), extra), property):
                found[extra] = _jsonable(getattr(value, extra))
        return found
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(_jsonable(value), indent=2))


class _Time(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date or date-time; one without an offset is taken as UTC."""

    name = "ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{text[:60]!r} is not an ISO 8601 time such as 2027-03-01T12:00:00Z", param, ctx)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            self.fail(f"{text!r} is out of range: in UTC it falls outside the years 1 to 9999", param, ctx)


ISO = _Time()


def _admin(command: F) -> F:
    """Add ``--db`` (or ``CREDITCORE_DB``) and ``--json`` to an admin command."""
    command = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (amounts as strings).")(
        command
    )
    return click.option(
        "--db",
        envvar="CREDITCORE_DB",
        show_envvar=True,
        required=True,
        type=click.Path(dir_okay=False),
        help="The SQLite ledger file (default: $CREDITCORE_DB). A write creates it if missing; a read never does.",
    )(command)


@contextmanager
def _ledger(db: str, *, read_only: bool = False) -> Iterator[Ledger]:
    """Open the ledger; any refusal inside exits 1 with one line. A read refuses a file that
    does not exist (a mistyped path would otherwise become a new, empty ledger)."""
    if read_only and not os.path.exists(db):
        click.echo(
            f"error: StorageError: no ledger file at {db!r}: a read does not create one (check --db or CREDITCORE_DB)",
            err=True,
        )
        sys.exit(1)
    ledger = None
    try:
        ledger = Ledger.sqlite(db)
        yield ledger
    except CreditError as error:
        _fail(error)
    finally:
        if ledger is not None:
            ledger.close()


def _entries_table(entries: Iterable[Entry], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("seq", "right"), ("at (UTC)", "left"), ("customer", "left"), ("kind", "left"), ("amount", "right"),
        ("unit", "left"), ("block", "left"), ("hold", "left"), ("available after", "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=name in ("block", "at (UTC)"))  # type: ignore[arg-type]
    for e in entries:
        table.add_row(
            str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.customer, e.kind, str(e.amount), e.unit,
            e.block_id or "", e.hold_id or "", str(e.available_after),
        )  # fmt: skip
    return table


def _show_result(result: Result, headline: str, as_json: bool) -> None:
    if as_json:
        _print_json(result)
        return
    out = _console()
    out.print(headline + (" (replayed: this key was used before, nothing new was written)" if result.replayed else ""))
    if result.entries:
        out.print(_entries_table(result.entries, f"op {result.op_id}"))


def _block_table(blocks: Iterable[Block]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "block", "status", "remaining", "held", "available", "amount", "priority", "category", "cost basis",
        "scope", "effective (UTC)", "expires (UTC)",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("remaining", "held", "available", "amount") else "left",
                         no_wrap=name == "block")  # fmt: skip
    for b in blocks:
        table.add_row(
            b.id, b.status, str(b.remaining), str(b.held), str(b.available), str(b.amount), str(b.priority),
            b.category, "" if b.cost_basis is None else str(b.cost_basis),
            ", ".join(sorted(b.scope)) if b.scope else "any", f"{b.effective_at:%Y-%m-%d %H:%M}",
            f"{b.expires_at:%Y-%m-%d %H:%M}" if b.expires_at else "never",
        )  # fmt: skip
    return table


def _hold_line(hold: Hold) -> str:
    pinned = ", ".join(f"{amount} from {block_id}" for block_id, amount in hold.allocations)
    return f"hold {hold.id} for {hold.customer}: {hold.amount} {hold.unit} {hold.status} ({pinned})"


# -- simulate ------------------------------------------------------------------------------------


@main.command()
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
            _fail(error)
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
    out = _console()
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


# -- admin commands ------------------------------------------------------------------------------


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scale", type=int, help="Declare --unit with this many decimal places if it is new.")
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--category", type=click.Choice(["promotional", "paid"]), default="promotional", show_default=True)
@click.option("--expires-at", type=ISO, help="When the block expires (default: never).")
@click.option("--effective-at", type=ISO, help="When the block becomes usable (default: now).")
@click.option("--scope", "scopes", multiple=True, help="Only burns of this scope may use it (repeatable).")
@click.option("--cost-basis", help="The price paid per credit, e.g. 0.01.")
@click.option("--description")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def grant(
    customer: str, amount: str, unit: str, scale: int | None, priority: int, category: str,
    expires_at: datetime | None, effective_at: datetime | None, scopes: tuple[str, ...], cost_basis: str | None,
    description: str | None, key: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Grant AMOUNT of credit to CUSTOMER as a new block."""
    with _ledger(db) as ledger:
        with ledger.atomic():  # a refused grant declares no unit: both commit or neither
            if scale is not None:
                ledger.define_unit(unit, scale)
            r = ledger.grant(
                customer, amount, unit=unit, priority=priority, category=category, expires_at=expires_at,
                effective_at=effective_at, scope=scopes or None, cost_basis=cost_basis, description=description,
                idempotency_key=key, at=at,
            )  # fmt: skip
        _show_result(r, f"granted {r.block.amount} {r.block.unit} to {customer} as block {r.block.id}", as_json)


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", help="The kind of usage: scoped blocks of this scope may pay for it.")
@click.option("--overdraft", type=click.Choice(["reject", "partial", "debt"]), default="reject", show_default=True)
@click.option("--description")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def burn(
    customer: str, amount: str, unit: str, scope: str | None, overdraft: str, description: str | None,
    key: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Use AMOUNT of CUSTOMER's credit, in burn order."""
    with _ledger(db) as ledger:
        r = ledger.burn(
            customer, amount, unit=unit, scope=scope, overdraft=overdraft, description=description,
            idempotency_key=key, at=at,
        )  # fmt: skip
        _show_result(r, f"burned {r.burned} {unit} of {customer}: shortfall {r.shortfall}, debt {r.debt}", as_json)


@main.command()
@click.argument("customer")
@click.argument("amount")
@click.option("--hold-id", required=True, help="Your id for this hold; repeating it replays.")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope")
@click.option("--expires-at", type=ISO, help="Release the hold automatically then.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def hold(
    customer: str, amount: str, hold_id: str, unit: str, scope: str | None, expires_at: datetime | None,
    at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Reserve AMOUNT of CUSTOMER's credit until it is captured or released."""
    with _ledger(db) as ledger:
        r = ledger.hold(customer, amount, hold_id=hold_id, unit=unit, scope=scope, expires_at=expires_at, at=at)
        _show_result(r, _hold_line(r.hold), as_json)


@main.command()
@click.argument("hold_id")
@click.argument("amount", required=False)
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def capture(hold_id: str, amount: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """Use AMOUNT of a hold (default: all of it) and release the rest."""
    with _ledger(db) as ledger:
        r = ledger.capture(hold_id, amount, at=at)
        _show_result(r, f"hold {hold_id}: captured {r.captured}, released {r.released}", as_json)


@main.command()
@click.argument("hold_id")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def release(hold_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Give all of a hold's credit back."""
    with _ledger(db) as ledger:
        r = ledger.release(hold_id, at=at)
        _show_result(r, f"hold {hold_id}: released {r.released}", as_json)


@main.command()
@click.argument("block_id")
@click.argument("amount", required=False)
@click.option("--reason", help="Why, e.g. refund or chargeback.")
@click.option("--key", help="Idempotency key: a retry with the same key replays.")
@click.option("--at", type=ISO, help="Date the operation (default: now).")
@_admin
def void(
    block_id: str, amount: str | None, reason: str | None, key: str | None, at: datetime | None, db: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Remove AMOUNT of a block's unheld credit (default: all of it)."""
    with _ledger(db) as ledger:
        r = ledger.void(block_id, amount, reason=reason, idempotency_key=key, at=at)
        _show_result(r, f"voided {r.voided} of block {block_id}", as_json)


@main.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--scope", help="Count only credit this scope can use.")
@click.option("--at", type=ISO, help="The balance at this time, past or future (default: now).")
@_admin
def balance(customer: str, unit: str, scope: str | None, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's balance."""
    with _ledger(db, read_only=True) as ledger:
        b = ledger.balance(customer, unit=unit, scope=scope, at=at)
        if as_json:
            _print_json(b)
            return
        out = _console()
        out.print(f"{customer}, {unit}, at {b.at:%Y-%m-%d %H:%M:%S} UTC")
        table = Table()
        table.add_column("")
        table.add_column("amount", justify="right")
        for name in ("available", "held", "upcoming", "used", "expired", "voided", "granted", "debt", "net"):
            table.add_row(name, str(getattr(b, name)), style="bold" if name == "available" else None)
        out.print(table)


@main.command()
@click.argument("customer")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--all", "include_inactive", is_flag=True, help="Also upcoming, used up, expired and voided blocks.")
@click.option("--at", type=ISO, help="The blocks as they stand at this time (default: now).")
@_admin
def blocks(customer: str, unit: str, include_inactive: bool, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's blocks, in burn order."""
    with _ledger(db, read_only=True) as ledger:
        found = ledger.blocks(customer, unit=unit, at=at, include_inactive=include_inactive)
        if as_json:
            _print_json(found)
            return
        if not found:
            _console().print(f"{customer} has no {'' if include_inactive else 'active '}blocks in {unit}")
            return
        _console().print(_block_table(found))


@main.command()
@click.argument("customer", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--after", help="The cursor printed at the end of the previous page.")
@_admin
def entries(customer: str | None, limit: int, after: str | None, db: str, as_json: bool) -> None:
    """The ledger's entries (of CUSTOMER, if given), oldest first."""
    with _ledger(db, read_only=True) as ledger:
        page = ledger.entries(customer, limit=limit, after=after)
        if as_json:
            _print_json(page)
            return
        out = _console()
        out.print(_entries_table(page.items))
        if page.next_cursor is not None:
            out.print(f"more: --after {page.next_cursor}")


@main.command()
@click.option("--at", type=ISO, help="Record what fell due up to this time (default: now).")
@_admin
def expire(at: datetime | None, db: str, as_json: bool) -> None:
    """Record every expiry and hold timeout that fell due, for all customers."""
    with _ledger(db) as ledger:
        written = ledger.expire_due(at=at)
        if as_json:
            _print_json({"entries": written})
            return
        out = _console()
        out.print(f"recorded {len(written)} entr{'y' if len(written) == 1 else 'ies'}")
        if written:
            out.print(_entries_table(written))


@main.command()
@_admin
def verify(db: str, as_json: bool) -> None:
    """Recompute every balance from the entries; exit 1 if storage disagrees anywhere."""
    with _ledger(db, read_only=True) as ledger:
        report = ledger.verify()
    if as_json:
        _print_json(report)
    else:
        click.echo(str(report))
    if not report.ok:
        sys.exit(1)

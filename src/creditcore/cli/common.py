"""What every command shares: the group's one-line error handling and exit codes, the ``--db``
and ``--json`` options, ISO 8601 times, and the output (tables, JSON).

A refused operation (any :class:`~creditcore.errors.CreditError`) exits 1 with one line on
stderr naming the error class; a usage mistake exits 2 with one line too; neither prints a
traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any, TypeVar

import attrs
import click
from rich.console import Console
from rich.table import Table

from creditcore.errors import CreditError
from creditcore.ledger import Ledger
from creditcore.model import Entry, Result
from creditcore.values import DECIMAL_CONTEXT

F = TypeVar("F", bound=Callable[..., Any])


# -- the group: one line per mistake, the library's decimal context ------------------------------


class Main(click.Group):
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
                usage_line(error)
                sys.exit(error.exit_code)
            except click.Abort:
                click.echo("error: aborted", err=True)
                sys.exit(1)
            sys.exit(done if isinstance(done, int) else 0)


def usage_line(error: click.ClickException) -> None:
    """A usage mistake as one line: what is wrong, and where help is."""
    text = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    hint = f" (see: {context.command_path} --help)" if isinstance(error, click.UsageError) and context else ""
    label = "usage" if isinstance(error, click.UsageError) else type(error).__name__
    click.echo(f"error: {label}: {text}{hint}", err=True)


def fail(error: BaseException) -> None:
    """One line on stderr naming the error, then exit 1."""
    text = " ".join(str(error).split())
    click.echo(f"error: {type(error).__name__}: {text}", err=True)
    sys.exit(1)


# -- shared options ------------------------------------------------------------------------------


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


class Aliased(click.Option):
    """An option with older spellings that still work but are left out of ``--help``: the
    name that mirrors the API's keyword is the one shown (``--idempotency-key``, not ``--key``).

    ``aliases`` lists the hidden spellings, which must also be among the option's names."""

    def __init__(self, *args: Any, aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)
        missing = [alias for alias in self.aliases if alias not in self.opts]
        if missing:
            raise TypeError(f"the aliases {missing} are not names of {self.opts}")

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = self.opts
        self.opts = [name for name in shown if name not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def idempotency_key(command: F) -> F:
    """``--idempotency-key`` (once ``--key``, which still works)."""
    return click.option(
        "--idempotency-key", "--key", "idempotency_key", cls=Aliased, aliases=("--key",),
        help="A retry with the same key replays the first call's result instead of writing again.",
    )(command)  # fmt: skip


def metadata_option(help: str = "KEY=VALUE (repeatable).") -> Callable[[F], F]:
    """``--metadata KEY=VALUE`` (repeatable); :func:`metadata_pairs` reads it."""
    return click.option("--metadata", "metadata", multiple=True, help=help)


def admin(command: F) -> F:
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
        help="The ledger: a SQLite file (a write creates it if missing; a read never does) or a PostgreSQL URL "
        "(postgresql://...) (default: $CREDITCORE_DB).",
    )(command)


def is_postgres(db: str) -> bool:
    """Whether ``--db`` names a PostgreSQL database (a ``postgresql://`` URL) rather than a file."""
    return db.startswith(("postgresql://", "postgres://"))


@contextmanager
def sqlite_ledger(db: str, *, read_only: bool = False) -> Iterator[Ledger]:
    """Open the ledger; any refusal inside exits 1 with one line. A read refuses a file that
    does not exist (a mistyped path would otherwise become a new, empty ledger)."""
    postgres = is_postgres(db)
    if read_only and not postgres and not os.path.exists(db):
        click.echo(
            f"error: StorageError: no ledger file at {db!r}: a read does not create one (check --db or CREDITCORE_DB)",
            err=True,
        )
        sys.exit(1)
    ledger = None
    try:
        ledger = Ledger.postgres(db) if postgres else Ledger.sqlite(db)
        yield ledger
    except CreditError as error:
        fail(error)
    finally:
        if ledger is not None:
            ledger.close()


# -- output --------------------------------------------------------------------------------------


def console(err: bool = False) -> Console:
    """A console for tables; off a terminal, wide enough that ids are never cut."""
    stream = sys.stderr if err else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False)


def jsonable(value: Any) -> Any:
    """Results and reads as JSON: amounts as strings, times in ISO 8601, sets sorted."""
    if attrs.has(type(value)):
        found = {field.name: jsonable(getattr(value, field.name)) for field in attrs.fields(type(value))}
        for extra in ("net", "ok"):  # computed properties a reader wants too
            if hasattr(type(value), extra) and isinstance(getattr(type(value), extra), property):
                found[extra] = jsonable(getattr(value, extra))
        return found
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON (see :func:`jsonable`)."""
    click.echo(json.dumps(jsonable(value), indent=2))


def entries_table(entries: Iterable[Entry], title: str | None = None) -> Table:
    """Entries as a table, one row each, in the order given."""
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


def show_result(result: Result, headline: str, as_json: bool) -> None:
    """A write's result: JSON, or the headline and the entries it wrote."""
    if as_json:
        print_json(result)
        return
    out = console()
    out.print(headline + (" (replayed: this key was used before, nothing new was written)" if result.replayed else ""))
    if result.entries:
        out.print(entries_table(result.entries, f"op {result.op_id}"))


def metadata_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--metadata KEY=VALUE`` options as a mapping (a later key wins)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--metadata'")
        found[key] = value
    return found

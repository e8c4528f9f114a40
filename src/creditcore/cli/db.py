"""``creditcore db``: the PostgreSQL schema, for apps that run their own migrations.

``creditcore db upgrade --dsn URL`` applies what the database lacks (as a ledger does when it
opens an old schema); ``--print-sql`` prints it instead, for Alembic, Django, Flyway or a
DBA (without ``--dsn``: every step, for a new database).
"""

from __future__ import annotations

import click

from creditcore.cli.common import fail, print_json
from creditcore.errors import CreditError, StorageError


@click.group()
def db() -> None:
    """The PostgreSQL schema: upgrade it, or print the SQL that would.

    \b
    Example:
      creditcore db upgrade --dsn postgresql://app@db/ledger
    """


@db.command()
@click.option(
    "--dsn", envvar="CREDITCORE_DB", help="The PostgreSQL database (postgresql://...; default: $CREDITCORE_DB)."
)
@click.option(
    "--print-sql",
    is_flag=True,
    help="Print the SQL of the missing steps (all of them without --dsn) and change nothing.",
)
@click.option(
    "--partitions",
    type=click.IntRange(2, 1024),
    help="Hash-partition the new tables by customer into this many partitions (see docs/scaling.md).",
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"applied": [the steps applied]} (with --print-sql: {"sql": ...}).'
)
def upgrade(dsn: str | None, print_sql: bool, partitions: int | None, as_json: bool) -> None:
    """Bring the schema of a PostgreSQL ledger up to this version of creditcore.

    \b
    Example:
      creditcore db upgrade --dsn postgresql://app@db/ledger
      creditcore db upgrade --print-sql > creditcore_0001.sql
    """
    try:
        from creditcore.adapters.postgres import schema
    except ImportError as error:
        fail(StorageError(f'PostgreSQL needs psycopg ({error}): pip install "creditcore[postgres]"'))
        return
    if dsn is None and not print_sql:
        raise click.UsageError("give --dsn (or CREDITCORE_DB), or --print-sql")
    try:
        if print_sql:
            applied = frozenset() if dsn is None else schema.applied_at(dsn)
            sql = schema.script(applied, partitions)
            if as_json:
                print_json({"sql": sql})
            else:
                click.echo(sql, nl=False)
            return
        assert dsn is not None
        done = schema.upgrade_at(dsn, partitions)
    except CreditError as error:
        fail(error)
        return
    if as_json:
        print_json({"applied": list(done)})
    else:
        click.echo(f"applied {', '.join(done)}" if done else "the schema is up to date")

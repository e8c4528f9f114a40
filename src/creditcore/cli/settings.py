"""The settings and the outbox: ``schedule`` (add, list, get, cancel), ``top-up`` (set, get,
remove), ``alert`` (add, list, remove) and ``events``, on a ledger (``--db`` or
``CREDITCORE_DB``).

Each prints a table, or JSON with ``--json``; a refused call exits 1 with one line on stderr.
``events --follow`` polls the outbox with its cursor until interrupted (Ctrl-C exits 0).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from datetime import datetime

import click
from rich.table import Table

from creditcore.cli.common import (
    ISO,
    admin,
    console,
    idempotency_key,
    jsonable,
    metadata_pairs,
    print_json,
    show_result,
    sqlite_ledger,
)
from creditcore.model import Alert, EventPage, LedgerEvent, Schedule, TopUp
from creditcore.values import DEFAULT_UNIT

_AT = "Date the change (default: now)."
_AS_OF = "As it stood at this time (default: now)."


def _time(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _amounts(amounts: Iterable[object]) -> str:
    return ", ".join(str(amount) for amount in amounts)


# -- schedules -----------------------------------------------------------------------------------


def _schedule_table(schedules: Iterable[Schedule]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "schedule", "customer", "status", "amount", "first", "every", "unit", "rollover max", "rollover min",
        "period", "period ends (UTC)", "next (UTC)", "until (UTC)", "blocks",
    ):  # fmt: skip
        right = name in ("amount", "first", "rollover max", "rollover min", "period")
        table.add_column(name, justify="right" if right else "left", no_wrap=name in ("schedule", "blocks"))
    for s in schedules:
        table.add_row(
            s.id, s.customer, s.status, str(s.amount), str(s.first_amount), s.every, s.unit, str(s.rollover_max),
            str(s.rollover_min), "" if s.period is None else str(s.period), _time(s.period_end), _time(s.next_at),
            _time(s.until) or "never", ", ".join(s.block_ids),
        )  # fmt: skip
    return table


@click.group()
def schedule() -> None:
    """Recurring grants with rollover: add, list, get, cancel.

    \b
    Example:
      creditcore schedule add ada 1000 --every "1 month" --rollover-max 500 --schedule-id ada-plan
    """


@schedule.command("add")
@click.argument("customer")
@click.argument("amount")
@click.option("--every", required=True, help='The period: "N minutes|hours|days|weeks|months|years", e.g. "1 month".')
@click.option("--anchor", type=ISO, help="Fixes the period boundaries (default: --start, else --at).")
@click.option("--start", type=ISO, help="When the first period begins (default: the later of --anchor and --at).")
@click.option("--until", type=ISO, help="No period starts at or after this time (default: never).")
@click.option("--first-amount", help="What the first period grants (default: AMOUNT).")
@click.option("--rollover-max", default="0", show_default=True, help="Carry at most this much into the next period.")
@click.option("--rollover-min", default="0", show_default=True, help="Top each period's credit up to at least this.")
@click.option("--timezone", help="An IANA zone for the boundaries (default: the customer's, else UTC).")
@click.option("--unit", default=DEFAULT_UNIT, show_default=True)
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--category", type=click.Choice(["promotional", "paid"]), default="promotional", show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Only burns of this scope may use it (repeatable).")
@click.option("--single-use", is_flag=True, help="The first burn or capture voids the rest of a period's block.")
@click.option("--cost-basis", help="The price paid per credit, e.g. 0.01.")
@click.option(
    "--settle-debt/--no-settle-debt", default=None, help="Whether each grant pays debt off (default: the ledger's)."
)
@click.option("--description")
@click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable), copied onto each block.")
@click.option("--schedule-id", help="Your id for the schedule (default: sch_...); repeating it replays.")
@idempotency_key
@click.option("--at", type=ISO, help=_AT)
@admin
def add_schedule(
    customer: str, amount: str, every: str, anchor: datetime | None, start: datetime | None, until: datetime | None,
    first_amount: str | None, rollover_max: str, rollover_min: str, timezone: str | None, unit: str, priority: int,
    category: str, scopes: tuple[str, ...], single_use: bool, cost_basis: str | None, settle_debt: bool | None,
    description: str | None, metadata: tuple[str, ...], schedule_id: str | None, idempotency_key: str | None,
    at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Grant AMOUNT to CUSTOMER at the start of every period, each period's credit expiring at
    its end (less what rolls over).

    \b
    Example:
      creditcore schedule add ada 1000 --every "1 month" --rollover-max 500 --schedule-id ada-plan
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.schedule_grant(
            customer, amount, every=every, anchor=anchor, start=start, until=until, first_amount=first_amount,
            rollover_max=rollover_max, rollover_min=rollover_min, timezone=timezone, unit=unit, priority=priority,
            category=category, scope=scopes or None, single_use=single_use, cost_basis=cost_basis,
            settle_debt=settle_debt, description=description, metadata=metadata_pairs(metadata) or None,
            schedule_id=schedule_id, idempotency_key=idempotency_key, at=at,
        )  # fmt: skip
        s = r.schedule
        show_result(r, f"scheduled {s.amount} {s.unit} every {s.every} for {s.customer} as {s.id}", as_json)
        if not as_json:
            console().print(_schedule_table([s]))


@schedule.command("list")
@click.argument("customer")
@click.option("--at", type=ISO, help=_AS_OF)
@admin
def list_schedules(customer: str, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's schedules (ended ones too), in creation order.

    \b
    Example:
      creditcore schedule list ada --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.schedules(customer, at=at)
        if as_json:
            print_json(found)
        elif not found:
            console().print(f"{customer} has no schedules")
        else:
            console().print(_schedule_table(found))


@schedule.command("get")
@click.argument("schedule_id")
@click.option("--at", type=ISO, help=_AS_OF)
@admin
def get_schedule(schedule_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """One schedule: its status, running period and next grant.

    \b
    Example:
      creditcore schedule get ada-plan --at 2027-03-01
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.get_schedule(schedule_id, at=at)
        if as_json:
            print_json(found)
        else:
            console().print(_schedule_table([found]))


@schedule.command("cancel")
@click.argument("schedule_id")
@click.option("--at", type=ISO, help=_AT)
@admin
def cancel_schedule(schedule_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Start no more periods; the running one keeps its credit to its end.

    \b
    Example:
      creditcore schedule cancel ada-plan
    """
    with sqlite_ledger(db) as ledger:
        r = ledger.cancel_schedule(schedule_id, at=at)
        s = r.schedule
        ends = f"; its credit lasts until {s.period_end:%Y-%m-%d %H:%M} UTC" if s.period_end else ""
        show_result(r, f"schedule {s.id} is {s.status}{ends}", as_json)
        if not as_json:
            console().print(_schedule_table([s]))


# -- auto top-up ---------------------------------------------------------------------------------


def _top_up_table(rule: TopUp) -> Table:
    table = Table(title_justify="left")
    for name in (
        "customer", "unit", "threshold", "amount", "target", "category", "priority", "expires after", "cost basis",
        "created (UTC)", "updated (UTC)",
    ):  # fmt: skip
        table.add_column(name, justify="right" if name in ("threshold", "amount", "target") else "left")
    table.add_row(
        rule.customer, rule.unit, str(rule.threshold), "" if rule.amount is None else str(rule.amount),
        "" if rule.target is None else str(rule.target), rule.category, str(rule.priority),
        rule.expires_after or "never", "" if rule.cost_basis is None else str(rule.cost_basis),
        _time(rule.created_at), _time(rule.updated_at),
    )  # fmt: skip
    return table


@click.group("top-up")
def top_up() -> None:
    """Automatic top-ups when a balance runs low: set, get, remove.

    \b
    Example:
      creditcore top-up set ada --unit credits --threshold 10 --amount 50
    """


@top_up.command("set")
@click.argument("customer")
@click.option("--unit", required=True)
@click.option("--threshold", required=True, help="Top up when net (available less debt) falls to this or below.")
@click.option("--amount", help="Grant this much, as many times as lifts net above the threshold.")
@click.option("--target", help="Instead of --amount: grant what brings net up to this.")
@click.option("--category", type=click.Choice(["promotional", "paid"]), default="paid", show_default=True)
@click.option("--priority", type=int, default=50, show_default=True, help="Lower burns first (0-1000).")
@click.option("--expires-after", help='How long each top-up lasts, e.g. "30 days" (default: no expiry).')
@click.option("--cost-basis", help="The price paid per credit, e.g. 0.01.")
@click.option("--at", type=ISO, help=_AT)
@admin
def set_top_up(
    customer: str, unit: str, threshold: str, amount: str | None, target: str | None, category: str, priority: int,
    expires_after: str | None, cost_basis: str | None, at: datetime | None, db: str, as_json: bool,
) -> None:  # fmt: skip
    """Set CUSTOMER's top-up rule for --unit (it replaces the one in force); give --amount or
    --target.

    \b
    Example:
      creditcore top-up set ada --unit credits --threshold 100 --amount 500 --expires-after "365 days"
    """
    with sqlite_ledger(db) as ledger:
        rule = ledger.set_top_up(
            customer, unit=unit, threshold=threshold, amount=amount, target=target, category=category,
            priority=priority, expires_after=expires_after, cost_basis=cost_basis, at=at,
        )  # fmt: skip
        if as_json:
            print_json(rule)
        else:
            console().print(_top_up_table(rule))


@top_up.command("get")
@click.argument("customer")
@click.option("--unit", required=True)
@click.option("--at", type=ISO, help=_AS_OF)
@admin
def get_top_up(customer: str, unit: str, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's top-up rule for --unit (exit 1 if there is none).

    \b
    Example:
      creditcore top-up get ada --unit credits --json
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        rule = ledger.get_top_up(customer, unit=unit, at=at)
        if as_json:
            print_json(rule)
        else:
            console().print(_top_up_table(rule))


@top_up.command("remove")
@click.argument("customer")
@click.option("--unit", required=True)
@click.option("--at", type=ISO, help=_AT)
@admin
def remove_top_up(customer: str, unit: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Remove CUSTOMER's top-up rule for --unit; without one, nothing changes (JSON: null).

    \b
    Example:
      creditcore top-up remove ada --unit credits
    """
    with sqlite_ledger(db) as ledger:
        removed = ledger.remove_top_up(customer, unit=unit, at=at)
        if as_json:
            print_json(removed)
        elif removed is None:
            console().print(f"{customer} has no top-up rule in {unit}: nothing to remove")
        else:
            out = console()
            out.print(f"removed {customer}'s top-up rule in {unit}")
            out.print(_top_up_table(removed))


# -- balance alerts ------------------------------------------------------------------------------


def _alert_table(alerts: Iterable[Alert]) -> Table:
    table = Table(title_justify="left")
    for name in ("alert", "customer", "unit", "kind", "thresholds", "created (UTC)", "removed (UTC)"):
        table.add_column(name, no_wrap=name == "alert")
    for a in alerts:
        table.add_row(
            a.id, a.customer, a.unit, a.kind, _amounts(a.thresholds), _time(a.created_at), _time(a.removed_at)
        )
    return table


@click.group()
def alert() -> None:
    """Balance alerts, written as events to the outbox: add, list, remove.

    \b
    Example:
      creditcore alert add ada --unit credits --kind depleted
    """


@alert.command("add")
@click.argument("customer")
@click.option("--unit", required=True)
@click.option("--kind", required=True, type=click.Choice(["depleted", "dropped", "recovered"]))
@click.option(
    "--threshold", "thresholds", multiple=True, help="With --kind dropped: a net balance to watch (repeatable, 1-20)."
)
@click.option("--alert-id", help="Your id for the alert (default: alr_...); repeating it replays.")
@click.option("--at", type=ISO, help=_AT)
@admin
def add_alert(
    customer: str, unit: str, kind: str, thresholds: tuple[str, ...], alert_id: str | None, at: datetime | None,
    db: str, as_json: bool,
) -> None:  # fmt: skip
    """Watch CUSTOMER's net balance in --unit: depleted (falls to 0 or below), recovered (rises
    above 0) or dropped (falls through a --threshold).

    \b
    Example:
      creditcore alert add ada --unit credits --kind dropped --threshold 100 --threshold 10
    """
    with sqlite_ledger(db) as ledger:
        added = ledger.add_alert(customer, unit=unit, kind=kind, thresholds=thresholds, alert_id=alert_id, at=at)
        if as_json:
            print_json(added)
        else:
            console().print(_alert_table([added]))


@alert.command("list")
@click.argument("customer")
@click.option("--at", type=ISO, help=_AS_OF)
@admin
def list_alerts(customer: str, at: datetime | None, db: str, as_json: bool) -> None:
    """CUSTOMER's active alerts, in creation order.

    \b
    Example:
      creditcore alert list ada
    """
    with sqlite_ledger(db, read_only=True) as ledger:
        found = ledger.alerts(customer, at=at)
        if as_json:
            print_json(found)
        elif not found:
            console().print(f"{customer} has no active alerts")
        else:
            console().print(_alert_table(found))


@alert.command("remove")
@click.argument("alert_id")
@click.option("--at", type=ISO, help=_AT)
@admin
def remove_alert(alert_id: str, at: datetime | None, db: str, as_json: bool) -> None:
    """Stop an alert (again: unchanged).

    \b
    Example:
      creditcore alert remove alr_01a2304b83657646aa05a3478176146b
    """
    with sqlite_ledger(db) as ledger:
        removed = ledger.remove_alert(alert_id, at=at)
        if as_json:
            print_json(removed)
        else:
            console().print(_alert_table([removed]))


# -- the event outbox ----------------------------------------------------------------------------


def _event_table(events: Iterable[LedgerEvent]) -> Table:
    table = Table(title_justify="left")
    for name in (
        "seq", "at (UTC)", "kind", "customer", "unit", "previous", "current", "amount", "thresholds", "op", "event",
    ):  # fmt: skip
        right = name in ("seq", "previous", "current", "amount")
        table.add_column(name, justify="right" if right else "left", no_wrap=name in ("at (UTC)", "op", "event"))
    for e in events:
        table.add_row(
            str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.kind, e.customer, e.unit, str(e.previous), str(e.current),
            "" if e.amount is None else str(e.amount), _amounts(e.thresholds), e.op_id, e.id,
        )  # fmt: skip
    return table


def _show_page(page: EventPage, *, as_json: bool, streaming: bool) -> None:
    """A page as JSON (one line each while following, so a stream is JSON lines), or as a
    table and the cursor to poll with next."""
    if as_json:
        if streaming:
            click.echo(json.dumps(jsonable(page)))
        else:
            print_json(page)
        return
    out = console()
    if page.items:
        out.print(_event_table(page.items))
    elif not streaming:
        out.print("no events")
    out.print(f"next cursor: {page.next_cursor}")
    sys.stdout.flush()


@click.command()
@click.option("--customer", help="Only this customer's events.")
@click.option("--after", help="The cursor a previous run printed: only the events after it.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--follow", is_flag=True, help="Keep polling for new events, printing them, until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.01), help="With --follow: seconds between polls [default: 1].")
@admin
def events(
    customer: str | None, after: str | None, limit: int, follow: bool, interval: float | None, db: str, as_json: bool
) -> None:
    """The event outbox (top-ups and balance alerts), oldest first, and the cursor to store and
    poll with. With --follow and --json, each new page is one JSON line.

    \b
    Example:
      creditcore events --customer ada --after "$(cat cursor)"
      creditcore events --follow --json --interval 5
    """
    if interval is not None and not follow:
        raise click.UsageError("--interval goes with --follow")
    with sqlite_ledger(db, read_only=True) as ledger:
        if not follow:
            _show_page(ledger.events(customer=customer, after=after, limit=limit), as_json=as_json, streaming=False)
            return
        cursor = after
        try:
            while True:
                page = ledger.events(customer=customer, after=cursor, limit=limit)
                if page.items:
                    _show_page(page, as_json=as_json, streaming=True)
                cursor = page.next_cursor
                if len(page.items) < limit:  # caught up: wait (a full page may have more behind it)
                    time.sleep(1.0 if interval is None else interval)
        except KeyboardInterrupt:  # Ctrl-C is how one stops following, not a failure
            return

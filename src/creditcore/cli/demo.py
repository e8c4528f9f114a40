"""``creditcore demo``: the everyday flows on an in-memory ledger, printed as they happen, then
a short billing story (meter, events, price, preview, issue, pay) on a ledger of its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import click

from creditcore.billing import Billing, MeterEvent, Tier
from creditcore.ledger import Ledger
from creditcore.model import Balance, Entry


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


@click.command()
def demo() -> None:
    """Walk through the everyday flows on an in-memory ledger and print what they wrote, then
    bill a month of metered usage (a story to read: no --json, no --db).

    \b
    Example:
      creditcore demo
    """
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

    _billing_story(start)


def _billing_story(start: datetime) -> None:
    """A month of API calls billed: meter, events, price, preview, issue, pay."""
    now = [start]
    billing = Billing(Ledger.memory(clock=lambda: now[0], units={"usd": 2}), invoice_prefix="DEMO-")
    echo = click.echo
    echo("")
    echo(
        click.style(
            f"[{now[0]:%Y-%m-%d %H:%M}] 5. Billing: meter -> events -> price -> preview -> issue -> pay", bold=True
        )
    )
    billing.meters.create("API calls", "api_call", meter_id="calls")
    recorded = billing.meters.record(
        [MeterEvent("calls", "dora", n, event_id=f"req-{i}") for i, n in enumerate((400, 700, 500), 1)]
    )
    again = billing.meters.record([MeterEvent("calls", "dora", 400, event_id="req-1")])
    echo(f"  meter 'calls' recorded {recorded.created} events for dora; req-1 sent again: {again.results[0].status}")
    billing.prices.create("calls", model="graduated", unit="usd", tiers=[Tier(1000, 0), Tier(None, "0.002")])
    echo("  price: the first 1000 calls a month free, then 0.002 usd a call (graduated)")
    billing.ledger.grant("dora", "0.50", unit="usd", description="welcome credit")
    echo("  dora has a 0.50 usd credit")
    now[0] = datetime(2026, 2, 1, 0, 5, tzinfo=UTC)
    january, february = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    preview = billing.invoices.preview("dora", start=january, end=february)
    [line] = preview.lines
    echo(
        f"  preview of January: {line.quantity} calls cost {preview.subtotal} usd, credit {preview.credit_applied}, "
        f"due {preview.amount_due} (nothing written: available {billing.ledger.balance('dora', unit='usd').available})"
    )
    draft = billing.invoices.create("dora", start=january, end=february, invoice_id="dora-2026-01")
    issued = billing.invoices.issue(draft.id).invoice
    echo(
        f"  issued {issued.id} as {issued.number}: total {issued.total}, credit applied {issued.credit_applied}, "
        f"amount due {issued.amount_due} usd ({issued.status})"
    )
    paid = billing.invoices.pay(issued.id, reference="card-4242")
    echo(f"  paid with reference {paid.payment_reference}: {paid.number} is {paid.status}")
    echo(f"  verify(): {billing.ledger.verify()}")

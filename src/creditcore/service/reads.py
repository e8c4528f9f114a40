"""The reads: balances, blocks, holds, previews, entries and their cursor, timelines, and
``verify()``. A read inside the caller's batch sees the batch; any other sees the last
committed state."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from creditcore import rules
from creditcore.errors import CreditError, NotFound, ValidationError
from creditcore.model import Balance, BalancePoint, Block, BurnPreview, Entry, EntryPage, Hold, VerifyReport
from creditcore.repository import EntryQuery, OperationRecord, PastHistory, Reader, iterate_entries
from creditcore.service import lookup
from creditcore.service.context import Context
from creditcore.state import ENTRY_KINDS, HOLD_STATUSES, AccountState, EntryState
from creditcore.values import (
    DEFAULT_UNIT,
    parse_amount,
    parse_bool,
    parse_categories,
    parse_choice,
    parse_id,
    parse_limit,
    parse_optional_id,
    parse_optional_time,
    parse_scope,
    to_decimal,
)

_CURSOR_PREFIX = "creditcore:"


def state_at(
    ctx: Context, reader: Reader, customer: str, at: datetime | None, *, every_block: bool = False
) -> tuple[AccountState, datetime]:
    """The customer's state as it was, is or will be at ``at``.

    A past state is replayed from the nearest snapshot when the repository keeps them; it
    then holds the blocks that had credit left at the snapshot or that entries since then
    touched. ``every_block`` replays the whole history instead, for a read that lists
    used-up blocks too. Either way it has the settings in force then (schedules, top-up rules,
    alerts).
    """
    state = reader.load_account(customer)
    when = ctx.read_time(at, state)
    if state.last_at is not None and when < state.last_at:
        settings = settings_history(reader, customer)
        past_history = getattr(reader, "past_history", None)
        if past_history is not None and not every_block:
            past: PastHistory = past_history(customer, when)
            state = rules.rebuild(
                customer, past.blocks, past.holds, past.entries, until=when, start=past.start, settings=settings
            )
        else:
            blocks, holds, entries = reader.history(customer)
            state = rules.rebuild(customer, blocks, holds, entries, until=when, settings=settings)
    return rules.view(state, when), when


def settings_history(reader: Reader, customer: str) -> rules.SettingsHistory:
    """Every schedule, top-up rule version and alert the customer ever had, as stored."""
    return rules.SettingsHistory(
        schedules=tuple(reader.schedules(customer)),
        top_ups=tuple(reader.top_ups(customer)),
        alerts=tuple(reader.alerts(customer)),
    )


def _audit_results(
    ctx: Context, reader: Reader, records: list[OperationRecord], entries: list[EntryState]
) -> list[rules.Problem]:
    """A customer's remembered results (what a replay returns) against its stored entries:
    each figure is the sum of its op's entries of one kind, and the block a grant made is
    one its entries name."""
    problems: list[rules.Problem] = []
    by_op: dict[str, list[EntryState]] = {}
    for entry in entries:
        by_op.setdefault(entry.op_id, []).append(entry)
    for record in records:
        subject = f"result of {record.kind} {record.key!r}"
        stored = by_op.get(record.op_id, [])
        try:
            scale = ctx.scale(stored[0].unit, reader) if stored else 0
        except CreditError as error:
            problems.append(_unreadable(record.customer, subject, error))
            continue
        for name, kind in _RESULT_SUMS.get(record.kind, ()):
            total = to_decimal(sum(e.amount for e in stored if e.kind == kind), scale)
            figure = record.outcome.get(name)
            if not _same_amount(figure, total):
                problems.append(
                    rules.Problem(
                        customer=record.customer,
                        subject=subject,
                        field=name,
                        stored=str(figure),
                        recomputed=str(total),
                        text=f"customer {record.customer!r}, {subject}: {name} is {figure} in the remembered "
                        f"result but {total} in the stored entries of op {record.op_id} (a replay would return it)",
                    )
                )
        made = record.outcome.get("block_id") if record.kind in ("grant", "refund") else None
        if made is not None and not any(e.block_id == made for e in stored):
            problems.append(
                rules.Problem(
                    customer=record.customer,
                    subject=subject,
                    field="block_id",
                    stored=str(made),
                    recomputed="-",
                    text=f"customer {record.customer!r}, {subject}: the remembered block {made} has no entry of "
                    f"op {record.op_id}",
                )
            )
    return problems


def units(ctx: Context) -> dict[str, int]:
    with ctx.reader() as reader:
        return {DEFAULT_UNIT: 0, **reader.units()}


def balance(
    ctx: Context,
    customer: str,
    *,
    unit: str = DEFAULT_UNIT,
    at: datetime | None = None,
    scope: str | Iterable[str] | None = None,
) -> Balance:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    scopes = parse_scope(scope)
    with ctx.reader() as reader:
        state, when = state_at(ctx, reader, customer, at)
    return Balance.from_tally(rules.tally(state, unit, when, scopes), unit, scale, when)


def balances(ctx: Context, customer: str, *, at: datetime | None = None) -> dict[str, Balance]:
    customer = parse_id(customer, "customer")
    with ctx.reader() as reader:
        state, when = state_at(ctx, reader, customer, at)
        return {
            unit: Balance.from_tally(rules.tally(state, unit, when), unit, ctx.scale(unit, reader), when)
            for unit in sorted(state.totals)
        }


def blocks(
    ctx: Context, customer: str, *, unit: str = DEFAULT_UNIT, at: datetime | None = None, include_inactive: bool = False
) -> list[Block]:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    include_inactive = parse_bool(include_inactive, "include_inactive")
    with ctx.reader() as reader:
        current = reader.load_account(customer)
        state, when = state_at(ctx, reader, customer, at, every_block=include_inactive)
        found = dict(state.blocks)
        if include_inactive and (current.last_at is None or when >= current.last_at):
            # blocks with no credit left are not part of a loaded state: add their stored
            # form, which is final (a past state is rebuilt with every block it had)
            for block in reader.blocks(customer):
                found.setdefault(block.id, block)
    chosen = [
        b for b in found.values()
        if b.unit == unit and (include_inactive or b.status(when) == "active")
    ]  # fmt: skip
    return [Block.from_state(b, scale, when) for b in ctx.order.sort(chosen)]


def get_block(ctx: Context, block_id: str, *, at: datetime | None = None) -> Block:
    block_id = parse_id(block_id, "block_id")
    with ctx.reader() as reader:
        stored = reader.find_block(block_id)
        if stored is None:
            return _due_block(ctx, reader, block_id, at)
        state, when = state_at(ctx, reader, stored.customer, at)
        if block_id not in state.blocks:
            # used up before a snapshot: only the whole history says how it stood then
            state, when = state_at(ctx, reader, stored.customer, at, every_block=True)
        scale = ctx.scale(stored.unit, reader)
    block = state.blocks.get(block_id)
    if block is None:
        if stored.created_at > when:
            raise NotFound(
                f"block {block_id!r} was granted at {stored.created_at.isoformat()}, after {when.isoformat()}"
            )
        block = stored
    return Block.from_state(block, scale, when)


def _due_block(ctx: Context, reader: Reader, block_id: str, at: datetime | None) -> Block:
    """A block a due event makes (a schedule's period, its carry, a top-up) that no write
    has recorded yet: reads count it all the same, as every due event. Its id names its customer."""
    customer = lookup.due_block_customer(reader, block_id)
    if customer is not None:
        state, when = state_at(ctx, reader, customer, at)
        block = state.blocks.get(block_id)
        if block is not None:
            return Block.from_state(block, ctx.scale(block.unit, reader), when)
    raise NotFound(f"no block {block_id!r}")


def get_hold(ctx: Context, hold_id: str, *, at: datetime | None = None) -> Hold:
    hold_id = parse_id(hold_id, "hold_id")
    with ctx.reader() as reader:
        stored = lookup.find_hold(reader, hold_id)
        state, when = state_at(ctx, reader, stored.customer, at)
        scale = ctx.scale(stored.unit, reader)
    if stored.created_at > when:
        raise NotFound(f"hold {hold_id!r} was placed at {stored.created_at.isoformat()}, after {when.isoformat()}")
    return Hold.from_state(state.holds.get(hold_id, stored), scale, when)


def holds(ctx: Context, customer: str, *, status: str | None = "active", at: datetime | None = None) -> list[Hold]:
    customer = parse_id(customer, "customer")
    if status is not None:
        status = parse_choice(status, "status", HOLD_STATUSES)
    with ctx.reader() as reader:
        state, when = state_at(ctx, reader, customer, at)
        stored = reader.holds(customer)
        found = [state.holds.get(h.id, h) for h in stored if h.created_at <= when]
        views = [Hold.from_state(h, ctx.scale(h.unit, reader), when) for h in found]
    return [h for h in views if status is None or h.status == status]


def preview_burn(
    ctx: Context,
    customer: str,
    amount: int | Decimal | str,
    *,
    unit: str = DEFAULT_UNIT,
    scope: str | Iterable[str] | None = None,
    categories: str | Iterable[str] | None = None,
    at: datetime | None = None,
) -> BurnPreview:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    minor = parse_amount(amount, scale)
    scopes = parse_scope(scope)
    chosen = parse_categories(categories)
    with ctx.reader() as reader:
        state, when = state_at(ctx, reader, customer, at)
    allocations, shortfall = rules.preview_burn(state, unit, minor, when, scopes, ctx.order, chosen)
    return BurnPreview(
        allocations=rules.decimal_allocations(allocations, scale), shortfall=to_decimal(shortfall, scale)
    )


def timeline(
    ctx: Context,
    customer: str,
    *,
    unit: str = DEFAULT_UNIT,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[BalancePoint]:
    customer = parse_id(customer, "customer")
    unit, scale = ctx.unit(unit)
    start = parse_optional_time(since, "since")
    end = parse_optional_time(until, "until")
    with ctx.reader() as reader:
        state = reader.load_account(customer)
        blocks, _holds, entries = reader.history(customer)
    horizon = end if end is not None else ctx.read_time(None, state)
    if state.last_at is None or horizon >= state.last_at:
        # what fell due but is not recorded yet counts as if it were
        _, due = rules.advance(state, horizon)
        last = max((e.seq for e in entries), default=0)
        entries = [*entries, *(attrs.evolve(e, seq=last + i) for i, e in enumerate(due, start=1))]
        stored = {b.id for b in blocks}
        blocks = [*blocks, *(b for b in state.blocks.values() if b.id not in stored)]
    points = []
    for when, figures in rules.timeline(customer, blocks, entries, unit, horizon):
        if (start is not None and when < start) or (end is not None and when >= end):
            continue
        points.append(
            BalancePoint(
                at=when,
                available=to_decimal(figures.available, scale),
                held=to_decimal(figures.held, scale),
                used=to_decimal(figures.used, scale),
                expired=to_decimal(figures.expired, scale),
                debt=to_decimal(figures.debt, scale),
            )
        )
    return points


def verify(ctx: Context) -> VerifyReport:
    problems: list[rules.Problem] = []
    count = 0
    with ctx.reader() as reader:
        # a customer whose account row is gone still has entries
        customers = list(reader.customers())
        listed = set(customers)
        for entry in iterate_entries(reader, EntryQuery(limit=1000)):
            if entry.customer not in listed:
                listed.add(entry.customer)
                customers.append(entry.customer)
        records: dict[str, list[OperationRecord]] = {}
        try:
            for record in reader.operations():
                records.setdefault(record.customer, []).append(record)
        except CreditError as error:
            problems.append(_unreadable("*", "stored operation results", error))
        for customer in customers:
            try:
                blocks, holds, entries = reader.history(customer)
                count += len(entries)
                problems.extend(
                    rules.audit(
                        reader.load_account(customer), blocks, holds, entries, settings_history(reader, customer)
                    )
                )
            except CreditError as error:
                problems.append(_unreadable(customer, "stored rows", error))
                continue
            problems.extend(_audit_results(ctx, reader, records.pop(customer, []), entries))
        for orphans in records.values():  # results of customers with no entries at all
            problems.extend(_audit_results(ctx, reader, orphans, []))
    return VerifyReport(customers=len(customers), entries=count, problems=problems)


def entries(
    ctx: Context,
    customer: str | None = None,
    *,
    unit: str | None = None,
    kinds: Iterable[str] | None = None,
    block_id: str | None = None,
    op_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> EntryPage:
    query = EntryQuery(
        customer=parse_optional_id(customer, "customer"),
        unit=parse_optional_id(unit, "unit"),
        kinds=_parse_kinds(kinds),
        block_id=parse_optional_id(block_id, "block_id"),
        op_id=parse_optional_id(op_id, "op_id"),
        since=parse_optional_time(since, "since"),
        until=parse_optional_time(until, "until"),
        limit=parse_limit(limit) + 1,
    )
    after_seq, after_txid = decode_cursor(_CURSOR_PREFIX, after, "entries()")
    query = attrs.evolve(query, after_seq=after_seq, after_txid=after_txid)
    with ctx.reader() as reader:
        found = reader.list_entries(query)
        items = [Entry.from_state(e, ctx.scale(e.unit, reader)) for e in found[: query.limit - 1]]
    more = len(found) == query.limit
    last = found[len(items) - 1] if more and items else None
    return EntryPage(
        items=items, next_cursor=None if last is None else encode_cursor(_CURSOR_PREFIX, last.seq, last.txid)
    )


#: A result's figures that are the sum of its op's entries of one kind (how each write
#: builds them), checked by verify().
_RESULT_SUMS: dict[str, tuple[tuple[str, str], ...]] = {
    "burn": (("burned", "burn"), ("debt", "debt")),
    "capture": (("captured", "capture"),),
    "void": (("voided", "void"),),
    "reverse": (("reversed", "reverse"),),
    "refund": (("refunded", "refund"),),
}


def _same_amount(figure: str | None, total: Decimal) -> bool:
    try:
        return figure is not None and Decimal(figure) == total
    except (ArithmeticError, ValueError, TypeError):
        return False


def _unreadable(customer: str, subject: str, error: CreditError) -> rules.Problem:
    return rules.Problem(
        customer=customer,
        subject=subject,
        field="rows",
        stored="unreadable",
        recomputed="-",
        text=f"customer {customer!r}, {subject}: cannot be read ({error})",
    )


def _parse_kinds(kinds: object) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    if not isinstance(kinds, Iterable):
        raise ValidationError("kinds", f"expected a collection of entry kinds, got {type(kinds).__name__}")
    names = list(kinds)
    if not all(isinstance(k, str) for k in names):
        raise ValidationError("kinds", "every kind must be a str such as 'burn'")
    chosen = frozenset(names)
    unknown = sorted(k for k in chosen if k not in ENTRY_KINDS)
    if unknown:
        raise ValidationError(
            "kinds", f"unknown kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(ENTRY_KINDS)}"
        )
    return chosen


_LAST_SEQ = 2**63 - 1


def encode_cursor(prefix: str, seq: int, txid: int | None) -> str:
    """A page's end as an opaque string: the last item's seq, and the id of the transaction
    that wrote it where the store orders a feed by transaction (entries, events)."""
    position = str(seq) if txid is None else f"{seq}.{txid}"
    return base64.urlsafe_b64encode(f"{prefix}{position}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str | None, source: str) -> tuple[int, int | None]:
    """The position an :func:`encode_cursor` cursor holds; a string ``source`` (``"entries()"``)
    did not return is refused."""
    if cursor is None:
        return 0, None
    if not isinstance(cursor, str):
        raise ValidationError("after", f"expected a cursor string from next_cursor, got {type(cursor).__name__}")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(prefix):
            raise ValueError(text)
        digits, dot, transaction = text[len(prefix) :].partition(".")
        if not digits.isdigit() or len(digits) > 40:
            raise ValueError(text)
        if dot and (not transaction.isdigit() or len(transaction) > 20):
            raise ValueError(text)
        # past any seq a ledger can hand out: nothing comes after it
        seq = min(int(digits), _LAST_SEQ)
        txid = min(int(transaction), 2**64 - 1) if dot else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("after", f"{cursor!r} is not a cursor returned by {source}") from None
    return seq, txid

"""History: an account rebuilt from its stored entries, checked against storage, and drawn
as a timeline.

Entries are replayed with the same functions the rules use (:mod:`creditcore.core.effects`),
so a rebuilt account equals the stored one when the ledger is sound; :func:`audit` lists where
it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import attrs

from creditcore.core import due, recurring
from creditcore.core.effects import BLOCK_EFFECT, Work, inconsistent_history
from creditcore.core.rules import count, tally, view
from creditcore.core.settings import AlertState, ScheduleState, TopUpState
from creditcore.core.state import (
    ENTRY_KINDS,
    AccountState,
    BlockState,
    EntryState,
    HoldState,
    Problem,
    Tally,
    UnitTotals,
)
from creditcore.errors import StorageError
from creditcore.values import parse_time


def _replay(
    customer: str,
    blocks: Iterable[BlockState],
    entries: Iterable[EntryState],
    until: datetime | None,
    on_entry: Callable[[EntryState, Work], None] | None = None,
    *,
    before: Callable[[EntryState, Work], None] | None = None,
    start: AccountState | None = None,
    damaged: Callable[[EntryState, str, str], None] | None = None,
) -> Work:
    """Apply entries in ``seq`` order, with the functions the rules use, to ``start`` (or to
    nothing); a block that is not in the work yet starts blank.

    An entry that cannot be applied (stored rows altered: it belongs to another customer,
    names a block that is not one of the customer's, ...) goes to ``damaged(entry, field,
    what)`` and is skipped; without ``damaged`` it raises :class:`StorageError`."""
    known = {block.id: block for block in blocks}
    work = Work(start if start is not None else AccountState(customer=customer))
    for entry in sorted(entries, key=lambda e: e.seq):
        if until is not None and entry.at > until:
            continue
        fault = _entry_fault(entry, customer, known, work)
        if fault is not None:
            if damaged is None:
                raise inconsistent_history(customer, f"entry #{entry.seq} {fault[1]}")
            damaged(entry, *fault)
            continue
        if before is not None:
            before(entry, work)
        if work.last_at is None or entry.at > work.last_at:
            work.last_at = entry.at
        block = None
        if entry.block_id is not None:
            block = work.blocks.get(entry.block_id)
            if block is None:
                block = attrs.evolve(
                    known[entry.block_id],
                    remaining=0,
                    held=0,
                    void_closed=False,
                    emptied_by=None,
                    first_used_at=None,
                    used=0,
                )
            if entry.kind == "reverse" and entry.of_debt:
                work.unsettle(entry.unit, block.id, entry.amount)
        work.apply(entry.kind, entry.unit, entry.amount, block, entry.at)
        if on_entry is not None:
            on_entry(entry, work)
    return work


# kinds of entry that always name a block ("reverse" may: credit back to a block, or debt
# cancelled) and the one that never does
_NEEDS_BLOCK = frozenset(BLOCK_EFFECT) - {"reverse"}
_NO_BLOCK = frozenset({"debt"})
_KINDS = frozenset(ENTRY_KINDS)


def _entry_fault(
    entry: EntryState, customer: str, known: Mapping[str, BlockState], work: Work
) -> tuple[str, str] | None:
    """Why ``entry`` cannot be applied to ``customer``'s history, as (field, what), or None."""
    if entry.customer != customer:
        return "customer", f"belongs to customer {entry.customer!r}"
    if entry.kind not in _KINDS:
        return "kind", f"has the unknown kind {entry.kind!r}"
    if type(entry.amount) is not int or entry.amount < 0:
        return "amount", f"has the amount {entry.amount!r}"
    block_id = entry.block_id
    if block_id is None:
        if entry.kind in _NEEDS_BLOCK:
            return "block_id", f"is a {entry.kind} entry that names no block"
        return None
    if entry.kind in _NO_BLOCK:
        return "block_id", f"is a {entry.kind} entry that names block {block_id}"
    block = work.blocks.get(block_id) or known.get(block_id)
    if block is None or block.customer != customer:
        return "block_id", f"names block {block_id}, which is not one of customer {customer!r}'s blocks"
    if block.unit != entry.unit:
        return "unit", f"is in {entry.unit!r} but names block {block_id}, which is in {block.unit!r}"
    return None


def rebuild(
    customer: str,
    blocks: Iterable[BlockState],
    holds: Iterable[HoldState],
    entries: Iterable[EntryState],
    until: datetime | None = None,
    *,
    start: AccountState | None = None,
    settings: SettingsHistory | None = None,
) -> AccountState:
    """The account as its entries say it was at ``until`` (default: after the last entry).

    ``settings`` are the customer's schedules, top-up rule versions and alerts as stored:
    the account gets those in force at ``until``, each schedule with the periods recorded by
    then (:func:`~creditcore.core.recurring.progress`), and its last write counts their
    changes up to ``until`` (a change of a setting is a write to the customer).

    ``blocks`` and ``holds`` are their latest stored forms; only their fixed attributes are
    used. Entries are applied in ``seq`` order with the same functions the rules use, so a
    rebuilt state equals the stored one when the ledger is sound.

    ``start`` is a snapshot: the state right after some entry dated at or before ``until``
    (see :class:`creditcore.repository.PastHistory`); ``entries`` are then only those after
    it. The result then holds only the blocks and holds the snapshot held or the entries
    name, but counts the same balance as a replay of the whole history.

    Stored rows that contradict each other (an entry of another customer, or naming a block
    that is not the customer's) raise :class:`StorageError`; :func:`audit` lists them.
    """
    if until is not None:
        until = parse_time(until, "until")
    work = _replay(customer, blocks, entries, until, start=start)
    for found in holds:
        if until is not None and found.created_at > until:
            continue
        if found.settled_at is not None and (until is None or found.settled_at <= until):
            work.holds[found.id] = found
        else:
            work.holds[found.id] = attrs.evolve(found, status="active", captured=0, settled_at=None, settled_by=None)
    numbers = [b.number for b in work.blocks.values()]
    if settings is not None:
        numbers += _restore_settings(work, settings, until)
    due.restore(work, until if until is not None else work.last_at)
    work.next_number = max(numbers, default=0) + 1
    if start is not None:
        # blocks used up before the snapshot are not in the work, but they were numbered
        work.next_number = max(work.next_number, start.next_number)
    due.close(work)
    state = work.freeze()[0]
    object.__setattr__(state, "_settings", None)  # nothing was changed: it was read
    return state


@attrs.frozen(kw_only=True)
class SettingsHistory:
    """A customer's settings as stored, for a replay up to some time: every schedule (its
    latest form), every version of each unit's top-up rule (``(at, unit, rule or None when
    removed)``, oldest first) and every alert (removed ones included)."""

    schedules: tuple[ScheduleState, ...] = ()
    top_ups: tuple[tuple[datetime, str, TopUpState | None], ...] = ()
    alerts: tuple[AlertState, ...] = ()


def _restore_settings(work: Work, settings: SettingsHistory, until: datetime | None) -> list[int]:
    """Put in ``work`` the settings in force at ``until``; the creation numbers they took."""

    def by(when: datetime | None) -> bool:
        return when is not None and (until is None or when <= until)

    changes: list[datetime] = []
    numbers: list[int] = []
    work.schedules.clear()
    work.top_ups.clear()
    work.alerts.clear()
    for unit_at, unit, rule in settings.top_ups:
        if by(unit_at):
            changes.append(unit_at)
            if rule is None:
                work.top_ups.pop(unit, None)
            else:
                work.top_ups[unit] = rule
    for alert in settings.alerts:
        if by(alert.created_at):
            numbers.append(alert.number)
            changes.append(alert.created_at)
            if by(alert.removed_at):
                assert alert.removed_at is not None
                changes.append(alert.removed_at)
            else:
                work.alerts[alert.id] = attrs.evolve(alert, removed_at=None)
    stored = []
    for schedule in settings.schedules:
        if by(schedule.created_at):
            numbers.append(schedule.number)
            changes.append(schedule.created_at)
            if by(schedule.cancelled_at):
                assert schedule.cancelled_at is not None
                changes.append(schedule.cancelled_at)
            else:
                schedule = attrs.evolve(schedule, cancelled_at=None)
            stored.append(schedule)
            # a period start (or the end) that wrote nothing left no entry, but the customer's
            # history reached it: the stored schedule says how far its periods were recorded
            changes += [when for when in recurring.recorded_instants(schedule) if by(when)]
    last = max(changes, default=None)
    if last is not None:
        work.pass_time(last)
    for schedule in stored:
        now = recurring.progress(schedule, work.last_at)
        if not now.ended:
            work.schedules[now.id] = now
    return numbers


def audit(
    stored: AccountState,
    blocks: Iterable[BlockState],
    holds: Iterable[HoldState],
    entries: Iterable[EntryState],
    settings: SettingsHistory | None = None,
) -> list[Problem]:
    """Recompute an account from its entries alone and list where storage disagrees.

    Made for damaged storage: it reports what it finds and never raises. Besides the figures
    (each block's remaining and held, each unit's totals, each entry's ``available_after``),
    it checks what the entries say about the stored rows: entries of another customer or
    naming a block that is not the customer's, each block's amount (its ``grant`` or
    ``move_in`` entry) and its times (nothing drawn outside ``effective_at <= at <
    expires_at``, an expiry dated ``expires_at``, no credit left unexpired after it), each
    hold's amount, allocations, capture and status against its entries, and an account that
    is missing while its entries exist. An expiry moved to a later time that no entry has
    reached yet leaves no trace in the entries and cannot be seen. With ``settings`` (the
    customer's stored schedules, top-up rules and alerts), the account's last write counts
    their changes, and the rules and alerts in force must be the stored ones."""
    customer = stored.customer
    problems: list[Problem] = []
    try:
        _audit(stored, list(blocks), list(holds), list(entries), problems, settings)
    except Exception as error:  # damage of a kind no check foresaw: report it, never raise
        problems.append(
            Problem(
                customer=customer,
                subject="account",
                field="history",
                stored="unreadable",
                recomputed="consistent",
                text=f"customer {customer!r}: the stored history could not be checked to the end "
                f"({type(error).__name__}: {error})",
            )
        )
    return problems


# entries that draw unheld credit from an active block, and those that need a block not yet
# expired (a void or a move may take the credit of an upcoming block)
_DRAWS_ACTIVE = frozenset({"burn", "hold", "settle"})
_BEFORE_EXPIRY = frozenset({"burn", "hold", "settle", "void", "move_out"})


def _audit(
    stored: AccountState,
    blocks: list[BlockState],
    holds: list[HoldState],
    entries: list[EntryState],
    problems: list[Problem],
    settings: SettingsHistory | None = None,
) -> None:
    customer = stored.customer

    def differ(subject: str, field: str, kept: object, computed: object) -> None:
        if kept != computed:
            problems.append(
                Problem(customer=customer, subject=subject, field=field, stored=str(kept), recomputed=str(computed))
            )

    def note(subject: str, field: str, kept: object, computed: object, text: str) -> None:
        problems.append(
            Problem(
                customer=customer,
                subject=subject,
                field=field,
                stored=str(kept),
                recomputed=str(computed),
                text=f"customer {customer!r}, {subject}: {text}",
            )
        )

    if stored.customer != customer or (stored.last_at is None and not stored.totals and entries):
        note(
            "account",
            "stored account",
            "missing",
            f"{len(entries)} entries",
            f"no stored account, but {len(entries)} entries exist (the account row is missing or empty)",
        )

    last_seq = [0]
    origin: dict[str, int] = {}  # block -> amount of its grant or move_in entries
    origins: dict[str, int] = {}  # block -> how many there are
    held_by: dict[str, dict[str, int]] = {}  # hold -> block -> amount of its hold entries
    captured_by: dict[str, int] = {}  # hold -> amount of its capture entries
    ended: set[str] = set()  # holds with capture or release entries

    def damaged(entry: EntryState, field: str, what: str) -> None:
        note(f"entry #{entry.seq}", field, what, f"an entry of customer {customer!r}", f"entry {what}")

    def check_entry(entry: EntryState, work: Work) -> None:
        subject = f"entry #{entry.seq}"
        if entry.seq <= last_seq[0]:
            differ(subject, "seq", f"after #{last_seq[0]}", "strictly increasing")
        last_seq[0] = entry.seq
        differ(subject, "available_after", entry.available_after, work.available(entry.unit, entry.at))
        kind, at = entry.kind, entry.at
        if entry.hold_id is not None:
            if kind == "hold" and entry.block_id is not None:
                pins = held_by.setdefault(entry.hold_id, {})
                pins[entry.block_id] = pins.get(entry.block_id, 0) + entry.amount
            elif kind == "capture":
                captured_by[entry.hold_id] = captured_by.get(entry.hold_id, 0) + entry.amount
                ended.add(entry.hold_id)
            elif kind == "release":
                ended.add(entry.hold_id)
        if entry.block_id is None:
            return
        block = work.blocks[entry.block_id]
        if kind in ("grant", "move_in", "refund"):
            origin[block.id] = origin.get(block.id, 0) + entry.amount
            origins[block.id] = origins.get(block.id, 0) + 1
        expires = block.expires_at
        drawn_early = kind in _DRAWS_ACTIVE and at < block.effective_at
        # a schedule's carry moves a period's credit at the instant its blocks expire
        drawn_late = (
            kind in _BEFORE_EXPIRY
            and expires is not None
            and (at > expires or (at == expires and not (kind == "move_out" and entry.op_id.startswith("carry:"))))
        )
        if drawn_early or drawn_late:
            window = f"the block is usable from {block.effective_at.isoformat()}" + (
                f" until {expires.isoformat()}" if expires is not None else ""
            )
            note(
                f"block {block.id}",
                "effective_at" if drawn_early else "expires_at",
                block.effective_at.isoformat() if drawn_early else f"{expires.isoformat() if expires else None}",
                f"at or before {at.isoformat()}" if drawn_early else f"after {at.isoformat()}",
                f"entry #{entry.seq} ({kind}) takes its credit at {at.isoformat()}, but {window}",
            )
        if kind == "expire":
            natural = entry.op_id == f"expire:{block.id}"
            if expires is None or at < expires or (natural and at != expires):
                note(
                    f"block {block.id}",
                    "expires_at",
                    "never" if expires is None else expires.isoformat(),
                    at.isoformat() if natural else f"at or before {at.isoformat()}",
                    f"entry #{entry.seq} expires its credit at {at.isoformat()}, but the stored block expires "
                    f"{'never' if expires is None else 'at ' + expires.isoformat()}",
                )

    work = _replay(customer, blocks, entries, None, check_entry, damaged=damaged)
    latest = {b.id: b for b in blocks}
    latest.update(stored.blocks)
    for block in latest.values():
        subject = f"block {block.id}"
        if not 0 <= block.held <= block.remaining <= block.amount:
            differ(
                subject,
                "0 <= held <= remaining <= amount",
                f"{block.held}/{block.remaining}/{block.amount}",
                "within bounds",
            )
        computed = work.blocks.get(block.id)
        if computed is None:
            differ(subject, "entries", "a stored block", "no entry for it")
            continue
        differ(subject, "remaining", block.remaining, computed.remaining)
        differ(subject, "held", block.held, computed.held)
        differ(subject, "used", block.used, computed.used)
        differ(subject, "first_used_at", block.first_used_at, computed.first_used_at)
        if origins.get(block.id) != 1:
            differ(subject, "grant or move_in entries", origins.get(block.id, 0), 1)
        else:
            differ(subject, "amount", block.amount, origin[block.id])
        if (
            block.expires_at is not None
            and work.last_at is not None
            and block.expires_at <= work.last_at
            and computed.remaining > computed.held
        ):
            note(
                subject,
                "expires_at",
                block.expires_at.isoformat(),
                f"after {work.last_at.isoformat()}",
                f"it expires at {block.expires_at.isoformat()}, but {computed.remaining - computed.held} of its "
                f"credit was never expired, though entries go on until {work.last_at.isoformat()}",
            )
    pinned: dict[str, int] = {}
    for found in holds:
        subject = f"hold {found.id}"
        allocated = sum(amount for _, amount in found.allocations)
        differ(subject, "amount (the sum of its allocations)", found.amount, allocated)
        differ(subject, "allocations", dict(found.allocations), held_by.get(found.id, {}))
        differ(subject, "captured", found.captured, captured_by.get(found.id, 0))
        if (found.status == "active") == (found.id in ended):
            differ(
                subject,
                "status",
                found.status,
                "ended (it has capture or release entries)" if found.id in ended else "active (nothing ended it)",
            )
        if found.status == "active":
            for block_id, amount in found.allocations:
                pinned[block_id] = pinned.get(block_id, 0) + amount
    for block_id, computed in work.blocks.items():
        differ(f"block {block_id}", "held by active holds", pinned.get(block_id, 0), computed.held)
    for unit in sorted(set(stored.totals) | set(work.totals)):
        kept, computed_totals = stored.unit_totals(unit), work.totals.get(unit) or UnitTotals()
        for name in ("granted", "used", "expired", "voided", "debt"):
            differ(f"unit {unit}", name, getattr(kept, name), getattr(computed_totals, name))
    if stored.last_at is not None:
        try:
            now = view(stored, stored.last_at)
        except StorageError as error:
            note("account", "stored state", "inconsistent", "consistent", str(error))
        else:
            for unit in sorted(stored.totals):
                figures = tally(now, unit, stored.last_at)
                parts = (
                    figures.available
                    + figures.held
                    + figures.used
                    + figures.expired
                    + figures.voided
                    + figures.upcoming
                )
                if figures.granted != parts:
                    problems.append(
                        Problem(
                            customer=customer,
                            subject=f"unit {unit}",
                            field="balance identity",
                            stored=f"granted {figures.granted}",
                            recomputed=f"available + held + used + expired + voided + upcoming = {parts}",
                            text=f"customer {customer!r}, unit {unit}: granted is {figures.granted} but available + "
                            f"held + used + expired + voided + upcoming is {parts}",
                        )
                    )
    if settings is not None:
        _restore_settings(work, settings, None)
        # (not the schedules running: a sweep may record a schedule's end, which writes no
        # entry, past the last entry)
        differ("account", "top-up rules", dict(stored.top_ups), work.top_ups)
        differ("account", "alerts", sorted(stored.alerts), sorted(work.alerts))
    differ("account", "last entry time", stored.last_at, work.last_at)


def timeline(
    customer: str,
    blocks: Iterable[BlockState],
    entries: Iterable[EntryState],
    unit: str,
    horizon: datetime | None = None,
) -> list[tuple[datetime, Tally]]:
    """The balance of ``unit`` after each moment it changed: each time entries are dated,
    and each time an upcoming block became active (up to ``horizon``, if given).

    Stored rows that contradict each other raise :class:`StorageError`, as in :func:`rebuild`."""
    if horizon is not None:
        horizon = parse_time(horizon, "horizon")
    blocks = list(blocks)
    activations = sorted(
        {
            b.effective_at
            for b in blocks
            if b.unit == unit and b.effective_at > b.created_at and (horizon is None or b.effective_at <= horizon)
        }
    )
    points: list[tuple[datetime, Tally]] = []
    group: list[datetime] = []

    def mark(at: datetime, work: Work) -> None:
        figures = count(work.index, work.blocks, work.totals.get(unit) or UnitTotals(), unit, at, None)
        if not points or points[-1][1] != figures:
            points.append((at, figures))

    def before(entry: EntryState, work: Work) -> None:
        if group and group[0] != entry.at:
            mark(group.pop(), work)
        while activations and activations[0] < entry.at:
            mark(activations.pop(0), work)
        if entry.unit == unit and not group:
            group.append(entry.at)

    work = _replay(customer, blocks, entries, None, before=before)
    if group:
        mark(group.pop(), work)
    for at in activations:
        mark(at, work)
    return points

"""The storage port: what a :class:`~creditcore.ledger.Ledger` needs from an adapter.

An adapter stores and loads what the rules decide; it never decides anything itself. A
write goes through a unit of work: the ledger opens a transaction, locks one customer
(:meth:`UnitOfWork.lock`, which also loads its state) *before* it looks up the call's
idempotency key, runs a pure rule, saves what the rule changed (a :class:`ChangeSet`), and
the transaction commits as a whole or not at all. On a database with row locks, writes of
different customers then run side by side, and two calls with one key for one customer
are serialised, so the second sees the first's record.

Any object with these methods is a repository; ``creditcore.testing`` holds the contract
suite that proves one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from creditcore.core.profiles import ProfileState
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.core.state import NO_SETTINGS, Settings
from creditcore.state import AccountState, BlockState, EntryState, HoldState

if TYPE_CHECKING:  # billing's rows (creditcore.billing imports the ledger, so only for types)
    from creditcore.billing.repository import BillingReader, BillingWriter


@attrs.frozen(kw_only=True)
class OperationRecord:
    """What a ledger remembers about a write made with a key, to replay it.

    ``namespace`` keeps the kinds of key apart: ``"key"`` for ``idempotency_key``, ``"hold"``
    for hold ids, ``"end"`` for the capture or release that ended a hold.
    """

    namespace: str
    key: str
    kind: str
    """The operation: ``grant``, ``burn``, ``hold``, ``capture``, ``release``, ..."""
    fingerprint: tuple[tuple[str, str], ...]
    """The call's arguments in a canonical text form, compared field by field on replay."""
    op_id: str
    customer: str
    outcome: Mapping[str, str]
    """The figures the write's result shows (exact decimal text in the unit, ``"12.40"``) and
    the id of the block or hold it made, from which a replay rebuilds the result together
    with the op's entries: a record keeps what a replay needs and no more."""


@attrs.frozen(kw_only=True)
class ChangeSet:
    """What one write changed, as the rule decided it: an adapter stores it as given and
    never compares states to find out."""

    customer: str
    account: AccountState
    """The customer's live state after the write (:meth:`AccountState.live`): the blocks that
    hold credit, the active holds, the totals, the last write's time."""
    blocks: tuple[BlockState, ...]
    """Every block the write created or changed, whole."""
    holds: tuple[HoldState, ...]
    """Every hold the write created or changed, whole."""
    entries: tuple[EntryState, ...]
    """The new entries, in order, without their ``seq`` (the adapter numbers them)."""
    settings: Settings = NO_SETTINGS
    """Every schedule, top-up rule and alert the write created or changed (whole: a schedule
    that ended or an alert removed in its final form, a top-up rule removed as ``None``), and
    the events it wrote, in order, without their ``seq``."""

    @classmethod
    def of(cls, before: AccountState, after: AccountState, entries: Sequence[EntryState]) -> ChangeSet:
        """The change from ``before`` to ``after``, a state a rule made from it (the rules
        replace what they change, so an object that is not the one ``before`` held is new or
        changed). The one place that tells what a write changed."""
        changes = after.changes()
        if changes is not None:  # the rule's own record of what it set
            blocks, holds = changes
        else:
            blocks = tuple(b for b in after.blocks.values() if before.blocks.get(b.id) is not b)
            holds = tuple(h for h in after.holds.values() if before.holds.get(h.id) is not h)
        return cls(
            customer=after.customer,
            account=after.live(),
            blocks=blocks,
            holds=holds,
            entries=tuple(entries),
            settings=after.settings(),
        )


@attrs.frozen(kw_only=True)
class EntryQuery:
    """A filter over the entries, oldest first. ``None`` matches everything."""

    customer: str | None = None
    unit: str | None = None
    kinds: frozenset[str] | None = None
    block_id: str | None = None
    op_id: str | None = None
    ref: str | None = None
    """Only ``reverse`` entries of the reversals of this op."""
    since: datetime | None = None
    """Entries at or after this time."""
    until: datetime | None = None
    """Entries before this time."""
    after_seq: int = 0
    after_txid: int | None = None
    """With ``after_seq``, the position of the last entry read, where the store orders the
    entries of every customer by writing transaction (``EntryState.txid``)."""
    limit: int = 100


@attrs.frozen(kw_only=True)
class EventQuery:
    """A page of the event outbox, oldest first: after the position ``after_seq`` (and
    ``after_txid``, where the store orders events across customers by writing transaction,
    as entries), at most ``limit``."""

    customer: str | None = None
    after_seq: int = 0
    after_txid: int | None = None
    limit: int = 100


@attrs.frozen(kw_only=True)
class PastHistory:
    """What a replay needs to rebuild a customer's state as it was at some past time,
    starting from a snapshot instead of the first entry (see :class:`PastReader`)."""

    start: AccountState | None
    """The customer's state right after some entry dated at or before that time (its blocks
    with credit left and its active holds, as the write that made the entry saved them), or
    ``None`` to start from nothing."""
    blocks: list[BlockState]
    """The latest stored form of every block the entries name that ``start`` does not hold."""
    holds: list[HoldState]
    """The latest stored form of every hold in ``start`` or named by the entries."""
    entries: list[EntryState]
    """The entries after ``start`` that a replay up to that time needs, in ``seq`` order."""


class Reader(Protocol):
    """Reads, consistent with each other for the life of the reader."""

    def units(self) -> dict[str, int]:
        """Every declared unit and its scale."""
        ...

    def load_account(self, customer: str) -> AccountState:
        """The customer's current state: blocks with credit left, active holds, totals, last
        entry time. A customer never written is an empty state."""
        ...

    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        """Every block and hold of the customer in its latest form, and every entry (for a
        replay of the whole history: ``verify()``, ``timeline()``)."""
        ...

    def blocks(self, customer: str) -> list[BlockState]:
        """Every block of the customer in its latest form, in creation order, without its
        entries."""
        ...

    def holds(self, customer: str) -> list[HoldState]:
        """Every hold of the customer in its latest form, in creation order, without its
        entries."""
        ...

    def find_block(self, block_id: str) -> BlockState | None:
        """The block as last stored, whatever its customer; ``None`` if unknown."""
        ...

    def find_hold(self, hold_id: str) -> HoldState | None:
        """The hold as last stored, whatever its customer; ``None`` if unknown."""
        ...

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        """The record of the keyed write ``(namespace, key)`` (see :class:`OperationRecord`);
        ``None`` if the key is unknown."""
        ...

    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        """Entries matching ``query`` after the position ``query.after_seq`` (and
        ``after_txid``), oldest first, at most ``query.limit`` of them; paging on from the
        last one's position never skips an entry, even one a transaction still open commits
        later. A customer's entries are in ``seq`` order. Across customers a store whose
        numbers do not follow commit order (several writers at once) orders them by writing
        transaction, sets each one's ``txid``, and leaves out those of transactions that may
        still be followed by an earlier one."""
        ...

    def customers(self) -> list[str]:
        """Every customer with at least one entry, in first-write order."""
        ...

    def operations(self) -> list[OperationRecord]:
        """Every remembered keyed write (for ``verify()``), in an order that does not change."""
        ...

    def profiles(self, customer: str) -> list[ProfileState]:
        """Every version of the customer's profile, oldest first (none if it never had one)."""
        ...

    def customer_of(self, external_id: str) -> str | None:
        """The customer whose profile holds ``external_id`` now, if any."""
        ...

    def first_seen(self, customer: str) -> datetime | None:
        """The earlier of the customer's first profile change and first entry (``None`` for
        a customer with neither)."""
        ...

    def customer_page(self, after: int, limit: int, until: datetime) -> list[tuple[int, str]]:
        """``(position, customer)`` of the customers first seen at or before ``until`` whose
        position is after ``after``, at most ``limit``, in the order the ledger first saw
        them (positions increase in that order)."""
        ...

    def schedules(self, customer: str) -> list[ScheduleState]:
        """Every schedule of the customer in its latest form, ended ones included, in creation
        order."""
        ...

    def find_schedule(self, schedule_id: str) -> ScheduleState | None:
        """The schedule as last stored, whatever its customer; ``None`` if unknown."""
        ...

    def top_ups(self, customer: str) -> list[tuple[datetime, str, TopUpState | None]]:
        """Every version of the customer's top-up rules: ``(at, unit, rule)``, ``None`` for a
        removal, oldest first."""
        ...

    def alerts(self, customer: str) -> list[AlertState]:
        """Every alert of the customer in its latest form, removed ones included, in creation
        order."""
        ...

    def find_alert(self, alert_id: str) -> AlertState | None:
        """The alert as last stored (removed ones too); ``None`` if unknown."""
        ...

    def list_events(self, query: EventQuery) -> list[EventState]:
        """Events after the position in ``query``, oldest first, at most ``query.limit``, with
        the guarantee of :meth:`list_entries`: paging on from the last one's position never
        skips an event."""
        ...

    def billing(self) -> BillingReader:
        """Billing's rows as this reader sees them, in the same transaction as the ledger's."""
        ...


@runtime_checkable
class PastReader(Reader, Protocol):
    """A reader that keeps snapshots of account state, so that a past balance replays only
    the entries since the nearest snapshot, not the whole history. Optional: the ledger
    replays everything (``history()``) on a reader without ``past_history``.

    A snapshot is a cache. An adapter takes one after a write when enough entries have
    piled up since the last one, dated by the customer's last entry, and keeps this promise:
    every entry after a snapshot is dated at or after it. A customer's history only moves
    forward, so that holds by itself; should a write still append an entry dated earlier, the
    adapter drops every snapshot of that customer dated after the entry.
    """

    def past_history(self, customer: str, until: datetime) -> PastHistory:
        """The newest snapshot dated at or before ``until`` and the entries after it dated at
        or before ``until``, up to the first snapshot dated after ``until`` (no entry after
        that one can be dated before it)."""
        ...


class UnitOfWork(Reader, Protocol):
    """A write transaction. Its changes are seen by its own reads, by no one else's until
    the transaction ends, and are all kept or all dropped."""

    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        """Lock the customer for the rest of the transaction (creating its account if new)
        and return its current state, as :meth:`load_account` does. A write calls it before
        it reads anything its rule or its idempotency key depends on; another transaction
        that locks the same customer waits until this one ends. ``key`` is the
        ``(namespace, key)`` the write looks up next with :meth:`find_operation`: an adapter
        whose reads cost a round trip may read it along with the lock (an adapter is free to
        ignore it)."""
        ...

    def add_unit(self, name: str, scale: int) -> None:
        """Declare the unit ``name`` with ``scale`` decimal places, committed with the unit of
        work (the ledger has checked that it is new)."""
        ...

    def save(self, changes: ChangeSet) -> list[EntryState]:
        """Store what a write changed; returns its entries with their ``seq`` assigned. A
        customer's first entries make it first seen (see :meth:`Reader.first_seen`), dated
        by the earliest of them when that is earlier; so does a first setting (a schedule, a
        top-up rule or an alert), dated by the account's last write. :meth:`load_account`
        gives back the account's schedules, top-up rules and alerts in force."""
        ...

    def record_operation(self, record: OperationRecord) -> None:
        """Keep the record of a keyed write, committed with its entries and kept forever (one
        record per ``(namespace, key)``)."""
        ...

    def save_profile(self, profile: ProfileState, released: str | None) -> None:
        """Store a new version of a customer's profile (the customer is first seen then, if
        not before); ``released`` is the external id the previous version held and this one
        does not. Two customers cannot hold one external id: a store that sees one taken
        refuses the write."""
        ...

    def billing(self) -> BillingWriter:
        """Billing's rows in this transaction: written with the ledger's, kept or dropped
        with them."""
        ...


class Repository(Protocol):
    """A store for one ledger."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that commits when the block exits normally and rolls back when it
        raises. Writers are serialised: a second transaction waits for the first (up to a
        timeout, then :class:`~creditcore.errors.StorageError`); one opened in a thread that
        already has a transaction open raises ``StorageError`` at once, since it could never
        get its turn."""
        ...

    def reader(self) -> AbstractContextManager[Reader]:
        """A consistent read-only view of the last committed state. It never shows what an
        open transaction wrote, in this thread or another, and should not wait for one
        (SQLite's WAL readers, the memory adapter's overlay); a reader refuses writes."""
        ...

    def close(self) -> None:
        """Release what the repository holds open (connections, a pool)."""
        ...


#: Entries of a customer between two snapshots of its account state (see :class:`PastReader`).
SNAPSHOT_EVERY = 1_000


def snapshot_due(since: int, every: int, after: AccountState) -> bool:
    """The snapshot policy every adapter follows: take one once ``every`` entries of the
    customer have piled up since the last, and no sooner than there are live blocks and
    active holds to write into it (so a snapshot never costs more than the replay it saves)."""
    if since < every or after.last_at is None:
        return False
    live = after.live()
    return since >= len(live.blocks) + len(live.holds)


def iterate_entries(reader: Reader, query: EntryQuery) -> Iterator[EntryState]:
    """Every entry matching ``query``, page by page."""
    after, txid = query.after_seq, query.after_txid
    while True:
        page = reader.list_entries(attrs.evolve(query, after_seq=after, after_txid=txid))
        yield from page
        if len(page) < query.limit:
            return
        after, txid = page[-1].seq, page[-1].txid

"""The in-memory adapter: a real, thread-safe repository that lives as long as the process.

A write transaction keeps what it changes beside the committed store, in an overlay of its
own, and publishes it in one short step when it commits; a transaction that fails simply
drops its overlay. So a reader never waits for a write transaction, however long (an
``atomic()`` batch), and never sees what it has not committed — the last committed state,
as on SQLite. Writers are serialised: a second one waits up to ``busy_timeout`` seconds for
the first, then raises :class:`~creditcore.errors.StorageError`.

Every ``snapshot_every`` entries of a customer (or more, for an account with more live
blocks and holds than that), a write also keeps the account state it saved as a snapshot,
so that a past balance replays only the entries since the nearest one (see
:class:`~creditcore.repository.PastReader`).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import attrs

from creditcore.adapters.memory_billing import BillingRows, BillingStore
from creditcore.core.profiles import ProfileState
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.core.state import NO_SETTINGS
from creditcore.errors import StorageError, ValidationError
from creditcore.repository import (
    SNAPSHOT_EVERY,
    ChangeSet,
    EntryQuery,
    EventQuery,
    OperationRecord,
    PastHistory,
    snapshot_due,
)
from creditcore.state import AccountState, BlockState, EntryState, HoldState

# (dated, after entry seq, the customer's entry count then, the state)
_Snapshot = tuple[datetime, int, int, AccountState]
# (at, unit, the rule or None for a removal)
_TopUpVersion = tuple[datetime, str, TopUpState | None]
#: Longest wait a lock accepts (threading's own limit).
_MAX_TIMEOUT = threading.TIMEOUT_MAX


class MemoryRepository:
    """Keeps a ledger in dictionaries. Safe to share between threads.

    >>> from creditcore import Ledger
    >>> ledger = Ledger(MemoryRepository())
    """

    def __init__(self, *, snapshot_every: int = SNAPSHOT_EVERY, busy_timeout: float = 5.0) -> None:
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise ValidationError("snapshot_every", f"expected a whole number of entries >= 1, got {snapshot_every!r}")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or not math.isfinite(busy_timeout)
            or not 0 <= busy_timeout <= _MAX_TIMEOUT
        ):
            raise ValidationError(
                "busy_timeout", f"expected a number of seconds between 0 and {_MAX_TIMEOUT:g}, got {busy_timeout!r}"
            )
        self._snapshot_every = snapshot_every
        self._busy_timeout = float(busy_timeout)
        # writers take _writer for a whole transaction; publishing a commit and reading take
        # _published for a moment (re-entrant: a reader's thread may commit a write it makes)
        self._writer = threading.Lock()
        self._writer_thread: int | None = None
        self._published = threading.RLock()
        # the committed store
        self._units: dict[str, int] = {}
        # customer -> state with only the blocks that hold credit and the active holds, so a
        # load costs the same however long the customer's history is
        self._accounts: dict[str, AccountState] = {}
        self._blocks: dict[str, BlockState] = {}
        self._holds: dict[str, HoldState] = {}
        self._entries: list[EntryState] = []
        self._customer_blocks: dict[str, list[str]] = {}
        self._customer_holds: dict[str, list[str]] = {}
        self._customer_entries: dict[str, list[int]] = {}
        self._op_entries: dict[str, list[int]] = {}
        self._block_entries: dict[str, list[int]] = {}
        self._ref_entries: dict[str, list[int]] = {}
        self._operations: dict[tuple[str, str], OperationRecord] = {}
        self._snapshots: dict[str, list[_Snapshot]] = {}
        self._profiles: dict[str, list[ProfileState]] = {}
        self._external: dict[str, str] = {}
        # customer -> (position, first seen), in the order first seen
        self._seen: dict[str, tuple[int, datetime]] = {}
        # settings (schedules, top-up rules, alerts): every form's latest, by id; ids per customer
        # in creation order; every top-up version per customer; the outbox (position = seq - 1)
        self._schedules: dict[str, ScheduleState] = {}
        self._alerts: dict[str, AlertState] = {}
        self._customer_schedules: dict[str, list[str]] = {}
        self._customer_alerts: dict[str, list[str]] = {}
        self._top_ups: dict[str, list[_TopUpVersion]] = {}
        self._events: list[EventState] = []
        self._customer_events: dict[str, list[int]] = {}
        self._billing = BillingStore()

    # -- the port ------------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    @contextmanager
    def reader(self) -> Iterator[_Committed]:
        """The last committed state, consistent for the life of the reader: commits wait for
        it to end (a read never waits for a write transaction)."""
        with self._published:
            yield _Committed(self)

    def close(self) -> None:
        """Nothing to release."""

    # -- the committed store, read by readers and by a transaction under its overlay -------

    def _past_history(self, customer: str, until: datetime) -> PastHistory:
        snapshots = self._snapshots.get(customer, [])
        index = bisect.bisect_right(snapshots, until, key=lambda snapshot: snapshot[0]) - 1
        start = snapshots[index][3] if index >= 0 else None
        after = snapshots[index][1] if index >= 0 else 0
        # no entry after the next snapshot is dated before it, so none is needed
        last = snapshots[index + 1][1] if index + 1 < len(snapshots) else None
        positions = self._customer_entries.get(customer, [])
        entries = []
        # positions are seq - 1: from the first after the snapshot up to the next snapshot
        for index in range(bisect.bisect_left(positions, after), len(positions)):
            position = positions[index]
            if last is not None and position >= last:
                break
            entry = self._entries[position]
            if entry.at <= until:
                entries.append(entry)
        held = start.blocks if start is not None else {}
        block_ids = {e.block_id for e in entries if e.block_id is not None and e.block_id not in held}
        hold_ids = {e.hold_id for e in entries if e.hold_id is not None}
        if start is not None:
            hold_ids.update(start.holds)
        return PastHistory(
            start=start,
            # an id with no row (a damaged store) is left out: the replay reports it
            blocks=[self._blocks[i] for i in sorted(block_ids) if i in self._blocks],
            holds=[self._holds[i] for i in sorted(hold_ids) if i in self._holds],
            entries=entries,
        )

    def _customer_page(
        self, seen: dict[str, tuple[int, datetime]], after: int, limit: int, until: datetime
    ) -> list[tuple[int, str]]:
        found = []
        for customer, (position, first) in seen.items():  # in position order
            if position > after and first <= until:
                found.append((position, customer))
                if len(found) == limit:
                    break
        return found

    def _list_events(self, query: EventQuery) -> list[EventState]:
        if query.customer is not None:
            positions: Sequence[int] = self._customer_events.get(query.customer, [])
        else:
            positions = range(len(self._events))
        start = bisect.bisect_right(positions, query.after_seq - 1)
        return [self._events[p] for p in positions[start : start + max(query.limit, 0)]]

    def _list_entries(self, query: EntryQuery) -> list[EntryState]:
        # pick the narrowest index, then filter; positions are seq - 1
        if query.op_id is not None:
            positions: Sequence[int] = self._op_entries.get(query.op_id, [])
        elif query.ref is not None:
            positions = self._ref_entries.get(query.ref, [])
        elif query.block_id is not None:
            positions = self._block_entries.get(query.block_id, [])
        elif query.customer is not None:
            positions = self._customer_entries.get(query.customer, [])
        else:
            positions = range(len(self._entries))
        start = bisect.bisect_right(positions, query.after_seq - 1)
        found: list[EntryState] = []
        # walk by index: a slice would copy the rest of a long index for one page
        for index in range(start, len(positions)):
            entry = self._entries[positions[index]]
            if _matches(entry, query):
                found.append(entry)
                if len(found) == query.limit:
                    break
        return found


def _matches(entry: EntryState, query: EntryQuery) -> bool:
    return (
        (query.customer is None or entry.customer == query.customer)
        and (query.unit is None or entry.unit == query.unit)
        and (query.kinds is None or entry.kind in query.kinds)
        and (query.block_id is None or entry.block_id == query.block_id)
        and (query.op_id is None or entry.op_id == query.op_id)
        and (query.ref is None or entry.ref == query.ref)
        and (query.since is None or entry.at >= query.since)
        and (query.until is None or entry.at < query.until)
    )


def _refuse_write(name: str) -> StorageError:
    return StorageError(f"a reader cannot {name}: write inside `with repository.transaction()`")


class _Committed:
    """A reader of a :class:`MemoryRepository`: the committed store only."""

    __slots__ = ("_store",)

    def __init__(self, store: MemoryRepository) -> None:
        self._store = store

    def units(self) -> dict[str, int]:
        return dict(self._store._units)

    def load_account(self, customer: str) -> AccountState:
        return self._store._accounts.get(customer) or AccountState(customer=customer)

    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        store = self._store
        return (
            [store._blocks[i] for i in store._customer_blocks.get(customer, ())],
            [store._holds[i] for i in store._customer_holds.get(customer, ())],
            [store._entries[i] for i in store._customer_entries.get(customer, ())],
        )

    def blocks(self, customer: str) -> list[BlockState]:
        store = self._store
        return [store._blocks[i] for i in store._customer_blocks.get(customer, ())]

    def holds(self, customer: str) -> list[HoldState]:
        store = self._store
        return [store._holds[i] for i in store._customer_holds.get(customer, ())]

    def past_history(self, customer: str, until: datetime) -> PastHistory:
        return self._store._past_history(customer, until)

    def find_block(self, block_id: str) -> BlockState | None:
        return self._store._blocks.get(block_id)

    def find_hold(self, hold_id: str) -> HoldState | None:
        return self._store._holds.get(hold_id)

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        return self._store._operations.get((namespace, key))

    def customers(self) -> list[str]:
        return list(self._store._customer_entries)

    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        return self._store._list_entries(query)

    def operations(self) -> list[OperationRecord]:
        return list(self._store._operations.values())

    def profiles(self, customer: str) -> list[ProfileState]:
        return list(self._store._profiles.get(customer, ()))

    def customer_of(self, external_id: str) -> str | None:
        return self._store._external.get(external_id)

    def first_seen(self, customer: str) -> datetime | None:
        seen = self._store._seen.get(customer)
        return None if seen is None else seen[1]

    def customer_page(self, after: int, limit: int, until: datetime) -> list[tuple[int, str]]:
        return self._store._customer_page(self._store._seen, after, limit, until)

    def schedules(self, customer: str) -> list[ScheduleState]:
        store = self._store
        return [store._schedules[i] for i in store._customer_schedules.get(customer, ())]

    def find_schedule(self, schedule_id: str) -> ScheduleState | None:
        return self._store._schedules.get(schedule_id)

    def top_ups(self, customer: str) -> list[_TopUpVersion]:
        return list(self._store._top_ups.get(customer, ()))

    def alerts(self, customer: str) -> list[AlertState]:
        store = self._store
        return [store._alerts[i] for i in store._customer_alerts.get(customer, ())]

    def find_alert(self, alert_id: str) -> AlertState | None:
        return self._store._alerts.get(alert_id)

    def list_events(self, query: EventQuery) -> list[EventState]:
        return self._store._list_events(query)

    def billing(self) -> BillingRows:
        return BillingRows(self._store._billing, writable=False)

    def save_profile(self, profile: ProfileState, released: str | None) -> None:
        raise _refuse_write("save a profile")

    def add_unit(self, name: str, scale: int) -> None:
        raise _refuse_write("declare a unit")

    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        raise _refuse_write("lock a customer")

    def save(self, changes: ChangeSet) -> list[EntryState]:
        raise _refuse_write("save an account")

    def record_operation(self, record: OperationRecord) -> None:
        raise _refuse_write("record an operation")


class _Work:
    """The unit of work of a :class:`MemoryRepository`: what the transaction changed, over
    the committed store. Its reads see both; nobody else sees the changes until
    :meth:`publish`."""

    def __init__(self, store: MemoryRepository) -> None:
        self._store = store
        self._units: dict[str, int] = {}
        self._accounts: dict[str, AccountState] = {}
        self._blocks: dict[str, BlockState] = {}
        self._holds: dict[str, HoldState] = {}
        self._operations: dict[tuple[str, str], OperationRecord] = {}
        self._entries: list[EntryState] = []
        # ids new in this transaction, per customer, in creation order
        self._new_blocks: dict[str, list[str]] = {}
        self._new_holds: dict[str, list[str]] = {}
        self._customer_entries: dict[str, list[EntryState]] = {}
        self._snapshots: dict[str, list[_Snapshot]] = {}
        self._profiles: dict[str, list[ProfileState]] = {}
        self._external: dict[str, str | None] = {}
        self._seen: dict[str, tuple[int, datetime]] = {}
        self._schedules: dict[str, ScheduleState] = {}
        self._alerts: dict[str, AlertState] = {}
        self._new_schedules: dict[str, list[str]] = {}
        self._new_alerts: dict[str, list[str]] = {}
        self._top_ups: dict[str, list[_TopUpVersion]] = {}
        self._events: list[EventState] = []
        self._billing: BillingRows | None = None
        self._open = True

    # -- reads -------------------------------------------------------------------------

    def units(self) -> dict[str, int]:
        return {**self._store._units, **self._units}

    def load_account(self, customer: str) -> AccountState:
        return self._accounts.get(customer) or self._store._accounts.get(customer) or AccountState(customer=customer)

    def _block(self, block_id: str) -> BlockState:
        found = self._blocks.get(block_id)
        return found if found is not None else self._store._blocks[block_id]

    def _hold(self, hold_id: str) -> HoldState:
        found = self._holds.get(hold_id)
        return found if found is not None else self._store._holds[hold_id]

    def blocks(self, customer: str) -> list[BlockState]:
        ids = [*self._store._customer_blocks.get(customer, ()), *self._new_blocks.get(customer, ())]
        return [self._block(i) for i in ids]

    def holds(self, customer: str) -> list[HoldState]:
        ids = [*self._store._customer_holds.get(customer, ()), *self._new_holds.get(customer, ())]
        return [self._hold(i) for i in ids]

    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        store = self._store
        return (
            self.blocks(customer),
            self.holds(customer),
            [
                *(store._entries[i] for i in store._customer_entries.get(customer, ())),
                *self._customer_entries.get(customer, ()),
            ],
        )

    def past_history(self, customer: str, until: datetime) -> PastHistory:
        if customer not in self._customer_entries:
            return self._store._past_history(customer, until)
        # written to in this transaction: replay the whole history (rare: a past read inside
        # a batch that wrote to the same customer)
        blocks, holds, entries = self.history(customer)
        return PastHistory(start=None, blocks=blocks, holds=holds, entries=[e for e in entries if e.at <= until])

    def find_block(self, block_id: str) -> BlockState | None:
        return self._blocks.get(block_id) or self._store._blocks.get(block_id)

    def find_hold(self, hold_id: str) -> HoldState | None:
        return self._holds.get(hold_id) or self._store._holds.get(hold_id)

    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        found = self._operations.get((namespace, key))
        return found if found is not None else self._store._operations.get((namespace, key))

    def operations(self) -> list[OperationRecord]:
        return [
            *(r for key, r in self._store._operations.items() if key not in self._operations),
            *self._operations.values(),
        ]

    def customers(self) -> list[str]:
        known = self._store._customer_entries
        return [*known, *(c for c in self._customer_entries if c not in known)]

    def profiles(self, customer: str) -> list[ProfileState]:
        return [*self._store._profiles.get(customer, ()), *self._profiles.get(customer, ())]

    def customer_of(self, external_id: str) -> str | None:
        if external_id in self._external:
            return self._external[external_id]
        return self._store._external.get(external_id)

    def first_seen(self, customer: str) -> datetime | None:
        seen = self._seen.get(customer) or self._store._seen.get(customer)
        return None if seen is None else seen[1]

    def customer_page(self, after: int, limit: int, until: datetime) -> list[tuple[int, str]]:
        seen = {**self._store._seen, **self._seen}
        return self._store._customer_page(dict(sorted(seen.items(), key=lambda item: item[1][0])), after, limit, until)

    def schedules(self, customer: str) -> list[ScheduleState]:
        ids = [*self._store._customer_schedules.get(customer, ()), *self._new_schedules.get(customer, ())]
        return [self._schedules.get(i) or self._store._schedules[i] for i in ids]

    def find_schedule(self, schedule_id: str) -> ScheduleState | None:
        return self._schedules.get(schedule_id) or self._store._schedules.get(schedule_id)

    def top_ups(self, customer: str) -> list[_TopUpVersion]:
        return [*self._store._top_ups.get(customer, ()), *self._top_ups.get(customer, ())]

    def alerts(self, customer: str) -> list[AlertState]:
        ids = [*self._store._customer_alerts.get(customer, ()), *self._new_alerts.get(customer, ())]
        return [self._alerts.get(i) or self._store._alerts[i] for i in ids]

    def find_alert(self, alert_id: str) -> AlertState | None:
        return self._alerts.get(alert_id) or self._store._alerts.get(alert_id)

    def list_events(self, query: EventQuery) -> list[EventState]:
        found = self._store._list_events(query)
        if len(found) < query.limit and self._events:
            # this transaction's events come after every committed one
            for event in self._events:
                if event.seq > query.after_seq and query.customer in (None, event.customer):
                    found.append(event)
                    if len(found) == query.limit:
                        break
        return found

    def billing(self) -> BillingRows:
        self._check_open()
        if self._billing is None:
            self._billing = BillingRows(self._store._billing, writable=True)
        return self._billing

    def _see(self, customer: str, at: datetime) -> None:
        """The customer is seen at ``at``: first seen then if never before, or earlier."""
        seen = self._seen.get(customer) or self._store._seen.get(customer)
        if seen is None:
            self._seen[customer] = (len(self._store._seen) + len(self._seen) + 1, at)
        elif at < seen[1]:
            self._seen[customer] = (seen[0], at)

    def save_profile(self, profile: ProfileState, released: str | None) -> None:
        self._check_open()
        holder = self.customer_of(profile.external_id) if profile.external_id is not None else None
        if holder is not None and holder != profile.customer:
            raise StorageError(f"external id {profile.external_id!r} is held by customer {holder!r}")
        self._profiles.setdefault(profile.customer, []).append(profile)
        if released is not None:
            self._external[released] = None
        if profile.external_id is not None:
            self._external[profile.external_id] = profile.customer
        self._see(profile.customer, profile.at)

    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        found = self._store._list_entries(query)
        if len(found) < query.limit and self._entries:
            # this transaction's entries come after every committed one
            for entry in self._entries:
                if entry.seq > query.after_seq and _matches(entry, query):
                    found.append(entry)
                    if len(found) == query.limit:
                        break
        return found

    # -- writes ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._open:
            raise StorageError("this transaction has ended: write inside `with repository.transaction()`")

    def add_unit(self, name: str, scale: int) -> None:
        self._check_open()
        self._units[name] = scale

    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        # one writer at a time holds the whole store (the transaction's lock)
        self._check_open()
        return self.load_account(customer)

    def save(self, changes: ChangeSet) -> list[EntryState]:
        self._check_open()
        store = self._store
        customer = changes.customer
        for block in changes.blocks:
            if block.id not in self._blocks and block.id not in store._blocks:
                self._new_blocks.setdefault(customer, []).append(block.id)
            self._blocks[block.id] = block
        for found in changes.holds:
            if found.id not in self._holds and found.id not in store._holds:
                self._new_holds.setdefault(customer, []).append(found.id)
            self._holds[found.id] = found
        live = changes.account
        before = self._accounts.get(customer) or store._accounts.get(customer)
        self._accounts[customer] = live
        if changes.settings is not NO_SETTINGS:
            self._save_settings(changes)
        entries = changes.entries
        if not entries:
            return []
        if before is None or before.last_at is None:  # its first entries
            self._see(customer, min(entry.at for entry in entries))
        first = len(store._entries) + len(self._entries) + 1
        stored = [entry.numbered(first + i) for i, entry in enumerate(entries)]
        self._entries.extend(stored)
        for entry in stored:
            self._customer_entries.setdefault(entry.customer, []).append(entry)
        self._keep_snapshots(customer, stored, live)
        return stored

    def _save_settings(self, changes: ChangeSet) -> None:
        store, customer, settings = self._store, changes.customer, changes.settings
        for schedule in settings.schedules:
            if schedule.id not in self._schedules and schedule.id not in store._schedules:
                self._new_schedules.setdefault(customer, []).append(schedule.id)
            self._schedules[schedule.id] = schedule
        for alert in settings.alerts:
            if alert.id not in self._alerts and alert.id not in store._alerts:
                self._new_alerts.setdefault(customer, []).append(alert.id)
            self._alerts[alert.id] = alert
        if settings.top_ups:
            self._top_ups.setdefault(customer, []).extend(settings.top_ups)
        first = len(store._events) + len(self._events) + 1
        self._events.extend(attrs.evolve(e, seq=first + i) for i, e in enumerate(settings.events))
        if changes.account.last_at is not None:  # a first setting makes the customer seen
            self._see(customer, changes.account.last_at)

    def _keep_snapshots(self, customer: str, stored: list[EntryState], live: AccountState) -> None:
        """Drop the snapshots these entries are dated before; take one when enough entries
        have piled up since the last."""
        snapshots = self._snapshots.get(customer)
        if snapshots is None:
            snapshots = self._store._snapshots.get(customer, [])
        earliest = min(e.at for e in stored)
        if snapshots and earliest < snapshots[-1][0]:
            snapshots = [s for s in snapshots if s[0] <= earliest]
            self._snapshots[customer] = snapshots
        count = len(self._store._customer_entries.get(customer, ())) + len(self._customer_entries.get(customer, ()))
        since = count - (snapshots[-1][2] if snapshots else 0)
        if live.last_at is not None and snapshot_due(since, self._store._snapshot_every, live):
            self._snapshots[customer] = [*snapshots, (live.last_at, stored[-1].seq, count, live)]

    def record_operation(self, record: OperationRecord) -> None:
        self._check_open()
        self._operations[(record.namespace, record.key)] = record

    # -- the end -----------------------------------------------------------------------

    def publish(self) -> None:
        """Make the changes the committed state, in one step readers never see half of."""
        self._open = False
        store = self._store
        with store._published:
            # most transactions are one write: skip what it did not touch
            if self._units:
                store._units.update(self._units)
            store._accounts.update(self._accounts)
            if self._new_blocks:
                _extend_index(store._customer_blocks, self._new_blocks.items())
            if self._new_holds:
                _extend_index(store._customer_holds, self._new_holds.items())
            store._blocks.update(self._blocks)
            if self._holds:
                store._holds.update(self._holds)
            if self._operations:
                store._operations.update(self._operations)
            base = len(store._entries)
            store._entries.extend(self._entries)
            for position, entry in enumerate(self._entries, start=base):
                store._customer_entries.setdefault(entry.customer, []).append(position)
                store._op_entries.setdefault(entry.op_id, []).append(position)
                if entry.block_id is not None:
                    store._block_entries.setdefault(entry.block_id, []).append(position)
                if entry.ref is not None:
                    store._ref_entries.setdefault(entry.ref, []).append(position)
            if self._snapshots:
                store._snapshots.update(self._snapshots)
            for customer, versions in self._profiles.items():
                store._profiles.setdefault(customer, []).extend(versions)
            for external_id, holder in self._external.items():
                if holder is None:
                    store._external.pop(external_id, None)
                else:
                    store._external[external_id] = holder
            if self._seen:
                # new customers come after every stored one (their positions are higher)
                store._seen.update(self._seen)
            if self._schedules or self._alerts or self._top_ups or self._events:
                self._publish_settings()
            if self._billing is not None:
                self._billing.publish()

    def _publish_settings(self) -> None:
        store = self._store
        store._schedules.update(self._schedules)
        _extend_index(store._customer_schedules, self._new_schedules.items())
        store._alerts.update(self._alerts)
        _extend_index(store._customer_alerts, self._new_alerts.items())
        for customer, versions in self._top_ups.items():
            store._top_ups.setdefault(customer, []).extend(versions)
        base = len(store._events)
        store._events.extend(self._events)
        for position, event in enumerate(self._events, start=base):
            store._customer_events.setdefault(event.customer, []).append(position)

    def discard(self) -> None:
        self._open = False


def _extend_index(index: dict[str, list[str]], additions: Iterable[tuple[str, list[str]]]) -> None:
    for key, ids in additions:
        index.setdefault(key, []).extend(ids)


class _Transaction:
    """Opens a :class:`_Work` under the writer lock and publishes or drops it at the end."""

    __slots__ = ("_repository", "_work")

    def __init__(self, repository: MemoryRepository) -> None:
        self._repository = repository
        self._work: _Work | None = None

    def __enter__(self) -> _Work:
        repository = self._repository
        me = threading.get_ident()
        if repository._writer_thread == me:
            # the open transaction is this thread's own (another task's or a suspended
            # generator's batch, or a write inside a write): waiting for it would wait forever
            raise StorageError(
                "this thread already has a write transaction open on this memory ledger (a batch of another "
                "task or generator, or a transaction inside a transaction): finish it first"
            )
        if not repository._writer.acquire(timeout=repository._busy_timeout):
            raise StorageError(
                "another thread held this memory ledger's write lock for longer than "
                f"busy_timeout={repository._busy_timeout:g}s"
            )
        repository._writer_thread = me
        self._work = _Work(repository)
        return self._work

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        repository = self._repository
        work = self._work
        self._work = None
        try:
            if work is not None:
                if error is None:
                    work.publish()
                else:
                    work.discard()
        finally:
            repository._writer_thread = None
            repository._writer.release()

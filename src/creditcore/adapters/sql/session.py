"""One transaction's reads and writes on one connection of any SQL database (a Reader and a
UnitOfWork), over the shared statements: each adapter subclasses :class:`SqlSession` with
what is its database's own (how a transaction is known to be open, how its errors read, how
entries are numbered, how a new row's key comes back, and what, if anything, a write may keep
between transactions).

A write stores only what moved: the columns of a block, a hold or a unit's totals that
changed since the state it loaded (one prepared statement per set of columns), the new
entries in one INSERT, and a block or hold by its row key (``pos``), which the connection
learnt when it read or wrote the row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

import attrs

from creditcore.billing.repository import BillingObject, MeterEventRecord
from creditcore.core.profiles import ProfileState
from creditcore.core.settings import AlertState, EventState, ScheduleState, TopUpState
from creditcore.core.state import NO_SETTINGS, Settings
from creditcore.errors import CreditError, StorageError
from creditcore.repository import SNAPSHOT_EVERY, ChangeSet, EntryQuery, EventQuery, OperationRecord, PastHistory
from creditcore.state import AccountState, BlockState, EntryState, HoldState

from . import billing, codec
from .snapshots import keep_snapshots, past_history
from .statements import ENTRIES_PER_INSERT, Statements

# How many decoded blocks (and holds) a connection keeps to skip decoding unchanged rows.
_DECODED_CACHE = 20_000
# How many accounts a connection keeps for its write transactions (see begin_write).
_ACCOUNTS_KEPT = 20_000

_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S", bound="SqlSession")


def storage(
    action: str, *, write: bool = False
) -> Callable[[Callable[Concatenate[_S, _P], _T]], Callable[Concatenate[_S, _P], _T]]:
    """Run a session method inside its transaction and translate what goes wrong; a
    ``write`` runs only in a write transaction (never through a reader)."""

    def wrap(method: Callable[Concatenate[_S, _P], _T]) -> Callable[Concatenate[_S, _P], _T]:
        def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            self.check_open(action)
            if write and not self.writing:
                raise StorageError(
                    f"{self.database} could not {action} ({self.where}): this is a reader, which only reads; "
                    f"nothing was written: write through {self.repository_name}.transaction()"
                )
            try:
                return method(self, *args, **kwargs)
            except CreditError:
                raise  # already the library's own
            except self.translated as error:
                raise self.storage_error(action, error) from error

        functools.update_wrapper(run, method)
        return run

    return wrap


class SqlSession:
    """The reads and writes of one transaction on one connection (a Reader and a UnitOfWork).

    A subclass sets :attr:`sql` (the statements in its dialect), :attr:`database`,
    :attr:`repository_name` and :attr:`translated`, and defines :meth:`check_open`,
    :meth:`storage_error`, :meth:`number`, :meth:`insert_new` and :meth:`lock`."""

    sql: ClassVar[Statements]
    database: ClassVar[str]
    """How messages name the database ("SQLite", "PostgreSQL")."""
    repository_name: ClassVar[str]
    translated: ClassVar[tuple[type[BaseException], ...]]
    """What a statement, or the decoding of a row altered outside the ledger (or the encoding
    of a value that cannot be stored), can raise: each becomes a ``StorageError``."""

    def __init__(self, conn: Any, where: str, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.conn = conn
        self.where = where
        self.snapshot_every = snapshot_every
        self.writing = False
        self.accounts: dict[str, AccountState] = {}
        """Inside write transactions: each customer's state as this connection last loaded
        or saved it (see :meth:`begin_write`)."""
        self.since_snapshot: dict[str, int] = {}
        """Per customer, entries written since its last snapshot, as this connection counts
        them (a hint: a wrong count only takes a snapshot early or late)."""
        self.wrote = False
        self.witness: tuple[str, tuple[object, ...]] | None = None
        """A query that finds a row only if this transaction's first write was committed:
        how a COMMIT that reports an error is told apart from one that took effect."""
        # Decoded rows, by id: a row read back exactly as it was last seen gives back the same
        # (immutable) object instead of being decoded again. Only a byte-identical row is
        # reused, so what other connections write is always seen. A row starts with its row
        # key (pos), which never changes once committed: a write finds its blocks and holds by
        # it, and its entries refer to them by it.
        self._blocks: dict[str, tuple[tuple[Any, ...], BlockState]] = {}
        self._holds: dict[str, tuple[tuple[Any, ...], HoldState]] = {}

    # -- what the database does its own way -----------------------------------------------------

    def check_open(self, action: str) -> None:
        """Raise ``StorageError`` unless the transaction is still open."""
        raise NotImplementedError

    def storage_error(self, action: str, error: BaseException) -> StorageError:
        """The ``StorageError`` an error of :attr:`translated` becomes."""
        raise NotImplementedError

    def number(self, count: int) -> Sequence[int]:
        """The seqs of ``count`` new entries, ascending."""
        raise NotImplementedError

    def insert_new(self, insert: str, row: tuple[object, ...]) -> int | None:
        """INSERT a block's or hold's row and return its row key, or ``None`` if its id turns
        out to be stored (then the statement has been undone, and the upsert writes over it)."""
        raise NotImplementedError

    def lock(self, customer: str, key: tuple[str, str] | None = None) -> AccountState:
        """Hold ``customer`` until the transaction ends, and load it (``key``: the idempotency
        key the write looks up next, which an adapter may read along with the lock)."""
        raise NotImplementedError

    def send(self, sql: str, params: Sequence[object]) -> None:
        """Run a write statement whose outcome the write does not read (an adapter may send
        it later, with others, in the same transaction; any error still fails the write)."""
        self.conn.execute(sql, params)

    def begin_write(self) -> None:
        """A write transaction begins (a subclass checks here what it kept from the last)."""
        self.writing = True

    def end_write(self, *, kept: bool) -> None:
        """After a write transaction: what it did not commit (whatever step failed) leaves
        nothing behind in the session (a row key it made may be another row's next time)."""
        self.writing = False
        if not kept:
            self.forget()

    def forget(self) -> None:
        """Drop everything the session keeps between transactions."""
        self.accounts.clear()
        self.since_snapshot.clear()
        self._blocks.clear()
        self._holds.clear()

    def _remember_account(self, state: AccountState) -> None:
        """Keep the state as a load would give it back: blocks with credit left, active holds."""
        if len(self.accounts) >= _ACCOUNTS_KEPT:
            self.accounts.clear()
        self.accounts[state.customer] = state.live()

    def _block(self, row: tuple[Any, ...]) -> BlockState:
        seen = self._blocks.get(row[1])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_block(row, codec.block(row))

    def _remember_block(self, row: tuple[Any, ...], block: BlockState) -> BlockState:
        if len(self._blocks) >= _DECODED_CACHE:
            self._blocks.clear()
        self._blocks[block.id] = (row, block)
        return block

    def _hold(self, row: tuple[Any, ...]) -> HoldState:
        seen = self._holds.get(row[1])
        if seen is not None and seen[0] == row:
            return seen[1]
        return self._remember_hold(row, codec.hold(row))

    def _remember_hold(self, row: tuple[Any, ...], found: HoldState) -> HoldState:
        if len(self._holds) >= _DECODED_CACHE:
            self._holds.clear()
        self._holds[found.id] = (row, found)
        return found

    def _wrote(self, query: str, params: tuple[object, ...]) -> None:
        self.wrote = True
        if self.witness is None:
            self.witness = (query, params)

    # -- reads ---------------------------------------------------------------------------------

    @storage("read the units")
    def units(self) -> dict[str, int]:
        return dict(self.conn.execute(self.sql.units).fetchall())

    @storage("load an account")
    def load_account(self, customer: str) -> AccountState:
        if self.writing:
            known = self.accounts.get(customer)
            if known is not None:
                return known
        conn = self.conn
        rows = conn.execute(self.sql.account, (customer,)).fetchall()
        if not rows:
            return self.loaded(customer, rows, (), ())
        blocks = conn.execute(self.sql.live_blocks, (customer,)).fetchall()
        holds = conn.execute(self.sql.active_holds, (customer,)).fetchall()
        return self.loaded(customer, rows, blocks, holds)

    def loaded(self, customer: str, rows: Sequence[Any], blocks: Sequence[Any], holds: Sequence[Any]) -> AccountState:
        """The account read from its rows (``account``, ``live_blocks``, ``active_holds``),
        kept for the rest of a write transaction."""
        if not rows:
            state = AccountState(customer=customer)
        else:
            state = codec.account(
                customer,
                rows,
                {b.id: b for b in map(self._block, blocks)},
                {h.id: h for h in map(self._hold, holds)},
            )
            if rows[0][10]:  # settings in force: read only for an account that has some
                params = (customer, customer, customer)
                state = codec.settings_in_force(state, self.conn.execute(self.sql.settings_of, params).fetchall())
        if self.writing:
            self._remember_account(state)  # a new customer's: nothing stored to forget when it is saved
        return state

    @storage("read a customer's blocks")
    def blocks(self, customer: str) -> list[BlockState]:
        return [self._block(r) for r in self.conn.execute(self.sql.customer_blocks, (customer,))]

    @storage("read a customer's holds")
    def holds(self, customer: str) -> list[HoldState]:
        return [self._hold(r) for r in self.conn.execute(self.sql.customer_holds, (customer,))]

    @storage("read a customer's history")
    def history(self, customer: str) -> tuple[list[BlockState], list[HoldState], list[EntryState]]:
        conn = self.conn
        return (
            [self._block(r) for r in conn.execute(self.sql.customer_blocks, (customer,))],
            [self._hold(r) for r in conn.execute(self.sql.customer_holds, (customer,))],
            [codec.entry(r) for r in conn.execute(self.sql.customer_entries, (customer,))],
        )

    @storage("find a block")
    def find_block(self, block_id: str) -> BlockState | None:
        row = self.conn.execute(self.sql.block_by_id, (block_id,)).fetchone()
        return None if row is None else self._block(row)

    @storage("find a hold")
    def find_hold(self, hold_id: str) -> HoldState | None:
        row = self.conn.execute(self.sql.hold_by_id, (hold_id,)).fetchone()
        return None if row is None else self._hold(row)

    @storage("find an idempotency key")
    def find_operation(self, namespace: str, key: str) -> OperationRecord | None:
        row = self.conn.execute(self.sql.operation_by_key, (namespace, key)).fetchone()
        return None if row is None else codec.operation(row)

    @storage("list the remembered operations")
    def operations(self) -> list[OperationRecord]:
        return [codec.operation(row) for row in self.conn.execute(self.sql.all_operations)]

    @storage("list entries")
    def list_entries(self, query: EntryQuery) -> list[EntryState]:
        filters = [
            (field, value)
            for field, value in (
                ("customer", query.customer),
                ("unit", query.unit),
                ("block_id", query.block_id),
                ("op_id", query.op_id),
                ("ref", query.ref),
            )
            if value is not None
        ]
        found = self.sql.list_entries(
            after_seq=query.after_seq,
            limit=query.limit,
            filters=filters,
            kinds=None if query.kinds is None else sorted(query.kinds),
            since=None if query.since is None else codec.micros(query.since),
            until=None if query.until is None else codec.micros(query.until),
            after_txid=query.after_txid,
        )
        if found is None:
            return []
        sql, params = found
        return [codec.entry(r) for r in self.conn.execute(sql, params)]

    @storage("list the customers")
    def customers(self) -> list[str]:
        return [customer for (customer,) in self.conn.execute(self.sql.customers)]

    @storage("read a customer's profile")
    def profiles(self, customer: str) -> list[ProfileState]:
        return [codec.profile(row) for row in self.conn.execute(self.sql.profiles_of, (customer,))]

    @storage("find an external id")
    def customer_of(self, external_id: str) -> str | None:
        row = self.conn.execute(self.sql.customer_of, (external_id,)).fetchone()
        return None if row is None else str(row[0])

    @storage("find a customer")
    def first_seen(self, customer: str) -> datetime | None:
        row = self.conn.execute(self.sql.first_seen, (customer,)).fetchone()
        return None if row is None else codec.time(row[0])

    @storage("list the customers")
    def customer_page(self, after: int, limit: int, until: datetime) -> list[tuple[int, str]]:
        rows = self.conn.execute(self.sql.customer_page, (after, codec.micros(until), limit))
        return [(int(pos), str(customer)) for pos, customer in rows]

    @storage("read a customer's schedules")
    def schedules(self, customer: str) -> list[ScheduleState]:
        return [codec.schedule(text) for (text,) in self.conn.execute(self.sql.schedules_of, (customer,))]

    @storage("find a schedule")
    def find_schedule(self, schedule_id: str) -> ScheduleState | None:
        row = self.conn.execute(self.sql.schedule_by_id, (schedule_id,)).fetchone()
        return None if row is None else codec.schedule(row[0])

    @storage("read a customer's top-up rules")
    def top_ups(self, customer: str) -> list[tuple[datetime, str, TopUpState | None]]:
        return [
            (codec.time(at), unit, None if text is None else codec.top_up(text))
            for at, unit, text in self.conn.execute(self.sql.top_ups_of, (customer,))
        ]

    @storage("read a customer's alerts")
    def alerts(self, customer: str) -> list[AlertState]:
        return [codec.alert(text) for (text,) in self.conn.execute(self.sql.alerts_of, (customer,))]

    @storage("find an alert")
    def find_alert(self, alert_id: str) -> AlertState | None:
        row = self.conn.execute(self.sql.alert_by_id, (alert_id,)).fetchone()
        return None if row is None else codec.alert(row[0])

    @storage("list events")
    def list_events(self, query: EventQuery) -> list[EventState]:
        found = self.sql.list_events(
            customer=query.customer, after_seq=query.after_seq, after_txid=query.after_txid, limit=query.limit
        )
        if found is None:
            return []
        sql, params = found
        return [codec.event(*row) for row in self.conn.execute(sql, params)]

    # -- billing's rows (creditcore.billing.repository), on this connection -----------------------

    def billing(self) -> SqlSession:
        """Billing's reads and writes, in this transaction: the session's own methods."""
        return self

    @storage("read a billing object")
    def get_object(self, kind: str, object_id: str) -> BillingObject | None:
        row = self.conn.execute(self.sql.billing.get_object, (kind, object_id)).fetchone()
        return None if row is None else billing.billing_object(row)

    @storage("read a billing object")
    def find_key(self, kind: str, key: str) -> BillingObject | None:
        row = self.conn.execute(self.sql.billing.find_key, (kind, key)).fetchone()
        return None if row is None else billing.billing_object(row)

    @storage("list billing objects")
    def list_objects(
        self,
        kind: str,
        *,
        customer: str | Collection[str] | None = None,
        statuses: Iterable[str] | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[BillingObject]:
        wanted = None if statuses is None else sorted(set(statuses))
        if customer is not None and not isinstance(customer, str):
            customer = sorted(set(customer))
        text, params = self.sql.billing.list_objects(kind, customer, wanted, after, limit)
        return [billing.billing_object(row) for row in self.conn.execute(text, params)]

    @storage("read meter events")
    def find_meter_events(self, event_ids: Sequence[str]) -> dict[str, MeterEventRecord]:
        if not event_ids:
            return {}
        ids = list(dict.fromkeys(event_ids))
        rows = self.conn.execute(self.sql.billing.find_events(len(ids)), ids)
        return {event.event_id: event for event in map(billing.meter_event, rows)}

    @storage("read meter events")
    def meter_events(
        self, meter_id: str, *, customer: str | None, start: datetime, end: datetime
    ) -> list[MeterEventRecord]:
        sql = self.sql.billing
        span = (codec.micros(start), codec.micros(end))
        if customer is None:
            rows = self.conn.execute(sql.events_of_all, (meter_id, *span))
        else:
            rows = self.conn.execute(sql.events_in, (meter_id, customer, *span))
        return [billing.meter_event(row) for row in rows]

    @storage("write a billing object", write=True)
    def put_object(self, obj: BillingObject) -> BillingObject:
        sql = self.sql.billing
        row = (obj.kind, obj.id, obj.customer, obj.status, obj.key, obj.body)
        (number,) = self.conn.execute(sql.put_object, row).fetchone()
        self._wrote(sql.object_witness, (obj.kind, obj.id, obj.body))
        return attrs.evolve(obj, number=int(number))

    @storage("record meter events", write=True)
    def add_meter_events(self, events: Sequence[MeterEventRecord]) -> None:
        if not events:
            return
        sql = self.sql.billing
        self.send(sql.insert_events(len(events)), [value for e in events for value in billing.event_row(e)])
        self._wrote(sql.event_witness, (events[0].event_id,))

    @storage("take an invoice number", write=True)
    def take_number(self, counter: str) -> int:
        (value,) = self.conn.execute(self.sql.billing.take_number, (counter,)).fetchone()
        return int(value)

    @storage("read a customer's past")
    def past_history(self, customer: str, until: datetime) -> PastHistory:
        return past_history(self.conn, self.sql, customer, until, self._block, self._hold)

    # -- writes --------------------------------------------------------------------------------

    @storage("declare a unit", write=True)
    def add_unit(self, name: str, scale: int) -> None:
        self.send(self.sql.upsert_unit, (name, scale))
        self._wrote(self.sql.unit_witness, (name, scale))

    @storage("save an account", write=True)
    def save(self, changes: ChangeSet) -> list[EntryState]:
        conn = self.conn
        customer = changes.customer
        entries = changes.entries
        after = changes.account
        # the account as this transaction loaded it (lock() keeps it): what a block had before
        known = self.accounts.get(customer)
        before = known or AccountState(customer=customer)
        stored: list[EntryState] = []
        first: dict[str, int] = {}
        if entries:
            for number, entry in zip(self.number(len(entries)), entries, strict=True):
                stored.append(entry.numbered(number))
                first.setdefault(entry.customer, number)
        settings = changes.settings
        if known is None or before.last_at is None:
            self._save_whole_account(after, first.get(customer), forget=known is None)
            # its first entries or setting, as far as this connection knows: it is seen
            seen = (
                [e.at for e in stored]
                if stored or settings is NO_SETTINGS or after.last_at is None
                else [after.last_at]
            )
            if seen:
                self.send(self.sql.see_customer, (customer, codec.micros(min(seen))))
        else:
            self._save_account(before, after)
        for other, seq in first.items():
            if other != customer:
                self.send(self.sql.update_first_seq, (seq, other))
        if changes.blocks:
            self._save_blocks(before, changes.blocks)
        if changes.holds:
            self._save_holds(before, changes.holds)
        if settings is not NO_SETTINGS:
            self._save_settings(customer, settings)
        if stored:
            self._insert_entries(stored)
            self._wrote(self.sql.entry_witness, (stored[0].seq, stored[0].op_id))
            keep_snapshots(conn, self.send, self.sql, self.since_snapshot, self.snapshot_every, before, after, stored)
        else:
            self.wrote = True
        if self.writing:
            self._remember_account(after)
        return stored

    def _save_whole_account(self, after: AccountState, first_seq: int | None, *, forget: bool) -> None:
        """A customer's first write, or one whose account this connection did not load: its
        row and every unit's, whole (``forget``: and no unit row it does not have)."""
        send = self.send
        customer = after.customer
        last_at = codec.optional_micros(after.last_at)
        send(self.sql.upsert_account, (customer, last_at, after.next_number, first_seq, codec.settings_count(after)))
        if forget:
            send(self.sql.delete_units, (customer,))
        for unit in codec.account_units(after):
            send(self.sql.upsert_account_unit, codec.account_unit_row(after, unit, None))

    def _save_account(self, before: AccountState, after: AccountState) -> None:
        """Only what moved: the columns of each unit's totals that changed, stamped with the
        write's time, and the customer's row only for what is its own (the block counter, or
        the time of a write that moved no unit's figures). See ``account_units`` in the schema."""
        customer = after.customer
        last_at = codec.optional_micros(after.last_at)
        # a customer's history only moves forward; were it ever to go back, the unit rows'
        # times are forgotten, so that the account's row holds the latest
        forward = after.last_at is not None and before.last_at is not None and after.last_at >= before.last_at
        if not forward:
            self.send(self.sql.forget_unit_times, (customer,))
        stamped = False
        old_totals, old_settled, settled = before.totals, before.settlements, after.settlements
        units: list[str] = [
            unit
            for unit, figures in after.totals.items()
            if figures is not old_totals.get(unit) or settled.get(unit) is not old_settled.get(unit)
        ]
        if settled:  # a unit with settlements and no totals (none is made so, but a state may be)
            units.extend(unit for unit in settled if unit not in after.totals)
        for unit in units:
            names = codec.unit_moves(before, after, unit)
            if not names:
                continue
            if forward:
                names += ("last_at",)
                stamped = True
            # only what moved, or (a unit new to the customer) its row whole
            self.send(
                self.sql.write_account_unit(names), codec.account_unit_row(after, unit, last_at if forward else None)
            )
        own: tuple[str, ...] = ()
        if after.next_number != before.next_number:
            own += ("next_number",)
        if not stamped and after.last_at != before.last_at:
            own += ("last_at",)
        count = codec.settings_count(after)
        if count != codec.settings_count(before):
            own += ("settings",)
        if own:
            self.send(self.sql.write_account(own), (customer, last_at, after.next_number, None, count))

    def _save_settings(self, customer: str, settings: Settings) -> None:
        """Each schedule and alert the write changed, whole; each top-up rule version (the
        one it replaces no longer in force); its events, numbered by the store."""
        send, sql = self.send, self.sql
        for schedule in settings.schedules:
            text, ended = codec.setting_text(schedule), int(schedule.ended)
            send(sql.upsert_schedule, (customer, schedule.id, schedule.number, ended, text))
            self._wrote(sql.schedule_witness, (schedule.id, ended, text))
        for alert in settings.alerts:
            removed = int(alert.removed_at is not None)
            send(sql.upsert_alert, (customer, alert.id, alert.number, removed, codec.setting_text(alert)))
            self._wrote(sql.alert_witness, (alert.id, removed))
        for at, unit, rule in settings.top_ups:
            send(sql.retire_top_up, (customer, unit))
            body = None if rule is None else codec.setting_text(rule)
            live, when = int(rule is not None), codec.micros(at)
            send(sql.insert_top_up, (customer, customer, unit, when, live, body))
            self._wrote(sql.top_up_witness, (customer, unit, when, live, body, body))
        for event in settings.events:
            text = codec.setting_text(event)
            send(
                sql.insert_event,
                (customer, event.id, event.kind, event.unit, codec.micros(event.at), event.op_id, text),
            )

    def _block_pos(self, block_id: str) -> int | None:
        seen = self._blocks.get(block_id)
        if seen is None:
            return None
        pos: int = seen[0][0]
        return pos

    def _hold_pos(self, hold_id: str) -> int | None:
        seen = self._holds.get(hold_id)
        if seen is None:
            return None
        pos: int = seen[0][0]
        return pos

    def _save_blocks(self, before: AccountState, changed: tuple[BlockState, ...]) -> None:
        """A block the account had before whose figures alone moved is an UPDATE of those
        columns by its row key (its indexed columns stay put, unless it emptied); any other is
        written whole."""
        for block in changed:
            old = before.blocks.get(block.id)
            pos = self._block_pos(block.id)
            if old is not None and pos is not None and codec.block_fixed(old) == codec.block_fixed(block):
                names, values = codec.block_moves(old, block)
                if names:
                    self.send(self.sql.update_block(names), (*values, block.customer, pos))
                    # its cached row is the old one (decoded again from its new row when next
                    # read); its row key stays
                continue
            row = codec.block_row(block)
            pos = self._write_whole(
                self.sql.insert_block, self.sql.upsert_block, (*row, codec.live(block)), seen=pos is not None
            )
            self._remember_block((pos, *row), block)

    def _save_holds(self, before: AccountState, changed: tuple[HoldState, ...]) -> None:
        """As blocks: a hold the account had whose status or figures alone moved is an
        UPDATE of those columns; any other is written whole."""
        for found in changed:
            old = before.holds.get(found.id)
            pos = self._hold_pos(found.id)
            if old is not None and pos is not None and codec.hold_fixed(old) == codec.hold_fixed(found):
                names, values = codec.hold_moves(old, found)
                if names:
                    self.send(self.sql.update_hold(names), (*values, found.customer, pos))
                continue
            row = codec.hold_row(found)
            pos = self._write_whole(self.sql.insert_hold, self.sql.upsert_hold, row, seen=pos is not None)
            self._remember_hold((pos, *row), found)

    def _write_whole(self, insert: str, upsert: str, row: tuple[object, ...], *, seen: bool) -> int:
        """Write a block's or hold's row whole and return its row key: one this connection has
        never seen (a new one, as a rule) with a plain INSERT (:meth:`insert_new`); any other
        with an upsert that gives its row key back."""
        if not seen:
            pos = self.insert_new(insert, row)
            if pos is not None:
                return pos
        (found,) = self.conn.execute(upsert, row).fetchone()
        return int(found)

    def _insert_entries(self, stored: list[EntryState]) -> None:
        """The entries in one INSERT (per :data:`ENTRIES_PER_INSERT`), each referring to its
        block and hold by row key."""
        blocks, holds = self._blocks, self._holds
        rows = []
        for e in stored:
            block_id, hold_id = e.block_id, e.hold_id
            block = None if block_id is None else blocks.get(block_id)
            held = None if hold_id is None else holds.get(hold_id)
            if (block is None and block_id is not None) or (held is None and hold_id is not None):
                rows = self._entry_rows(stored)  # a row key this connection does not know
                break
            rows.append(
                codec.entry_row(e, None if block is None else block[0][0], None if held is None else held[0][0])
            )
        if len(rows) == 1:
            self.send(self.sql.insert_entries(1), rows[0])
            return
        for start in range(0, len(rows), ENTRIES_PER_INSERT):
            chunk = rows[start : start + ENTRIES_PER_INSERT]
            self.send(self.sql.insert_entries(len(chunk)), [value for row in chunk for value in row])

    def _entry_rows(self, stored: list[EntryState]) -> list[tuple[object, ...]]:
        blocks = self._positions("blocks", {e.block_id for e in stored if e.block_id is not None}, self._block_pos)
        holds = self._positions("holds", {e.hold_id for e in stored if e.hold_id is not None}, self._hold_pos)
        return [
            codec.entry_row(
                e, None if e.block_id is None else blocks[e.block_id], None if e.hold_id is None else holds[e.hold_id]
            )
            for e in stored
        ]

    def _positions(self, table: str, ids: set[str], known: Callable[[str], int | None]) -> dict[str, int]:
        """The row keys of the blocks (or holds) ``ids``: those this connection knows, and the
        others read. An id with no row is refused, as the reference by id refused it."""
        found: dict[str, int] = {}
        missing: list[str] = []
        for key in ids:
            pos = known(key)
            if pos is None:
                missing.append(key)
            else:
                found[key] = pos
        if missing:
            missing.sort()
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                found.update(self.conn.execute(self.sql.positions(table, len(chunk)), chunk))
            absent = [key for key in missing if key not in found]
            if absent:
                what = "block" if table == "blocks" else "hold"
                raise StorageError(
                    f"{self.database} could not save an account ({self.where}): an entry refers to {what} "
                    f"{absent[0]!r}, which is not stored (FOREIGN KEY); nothing was written"
                )
        return found

    @storage("save a profile", write=True)
    def save_profile(self, profile: ProfileState, released: str | None) -> None:
        customer = profile.customer
        if released is not None:
            self.send(self.sql.release_external_id, (released, customer))
        if profile.external_id is not None and profile.external_id != released:
            known = self.customer_of(profile.external_id)
            if known is None:
                self.send(self.sql.hold_external_id, (profile.external_id, customer))
            elif known != customer:
                raise StorageError(f"external id {profile.external_id!r} is held by customer {known!r}")
        (versions,) = self.conn.execute(self.sql.profile_count, (customer,)).fetchone()
        self.send(self.sql.insert_profile, codec.profile_row(profile))
        self.send(self.sql.see_customer, (customer, codec.micros(profile.at)))
        # found only once this version is stored
        self._wrote(self.sql.profile_witness, (customer, int(versions) + 1))

    @storage("record an idempotency key", write=True)
    def record_operation(self, record: OperationRecord) -> None:
        self.send(self.sql.upsert_operation, codec.operation_row(record))
        self._wrote(self.sql.operation_witness, (record.namespace, record.key, record.op_id))

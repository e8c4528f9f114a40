"""Snapshots of account state, and the past read through them, for any SQL database.

A snapshot is a cache of a customer's account state (live blocks, active holds, totals) right
after one of its entries, so that a past balance replays only the entries since the nearest
snapshot. It is dated by the customer's last entry then, and every entry after it must be
dated at or after it: a write that appends an earlier one drops the snapshots it precedes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from creditcore.repository import PastHistory, snapshot_due
from creditcore.state import AccountState, BlockState, EntryState, HoldState

from . import codec
from .statements import INT64_MAX, Statements

#: Entries of a customer between two snapshots of its account state (more for an account
#: with more live blocks and holds than that, so writing a snapshot stays a small share of
#: the writes).
# how many customers' counts of entries since their last snapshot a connection keeps
_SNAPSHOT_MEMO = 20_000
# ids per statement when reading rows by id
_CHUNK = 500


class Rows(Protocol):
    """What a DB-API cursor gives back (``sqlite3.Cursor``, ``psycopg.Cursor``)."""

    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The one method of a DB-API connection the shared layer uses."""

    def execute(self, sql: str, parameters: Sequence[Any], /) -> Rows: ...


Decode = Callable[[tuple[Any, ...]], Any]


def snapshot_text(state: AccountState) -> str:
    return codec.json_text(
        {
            "blocks": [list(codec.block_row(b)) for b in state.blocks.values() if b.remaining > 0],
            "holds": [list(codec.hold_row(h)) for h in state.holds.values() if h.status == "active"],
            "totals": codec.totals_text(state.totals),
            "last_at": codec.optional_micros(state.last_at),
            "next_number": state.next_number,
            "settlements": codec.settlements_text(state.settlements),
        }
    )


def snapshot(customer: str, text: str) -> AccountState:
    """The state :func:`snapshot_text` wrote (its block and hold rows have no row key)."""
    data = json.loads(text)
    return AccountState(
        customer=customer,
        blocks={b.id: b for b in (codec.block((None, *row)) for row in data["blocks"])},
        holds={h.id: h for h in (codec.hold((None, *row)) for row in data["holds"])},
        totals=codec.totals(data["totals"]),
        last_at=codec.optional_time(data["last_at"]),
        next_number=data["next_number"],
        settlements=codec.settlements(data["settlements"]),
    )


def keep_snapshots(
    conn: Connection,
    send: Callable[[str, Sequence[Any]], None],
    sql: Statements,
    counts: MutableMapping[str, int],
    every: int,
    before: AccountState,
    after: AccountState,
    stored: Sequence[EntryState],
) -> None:
    """After a save: drop the snapshots its entries are dated before, and take one when
    enough entries have piled up since the last. ``counts`` is the connection's count of
    entries per customer since its last snapshot (a hint: a wrong count only takes a
    snapshot early or late)."""
    customer = after.customer
    earliest = min(e.at for e in stored)
    since = counts.get(customer)
    if before.last_at is None or earliest < before.last_at:
        # the only case in which an entry may be dated before a snapshot (a customer's
        # history only moves forward, so this finds nothing unless that promise broke)
        send(sql.drop_snapshots_after, (customer, codec.micros(earliest)))
        since = None
    if since is None and before.last_at is None:
        since = len(stored)  # a customer's first entries: nothing before them to count
    elif since is None:
        row = conn.execute(sql.last_snapshot_seq, (customer,)).fetchone()
        (since,) = conn.execute(sql.entries_since, (customer, row[0] if row else 0)).fetchone()
    else:
        since += len(stored)
    if snapshot_due(since, every, after):
        assert after.last_at is not None
        send(sql.insert_snapshot, (customer, stored[-1].seq, codec.micros(after.last_at), snapshot_text(after)))
        since = 0
    if len(counts) >= _SNAPSHOT_MEMO:
        counts.clear()
    counts[customer] = since


def past_history(
    conn: Connection, sql: Statements, customer: str, until: datetime, block: Decode, hold: Decode
) -> PastHistory:
    """What a past balance replays: the nearest snapshot at or before ``until`` and the
    entries after it, with the blocks and holds they name (``block``/``hold`` decode a row of
    ``Statements.select_block``/``select_hold``)."""
    moment = codec.micros(until)
    row = conn.execute(sql.snapshot_at, (customer, moment)).fetchone()
    start = None if row is None else snapshot(customer, row[1])
    after = 0 if row is None else row[0]
    # no entry after the next snapshot is dated before it, so none is needed
    (last,) = conn.execute(sql.next_snapshot_seq, (customer, moment)).fetchone()
    rows = conn.execute(sql.past_entries, (customer, after, INT64_MAX if last is None else last, moment))
    entries = [codec.entry(r) for r in rows]
    held = start.blocks if start is not None else {}
    block_ids = sorted({e.block_id for e in entries if e.block_id is not None and e.block_id not in held})
    hold_ids = {e.hold_id for e in entries if e.hold_id is not None}
    if start is not None:
        hold_ids.update(start.holds)
    blocks: list[BlockState] = [block(r) for r in rows_by_id(conn, sql, sql.select_block, block_ids)]
    holds: list[HoldState] = [hold(r) for r in rows_by_id(conn, sql, sql.select_hold, sorted(hold_ids))]
    return PastHistory(start=start, blocks=blocks, holds=holds, entries=entries)


def rows_by_id(conn: Connection, sql: Statements, select: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for first in range(0, len(ids), _CHUNK):
        chunk = ids[first : first + _CHUNK]
        rows.extend(conn.execute(sql.by_ids(select, len(chunk)), chunk))
    return rows

"""Block and operation ids: time-ordered, unique across processes (see :func:`new_id`)."""

from __future__ import annotations

import os
import threading
import time

_TAIL_BITS = 80
_TAIL_END = 1 << _TAIL_BITS


class _IdClock:
    """The state behind :func:`_new_id`: the last millisecond and tail this process used."""

    __slots__ = ("lock", "ms", "tail")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms = -1
        self.tail = 0

    def reseed(self) -> None:
        # a forked child must not continue its parent's sequence (the two would hand out the
        # same ids): forget it, so the child's next id draws fresh random bits; the lock is
        # new too, in case another thread of the parent held it at the fork
        self.lock = threading.Lock()
        self.ms = -1
        self.tail = 0


_ids = _IdClock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reseed)


def new_id(prefix: str) -> str:
    """A new block or operation id: ``<prefix>_`` and 32 lowercase hex digits (128 bits).

    The ids are time-ordered, in the manner of ULID / UUIDv7 (monotonic): the first 48 bits
    are the wall-clock millisecond (``time.time_ns()``, not the ledger's injectable clock),
    the last 80 bits start, at each new millisecond, from fresh random bits
    (``os.urandom``) and count up by one for each further id in the same millisecond. So
    the ids one process makes are strictly increasing (also if the wall clock steps back:
    the last millisecond used is kept until the clock passes it again), and ids of
    different processes differ by at least 80 random bits drawn per millisecond; a forked
    child draws its own (``os.register_at_fork``). New keys thus land at the right edge of
    the SQLite indexes on block and operation ids instead of at random pages.

    Nothing may read meaning into an id beyond its uniqueness: the timestamp orders ids,
    it is not the time of the operation (that is the ledger's clock).
    """
    now = time.time_ns() // 1_000_000
    ids = _ids
    with ids.lock:
        if now > ids.ms:
            ids.ms = now
            ids.tail = tail = int.from_bytes(os.urandom(10), "big")
        else:
            tail = ids.tail + 1
            if tail >= _TAIL_END:  # 2**80 ids in one millisecond: borrow the next one
                ids.ms += 1
                tail = int.from_bytes(os.urandom(10), "big")
            ids.tail = tail
        ms = ids.ms
    return f"{prefix}_{ms << _TAIL_BITS | tail:032x}"

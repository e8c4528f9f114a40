"""Generated block and op ids: unique, time-ordered within a process, apart across forks."""

from __future__ import annotations

import os
import re
import sys
import threading

import pytest

from creditcore import Ledger
from creditcore.ids import new_id as _new_id

_FORM = re.compile(r"(blk|op)_[0-9a-f]{32}")


def test_ids_keep_their_form_and_increase_strictly() -> None:
    ids = [_new_id("op") for _ in range(20_000)]
    assert all(_FORM.fullmatch(i) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_threads_never_share_an_id() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(_new_id("blk") for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in made for i in out]
    assert len(set(every)) == len(every)
    assert all(out == sorted(out) for out in made)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
def test_a_forked_child_does_not_continue_its_parents_sequence() -> None:
    _new_id("op")  # the parent's sequence is under way
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, " ".join(_new_id("op") for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    ours = {_new_id("op") for _ in range(100)}
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    theirs = set(b"".join(chunks).decode().split())
    assert len(theirs) == 100
    assert not ours & theirs


def test_the_ledger_hands_out_time_ordered_ids() -> None:
    ledger = Ledger.memory()
    first = ledger.grant("ada", 10)
    second = ledger.grant("ada", 10)
    assert _FORM.fullmatch(first.block.id) and _FORM.fullmatch(first.op_id)
    assert first.block.id < second.block.id
    assert first.op_id < second.op_id

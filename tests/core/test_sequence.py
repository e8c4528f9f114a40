"""SortedTuple, the persistent sorted sequence under every index of an account, behaves as a
sorted list and never changes once made.

Each change is checked against a plain sorted list, and every earlier version is checked
again once later ones were made from it: a chunk shared by two versions must not move. The
chunks split at ``2 * LOAD`` items; the tests shrink ``LOAD`` to a few items so that a short
sequence of changes splits and empties many chunks, and one test splits at the real size.
"""

from __future__ import annotations

import pickle
import random
from bisect import insort
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditcore.core import sequence
from creditcore.core.sequence import SortedTuple

changes = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "discard"]), st.integers(0, 30)),
    max_size=120,
)


@contextmanager
def chunks_of(load: int) -> Iterator[None]:
    """Run with chunks of about ``load`` items (they split at twice that)."""
    saved = sequence.LOAD
    sequence.LOAD = load
    try:
        yield
    finally:
        sequence.LOAD = saved


def check_chunks(found: SortedTuple) -> None:
    """The layout every operation relies on: no empty chunk, each chunk's last item as its
    max, no chunk past the split size, and the chunks in order end to end."""
    chunks, maxes = found._chunks, found._maxes
    assert all(chunks), f"an empty chunk in {chunks!r}"
    assert maxes == tuple(chunk[-1] for chunk in chunks), f"maxes {maxes!r} are not the chunks' last items"
    assert all(len(chunk) <= 2 * sequence.LOAD for chunk in chunks), "a chunk grew past the split size"
    items = [item for chunk in chunks for item in chunk]
    assert items == sorted(items), f"the chunks are out of order: {chunks!r}"


def check_matches(found: SortedTuple, model: list[Any]) -> None:
    check_chunks(found)
    assert list(found) == model
    assert list(reversed(found)) == model[::-1]
    assert len(found) == len(model)
    assert bool(found) is bool(model)
    if model:
        assert found.first() == model[0]
    else:
        with pytest.raises(IndexError):
            found.first()
    assert found == SortedTuple.of(model), "equal to the same items, however they are chunked"
    if model:
        assert found != SortedTuple.of(model[1:]), "not equal to other items"


def run(start: list[int], steps: list[tuple[str, int]]) -> None:
    """Apply ``steps`` to ``SortedTuple.of(start)`` and to a sorted list side by side; then
    check that every version still holds what it held when it was made."""
    model = sorted(start)
    found = SortedTuple.of(start)
    check_matches(found, model)
    versions = [(found, list(model))]
    for op, item in steps:
        if op == "add":
            found = found.add(item)
            insort(model, item)
        elif op == "remove":
            if item in model:
                found = found.remove(item)
                model.remove(item)
            else:
                before = found
                with pytest.raises(KeyError):
                    found.remove(item)
                assert found is before
        else:
            discarded = found.discard(item)
            if item in model:
                model.remove(item)
            else:
                assert discarded is found, "discard of an absent item gives the sequence itself"
            found = discarded
        check_matches(found, model)
        versions.append((found, list(model)))
    for version, held in versions:
        assert list(version) == held, "an earlier version changed when a later one was made from it"
        check_chunks(version)


@given(st.lists(st.integers(0, 30), max_size=40), changes)
@settings(max_examples=200, deadline=None)
def test_changes_match_a_sorted_list_and_leave_earlier_versions_alone(
    start: list[int], steps: list[tuple[str, int]]
) -> None:
    run(start, steps)


@given(st.integers(1, 4), st.lists(st.integers(0, 30), max_size=40), changes)
@settings(max_examples=200, deadline=None)
def test_small_chunks_split_and_empty_as_a_sorted_list_would(
    load: int, start: list[int], steps: list[tuple[str, int]]
) -> None:
    with chunks_of(load):
        run(start, steps)


def test_a_chunk_splits_past_twice_the_load_at_the_real_size() -> None:
    rng = random.Random(7)
    items = [rng.randrange(500) for _ in range(6 * sequence.LOAD)]
    found = SortedTuple()
    model: list[int] = []
    for item in items:
        found = found.add(item)
        insort(model, item)
    assert len(found._chunks) > 2, "adding six loads' worth of items split the chunks"
    check_matches(found, model)
    for item in items[: 4 * sequence.LOAD]:
        found = found.remove(item)
        model.remove(item)
    check_matches(found, model)


def test_adding_in_descending_order_splits_the_first_chunk() -> None:
    with chunks_of(2):
        found = SortedTuple()
        for item in range(20, 0, -1):
            found = found.add(item)
            check_chunks(found)
        assert list(found) == list(range(1, 21))
        assert len(found._chunks) > 2


def test_removing_an_absent_item_raises_key_error() -> None:
    with pytest.raises(KeyError):
        SortedTuple().remove(1)
    with pytest.raises(KeyError):
        SortedTuple.of([1, 3]).remove(2)
    with pytest.raises(KeyError):
        SortedTuple.of([1, 3]).remove(4)  # past the last item


def test_duplicates_are_kept_and_removed_one_at_a_time() -> None:
    with chunks_of(1):
        found = SortedTuple.of([2, 2, 2, 1, 3])
        check_chunks(found)
        found = found.remove(2)
        assert list(found) == [1, 2, 2, 3]
        found = found.add(2).add(2)
        check_chunks(found)
        assert list(found) == [1, 2, 2, 2, 2, 3]


def test_a_sorted_tuple_is_not_hashable_and_not_equal_to_a_list() -> None:
    with pytest.raises(TypeError):
        hash(SortedTuple.of([1]))
    assert SortedTuple.of([1, 2]) != [1, 2]


def index_items(n: int) -> list[tuple[datetime, int, str, str]]:
    """Items shaped like an index's: (time, number, id, unit)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(n)
    return [
        (start + timedelta(minutes=rng.randrange(50)), i, f"b{i}", rng.choice(["credits", "tokens"])) for i in range(n)
    ]


@given(st.integers(1, 4), st.integers(0, 60), st.integers(0, 60))
@settings(max_examples=50, deadline=None)
def test_pickling_round_trips_and_the_copy_takes_further_changes(load: int, n: int, removed: int) -> None:
    with chunks_of(load):
        items = index_items(n)
        found = SortedTuple.of(items)
        copy = pickle.loads(pickle.dumps(found))
        assert copy == found
        assert copy._chunks == found._chunks and copy._maxes == found._maxes
        check_chunks(copy)
        model = sorted(items)
        later = (datetime(2027, 1, 1, tzinfo=UTC), 0, "late", "credits")
        copy = copy.add(later)
        model.append(later)
        for item in items[:removed]:
            copy = copy.remove(item)
            model.remove(item)
        check_matches(copy, model)
        assert list(found) == sorted(items), "changing the copy leaves the original alone"

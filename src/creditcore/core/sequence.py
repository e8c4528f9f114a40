"""A persistent sorted sequence: the ordered indexes of an account (see :mod:`.index`).

A :class:`SortedTuple` never changes: :meth:`~SortedTuple.add` and
:meth:`~SortedTuple.remove` return a new sequence that shares every chunk but one with the
old. So a rule can keep a customer's blocks in burn order, and the state it was given stays
as it was, at the cost of one chunk and the list of chunks per change, not of the whole
sequence.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

#: Items per chunk, about; a chunk splits at twice this.
LOAD = 128


class SortedTuple:
    """Items in ascending order, in chunks of about :data:`LOAD`; duplicates are allowed."""

    __slots__ = ("_chunks", "_maxes")

    def __init__(self, chunks: tuple[tuple[Any, ...], ...] = (), maxes: tuple[Any, ...] = ()) -> None:
        self._chunks = chunks
        self._maxes = maxes  # the last item of each chunk

    @classmethod
    def of(cls, items: Any) -> SortedTuple:
        ordered = sorted(items)
        chunks = tuple(tuple(ordered[i : i + LOAD]) for i in range(0, len(ordered), LOAD))
        return cls(chunks, tuple(chunk[-1] for chunk in chunks))

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def __iter__(self) -> Iterator[Any]:
        for chunk in self._chunks:
            yield from chunk

    def __reversed__(self) -> Iterator[Any]:
        for chunk in reversed(self._chunks):
            yield from reversed(chunk)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SortedTuple) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SortedTuple({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SortedTuple, (self._chunks, self._maxes))

    def add(self, item: Any) -> SortedTuple:
        """A sequence with ``item`` added in its place."""
        chunks, maxes = self._chunks, self._maxes
        if not chunks:
            return SortedTuple(((item,),), (item,))
        i = bisect_left(maxes, item)
        if i == len(chunks):
            i -= 1
        chunk = chunks[i]
        j = bisect_left(chunk, item)
        grown = (*chunk[:j], item, *chunk[j:])
        if len(grown) <= 2 * LOAD:
            return SortedTuple((*chunks[:i], grown, *chunks[i + 1 :]), (*maxes[:i], grown[-1], *maxes[i + 1 :]))
        low, high = grown[:LOAD], grown[LOAD:]
        return SortedTuple((*chunks[:i], low, high, *chunks[i + 1 :]), (*maxes[:i], low[-1], high[-1], *maxes[i + 1 :]))

    def remove(self, item: Any) -> SortedTuple:
        """A sequence without one occurrence of ``item``; raises ``KeyError`` if absent."""
        chunks, maxes = self._chunks, self._maxes
        i = bisect_left(maxes, item)
        if i < len(chunks):
            chunk = chunks[i]
            j = bisect_left(chunk, item)
            if j < len(chunk) and chunk[j] == item:
                if len(chunk) == 1:
                    return SortedTuple((*chunks[:i], *chunks[i + 1 :]), (*maxes[:i], *maxes[i + 1 :]))
                shrunk = (*chunk[:j], *chunk[j + 1 :])
                return SortedTuple((*chunks[:i], shrunk, *chunks[i + 1 :]), (*maxes[:i], shrunk[-1], *maxes[i + 1 :]))
        raise KeyError(item)

    def discard(self, item: Any) -> SortedTuple:
        """A sequence without one occurrence of ``item``, or this one if it is absent."""
        try:
            return self.remove(item)
        except KeyError:
            return self

    def first(self) -> Any:
        """The smallest item; raises ``IndexError`` when empty."""
        if not self._chunks:
            raise IndexError("first() of an empty SortedTuple")
        return self._chunks[0][0]

"""Burn order: which block a burn, a hold or a capture draws from first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from creditcore.errors import ValidationError

if TYPE_CHECKING:
    from creditcore.core.state import BlockState

#: Each key maps a block to a sortable value; smaller burns first. ``_EXPRESSIONS`` holds the
#: same functions as source, from which each order compiles its key into one function.
KEYS: dict[str, Callable[[BlockState], Any]] = {
    # lower priority number burns first
    "priority": lambda b: b.priority,
    # sooner expiry first; never-expiring last
    "expires_at": lambda b: (0, b.expires_at) if b.expires_at is not None else (1,),
    # scoped credit is the narrower one, so it goes first while the burn can use it
    "scope": lambda b: 0 if b.scope is not None else 1,
    # free credit before credit that was paid for
    "category": lambda b: 0 if b.category == "promotional" else 1,
    # cheaper credit first (None counts as 0)
    "cost_basis": lambda b: b.cost_basis if b.cost_basis is not None else Decimal(0),
    "effective_at": lambda b: b.effective_at,
    # creation order within the customer; always the last tie-breaker
    "created": lambda b: b.number,
}


_EXPRESSIONS: dict[str, str] = {
    "priority": "b.priority",
    "expires_at": "((0, b.expires_at) if b.expires_at is not None else (1,))",
    "scope": "(0 if b.scope is not None else 1)",
    "category": "(0 if b.category == 'promotional' else 1)",
    "cost_basis": "(b.cost_basis if b.cost_basis is not None else ZERO)",
    "effective_at": "b.effective_at",
    "created": "b.number",
}


def _compile(keys: tuple[str, ...]) -> Callable[[BlockState], tuple[Any, ...]]:
    """One function that builds the whole sort key: a burn sorts every eligible block, and
    calling one function per key and per block cost more than the draw itself. The source
    comes from ``_EXPRESSIONS`` only, never from the caller."""
    source = f"lambda b: ({', '.join(_EXPRESSIONS[k] for k in keys)},)"
    key: Callable[[BlockState], tuple[Any, ...]] = eval(source, {"ZERO": Decimal(0)})
    return key


def _as_keys(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            "burn_order", f"expected a sequence of key names such as ['priority', 'expires_at'], got {value!r}"
        )
    keys = tuple(value)
    for key in keys:
        if not isinstance(key, str):
            raise ValidationError("burn_order", f"every key must be a str naming a key; got {key!r}")
    return keys


@attrs.frozen
class BurnOrder:
    """A deterministic total order over a customer's blocks.

    ``keys`` name entries of :data:`KEYS`; ``"created"`` is appended when missing so the
    order is total.

    >>> BurnOrder.default().keys
    ('priority', 'expires_at', 'scope', 'category', 'cost_basis', 'effective_at', 'created')
    """

    keys: tuple[str, ...] = attrs.field(converter=_as_keys)
    """The keys, most significant first (``"created"``, the creation order, is added last when
    missing)."""

    @keys.validator
    def _check(self, _attribute: object, value: tuple[str, ...]) -> None:
        for key in value:
            if key not in KEYS:
                raise ValidationError("burn_order", f"unknown key {key!r}; known keys: {', '.join(KEYS)}")
        if len(set(value)) != len(value):
            raise ValidationError("burn_order", "a key is named twice")

    sort_key: Callable[[BlockState], tuple[Any, ...]] = attrs.field(init=False, eq=False, repr=False)
    """:meth:`key` as one compiled function, for ``list.sort(key=...)``."""

    def __attrs_post_init__(self) -> None:
        if "created" not in self.keys:
            object.__setattr__(self, "keys", (*self.keys, "created"))
        object.__setattr__(self, "sort_key", _compile(self.keys))

    @classmethod
    def default(cls) -> BurnOrder:
        """priority, expiry (never last), scoped first, promotional first, cost basis,
        effective time, creation."""
        return cls(("priority", "expires_at", "scope", "category", "cost_basis", "effective_at", "created"))

    @classmethod
    def fifo(cls) -> BurnOrder:
        """Oldest credit first: effective time, then creation."""
        return cls(("effective_at", "created"))

    def __reduce__(self) -> tuple[Any, ...]:
        # the compiled key is made again from the keys (a function made by eval does not pickle)
        return (BurnOrder, (self.keys,))

    def key(self, block: BlockState) -> tuple[Any, ...]:
        """The sort key of ``block`` under this order."""
        return self.sort_key(block)

    def sort(self, blocks: Iterable[BlockState]) -> list[BlockState]:
        """``blocks`` in the order a burn draws them."""
        return sorted(blocks, key=self.sort_key)


#: The order of a ledger built without ``burn_order``, and of every hold timeout.
DEFAULT_ORDER = BurnOrder.default()

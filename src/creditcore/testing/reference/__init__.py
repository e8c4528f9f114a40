"""A reference ledger: the documented rules written down as plainly as possible, for the state
machine.

It shares no code with the ledger's rules (``creditcore.rules``, ``state``, ``order``):
blocks and holds are plain dataclasses in dicts and lists, amounts are ``Decimal``, the
default burn order is one sort key spelled out key by key, and expiry is decided by
comparing times whenever something is read. Nothing is recorded "lazily": every figure at
time ``t`` is recomputed from the events dated at or before ``t``, which also makes reads of
the past and of the future free. It is slow and meant to be obviously right: a bug that
survives the state machine has to be in both.

What the model keeps is what the callers did, dated: each block's :class:`Move` list (credit a
write took out of it or gave back to it: burns, captures, voids, moves to a new block by
``change_expiry``, a reversal's returns), the holds, and each customer's :class:`DebtChange`
list (debt a burn recorded, debt a reversal cancelled or handed back to the blocks that settled
it). Everything that happens by itself is derived when read, in one walk through a block's
events in time order (:meth:`ReferenceLedger.figures`): expiry takes the unheld credit at
``expires_at``; a hold's credit comes back when it is released or times out; credit that comes
back into an expired block expires at once, into a voided block (one a void left with nothing
unheld) is voided at once; a single-use block that a burn or capture has used is spent: at the
end of that op, and of every later op that gives credit back to it, its unheld credit is voided;
an unscoped block granted with ``settle_debt`` pays off debt the moment it becomes active (at
the grant, or at its ``effective_at``). What a block settles depends on the debt then, so
settlements come from a walk through the customer's debt changes and settling blocks in time
order (:meth:`ReferenceLedger.debt_view`). The order of events at one instant is spelled out by
:data:`Key`.

A burn, hold or preview may use a block that is unscoped or whose scope set meets the call's,
and (with ``categories``) is of one of the categories named; a refund is a new block, and its
op's reversals and refunds together stay within what it took.

The write methods take the ledger's arguments and raise the ledger's error classes
(:mod:`creditcore.errors`), so the machine can compare outcomes one to one. The machine
passes the ids the ledger made (``block_id``, ``new_block_id``, ``new_op_id``) so that later
calls can name blocks and operations the same way on both.

The model runs a call's checks in the order the Operations page of the docs gives: arguments
(types, ranges, precision, ``expires_at`` after an explicit ``effective_at``, a capture within
the hold), then the idempotency key (for a capture or release: the hold's ending call, replayed
or refused with ``HoldNotActive``), then time order, then state. Where that leaves a check's
place to judgement: void, reverse, refund and change_expiry first need their block or operation
to know the unit, so an unknown one raises ``NotFound`` before precision and key are looked at;
what the target is (a reversal or refund of an op that is neither a burn nor a capture) and what
it has left count as state; a refund's ``expires_at`` not after ``at`` is an argument, as a
grant's. Choices the docs describe (the Operations page) are followed: a reversal undoes the
debt part first (cancelling what is still owed, then giving settled debt back to the settling
blocks, latest settlement first), then gives credit back to the drawn blocks in the reverse of
the draw order; ``change_expiry`` refuses ``expires_at`` not after ``at`` (an argument, checked
once ``at`` is known), then an empty block (``Conflict``), then an ``expires_at`` not after the
block's ``effective_at``.

Schedules, auto top-ups and balance alerts depend on the balance at an instant, so the model
records them as the ledger does, instant by instant in time order, before each write up to its
time and at a sweep (:mod:`.due`): a period's carry (moves taken before the instant's expiries)
and fresh grant, a top-up at the end of each step that lowered net to its threshold or below,
and the alerts' events over the step. A read past what is recorded works on a copy advanced to
its time; a write that fails is rolled back (``commit``/``rollback``, which the machine calls
after each write). Boundaries come from :func:`creditcore.periods.add` and ``index_at``;
everything else is the model's own.

The model is one class put together from parts, one module each: :mod:`.arguments` (reading
a call's arguments), :mod:`.records` (what it keeps, the burn order key, what it returns),
:mod:`.core` (state, time order, lookups, keys), :mod:`.walks` (the two walks, the burn
plan), :mod:`.settings` (schedules, rules, alerts and events as kept), :mod:`.due` (what
falls due, the end of a step, copies and rollback), and the operations: :mod:`.grants`
(grants and burns), :mod:`.holds` (holds, captures, releases), :mod:`.corrections` (voids,
expiry changes, reversals), :mod:`.refunds` (refunds), :mod:`.schedules`, :mod:`.top_ups`,
:mod:`.alerts` and :mod:`.reads` (reads and the sweep).
"""

from __future__ import annotations

from creditcore.testing.reference.alerts import Alerts
from creditcore.testing.reference.arguments import (
    check_sign,
    parse_amount,
    parse_categories,
    parse_cost_basis,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_scope,
    parse_text,
    parse_time,
)
from creditcore.testing.reference.core import ReferenceCore
from creditcore.testing.reference.corrections import Corrections
from creditcore.testing.reference.due import DueEvents
from creditcore.testing.reference.grants import GrantsAndBurns
from creditcore.testing.reference.holds import HoldOperations
from creditcore.testing.reference.reads import Reads
from creditcore.testing.reference.records import (
    BALANCE_FIELDS,
    ZERO,
    BlockFigures,
    DebtChange,
    DebtView,
    ExpectedEntry,
    Fingerprint,
    HoldView,
    Key,
    Move,
    RefBlock,
    RefHold,
    RefOp,
    RefResult,
    burn_order_key,
)
from creditcore.testing.reference.refunds import Refunds
from creditcore.testing.reference.schedules import Schedules
from creditcore.testing.reference.settings import (
    ALERT_FIELDS,
    EVENT_FIELDS,
    SCHEDULE_FIELDS,
    TOP_UP_FIELDS,
    RefAlert,
    RefEvent,
    RefSchedule,
    RefTopUp,
    parse_every,
)
from creditcore.testing.reference.top_ups import TopUps
from creditcore.testing.reference.walks import ReferenceWalks

__all__ = [
    "ALERT_FIELDS",
    "BALANCE_FIELDS",
    "EVENT_FIELDS",
    "SCHEDULE_FIELDS",
    "TOP_UP_FIELDS",
    "Alerts",
    "DueEvents",
    "RefAlert",
    "RefEvent",
    "RefSchedule",
    "RefTopUp",
    "Schedules",
    "TopUps",
    "parse_every",
    "ZERO",
    "BlockFigures",
    "Corrections",
    "DebtChange",
    "DebtView",
    "ExpectedEntry",
    "Fingerprint",
    "GrantsAndBurns",
    "HoldOperations",
    "HoldView",
    "Key",
    "Move",
    "Reads",
    "RefBlock",
    "RefHold",
    "RefOp",
    "RefResult",
    "ReferenceCore",
    "ReferenceLedger",
    "ReferenceWalks",
    "Refunds",
    "burn_order_key",
    "check_sign",
    "parse_amount",
    "parse_categories",
    "parse_cost_basis",
    "parse_id",
    "parse_optional_id",
    "parse_optional_time",
    "parse_scope",
    "parse_text",
    "parse_time",
]


class ReferenceLedger(Schedules, TopUps, Alerts, GrantsAndBurns, HoldOperations, Corrections, Refunds, Reads):
    """The naive model the state machine checks the real ledger against."""

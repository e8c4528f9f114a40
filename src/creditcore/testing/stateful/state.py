"""What the state machine keeps beside the ledger and the model: its clock, the calls made
so far, the known gaps between the ledger and its documented rules, and how a rule picks ``at``, an
amount and the customer a call writes to."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from hypothesis.stateful import RuleBasedStateMachine

from creditcore.ledger import Ledger
from creditcore.model import Result
from creditcore.testing import strategies as cst
from creditcore.testing.reference import RefBlock, ReferenceLedger, RefHold, RefOp, parse_categories, parse_scope
from creditcore.testing.stateful.calls import HOLDS, HOUR, START, TINY, UNITS, Call, Clock, Names


class MachineState(RuleBasedStateMachine):
    """The machine's state and the choices its rules share; the hooks a subclass overrides."""

    #: The holds placed and not yet ended, for the capture and release rules.
    holds = HOLDS

    #: Whether the machine also makes schedules, top-up rules and alerts and
    #: checks their invariants: they multiply the due events every step records, so the long
    #: run leaves them out and a shorter one (:func:`run_state_machine` ``with_settings=True``)
    #: takes them in.
    with_settings: bool = False

    #: Calls that both the ledger and the model refuse, but with different errors, because
    #: the ledger checks in another order than the documented one ("arguments, idempotency
    #: key, time order, then state", the Operations page of the docs): ``(call, the model's
    #: error, the ledger's error)``. Neither side changes state, so the run stays meaningful.
    #: Each is a reported discrepancy; remove its entry once the ledger follows that order
    #: there:
    #:
    #: - a refund whose ``expires_at`` is not later than ``at``, of an op with nothing (or
    #:   not enough) left, or of an op that is not a burn or capture: a refund's ``expires_at``
    #:   is an argument as a grant's, checked against ``at`` before state, as the ledger's
    #:   grant, hold and change_expiry do; the ledger's refund checks the op and what it has
    #:   left first.
    known_check_order_gaps: frozenset[tuple[str, str, str]] = frozenset({
        ("refund", "ValidationError:expires_at", "ValidationError:amount"),
        ("refund", "ValidationError:expires_at", "ValidationError:op_id"),
    })  # fmt: skip

    #: Calls both refuse, with another error than the docs name: ``(call, the model's error,
    #: the ledger's error)``, as above. Each is a reported discrepancy:
    #:
    #: - reversing a capture of 0: the docs have it as a capture with nothing left to reverse
    #:   (``ValidationError`` on ``amount``); the ledger sees only the release and calls it
    #:   "not a burn or capture" (``ValidationError`` on ``op_id``).
    #:
    #: (A burn that wrote no entry, with ``overdraft="partial"`` and nothing to draw, is
    #: another: the ledger raises ``NotFound`` for the op id it returned, before the key and
    #: time checks. The machine does not reverse those: see :meth:`_reversal_targets`.)
    known_error_gaps: frozenset[tuple[str, str, str]] = frozenset()

    #: The ledger decides an upcoming block's settlement once, when a write or sweep first
    #: brings the customer past its ``effective_at``; if that wrote no entry, the customer's
    #: history may still take a debt burn dated before ``effective_at``, which the block then
    #: never settles (it should pay off the debt owed the moment it becomes active). While
    #: this is so, the machine does not date a write between the ``effective_at`` of a pending
    #: settlement and the last time the ledger brought the customer up to date. A reported
    #: discrepancy: set it to False once the ledger settles such debt.
    dodge_dropped_settlements: bool = False

    #: A void or ``change_expiry`` of a block that a due period start (or top-up) makes by
    #: the write's time, but that no write has recorded yet, must act as on a recorded block
    #: (due events count whether recorded or not; ``get_block`` already finds it).
    #: True while the ledger answers ``NotFound`` there: the machine then aims voids and
    #: expiry changes only at recorded blocks. A reported discrepancy.
    dodge_unrecorded_blocks: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.ledger = self.make_ledger(self.clock)
        for unit, scale in UNITS.items():
            if unit != "credits":
                self.ledger.define_unit(unit, scale)
        self.model = ReferenceLedger(UNITS, self.clock)
        self.calls: list[Call] = []
        """Every keyed call made, first calls and failures included, for the replay rule."""
        self.originals: dict[tuple[str, str], Result] = {}
        """The ledger's result of each keyed call that succeeded the first time."""
        self.instants: list[datetime] = [START]
        self.last_seq = 0
        self.entry_times: dict[str, datetime] = {}
        self.advanced: dict[str, datetime] = {}
        """The latest time each customer was brought up to date by a write or a sweep."""
        self.took: dict[str, Decimal] = {}
        """What each burn or capture took, from its stored entries (burn, debt, capture)."""
        self.given: dict[str, Decimal] = {}
        """What the reversals and refunds of each op gave, from their stored entries."""
        self.due_grants: dict[str, Decimal] = {}
        """What each schedule period, carry and top-up op granted, from its stored entry."""
        self._ids = itertools.count(1)

    # -- for subclasses --------------------------------------------------------------------

    def make_ledger(self, clock: Clock) -> Ledger:
        """The ledger under test, on a fresh, empty store, reading time from ``clock``.

        Override it to run the machine on another adapter.
        """
        return Ledger.memory(clock=clock)

    def teardown(self) -> None:
        self.ledger.close()

    def clock(self) -> datetime:
        return self.now

    # -- time ------------------------------------------------------------------------------

    def _time_for(self, choice: str, customer: str | None, zone: tzinfo) -> datetime | None:
        """The ``at`` to pass: ``None`` for the clock, else an instant written in ``zone``."""
        if choice == "clock":
            return None
        last = self.model.last_write_at(customer) if customer is not None else None
        if last is None:
            t = self.now - HOUR if choice == "stale" else self.now
        elif choice == "last":
            t = last
        elif choice == "between":
            t = last + (self.now - last) / 2
        elif choice == "stale":
            t = last - TINY
        else:
            t = self.now
        if customer is not None and self.dodge_dropped_settlements and (last is None or t >= last):
            t = self._after_dropped_settlements(customer, t)
        return t.astimezone(zone)

    def _after_dropped_settlements(self, customer: str, t: datetime) -> datetime:
        """``t``, or the last time the ledger brought ``customer`` up to date if an upcoming
        block that settles debt became active in between (see
        :attr:`dodge_dropped_settlements`)."""
        advanced = self.advanced.get(customer)
        if advanced is None or t >= advanced:
            return t
        for block in self.model.blocks.values():
            pending = block.settle_key is not None and block.settle_key[1] == 0
            if block.customer == customer and pending and t < block.effective_at <= advanced:
                return advanced
        return t

    @staticmethod
    def _grid(t: datetime, hours: int, zone: tzinfo = UTC) -> datetime:
        """Whole hours after ``t``'s hour: grants share these instants, so expiries tie and
        clock jumps land exactly on them."""
        base = t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return (base + hours * HOUR).astimezone(zone)

    def _sized(self, size: str, amount: object, customer: str, unit: str, scope: Names, at: datetime | None,
               categories: Names = None) -> object:  # fmt: skip
        """``amount``, or exactly what a burn with ``scope`` and ``categories`` could draw at
        ``at`` (``all``), or one minor unit more (``all+1``): the boundaries of the
        overdraft rules (``reject`` refuses ``all+1``)."""
        if size == "drawn":
            return amount
        t = at if at is not None else self.model.read_time(customer)
        plan, _ = self.model.plan(customer, unit, parse_scope(scope), Decimal(10**12), t, parse_categories(categories))
        scale = UNITS[unit]
        minor = int(sum((take for _, take in plan), Decimal(0)).scaleb(scale)) + (size == "all+1")
        return cst.render_amount(max(minor, 1), scale, minor)

    def _customer_of(self, call: Call) -> str | None:
        """Whose history the call writes to: named, or the owner of its hold, block or op
        (``None`` if that is unknown)."""
        kw = call.kwargs
        if "customer" in kw:
            return str(kw["customer"])
        found: RefHold | RefBlock | RefOp | None = None
        if "hold_id" in kw:
            found = self.model.holds.get(kw["hold_id"])
        elif "block_id" in kw:
            found = self.model.blocks.get(kw["block_id"])
        elif "op_id" in kw:
            found = self.model.ops.get(kw["op_id"])
        elif "schedule_id" in kw:
            return getattr(self.model.schedules.get(kw["schedule_id"]), "customer", None)
        elif "alert_id" in kw:
            return getattr(self.model.alerts.get(kw["alert_id"]), "customer", None)
        return found.customer if found is not None else None

    def _reversal_targets(self) -> list[RefOp]:
        """Every op so far but the burns that wrote nothing (see :attr:`known_error_gaps`)."""
        return [op for op in self.model.ops.values() if op.wrote]

    def _has_drawn(self) -> bool:
        """Whether some burn or capture wrote entries: something to reverse or refund."""
        return any(op.kind in ("burn", "capture") for op in self._reversal_targets())

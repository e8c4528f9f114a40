"""A Hypothesis state machine that drives a :class:`~creditcore.Ledger` and the
:class:`~creditcore.testing.reference.ReferenceLedger` side by side.

The rules: grants (some upcoming, some settling debt, some not, some single-use), burns
(``overdraft`` ``reject``, ``partial`` or ``debt``) and holds (both with scope sets and category
filters), captures, releases, burns, holds and captures aimed at unused single-use blocks, voids
(whole or partial, of active or upcoming blocks), reversals of burns and captures (full,
partial, several of one op, of debt still owed or already settled), refunds of them (full,
partial, several, too much), expiry changes, replays of keyed calls, bad input, clock jumps and
sweeps, and reads at other times (previews with scope sets and categories); and schedules
(``schedule_grant``: refill, capped carry, the reset clamp, a first amount of their own; every
45 minutes to a day, starting now or later, on an anchor of their own, ending or not, scoped or
single-use now and then, their id given, generated — and reused with other arguments — or keyed)
and their cancels (``cancel_schedule``), auto top-up rules in amount or target mode at
thresholds of either sign (``set_top_up``, set again as they are, or removed), balance alerts of
each kind (``add_alert``, again under their id, removed), and reads of schedules, rules, alerts
and the event outbox paged with its cursor at other times (``read_settings``).

Every rule makes the same call on both and requires the same outcome: the same error class
(and field, requested/available amounts, hold status), or the same result — amounts, the
blocks drawn and in which order, every entry of a grant, burn, capture, release, void,
reversal, refund or expiry change (kind, block, amount, in order; a void's description), the
replayed flag. After every step the invariants check the ledger on its own (the balance
identity, ``0 <= held <= remaining <= amount``, entries written only by successful first
calls, ``seq`` strictly increasing, a rebuild from the stored history reproducing the stored
state, a spent single-use block holding no unheld credit, an op's reversals and refunds
within what it took, each schedule period, carry and top-up granted once, net above the
threshold of every top-up rule in force) and against the model (balances, blocks in burn
order with their single-use, source, schedule and usage figures, holds, what each op has
left to give back, every event of the outbox in each customer's order, schedules, top-up
rules and alerts).

The reference model works out schedules, top-ups and alert events on its own (see
:mod:`creditcore.testing.reference`): it records them as the ledger does, before a write up
to its time and at a sweep, and the machine rolls it back when a write is refused.

Run it against any adapter by overriding :meth:`LedgerStateMachine.make_ledger`::

    class SQLiteMachine(LedgerStateMachine):
        def make_ledger(self, clock):
            return Ledger.sqlite(fresh_path(), clock=clock)

    TestSQLite = SQLiteMachine.TestCase

or with :func:`run_state_machine`. The ledger gets a clock the machine moves by hand; the
number of examples and steps comes from the active Hypothesis profile.

Adding an operation takes: a method on the reference model that validates in the documented
order (arguments, key, time order, state), records its events (a
:class:`~creditcore.testing.reference.Move` on each block it touches, a ``DebtChange`` if it
changes debt) and returns a :class:`~creditcore.testing.reference.RefResult`, with ``entries``
when it can spell them out; if the events are of a new kind, a case in the model's walk through
a block (``ReferenceLedger.figures``); a rule here that builds a :class:`Call` and hands it to
:meth:`LedgerStateMachine.perform` (which compares outcomes and entries, and passes the ids the
ledger made to the model); and entries in ``KEYED`` (:mod:`.calls`), ``_CHANGES`` and
``other_kind`` (:mod:`.variants`) so the replay rule covers its key.

Settings calls that return the object, not a ``Result`` (``set_top_up``, ``remove_top_up``,
``add_alert``, ``remove_alert``), go through :meth:`LedgerStateMachine.perform_setting`.

Where the ledger and its documented rules disagree, the machine says so in one place:
:attr:`LedgerStateMachine.known_check_order_gaps`, ``known_error_gaps`` and
``dodge_dropped_settlements``, each with the discrepancy it stands for.

The machine is one class put together from parts, one module each: :mod:`.calls` (constants,
strategies, :class:`Call`), :mod:`.variants` (a call made again differently; comparing
refusals), :mod:`.state` (:class:`~.state.MachineState`: the machine's state, the hooks a
subclass overrides, how ``at`` and amounts are picked), :mod:`.side_by_side`
(:class:`~.side_by_side.SideBySide`: ``perform`` and the shared checks), and the rules and
invariants as mixins: :mod:`.write_rules`, :mod:`.hold_rules`, :mod:`.correction_rules`,
:mod:`.schedule_rules`, :mod:`.setting_rules`, :mod:`.replay_rules`, :mod:`.time_rules`,
:mod:`.invariants` and :mod:`.setting_invariants`. Hypothesis collects the
rules and invariants of every base class (tests/properties/test_state_machine_rules.py pins
the list).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings as Settings
from hypothesis.stateful import run_state_machine_as_test

from creditcore.ledger import Ledger
from creditcore.testing.reference import BALANCE_FIELDS, RefBlock, ReferenceLedger, RefHold, RefOp, RefResult
from creditcore.testing.stateful.calls import (
    CUSTOMERS,
    HOLDS,
    HOUR,
    START,
    TINY,
    UNITS,
    Call,
    Clock,
    at_choices,
    burn_scopes,
    customers,
    descriptions,
    grant_amounts,
    grant_scopes,
    metadatas,
    priorities,
    sizes,
    zones,
)
from creditcore.testing.stateful.correction_rules import CorrectionRules
from creditcore.testing.stateful.hold_rules import HoldRules
from creditcore.testing.stateful.invariants import Invariants
from creditcore.testing.stateful.replay_rules import ReplayRules
from creditcore.testing.stateful.schedule_rules import ScheduleRules
from creditcore.testing.stateful.setting_invariants import SettingInvariants
from creditcore.testing.stateful.setting_rules import SettingRules
from creditcore.testing.stateful.side_by_side import SideBySide
from creditcore.testing.stateful.state import MachineState
from creditcore.testing.stateful.time_rules import TimeRules
from creditcore.testing.stateful.write_rules import WriteRules

__all__ = [
    "BALANCE_FIELDS",
    "CUSTOMERS",
    "HOLDS",
    "HOUR",
    "START",
    "TINY",
    "UNITS",
    "Call",
    "Clock",
    "CorrectionRules",
    "HoldRules",
    "Invariants",
    "LedgerStateMachine",
    "MachineState",
    "RefBlock",
    "RefHold",
    "RefOp",
    "RefResult",
    "ReferenceLedger",
    "ReplayRules",
    "ScheduleRules",
    "SettingInvariants",
    "SettingRules",
    "SideBySide",
    "TimeRules",
    "WriteRules",
    "at_choices",
    "burn_scopes",
    "customers",
    "descriptions",
    "grant_amounts",
    "grant_scopes",
    "metadatas",
    "priorities",
    "run_state_machine",
    "sizes",
    "zones",
]


class LedgerStateMachine(
    WriteRules,
    HoldRules,
    CorrectionRules,
    ScheduleRules,
    SettingRules,
    ReplayRules,
    TimeRules,
    Invariants,
    SettingInvariants,
):
    """Grants, burns (with debt), holds, captures, releases, voids, reversals, expiry
    changes, schedules, top-up rules, alerts, replays and clock jumps on a ledger and on the
    reference model; see the module docstring."""


def run_state_machine(
    factory: Callable[[Clock], Ledger], *, settings: Settings | None = None, with_settings: bool = False
) -> None:
    """Run :class:`LedgerStateMachine` on ledgers made by ``factory(clock)`` (one per example),
    with ``settings`` or the active Hypothesis profile; ``with_settings`` adds the rules and
    invariants of schedules, top-up rules, alerts and the event outbox.

    >>> run_state_machine(lambda clock: Ledger.memory(clock=clock))  # doctest: +SKIP
    """

    class Machine(LedgerStateMachine):
        def make_ledger(self, clock: Clock) -> Ledger:
            return factory(clock)

    Machine.with_settings = with_settings

    Machine.__name__ = Machine.__qualname__ = f"LedgerStateMachine[{getattr(factory, '__name__', 'factory')}]"
    run_state_machine_as_test(Machine, settings=settings)

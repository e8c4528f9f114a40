"""Every rule, initializer and invariant of the shipped state machine is one Hypothesis runs.

``LedgerStateMachine`` is put together from mixins (writes, holds, corrections, schedules,
top-up rules and alerts, time and replays, invariants); Hypothesis collects the decorated
methods of every base class. These tests pin the full list, so that a rule or invariant left
out of the combined class, or shadowed by a name in another mixin, fails here rather than
silently never running.
"""

from __future__ import annotations

from hypothesis.stateful import RuleBasedStateMachine

from creditcore.testing import LedgerStateMachine

RULES = [
    "add_alert",
    "advance_clock",
    "burn",
    "cancel_schedule",
    "capture",
    "change_expiry",
    "grant",
    "grant_to_pay_debt",
    "hold",
    "jump_past_a_pinned_expiry",
    "jump_to_an_event",
    "read_at_another_time",
    "read_settings",
    "refund",
    "refuse_bad_input",
    "release",
    "repeat_a_call",
    "reverse",
    "schedule_grant",
    "set_top_up",
    "use_a_single_use_block",
    "void",
]
INVARIANTS = [
    "a_spent_single_use_block_gains_no_credit",
    "balances_agree_with_the_model",
    "blocks_agree_with_the_model",
    "each_period_is_granted_once",
    "events_agree_with_the_model",
    "holds_agree_with_the_model",
    "net_stays_above_every_top_up_threshold",
    "rebuilding_from_history_gives_the_stored_state",
    "refunds_and_reversals_stay_within_what_was_taken",
    "settings_agree_with_the_model",
]
INITIALIZERS = ["open_account"]
#: The rules that take a hold from the bundle or put one back, and those with a precondition.
HOLD_BUNDLE_RULES = {"capture": True, "hold": False, "release": True}
GUARDED_RULES = [
    "add_alert",
    "cancel_schedule",
    "change_expiry",
    "grant_to_pay_debt",
    "jump_past_a_pinned_expiry",
    "jump_to_an_event",
    "read_settings",
    "refund",
    "repeat_a_call",
    "reverse",
    "schedule_grant",
    "set_top_up",
    "use_a_single_use_block",
    "void",
]


def test_the_machine_is_a_rule_based_state_machine() -> None:
    assert issubclass(LedgerStateMachine, RuleBasedStateMachine)


def test_every_rule_runs() -> None:
    state = LedgerStateMachine.setup_state()
    names = sorted(r.function.__name__ for r in state.rules)
    assert names == RULES, f"the machine's rules are {names}"


def test_every_invariant_is_checked() -> None:
    state = LedgerStateMachine.setup_state()
    names = sorted(i.function.__name__ for i in state.invariants)
    assert names == INVARIANTS, f"the machine's invariants are {names}"


def test_the_account_is_opened_first() -> None:
    state = LedgerStateMachine.setup_state()
    assert sorted(i.function.__name__ for i in state.initializers) == INITIALIZERS


def test_the_rules_keep_their_bundles_and_preconditions() -> None:
    rules = {r.function.__name__: r for r in LedgerStateMachine.setup_state().rules}
    for name, consumes in HOLD_BUNDLE_RULES.items():
        assert rules[name].targets == ("holds",), f"{name} no longer puts holds in the bundle"
        taken = [b.name for b in rules[name].bundles if b.consume]
        assert taken == (["holds"] if consumes else []), f"{name} takes {taken} from the bundles"
    guarded = sorted(name for name, r in rules.items() if r.preconditions)
    assert guarded == GUARDED_RULES, f"the rules with a precondition are {guarded}"

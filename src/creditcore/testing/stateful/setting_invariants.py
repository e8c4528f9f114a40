"""The state machine's invariants of schedules, top-ups, alerts and the outbox, checked after
every step: each period (and carry, and top-up) granted once, net above the threshold of every
top-up rule in force, every event the one the model recomputes (seq strictly increasing, ids
unique, a top-up's amount the grant its op wrote), and the settings reading back as the model
has them."""

from __future__ import annotations

from hypothesis.stateful import invariant

from creditcore.testing.reference import EVENT_FIELDS
from creditcore.testing.stateful.calls import CUSTOMERS, UNITS
from creditcore.testing.stateful.side_by_side import SideBySide


class SettingInvariants(SideBySide):
    """What must hold of the settings after every step."""

    @invariant()
    def each_period_is_granted_once(self) -> None:
        """Op ids ``schedule:<id>:<n>``, ``carry:<id>:<n>`` and ``top_up:<block>`` each wrote
        one grant or move into their block (checked as the entries are stored, see
        :meth:`_check_history_order`), and those recorded are the ones the model recorded,
        of the same amounts."""
        if not self.with_settings:
            return
        expected = {}
        for block in self.model.blocks.values():
            if block.source == "top_up":
                expected[f"top_up:{block.id}"] = block.amount
            elif block.source in ("schedule", "carry"):
                sid, n = block.id.removesuffix("/carry").rsplit("/", 1)
                expected[f"{block.source}:{sid}:{n}"] = block.amount
        assert self.due_grants == expected, f"periods and top-ups granted {self.due_grants}, the model {expected}"

    @invariant()
    def net_stays_above_every_top_up_threshold(self) -> None:
        """After every step, ``net > threshold`` under every top-up rule in force."""
        if not self.with_settings:
            return
        for customer in CUSTOMERS:
            for unit in UNITS:
                rule = self.model.top_up_rule(customer, unit)
                if rule is not None:
                    net = self.ledger.balance(customer, unit=unit).net
                    assert net > rule.threshold, f"{customer} {unit}: net {net} <= top-up threshold {rule.threshold}"

    @invariant()
    def events_agree_with_the_model(self) -> None:
        """Every event in ``events()`` is the model's (kind, customer, unit, thresholds,
        previous, current, amount, op_id, at), customer by customer in order; ``seq``
        strictly increases and ids are unique; a top-up's amount is ``current - previous``
        and the grant its op wrote."""
        if not self.with_settings:
            return
        if not self.model.events and not self.model.alerts and not self.model.top_up_versions:
            return
        found = self.ledger.events(limit=10_000).items
        seqs = [e.seq for e in found]
        assert seqs == sorted(set(seqs)), f"event seqs not strictly increasing: {seqs}"
        assert len({e.id for e in found}) == len(found), "event ids repeat"
        for event in found:
            if event.kind == "top_up":
                assert event.amount == event.current - event.previous == self.due_grants.get(event.op_id), (
                    f"{event}: its op granted {self.due_grants.get(event.op_id)}"
                )
        for customer in CUSTOMERS:
            got = [tuple(getattr(e, name) for name in EVENT_FIELDS) for e in found if e.customer == customer]
            want = [tuple(getattr(e, name) for name in EVENT_FIELDS) for e in self.model.events_of(customer)]
            assert got == want, f"{customer} events {got}, the model has {want}"

    @invariant()
    def settings_agree_with_the_model(self) -> None:
        """Schedules, top-up rules and alerts read now are the model's."""
        if not self.with_settings:
            return
        for customer in CUSTOMERS:
            if self.model.has_settings(customer):
                self._check_settings(customer, None)

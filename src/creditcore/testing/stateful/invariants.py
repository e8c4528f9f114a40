"""The state machine's invariants, checked after every step: balances, blocks and holds
agree with the model, a rebuild from the stored history gives the stored state, a spent
single-use block gains no unheld credit, and an op's reversals and refunds stay within
what it took."""

from __future__ import annotations

from decimal import Decimal

from hypothesis.stateful import invariant

from creditcore import rules
from creditcore.testing.stateful.calls import CUSTOMERS, UNITS
from creditcore.testing.stateful.side_by_side import SideBySide


class Invariants(SideBySide):
    """What must hold after every step."""

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def balances_agree_with_the_model(self) -> None:
        """The balance identity holds and every figure equals the model's."""
        for customer in CUSTOMERS:
            real = self.ledger.balances(customer)
            assert set(real) == self.model.units_with_entries(customer), f"{customer}: balances() units {set(real)}"
            for unit in UNITS:
                if unit in real:
                    self._check_balance(customer, unit, None, real[unit])
                else:
                    expected = self.model.balance(customer, unit=unit)
                    assert not any(expected.values()), f"{customer} {unit}: no balance, the model has {expected}"

    @invariant()
    def blocks_agree_with_the_model(self) -> None:
        """Blocks come in burn order with ``0 <= held <= remaining <= amount`` and the model's
        figures."""
        for customer in CUSTOMERS:
            for unit in UNITS:
                self._check_blocks(customer, unit, None)

    @invariant()
    def a_spent_single_use_block_gains_no_credit(self) -> None:
        """Once a burn or capture has used a single-use block, it has nothing unheld
        (credit given back to it is voided at once); what a hold still pins stays. Read with
        ``get_block`` here; every read of the blocks checks the same (:meth:`_check_blocks`)."""
        for ref in self.model.blocks.values():
            if ref.single_use and self.model.figures(ref, self.model.read_time(ref.customer)).first_used_at:
                block = self.ledger.get_block(ref.id)
                assert block.first_used_at is not None, f"{block.id} was used, the ledger says it was not: {block}"
                assert block.remaining == block.held and block.available == 0, (
                    f"{block.id} was used at {block.first_used_at} but has unheld credit: {block}"
                )

    @invariant()
    def refunds_and_reversals_stay_within_what_was_taken(self) -> None:
        """What an op's reversals and refunds gave (their stored entries) never
        exceeds what it took, and what it has left is what the model has left."""
        for op_id, given in self.given.items():
            took = self.took.get(op_id, Decimal(0))
            assert given <= took, f"op {op_id} took {took}, its reversals and refunds gave {given}"
        for op in self.model.ops.values():
            if op.kind in ("burn", "capture") and op.wrote:
                left = self.took.get(op.id, Decimal(0)) - self.given.get(op.id, Decimal(0))
                assert left == op.left(), f"op {op.id} has {left} left to give back, the model has {op.left()}"

    @invariant()
    def holds_agree_with_the_model(self) -> None:
        for customer in CUSTOMERS:
            self._check_holds(customer, None)

    @invariant()
    def rebuilding_from_history_gives_the_stored_state(self) -> None:
        """``rules.rebuild`` over the stored blocks, holds and entries reproduces the stored
        state: last entry time, totals, and every block's remaining and held; and
        ``verify()`` finds nothing wrong."""
        report = self.ledger.verify()
        assert report.ok, f"verify() found problems: {report}"
        with self.ledger.repository.reader() as reader:
            for customer in CUSTOMERS:
                stored = reader.load_account(customer)
                blocks, holds, entries = reader.history(customer)
                settings = rules.SettingsHistory(schedules=tuple(reader.schedules(customer)),
                                             top_ups=tuple(reader.top_ups(customer)),
                                             alerts=tuple(reader.alerts(customer)))  # fmt: skip
                rebuilt = rules.rebuild(customer, blocks, holds, entries, settings=settings)
                assert rebuilt.last_at == stored.last_at == self.model.last_write_at(customer), (
                    f"{customer}: last write {rebuilt.last_at} rebuilt, {stored.last_at} stored, "
                    f"{self.model.last_write_at(customer)} in the model"
                )
                for unit in UNITS:
                    assert rebuilt.unit_totals(unit) == stored.unit_totals(unit), f"{customer} {unit} totals"
                latest = {b.id: b for b in blocks}
                for block_id, block in rebuilt.blocks.items():
                    kept = stored.blocks.get(block_id) or latest[block_id]
                    assert (block.remaining, block.held) == (kept.remaining, kept.held), (
                        f"{block_id}: rebuilt remaining/held {block.remaining}/{block.held}, "
                        f"stored {kept.remaining}/{kept.held}"
                    )
                for block_id, block in stored.blocks.items():
                    assert block_id in rebuilt.blocks, f"{block_id} stored but not in the entries"
                    pinned = sum(a for h in stored.holds.values() if h.status == "active"
                                 for b, a in h.allocations if b == block_id)  # fmt: skip
                    assert block.held == pinned, f"{block_id}: held {block.held}, active holds pin {pinned}"
                if stored.last_at is not None:
                    now = max(self.now, stored.last_at)
                    for unit in UNITS:
                        assert rules.tally(rules.view(rebuilt, now), unit, now) == rules.tally(
                            rules.view(stored, now), unit, now
                        ), f"{customer} {unit}: the rebuilt state reads differently"

"""One call on the ledger and on the model, side by side: the same outcome (error class and
details, or every figure of the result, the blocks drawn in order, every entry), the
right entries stored, and the checks the invariants and the read rule share."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import note

from creditcore.errors import CreditError, NotFound
from creditcore.model import Result
from creditcore.repository import EntryQuery
from creditcore.state import EntryState
from creditcore.testing.reference import ALERT_FIELDS, BALANCE_FIELDS, SCHEDULE_FIELDS, RefResult
from creditcore.testing.stateful.calls import CUSTOMERS, DRAWING, DUE_KINDS, DUE_OPS, UNITS, Call, attribute_at, scaled
from creditcore.testing.stateful.state import MachineState
from creditcore.testing.stateful.variants import error_signature, same_error_details


class SideBySide(MachineState):
    """``perform`` a call on both and compare; check balances, blocks and holds against the model."""

    # -- running one call on both ----------------------------------------------------------

    def perform(self, call: Call, at: datetime | None, *, remember: bool = True) -> Result | None:
        """Make ``call`` on the ledger and on the model, require the same outcome and the
        right entries; return the ledger's result (``None`` if it raised)."""
        customer = self._customer_of(call)
        op_time = at if at is not None else self.model.read_time(customer or CUSTOMERS[0])
        note(f"{call} at={at!r} (now={self.now.isoformat()})")
        real: Result | None = None
        real_error: CreditError | None = None
        try:
            real = getattr(self.ledger, call.kind)(**call.kwargs, at=at)
        except CreditError as error:
            real_error = error
        extra = self._ids_made(call, real)
        expected: RefResult | None = None
        expected_error: CreditError | None = None
        try:
            expected = getattr(self.model, call.kind)(**call.kwargs, **extra, at=at)
        except CreditError as error:
            expected_error = error
            self.model.rollback()
        self.model.commit()
        self._compare(call, real, real_error, expected, expected_error)
        self._check_new_entries(call, real, op_time)
        if call.key is not None and remember:
            self.calls.append(call)
            if real is not None and not real.replayed:
                self.originals[call.key] = real
        if real is not None and not real.replayed:
            self.instants.append(op_time)
            if customer is not None:
                self.advanced[customer] = max(op_time, self.advanced.get(customer, op_time))
        return real

    def perform_setting(self, call: Call, at: datetime | None, *, remember: bool = True) -> object:
        """Make a settings call (``set_top_up``, ``remove_top_up``, ``add_alert``,
        ``remove_alert``: they return the object, not a result) on both: the same error, or the
        same object field by field; it writes nothing but the due events up to its time and
        the top-up a new rule fires. Returns the ledger's object (``None`` if it raised)."""
        customer = self._customer_of(call)
        op_time = at if at is not None else self.model.read_time(customer or CUSTOMERS[0])
        note(f"{call} at={at!r} (now={self.now.isoformat()})")
        real: Any = None
        real_error: CreditError | None = None
        try:
            real = getattr(self.ledger, call.kind)(**call.kwargs, at=at)
        except CreditError as error:
            real_error = error
        expected: dict[str, object] | None = None
        expected_error: CreditError | None = None
        extra = {"new_alert_id": real.id} if call.kind == "add_alert" and real is not None else {}
        try:
            expected = getattr(self.model, call.kind)(**call.kwargs, **extra, at=at)
        except CreditError as error:
            expected_error = error
            self.model.rollback()
        self.model.commit()
        if real_error is not None or expected_error is not None:
            assert type(real_error) is type(expected_error), (
                f"{call}: the ledger gave {real_error!r} ({real!r}), the model expects {expected_error!r}"
            )
            same_error_details(call, real_error, expected_error)
        elif expected is None:
            assert real is None, f"{call}: returned {real!r}, the model expects None"
        else:
            got = {name: getattr(real, name) for name in expected}
            assert got == expected, f"{call}: returned {got}, the model expects {expected}"
        new = self._new_entries()
        self._check_history_order(call, new)
        if real_error is not None:
            assert not new, f"{call} failed but wrote {new}"
        self._check_due_entries(call, new, op_time)
        assert all(e.customer == customer for e in new), f"{call} wrote entries of another customer: {new}"
        if new:
            self.instants.append(op_time)
        if call.key is not None and remember:
            self.calls.append(call)
        if real_error is None and customer is not None and self.model.last_write_at(customer) == op_time:
            self.advanced[customer] = max(op_time, self.advanced.get(customer, op_time))
        return real

    @staticmethod
    def _ids_made(call: Call, real: Result | None) -> dict[str, object]:
        """The ids the ledger made for a call that succeeded, for the model to use too: later
        calls name blocks and operations by them."""
        if real is None or real.replayed:
            return {}
        made: dict[str, object] = {"new_op_id": real.op_id}
        if call.kind in ("grant", "refund"):
            made["block_id"] = attribute_at(real, "block.id")
        elif call.kind == "change_expiry":
            made["new_block_id"] = attribute_at(real, "block.id")
        elif call.kind == "schedule_grant":
            made["new_schedule_id"] = attribute_at(real, "schedule.id")
        return made

    def _compare(
        self,
        call: Call,
        real: Result | None,
        real_error: CreditError | None,
        expected: RefResult | None,
        expected_error: CreditError | None,
    ) -> None:
        if real_error is not None or expected_error is not None:
            if real_error is not None and expected_error is not None:
                gap = (call.kind, error_signature(expected_error), error_signature(real_error))
                if gap in self.known_check_order_gaps | self.known_error_gaps:
                    note(f"known gap {gap}: both refuse the call, for different reasons")
                    return
            assert type(real_error) is type(expected_error), (
                f"{call}: the ledger gave {real_error!r} ({real!r}), the model expects {expected_error!r}"
            )
            same_error_details(call, real_error, expected_error)
            return
        assert real is not None and expected is not None
        assert real.replayed == expected.replayed, f"{call}: replayed={real.replayed}, model: {expected.replayed}"
        for path, value in expected.values.items():
            actual = attribute_at(real, path)
            assert actual == value, f"{call}: result.{path} is {actual!r}, the model expects {value!r}"
        if call.kind in DRAWING:
            drawn = tuple((e.block_id, e.amount) for e in real.entries if e.kind == call.kind)
            assert drawn == expected.draws, (
                f"{call}: drew {drawn} (in this order), the model draws {expected.draws} in burn order"
            )
        if expected.entries is not None:
            written = tuple((e.kind, e.block_id, e.amount) for e in real.entries)
            assert written == expected.entries, f"{call}: wrote {written}, the model expects {expected.entries}"
        if expected.replayed:
            assert call.key is not None
            original = self.originals[call.key]
            if call.kind in ("schedule_grant", "cancel_schedule"):  # the schedule as it stands now
                assert real.op_id == original.op_id, f"{call}: a replay returned op {real.op_id}, not {original.op_id}"
            else:
                assert attrs.evolve(real, replayed=False) == original, (
                    f"{call}: a replay returned {real!r}, not {original!r}"
                )

    def _new_entries(self) -> list[EntryState]:
        """The entries written since the last step, in seq order: read customer by customer,
        as the feed across customers may hold back entries newer than a transaction still open
        anywhere on the server (PostgreSQL's, by design) and would make a check flaky."""
        with self.ledger.repository.reader() as reader:
            found = [
                entry
                for customer in CUSTOMERS
                for entry in reader.list_entries(EntryQuery(customer=customer, after_seq=self.last_seq, limit=100_000))
            ]
        return sorted(found, key=lambda entry: entry.seq)

    def _check_history_order(self, call: object, new: list[EntryState]) -> None:
        """``seq`` strictly increases across the ledger, and a customer's entries (lazily
        recorded ones included) never go back in time. Keeps count of what each op took and
        what its reversals and refunds gave (for an invariant)."""
        seqs = [e.seq for e in new]
        assert all(a < b for a, b in itertools.pairwise([self.last_seq, *seqs])), f"seq not increasing: {seqs}"
        if new:
            self.last_seq = new[-1].seq
        for entry in new:
            last = self.entry_times.get(entry.customer)
            assert last is None or entry.at >= last, f"{call}: {entry} is dated before {entry.customer}'s {last}"
            self.entry_times[entry.customer] = entry.at
            amount = scaled(entry.amount, entry.unit)
            if entry.kind in ("grant", "move_in") and entry.op_id.startswith(("schedule:", "carry:", "top_up:")):
                assert entry.op_id not in self.due_grants, f"{call}: {entry.op_id} granted again: {entry}"
                self.due_grants[entry.op_id] = amount
            if entry.kind in ("burn", "debt", "capture"):
                self.took[entry.op_id] = self.took.get(entry.op_id, Decimal(0)) + amount
            elif entry.kind in ("reverse", "refund"):
                assert entry.ref is not None, f"{call}: {entry} names no op it gives back for"
                self.given[entry.ref] = self.given.get(entry.ref, Decimal(0)) + amount

    def _check_new_entries(self, call: Call, real: Result | None, op_time: datetime) -> None:
        new = self._new_entries()
        self._check_history_order(call, new)
        if real is None or real.replayed:
            assert not new, f"{call} {'replayed' if real else 'failed'} but wrote {new}"
            return
        own = [e for e in new if e.op_id == real.op_id]
        others = [e for e in new if e.op_id != real.op_id]
        customer = self._customer_of(call)
        assert all(e.customer == customer for e in new), f"{call} wrote entries of another customer: {new}"
        assert [(e.seq, e.kind, e.block_id, e.hold_id, scaled(e.amount, e.unit), e.at) for e in own] == [
            (e.seq, e.kind, e.block_id, e.hold_id, e.amount, e.at) for e in real.entries
        ], f"{call}: stored entries {own} differ from the result's {real.entries}"
        assert all(e.at == op_time for e in own), f"{call}: entries {own} are not dated {op_time}"
        for entry in own:
            block = self.model.blocks.get(entry.block_id or "")
            if entry.kind == "void":
                self._check_void_reason(call, entry, op_time)
            if entry.kind in ("burn", "hold"):
                assert block is not None and block.active_at(op_time), f"{call}: drew from inactive block {entry}"
            if entry.kind == "capture":
                assert block is not None and block.effective_at <= op_time, f"{call}: captured an upcoming block"
        for entry in new:
            if entry.kind == "settle":  # only unscoped blocks, once active, pay debt off
                block = self.model.blocks.get(entry.block_id or "")
                assert block is not None and block.scope is None and block.effective_at <= entry.at, (
                    f"{call}: {entry} settles debt from a scoped or upcoming block"
                )
        after = [e for e in others if own and e.seq > own[-1].seq]
        if own and not after:
            last = own[-1]
            expected = self.model.balance(last.customer, unit=last.unit, at=op_time)["available"]
            assert scaled(last.available_after, last.unit) == expected, (
                f"{call}: available_after={last.available_after} minor, the model has {expected} available"
            )
        self._check_due_entries(call, others, op_time)
        for entry in after:  # the write's own top-up comes after it
            assert entry.op_id.startswith("top_up:") and entry.at == op_time, f"{call}: late due entry {entry}"

    def _check_due_entries(self, call: object, entries: list[EntryState], op_time: datetime) -> None:
        """Entries a call wrote besides its own: due events, dated up to its time."""
        for entry in entries:
            prefix = entry.op_id.split(":", 1)[0]
            assert entry.kind in DUE_KINDS and prefix in DUE_OPS, f"{call} wrote an entry of another op: {entry}"
            assert entry.at <= op_time, f"{call}: due entry {entry} dated after the call ({op_time})"

    def _check_void_reason(self, call: Call, entry: EntryState, op_time: datetime) -> None:
        """A void call's entry carries its reason; any other op's void of a single-use block
        it spent, or credit given back to one spent before, says ``single_use``."""
        if call.kind == "void":
            expected = call.kwargs.get("reason")
        else:
            block = self.model.blocks[entry.block_id or ""]
            spent = block.single_use and self.model.figures(block, op_time).first_used_at is not None
            expected = "single_use" if spent else None
        assert entry.description == expected, f"{call}: {entry} is described {entry.description!r}, not {expected!r}"

    # -- checks shared by the invariants and the read rule ---------------------------------

    def _check_balance(self, customer: str, unit: str, at: datetime | None, real: Any = None) -> None:
        if real is None:
            real = self.ledger.balance(customer, unit=unit, at=at)
        parts = real.available + real.held + real.used + real.expired + real.voided + real.upcoming
        assert real.granted == parts, f"{customer} {unit}: the balance identity fails: {real}"
        assert real.net == real.available - real.debt
        expected = self.model.balance(customer, unit=unit, at=at)
        got = {name: getattr(real, name) for name in BALANCE_FIELDS}
        assert got == expected, f"{customer} {unit} at {at}: ledger {got}, model {expected}"

    def _check_blocks(self, customer: str, unit: str, at: datetime | None) -> None:
        real = self.ledger.blocks(customer, unit=unit, at=at, include_inactive=True)
        expected = self.model.block_views(customer, unit=unit, at=at)
        assert [b.id for b in real] == [b.id for b, _ in expected], (
            f"{customer} {unit}: blocks {[b.id for b in real]}, the model's burn order is {[b.id for b, _ in expected]}"
        )
        for block, (ref, figures) in zip(real, expected, strict=True):
            assert 0 <= block.held <= block.remaining <= block.amount, f"out of bounds: {block}"
            got = (block.amount, block.remaining, block.held, block.available)
            want = (ref.amount, figures.remaining, figures.held, figures.available)
            assert got == want, f"{block.id} amount/remaining/held/available {got}, the model has {want}"
            assert block.status == figures.status, f"{block.id} is {block.status}, the model says {figures.status}"
            got_kind = (block.scope, block.single_use, block.source, block.refund_of, block.schedule_id)
            want_kind = (ref.scope, ref.single_use, ref.source, ref.refund_of, ref.schedule_id)
            assert got_kind == want_kind, (
                f"{block.id} scope/single_use/source/refund_of/schedule {got_kind}, not {want_kind}"
            )
            assert (block.first_used_at, block.used) == (figures.first_used_at, figures.used), (
                f"{block.id} first used at {block.first_used_at}, used {block.used}; "
                f"the model has {figures.first_used_at}, {figures.used}"
            )
            if block.single_use and block.first_used_at is not None:  # spent: nothing unheld
                assert block.remaining == block.held, f"{block.id} is spent but has unheld credit: {block}"

    def _check_holds(self, customer: str, at: datetime | None) -> None:
        real = self.ledger.holds(customer, status=None, at=at)
        expected = self.model.hold_views(customer, at=at)
        got = [(h.id, h.status, h.amount, h.captured, h.allocations, h.expires_at, h.settled_at, h.scope, h.categories)
               for h in real]  # fmt: skip
        want = [(h.id, h.status, h.amount, h.captured, h.allocations, h.expires_at, h.settled_at, h.scope, h.categories)
                for h in expected]  # fmt: skip
        assert got == want, f"{customer} holds at {at}: ledger {got}, model {want}"

    def _check_settings(self, customer: str, at: datetime | None) -> None:
        """The customer's schedules, top-up rules and alerts at ``at`` are the model's."""
        schedules = self.model.schedule_list(customer, at=at)
        got = [{name: getattr(s, name) for name in SCHEDULE_FIELDS} for s in self.ledger.schedules(customer, at=at)]
        assert got == schedules, f"{customer} schedules at {at}: {got}, the model has {schedules}"
        for unit in UNITS:
            try:
                rule_view: Any = self.ledger.get_top_up(customer, unit=unit, at=at)
            except NotFound:
                rule_view = None
            try:
                expected: Any = self.model.get_top_up(customer, unit=unit, at=at)
            except NotFound:
                expected = None
            if rule_view is not None and expected is not None:
                rule_view = {name: getattr(rule_view, name) for name in expected}
            assert rule_view == expected, f"{customer} {unit} top-up rule at {at}: {rule_view}, model {expected}"
        alerts = [{name: getattr(a, name) for name in ALERT_FIELDS} for a in self.ledger.alerts(customer, at=at)]
        want = self.model.alert_list(customer, at=at)
        assert alerts == want, f"{customer} alerts at {at}: {alerts}, the model has {want}"

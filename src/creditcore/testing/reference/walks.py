"""The reference model's walks: every figure at a time ``t`` recomputed from the events
dated at or before ``t`` (a block's moves, pins and expiry; a customer's debt changes and
settling blocks), what a burn would draw, and when a write moves the last entry time."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from creditcore.testing.reference.core import ReferenceCore
from creditcore.testing.reference.records import ZERO, BlockFigures, DebtChange, DebtView, Key, RefBlock, burn_order_key


class ReferenceWalks(ReferenceCore):
    """Figures derived on read: a block's, a customer's debt, the burn plan."""

    def _wrote(self, customer: str, at: datetime, own_entries: bool) -> None:
        """Move the customer's last entry time: lazily recorded expiries, hold timeouts and
        settlements are entries dated when they fell due, and the write's own entries are
        dated ``at``."""
        self._changed()
        if self._stepping(customer):
            self._end_step(customer, at)  # the write's own top-up and alert events
        times = [at] if own_entries else []
        for block in self._blocks_of(customer):
            if block.source in ("schedule", "carry", "top_up") and block.created_at <= at:
                times.append(block.created_at)  # its grant or move_in entry
            x = block.expires_at
            if x is not None and block.created_at <= x <= at and self.figures(block, x).lapsed > 0:
                times.append(x)
            k = block.settle_key
            if k is not None and k[1] == 0 and k[0] <= at and self._settled_by(block) > 0:
                times.append(k[0])
        for found in self.holds.values():
            timed_out = found.ended_at is None and found.expires_at is not None and found.expires_at <= at
            if found.customer == customer and timed_out:
                assert found.expires_at is not None
                times.append(found.expires_at)
        last = self.last_entry.get(customer)
        if last is not None:
            times.append(last)
        if times:
            self.last_entry[customer] = max(times)
            self._touch(customer, max(times))

    def _stepping(self, customer: str) -> bool:
        """Whether a write's step of ``customer`` is under way (see :mod:`.due`)."""
        return False

    def _end_step(self, customer: str, at: datetime) -> None:
        """The end of a write's own step: its top-up and alert events (see :mod:`.due`)."""

    def unheld(self, block: RefBlock, t: datetime) -> Decimal:
        """What a void or ``change_expiry`` at ``t`` could take: credit not held, not expired
        (an upcoming block's credit counts)."""
        f = self.figures(block, t)
        return f.remaining - f.held

    # -- debt --------------------------------------------------------------------------

    def debt_view(self, customer: str, unit: str, until: datetime | None = None) -> DebtView:
        """Walk the debt changes and the settling blocks in time order up to ``until`` (all
        of them: ``None``): a settling block pays off what is owed when it becomes active, up
        to its unheld credit then; a reversal's ``unsettle`` takes from the latest
        settlement first."""
        cache_key = ("debt", customer, unit, until)
        if cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[no-any-return]
        spec = None if until is None else self._speculation(customer, until)
        if spec is not None:
            return spec.debt_view(customer, unit, until)
        events: list[tuple[Key, DebtChange | RefBlock]] = [
            (c.key, c) for c in self.debt_changes if c.customer == customer and c.unit == unit
        ]
        events += [(b.settle_key, b) for b in self._blocks_of(customer, unit) if b.settle_key is not None]
        events.sort(key=lambda item: item[0])
        debt = ZERO
        stack: list[tuple[str, Decimal]] = []
        settled: dict[str, Decimal] = {}
        for key, event in events:
            if until is not None and key[0] > until:
                break
            if isinstance(event, RefBlock):
                # an upcoming block can only have been voided or moved before it settles
                out = sum((m.amount for m in event.moves if m.kind in ("void", "move_out") and m.key < key), ZERO)
                pay = min(debt, event.amount - out)
                if pay > 0:
                    debt -= pay
                    stack.append((event.id, pay))
                    settled[event.id] = pay
            elif event.kind == "debt":
                debt += event.amount
            elif event.kind == "cancel":
                debt -= event.amount
            else:  # unsettle: the latest settlements first
                left = event.amount
                while left:
                    block_id, amount = stack.pop()
                    if amount > left:
                        stack.append((block_id, amount - left))
                    left -= min(left, amount)
        view = DebtView(debt=debt, stack=tuple(stack), settled=settled)
        self._cache[cache_key] = view
        return view

    def _settled_by(self, block: RefBlock) -> Decimal:
        if block.settle_key is None:
            return ZERO
        return self.debt_view(block.customer, block.unit).settled.get(block.id, ZERO)

    # -- one block ---------------------------------------------------------------------

    def figures(self, block: RefBlock, t: datetime) -> BlockFigures:
        """The block at ``t``: its events dated at or before ``t``, in time order."""
        cache_key = ("block", block.id, t)
        if cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[no-any-return]
        spec = self._speculation(block.customer, t)
        if spec is not None and block.id in spec.blocks:  # (a block made later reads as before it)
            return spec.figures(spec.blocks[block.id], t)
        events: list[tuple[Key, str, Decimal]] = [(m.key, m.kind, m.amount) for m in block.moves if m.at <= t]
        if block.settle_key is not None and block.settle_key[0] <= t and self._settled_by(block):
            events.append((block.settle_key, "settle", self._settled_by(block)))
        for found in self.holds.values():
            pinned = sum((a for b, a in found.allocations if b == block.id), ZERO)
            if not pinned or found.created_at > t:
                continue
            events.append(((found.created_at, found.tick, 0, 0), "pin", pinned))
            if found.ended_at is not None:
                if found.ended_at <= t:  # what the capture did not take comes back
                    taken = sum(
                        (m.amount for m in block.moves if m.kind == "capture" and m.tick == found.end_tick), ZERO
                    )
                    events.append(((found.ended_at, found.end_tick, 1, 0), "unpin", pinned - taken))
            elif found.expires_at is not None and found.expires_at <= t:
                events.append(((found.expires_at, 0, 1, 0), "unpin", pinned))
        if block.expires_at is not None and block.expires_at <= t:
            events.append(((block.expires_at, 0, 0, 0), "expiry", ZERO))
        events.sort(key=lambda item: item[0])

        remaining, held, used, expired, voided, lapsed = block.amount, ZERO, ZERO, ZERO, ZERO, ZERO
        emptied: str | None = None
        closed = False
        first_used: datetime | None = None
        for i, ((when, tick, *_), kind, amount) in enumerate(events):
            out = ZERO
            why = "depleted"
            if kind == "pin":
                held += amount
            elif kind in ("burn", "settle", "capture"):
                out = amount
                used += amount
                held -= amount if kind == "capture" else ZERO
                if kind != "settle" and amount and first_used is None:  # a settlement is not a use
                    first_used = when
            elif kind == "void":
                out, why = amount, "voided"
                voided += amount
            elif kind == "move_out":
                out = amount
            elif kind == "expiry":
                out, why = remaining - held, "expired"
                expired += out
                lapsed = out
            else:  # credit comes back: a reversal's return, or a hold's release or timeout
                if kind == "return":
                    remaining += amount
                    used -= amount
                else:
                    held -= amount
                if amount and block.expired_at(when):
                    out, why = amount, "expired"
                    expired += amount
                elif amount and closed:
                    out, why = amount, "voided"
                    voided += amount
            if out:
                remaining -= out
                if remaining == 0:
                    emptied = why
            if kind == "void":
                closed = closed or remaining == held
            last_of_its_op = i + 1 == len(events) or events[i + 1][0][:2] != (when, tick)
            if last_of_its_op and block.single_use and first_used is not None and not block.expired_at(when):
                # a used single-use block is spent: the op that used it, and any op
                # that gives credit back to it later, voids its unheld credit
                spent = remaining - held
                if spent:
                    voided += spent
                    remaining -= spent
                    closed = True
                    if remaining == 0:
                        emptied = "voided"

        upcoming = t < block.effective_at
        if remaining == 0 and emptied is not None:
            status = emptied
        elif upcoming:
            status = "upcoming"
        elif block.expired_at(t):
            status = "expired"
        else:
            status = "active"
        available = remaining - held if status == "active" else ZERO
        found_figures = BlockFigures(
            remaining=remaining,
            held=held,
            available=available,
            used=used,
            expired=expired,
            upcoming=upcoming,
            status=status,
            voided=voided,
            closed=closed,
            lapsed=lapsed,
            first_used_at=first_used,
        )
        self._cache[cache_key] = found_figures
        return found_figures

    # -- burn order --------------------------------------------------------------------

    def plan(
        self,
        customer: str,
        unit: str,
        scope: frozenset[str] | None,
        amount: Decimal,
        t: datetime,
        categories: frozenset[str] | None = None,
    ) -> tuple[list[tuple[str, Decimal]], Decimal]:
        """What a burn of ``amount`` at ``t`` with the scope set ``scope`` and the
        ``categories`` filter would draw, in order, and the shortfall."""
        spec = self._speculation(customer, t)
        if spec is not None:
            return spec.plan(customer, unit, scope, amount, t, categories)
        eligible = [
            b for b in self._blocks_of(customer, unit)
            if b.created_at <= t and b.active_at(t) and b.eligible_for(scope, categories)
            and self.figures(b, t).available > 0
        ]  # fmt: skip
        eligible.sort(key=burn_order_key)
        plan: list[tuple[str, Decimal]] = []
        need = amount
        for block in eligible:
            if need == 0:
                break
            take = min(need, self.figures(block, t).available)
            plan.append((block.id, take))
            need -= take
        return plan, need

    def _block_values(self, block: RefBlock, t: datetime) -> dict[str, object]:
        """A block in a write's result, as of the write."""
        figures = self.figures(block, t)
        return {
            "block.customer": block.customer,
            "block.unit": block.unit,
            "block.amount": block.amount,
            "block.remaining": figures.remaining,
            "block.held": figures.held,
            "block.available": figures.available,
            "block.status": figures.status,
            "block.priority": block.priority,
            "block.category": block.category,
            "block.cost_basis": block.cost_basis,
            "block.scope": block.scope,
            "block.effective_at": block.effective_at,
            "block.expires_at": block.expires_at,
            "block.created_at": block.created_at,
            "block.description": block.description,
            "block.metadata": block.metadata,
            "block.single_use": block.single_use,
            "block.first_used_at": figures.first_used_at,
            "block.used": figures.used,
            "block.source": block.source,
            "block.refund_of": block.refund_of,
            "block.schedule_id": block.schedule_id,
        }

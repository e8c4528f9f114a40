"""The reference model's reads and sweep: balances, blocks in burn order and holds at any
time, the instants at which something falls due, and ``expire_due``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from creditcore.testing.reference.arguments import parse_scope
from creditcore.testing.reference.records import BALANCE_FIELDS, ZERO, BlockFigures, HoldView, RefBlock, burn_order_key
from creditcore.testing.reference.walks import ReferenceWalks


class Reads(ReferenceWalks):
    """What the machine compares the ledger's reads with."""

    def expire_due(self, *, at: datetime | None = None) -> None:
        """A sweep: for every customer whose history is not ahead of ``at``, what fell due by
        then is now recorded (the figures do not change: the model counts it on read)."""
        horizon = at if at is not None else self.clock()
        for customer in sorted(self.last_write):
            last = self.last_write[customer]
            if last <= horizon:
                self._advance(customer, horizon)
                self._wrote(customer, horizon, own_entries=False)

    def balance(
        self, customer: str, *, unit: str = "credits", at: datetime | None = None, scope: object = None
    ) -> dict[str, Decimal]:
        """The fields of a ``Balance`` at ``at`` (default: now); with ``scope`` (a scope set),
        ``available`` and ``held`` count only blocks a burn with it could use."""
        scopes = parse_scope(scope)
        t = self.read_time(customer, at)
        spec = self._speculation(customer, t)
        if spec is not None:
            return spec.balance(customer, unit=unit, at=t, scope=scope)
        totals = dict.fromkeys(BALANCE_FIELDS, ZERO)
        for block in self._blocks_of(customer, unit):
            if block.created_at > t:
                continue
            f = self.figures(block, t)
            if block.origin is None:  # moved credit was granted once, in its first block
                totals["granted"] += block.amount
            totals["voided"] += f.voided
            if f.upcoming:
                totals["upcoming"] += f.remaining
                continue
            totals["used"] += f.used
            totals["expired"] += f.expired
            if scopes is None or block.usable_by(scopes):
                totals["held"] += f.held
                totals["available"] += f.available
        totals["debt"] = self.debt_view(customer, unit, t).debt
        return totals

    def units_with_entries(self, customer: str, at: datetime | None = None) -> set[str]:
        t = self.read_time(customer, at)
        spec = self._speculation(customer, t)
        if spec is not None:
            return spec.units_with_entries(customer, t)
        found = {b.unit for b in self._blocks_of(customer) if b.created_at <= t}
        return found | {c.unit for c in self.debt_changes if c.customer == customer and c.at <= t}

    def block_views(self, customer: str, *, unit: str = "credits", at: datetime | None = None
                    ) -> list[tuple[RefBlock, BlockFigures]]:  # fmt: skip
        """Every block granted by ``at``, in burn order, with its figures then."""
        t = self.read_time(customer, at)
        spec = self._speculation(customer, t)
        if spec is not None:
            return spec.block_views(customer, unit=unit, at=t)
        found = sorted((b for b in self._blocks_of(customer, unit) if b.created_at <= t), key=burn_order_key)
        return [(b, self.figures(b, t)) for b in found]

    def hold_views(self, customer: str, *, at: datetime | None = None) -> list[HoldView]:
        """Every hold placed by ``at``, oldest first."""
        t = self.read_time(customer, at)
        views = []
        for found in self.holds.values():
            if found.customer != customer or found.created_at > t:
                continue
            status = found.status_at(t)
            settled = None if status == "active" else found.end_time()
            views.append(HoldView(
                id=found.id,
                status=status,
                amount=found.amount,
                captured=(found.end_amount or ZERO) if status == "captured" else ZERO,
                allocations=tuple(found.allocations),
                expires_at=found.expires_at,
                settled_at=settled,
                scope=found.scope,
                categories=found.categories,
            ))  # fmt: skip
        return views

    def upcoming_instants(self, after: datetime) -> list[datetime]:
        """Every instant later than ``after`` at which something changes by itself: expiries,
        hold timeouts, blocks becoming effective, schedule periods starting."""
        found: set[datetime] = set(self._more_instants(after))
        for block in self.blocks.values():
            found.update(x for x in (block.expires_at, block.effective_at) if x is not None and x > after)
        for hold in self.holds.values():
            if hold.ended_at is None and hold.expires_at is not None and hold.expires_at > after:
                found.add(hold.expires_at)
        return sorted(found)

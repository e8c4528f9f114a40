"""The reference model's holds: a hold pins credit its scope set and categories may use, in burn
order; a capture takes some of it (in burn order, whatever the filters), a release none; either
gives the rest back and ends the hold, and the same call again replays it. A capture that is a
single-use block's first use, or credit given back to a spent one, leaves it with nothing unheld
(a void after the releases)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from creditcore.errors import HoldNotActive, InsufficientCredits, NotFound, ValidationError
from creditcore.testing.reference.arguments import (
    parse_amount,
    parse_categories,
    parse_id,
    parse_optional_time,
    parse_scope,
)
from creditcore.testing.reference.records import (
    NEVER,
    ZERO,
    ExpectedEntry,
    Fingerprint,
    Move,
    RefHold,
    RefOp,
    RefResult,
    burn_order_key,
    replayed,
)
from creditcore.testing.reference.walks import ReferenceWalks


class HoldOperations(ReferenceWalks):
    """``hold``, ``capture`` and ``release``."""

    def hold(
        self,
        customer: str,
        amount: object,
        *,
        hold_id: str,
        unit: str = "credits",
        scope: str | Iterable[str] | None = None,
        categories: str | Iterable[str] | None = None,
        expires_at: datetime | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        hold_id = parse_id(hold_id, "hold_id")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        scopes = parse_scope(scope)
        chosen = parse_categories(categories)
        expires = parse_optional_time(expires_at, "expires_at")
        meta = dict(metadata or {})
        when = parse_optional_time(at, "at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("scope", scopes), ("expires_at", expires),
            ("description", description), ("metadata", meta), ("categories", chosen),
        )  # fmt: skip
        replay = self._replay("hold", hold_id, "hold", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        if expires is not None and expires <= t:
            raise ValidationError("expires_at", "must be later than the hold time")
        plan, shortfall = self.plan(customer, unit, scopes, value, t, chosen)
        if shortfall:
            raise InsufficientCredits(value, value - shortfall, unit)
        self.holds[hold_id] = RefHold(
            id=hold_id,
            customer=customer,
            unit=unit,
            amount=value,
            scope=scopes,
            categories=chosen,
            expires_at=expires,
            created_at=t,
            allocations=list(plan),
            tick=next(self._ticks),
        )
        self._wrote(customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "hold", customer, unit)
        result = RefResult(
            kind="hold",
            values={
                "hold.id": hold_id,
                "hold.customer": customer,
                "hold.unit": unit,
                "hold.amount": value,
                "hold.status": "active",
                "hold.allocations": tuple(plan),
                "hold.captured": ZERO,
                "hold.expires_at": expires,
                "hold.created_at": t,
                "hold.settled_at": None,
                "hold.scope": scopes,
                "hold.categories": chosen,
            },
            draws=tuple(plan),
        )
        self._remember("hold", hold_id, "hold", fingerprint, result)
        return result

    def _known_hold(self, hold_id: object) -> RefHold:
        name = parse_id(hold_id, "hold_id")
        found = self.holds.get(name)
        if found is None:
            raise NotFound(f"no hold {name!r}")
        return found

    def _end_replay(self, found: RefHold, kind: str, amount: Decimal) -> RefResult | None:
        """A capture or release is keyed by its hold: the same call again replays, anything
        else after it is refused (``HoldNotActive``)."""
        if found.end_kind is None:
            return None
        if found.end_kind == kind and found.end_amount == amount:
            assert found.end_result is not None
            return replayed(found.end_result)
        raise HoldNotActive(found.id, found.status_at(NEVER))

    def capture(
        self, hold_id: str, amount: object = None, *, at: datetime | None = None, new_op_id: str | None = None
    ) -> RefResult:
        when = parse_optional_time(at, "at")
        found = self._known_hold(hold_id)
        scale = self.units[found.unit]
        value = found.amount if amount is None else parse_amount(amount, scale, allow_zero=True)
        if value > found.amount:
            raise ValidationError("amount", "more than the hold holds")
        replay = self._end_replay(found, "capture", value)
        if replay is not None:
            return replay
        t = self._write_time(found.customer, when)
        status = found.status_at(t)
        if status != "active":
            raise HoldNotActive(found.id, status)
        tick = next(self._ticks)
        pinned = sorted(found.allocations, key=lambda item: burn_order_key(self.blocks[item[0]]))
        draws: list[tuple[str, Decimal]] = []
        need = value
        for block_id, pin in pinned:
            take = min(need, pin)
            if take:
                draws.append((block_id, take))
                need -= take
        entries = [("capture", block_id, take) for block_id, take in draws] + self._end_entries(found, draws, t)
        for block_id, take in draws:
            self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "capture", take))
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "capture", value, tick
        self._wrote(found.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "capture", found.customer, found.unit, taken=draws)
        result = RefResult(kind="capture", values={"captured": value, "released": found.amount - value},
                           draws=tuple(draws), entries=tuple(entries))  # fmt: skip
        found.end_result = result
        return result

    def release(self, hold_id: str, *, at: datetime | None = None, new_op_id: str | None = None) -> RefResult:
        when = parse_optional_time(at, "at")
        found = self._known_hold(hold_id)
        replay = self._end_replay(found, "release", ZERO)
        if replay is not None:
            return replay
        t = self._write_time(found.customer, when)
        status = found.status_at(t)
        if status != "active":
            raise HoldNotActive(found.id, status)
        entries = self._end_entries(found, [], t)
        tick = next(self._ticks)
        found.ended_at, found.end_kind, found.end_amount, found.end_tick = t, "release", ZERO, tick
        self._wrote(found.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "release", found.customer, found.unit)
        result = RefResult(kind="release", values={"released": found.amount}, entries=tuple(entries))
        found.end_result = result
        return result

    def _end_entries(self, found: RefHold, draws: list[tuple[str, Decimal]], t: datetime) -> list[ExpectedEntry]:
        """The entries a capture drawing ``draws`` (none: a release) writes after its
        captures, worked out before it: in allocation order, the rest of each pin released
        (into an expired block it expires at once, into a voided one it is voided at once);
        then, in allocation order, a void of all the unheld credit of each single-use block
        that is spent by the end of the op and has not expired."""
        taken = dict(draws)
        released: list[ExpectedEntry] = []
        spent: list[ExpectedEntry] = []
        for block_id, pin in found.allocations:
            block = self.blocks[block_id]
            before = self.figures(block, t)
            rest = pin - taken.get(block_id, ZERO)
            expired = block.expired_at(t)
            if rest:
                released.append(("release", block_id, rest))
                if expired:
                    released.append(("expire", block_id, rest))
                elif before.closed:
                    released.append(("void", block_id, rest))
            used_by_now = before.first_used_at is not None or taken.get(block_id, ZERO) > 0
            # a voided block gave back its rest at once, and had nothing unheld before
            unheld = before.remaining - before.held + (ZERO if before.closed else rest)
            if block.single_use and used_by_now and not expired and unheld > 0:
                spent.append(("void", block_id, unheld))
        return released + spent

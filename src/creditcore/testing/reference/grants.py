"""The reference model's grants and burns: a grant adds a block (which may pay debt off as it
becomes active, and may be single-use); a burn draws the blocks its scope set and categories may
use, in burn order, voids what is left unheld in a single-use block it is the first to use, and,
with ``overdraft="debt"``, records what no credit covers as debt."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from creditcore.errors import InsufficientCredits, ValidationError
from creditcore.testing.reference.arguments import (
    parse_amount,
    parse_categories,
    parse_cost_basis,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_scope,
)
from creditcore.testing.reference.records import (
    ZERO,
    DebtChange,
    ExpectedEntry,
    Fingerprint,
    Key,
    Move,
    RefBlock,
    RefOp,
    RefResult,
)
from creditcore.testing.reference.walks import ReferenceWalks


class GrantsAndBurns(ReferenceWalks):
    """``grant`` and ``burn``, validated in the documented order (arguments, key, time, state)."""

    def grant(
        self,
        customer: str,
        amount: object,
        *,
        unit: str = "credits",
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        priority: int = 50,
        category: str = "promotional",
        cost_basis: object = None,
        scope: str | Iterable[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        settle_debt: bool | None = None,
        single_use: bool = False,
        at: datetime | None = None,
        block_id: str | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        effective = parse_optional_time(effective_at, "effective_at")
        expires = parse_optional_time(expires_at, "expires_at")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise ValidationError("priority", "an int in 0..1000")
        if category not in ("promotional", "paid"):
            raise ValidationError("category", "promotional or paid")
        basis = None if cost_basis is None else parse_cost_basis(cost_basis)
        scopes = parse_scope(scope)
        meta = dict(metadata or {})
        key = parse_optional_id(idempotency_key, "idempotency_key")
        if settle_debt is not None and not isinstance(settle_debt, bool):
            raise ValidationError("settle_debt", "True or False")
        settles = True if settle_debt is None else settle_debt
        if not isinstance(single_use, bool):
            raise ValidationError("single_use", "True or False")
        when = parse_optional_time(at, "at")
        if effective is not None and expires is not None and expires <= effective:
            raise ValidationError("expires_at", "must be later than effective_at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("effective_at", effective),
            ("expires_at", expires), ("priority", priority), ("category", category), ("cost_basis", basis),
            ("scope", scopes), ("description", description), ("metadata", meta), ("settle_debt", settles),
            ("single_use", single_use),
        )  # fmt: skip
        replay = self._replay("key", key, "grant", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        if expires is not None and expires <= t:
            raise ValidationError("expires_at", "must be later than the grant time")
        tick = next(self._ticks)
        number = next(self._numbers)
        starts = effective if effective is not None else t
        settle_key: Key | None = None
        if settles and scopes is None:  # only unscoped credit pays debt off, when it becomes active
            settle_key = (t, tick, 0, next(self._n)) if starts <= t else (starts, 0, 2, number)
        block = RefBlock(
            id=block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=customer,
            unit=unit,
            amount=value,
            priority=priority,
            category=category,
            cost_basis=basis,
            scope=scopes,
            effective_at=starts,
            expires_at=expires,
            created_at=t,
            number=number,
            description=description,
            metadata=meta,
            settle_key=settle_key,
            single_use=single_use,
        )
        self.blocks[block.id] = block
        self._wrote(customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "grant", customer, unit)
        settled = self._settled_by(block) if starts <= t else ZERO
        entries: list[ExpectedEntry] = [("grant", block.id, value)]
        if settled:
            entries.append(("settle", block.id, settled))
        result = RefResult(
            kind="grant",
            values={"block.id": block.id, **self._block_values(block, t)},
            entries=tuple(entries),
        )
        self._remember("key", key, "grant", fingerprint, result)
        return result

    def burn(
        self,
        customer: str,
        amount: object,
        *,
        unit: str = "credits",
        scope: str | Iterable[str] | None = None,
        categories: str | Iterable[str] | None = None,
        overdraft: str = "reject",
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        value = parse_amount(amount, scale)
        scopes = parse_scope(scope)
        chosen = parse_categories(categories)
        if overdraft not in ("reject", "partial", "debt"):
            raise ValidationError("overdraft", "reject, partial or debt")
        meta = dict(metadata or {})
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        fingerprint: Fingerprint = (
            ("customer", customer), ("amount", value), ("unit", unit), ("scope", scopes), ("overdraft", overdraft),
            ("description", description), ("metadata", meta), ("categories", chosen),
        )  # fmt: skip
        replay = self._replay("key", key, "burn", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(customer, when)
        plan, shortfall = self.plan(customer, unit, scopes, value, t, chosen)
        if shortfall and overdraft == "reject":
            raise InsufficientCredits(value, value - shortfall, unit)
        debt = shortfall if overdraft == "debt" else ZERO
        spent = self._first_use_voids(plan, t)
        tick = next(self._ticks)
        for block_id, take in plan:
            self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "burn", take))
        if debt:
            self.debt_changes.append(DebtChange(customer, unit, t, tick, next(self._n), "debt", debt))
        burned = value - shortfall
        self._wrote(customer, t, own_entries=burned > 0 or debt > 0)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(
            op_id, "burn", customer, unit, taken=list(plan), debt=debt, wrote=burned > 0 or debt > 0
        )
        entries: list[ExpectedEntry] = [("burn", block_id, take) for block_id, take in plan]
        entries += [("void", block_id, rest) for block_id, rest in spent]
        if debt:
            entries.append(("debt", None, debt))
        result = RefResult(
            kind="burn",
            values={"burned": burned, "shortfall": shortfall, "debt": debt},
            draws=tuple(plan),
            entries=tuple(entries),
        )
        self._remember("key", key, "burn", fingerprint, result)
        return result

    def _first_use_voids(self, plan: list[tuple[str, Decimal]], t: datetime) -> list[tuple[str, Decimal]]:
        """Single use: what a burn drawing ``plan`` at ``t`` voids, in plan order: the unheld
        credit each single-use block it draws from has left after the draw. (A block in the
        plan is active and unspent: a spent one has nothing available.)"""
        voids = []
        for block_id, take in plan:
            block = self.blocks[block_id]
            rest = self.figures(block, t).available - take
            if block.single_use and rest > 0:
                voids.append((block_id, rest))
        return voids

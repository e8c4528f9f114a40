"""The reference model's corrections, in the order the docs give: voids of a block's
unheld credit, moves of it into a new block by ``change_expiry``, and reversals of burns
and captures (debt part first, then credit back to the drawn blocks, last drawn first)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from creditcore.errors import Conflict, NotFound, ValidationError
from creditcore.testing.reference.arguments import (
    check_sign,
    parse_amount,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_text,
    parse_time,
)
from creditcore.testing.reference.records import (
    ZERO,
    DebtChange,
    ExpectedEntry,
    Fingerprint,
    Move,
    RefBlock,
    RefOp,
    RefResult,
)
from creditcore.testing.reference.walks import ReferenceWalks


class Corrections(ReferenceWalks):
    """``void``, ``change_expiry`` and ``reverse``."""

    def void(
        self,
        block_id: str,
        amount: object = None,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        """A void: up to the block's unheld remaining (default all of it); an upcoming
        block too."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:
            check_sign(amount)
        reason = parse_text(reason, "reason")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        block = self._known_block(block_id, when)
        value = None if amount is None else parse_amount(amount, self.units[block.unit])
        fingerprint: Fingerprint = (("block_id", block_id), ("amount", value), ("reason", reason))
        replay = self._replay("key", key, "void", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(block.customer, when)
        block = self._recorded_block(block_id)
        unheld = self.unheld(block, t)
        if unheld <= 0:
            raise Conflict(f"block {block_id!r} has no unheld credit left to void")
        value = unheld if value is None else value
        if value > unheld:
            raise ValidationError("amount", "more than the block's unheld remaining")
        block.moves.append(Move(t, next(self._ticks), next(self._n), "void", value))
        self._wrote(block.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "void", block.customer, block.unit)
        result = RefResult(kind="void", values={"voided": value}, entries=(("void", block_id, value),))
        self._remember("key", key, "void", fingerprint, result)
        return result

    def change_expiry(
        self,
        block_id: str,
        expires_at: datetime,
        *,
        amount: object = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
        new_block_id: str | None = None,
    ) -> RefResult:
        """``change_expiry``: the unheld credit moved (default all of it) goes into a new
        block, the same but for its expiry, created now and last in creation order."""
        block_id = parse_id(block_id, "block_id")
        if amount is not None:
            check_sign(amount)
        expires = parse_time(expires_at, "expires_at")
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        old = self._known_block(block_id, when)
        value = None if amount is None else parse_amount(amount, self.units[old.unit])
        fingerprint: Fingerprint = (("block_id", block_id), ("expires_at", expires), ("amount", value))
        replay = self._replay("key", key, "change_expiry", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(old.customer, when)
        old = self._recorded_block(block_id)
        if expires <= t:
            raise ValidationError("expires_at", "must be later than the change")
        unheld = self.unheld(old, t)
        if unheld <= 0:
            raise Conflict(f"block {block_id!r} has no unheld credit left to move")
        if expires <= old.effective_at:
            raise ValidationError("expires_at", "must be later than the block's effective_at")
        value = unheld if value is None else value
        if value > unheld:
            raise ValidationError("amount", "more than the block's unheld remaining")
        tick = next(self._ticks)
        old.moves.append(Move(t, tick, next(self._n), "move_out", value))
        number = next(self._numbers)
        # an upcoming block that would settle debt when it starts still does, and so does its
        # moved credit
        upcoming_settler = old.settle_key is not None and old.effective_at > t
        new = RefBlock(
            id=new_block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=old.customer,
            unit=old.unit,
            amount=value,
            priority=old.priority,
            category=old.category,
            cost_basis=old.cost_basis,
            scope=old.scope,
            effective_at=old.effective_at,
            expires_at=expires,
            created_at=t,
            number=number,
            description=old.description,
            metadata=dict(old.metadata),
            origin=old.id,
            settle_key=(old.effective_at, 0, 2, number) if upcoming_settler else None,
            single_use=old.single_use,  # an unused one: a used one has nothing unheld to move
            source="move",
            refund_of=old.refund_of,
        )
        self.blocks[new.id] = new
        self._wrote(old.customer, t, own_entries=True)
        op_id = self._op_id(new_op_id)
        self.ops[op_id] = RefOp(op_id, "change_expiry", old.customer, old.unit)
        result = RefResult(
            kind="change_expiry",
            values={"block.id": new.id, **self._block_values(new, t)},
            entries=(("move_out", old.id, value), ("move_in", new.id, value)),
        )
        self._remember("key", key, "change_expiry", fingerprint, result)
        return result

    def reverse(
        self,
        op_id: str,
        amount: object = None,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        """A reversal, in the order the docs give: the debt part first (what is still owed
        is cancelled; what was settled goes back to the settling blocks, latest settlement
        first), then credit back to the drawn blocks, last drawn first. Credit that comes
        back into an expired block expires at once; into a voided one, or a spent single-use
        one, it is voided at once. What is left counts earlier refunds too."""
        target = parse_id(op_id, "op_id")
        if amount is not None:
            check_sign(amount)
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        op = self.ops.get(target)
        if op is None:
            raise NotFound(f"no op {target!r}")
        value = None if amount is None else parse_amount(amount, self.units[op.unit])
        fingerprint: Fingerprint = (("op_id", target), ("amount", value))
        replay = self._replay("key", key, "reverse", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(op.customer, when)
        if op.kind not in ("burn", "capture"):
            raise ValidationError("op_id", f"a {op.kind} does not reverse: only burns and captures do")
        left = op.left()
        value = left if value is None else value
        if value > left or value <= 0:
            raise ValidationError("amount", f"{left} is left to reverse")
        need = value
        of_debt = min(need, op.debt - op.debt_undone)
        need -= of_debt
        owed_now = self.debt_view(op.customer, op.unit, t)
        cancel = min(of_debt, owed_now.debt)
        unsettle = of_debt - cancel
        # (block_id, amount, of the debt): settled debt back to the latest settlements first,
        # then credit back to the drawn blocks, last drawn first
        returns: list[tuple[str, Decimal, bool]] = []
        rest = unsettle
        for block_id, settled in reversed(owed_now.stack):
            if not rest:
                break
            returns.append((block_id, min(rest, settled), True))
            rest -= min(rest, settled)
        assert not rest, f"{op.id}: settled debt to give back but no settlement left"
        for block_id, took in reversed(op.taken):
            give = min(need, took - op.given_back.get(block_id, ZERO))
            if give > 0:
                returns.append((block_id, give, False))
                need -= give
        entries: list[ExpectedEntry] = [("reverse", None, cancel)] if cancel else []
        for block_id, give, _ in returns:
            block = self.blocks[block_id]
            figures = self.figures(block, t)
            entries.append(("reverse", block_id, give))
            if block.expired_at(t):
                entries.append(("expire", block_id, give))
            elif figures.closed or (block.single_use and figures.first_used_at is not None):
                entries.append(("void", block_id, give))
        # record it
        tick = next(self._ticks)
        for kind, amount in (("cancel", cancel), ("unsettle", unsettle)):
            if amount:
                self.debt_changes.append(DebtChange(op.customer, op.unit, t, tick, next(self._n), kind, amount))
        for block_id, give, settled_debt in returns:
            self.blocks[block_id].moves.append(Move(t, tick, next(self._n), "return", give))
            if not settled_debt:
                op.given_back[block_id] = op.given_back.get(block_id, ZERO) + give
        op.debt_undone += of_debt
        self._wrote(op.customer, t, own_entries=True)
        new_id = self._op_id(new_op_id)
        self.ops[new_id] = RefOp(new_id, "reverse", op.customer, op.unit)
        result = RefResult(kind="reverse", values={"reversed": value}, entries=tuple(entries))
        self._remember("key", key, "reverse", fingerprint, result)
        return result

    def left_to_reverse(self, op_id: str) -> Decimal:
        found = self.ops.get(op_id)
        return found.left() if found is not None else ZERO

"""The reference model's refunds: fresh credit for an earlier burn or capture, in
one new unscoped block that pays debt off as a grant's would; nothing goes back to the
blocks the op drew. An op's reversals and refunds together stay within what it took."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from creditcore.errors import NotFound, ValidationError
from creditcore.testing.reference.arguments import (
    check_sign,
    parse_amount,
    parse_id,
    parse_optional_id,
    parse_optional_time,
    parse_text,
)
from creditcore.testing.reference.records import ExpectedEntry, Fingerprint, RefBlock, RefOp, RefResult
from creditcore.testing.reference.walks import ReferenceWalks


class Refunds(ReferenceWalks):
    """``refund``."""

    def refund(
        self,
        op_id: str,
        amount: object = None,
        *,
        expires_at: datetime | None = None,
        category: str = "paid",
        priority: int = 50,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        block_id: str | None = None,
        new_op_id: str | None = None,
    ) -> RefResult:
        """A refund, checked in the documented order: arguments; the op (unknown, or a burn
        that wrote nothing: ``NotFound``) and the amount's precision in its unit; the key;
        time order; ``expires_at`` after ``at`` (as a grant's); then state: an op that is not
        a burn or capture (``op_id``), and what it has left (``amount``). The model's
        ledger settles debt with fresh credit (``settle_debt`` is on by default)."""
        target = parse_id(op_id, "op_id")
        if amount is not None:
            check_sign(amount)
        expires = parse_optional_time(expires_at, "expires_at")
        if category not in ("promotional", "paid"):
            raise ValidationError("category", "promotional or paid")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise ValidationError("priority", "an int in 0..1000")
        description = parse_text(description, "description")
        meta = dict(metadata or {})
        key = parse_optional_id(idempotency_key, "idempotency_key")
        when = parse_optional_time(at, "at")
        op = self.ops.get(target)
        if op is None or not op.wrote:  # a burn that wrote nothing made no op
            raise NotFound(f"no op {target!r}")
        value = None if amount is None else parse_amount(amount, self.units[op.unit])
        fingerprint: Fingerprint = (
            ("op_id", target), ("amount", value), ("expires_at", expires), ("category", category),
            ("priority", priority), ("description", description), ("metadata", meta),
        )  # fmt: skip
        replay = self._replay("key", key, "refund", fingerprint)
        if replay is not None:
            return replay
        t = self._write_time(op.customer, when)
        if expires is not None and expires <= t:
            raise ValidationError("expires_at", "must be later than the refund time")
        if op.kind not in ("burn", "capture"):
            raise ValidationError("op_id", f"a {op.kind} is not refunded: only burns and captures are")
        left = op.left()
        value = left if value is None else value
        if left <= 0 or value > left:
            raise ValidationError("amount", f"{left} is left to refund")
        tick = next(self._ticks)
        number = next(self._numbers)
        block = RefBlock(
            id=block_id or f"ref-block-{len(self.blocks) + 1}",
            customer=op.customer,
            unit=op.unit,
            amount=value,
            priority=priority,
            category=category,
            cost_basis=None,
            scope=None,
            effective_at=t,
            expires_at=expires,
            created_at=t,
            number=number,
            description=description,
            metadata=meta,
            settle_key=(t, tick, 0, next(self._n)),  # fresh credit pays debt off at once
            source="refund",
            refund_of=target,
        )
        self.blocks[block.id] = block
        op.refunded += value
        self._wrote(op.customer, t, own_entries=True)
        new_id = self._op_id(new_op_id)
        self.ops[new_id] = RefOp(new_id, "refund", op.customer, op.unit)
        settled = self._settled_by(block)
        entries: list[ExpectedEntry] = [("refund", block.id, value)]
        if settled:
            entries.append(("settle", block.id, settled))
        result = RefResult(
            kind="refund",
            values={"refunded": value, "block.id": block.id, **self._block_values(block, t)},
            entries=tuple(entries),
        )
        self._remember("key", key, "refund", fingerprint, result)
        return result

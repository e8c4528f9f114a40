"""The state machine's corrections: voids and expiry changes of a block's unheld credit,
reversals of burns and captures (whole, part, several, of debt owed or settled), and
refunds of them as fresh credit (whole, part, several, too much)."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from creditcore.testing import strategies as cst
from creditcore.testing.reference import RefBlock
from creditcore.testing.stateful.calls import CUSTOMERS, HOUR, UNITS, Call, at_choices, zones
from creditcore.testing.stateful.side_by_side import SideBySide


class CorrectionRules(SideBySide):
    """``void``, ``change_expiry``, ``reverse`` and ``refund``."""

    # -- void, change_expiry, reverse -------------------------------------------------------

    def _pick_block(self, pick: int) -> RefBlock:
        """A block to act on: mostly one with unheld credit now, sometimes any block, and now
        and then one a due period start or top-up makes by now that no write has recorded
        yet (due events count whether recorded or not: it acts as a recorded one)."""
        if pick % 5 == 1 and self.model.schedules and not self.dodge_unrecorded_blocks:
            unrecorded = [
                block for customer in CUSTOMERS for unit in UNITS
                for block, _ in self.model.block_views(customer, unit=unit) if block.id not in self.model.blocks
            ]  # fmt: skip
            if unrecorded:
                return unrecorded[pick // 5 % len(unrecorded)]
        blocks = list(self.model.blocks.values())
        with_credit = [b for b in blocks if self.model.unheld(b, self.model.read_time(b.customer)) > 0]
        pool = with_credit if with_credit and pick % 8 else blocks
        return pool[pick // 8 % len(pool)]

    @staticmethod
    def _part_of(total: Decimal, unit: str, how: str, part: int, form: int) -> object:
        """An amount for a void, move or reversal of up to ``total``: omitted (all of it),
        ``total`` itself, a part of it, or one minor unit more."""
        if how == "all":
            return None
        scale = UNITS[unit]
        whole = int(total.scaleb(scale))
        minor = {"explicit": whole, "part": part % whole if whole else 0, "over": whole + 1}[how]
        return cst.render_amount(max(minor, 1), scale, form)

    @precondition(lambda self: bool(self.model.blocks))
    @rule(
        pick=st.integers(min_value=0, max_value=10**6),
        how=st.sampled_from(("all", "all", "explicit", "part", "part", "over")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        reason=st.sampled_from((None, None, "refund", "chargeback")),
        keyed=st.booleans(),
        when=at_choices,
        zone=zones,
    )
    def void(self, pick: int, how: str, part: int, form: int, reason: str | None, keyed: bool, when: str,
             zone: tzinfo) -> None:  # fmt: skip
        """A void of all of a block's unheld credit (``amount`` omitted or explicit), of part
        of it, or of one minor unit more (``ValidationError``); nothing unheld left (used up,
        held, expired, voided, moved) is a ``Conflict``. An upcoming block can be voided."""
        block = self._pick_block(pick)
        at = self._time_for(when, block.customer, zone)
        unheld = self.model.unheld(block, at if at is not None else self.model.read_time(block.customer))
        call = Call("void", dict(
            block_id=block.id, amount=self._part_of(unheld, block.unit, how, part, form), reason=reason,
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        self.perform(call, at)

    @precondition(lambda self: bool(self.model.blocks))
    @rule(
        pick=st.integers(min_value=0, max_value=10**6),
        expires=st.sampled_from(("grid",) * 6 + ("now", "start", "start+1h")),
        hours=st.integers(min_value=1, max_value=8),
        how=st.sampled_from(("all", "all", "explicit", "part", "part", "over")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        keyed=st.booleans(),
        when=at_choices,
        zone=zones,
    )
    def change_expiry(self, pick: int, expires: str, hours: int, how: str, part: int, form: int, keyed: bool,
                      when: str, zone: tzinfo) -> None:  # fmt: skip
        """Move all, part or too much of a block's unheld credit into a new block expiring
        at a grid hour (sooner or later than now), now (``ValidationError``), or at or an
        hour after the block's ``effective_at`` (for an upcoming block: at it is refused)."""
        block = self._pick_block(pick)
        at = self._time_for(when, block.customer, zone)
        t = at if at is not None else self.model.read_time(block.customer)
        if expires == "grid":
            expires_at = self._grid(t, hours, zone)
        elif expires == "now":
            expires_at = t.astimezone(zone)
        else:
            expires_at = (block.effective_at + (HOUR if expires == "start+1h" else timedelta(0))).astimezone(zone)
        call = Call("change_expiry", dict(
            block_id=block.id, expires_at=expires_at,
            amount=self._part_of(self.model.unheld(block, t), block.unit, how, part, form),
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        self.perform(call, at)

    @precondition(lambda self: self._has_drawn())
    @rule(
        pick=st.integers(min_value=0, max_value=10**6),
        which=st.sampled_from(("drawn", "drawn", "drawn", "recent", "debt", "debt", "any")),
        how=st.sampled_from(("all", "all", "explicit", "part", "part", "over")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        keyed=st.booleans(),
        when=at_choices,
        zone=zones,
    )
    def reverse(self, pick: int, which: str, how: str, part: int, form: int, keyed: bool, when: str,
                zone: tzinfo) -> None:  # fmt: skip
        """Reverse a burn or capture (mostly one with something left to reverse; the latest such;
        one with a debt part left, which may have been settled since), all that is left of
        it, that exactly, part, or one minor unit more; now and then any op, which for other
        kinds is a ``ValidationError``. Several reversals of one op add up to at most what it
        took."""
        ops = self._reversal_targets()
        drawn = [op for op in ops if op.kind in ("burn", "capture")]
        open_ = [op for op in drawn if op.left() > 0]
        pool = {
            "drawn": open_ if open_ and pick % 8 else drawn,
            "recent": (open_ or drawn)[-1:],
            "debt": [op for op in open_ if op.debt > op.debt_undone] or open_,
            "any": ops,
        }[which] or ops
        op = pool[pick % len(pool)]
        at = self._time_for(when, op.customer, zone)
        call = Call("reverse", dict(
            op_id=op.id, amount=self._part_of(op.left(), op.unit, how, part, form),
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        self.perform(call, at)

    @precondition(lambda self: self._has_drawn())
    @rule(
        pick=st.integers(min_value=0, max_value=10**6),
        which=st.sampled_from(("drawn", "drawn", "drawn", "drawn", "recent", "any")),
        how=st.sampled_from(("all", "all", "explicit", "part", "part", "part", "over")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        expires=st.sampled_from((None, None, None, None, None, 1, 6, "now")),
        category=st.sampled_from((None, None, "promotional", "paid")),
        priority=st.sampled_from((None, None, 0, 1000)),
        keyed=st.booleans(),
        when=at_choices,
        zone=zones,
    )
    def refund(self, pick: int, which: str, how: str, part: int, form: int, expires: int | str | None,
               category: str | None, priority: int | None, keyed: bool, when: str, zone: tzinfo) -> None:  # fmt: skip
        """Refund a burn or capture as fresh credit (mostly one with something left; the
        latest such; now and then any op: another kind is a ``ValidationError`` on
        ``op_id``, a burn that wrote nothing is unknown): all that is left, that exactly,
        part, or one minor unit more (``ValidationError`` on ``amount``, nothing written);
        expiring at a grid hour, never, or now (refused); of either category, at another
        priority. Reversals and refunds of one op add up to at most what it took."""
        drawn = [op for op in self._reversal_targets() if op.kind in ("burn", "capture")]
        open_ = [op for op in drawn if op.left() > 0]
        pool = {
            "drawn": open_ if open_ and pick % 8 else drawn,
            "recent": (open_ or drawn)[-1:],
            "any": list(self.model.ops.values()),
        }[which]
        op = pool[pick % len(pool)]
        at = self._time_for(when, op.customer, zone)
        t = at if at is not None else self.model.read_time(op.customer)
        expires_at = None
        if expires is not None:
            expires_at = t.astimezone(zone) if expires == "now" else self._grid(t, int(expires), zone)
        call = Call("refund", dict(
            op_id=op.id, amount=self._part_of(op.left(), op.unit, how, part, form), expires_at=expires_at,
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        if category is not None:
            call = call.but(category=category)
        if priority is not None:
            call = call.but(priority=priority)
        self.perform(call, at)

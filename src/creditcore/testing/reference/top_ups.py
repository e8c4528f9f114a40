"""The reference model's auto top-up rules: one rule per customer and unit,
idempotent by value; setting one is a write that fires it at once if net is at or below its
threshold; removing one is a write if there was one. What a rule grants later is worked out
at the end of each step (:mod:`.due`)."""

from __future__ import annotations

from datetime import datetime

from creditcore.errors import NotFound, ValidationError
from creditcore.testing.reference.arguments import parse_amount, parse_cost_basis, parse_id, parse_optional_time
from creditcore.testing.reference.due import DueEvents
from creditcore.testing.reference.settings import TOP_UP_FIELDS, RefTopUp, parse_every


def top_up_view(rule: RefTopUp) -> dict[str, object]:
    return {name: getattr(rule, name) for name in TOP_UP_FIELDS}


class TopUps(DueEvents):
    """``set_top_up``, ``get_top_up`` and ``remove_top_up``."""

    def set_top_up(
        self,
        customer: str,
        *,
        unit: str,
        threshold: object,
        amount: object = None,
        target: object = None,
        category: str = "paid",
        priority: int = 50,
        expires_after: object = None,
        cost_basis: object = None,
        at: datetime | None = None,
    ) -> dict[str, object]:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        floor = parse_amount(threshold, scale, "threshold", signed=True)
        if (amount is None) == (target is None):
            raise ValidationError("amount", "exactly one of amount and target")
        each = None if amount is None else parse_amount(amount, scale)
        goal = None if target is None else parse_amount(target, scale, "target", signed=True)
        if goal is not None and goal <= floor:
            raise ValidationError("target", "must be more than the threshold")
        if category not in ("promotional", "paid"):
            raise ValidationError("category", "promotional or paid")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            raise ValidationError("priority", "an int in 0..1000")
        lasts = None if expires_after is None else parse_every(expires_after, "expires_after")
        basis = None if cost_basis is None else parse_cost_basis(cost_basis)
        when = parse_optional_time(at, "at")
        old = self.top_up_rule(customer, unit)
        moment = when if when is not None else self.read_time(customer)
        rule = RefTopUp(customer, unit, floor, each, goal, category, priority, lasts, basis, moment, moment)
        if old is not None and old.same_rule(rule):  # the rule in force again: not a write
            return top_up_view(old)
        t = self._write_time(customer, when)
        self._step = None
        rule = RefTopUp(customer, unit, floor, each, goal, category, priority, lasts, basis,
                        old.created_at if old is not None else t, t)  # fmt: skip
        self.top_up_versions.append((t, customer, unit, rule))
        self._touch(customer, t)
        self._changed()
        self._after_step(customer, t, {u: self.net(customer, u, t) for u in self._units(customer)}, {}, rule_set=unit)
        self._wrote(customer, t, own_entries=False)
        return top_up_view(rule)

    def get_top_up(self, customer: str, *, unit: str, at: datetime | None = None) -> dict[str, object]:
        t = self.read_time(customer, at)
        rule = self.top_up_rule(customer, unit, t)
        if rule is None:
            raise NotFound(f"no top-up rule for {customer!r} in {unit!r}")
        return top_up_view(rule)

    def remove_top_up(self, customer: str, *, unit: str, at: datetime | None = None) -> dict[str, object] | None:
        customer = parse_id(customer, "customer")
        unit, _ = self._scale(unit)
        when = parse_optional_time(at, "at")
        old = self.top_up_rule(customer, unit)
        if old is None:  # nothing to remove: not a write
            return None
        t = self._write_time(customer, when)
        self._step = None
        self.top_up_versions.append((t, customer, unit, None))
        self._touch(customer, t)
        self._wrote(customer, t, own_entries=False)
        return top_up_view(old)

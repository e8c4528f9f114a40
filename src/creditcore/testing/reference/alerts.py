"""The reference model's balance alerts and outbox reads: ``add_alert`` (its id
a key of its own, one active alert of a kind per customer and unit), ``remove_alert``,
``alerts``, and the events recorded so far. Firing is worked out at the end of each step
(:mod:`.due`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from creditcore.errors import Conflict, IdempotencyConflict, NotFound, ValidationError
from creditcore.testing.reference.arguments import parse_amount, parse_id, parse_optional_id, parse_optional_time
from creditcore.testing.reference.due import DueEvents
from creditcore.testing.reference.settings import ALERT_FIELDS, RefAlert, RefEvent

_KINDS = ("depleted", "dropped", "recovered")


def alert_view(alert: RefAlert, *, removed: bool = True) -> dict[str, object]:
    view = {name: getattr(alert, name) for name in ALERT_FIELDS}
    if not removed:
        view["removed_at"] = None
    return view


class Alerts(DueEvents):
    """``add_alert``, ``remove_alert``, ``alerts`` and the recorded events."""

    def add_alert(
        self,
        customer: str,
        *,
        unit: str,
        kind: str,
        thresholds: Iterable[object] = (),
        alert_id: str | None = None,
        at: datetime | None = None,
        new_alert_id: str | None = None,
    ) -> dict[str, object]:
        customer = parse_id(customer, "customer")
        unit, scale = self._scale(unit)
        if isinstance(thresholds, (str, bytes, Mapping)) or not isinstance(thresholds, Iterable):
            raise ValidationError("thresholds", "a collection of amounts")
        levels = tuple(parse_amount(t, scale, "thresholds", signed=True) for t in thresholds)
        given = parse_optional_id(alert_id, "alert_id")
        when = parse_optional_time(at, "at")
        if kind not in _KINDS:
            raise ValidationError("kind", "depleted, dropped or recovered")
        if kind == "dropped" and not (1 <= len(levels) <= 20 and len(set(levels)) == len(levels)):
            raise ValidationError("thresholds", "1 to 20 distinct amounts")
        if kind != "dropped" and levels:
            raise ValidationError("thresholds", "only a dropped alert has thresholds")
        ordered = tuple(sorted(levels, reverse=True))
        known = self.alerts.get(given) if given is not None else None
        if known is not None:  # an alert id is a key of its own, as a hold id
            then = (known.customer, known.unit, known.kind, known.thresholds)
            for name, was, now in zip(("customer", "unit", "kind", "thresholds"), then,
                                      (customer, unit, kind, ordered), strict=True):  # fmt: skip
                if was != now:
                    raise IdempotencyConflict(known.id, name, f"{was!r} then, {now!r} now")
            return alert_view(known)
        t = self._write_time(customer, when)
        self._step = None
        for alert in self.alerts.values():
            if alert.customer == customer and alert.unit == unit and alert.kind == kind and alert.removed_at is None:
                raise Conflict(f"{customer!r} has a {kind} alert in {unit!r}: {alert.id!r}")
        ident = given if given is not None else new_alert_id or f"ref-alr-{next(self._n)}"
        alert = RefAlert(ident, customer, unit, kind, ordered, t)
        self.alerts[ident] = alert
        self._touch(customer, t)
        self._wrote(customer, t, own_entries=False)
        return alert_view(alert)

    def remove_alert(self, alert_id: str, *, at: datetime | None = None) -> dict[str, object]:
        ident = parse_id(alert_id, "alert_id")
        when = parse_optional_time(at, "at")
        alert = self.alerts.get(ident)
        if alert is None:
            raise NotFound(f"no alert {ident!r}")
        if alert.removed_at is not None:  # again: unchanged, not a write
            return alert_view(alert)
        t = self._write_time(alert.customer, when)
        self._step = None
        alert.removed_at = t
        self._touch(alert.customer, t)
        self._wrote(alert.customer, t, own_entries=False)
        return alert_view(alert)

    def alert_list(self, customer: str, *, at: datetime | None = None) -> list[dict[str, object]]:
        t = self.read_time(customer, at)
        return [
            alert_view(a, removed=False)
            for a in self.alerts.values()
            if a.customer == customer and a.created_at <= t and (a.removed_at is None or a.removed_at > t)
        ]

    def events_of(self, customer: str | None = None) -> list[RefEvent]:
        return [e for e in self.events if customer is None or e.customer == customer]

"""The starter credit (Hanzo's ``GrantStarterCredit``): a promotional grant that expires
``lifetime`` after it is made, at most once per customer.

It is one ``ledger.grant`` under the implicit idempotency key ``starter-credit:<customer>``. The
grant's fingerprint compares ``amount``, ``unit`` and the metadata (which holds ``lifetime``),
and also ``expires_at`` — which is computed from ``at``. So that a retry replays whenever it
comes (a fingerprint never compares ``at``, nor a default computed from ``at``), a call whose
key is known reuses the expiry of the grant it made, in the same transaction, with the customer
locked: the same ``amount``, ``unit`` and ``lifetime`` replay the first grant
(``replayed=True``) at any ``at``; another ``amount`` or ``unit`` raises ``IdempotencyConflict``
naming it, another ``lifetime`` naming ``"lifetime"``.

``lifetime`` is a duration as a schedule's ``every``: ``"N minutes|hours|days|
weeks|months|years"``, counted from ``at`` in the customer's zone (its profile's ``timezone``,
else ``timezone``, the Billing's): days keep the local time, months the local day (clamped to
the month).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from creditcore.billing.common import Part
from creditcore.billing.periods import add, parse_every, parse_timezone
from creditcore.errors import IdempotencyConflict, ValidationError
from creditcore.repository import OperationRecord
from creditcore.service.context import write
from creditcore.values import canonical, parse_amount, parse_id, parse_time, to_decimal

if TYPE_CHECKING:
    from creditcore.ledger import Ledger
    from creditcore.model import GrantResult

__all__ = [
    "STARTER_AMOUNT",
    "STARTER_DESCRIPTION",
    "STARTER_LIFETIME",
    "STARTER_TAG",
    "STARTER_UNIT",
    "grant_starter_credit",
    "starter_key",
]

#: Hanzo's ``StarterCredit*`` constants: 5.00 usd for 30 days.
STARTER_AMOUNT = "5.00"
STARTER_UNIT = "usd"
STARTER_LIFETIME = "30 days"
STARTER_DESCRIPTION = "starter credit"
STARTER_TAG = "starter-credit"


def starter_key(customer: str) -> str:
    """The idempotency key of a customer's starter credit."""
    return f"starter-credit:{customer}"


def _lifetime(value: object) -> str:
    if not isinstance(value, str):  # kept in the block's metadata as given: a str
        raise ValidationError("lifetime", f'expected a str such as "30 days" or "1 month", got {type(value).__name__}')
    parse_every(value, "lifetime")
    return value


class _Starter(Part):
    @write
    def grant(
        self,
        ledger: Ledger,
        customer: str,
        *,
        amount: int | Decimal | str,
        unit: str,
        lifetime: str,
        at: datetime | None,
    ) -> GrantResult:
        ctx = self._ctx
        who = parse_id(customer, "customer")
        name, scale = ctx.unit(unit)
        shown = to_decimal(parse_amount(amount, scale), scale)
        span = _lifetime(lifetime)
        given_at = None if at is None else parse_time(at, "at")
        key = starter_key(who)
        metadata = {"tag": STARTER_TAG, "credit_type": "starter", "lifetime": span}
        with ctx.atomic(), ctx.transaction() as uow:  # the lookup and the grant in one transaction
            state = uow.lock(who)  # a second call for the customer waits here
            expires = _known_expiry(uow.find_operation("key", key), key, shown, name, metadata)
            when = given_at
            if expires is None:
                now = ctx.now()
                if when is None:
                    when = now if state.last_at is None or state.last_at <= now else state.last_at
                zone = self.zone_of(uow, who, when)
                try:
                    expires = add(when, parse_every(span, "lifetime"), 1, zone)
                except ValidationError as error:
                    raise ValidationError("lifetime", f"{span!r} after {when.isoformat()}: {error}") from None
                if given_at is None and when > now:
                    when = None  # the ledger dates it at the customer's last write, as computed
            return ledger.grant(
                who,
                shown,
                unit=name,
                expires_at=expires,
                category="promotional",
                description=STARTER_DESCRIPTION,
                metadata=metadata,
                idempotency_key=key,
                at=when,
            )


def _known_expiry(
    record: OperationRecord | None, key: str, amount: Decimal, unit: str, metadata: dict[str, str]
) -> datetime | None:
    """The expiry the starter credit under ``key`` was granted with, if it was: the retry
    passes it again, so only its other arguments are compared. Another ``lifetime`` (the
    same amount and unit) → ``IdempotencyConflict("lifetime")``; anything else that differs
    is the ledger's to name."""
    if record is None or record.kind != "grant":
        return None
    then = dict(record.fingerprint)
    stored = then.get("expires_at")
    if stored is None or stored == "None":
        return None
    if (
        then.get("amount") == canonical(amount)
        and then.get("unit") == canonical(unit)
        and then.get("metadata") != canonical(metadata)
    ):
        raise IdempotencyConflict(key, "lifetime", "the starter credit was granted with another lifetime")
    return datetime.fromisoformat(stored)


def grant_starter_credit(
    ledger: Ledger,
    customer: str,
    *,
    amount: int | Decimal | str = STARTER_AMOUNT,
    unit: str = STARTER_UNIT,
    lifetime: str = STARTER_LIFETIME,
    at: datetime | None = None,
    timezone: str = "UTC",
) -> GrantResult:
    """Grant the customer's starter credit: ``amount`` of ``unit`` (a declared unit),
    ``category="promotional"``, expiring ``lifetime`` after ``at`` (counted in the customer's
    zone, else ``timezone``), description ``"starter credit"``, metadata ``{"tag":
    "starter-credit", "credit_type": "starter", "lifetime": lifetime}``, under the key
    ``starter-credit:<customer>``: at most once per customer. Called again with the same
    ``amount``, ``unit`` and ``lifetime`` it replays the first grant (at any ``at``); with
    others it raises ``IdempotencyConflict`` naming the first that differs."""
    return _Starter(ledger._ctx, parse_timezone(timezone)).grant(
        ledger, customer, amount=amount, unit=unit, lifetime=lifetime, at=at
    )

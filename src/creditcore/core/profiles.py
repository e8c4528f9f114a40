"""Customer profiles: who a customer is, kept apart from its account.

A profile is a value with its own history: every change is a new version, dated when it was
made, and a profile is never a write to the customer's account (its entries' time order knows
nothing of it). :func:`change` is the rule: the next version of a profile from the fields a
caller gives, or ``None`` when they change nothing (a call that changes nothing writes
nothing).

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> first = change(None, "ada", {"name": "Ada", "metadata": {"plan": "pro"}}, t)
>>> first.name, first.email, first.metadata
('Ada', None, {'plan': 'pro'})
>>> change(first, "ada", {"name": "Ada"}, t) is None
True
>>> change(first, "ada", {"metadata": None}, t).metadata
{}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from creditcore.core.state import frozen_dict
from creditcore.errors import ValidationError

#: The fields of a profile a caller sets (``None`` clears one; ``metadata`` to ``{}``).
FIELDS = ("name", "email", "external_id", "metadata", "timezone")


@attrs.frozen(kw_only=True)
class ProfileState:
    """One version of a customer's profile, as it stood from ``at`` on."""

    customer: str
    name: str | None = None
    email: str | None = None
    external_id: str | None = None
    """The app's own id for the customer (unique per ledger)."""
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_dict)
    timezone: str | None = None
    """An IANA zone name; ``None`` until set."""
    at: datetime
    """When this version was set."""


def change(current: ProfileState | None, customer: str, given: Mapping[str, Any], at: datetime) -> ProfileState | None:
    """The profile after setting the ``given`` fields at ``at`` (the fields already parsed;
    one left out is kept, ``None`` clears it), or ``None`` if that changes nothing.

    A profile's history only moves forward: ``at`` before the current version's time raises
    ``ValidationError(field="at")``."""
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise ValidationError(unknown[0], f"a profile has no field {unknown[0]!r}; it has {', '.join(FIELDS)}")
    if current is not None and at < current.at:
        raise ValidationError(
            "at",
            f"{at.isoformat()} is before the last change of {customer!r}'s profile at {current.at.isoformat()}: "
            "a profile's history only moves forward",
        )
    values = {name: getattr(current, name) if current is not None else None for name in FIELDS}
    if current is None:
        values["metadata"] = {}
    for name, value in given.items():
        values[name] = ({} if value is None else dict(value)) if name == "metadata" else value
    if current is not None and all(values[name] == getattr(current, name) for name in FIELDS):
        return None
    return ProfileState(customer=customer, at=at, **values)


def at_time(versions: list[ProfileState], at: datetime) -> ProfileState | None:
    """The version in force at ``at`` (versions oldest first), or ``None`` before the first."""
    found = None
    for version in versions:
        if version.at > at:
            break
        found = version
    return found

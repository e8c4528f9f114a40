"""The error family. Every error leaves the ledger unchanged and says what to do about it."""

from __future__ import annotations

from decimal import Decimal


class CreditError(Exception):
    """Base of every error creditcore raises."""


class ValidationError(CreditError, ValueError):
    """A bad argument: type, sign, range, precision, unit or time order.

    ``field`` names the argument at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        """The argument at fault (``"amount"``, ``"at"``, ``"scope"``, …)."""
        self.message = message
        """What is wrong with it."""


class InsufficientCredits(CreditError):
    """Not enough credit is available for a burn or a hold.

    ``available`` is what that burn or hold could use; ``usable_by`` says whose credit that
    is (``"without a scope"``, ``"to scope 'trip'"``) when other credit is there that it could
    not use, which ``detail`` then names."""

    def __init__(
        self, requested: Decimal, available: Decimal, unit: str, detail: str = "", *, usable_by: str = ""
    ) -> None:
        text = f"requested {requested} {unit} but only {available} {unit} is available"
        text += f" {usable_by}" if usable_by else ""
        super().__init__(text + (f" ({detail})" if detail else ""))
        self.requested = requested
        """The amount asked for."""
        self.available = available
        """What the burn or hold could use (eligible credit only)."""
        self.unit = unit
        """The unit of both amounts."""


class NotFound(CreditError, LookupError):
    """An unknown block, hold or operation."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0]) if self.args else ""


class Conflict(CreditError):
    """The current state forbids the operation."""


class IdempotencyConflict(Conflict):
    """A known idempotency key (or hold id) was reused with different arguments."""

    def __init__(self, key: str, field: str, detail: str) -> None:
        super().__init__(f"key {key!r} was first used with a different {field}: {detail}")
        self.key = key
        """The key (or hold, schedule, alert or caller id) that was reused."""
        self.field = field
        """The first argument that differs from the first call's (``"operation"``: the key was first
        used by another kind of call)."""


class InvalidState(Conflict):
    """An invoice transition its status forbids (issuing a paid invoice, paying a draft...)."""

    def __init__(self, invoice_id: str, status: str, detail: str) -> None:
        super().__init__(f"invoice {invoice_id!r} is {status}: {detail}")
        self.invoice_id = invoice_id
        """The invoice."""
        self.status = status
        """Its status now (``draft``, ``issued``, ``paid`` or ``void``)."""


class HoldNotActive(Conflict):
    """The hold has already ended (captured, released or expired)."""

    def __init__(self, hold_id: str, status: str, detail: str = "") -> None:
        text = f"hold {hold_id!r} is {status}, not active"
        super().__init__(text + (f"; {detail}" if detail else ""))
        self.hold_id = hold_id
        """The hold."""
        self.status = status
        """How it ended: ``captured``, ``released`` or ``expired``."""


class StorageError(CreditError):
    """The storage backend failed; nothing was written."""


class ConcurrencyConflict(StorageError):
    """Another transaction got in the way: a serialization failure, a deadlock, or the same
    idempotency key written by two transactions at once. Nothing was written. A single write
    runs again on its own (and then replays, or applies); a write inside ``atomic()`` voids
    its batch: run the whole batch again."""

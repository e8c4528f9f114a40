"""creditcore: an embeddable prepaid-credit ledger.

Grants become blocks with a priority and an expiry, usage burns them down in a documented
order, holds reserve credit before work starts, and every change is an immutable entry.

>>> from creditcore import Ledger
>>> ledger = Ledger.memory()
"""

from importlib.metadata import PackageNotFoundError, version

from creditcore.errors import (
    ConcurrencyConflict,
    Conflict,
    CreditError,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidState,
    NotFound,
    StorageError,
    ValidationError,
)
from creditcore.ledger import Ledger
from creditcore.model import (
    Alert,
    Balance,
    BalancePoint,
    Block,
    BurnPreview,
    BurnResult,
    CaptureResult,
    ChangeExpiryResult,
    Customer,
    CustomerPage,
    Entry,
    EntryPage,
    EventPage,
    GrantResult,
    Hold,
    HoldResult,
    LedgerEvent,
    RefundResult,
    ReleaseResult,
    Result,
    ReverseResult,
    Schedule,
    ScheduleResult,
    TopUp,
    VerifyReport,
    VoidResult,
)
from creditcore.order import BurnOrder

__all__ = [
    "__version__",
    "Alert",
    "EventPage",
    "LedgerEvent",
    "Schedule",
    "ScheduleResult",
    "TopUp",
    "Balance",
    "BalancePoint",
    "ChangeExpiryResult",
    "RefundResult",
    "ReverseResult",
    "VerifyReport",
    "VoidResult",
    "Block",
    "BurnOrder",
    "BurnPreview",
    "Customer",
    "CustomerPage",
    "BurnResult",
    "CaptureResult",
    "ConcurrencyConflict",
    "Conflict",
    "CreditError",
    "Entry",
    "EntryPage",
    "GrantResult",
    "Hold",
    "HoldNotActive",
    "HoldResult",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidState",
    "Ledger",
    "NotFound",
    "ReleaseResult",
    "Result",
    "StorageError",
    "ValidationError",
]

try:
    #: The installed version: one source, ``version`` in pyproject.toml.
    __version__ = version("creditcore")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

"""Burn order (kept here for importers: it lives in :mod:`creditcore.core.order`).

>>> BurnOrder.fifo().keys
('effective_at', 'created')
"""

from creditcore.core.order import DEFAULT_ORDER, KEYS, BurnOrder

__all__ = ["DEFAULT_ORDER", "KEYS", "BurnOrder"]

"""The shell around the pure core: the context a ledger shares, batches, idempotency, the
one write path and the reads. :class:`~creditcore.ledger.Ledger` is its facade."""

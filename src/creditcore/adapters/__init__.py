"""Storage adapters: one module per backend, storage only."""

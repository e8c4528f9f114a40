"""Test helpers shipped with creditcore, for its own suite and for third-party adapters.

- :mod:`creditcore.testing.contract`: :class:`RepositoryContract`, the behaviour tests every
  repository must pass; subclass it with a ``make_repository`` factory to prove an adapter.

Importing these modules needs pytest (``pip install "creditcore[test]"``).
"""

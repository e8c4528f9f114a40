"""Hypothesis profiles for the whole suite, chosen with ``HYPOTHESIS_PROFILE`` (default ``ci``).

- ``ci``: 200 examples; a state machine runs up to 50 steps in each (SPEC §12's floor).
- ``thorough``: 5,000 examples, for a nightly run or before a release.
- ``dev``: a quick look while editing.

    HYPOTHESIS_PROFILE=thorough python -m pytest tests/properties
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=5_000)
settings.register_profile("dev", settings.get_profile("ci"), max_examples=20, stateful_step_count=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

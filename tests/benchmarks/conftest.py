"""``benchmarks`` is a package at the repository root, not an installed one: the root goes on
``sys.path`` so that the tests import it (and not this directory, which has the same name)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

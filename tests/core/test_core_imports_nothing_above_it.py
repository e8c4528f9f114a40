"""The pure core imports nothing of creditcore but errors, values and itself."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import creditcore.core

CORE_MODULES = sorted(f"creditcore.core.{m.name}" for m in pkgutil.iter_modules(creditcore.core.__path__))
ALLOWED = {"creditcore", "creditcore.errors", "creditcore.values"}


def test_the_core_has_its_modules() -> None:
    assert {"creditcore.core.rules", "creditcore.core.due", "creditcore.core.history"} <= set(CORE_MODULES)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_a_core_module_loads_nothing_above_the_core(module: str) -> None:
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('creditcore'))))"
    )
    # the package's __init__ re-exports the Ledger; load the core without running it
    loader = (
        "import sys, types, pathlib; import importlib.util as u; "
        "spec = u.find_spec('creditcore'); pkg = types.ModuleType('creditcore'); "
        "pkg.__path__ = list(spec.submodule_search_locations); sys.modules['creditcore'] = pkg; "
    )
    out = subprocess.run(
        [sys.executable, "-c", loader + code, module], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    above = {m for m in loaded - ALLOWED if not m.startswith("creditcore.core")}
    assert not above, f"{module} imports {sorted(above)}, which sit above the pure core"

"""The pure billing modules stay pure: they load nothing of creditcore but the core, errors and
values (and each other), and their docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys

import pytest

PURE = [
    "creditcore.billing.values",
    "creditcore.billing.pricing",
    "creditcore.billing.metering",
    "creditcore.billing.periods",
]
ALLOWED = {"creditcore", "creditcore.billing", "creditcore.errors", "creditcore.values", *PURE}


@pytest.mark.parametrize("module", PURE)
def test_a_pure_billing_module_loads_nothing_above_the_core(module: str) -> None:
    # load the module without running the packages' __init__ (which will re-export the shell)
    loader = (
        "import sys, types, importlib.util as u; "
        "spec = u.find_spec('creditcore'); pkg = types.ModuleType('creditcore'); "
        "pkg.__path__ = list(spec.submodule_search_locations); sys.modules['creditcore'] = pkg; "
        "billing = types.ModuleType('creditcore.billing'); "
        "billing.__path__ = [p + '/billing' for p in pkg.__path__]; sys.modules['creditcore.billing'] = billing; "
    )
    code = (
        "import importlib, json; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('creditcore'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", loader + code, module], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    above = {m for m in loaded - ALLOWED if not m.startswith("creditcore.core")}
    assert not above, f"{module} imports {sorted(above)}, which sit above the pure core"


@pytest.mark.parametrize("name", ["creditcore.billing", *PURE])
def test_docstring_examples_run(name: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0 and tried > 0


def test_the_package_exports_the_pure_names() -> None:
    import creditcore.billing as billing

    for name in billing.__all__:
        assert getattr(billing, name) is not None
    assert {
        "Tier",
        "PriceModel",
        "MeterReading",
        "price",
        "round_half_up",
        "percent_off",
        "aggregate",
        "window",
    } <= set(billing.__all__)
    made = billing.Billing(__import__("creditcore").Ledger.memory())
    for name in ("meters", "prices", "usage", "vouchers", "invoices"):
        assert type(getattr(made, name)).__module__ == f"creditcore.billing.{name}"  # one module each (B1)
    for verb in ("charge", "charge_product", "purchase_credits", "grant_starter_credit"):
        assert callable(getattr(made, verb))

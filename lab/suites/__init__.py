"""Scenario-specific host-side checks, one module per suite; each registers its checks.

Every module in this package is imported when lab.checks is, so adding a suite is adding a
module (plus its YAML and guest programs), with no registry to edit. A module that fails to
import costs only its own checks: the failure is kept in BROKEN and shown where a scenario
names one of its checks.
"""

import importlib
import pkgutil
import traceback

BROKEN: dict[str, str] = {}  # module name -> the import error, last line first

for _module in pkgutil.iter_modules(__path__):
    try:
        importlib.import_module(f"{__name__}.{_module.name}")
    except Exception as _exc:  # a broken suite must not take the lab down
        BROKEN[_module.name] = f"{type(_exc).__name__}: {_exc}\n{traceback.format_exc()}"

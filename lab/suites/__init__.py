"""Scenario-specific host-side checks, one module per suite; each registers its checks.

Every module in this package is imported when lab.checks is, so adding a suite is adding a
module (plus its YAML and guest programs), with no registry to edit.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

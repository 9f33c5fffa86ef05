"""The suites the lab ships: one module (or package) per suite, each exporting what scenario
files may name — ``CHECKS`` (check name -> check) and, where it builds an initramfs layer,
``LAYERS`` (layer name -> builder).

load_catalog() imports them explicitly, in a fixed order, and returns one Catalog that the run's
plan carries: nothing is registered as a side effect of an import. A module that fails to import
costs only its own checks: the failure is kept in ``broken`` and shown where a scenario names one
of its checks.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from lab.checks import Check
from lab.config.scenarios import Known

SUITE_MODULES = ("core", "abi", "control", "stubs", "perf", "kselftest")


@dataclass(frozen=True)
class Catalog:
    """Every check and initramfs layer the suites provide, and the suites that failed to load."""

    checks: Mapping[str, Check]
    layers: Mapping[str, Any] = field(default_factory=dict)  # name -> lab.images layer builder
    broken: Mapping[str, str] = field(default_factory=dict)  # module -> its import error

    def known(self) -> Known:
        """What scenario files may name, for validating them before anything runs."""
        return Known(frozenset(self.checks), frozenset(self.layers), dict(self.broken))

    def with_checks(self, extra: Mapping[str, Check]) -> Catalog:
        """This catalog plus more checks (a test's own, say); a name given twice is an error."""
        clash = sorted(set(extra) & set(self.checks))
        if clash:
            raise ValueError(f"checks defined twice: {clash}")
        return replace(self, checks={**self.checks, **extra})


def _collect(names: tuple[str, ...]) -> Catalog:
    checks: dict[str, Check] = {}
    layers: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except Exception as exc:  # a broken suite must not take the lab down
            broken[name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            continue
        for kind, into in (("CHECKS", checks), ("LAYERS", layers)):
            for key, value in getattr(module, kind, {}).items():
                if key in into:
                    raise ValueError(f"{kind[:-1].lower()} {key!r} defined twice ({name})")
                into[key] = value
    return Catalog(checks, layers, broken)


@cache
def load_catalog() -> Catalog:
    """The shipped suites' checks and layers (imported once per process)."""
    return _collect(SUITE_MODULES)

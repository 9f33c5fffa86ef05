"""Reading results.json of every schema version: one place that turns old shapes into the current.

Schema 1 (before cells) keyed verdicts, guest records and guest directories by profile; a
machine-variant boot's guest record was ``profile@variant``. Schema 2 keys them by cell name
(lab.engine.cell.Cell.name: ``profile@kernel[@emulator]``, ``profile@silicon``) and a variant
boot's guest record by :func:`guest_key`. :func:`upgrade` gives a loaded results.json of any
readable version the schema-2 shape, so `lab report show/diff/trend/html` compare a schema-1
run with a schema-2 run of the same matrix verdict for verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.engine.cell import SYSTEM_EMULATOR, cell_name

__all__ = ["READABLE_VERSIONS", "SCHEMA_VERSION", "guest_key", "upgrade", "verdict_cell"]

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
VARIANT_SEPARATOR = "+"


def guest_key(cell: str, variant: str = "") -> str:
    """The guest record key of a boot: the cell name, ``<cell>+<variant>`` for a machine variant.

    Variant labels join their parts with '+' too ("icount+nopti"); the cell is everything before
    the first '+' (profile, recipe and emulator names cannot contain one), and every record
    also carries its ``cell`` and ``variant`` fields, so no reader has to split the key.
    """
    return f"{cell}{VARIANT_SEPARATOR}{variant}" if variant else cell


def _kernel_of(v: Mapping[str, Any], guests: Mapping[str, Any]) -> str:
    """A schema-1 verdict's kernel: its env's, else its profile's guest record's, else "?"."""
    env = v.get("env") or {}
    if env.get("kernel"):
        return str(env["kernel"])
    record = guests.get(str(v.get("profile", ""))) or {}
    return str(record.get("kernel") or "?")


def verdict_cell(v: Mapping[str, Any], guests: Mapping[str, Any] | None = None) -> str:
    """The cell a verdict (a results.json dict of any version) ran on.

    Schema 2 says so; for schema 1 it is derived from the profile and the kernel of the
    verdict's environment (null for boot failures: then the profile's guest record, else "?");
    schema 1 only ran the host's own QEMU, or silicon.
    """
    if v.get("cell"):
        return str(v["cell"])
    env = v.get("env") or {}
    return cell_name(
        str(v.get("profile", "?")),
        _kernel_of(v, guests or {}),
        str(env.get("emulator", "")),
    )


def _upgrade_env(env: Mapping[str, Any], cell: str, transport: str) -> dict[str, Any]:
    machine = env.get("accel") == "silicon" or cell.endswith("@silicon")
    out = dict(env)
    out["cell"] = out.get("cell") or cell
    out.setdefault("emulator", "" if machine else SYSTEM_EMULATOR)
    out.setdefault("target", "machine" if machine else "qemu")
    out.setdefault("transport", transport)
    return out


def _upgrade_guests(guests: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Schema-1 guest records (``profile`` or ``profile@variant``) re-keyed by guest_key."""
    out: dict[str, dict[str, Any]] = {}
    for key, record in guests.items():
        record = dict(record or {})
        if record.get("cell"):
            out[key] = record
            continue
        profile, _, variant = key.partition("@")  # profile names cannot contain '@'
        variant = str(record.get("variant") or variant)
        kernel = str(record.get("kernel") or (guests.get(profile) or {}).get("kernel") or "?")
        cell = cell_name(str(record.get("profile") or profile), kernel, "")
        record["cell"], record["variant"] = cell, variant
        out[guest_key(cell, variant)] = record
    return out


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded results.json of any readable version, in the current (schema-2) shape.

    Returns a new dict (the input is not changed); idempotent on schema 2, where it only fills
    a verdict's missing ``cell``. Raises ValueError for a version this lab cannot read.
    """
    version = data.get("schema_version", 1)
    if version not in READABLE_VERSIONS:
        raise ValueError(f"results schema {version}, this lab reads {list(READABLE_VERSIONS)}")
    old_guests: Mapping[str, Any] = data.get("guests") or {}
    out = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    verdicts = []
    for v in data.get("verdicts") or []:
        cell = verdict_cell(v, old_guests)
        new = {**v, "cell": cell, "error_kind": v.get("error_kind", "")}
        if v.get("env"):
            record = old_guests.get(str(v.get("profile", ""))) or {}
            new["env"] = _upgrade_env(v["env"], cell, str(record.get("transport", "console")))
        verdicts.append(new)
    out["verdicts"] = verdicts
    out["guests"] = _upgrade_guests(old_guests) if version == 1 else dict(old_guests)
    return out

"""report.html: one self-contained page per run (inline CSS, plots as base64 PNG; opens offline).

It shows the cell × scenario matrix (rows grouped by kernel) with every verdict's status, the
guests a run booted, the per-path system-call costs of the perf suite (plots made with
matplotlib's Agg renderer, and tables with the ratios between paths of the same guest), and the
details of everything that did not pass. All text that came from a guest or a config file is
escaped with html.escape: guest output is untrusted. Plot labels have every $ escaped,
so matplotlib never reads them as mathtext.

Without matplotlib the page is still written, with the tables and a note instead of plots.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lab.fsutil import atomic_write
from lab.report.compat import upgrade
from lab.report.emulators import DIFFERS, cpu_differences, emulator_axis, pair_of
from lab.report.findings import contradiction_lines, evidence_note, finding_html, summary_html
from lab.report.results import SEVERITY, Status, worst

__all__ = ["perf_tables", "render_html", "write_html"]

CALLPATH_ORDER = ("int80", "at_sysinfo", "vdso_sym", "glibc", "syscall64", "vdso_fn")
SYSCALL_ORDER = ("getpid", "getppid", "pselect6", "clock_gettime")
COLORS = {
    "int80": "#d62728",
    "at_sysinfo": "#1f77b4",
    "vdso_sym": "#2ca02c",
    "glibc": "#9467bd",
    "syscall64": "#8c564b",
    "vdso_fn": "#ff7f0e",
}
STATUS_CSS = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.DIVERGENCE: "div",
    Status.ERROR: "err",
    Status.SKIP: "skip",
    Status.XFAIL: "xfail",
    Status.XPASS: "xpass",
    Status.FLAKY: "flaky",
}
MAX_DETAIL = 4000
PLOT_LABEL = 32  # characters of a cell name under a bar ("intel-sep@cloud-amd64@qemu-9.2")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222;
max-width:1320px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}th.kernel{background:#e4e8f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.pass{background:#d8f5d8}td.fail{background:#f8c8c8;font-weight:bold}
td.div{background:#fde9b0}td.err{background:#e8c8f0;font-weight:bold}td.skip{background:#eee}
td.xfail{background:#d8eef8}td.xpass{background:#ffd27f;font-weight:bold}
td.flaky{background:#c8f0e8;font-weight:bold}
td.differs{outline:3px solid #222;outline-offset:-3px}
tr.pair th,tr.pair td{border-top:2px solid #888}
td.emu{white-space:nowrap;color:#444}ul.evidence{margin:.3em 0;padding-left:1.4em}
.meta{color:#555}.note{color:#555;font-size:.9em;max-width:70em}
div.wide{overflow-x:auto}
img.plot{max-width:100%;box-sizing:border-box;border:1px solid #ddd;margin:.5em 0}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;max-height:20em;font-size:.85em}
details{margin:.3em 0}summary{cursor:pointer}
"""


def _e(value: Any) -> str:
    """Escaped text of anything (guest text is data, never markup)."""
    return html.escape(str(value), quote=True)


def _plain(value: Any, limit: int = 60) -> str:
    """A plot label: printable, short, every $ escaped so matplotlib never reads mathtext."""
    text = re.sub(r"[\x00-\x1f\x7f]", "?", str(value))
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


# -- data ---------------------------------------------------------------------------------------


def _perf_verdicts(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in data.get("verdicts", []):
        obs = v.get("observed")
        if isinstance(obs, dict) and isinstance(obs.get("net"), int) and obs.get("mode"):
            out.append(v)
    return out


def _series_name(path: str) -> tuple[str, str] | None:
    """cost/<callpath>/<syscall>[/detail] -> (callpath[/detail], syscall); None for baselines."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "cost" or parts[1] in ("none", "none64", "calib"):
        return None
    name = parts[1] + ("/" + "/".join(parts[3:]) if len(parts) > 3 else "")
    return name, parts[2]


def perf_tables(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per scenario: mode, unit, environment and {cell: {series: {syscall: net}}}.

    ``data``: results.json of any schema version (upgraded here)."""
    data = upgrade(data)
    out: dict[str, dict[str, Any]] = {}
    for v in _perf_verdicts(data):
        named = _series_name(str(v.get("path", "")))
        if named is None or v.get("status") != "pass":
            continue
        series, syscall = named
        obs, env = v["observed"], v.get("env") or {}
        sc = out.setdefault(
            str(v["scenario"]),
            {"mode": obs["mode"], "unit": obs.get("unit", ""), "cells": {}, "env": {}},
        )
        sc["cells"].setdefault(str(v["cell"]), {}).setdefault(series, {})[syscall] = obs["net"]
        sc["env"][str(v["cell"])] = {
            "accel": env.get("accel", ""),
            "qemu_version": env.get("qemu_version", ""),
            "variant": env.get("variant", ""),
            "kernel_release": env.get("kernel_release", ""),
        }
    for v in data.get("verdicts", []):
        if v.get("path") == "cost/ratios" and isinstance(v.get("observed"), dict):
            found = out.get(str(v["scenario"]))
            if found is not None:
                found.setdefault("ratios", {})[str(v["cell"])] = v["observed"]
    return out


# -- plots --------------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _cost_figure(scenario: str, table: dict[str, Any]) -> str:
    """Grouped bars: x = cell, one bar per call path, one panel per system call."""
    import matplotlib
    from matplotlib.figure import Figure

    names = list(table["cells"])
    with matplotlib.rc_context({"font.size": 9}):
        fig = Figure(figsize=(13, 7.5))
        axes = fig.subplots(2, 2).flatten()
        for ax, syscall in zip(axes, SYSCALL_ORDER, strict=False):
            paths = [
                p
                for p in CALLPATH_ORDER
                if any(syscall in table["cells"][pr].get(p, {}) for pr in names)
            ]
            width = 0.8 / max(1, len(paths))
            for i, path in enumerate(paths):
                xs = [k + (i - (len(paths) - 1) / 2) * width for k in range(len(names))]
                ys = [table["cells"][pr].get(path, {}).get(syscall, 0) for pr in names]
                ax.bar(xs, ys, width, label=path, color=COLORS.get(path, "#777"))
            ax.set_title(f"{syscall}")
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels([_plain(p, PLOT_LABEL) for p in names], rotation=30, ha="right")
            ax.set_ylabel(f"net cost ({_plain(table['unit'])})")
            values = [
                v
                for pr in names
                for p in paths
                if (v := table["cells"][pr].get(p, {}).get(syscall, 0)) > 0
            ]
            if values and max(values) > 10 * min(values):
                ax.set_yscale("log")  # wall mode: PTI guests cost ten times the others'
                ax.set_ylabel(f"net cost ({_plain(table['unit'])}, log scale)")
            ax.grid(axis="y", alpha=0.3)
        handles, labels = axes[-1].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(labels),
            frameon=False,
        )
        what = (
            "path length: guest instructions (-icount), minimum"
            if table["mode"] == "exact"
            else "TSC ticks, median"
        )
        fig.suptitle(f"{_plain(scenario)}: {what}, timing baseline subtracted", y=1.02)
        fig.tight_layout()
        return _png(fig)


def _ratio_figure(scenario: str, table: dict[str, Any]) -> str | None:
    """int80 / fast path per system call, and forced IRET / opportunistic return, per cell."""
    import matplotlib
    from matplotlib.figure import Figure

    ratios = table.get("ratios") or {}
    names = [p for p in table["cells"] if p in ratios]
    if not names:
        return None
    with matplotlib.rc_context({"font.size": 9}):
        fig = Figure(figsize=(13, 3.8))
        left, right = fig.subplots(1, 2)
        width = 0.8 / len(SYSCALL_ORDER)
        for i, syscall in enumerate(SYSCALL_ORDER):
            xs = [k + (i - 1.5) * width for k in range(len(names))]
            ys = [
                (ratios[p].get("ratios", {}).get("int80/vdso_sym", {}) or {}).get(syscall) or 0
                for p in names
            ]
            left.bar(xs, ys, width, label=syscall)
        left.axhline(1.0, color="#444", lw=0.8)
        left.set_title(_plain("raw int $0x80 / __kernel_vsyscall (net cost ratio)"))
        right_vals = [
            ((ratios[p].get("forced_iret") or {}).get("estimate_ratio") or 0) for p in names
        ]
        right.bar(range(len(names)), right_vals, 0.6, color="#7f7f7f")
        if not any(right_vals):
            right.text(
                0.5,
                0.5,
                "no significant difference under the tracer's noise\n(Mann-Whitney U, p >= 0.01)",
                ha="center",
                va="center",
                transform=right.transAxes,
            )
        right.axhline(1.0, color="#444", lw=0.8)
        right.set_title("fast call with forced IRET / opportunistic return (getpid, estimate)")
        for ax in (left, right):
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels([_plain(p, PLOT_LABEL) for p in names], rotation=30, ha="right")
            ax.grid(axis="y", alpha=0.3)
        left.legend(fontsize=8, ncol=4, loc="lower center")
        fig.suptitle(f"{_plain(scenario)}: ratios between paths in the same guest", y=1.03)
        fig.tight_layout()
        return _png(fig)


# -- html ---------------------------------------------------------------------------------------


def _kernels(data: dict[str, Any]) -> dict[str, str]:
    """Each cell's kernel (recipe or path): from its verdicts' env, else its guest record, else
    the part of its name after the profile; "silicon" for real machines."""
    out: dict[str, str] = {}
    for v in data.get("verdicts", []):
        env = v.get("env") or {}
        if env.get("kernel") and not out.get(v["cell"]):
            out[v["cell"]] = "silicon" if env.get("accel") == "silicon" else str(env["kernel"])
    for g in (data.get("guests") or {}).values():
        if g.get("cell") and g.get("kernel"):
            out.setdefault(str(g["cell"]), str(g["kernel"]))
    for v in data.get("verdicts", []):
        out.setdefault(v["cell"], [*str(v["cell"]).split("@"), "?"][1])
    return out


def _releases(data: dict[str, Any], kernels: dict[str, str]) -> dict[str, str]:
    """Each kernel's exact release(s) (uname -r of its guests, from verdicts and guest records),
    for its group's header: a kernel name alone does not say which upload of a series ran."""
    seen: dict[str, dict[str, None]] = {}
    records = [(v["cell"], v.get("env") or {}) for v in data.get("verdicts", [])]
    records += [(g.get("cell"), g) for g in (data.get("guests") or {}).values()]
    for cell, r in records:
        if cell in kernels and r.get("kernel_release"):
            seen.setdefault(kernels[cell], {})[str(r["kernel_release"])] = None
    return {k: ", ".join(found) for k, found in seen.items()}


def kernel_headings(data: dict[str, Any]) -> dict[str, str]:
    """Each cell's kernel group heading ("kernel 7.2/cloud-amd64 (7.2.0-1-cloud-amd64)"): the
    HTML matrix and the terminal's (`lab report show`) group their rows under it."""
    kernels = _kernels(data)
    releases = _releases(data, kernels)
    return {
        c: f"kernel {k}" + (f" ({releases[k]})" if releases.get(k) else "")
        for c, k in kernels.items()
    }


def _matrix(data: dict[str, Any]) -> str:
    """Rows are cells, grouped under their kernel (kernels and cells in order of appearance).

    When the run's cells span several emulator builds, each profile@kernel's cells stand
    together, one row per build with its QEMU version, and a scenario whose status differs
    between them is marked (≠, outlined)."""
    verdicts = data.get("verdicts", [])
    kernels = kernel_headings(data)
    order = list(dict.fromkeys(str(v["cell"]) for v in verdicts))
    kernel_order = list(dict.fromkeys(kernels[c] for c in order))
    order.sort(key=lambda c: kernel_order.index(kernels[c]))
    axis = emulator_axis(verdicts, data.get("guests"))
    side = axis if axis.spans else None
    if side is not None:
        order = side.side_by_side(order)
    scenarios = list(dict.fromkeys(str(v["scenario"]) for v in verdicts))
    guests = data.get("guests", {})
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for v in verdicts:
        cells.setdefault((str(v["cell"]), str(v["scenario"])), []).append(v)
    worst_of = {k: worst([Status(v["status"]) for v in vs]) for k, vs in cells.items()}
    differs = side.differing(worst_of) if side is not None else set()
    lead = 2 if side is not None else 1
    rows = ["<table><tr><th>cell (vendor)</th>"]
    rows += ["<th>emulator</th>"] if side is not None else []
    rows += [f"<th>{_e(s)}</th>" for s in scenarios]
    rows.append("</tr>")
    kernel, pair = None, ""
    for c in order:
        first = ""
        if kernels[c] != kernel:
            kernel = kernels[c]
            rows.append(
                f"<tr><th class=kernel colspan={len(scenarios) + lead}>{_e(kernel)}</th></tr>"
            )
        elif side is not None and pair_of(c) != pair:
            first = " class=pair"
        pair = pair_of(c)
        vendor = (guests.get(c) or {}).get("vendor", "")
        rows.append(f"<tr{first}><th>{_e(c)}<br><span class=meta>{_e(vendor)}</span></th>")
        if side is not None:
            rows.append(f"<td class=emu>{_e(side.heading_of(c))}</td>")
        for s in scenarios:
            vs = cells.get((c, s))
            if not vs:
                rows.append("<td>—</td>")
                continue
            statuses = [Status(v["status"]) for v in vs]
            w = worst_of[(c, s)]
            bad = sum(st.bad for st in statuses)
            tip = "\n".join(f"{v.get('path') or s}: {v['status']}" for v in vs)
            label = w.value + (f" {bad}/{len(vs)}" if bad and len(vs) > 1 else "")
            label += f" ({len(vs)})" if len(vs) > 1 and not bad else ""
            css = STATUS_CSS[w]
            if (c, s) in differs:
                css, label = f"{css} differs", f"{DIFFERS} {label}"
                tip += "\n(differs between emulator builds)"
            rows.append(f'<td class="{css}" title="{_e(tip)}">{_e(label)}</td>')
        rows.append("</tr>")
    rows.append("</table>")
    legend = " · ".join(f'<span class="{STATUS_CSS[s]}">{s.value}</span>' for s in SEVERITY)
    builds = ""
    if side is not None:
        builds = (
            " Emulators side by side: "
            + _e(", ".join(h for h in side.headings.values()))
            + f"; each profile@kernel has a row per build, and {DIFFERS} (outlined) marks a "
            "scenario whose status differs between its builds."
        )
    return (
        "".join(rows)
        + "<p class=note>A row is a cell: profile@kernel[@emulator] (profile@silicon on a real "
        f"machine). Worst status per scenario, (n) verdicts; hover for each one.{builds} "
        f"{legend}. divergence = the emulator does what real silicon would not (a finding); "
        "flaky = re-runs on fresh boots disagreed (k of n bad, every attempt in the details)."
        "</p>"
    )


def _guests(data: dict[str, Any]) -> str:
    """One row per boot (cell, or cell+variant), sorted by kernel."""
    cols = (
        "kernel",
        "vendor",
        "kernel_release",
        "accel",
        "qemu_version",
        "variant",
        "boot_seconds",
    )
    out = ["<table><tr><th>guest</th>", *(f"<th>{_e(c)}</th>" for c in cols), "</tr>"]
    guests = (data.get("guests") or {}).items()
    for name, g in sorted(guests, key=lambda item: str(item[1].get("kernel", ""))):
        out.append(f"<tr><th>{_e(name)}</th>")
        for c in cols:
            value = g.get(c, g.get("boot_error", "") if c == "vendor" else "")
            out.append(f"<td>{_e(value)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def _perf_section(tables: dict[str, dict[str, Any]], plots: bool) -> str:
    if not tables:
        return ""
    out = [
        "<h2>System-call cost per path</h2>",
        "<p class=note><b>exact</b>: QEMU <code>-icount shift=0,sleep=off</code> (TCG); the guest "
        "TSC advances one tick per guest instruction, so a number is a <i>path length</i> in "
        "instructions (user and kernel), the minimum over the samples; identical run to run. "
        "It is not a cycle count: IRET and SYSRET are one instruction each. <b>wall</b>: TSC "
        "ticks on the profile's own machine, median; under TCG that is host time spent "
        "emulating, under KVM real cycles. Net = headline − timing baseline (the same call "
        "sequence without a system call).</p>",
    ]
    if not plots:
        out.append("<p class=note>(matplotlib is not installed: plots left out.)</p>")
    for scenario, table in tables.items():
        envs = table["env"].values()
        qemus = sorted({str(e.get("qemu_version", "")) for e in envs})
        accels = sorted({str(e.get("accel", "")) for e in envs})
        variants = sorted({str(e.get("variant", "")) or "default" for e in envs})
        out.append(
            f"<h3>{_e(scenario)}: {_e(table['mode'])} mode ({_e(table['unit'])})</h3>"
            f"<p class=meta>accelerator {_e(', '.join(accels))} · QEMU {_e(', '.join(qemus))}"
            f" · machine variant {_e(', '.join(variants))}</p>"
        )
        if plots:
            out.append(
                f'<img class=plot alt="cost per path, {_e(scenario)}" '
                f'src="data:image/png;base64,{_cost_figure(scenario, table)}">'
            )
            ratio_png = _ratio_figure(scenario, table)
            if ratio_png:
                out.append(
                    f'<img class=plot alt="ratios, {_e(scenario)}" '
                    f'src="data:image/png;base64,{ratio_png}">'
                )
        out.append(f"<div class=wide>{_cost_table(table)}</div>")
    return "".join(out)


def _cost_table(table: dict[str, Any]) -> str:
    series = [
        s
        for s in (*CALLPATH_ORDER, "vdso_sym/traced", "vdso_sym/traced-iret", "int80/traced")
        if any(s in t for t in table["cells"].values())
    ]
    out = ["<table><tr><th>cell</th><th>system call</th>"]
    out += [f"<th>{_e(s)}</th>" for s in series]
    out += ["<th>int80 / vdso_sym</th><th>glibc / vdso_sym</th><th>syscall64 / vdso_sym</th></tr>"]
    for name, values in table["cells"].items():
        r = ((table.get("ratios") or {}).get(name) or {}).get("ratios", {})
        for syscall in SYSCALL_ORDER:
            if not any(syscall in values.get(s, {}) for s in series):
                continue
            out.append(f"<tr><th>{_e(name)}</th><td>{_e(syscall)}</td>")
            out += [
                f"<td class=num>{_e(_fmt(values.get(s, {}).get(syscall)))}</td>" for s in series
            ]
            for key in ("int80/vdso_sym", "glibc/vdso_sym", "syscall64/vdso_sym"):
                out.append(f"<td class=num>{_e(_fmt((r.get(key) or {}).get(syscall)))}</td>")
            out.append("</tr>")
    out.append("</table>")
    forced = [
        (p, (ratio or {}).get("forced_iret"), (ratio or {}).get("fast_return"))
        for p, ratio in (table.get("ratios") or {}).items()
    ]
    forced = [f for f in forced if f[1]]
    if forced:
        out.append(
            "<table><tr><th>cell</th><th>fast return (model)</th><th>traced, ip kept</th>"
            "<th>traced, ip moved (IRET)</th><th>IRET − fast return</th><th>traced ratio</th>"
            "<th>untraced estimate ratio</th><th>Mann-Whitney p</th></tr>"
        )
        for name, f, fast_return in forced:
            assert f is not None
            cells = (
                fast_return,
                f.get("traced_opportunistic"),
                f.get("traced_forced_iret"),
                f.get("delta"),
                f.get("traced_ratio"),
                f.get("estimate_ratio"),
                f.get("mann_whitney_p"),
            )
            out.append(
                f"<tr><th>{_e(name)}</th>"
                + "".join(f"<td class=num>{_e(_fmt(c))}</td>" for c in cells)
                + "</tr>"
            )
        out.append("</table>")
    return "".join(out)


def _contradictions(data: dict[str, Any]) -> str:
    """Claims the run's evidence contradicts (a red nightly until fixed), and the attribution."""
    note = evidence_note(data)
    claims = contradiction_lines(data)
    out = [f"<p>{_e(note)}</p>"] if note else []
    cpuid = cpu_differences(data.get("guests") or {})
    if cpuid:
        out.append("<p>CPUID differences between builds:</p><ul>")
        out += [f"<li>{_e(line)}</li>" for line in cpuid]
        out.append("</ul>")
    if claims:
        out.append(f"<h2>Contradicted by evidence ({len(claims)})</h2><ul>")
        out += [f"<li class=fail>{_e(c)}</li>" for c in claims]
        out.append("</ul>")
    return "".join(out)


def _details(verdicts: Iterable[dict[str, Any]]) -> str:
    bad = [v for v in verdicts if v.get("status") != "pass"]
    if not bad:
        return ""
    out = [f"<h2>Not passing ({len(bad)})</h2>"]
    for v in bad:
        key = f"{v['cell']}/{v['scenario']}" + (f"/{v['path']}" if v.get("path") else "")
        body = [f"error kind: {v['error_kind']}"] if v.get("error_kind") else []
        for label in ("predicted", "observed"):
            if v.get(label) is not None:
                text = json.dumps(v[label], default=str)[:MAX_DETAIL]
                body.append(f"{label}: {text}")
        if v.get("excerpt"):
            body.append(str(v["excerpt"])[-MAX_DETAIL:])
        out.append(
            f"<details><summary><b>{_e(v['status'])}</b> {_e(key)}: {_e(v.get('message', ''))}"
            f"{summary_html(v)}</summary>{finding_html(v, STATUS_CSS)}"
            f"<pre>{_e(chr(10).join(body))}</pre></details>"
        )
    return "".join(out)


def render_html(data: dict[str, Any], *, plots: bool | None = None) -> str:
    """The page for one run's results.json data (any schema version)."""
    data = upgrade(data)
    plots = have_matplotlib() if plots is None else plots
    counts = ", ".join(f"{n} {s}" for s, n in (data.get("counts") or {}).items() if n)
    host = data.get("host") or {}
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>entrylab run {_e(data.get('run_id', '?'))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>entrylab run {_e(data.get('run_id', '?'))}</h1>",
        f"<p class=meta>{_e(data.get('kind', 'run'))} · state {_e(data.get('state', '?'))} · "
        f"started {_e(data.get('started', ''))} · finished {_e(data.get('finished') or '—')} · "
        f"lab {_e(data.get('lab_version', ''))} · host {_e(host.get('machine', ''))} "
        f"{_e(host.get('kernel', ''))}, {_e(host.get('cpus', ''))} cpus</p>",
        f"<p>Verdicts: {_e(counts or 'none')}</p>",
        "<h2>Cell × scenario, by kernel"
        + (" and emulator" if emulator_axis(data.get("verdicts", [])).spans else "")
        + "</h2>",
        _matrix(data),
        "<h2>Guests</h2>",
        _guests(data),
        _perf_section(perf_tables(data), plots),
        _contradictions(data),
        _details(data.get("verdicts", [])),
        "</body></html>\n",
    ]
    return "".join(parts)


def write_html(run_dir: Path, data: dict[str, Any]) -> Path:
    """Write run_dir/report.html from the run's results.json data; returns its path."""
    target = run_dir / "report.html"
    atomic_write(target, render_html(data).encode())
    return target

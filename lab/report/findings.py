"""Evidence per finding: what a non-pass verdict's report says besides its status and message.

Its cause class (kernel, emulator, configuration, lab, unknown) and the evidence for it, the
attribution line ("seen on 7.2.22 (system); gone on 10.0.2 (10.0)"), the same scenario on the
cell's other emulator builds (``elsewhere``), and for a verdict that was re-run on fresh boots
its tally ("2 of 3 bad") and every attempt. As plain lines for `lab report show` and summary.md
(the callers escape them for their medium) and as HTML for report.html (escaped here: guest
text is data). Verdicts are results.json dicts of any schema version: a field an old report
lacks is empty, and then nothing is added.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from lab.report.results import Status

__all__ = [
    "attempt_text",
    "contradiction_lines",
    "elsewhere_text",
    "finding_html",
    "finding_lines",
    "summary_html",
    "tally",
]

EXCERPT_SHOWN = 4000  # characters of an attempt's excerpt in report.html (the end of it)


def tally(v: Mapping[str, Any]) -> str:
    """'k of n bad' for a verdict that was re-run, else '' (as Verdict.tally)."""
    attempts = v.get("attempts") or []
    if not attempts:
        return ""
    bad = sum(_status(a).needs_confirming for a in attempts)
    return f"{bad} of {len(attempts)} bad"


def _status(entry: Mapping[str, Any]) -> Status:
    try:
        return Status(entry.get("status"))
    except ValueError:
        return Status.ERROR  # a status this lab does not know: not a pass


def _version(e: Mapping[str, Any]) -> str:
    """Where another result ran: 'QEMU 10.0.2 (10.0)', or 'silicon' (a real machine)."""
    if e.get("target") == "machine":
        return "silicon"
    return f"QEMU {e.get('qemu_version') or '?'} ({e.get('emulator') or 'system'})"


def elsewhere_text(e: Mapping[str, Any]) -> str:
    """One result of the same scenario on another build: 'QEMU 10.0.2 (10.0): pass, gone — …'."""
    text = f"{_version(e)}: {e.get('status', '?')}"
    text += f", {e['outcome']}" if e.get("outcome") else ""
    return text + (f" — {e['message']}" if e.get("message") else "")


def attempt_text(number: int, a: Mapping[str, Any]) -> str:
    """'attempt 2 (boot3): fail — message'."""
    boot = f" ({a['boot']})" if a.get("boot") else ""
    message = f" — {a['message']}" if a.get("message") else ""
    return f"attempt {number}{boot}: {a.get('status', '?')}{message}"


def finding_lines(v: Mapping[str, Any]) -> list[str]:
    """The evidence of one verdict as plain lines; [] when it has none (an old report)."""
    lines = [f"cause: {v['cause']}"] if v.get("cause") else []
    lines += [f"evidence: {e}" for e in v.get("evidence") or []]
    if v.get("attribution"):
        lines.append(f"attribution: {v['attribution']}")
    lines += [f"elsewhere: {elsewhere_text(e)}" for e in v.get("elsewhere") or []]
    attempts = v.get("attempts") or []
    if attempts:
        lines.append(f"re-runs: {tally(v)}")
        lines += [f"  {attempt_text(i, a)}" for i, a in enumerate(attempts, 1)]
    return lines


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def summary_html(v: Mapping[str, Any]) -> str:
    """What a finding's collapsed line adds: its cause, tally and attribution (escaped)."""
    parts = [f"cause {v['cause']}"] if v.get("cause") else []
    parts += [tally(v)] if v.get("attempts") else []
    parts += [str(v["attribution"])] if v.get("attribution") else []
    return f" <span class=meta>· {_e(' · '.join(parts))}</span>" if parts else ""


def finding_html(v: Mapping[str, Any], css: Mapping[Status, str]) -> str:
    """A finding's evidence in report.html: cause and evidence lines, the other builds' results
    and each attempt (its excerpt collapsed); "" when it has none. ``css``: status -> class."""
    out = []
    lines = [f"cause: {v['cause']}"] if v.get("cause") else []
    lines += [f"evidence: {e}" for e in v.get("evidence") or []]
    lines += [f"attribution: {v['attribution']}"] if v.get("attribution") else []
    if lines:
        out.append("<ul class=evidence>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>")
    elsewhere = v.get("elsewhere") or []
    if elsewhere:
        out.append(
            "<table><tr><th>elsewhere</th><th>status</th><th>outcome</th><th>message</th></tr>"
        )
        for e in elsewhere:
            out.append(
                f"<tr><th>{_e(_version(e))}</th>"
                f'<td class="{css.get(_status(e), "")}">{_e(e.get("status", "?"))}</td>'
                f"<td>{_e(e.get('outcome', ''))}</td><td>{_e(e.get('message', ''))}</td></tr>"
            )
        out.append("</table>")
    attempts = v.get("attempts") or []
    if attempts:
        out.append(
            f"<p>re-run on fresh boots: {_e(tally(v))}</p>"
            "<table><tr><th>attempt</th><th>boot</th><th>status</th><th>message</th></tr>"
        )
        for i, a in enumerate(attempts, 1):
            excerpt = str(a.get("excerpt") or "")[-EXCERPT_SHOWN:]
            shown = (
                f"<details><summary>excerpt</summary><pre>{_e(excerpt)}</pre></details>"
                if excerpt
                else ""
            )
            out.append(
                f"<tr><td>{i}</td><td>{_e(a.get('boot', ''))}</td>"
                f'<td class="{css.get(_status(a), "")}">{_e(a.get("status", "?"))}</td>'
                f"<td>{_e(a.get('message', ''))}{shown}</td></tr>"
            )
        out.append("</table>")
    return "".join(out)


def contradiction_lines(data: Mapping[str, Any]) -> list[str]:
    """The claims the run's evidence contradicts (lab.engine.attribution), one line each, and
    how the evidence was had: what turns a nightly red besides new problems."""
    found = (data.get("attribution") or {}).get("contradictions") or []
    return [f"{c.get('key')}: {c.get('claim')}: {c.get('evidence')}" for c in found]


def evidence_note(data: Mapping[str, Any]) -> str:
    """ "3 evidence run(s) on other builds, 12 result(s) reused" ("" when no attribution)."""
    a = data.get("attribution") or {}
    if not a:
        return ""
    runs = len(a.get("evidence_runs") or [])
    return (
        f"attribution over {', '.join(a.get('emulators') or [])}: {runs} evidence run(s), "
        f"{a.get('evidence_reused', 0)} earlier result(s) reused, "
        f"{len(a.get('contradictions') or [])} claim(s) contradicted"
    )

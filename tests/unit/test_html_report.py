"""lab.report.html: a self-contained page, escaped guest text, real plots from a real run."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lab.report.html import have_matplotlib, perf_tables, render_html, write_html

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "perf" / "results-sample.json"


@pytest.fixture
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE.read_text())
    return loaded


def test_perf_tables_group_net_costs_by_scenario_and_cell(data: dict[str, Any]) -> None:
    tables = perf_tables(data)
    assert set(tables) == {"syscall-cost", "syscall-cost-wall"}
    exact = tables["syscall-cost"]
    assert exact["mode"] == "exact" and exact["unit"] == "instructions"
    assert exact["cells"]["intel-sep@cloud-amd64"]["vdso_sym"]["getpid"] == 357
    assert exact["cells"]["i386-int80@686"]["int80"]["getpid"] == 332
    assert exact["cells"]["intel-sep@cloud-amd64"]["vdso_sym/traced-iret"]["getpid"] > 0
    assert "none" not in exact["cells"]["intel-sep@cloud-amd64"]  # timing baselines are not paths
    assert exact["env"]["intel-sep@cloud-amd64"]["variant"] == "icount"
    assert exact["ratios"]["intel-sep@cloud-amd64"]["forced_iret"]["delta"] == 8


@pytest.mark.skipif(not have_matplotlib(), reason="matplotlib not installed")
def test_page_is_self_contained_with_png_plots(data: dict[str, Any], tmp_path: Path) -> None:
    path = write_html(tmp_path, data)
    assert path == tmp_path / "report.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    # nothing is fetched: no external scripts, stylesheets, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4  # cost and ratio plot for each of the two scenarios
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    # the matrix and the numbers
    assert "Cell × scenario" in page and "intel-sep" in page and "GenuineIntel" in page
    assert "syscall-cost-wall: wall mode (tsc)" in page
    assert "syscall-cost: exact mode (instructions)" in page
    assert "QEMU 7.2.22" in page


def test_guest_text_is_escaped(data: dict[str, Any]) -> None:
    evil = copy.deepcopy(data)
    v = evil["verdicts"][0]
    v["status"] = "fail"
    v["message"] = "<script>alert(1)</script>"
    v["path"] = 'cost/"><img src=x onerror=alert(1)>/getpid'
    v["excerpt"] = "</pre><b>bold</b>"
    evil["guests"]["intel-sep"]["vendor"] = "<i>Genuine</i>"
    page = render_html(evil, plots=False)
    assert "<script>" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;Genuine&lt;/i&gt;" in page
    assert "Not passing (1)" in page


def test_without_plots_the_tables_remain(data: dict[str, Any]) -> None:
    page = render_html(data, plots=False)
    assert "matplotlib is not installed" in page
    assert "data:image/png" not in page
    assert "<td class=num>357</td>" in page  # intel-sep vdso_sym getpid, exact


@pytest.mark.skipif(not have_matplotlib(), reason="matplotlib not installed")
def test_labels_are_not_mathtext(data: dict[str, Any]) -> None:
    odd = copy.deepcopy(data)
    for v in odd["verdicts"]:
        if v["profile"] == "intel-sep":
            v["profile"] = "a$\\frac{1}{0}$b_{x}^"
    page = render_html(odd)
    assert page.count("data:image/png") == 4
    assert "a$\\frac{1}{0}$b_{x}^" in page


def test_page_without_perf_results_has_no_perf_section() -> None:
    data = {
        "run_id": "r1",
        "state": "finished",
        "counts": {"pass": 1},
        "guests": {"intel-sep": {"vendor": "GenuineIntel"}},
        "verdicts": [
            {"profile": "intel-sep", "scenario": "vdso-entry", "status": "pass", "path": None}
        ],
    }
    page = render_html(data, plots=True)
    assert "System-call cost" not in page and "vdso-entry" in page


def test_matrix_rows_are_cells_grouped_by_kernel() -> None:
    def v(cell: str, kernel: str) -> dict[str, Any]:
        return {
            "cell": cell,
            "profile": cell.split("@")[0],
            "scenario": "vdso-entry",
            "status": "pass",
            "env": {"kernel": kernel, "accel": "tcg"},
        }

    data = {
        "schema_version": 2,
        "run_id": "r1",
        "verdicts": [
            v("a@cloud-amd64", "cloud-amd64"),
            v("b@686", "686"),
            v("c@cloud-amd64@qemu-9.2", "cloud-amd64"),
            {"cell": "d@silicon", "profile": "d", "scenario": "vdso-entry", "status": "pass"},
        ],
    }
    page = render_html(data, plots=False)
    order = [
        page.index(s)
        for s in (
            "kernel cloud-amd64",
            "<th>a@cloud-amd64<br>",
            "<th>c@cloud-amd64@qemu-9.2<br>",
            "kernel 686",
            "<th>b@686<br>",
            "kernel silicon",
            "<th>d@silicon<br>",
        )
    ]
    assert order == sorted(order)


def test_kernel_groups_are_headed_by_their_exact_releases() -> None:
    def v(cell: str, release: str | None) -> dict[str, Any]:
        kernel = cell.split("@")[1]
        env = {"kernel": kernel, "kernel_release": release, "accel": "tcg"} if release else None
        profile = cell.split("@")[0]
        return {"cell": cell, "profile": profile, "scenario": "s", "status": "pass", "env": env}

    data = {
        "schema_version": 2,
        "run_id": "r1",
        "verdicts": [
            v("a@6.12/cloud-amd64", "6.12.43+deb13-cloud-amd64"),
            v("a@7.2/cloud-amd64", "7.2.0-1-cloud-amd64"),
            v("b@7.2/cloud-amd64", None),  # never booted: its guest record has the release
            v("c@7.3-rc/cloud-amd64", None),  # no release anywhere: the name alone
        ],
        "guests": {"b@7.2/cloud-amd64": {"cell": "b@7.2/cloud-amd64", "kernel_release": "7.2.0-2"}},
    }
    page = render_html(data, plots=False)
    order = [
        page.index(s)
        for s in (
            "kernel 6.12/cloud-amd64 (6.12.43+deb13-cloud-amd64)</th>",
            "<th>a@6.12/cloud-amd64<br>",
            "kernel 7.2/cloud-amd64 (7.2.0-1-cloud-amd64, 7.2.0-2)</th>",
            "<th>a@7.2/cloud-amd64<br>",
            "<th>b@7.2/cloud-amd64<br>",
            "kernel 7.3-rc/cloud-amd64</th>",
        )
    ]
    assert order == sorted(order)

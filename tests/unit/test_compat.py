"""Reading old reports: a schema-1 run and the same matrix in schema 2 read alike everywhere."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.dashboard import guests_table, matrix_table
from lab.report import history, trend
from lab.report.compat import guest_key, upgrade, verdict_cell
from lab.report.html import render_html
from lab.report.results import Status, Verdict
from lab.report.run import load_results

ENV1 = {
    "profile": "intel-sep",
    "kernel": "cloud-amd64",
    "kernel_origin": "debian:x=1",
    "kernel_release": "6.1.0-50-cloud-amd64",
    "qemu": "qemu-system-x86_64",
    "qemu_version": "7.2.22",
    "accel": "tcg",
    "cpu_model": "Skylake-Client",
    "machine_type": "pc",
    "vendor": "GenuineIntel",
    "kernel_bits": 64,
    "variant": "",
}
CELL = "intel-sep@cloud-amd64"


def perf(headline: int, variant: str = "icount") -> dict[str, Any]:
    return {
        "profile": "intel-sep",
        "scenario": "syscall-cost",
        "status": "pass",
        "path": "cost/vdso_sym/getpid",
        "message": "",
        "observed": {"mode": "exact", "unit": "instructions", "headline": headline, "net": 300},
        "env": {**ENV1, "variant": variant},
    }


def schema1(run_id: str = "20260101-000000-aaaa", headline: int = 385) -> dict[str, Any]:
    """A small run as the lab wrote it before cells: keyed by profile, variant guests
    ``profile@variant``, a boot failure without env."""
    return {
        "schema_version": 1,
        "run_id": run_id,
        "kind": "nightly",
        "state": "finished",
        "started": run_id,
        "counts": {"pass": 2, "fail": 1, "error": 1},
        "guests": {
            "intel-sep": {**ENV1, "boot_seconds": 3.2, "transport": "console"},
            "intel-sep@icount": {**ENV1, "variant": "icount"},
            "amd-syscall": {"profile": "amd-syscall", "boot_error": "not ready within 120 s"},
        },
        "verdicts": [
            {"profile": "intel-sep", "scenario": "vdso-entry", "status": "pass", "env": ENV1},
            {
                "profile": "intel-sep",
                "scenario": "regs",
                "status": "fail",
                "path": "regs/int80",
                "message": "ebx",
                "env": ENV1,
            },
            perf(headline),
            {
                "profile": "amd-syscall",
                "scenario": "vdso-entry",
                "status": "error",
                "message": "boot failed: not ready within 120 s",
                "env": None,
            },
        ],
    }


def schema2(run_id: str = "20260102-000000-bbbb", headline: int = 385) -> dict[str, Any]:
    """The same matrix as the lab writes it now."""
    data = schema1(run_id, headline)
    data["schema_version"] = 2
    data["cells"] = [CELL, "amd-syscall@?"]
    env2 = {**ENV1, "cell": CELL, "emulator": "system", "target": "qemu", "transport": "console"}
    for v in data["verdicts"]:
        v["cell"] = CELL if v["profile"] == "intel-sep" else "amd-syscall@?"
        v["error_kind"] = "boot" if v["status"] == "error" else ""
        if v["env"]:
            v["env"] = {**env2, "variant": v["env"]["variant"]}
    data["guests"] = {
        CELL: {**env2, "cell": CELL, "variant": "", "boot_seconds": 3.2},
        guest_key(CELL, "icount"): {**env2, "cell": CELL, "variant": "icount"},
        "amd-syscall@?": {
            "cell": "amd-syscall@?",
            "variant": "",
            "boot_error": "not ready within 120 s",
        },
    }
    return data


def write(reports: Path, data: dict[str, Any]) -> Path:
    run = reports / str(data["run_id"])
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(data))
    return run


def test_upgrade_derives_cells_and_rekeys_guests() -> None:
    old = schema1()
    before = copy.deepcopy(old)
    new = upgrade(old)
    assert old == before  # the input is left alone
    assert new["schema_version"] == 2
    assert [v["cell"] for v in new["verdicts"]] == [CELL, CELL, CELL, "amd-syscall@?"]
    assert set(new["guests"]) == {CELL, "intel-sep@cloud-amd64+icount", "amd-syscall@?"}
    assert new["guests"]["intel-sep@cloud-amd64+icount"]["variant"] == "icount"
    env = new["verdicts"][0]["env"]
    assert (env["cell"], env["emulator"], env["target"], env["transport"]) == (
        CELL,
        "system",
        "qemu",
        "console",
    )
    assert upgrade(new) == new  # idempotent
    assert upgrade(schema2())["verdicts"] == schema2()["verdicts"]


def test_boot_failure_cell_comes_from_the_guest_record() -> None:
    old = schema1()
    old["guests"]["amd-syscall"]["kernel"] = "686"
    assert verdict_cell(old["verdicts"][3], old["guests"]) == "amd-syscall@686"
    assert verdict_cell(old["verdicts"][3]) == "amd-syscall@?"
    silicon = {"profile": "box", "env": {"kernel": "silicon", "accel": "silicon"}}
    assert verdict_cell(silicon) == "box@silicon"
    assert upgrade({"schema_version": 1, "verdicts": [silicon]})["verdicts"][0]["env"][
        "target"
    ] == ("machine")


def test_unknown_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 99, "verdicts": []}))
    with pytest.raises(ValueError, match="schema 99"):
        load_results(tmp_path / "results.json")


def test_verdict_from_json_reads_both_versions() -> None:
    v1 = Verdict.from_json(schema1()["verdicts"][1])
    v2 = Verdict.from_json(schema2()["verdicts"][1])
    assert v1.cell == v2.cell == CELL and v1.key == v2.key == f"{CELL}/regs/regs/int80"
    assert v1.status is Status.FAIL and v1.env is not None and v1.env.kernel == "cloud-amd64"
    assert Verdict.from_json(schema2()["verdicts"][3]).error_kind == "boot"


def test_diff_between_schema_1_and_schema_2_of_one_matrix_is_empty(tmp_path: Path) -> None:
    a = history.load(write(tmp_path, schema1()))
    b = history.load(write(tmp_path, schema2()))
    assert history.diff(a, b) == [] and history.diff(b, a) == []
    assert history.new_problems(b, a) == []
    assert f"{CELL}/regs/regs/int80 [tcg]" in history.statuses(a)
    assert [r.run_id for r in history.list_runs(tmp_path)] == [a["run_id"], b["run_id"]]


def show(reports: Path, data: dict[str, Any]) -> str:
    """What `lab report show` prints: the guests and the matrix of the loaded run."""
    loaded = history.load(write(reports, data))
    console = Console(width=100, file=io.StringIO(), force_terminal=False)
    console.print(guests_table(loaded["guests"]))
    console.print(matrix_table(loaded["verdicts"], "run"))
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_show_renders_both_versions_alike(tmp_path: Path) -> None:
    old = show(tmp_path, schema1())
    assert CELL in old and "intel-sep@cloud-amd64+icount" in old and "amd-syscall@?" in old
    new = schema2()
    assert "ERROR boot" in show(tmp_path / "a", new)  # schema 2 knows the error kind
    for v in new["verdicts"]:
        v["error_kind"] = ""
    assert show(tmp_path / "b", new) == old


def test_html_reads_both_versions() -> None:
    for data in (schema1(), schema2()):
        page = render_html(data, plots=False)
        assert f"<th>{CELL}<br>" in page and "kernel cloud-amd64" in page
        assert f"{CELL}/regs/regs/int80" in page
    assert "error kind: boot" in render_html(schema2(), plots=False)


def test_trend_follows_a_series_across_the_schema_change(tmp_path: Path) -> None:
    write(tmp_path, schema1(headline=385))
    write(tmp_path, schema2(headline=400))
    report = trend.trend(tmp_path)
    assert report.runs == ("20260101-000000-aaaa", "20260102-000000-bbbb")
    (row,) = report.rows
    assert row.newest.key == (CELL, "syscall-cost", "cost/vdso_sym/getpid", "tcg", "icount")
    assert row.before is not None and row.before.headline == 385
    assert row.verdict == "regression"
    assert any(CELL in line for line in trend.render(report))

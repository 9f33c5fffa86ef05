"""`lab report diff --kernels`: each profile's cell on one kernel against its cell on another,
in one run and across two (one of them a schema-1 report), with clear errors."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from lab import cli
from lab.errors import LabError
from lab.report import browse, kernel_diff
from lab.report.history import load
from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport
from tests.conftest import lab_cli

RELEASE = {
    "cloud-amd64": "6.1.0-50-cloud-amd64",
    "686": "6.1.0-50-686-pae",
    "6.12/cloud-amd64": "6.12.43+deb13-cloud-amd64",
    "7.2/cloud-amd64": "7.2.0-1-cloud-amd64",
    "7.3-rc/cloud-amd64": "7.3.0-rc7-cloud-amd64",
    "amd64": "6.1.0-50-amd64",
}


def env(profile: str, kernel: str, accel: str = "tcg") -> Environment:
    """What a verdict of profile on kernel ran on (a QEMU guest of the host's own QEMU)."""
    return Environment(
        profile,
        kernel,
        "debian:linux-image=1",
        RELEASE[kernel],
        "qemu-system-x86_64",
        "7.2.22",
        accel,
        "Skylake-Client",
        "microvm",
        "GenuineIntel",
        32 if kernel == "686" else 64,
        cell=f"{profile}@{kernel}",
        emulator="system",
    )


def verdict(cell: str, scenario: str, status: str, path: str | None = None) -> Verdict:
    """A verdict on cell (profile@kernel), with the environment it would have recorded."""
    profile, kernel = cell.split("@", 1)
    return Verdict(
        profile, scenario, Status(status), path=path, env=env(profile, kernel), cell=cell
    )


def write_run(reports: Path, run_id: str, verdicts: list[Verdict]) -> Path:
    """A schema-2 run written by the lab's own writer (RunReport)."""
    report = RunReport(reports, run_id, {"kind": "run", "state": "finished"})
    report.add_all(verdicts)
    report.flush()
    return report.dir


ONE_RUN = [
    verdict("intel-sep@6.12/cloud-amd64", "vdso-entry", "pass"),
    verdict("intel-sep@6.12/cloud-amd64", "regs", "pass", "regs/int80"),
    verdict("intel-sep@6.12/cloud-amd64", "tracer-nr", "pass"),
    verdict("intel-sep@7.2/cloud-amd64", "vdso-entry", "fail"),
    verdict("intel-sep@7.2/cloud-amd64", "regs", "pass", "regs/int80"),
    verdict("intel-sep@7.2/cloud-amd64", "fast-return", "pass"),
    verdict("amd-syscall32@6.12/cloud-amd64", "vdso-entry", "fail"),
    verdict("amd-syscall32@7.2/cloud-amd64", "vdso-entry", "pass"),
    verdict("unknown-int80@7.2/cloud-amd64", "vdso-entry", "pass"),
]


def args(run_a: str, run_b: str | None, kernels: str | None) -> argparse.Namespace:
    """What the CLI's parser makes of `lab report diff RUN_A [RUN_B] [--kernels K1,K2]`."""
    words = ["report", "diff", run_a, *([run_b] if run_b else [])]
    return cli.build_parser().parse_args(words + (["--kernels", kernels] if kernels else []))


def run_diff(reports: Path, run_a: str, run_b: str | None, kernels: str) -> list[str]:
    lines: list[str] = []
    assert kernel_diff.command(reports, args(run_a, run_b, kernels), lines.append) == 0
    return lines


def test_one_run_by_series_groups_changes_by_profile(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", ONE_RUN)
    lines = run_diff(tmp_path, "20260101-000000-aaaa", None, "6.12,7.2")
    assert lines[0] == (
        "run 20260101-000000-aaaa kernel 6.12 (6.12.43+deb13-cloud-amd64) -> "
        "run 20260101-000000-aaaa kernel 7.2 (7.2.0-1-cloud-amd64)"
    )
    text = "\n".join(lines)
    intel = lines.index(
        "intel-sep: intel-sep@6.12/cloud-amd64 (6.12.43+deb13-cloud-amd64) -> "
        "intel-sep@7.2/cloud-amd64 (7.2.0-1-cloud-amd64)"
    )
    assert lines[intel + 1 : intel + 4] == [
        "  vdso-entry [tcg]   pass -> fail",
        "  tracer-nr [tcg]    gone: was pass",
        "  fast-return [tcg]  new: pass",
    ]
    assert "regs/int80" not in text  # unchanged verdicts are not listed
    assert "  vdso-entry [tcg]  fail -> pass" in lines
    assert (
        "unknown-int80: only unknown-int80@7.2/cloud-amd64 (7.2.0-1-cloud-amd64); no cell on 6.12"
        in lines
    )
    assert lines[-1] == "4 verdict(s) changed in 2 of 3 profile(s)"


def test_kernels_by_name_and_release_select_the_same_cells(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", ONE_RUN)
    by_series = run_diff(tmp_path, "20260101-000000-aaaa", None, "6.12,7.2")
    by_name = run_diff(tmp_path, "20260101-000000-aaaa", None, "6.12/cloud-amd64,7.2/cloud-amd64")
    by_release = run_diff(
        tmp_path, "20260101-000000-aaaa", None, "6.12.43+deb13-cloud-amd64,7.2.0-1-cloud-amd64"
    )

    def same(lines: list[str]) -> list[str]:
        return [line for line in lines[1:] if "no cell on" not in line]  # that names the ref

    assert same(by_series) == same(by_name) == same(by_release) and len(same(by_series)) == 7
    assert "kernel 7.2.0-1-cloud-amd64 (7.2.0-1-cloud-amd64)" in by_release[0]


def test_two_runs_legacy_61_name_against_a_newer_series(tmp_path: Path) -> None:
    write_run(
        tmp_path,
        "20260101-000000-aaaa",
        [
            verdict("intel-sep@cloud-amd64", "vdso-entry", "pass"),
            verdict("intel-sep@cloud-amd64", "tracer-nr", "pass"),
            verdict("i386-int80@686", "vdso-entry", "pass"),
        ],
    )
    write_run(
        tmp_path,
        "20260102-000000-bbbb",
        [
            verdict("intel-sep@7.3-rc/cloud-amd64", "vdso-entry", "pass"),
            verdict("intel-sep@7.3-rc/cloud-amd64", "tracer-nr", "fail"),
        ],
    )
    for k1 in ("6.1", "cloud-amd64", "6.1/cloud-amd64", "6.1.0-50-cloud-amd64"):
        lines = run_diff(tmp_path, "20260101", "20260102", f"{k1},7.3-rc")
        assert lines[0].endswith("run 20260102-000000-bbbb kernel 7.3-rc (7.3.0-rc7-cloud-amd64)")
        assert "  tracer-nr [tcg]  pass -> fail" in lines
    lines = run_diff(tmp_path, "20260101", "20260102", "6.1,7.3-rc")
    assert "(6.1.0-50-cloud-amd64, 6.1.0-50-686-pae)" in lines[0]  # 6.1 is both kernels
    assert "i386-int80: only i386-int80@686 (6.1.0-50-686-pae); no cell on 7.3-rc" in lines


def schema1_run(reports: Path, run_id: str) -> None:
    """A run as the lab wrote it before cells (schema 1: keyed by profile), read via compat."""
    verdicts = [
        {"profile": "intel-sep", "scenario": "vdso-entry", "status": "fail"},
        {"profile": "intel-sep", "scenario": "regs", "status": "pass", "path": "regs/int80"},
    ]
    for v in verdicts:
        v["env"] = {k: x for k, x in env("intel-sep", "cloud-amd64").to_json().items()}
        for k in ("cell", "emulator", "target", "transport"):
            del v["env"][k]
    data = {"schema_version": 1, "run_id": run_id, "state": "finished", "verdicts": verdicts}
    (reports / run_id).mkdir(parents=True)
    (reports / run_id / "results.json").write_text(json.dumps(data))


def test_a_schema_1_run_against_a_schema_2_run(tmp_path: Path) -> None:
    schema1_run(tmp_path, "20250101-000000-old0")
    write_run(
        tmp_path,
        "20260101-000000-aaaa",
        [
            verdict("intel-sep@7.2/cloud-amd64", "vdso-entry", "pass"),
            verdict("intel-sep@7.2/cloud-amd64", "regs", "fail", "regs/int80"),
        ],
    )
    lines = run_diff(tmp_path, "20250101", "20260101", "6.1,7.2")
    assert lines[1] == (
        "intel-sep: intel-sep@cloud-amd64 (6.1.0-50-cloud-amd64) -> "
        "intel-sep@7.2/cloud-amd64 (7.2.0-1-cloud-amd64)"
    )
    assert lines[2:4] == [
        "  vdso-entry [tcg]       fail -> pass",
        "  regs/regs/int80 [tcg]  pass -> fail",
    ]


def test_a_cell_that_never_booted_still_has_its_kernel(tmp_path: Path) -> None:
    broken = Verdict(
        "intel-sep", "vdso-entry", Status.ERROR, "boot failed", cell="intel-sep@7.2/cloud-amd64"
    )
    write_run(tmp_path, "20260101-000000-aaaa", [*ONE_RUN[:3], broken])
    lines = run_diff(tmp_path, "20260101", None, "6.12,7.2")
    assert lines[0].endswith("kernel 7.2 (release unknown: no guest booted)")
    words = [" ".join(line.split()) for line in lines]  # the column width is not the point
    assert "vdso-entry [tcg] pass -> error" in words  # paired although it has no env
    assert "regs/regs/int80 [tcg] gone: was pass" in words


def test_no_cell_on_a_kernel_names_the_kernels_the_run_has(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", ONE_RUN)
    with pytest.raises(LabError) as exc:
        run_diff(tmp_path, "20260101", None, "6.12,7.3-rc")
    message = str(exc.value)
    assert "run 20260101-000000-aaaa has no cell on kernel '7.3-rc'" in message
    assert "6.12/cloud-amd64 (series 6.12, 6.12.43+deb13-cloud-amd64)" in message
    assert "7.2/cloud-amd64 (series 7.2, 7.2.0-1-cloud-amd64)" in message
    with pytest.raises(LabError, match="run 'nope': not found"):
        run_diff(tmp_path, "nope", None, "6.12,7.2")


def test_a_kernel_that_names_two_cells_of_a_profile_asks_for_the_name(tmp_path: Path) -> None:
    write_run(
        tmp_path,
        "20260101-000000-aaaa",
        [
            verdict("intel-sep@cloud-amd64", "vdso-entry", "pass"),
            verdict("intel-sep@amd64", "vdso-entry", "pass"),
            verdict("intel-sep@7.2/cloud-amd64", "vdso-entry", "pass"),
        ],
    )
    with pytest.raises(LabError, match=r"names two cells of intel-sep .*cloud-amd64 or amd64"):
        run_diff(tmp_path, "20260101", None, "6.1,7.2")
    assert run_diff(tmp_path, "20260101", None, "amd64,7.2")[-1].startswith("0 verdict(s)")


def test_cli_prints_the_diff_and_errors_exit_2_without_a_traceback(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", ONE_RUN)
    base = ["report", "--reports", str(tmp_path), "diff", "20260101"]
    parsed = cli.build_parser().parse_args([*base, "--kernels", "6.12,7.2"])
    assert parsed.func(parsed) == 0
    assert "intel-sep: intel-sep@6.12/cloud-amd64" in capsys.readouterr().out
    result = lab_cli(*base, "--kernels", "6.12,6.2", cwd=root, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lab: run 20260101-000000-aaaa has no cell on kernel '6.2'" in result.stderr
    result = lab_cli(*base, "--kernels", "6.12", cwd=root, timeout=120)
    assert result.returncode == 2 and "expected two kernels K1,K2" in result.stderr


def test_the_run_diff_is_unchanged_without_kernels(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", ONE_RUN[:1])
    write_run(tmp_path, "20260102-000000-bbbb", ONE_RUN[3:4])
    parsed = args("20260101", None, None)
    assert parsed.run_b is None and parsed.kernels is None  # run_b None = latest
    assert kernel_diff.command(tmp_path, parsed) == 0
    assert load(tmp_path / "latest")["run_id"] == "20260102-000000-bbbb"


def shown(run: Path) -> str:
    """What `lab report show` prints for a run directory."""
    console = Console(width=160, file=io.StringIO(), force_terminal=False)
    browse.show_matrix(console, load(run), run)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_show_groups_the_matrix_by_kernel_when_a_run_has_several(tmp_path: Path) -> None:
    mixed = [ONE_RUN[6], ONE_RUN[0], ONE_RUN[8], ONE_RUN[3]]  # kernels interleaved
    text = shown(write_run(tmp_path, "20260101-000000-aaaa", mixed))
    order = [
        text.index(s)
        for s in (
            "kernel 6.12/cloud-amd64 (6.12.43+deb13-cloud-amd64)",
            "amd-syscall32@6.12/cloud-amd64",
            "intel-sep@6.12/cloud-amd64",
            "kernel 7.2/cloud-amd64 (7.2.0-1-cloud-amd64)",
            "unknown-int80@7.2/cloud-amd64",
            "intel-sep@7.2/cloud-amd64",
        )
    ]
    assert order == sorted(order)
    single = shown(write_run(tmp_path, "20260102-000000-bbbb", ONE_RUN[:1]))
    assert "kernel 6.12" not in single and "intel-sep@6.12/cloud-amd64" in single


def test_same_status_with_another_observation_is_shown(tmp_path: Path) -> None:
    """Between versions the kernel may change and the model follow (7.3's tracer-written nr):
    every verdict passes on both, and the diff still shows what the guests saw differently."""
    runs = []
    for kernel, eax in (("7.2/cloud-amd64", "0xffffffda"), ("7.3-rc/cloud-amd64", "0x4d41524b")):
        cell = f"intel-sep@{kernel}"
        v = verdict(cell, "tracer-nr", "pass", "tracer-nr/int80/out-of-range")
        v.observed = {"eax": eax, "samples": [1, 2]}
        same = verdict(cell, "vdso-entry", "pass")
        same.observed = {"path": "sysenter"}
        runs += [v, same]
    run = write_run(tmp_path, "20261202-000000-aaaa", runs)
    lines = kernel_diff.kernel_diff(run, run, ("7.2", "7.3-rc"))
    shown = [line for line in lines if "same status" in line]
    assert len(shown) == 1, lines
    assert "tracer-nr/int80/out-of-range" in shown[0]
    assert '"eax": "0xffffffda"} -> {"eax": "0x4d41524b"}' in shown[0]
    assert "samples" not in shown[0]

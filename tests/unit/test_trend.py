"""lab.report.trend: the Mann-Whitney U test and per-path trends over synthetic run histories."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from lab.report import trend
from lab.report.trend import Point, compare, mann_whitney, render, trend_of

# -- Mann-Whitney U ------------------------------------------------------------------------------


def test_mann_whitney_separated_samples_by_hand() -> None:
    # a = 1,2,3; b = 4,5,6: U_a = 0, mean 4.5, var = 9/12 * 7 = 5.25, z = (4.5 - 0.5) / sqrt(5.25)
    r = mann_whitney([1, 2, 3], [4, 5, 6])
    assert r.u == 0
    z = 4.0 / math.sqrt(5.25)
    assert r.z == pytest.approx(-z)
    assert r.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert r.p_value == pytest.approx(0.0809, abs=1e-4)
    assert r.prob_a_greater == 0


def test_mann_whitney_ties_use_average_ranks_and_tie_correction() -> None:
    # combined 1,1,1,2,2,2 (a = 1,1,2; b = 1,2,2): ranks 2,2,2,5,5,5; R_a = 9, U_a = 3;
    # mean 4.5; ties (3, 3): var = 9/12 * (7 - 48/30) = 4.05; z = (1.5 - 0.5) / sqrt(4.05)
    r = mann_whitney([1, 1, 2], [1, 2, 2])
    assert r.u == 3
    z = 1.0 / math.sqrt(4.05)
    assert r.z == pytest.approx(-z)
    assert r.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert mann_whitney([1, 1, 2], [1, 1, 2]).p_value == 1.0  # |U - mean| - 0.5 < 0: z = 0


def test_mann_whitney_degenerate_inputs() -> None:
    assert mann_whitney([], [1, 2]).p_value == 1.0
    assert mann_whitney([5] * 50, [5] * 50).p_value == 1.0  # every value tied: no evidence
    assert mann_whitney([1, 2, 3], [1, 2, 3]).p_value == 1.0


def test_mann_whitney_shift_versus_same_distribution() -> None:
    rng = random.Random(7)
    base = [rng.gauss(1000, 50) for _ in range(100)]
    same = [rng.gauss(1000, 50) for _ in range(100)]
    shifted = [rng.gauss(1100, 50) for _ in range(100)]
    assert mann_whitney(same, base).p_value > 0.05
    moved = mann_whitney(shifted, base)
    assert moved.p_value < 1e-10
    assert moved.z > 0 and moved.prob_a_greater > 0.8


# -- synthetic histories -------------------------------------------------------------------------


def point(
    headline: int,
    *,
    run: str = "r2",
    mode: str = "exact",
    samples: list[int] | None = None,
    path: str = "cost/vdso_sym/getpid",
    accel: str = "tcg",
    qemu: str = "7.2.22",
) -> Point:
    return Point(
        run_id=run,
        profile="intel-sep",
        scenario="syscall-cost" if mode == "exact" else "syscall-cost-wall",
        path=path,
        accel=accel,
        variant="icount" if mode == "exact" else "",
        mode=mode,
        unit="instructions" if mode == "exact" else "tsc",
        headline=headline,
        samples=tuple(samples or [headline] * 10),
        qemu_version=qemu,
        kernel_release="6.1.0-50-cloud-amd64",
    )


def test_exact_changes_are_reported_exactly() -> None:
    row = compare(point(388), point(385, run="r1"))
    assert row.verdict == "changed"  # +0.78% is below the 2% threshold
    assert row.delta == 3
    assert row.change_text() == "+3 instructions (+0.78%)"
    assert compare(point(385), point(385, run="r1")).verdict == "same"
    assert compare(point(380), point(385, run="r1")).verdict == "improved"


def test_exact_regression_threshold_is_configurable() -> None:
    assert compare(point(400), point(385, run="r1")).verdict == "regression"  # +3.9%
    assert compare(point(400), point(385, run="r1"), threshold_pct=5.0).verdict == "changed"
    assert compare(point(386), point(385, run="r1"), threshold_pct=0.0).verdict == "regression"


def test_wall_changes_must_beat_the_noise() -> None:
    rng = random.Random(1)
    before = [int(rng.gauss(50_000, 8_000)) for _ in range(100)]
    noisy = [int(rng.gauss(50_000, 8_000)) for _ in range(100)]
    slower = [int(rng.gauss(60_000, 8_000)) for _ in range(100)]
    old = point(sorted(before)[50], run="r1", mode="wall", samples=before)
    same = compare(point(sorted(noisy)[50], mode="wall", samples=noisy), old)
    assert same.verdict == "noise" and same.p_value is not None and same.p_value >= 0.01
    worse = compare(point(sorted(slower)[50], mode="wall", samples=slower), old)
    assert worse.verdict == "changed"  # +20% is within the default 25% wall threshold
    worse = compare(
        point(sorted(slower)[50], mode="wall", samples=slower),
        old,
        wall_threshold_pct=10,
        wall_gate="always",
    )
    assert worse.verdict == "regression" and worse.p_value is not None and worse.p_value < 1e-6
    # ... unless an earlier run already cost as much: then it is within run-to-run noise
    seen = point(70_000, run="r0", mode="wall", samples=slower)
    row = compare(
        point(sorted(slower)[50], mode="wall", samples=slower),
        old,
        wall_threshold_pct=10,
        wall_gate="always",
        earlier=[seen],
    )
    assert row.verdict == "changed"
    # traced wall references (tracer round trips) are reported, never gated
    traced = compare(
        point(sorted(slower)[50], mode="wall", samples=slower, path="cost/int80/getpid/traced"),
        point(
            sorted(before)[50],
            run="r1",
            mode="wall",
            samples=before,
            path="cost/int80/getpid/traced",
        ),
        wall_threshold_pct=10,
        wall_gate="always",
    )
    assert traced.verdict == "changed"
    better = compare(old, point(sorted(slower)[50], run="r0", mode="wall", samples=slower))
    assert better.verdict == "improved"
    # a significant but small rise is a change, not a regression
    small = [s + 500 for s in before]
    row = compare(point(sorted(small)[50], mode="wall", samples=small * 5), old, alpha=0.5)
    assert row.verdict in ("changed", "noise")


def test_timing_baselines_never_regress() -> None:
    row = compare(point(60, path="cost/none/none"), point(28, run="r1", path="cost/none/none"))
    assert row.verdict == "changed"


def test_environment_changes_are_noted() -> None:
    row = compare(point(388, qemu="8.2.0"), point(385, run="r1"))
    assert "QEMU 7.2.22 -> 8.2.0" in row.note


def test_a_route_change_is_noted_not_gated() -> None:
    """The vDSO's clock read falls back to a system call when the clocksource is not TSC."""
    fast = Point(**{**point(84, run="r1").__dict__, "route": "none/none"})
    slow = Point(**{**point(500).__dict__, "route": "sysenter/sysretl"})
    row = compare(slow, fast)
    assert row.verdict == "changed" and "route none/none -> sysenter/sysretl" in row.note


def verdict(
    headline: int,
    *,
    mode: str = "exact",
    path: str = "cost/vdso_sym/getpid",
    accel: str = "tcg",
    samples: list[int] | None = None,
    status: str = "pass",
) -> dict[str, Any]:
    return {
        "profile": "intel-sep",
        "scenario": "syscall-cost" if mode == "exact" else "syscall-cost-wall",
        "status": status,
        "path": path,
        "message": "",
        "observed": {
            "mode": mode,
            "unit": "instructions" if mode == "exact" else "tsc",
            "headline": headline,
            "net": headline - 28,
            "samples": samples or [headline] * 5,
        },
        "env": {
            "accel": accel,
            "variant": "icount" if mode == "exact" else "",
            "qemu_version": "7.2.22",
            "kernel_release": "6.1.0-50-cloud-amd64",
        },
    }


def run(run_id: str, *verdicts: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run_id": run_id,
        "kind": "nightly",
        "state": "finished",
        "started": run_id,
        "counts": {"pass": len(verdicts)},
        "verdicts": list(verdicts),
    }


def test_trend_of_compares_each_series_with_its_latest_earlier_point() -> None:
    runs = [
        run("20260101-000000-0001", verdict(385), verdict(396, path="cost/int80/getpid")),
        run("20260102-000000-0001", verdict(385)),  # int80 missing in this run
        run(
            "20260103-000000-0001",
            verdict(385),
            verdict(399, path="cost/int80/getpid"),
            verdict(5000, accel="kvm"),  # another accelerator: its own series
            verdict(1, path="cost/ratios", status="pass") | {"observed": {"mode": "exact"}},
        ),
    ]
    report = trend_of(runs)
    by_path = {(r.newest.path, r.newest.accel): r for r in report.rows}
    assert set(by_path) == {
        ("cost/vdso_sym/getpid", "tcg"),
        ("cost/int80/getpid", "tcg"),
        ("cost/vdso_sym/getpid", "kvm"),
    }
    assert by_path[("cost/vdso_sym/getpid", "tcg")].history == (385, 385, 385)
    assert by_path[("cost/vdso_sym/getpid", "tcg")].verdict == "same"
    int80 = by_path[("cost/int80/getpid", "tcg")]
    assert int80.before is not None and int80.before.run_id == "20260101-000000-0001"
    assert int80.delta == 3 and int80.verdict == "changed"
    assert by_path[("cost/vdso_sym/getpid", "kvm")].verdict == "new"
    assert not report.regressions


def test_failed_measurements_are_not_points() -> None:
    runs = [run("r1", verdict(385)), run("r2", verdict(999, status="fail"))]
    assert trend_of(runs).rows == ()  # the newest run has no usable point


def write_runs(reports: Path, runs: list[dict[str, Any]]) -> None:
    for data in runs:
        d = reports / data["run_id"]
        d.mkdir(parents=True)
        (d / "results.json").write_text(json.dumps(data))


def args(**kw: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    trend.add_arguments(parser)
    ns = parser.parse_args([])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_trend_reads_a_reports_directory_and_gates(tmp_path: Path) -> None:
    write_runs(
        tmp_path,
        [
            run("20260101-000000-0001", verdict(385)),
            run("20260102-000000-0001"),  # a run without perf data is skipped
            run("20260103-000000-0001", verdict(420)),
            run("20260104-000000-0001", verdict(420)),
        ],
    )
    (tmp_path / "latest").symlink_to("20260104-000000-0001")  # as RunReport leaves it
    report = trend.trend(tmp_path)
    assert report.newest_run == "20260104-000000-0001"
    assert [r.verdict for r in report.rows] == ["same"]
    assert report.runs == (
        "20260101-000000-0001",
        "20260103-000000-0001",
        "20260104-000000-0001",
    )
    # judged as of the third run, the rise from 385 to 420 is a regression
    lines: list[str] = []
    code = trend.command(tmp_path, args(run="20260103"), lines.append)
    assert code == 1
    assert any("REGRESSION" in line and "+35 instructions" in line for line in lines)
    assert any("Mann-Whitney U" in line for line in lines)
    # --last 1: nothing earlier to compare with
    assert trend.trend(tmp_path, last=1).rows[0].verdict == "new"
    # a generous threshold lets it pass
    assert trend.command(tmp_path, args(run="20260103", threshold_pct=10.0), lines.append) == 0


def test_trend_of_a_run_without_perf_data_is_an_error(tmp_path: Path) -> None:
    write_runs(tmp_path, [run("20260101-000000-0001", verdict(385)), run("20260102-000000-0001")])
    with pytest.raises(LookupError):
        trend.trend(tmp_path, newest="20260102-000000-0001")


def test_render_states_the_method_and_lists_regressions_first() -> None:
    runs = [
        run("r1", verdict(385), verdict(396, path="cost/int80/getpid")),
        run("r2", verdict(385), verdict(450, path="cost/int80/getpid")),
    ]
    lines = render(trend_of(runs, alpha=0.05))
    text = "\n".join(lines)
    assert "p < 0.05" in text and "compared exactly" in text
    table = [line for line in lines if line.startswith(("REGRESSION", "same"))]
    assert table[0].startswith("REGRESSION") and "cost/int80/getpid" in table[0]
    assert "summary: 1 regression, 1 same" in text
    assert render(trend_of([])) == ["perf trend: no perf measurements found"]


def test_wall_uses_calibrated_samples_when_both_runs_have_them() -> None:
    """A host twice as slow doubles raw ticks; calibrated samples keep the true cost."""
    rng = random.Random(3)
    cal_before = [rng.gauss(1.0, 0.05) for _ in range(100)]
    cal_after = [rng.gauss(1.0, 0.05) for _ in range(100)]
    raw_before = [int(2400 * c) for c in cal_before]
    raw_after = [int(4800 * c) for c in cal_after]  # the whole guest ran at half speed

    def wall(run: str, raw: list[int], cal: list[float]) -> Point:
        p = point(sorted(raw)[50], run=run, mode="wall", samples=raw)
        return Point(
            **{
                **p.__dict__,
                "calibrated": sorted(cal)[50],
                "calibrated_samples": tuple(cal),
            }
        )

    row = compare(wall("r2", raw_after, cal_after), wall("r1", raw_before, cal_before))
    assert row.verdict == "noise"
    assert row.calibrated_percent is not None and abs(row.calibrated_percent) < 3
    assert "calibrated" in row.change_text()
    # without calibration the same data is a (false) regression
    raw_only = compare(
        point(sorted(raw_after)[50], mode="wall", samples=raw_after),
        point(sorted(raw_before)[50], run="r1", mode="wall", samples=raw_before),
        wall_gate="always",
    )
    assert raw_only.verdict == "regression"
    # a real 20% rise shows in calibrated samples too
    slower = [c * 1.2 for c in cal_after]
    real = compare(
        wall("r2", raw_after, slower),
        wall("r1", raw_before, cal_before),
        wall_threshold_pct=10,
        wall_gate="always",
    )
    assert real.verdict == "regression" and real.calibrated_percent is not None
    assert real.calibrated_percent == pytest.approx(20, abs=3)


def test_nightly_gate_compares_with_earlier_nightlies_only(tmp_path: Path) -> None:
    adhoc = run("20260102-000000-0001", verdict(300))
    adhoc["kind"] = "run"  # a developer's run with another kernel must not be the baseline
    write_runs(
        tmp_path,
        [
            run("20260101-000000-0001", verdict(385)),
            adhoc,
            run("20260103-000000-0001", verdict(386)),
        ],
    )
    lines, regressions = trend.nightly(tmp_path, "20260103-000000-0001")
    assert regressions == 0
    assert any("+1 instructions" in line for line in lines)
    lines, regressions = trend.nightly(tmp_path, "20260103-000000-0001", threshold_pct=0.1)
    assert regressions == 1
    write_runs(tmp_path, [run("20260104-000000-0001")])
    assert trend.nightly(tmp_path, "20260104-000000-0001") == (
        ["perf trend: this run has no perf measurements"],
        0,
    )


def test_unfinished_runs_are_skipped_unless_named(tmp_path: Path) -> None:
    going = run("20260102-000000-0001", verdict(999))
    going["state"] = "running"
    write_runs(tmp_path, [run("20260101-000000-0001", verdict(385)), going])
    assert trend.trend(tmp_path).newest_run == "20260101-000000-0001"
    named = trend.trend(tmp_path, newest="20260102-000000-0001")
    assert named.rows[0].verdict == "regression"


def test_wall_gate_by_default_only_for_kvm_guests() -> None:
    """Under TCG wall ticks are the emulator's time: reported, not gated (exact mode gates)."""
    rng = random.Random(5)
    before = [int(rng.gauss(50_000, 2_000)) for _ in range(100)]
    after = [int(rng.gauss(80_000, 2_000)) for _ in range(100)]

    def pair(accel: str) -> tuple[Point, Point]:
        return (
            point(sorted(after)[50], mode="wall", samples=after, accel=accel),
            point(sorted(before)[50], run="r1", mode="wall", samples=before, accel=accel),
        )

    assert compare(*pair("tcg")).verdict == "changed"
    assert compare(*pair("kvm")).verdict == "regression"
    assert compare(*pair("tcg"), wall_gate="always").verdict == "regression"
    assert compare(*pair("kvm"), wall_gate="never").verdict == "changed"
    assert "wall gate: kvm" in "\n".join(
        render(trend_of([])) + render(trend_of([run("r1", verdict(385)), run("r2", verdict(385))]))
    )

"""The nightly's tiers as data (vendors.yaml `nightly:`): which suites run on which kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import cli
from lab.config.nightly import Tier, load_tiers
from lab.config.profiles import load_profiles
from lab.config.scenarios import Scenario
from lab.engine.nightly import tiers_from_meta, tiers_to_meta
from lab.engine.plan import RunPlan
from lab.errors import ConfigError


def test_the_shipped_tiers(root: Path) -> None:
    tiers = load_tiers(root / "vendors.yaml")
    assert tiers[0].kernels == ("6.1",) and tiers[0].suites == ("all",)
    assert {k for t in tiers for k in t.kernels} == {"6.1", "6.12", "7.2", "7.3-rc"}
    assert tiers_from_meta(tiers_to_meta(tiers)) == tuple(Tier(t.kernels, t.suites) for t in tiers)


def test_a_kernel_in_two_tiers_is_a_located_error(root: Path, tmp_path: Path) -> None:
    vendors = tmp_path / "vendors.yaml"
    text = (root / "vendors.yaml").read_text().split("\nnightly:")[0]
    vendors.write_text(
        text + '\nnightly:\n  - kernels: ["6.1"]\n    suites: [all]\n'
        '  - kernels: ["7.2", "6.1"]\n    suites: [core]\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_tiers(vendors)
    assert "'6.1' is in two nightly tiers" in str(exc.value)
    assert str(exc.value).startswith(f"{vendors}:")


def test_tiers_choose_the_scenarios_of_each_kernel(root: Path) -> None:
    intel = load_profiles(root / "vendors.yaml")["intel-sep"]
    core = Scenario("vdso-entry", "core", "vdso-entry")
    perf = Scenario("syscall-cost", "perf", "syscall-cost")
    tiers = (Tier(("6.1",), ("all",)), Tier(("7.2",), ("core",)))
    plan = RunPlan([intel], [core, perf], kernels=("6.1", "7.2", "6.12"), tiers=tiers)
    assert plan.scenarios_for(intel, "6.1") == [core, perf]
    assert plan.scenarios_for(intel, "7.2") == [core]
    assert plan.scenarios_for(intel, "6.12") == [core, perf]  # in no tier: everything


def test_nightly_without_a_slice_takes_the_tiers(root: Path) -> None:
    args = cli.build_parser().parse_args(["nightly"])
    plan, _ = cli._make_plan(args, None)
    assert plan.kernels == ("6.1", "7.2", "6.12", "7.3-rc") and len(plan.tiers) == 3
    sliced = cli.build_parser().parse_args(["nightly", "--scenarios", "core"])
    assert cli._make_plan(sliced, None)[0].kernels == ()
    run = cli.build_parser().parse_args(["run"])
    assert cli._make_plan(run, None)[0].tiers == ()

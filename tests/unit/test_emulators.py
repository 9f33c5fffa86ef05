"""The emulator axis without booting: the recipe's and lock's emulators, a private build's
prefix (unpacked once), its command line and environment, the CPU pinning and cell names."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from lab.config.profiles import load_profiles, select
from lab.engine.cell import Cell, Emulator, cell_name
from lab.engine.emulators import known_emulators, private_emulator, qemu_axis
from lab.engine.plan import RunPlan, expand_kernels
from lab.errors import ConfigError
from lab.images import emulators
from lab.images.recipe import EmulatorRecipe, Pin, read_lock, read_recipe
from lab.targets import cpumodels
from lab.targets.base import TargetKind, Transport
from lab.targets.qemuargs import qemu_command
from tests.unit.test_dry_run import synthetic_images

PREFIX = Path("/cache/emulators/10.0-10.0.2")


def test_recipe_and_lock_name_the_emulators(root: Path) -> None:
    recipe = read_recipe(root / "images")
    assert recipe.emulators["system"] == EmulatorRecipe("system")
    ten = recipe.emulators["10.0"]
    assert ten.suite == "bookworm-backports" and "seabios" in ten.packages
    pins = emulators.emulator_pins(read_lock(root / "images"), ten)
    assert [p.key for p in pins] == [f"emulator/10.0/{p}" for p in ten.packages]
    assert emulators.qemu_version_of(pins) == "10.0.2"
    assert {p.package: p.arch for p in pins}["qemu-system-data"] == "all"


def test_a_missing_emulator_pin_names_the_key_and_the_fix() -> None:
    with pytest.raises(Exception, match=r"emulator/10.0/seabios has no pin.*lab images update"):
        emulators.emulator_pins({}, EmulatorRecipe("10.0", "bookworm-backports", ("seabios",)))


def test_upstream_version_is_what_qemu_reports() -> None:
    assert emulators.upstream("1:10.0.2+ds-2+deb13u1~bpo12+1") == "10.0.2"
    assert emulators.upstream("1:7.2+dfsg-7+deb12u18") == "7.2"


def test_qemu_names_the_host_version_or_a_recipe_build(root: Path) -> None:
    recipe = read_recipe(root / "images")
    assert known_emulators(["7.2", "10.0"], recipe, host="7.2.22") == ("system", "10.0")
    assert qemu_axis(["system,10.0", "10.0"], recipe) == ("system", "10.0")
    assert qemu_axis(None, recipe, {"emulators": ["10.0"]}) == ("10.0",)
    with pytest.raises(ConfigError, match=r"unknown emulator '9\.9'"):
        known_emulators(["9.9"], recipe, host="7.2.22")


def _deb(tmp: Path, name: str, files: dict[str, str]) -> Path:
    tree = tmp / f"{name}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: 1\nArchitecture: all\nMaintainer: x\nDescription: x\n"
    (tree / "DEBIAN" / "control").write_text(control)
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    subprocess.run(
        ["dpkg-deb", "-b", str(tree), str(tmp / f"{name}.deb")], check=True, capture_output=True
    )
    return tmp / f"{name}.deb"


def test_the_prefix_is_unpacked_once(tmp_path: Path) -> None:
    debs = {
        "qemu-system-x86": _deb(tmp_path, "qemu-system-x86", {"usr/bin/qemu": "q"}),
        "seabios": _deb(tmp_path, "seabios", {"usr/share/seabios/bios-256k.bin": "b"}),
    }
    recipe = EmulatorRecipe("10.0", "bookworm-backports", tuple(debs))
    pins = {
        f"emulator/10.0/{p}": Pin(f"emulator/10.0/{p}", p, "all", "1:10.0.2+ds-2", "0" * 64)
        for p in debs
    }
    fetched: list[str] = []

    def fetch(pin: Pin) -> Path:
        fetched.append(pin.package)
        return debs[pin.package]

    root = tmp_path / "emulators"
    build = emulators.build_prefix(recipe, pins, root, fetch, lambda m: None)
    assert build.prefix == root / "10.0-10.0.2" and build.version == "10.0.2"
    assert (build.prefix / "usr/share/seabios/bios-256k.bin").read_text() == "b"
    assert emulators.build_prefix(recipe, pins, root, fetch, lambda m: None) == build
    assert fetched == ["qemu-system-x86", "seabios"], "the second build did no work"
    assert "no such binary" in emulators.verify(build, "qemu-system-x86_64")


def test_a_private_build_runs_with_its_own_firmware_modules_and_cpu(root: Path) -> None:
    build = emulators.PrivateQemu("10.0", "10.0.2", PREFIX)
    assert build.args() == ["-L", f"{PREFIX}/usr/share/qemu", "-L", f"{PREFIX}/usr/share/seabios"]
    assert build.env() == {"QEMU_MODULE_DIR": f"{PREFIX}/usr/lib/x86_64-linux-gnu/qemu"}
    profile = load_profiles(root / "vendors.yaml")["amd-syscall32"]
    e = Emulator(
        "10.0",
        f"{PREFIX}/usr/bin/qemu-system-x86_64",
        "10.0.2",
        tuple(str(d) for d in build.data_dirs()),
        tuple(build.env().items()),
        ((profile.machine, profile.cpu, "EPYC-v3"),),
    )
    kernel = synthetic_images(root).kernels["cloud-amd64"]
    argv = qemu_command(profile, kernel, Path("i.cpio"), "tcg", "N", Path("q.sock"), None, e)
    assert argv[:5] == [
        e.binary,
        "-L",
        f"{PREFIX}/usr/share/qemu",
        "-L",
        f"{PREFIX}/usr/share/seabios",
    ]
    assert argv[argv.index("-cpu") + 1] == "EPYC-v3"
    plain = qemu_command(profile, kernel, Path("i.cpio"), "tcg", "N", Path("q.sock"))
    assert plain[0] == profile.qemu and plain[plain.index("-cpu") + 1] == profile.cpu
    assert e.runas("nobody") == ["-run-with", "user=nobody"]
    assert Emulator("system", "q", "7.2.22").runas("nobody") == ["-runas", "nobody"]


def test_an_unusable_build_fails_its_cells_with_the_reason(root: Path) -> None:
    profile = load_profiles(root / "vendors.yaml")["intel-sep"]
    e = private_emulator(profile, "10.0", "emulator 10.0: pinned seabios is gone")
    assert e.name == "10.0" and e.unusable == "emulator 10.0: pinned seabios is gone"


def test_cpu_models_are_pinned_to_what_the_host_resolves() -> None:
    host = cpumodels.parse_definitions(
        '{"QMP": {}}\n{"return": {}}\n{"return": [{"name": "EPYC", "alias-of": "EPYC-v3"},'
        ' {"name": "EPYC-v3"}, {"name": "qemu64", "alias-of": "qemu64-v1"}]}\n'
    )
    new = {"EPYC": "EPYC-v4", "EPYC-v3": "EPYC-v3", "EPYC-v4": "EPYC-v4", "qemu64-v1": "qemu64-v1"}
    assert cpumodels.pinned("EPYC", host, new) == ("EPYC-v3", "")
    assert cpumodels.pinned("qemu64,vendor=X", host, new) == ("qemu64-v1,vendor=X", "")
    cpu, why = cpumodels.pinned("EPYC", host, {"EPYC": "EPYC-v1"})
    assert cpu == "EPYC" and "has no EPYC-v3" in why


def test_cells_are_named_and_multiplied_by_emulator(root: Path) -> None:
    assert cell_name("intel-sep", "cloud-amd64", "10.0") == "intel-sep@cloud-amd64@10.0"
    assert cell_name("intel-sep", "cloud-amd64", "system") == "intel-sep@cloud-amd64"
    profiles = load_profiles(root / "vendors.yaml")
    chosen = select(profiles, ["intel-sep", "i386-int80"], "--profiles")
    plan = RunPlan(chosen, [], emulators=("system", "10.0"))
    slots = expand_kernels(plan, read_recipe(root / "images"))
    assert [(s.profile.name, s.emulator) for s in slots] == [
        ("intel-sep", "system"),
        ("intel-sep", "10.0"),
        ("i386-int80", "system"),
        ("i386-int80", "10.0"),
    ]
    cell = Cell(
        chosen[0],
        TargetKind.QEMU,
        Transport.CONSOLE,
        (),
        kernel=synthetic_images(root).kernels["cloud-amd64"],
        emulator=Emulator("10.0", "q", "10.0.2"),
    )
    assert cell.name == "intel-sep@cloud-amd64@10.0" and cell.private_emulator is not None


HOST_M_HELP = """Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)
"""
NEW_M_HELP = """Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-10.0)
pc-i440fx-10.0       Standard PC (i440FX + PIIX, 1996) (default)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996)
"""


def test_machine_types_are_pinned_to_the_hosts_version_on_a_private_build(root: Path) -> None:
    from lab.targets import cpumodels

    host, new = cpumodels.parse_machines(HOST_M_HELP), cpumodels.parse_machines(NEW_M_HELP)
    assert host["pc"] == "pc-i440fx-7.2" and new["pc"] == "pc-i440fx-10.0"
    assert host["microvm"] == "microvm"
    assert cpumodels.pinned_machine("pc", host, new) == ("pc-i440fx-7.2", "")
    assert cpumodels.pinned_machine("microvm", host, new) == ("microvm", "")
    assert cpumodels.pinned_machine("q35", host, new) == (
        "q35",
        "machine type q35 could not be pinned: this build has no pc-q35-7.2",
    )
    profile = replace(load_profiles(root / "vendors.yaml")["i386-int80"], machine="pc")
    e = Emulator("10.0", "q", "10.0.2", machines=(("pc", "pc-i440fx-7.2"),))
    kernel = synthetic_images(root).kernels[profile.kernel]
    argv = qemu_command(profile, kernel, Path("i.cpio"), "tcg", "N", Path("q.sock"), None, e)
    assert argv[argv.index("-M") + 1] == "pc-i440fx-7.2"

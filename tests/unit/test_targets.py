"""The targets without a guest: the machine-type table, the KVM memo, both machines as Targets
(and what they tell the engine), the live-guest registry, host-key pinning."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import paramiko
import pytest

from lab.config.profiles import Profile, SshTarget, load_profiles
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.targets import accel, reaping
from lab.targets.base import Accel, Target
from lab.targets.identity import GuestIdentity
from lab.targets.qemu import Machine, QemuMachine
from lab.targets.qemuargs import MACHINE_TYPES, machine_type, net_args, networked, qemu_command
from lab.targets.remote import RealMachine
from lab.targets.ssh import known_hosts_name, pin_host_key

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "ssh"
HOST_KEY = (DATA / "example_host_key.pub").read_text().strip()


def _profile(**kw: Any) -> Profile:
    return dataclasses.replace(load_profiles(ROOT / "vendors.yaml")["intel-sep"], **kw)


def _kernel(tmp_path: Path) -> BuiltKernel:
    return BuiltKernel(
        "cloud-amd64", tmp_path / "vmlinux", 64, "vmlinux", "6.1.0-x", "debian:k", {}
    )


def _real(tmp_path: Path) -> RealMachine:
    target = SshTarget("192.0.2.7", 2200, "lab", tmp_path / "key", HOST_KEY)
    return RealMachine(_profile(name="box", kind="ssh", ssh=target), tmp_path / "agent", {})


def _as_target(t: Target) -> Target:
    """mypy: both machines are accepted where a Target is expected."""
    return t


# -- the machine-type table --------------------------------------------------------------------


def test_machine_types_answer_the_small_questions() -> None:
    micro = machine_type("microvm")
    assert (micro.m_arg, micro.nic, micro.ssh_machine) == (
        "microvm,acpi=off",
        "virtio-net-device",
        "pc",
    )
    for name in ("pc", "q35", "isapc"):  # isapc: not in the table, PCI defaults
        row = machine_type(name)
        assert (row.m_arg, row.nic, row.ssh_machine) == (name, "virtio-net-pci", name)
    assert set(MACHINE_TYPES) == {"microvm", "pc", "q35"}


def test_command_line_follows_the_table(tmp_path: Path) -> None:
    k = _kernel(tmp_path)
    for machine, m_arg in (("microvm", "microvm,acpi=off"), ("q35", "q35")):
        cmd = qemu_command(_profile(machine=machine), k, tmp_path / "i", "tcg", "n", tmp_path / "q")
        assert cmd[cmd.index("-M") + 1] == m_arg
    assert net_args(_profile(machine="microvm"), 1)[3] == "virtio-net-device,netdev=n0"
    assert networked(_profile(machine="microvm")).machine == "pc"
    cmd = qemu_command(_profile(smp=2), k, tmp_path / "i", Accel.TCG, "n", tmp_path / "q")
    assert cmd[cmd.index("-accel") + 1] == "tcg,thread=multi"
    assert all(type(a) is str for a in cmd), "plain strings only, no enums in the argv"


# -- the accelerator ---------------------------------------------------------------------------


@pytest.fixture
def kvm_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host whose /dev/kvm works, a private cache, and QEMU binaries that say their version."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(accel, "kvm_usable", lambda: True)
    monkeypatch.setattr(accel, "qemu_version", lambda binary: "9.9.9")
    return tmp_path / "entrylab" / "kvm-verdict.json"


def test_kvm_memo_is_keyed_on_the_binary(kvm_host: Path) -> None:
    assert accel.choose_accel() is Accel.KVM
    accel.mark_kvm_broken("emulation failure", "/opt/qemu-a/qemu-system-x86_64")
    assert accel.kvm_known_broken("/opt/qemu-a/qemu-system-x86_64")
    assert not accel.kvm_known_broken("/opt/qemu-b/qemu-system-x86_64")
    assert not accel.kvm_known_broken()
    assert accel.choose_accel("auto", "/opt/qemu-a/qemu-system-x86_64") is Accel.TCG
    assert accel.choose_accel("auto", "/opt/qemu-b/qemu-system-x86_64") is Accel.KVM
    assert accel.choose_accel("kvm", "/opt/qemu-a/qemu-system-x86_64") is Accel.KVM
    accel.mark_kvm_broken("x" * 600)
    data = json.loads(kvm_host.read_text())
    default_key = f"{os.uname().release} qemu 9.9.9"  # as before the emulator axis
    assert data[default_key] == "broken" and len(data[f"{default_key} reason"]) == 500
    assert accel.choose_accel() is Accel.TCG and accel.choose_accel("tcg") is Accel.TCG


# -- both machines are Targets -----------------------------------------------------------------


def test_qemu_machine_is_a_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.targets.qemu.qemu_version", lambda binary: "9.9.9")
    m = _as_target(Machine(_profile(), _kernel(tmp_path), tmp_path / "i", tmp_path / "g", "kvm"))
    assert isinstance(m, QemuMachine) and m.accel is Accel.KVM
    assert m.link is m and m.console is m.lines
    assert m.guest_record().keys() <= {"cpu_resolved"}  # the -cpu alias as QEMU resolves it
    assert m.console_capped() is None and m.emulator_notes() == []
    m.console_dropped = 1234
    assert m.console_capped() == "console log cap (64 MiB) reached: 1234 bytes dropped"
    env = m.environment(None, "icount")
    assert (env.machine_type, env.accel, env.kernel_release, env.variant) == (
        "microvm",
        "kvm",
        "6.1.0-x",
        "icount",
    )
    assert (env.target, env.transport, env.qemu_version, env.cell, env.emulator) == (
        "qemu",
        "console",
        "9.9.9",
        "",
        "",
    )


def test_qemu_machine_with_ssh_boots_networked(tmp_path: Path) -> None:
    part = SshPart("cloud-amd64", tmp_path / "ssh.cpio", HOST_KEY, ("virtio_net",))
    m = QemuMachine(_profile(), _kernel(tmp_path), tmp_path / "i", tmp_path / "g", ssh=part)
    assert m.net and m.profile.machine == "pc" and m.key_dir == tmp_path / "g"
    m.ssh_port = 4022
    assert m.guest_record()["ssh_port"] == 4022
    assert m.environment(None, "").transport == "ssh"
    plain = QemuMachine(_profile(), _kernel(tmp_path), tmp_path / "i", tmp_path / "g", net=True)
    assert plain.net and plain.ssh is None and plain.profile.machine == "pc"


def test_qemu_environment_is_what_the_runner_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lab.targets.qemu.qemu_version", lambda binary: "9.9.9")
    ident = GuestIdentity.parse(
        (DATA / "ready-i386-int80-net.txt").read_text().strip().removeprefix("READY ")
    )
    p, k = _profile(), _kernel(tmp_path)
    m = QemuMachine(p, k, tmp_path / "i", tmp_path / "g", "tcg")
    env = m.environment(ident, "icount")
    assert (env.profile, env.kernel, env.kernel_origin, env.qemu_version) == (
        p.name,
        k.name,
        k.origin,
        "9.9.9",
    )
    assert (env.accel, env.cpu_model, env.machine_type, env.variant) == (
        "tcg",
        p.cpu,
        p.machine,
        "icount",
    )
    assert (env.kernel_release, env.vendor, env.target, env.transport) == (
        ident.kernel_release,
        ident.vendor,
        "qemu",
        "console",
    )


def test_real_machine_is_a_target(tmp_path: Path) -> None:
    m = _real(tmp_path)
    assert _as_target(m) is m
    assert m.accel is Accel.SILICON and m.link is m
    assert not m.console.kernel_lines and m.console.fatal() is None  # no console at all
    assert m.guest_record().keys() <= {"cpu_resolved"}  # the -cpu alias as QEMU resolves it
    assert m.console_capped() is None and m.emulator_notes() == []


def test_real_machine_environment_is_what_the_runner_records(tmp_path: Path) -> None:
    ident = GuestIdentity.parse((DATA / "agent-info-amd-epyc-host.json").read_text())
    m = _real(tmp_path)
    env = m.environment(ident, "")
    assert (env.kernel, env.kernel_origin, env.accel, env.machine_type, env.qemu) == (
        "ssh:192.0.2.7",
        "ssh:lab@192.0.2.7:2200",
        "silicon",
        "silicon",
        "",
    )
    assert (env.cpu_model, env.vendor, env.kernel_bits) == (ident.model_name, "AuthenticAMD", 64)
    assert (env.target, env.transport) == ("machine", "ssh")
    assert m.environment(None, "").kernel_release == "" and m.environment(None, "").kernel_bits == 0


# -- reaping, pinning --------------------------------------------------------------------------


def test_reap_all_stops_every_registered_machine() -> None:
    stopped: list[str] = []

    class Fake:
        def __init__(self, name: str) -> None:
            self.name = name

        def stop(self) -> None:
            stopped.append(self.name)
            reaping.unregister(self)

    a, b = Fake("a"), Fake("b")
    reaping.register(a)
    reaping.register(b)
    reaping.reap_all()
    reaping.reap_all()
    assert sorted(stopped) == ["a", "b"]


def test_pinned_host_key_is_the_only_key_known() -> None:
    client = paramiko.SSHClient()
    pin_host_key(client, SshTarget("127.0.0.1", 2222, "root", Path("k"), HOST_KEY))
    assert isinstance(vars(client)["_policy"], paramiko.RejectPolicy)
    keys = client.get_host_keys()
    assert list(keys.keys()) == ["[127.0.0.1]:2222"]
    assert known_hosts_name("h", 22) == "h" and known_hosts_name("h", 2) == "[h]:2"

"""The SSH transport for real: dropbear in QEMU guests, and a real OpenSSH server started here on
127.0.0.1 (throwaway host key, throwaway port) as the "real machine" and as a second lab host.
No SSH is mocked. This host is x86_64 and runs the 32-bit static guest programs, so the loopback
profile runs the correctness suites on this machine's own CPU (verdicts labelled silicon).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.checks import CheckContext
from lab.config.profiles import SshTarget, load_profiles
from lab.config.scenarios import Scenario, load_all
from lab.config.scenarios import select as select_scenarios
from lab.engine.executor import execute
from lab.engine.plan import RunPlan
from lab.errors import BootError
from lab.images.builder import Images, ImageSet
from lab.report.results import Status, Verdict
from lab.report.run import RunReport
from lab.suites import load_catalog
from lab.targets import ssh
from lab.targets.base import Transport
from lab.targets.qemu import Machine, attach
from lab.targets.qemuargs import free_port, networked
from lab.targets.session import GuestSession
from tests.conftest import latest_results

pytestmark = pytest.mark.integration

SSHD = "/usr/sbin/sshd"
CORRECTNESS = "core,entry-abi,entry-control,entry-stubs"


@dataclass
class Sshd:
    """A throwaway OpenSSH server on 127.0.0.1 that lets this test's key in (as root)."""

    port: int
    client_key: Path
    host_key: str  # public, "ssh-ed25519 AAAA..."
    proc: subprocess.Popen[bytes]
    log: Path


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "entrylab-test", "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed (./entrylab setup installs it)")
    if os.geteuid() != 0:
        pytest.skip("the loopback sshd logs in as root (PermitRootLogin prohibit-password)")
    d = tmp_path_factory.mktemp("sshd")
    host_key = _keygen(d / "host_key")
    client_pub = _keygen(d / "client_key")
    (d / "authorized_keys").write_text(client_pub + "\n")
    (d / "authorized_keys").chmod(0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    config = d / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n"
    )
    log = d / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=out)
    deadline = time.monotonic() + 10
    while not _listening(port):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "sshd did not listen"
        time.sleep(0.05)
    yield Sshd(port, d / "client_key", host_key, proc, log)
    proc.terminate()
    proc.wait(timeout=10)


def _vendors(root: Path, sshd: Sshd, tmp_path: Path, extra: dict[str, Any] | None = None) -> Path:
    """The checkout's profiles, plus `this-host` (this machine over the loopback sshd) and a
    `hosts:` entry `loop` (this machine as a second lab host, its checkout in tmp_path)."""
    data = yaml.safe_load((root / "vendors.yaml").read_text())
    target = {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": "root",
        "key": str(sshd.client_key),
        "host_key": sshd.host_key,
    }
    data["profiles"]["this-host"] = {
        "kind": "ssh",
        "description": "this lab machine over a loopback sshd",
        "tags": ["silicon"],
        **target,
    }
    data["profiles"].update(extra or {})
    data["hosts"] = {
        "loop": {**target, "path": str(tmp_path / "lab-host"), "python": sys.executable},
    }
    path = tmp_path / "vendors.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lab(root: Path, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _statuses(run: Path) -> dict[tuple[str, str, str | None], str]:
    data = json.loads((run / "results.json").read_text())
    return {(v["profile"], v["scenario"], v["path"]): v["status"] for v in data["verdicts"]}


# -- QEMU guests over SSH ----------------------------------------------------------------------


def test_ssh_and_console_give_the_same_verdicts(root: Path, tmp_path: Path) -> None:
    """One 64-bit and one 32-bit profile, each scenario over the console and over SSH."""
    runs = {}
    for transport in ("console", "ssh"):
        result = lab(
            root,
            "run",
            "--profiles",
            "amd-syscall32,i386-int80",
            "--scenarios",
            "vdso-entry,regs-preserved,syscall-restart,raw-fast-insn",
            "--transport",
            transport,
            "--jobs",
            "2",
            "--plain",
            "--reports",
            str(tmp_path / transport),
        )
        assert result.returncode in (0, 1), result.stdout + result.stderr
        runs[transport] = (tmp_path / transport / "latest").resolve()
    console, over_ssh = _statuses(runs["console"]), _statuses(runs["ssh"])
    assert console == over_ssh
    assert "error" not in over_ssh.values()
    data = json.loads((runs["ssh"] / "results.json").read_text())
    for name in ("amd-syscall32@cloud-amd64", "i386-int80@686"):
        guest = data["guests"][name]
        assert guest["transport"] == "ssh" and guest["machine_type"] == "pc"
        log = (runs["ssh"] / "guests" / name / "boot1" / "console.log").read_bytes()
        assert b"READY" in log and b'"ssh":true' in log
        assert (
            b"-netdev user,id=n0,hostfwd=tcp:127.0.0.1:"
            in (runs["ssh"] / "guests" / name / "boot1" / "qemu-cmdline.txt").read_bytes()
        )
    assert json.loads((runs["console"] / "results.json").read_text())["guests"]["i386-int80@686"][
        "transport"
    ] == ("console")
    key = runs["ssh"] / "ssh" / "client_key"
    assert key.stat().st_mode & 0o077 == 0, "the run's client key is private"


REDEPLOYED = r"""
#include <stdio.h>
int main(int argc, char **argv) { printf("redeployed %s\n", argc > 1 ? argv[1] : ""); return 42; }
"""


@pytest.fixture(scope="module")
def images(root: Path) -> tuple[Images, ImageSet]:
    im = Images(root)
    return im, im.build(["cloud-amd64"])


def test_changed_program_is_redeployed_without_rebuilding(
    images: tuple[Images, ImageSet], root: Path, tmp_path: Path
) -> None:
    im, built = images
    if "cloud-amd64" not in built.ssh:
        pytest.fail(f"the images have no SSH: {built.ssh_unavailable}")
    part = built.ssh["cloud-amd64"]
    initramfs = im.with_ssh(built.initramfs, part)
    before = hashlib.sha256(initramfs.read_bytes()).hexdigest()
    manifest_before = (im.build_dir / "manifest.json").read_text()
    profile = networked(load_profiles(root / "vendors.yaml")["intel-sep"])
    changed = tmp_path / "fault_inject"
    src = tmp_path / "changed.c"
    src.write_text(REDEPLOYED)
    subprocess.run(
        ["gcc", "-m32", "-static", "-O2", "-o", str(changed), str(src)], check=True, timeout=120
    )
    with Machine(
        profile, built.kernels["cloud-amd64"], initramfs, tmp_path / "g", "tcg", net=True
    ) as m:
        m.boot()
        link = attach(m, part.host_key, tmp_path)
        session = GuestSession(link, profile.name)
        assert session.run(["/lab/bin/fault_inject", "exit", "3"]).exit_code == 3
        placed = ssh.deploy(link.client, {"fault_inject": changed}, ssh.GUEST_DEPLOY_DIR, "t")
        assert placed == ["/lab/bin-deployed/fault_inject"]
        again = session.run(["/lab/bin/fault_inject", "exit"])
        assert (again.exit_code, again.output) == (42, ["redeployed exit"])
        assert session.run(["fault_inject", "x"]).output == ["redeployed x"]  # PATH too
        # Artefacts come back the same way.
        log = ssh.fetch(link.client, "/var/log/dropbear.log", tmp_path / "dropbear.log", "t")
        assert "Pubkey auth succeeded for 'root'" in log.read_text()
        # The same guest, never rebooted: one boot, one READY on its console.
        assert (tmp_path / "g" / "console.log").read_bytes().count(b"READY") == 1
        # A connection that presents another host key is refused, naming the guest.
        wrong = SshTarget(
            "127.0.0.1",
            m.ssh_port or 0,
            "root",
            Path("/dev/null"),
            ssh.client_key(tmp_path / "other")[1],
        )
        with pytest.raises(BootError) as exc:
            ssh.connect("intel-sep", wrong, ssh.client_key(tmp_path)[0])
        assert str(exc.value).startswith("intel-sep: SSH to root@127.0.0.1:")
        assert "not the pinned" in exc.value.reason
        assert session.run(["true"]).ok, "the good link is untouched"
    assert hashlib.sha256(initramfs.read_bytes()).hexdigest() == before
    assert (im.build_dir / "manifest.json").read_text() == manifest_before, "no image rebuilt"


# -- a real machine: this host over the loopback sshd ------------------------------------------


def test_real_machine_runs_the_correctness_suites(root: Path, sshd: Sshd, tmp_path: Path) -> None:
    vendors = _vendors(root, sshd, tmp_path)
    result = lab(
        root,
        "--vendors",
        str(vendors),
        "run",
        "--profiles",
        "this-host",
        "--scenarios",
        CORRECTNESS,
        "--plain",
        "--reports",
        str(tmp_path / "r"),
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    data = latest_results(tmp_path / "r")
    verdicts = data["verdicts"]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    vendor = next(ln.split(":")[1].strip() for ln in cpuinfo.splitlines() if "vendor_id" in ln)
    assert {v["env"]["accel"] for v in verdicts} == {"silicon"}
    assert {v["env"]["vendor"] for v in verdicts} == {vendor}
    assert {v["env"]["qemu"] for v in verdicts} == {""}
    assert data["guests"]["this-host@silicon"]["kernel_origin"] == f"ssh:root@127.0.0.1:{sshd.port}"
    scenarios = {v["scenario"] for v in verdicts}
    wanted = select_scenarios(
        load_all(root / "scenarios", load_catalog().known(), load_profiles(vendors)),
        [*CORRECTNESS.split(",")],
    )
    host = load_profiles(vendors)["this-host"]
    assert scenarios == {s.name for s in wanted if s.applies_to(host)}, "every one ran"
    errors = [(v["scenario"], v["path"], v["message"]) for v in verdicts if v["status"] == "error"]
    assert errors == []
    raw = [v for v in verdicts if v["scenario"] == "raw-fast-insn"]
    assert raw and all(v["status"] == "pass" for v in raw), "silicon agrees with the model"
    assert sum(v["status"] == "pass" for v in verdicts) >= 0.9 * len(verdicts)
    # Nothing is left behind on the machine.
    assert not list(Path("/tmp").glob("entrylab.*/agent"))


def test_wrong_host_key_and_refused_connection_cost_only_their_guest(
    root: Path, sshd: Sshd, tmp_path: Path
) -> None:
    other = _keygen(tmp_path / "other_host_key")
    base = {"kind": "ssh", "host": "127.0.0.1", "user": "root", "key": str(sshd.client_key)}
    vendors = _vendors(
        root,
        sshd,
        tmp_path,
        {
            "wrong-key": {**base, "port": sshd.port, "host_key": other},
            "refused": {**base, "port": free_port(), "host_key": sshd.host_key},
        },
    )
    result = lab(
        root,
        "--vendors",
        str(vendors),
        "run",
        "--profiles",
        "wrong-key,this-host,refused",
        "--scenarios",
        "auxv-symbol,fork-clone",
        "--plain",
        "--reports",
        str(tmp_path / "r"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = latest_results(tmp_path / "r")
    by = {}
    for v in data["verdicts"]:
        by.setdefault(v["profile"], []).append(v)
    assert {v["status"] for v in by["this-host"]} == {"pass"}
    assert {(v["scenario"], v["status"]) for v in by["wrong-key"]} == {
        ("auxv-symbol", "error"),
        ("fork-clone", "error"),
    }
    msg = by["wrong-key"][0]["message"]
    assert msg.startswith(f"boot failed: SSH to root@127.0.0.1:{sshd.port}: the server's host key")
    assert "not the pinned SHA256:" in msg and "refusing to connect" in msg
    assert "wrong-key@silicon: boot-failed: SSH to" in result.stdout  # the guest is named
    assert {v["status"] for v in by["refused"]} == {"error"}
    assert by["refused"][0]["message"].endswith(": connection refused")
    assert "refused@silicon: boot-failed: SSH to root@127.0.0.1:" in result.stdout


# -- dropped connections: the scenario errs, the guest comes back, the run goes on -------------

# Kill the SSH server process that carries this very connection (dropbear's or sshd's session
# process: the first ancestor of the agent with that name). Only the test uses this check.
DROP = (
    'p=$PPID; while [ "$p" -gt 1 ]; do read -r c < /proc/$p/comm; '
    'case "$c" in dropbear|sshd|sshd-session) kill -9 "$p"; exit 0;; esac; '
    "read -r _ _ _ p _ < /proc/$p/stat; done; exit 1"
)


def check_drop(ctx: CheckContext) -> list[Verdict]:
    result = ctx.session.run(["sh", "-c", DROP], timeout=30)
    return [ctx.verdict(Status.FAIL, f"the connection survived: {result.describe()}")]


def test_dropped_connection_is_an_error_for_that_scenario_only(
    root: Path, sshd: Sshd, tmp_path: Path
) -> None:
    vendors = _vendors(root, sshd, tmp_path)
    profiles = load_profiles(vendors)
    drop = Scenario("drop", "ssh-test", "test-ssh-drop", timeout_s=30)
    after = next(
        s
        for s in load_all(root / "scenarios", load_catalog().known(), profiles)
        if s.name == "auxv-symbol"
    )
    plan = RunPlan(
        [profiles["this-host"], profiles["amd-syscall32"]],
        [drop, after],
        jobs=2,
        transport=Transport.SSH,
        catalog=load_catalog().with_checks({"test-ssh-drop": check_drop}),
    )
    report = RunReport(tmp_path / "r", "drop", {"kind": "test"})
    events: list[Any] = []
    execute(plan, Images(root), report, events.append)
    by = {(v.profile, v.scenario): v for v in report.verdicts if v.path is None}
    for name in ("this-host", "amd-syscall32"):
        dropped = by[(name, "drop")]
        assert dropped.status is Status.ERROR, dropped.message
        assert "connection dropped" in dropped.message, dropped.message
        after_verdicts = [
            v for v in report.verdicts if (v.profile, v.scenario) == (name, after.name)
        ]
        assert after_verdicts and all(v.status is Status.PASS for v in after_verdicts)
    assert report.guests["amd-syscall32@cloud-amd64"]["boots"] == 2, "rebooted, not abandoned"
    assert report.guests["this-host@silicon"]["boots"] == 2, "the real machine was reconnected"


# -- lab hosts: this machine as a second host, through the same sshd ---------------------------


def test_matrix_spread_over_a_lab_host(root: Path, sshd: Sshd, tmp_path: Path) -> None:
    """amd-syscall32 runs here, i386-int80 on lab host `loop` (a copy of this checkout run
    through fabric), i386-intel-sep on lab host `gone` (nothing listens): its verdicts are
    errors naming the host; the rest of the run is whole."""
    vendors = _vendors(root, sshd, tmp_path)
    data = yaml.safe_load(vendors.read_text())
    data["hosts"]["gone"] = {**data["hosts"]["loop"], "port": free_port()}
    vendors.write_text(yaml.safe_dump(data, sort_keys=False))
    result = lab(
        root,
        "--vendors",
        str(vendors),
        "run",
        "--profiles",
        "amd-syscall32,i386-int80,i386-intel-sep",
        "--scenarios",
        "vdso-entry,auxv-symbol",
        "--hosts",
        "loop,gone",
        "--plain",
        "--reports",
        str(tmp_path / "r"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    run = (tmp_path / "r" / "latest").resolve()
    results = json.loads((run / "results.json").read_text())
    by: dict[str, set[str]] = {}
    for v in results["verdicts"]:
        by.setdefault(v["profile"], set()).add(v["status"])
    assert by["amd-syscall32"] == {"pass"} and by["i386-int80"] == {"pass"}, result.stdout
    assert by["i386-intel-sep"] == {"error"}
    gone = [v for v in results["verdicts"] if v["profile"] == "i386-intel-sep"]
    assert all(v["message"].startswith("lab host gone (root@127.0.0.1:") for v in gone)
    assert all(v["message"].endswith("connection refused") for v in gone)
    assert results["guests"]["i386-int80@686"]["lab_host"] == "loop"
    assert "lab_host" not in results["guests"]["amd-syscall32@cloud-amd64"]
    assert (run / "guests" / "i386-int80@686" / "boot1" / "console.log").stat().st_size > 0
    assert (tmp_path / "lab-host" / "lab" / "engine" / "hosts.py").is_file(), (
        "the checkout was copied"
    )
    assert "[loop] " in result.stdout, "the lab host's progress is shown"


@pytest.fixture(autouse=True)
def no_entrylab_tmp_left() -> Iterator[None]:
    before = set(Path("/tmp").glob("entrylab.*"))
    yield
    with contextlib.suppress(OSError):
        left = set(Path("/tmp").glob("entrylab.*")) - before
        assert not left, f"deploy directories left behind: {left}"

"""The fault suite: each fault injected for real against real QEMU guests.

Guarantees checked: the affected verdict says what happened, other work carries on, no QEMU is
left running, results.json is always valid JSON, the previous reports are intact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.config.profiles import Profile
from lab.errors import GuestError
from lab.images.builder import ImageSet
from lab.targets.qemu import Machine
from lab.targets.session import GuestSession
from tests.conftest import lab_cli, sigterm_when, tagged_qemu

pytestmark = pytest.mark.integration


def lab(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return lab_cli(*args, cwd=root, timeout=timeout, env=env)


def suite(tmp_path: Path, body: str) -> Path:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "f.yaml").write_text("suite: f\nscenarios:\n" + body)
    return scenarios


def qmp(machine: Machine, command: str) -> None:
    from qemu.qmp.legacy import QEMUMonitorProtocol

    mon = QEMUMonitorProtocol(str(machine.qmp_socket))
    mon.connect()
    mon.cmd(command)
    mon.close()


def test_guest_that_stops_answering_is_a_hang_not_a_wait_forever(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    """QEMU stays alive but the guest CPU is stopped (QMP stop): the command times out, KILL
    goes unanswered, and the session reports a hang within its timeouts."""
    p = profiles["amd-syscall32"]
    with Machine(p, image_set.kernels[p.kernel], image_set.initramfs, tmp_path, "tcg") as m:
        m.boot()
        session = GuestSession(m, p.name)
        threading.Timer(1.0, qmp, (m, "stop")).start()
        t0 = time.monotonic()
        with pytest.raises(GuestError) as exc:
            session.run(["sleep", "60"], timeout=3)
        assert exc.value.kind == "hang"
        assert time.monotonic() - t0 < 30


def test_qemu_killed_mid_scenario(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    p = profiles["amd-syscall32"]
    with Machine(p, image_set.kernels[p.kernel], image_set.initramfs, tmp_path, "tcg") as m:
        m.boot()
        pid = m._child.pid if m._child else 0
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
        with pytest.raises(GuestError) as exc:
            GuestSession(m, p.name).run(["sleep", "60"], timeout=30)
        assert exc.value.kind == "qemu exited"


def test_flood_is_capped_and_memory_stays_bounded(root: Path, tmp_path: Path) -> None:
    scenarios = suite(
        tmp_path,
        "  flood:\n    program: fault_inject\n    args: [flood, '1000']\n"
        "    check: exit-code\n    timeout_s: 25\n"
        "  after-flood:\n    check: vdso-entry\n",
    )
    # Run the lab in-process under a wrapper so its own peak RSS (not QEMU's) is measured.
    wrapper = (
        "import resource, sys\n"
        "from lab.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print('LAB-MAXRSS-KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            "run",
            "--profiles",
            "amd-syscall32",
            "--scenario-dir",
            str(scenarios),
            "--reports",
            str(tmp_path / "r"),
            "--plain",
            "--transport",
            "console",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "ENTRYLAB_CONSOLE_CAP_MB": "1"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    run = (tmp_path / "r" / "latest").resolve()
    data = json.loads((run / "results.json").read_text())
    by_name = {v["scenario"]: v for v in data["verdicts"]}
    assert by_name["flood"]["status"] == "fail" and "timed out" in by_name["flood"]["message"]
    assert by_name["after-flood"]["status"] == "pass"
    log = run / "guests" / "amd-syscall32@cloud-amd64" / "boot1" / "console.log"
    assert (1 << 20) <= log.stat().st_size < (1 << 20) + 4096
    assert "console log cap (1 MiB) reached" in json.dumps(data["guests"])
    assert "console log cap" in result.stdout
    maxrss = int(result.stdout.split("LAB-MAXRSS-KIB")[1].split()[0])
    assert maxrss < 300 * 1024, f"the lab process peaked at {maxrss} KiB"


def test_sigterm_stops_cleanly(root: Path, tmp_path: Path) -> None:
    scenarios = suite(
        tmp_path,
        "  slow:\n    program: fault_inject\n    args: [sleep, '60']\n    check: exit-code\n",
    )
    code, out = sigterm_when(
        root,
        "running slow",
        "run",
        "--profiles",
        "amd-syscall32,i386-int80",
        "--scenario-dir",
        str(scenarios),
        "--reports",
        str(tmp_path / "r"),
        "--plain",
    )
    assert code == 130, out
    data = json.loads(((tmp_path / "r" / "latest") / "results.json").read_text())
    assert data["state"] == "interrupted"
    assert all("interrupted" in v["message"] for v in data["verdicts"])


def test_two_runs_at_once_do_not_collide(root: Path, tmp_path: Path) -> None:
    args = [
        "-m",
        "lab.cli",
        "run",
        "--profiles",
        "amd-syscall32",
        "--scenarios",
        "vdso-entry",
        "--reports",
        str(tmp_path),
        "--plain",
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = sorted(d for d in tmp_path.iterdir() if d.is_dir() and not d.is_symlink())
    assert len(runs) == 2
    for run in runs:
        data = json.loads((run / "results.json").read_text())
        assert data["state"] == "finished" and data["counts"]["pass"] == 1


def test_disk_full_while_writing_the_report(root: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(small)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        args = [
            "run",
            "--profiles",
            "amd-syscall32",
            "--scenarios",
            "vdso-entry",
            "--reports",
            str(small),
            "--plain",
        ]
        first = lab(root, *args)
        assert first.returncode == 0, first.stdout + first.stderr
        before = {p: p.read_bytes() for p in small.glob("*/results.json")}
        latest = (small / "latest").resolve()
        filler = small / "filler"
        try:  # leave no space at all
            with filler.open("wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass
        second = lab(root, *args)
        assert second.returncode == 2
        assert "No space left on device" in second.stderr
        assert "Traceback" not in second.stderr
        for path, content in before.items():
            assert path.read_bytes() == content
            json.loads(content)
        assert (small / "latest").resolve() == latest
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_interrupted_run_resumes_without_redoing_what_finished(root: Path, tmp_path: Path) -> None:
    scenarios = suite(
        tmp_path,
        "  first:\n    check: vdso-entry\n"
        "  slow:\n    program: fault_inject\n    args: [sleep, '8']\n"
        "    check: exit-code\n",
    )
    common = ["--scenario-dir", str(scenarios), "--reports", str(tmp_path / "r"), "--plain"]
    sigterm_when(root, "running slow", "run", "--profiles", "amd-syscall32", *common)
    run = (tmp_path / "r" / "latest").resolve()
    first = json.loads((run / "results.json").read_text())
    assert first["state"] == "interrupted"
    passed_first = [v for v in first["verdicts"] if v["scenario"] == "first"]
    assert [v["status"] for v in passed_first] == ["pass"]

    resumed = lab(root, "run", "--resume", "latest", *common)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "running first" not in resumed.stdout and "running slow" in resumed.stdout
    data = json.loads((run / "results.json").read_text())
    assert data["state"] == "finished" and len(data["resumed"]) == 1
    assert {(v["scenario"], v["status"]) for v in data["verdicts"]} == {
        ("first", "pass"),
        ("slow", "pass"),
    }
    assert data["verdicts"][0] == passed_first[0], "what finished is kept exactly"
    boots = sorted(p.name for p in (run / "guests" / "amd-syscall32@cloud-amd64").glob("boot*"))
    assert boots == ["boot1", "boot2"], "the first attempt's console log is kept"


def test_qemu_of_a_sigkilled_lab_is_reaped_by_the_next_lab(root: Path) -> None:
    env = {**os.environ, "ENTRYLAB_TEST_TAG": "sigkill"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "boot", "amd-syscall32", "--", "sleep", "120"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready in" in line:
            break
    qemus = tagged_qemu("sigkill")
    assert qemus
    proc.kill()
    proc.wait()
    time.sleep(0.5)
    lab(root, "profiles")  # any lab command cleans up after a dead lab
    time.sleep(0.5)
    assert tagged_qemu("sigkill") == []

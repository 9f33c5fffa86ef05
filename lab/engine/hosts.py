"""Lab hosts: other machines that run QEMU guests for this lab (`lab run --hosts`).

The simplest thing that works: copy this checkout there (the files git knows, as one tarball
over SFTP), run `lab run` on its share of the profiles with --plain, and bring results.json and
the guests' logs back into this run's report. The host needs what ./entrylab setup installs
(QEMU, gcc-multilib, a Python with the lab's dependencies at `python`); its image builds and
downloads are its own. Connections pin the host's key like every other (lab.targets.ssh).
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko

from lab.config.profiles import LabHost, SshTarget
from lab.engine.cell import Cell
from lab.errors import ErrorKind, LabError
from lab.events import Event, Kind
from lab.report.compat import upgrade
from lab.report.results import Status, Verdict
from lab.targets.base import Accel, TargetKind
from lab.targets.ssh import (
    CONNECT_TIMEOUT_S,
    connect_error,
    known_hosts_name,
    load_key,
    pin_host_key,
)

if TYPE_CHECKING:
    from lab.engine.plan import RunPlan
    from lab.engine.runner import RunContext

SYNC_SKIP = ("images/build/", "reports/", ".venv/", ".git/", ".entrylab-remote/")
REMOTE_EXTRA = ".entrylab-remote"  # vendors file and scenario dir of this run, if not the tree's


def checkout_files(root: Path) -> list[str]:
    """The files of the checkout to copy: what git tracks plus untracked files it does not
    ignore (the lab's own sources, scenarios, recipe and lock), never builds or reports."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(f.relative_to(root))
            for d in ("lab", "scenarios", "images", "tests")
            for f in (root / d).rglob("*")
            if f.is_file()
        ] + ["vendors.yaml", "pyproject.toml", "entrylab"]
    return sorted(n for n in set(names) if not n.startswith(SYNC_SKIP) and (root / n).is_file())


def checkout_tarball(root: Path, extra: dict[str, Path]) -> bytes:
    """checkout_files(root), plus extra (name in the tarball -> local file or directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in checkout_files(root):
            tar.add(root / name, arcname=name, recursive=False)
        for name, local in sorted(extra.items()):
            tar.add(local, arcname=name)
    return buf.getvalue()


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line to a callback (remote lab output)."""

    def __init__(self, each: Callable[[str], None]) -> None:
        self.each = each
        self.buf = ""
        self.tail: list[str] = []

    def write(self, text: str) -> int:
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            line = line.rstrip("\r")
            self.tail = [*self.tail[-40:], line]
            self.each(line)
        return len(text)


class LabHostRun:
    """One share of the matrix on one lab host, with fabric: sync, run, fetch."""

    def __init__(self, host: LabHost, log: Callable[[str], None]) -> None:
        self.host = host
        self.log = log
        self.remote_pid: int | None = None
        self.output_tail: list[str] = []
        self.exit_code: int | None = None

    @property
    def label(self) -> str:
        return f"lab host {self.host.name} ({self.host.ssh.where})"

    def connection(self) -> Any:
        """A fabric Connection that accepts only the host's pinned key (no AutoAddPolicy)."""
        import fabric

        key = load_key(self.host.ssh.key, self.label)
        conn = fabric.Connection(
            self.host.ssh.host,
            user=self.host.ssh.user,
            port=self.host.ssh.port,
            connect_timeout=CONNECT_TIMEOUT_S,
            connect_kwargs={"pkey": key, "allow_agent": False, "look_for_keys": False},
        )
        pin_host_key(conn.client, self.host.ssh)
        try:
            conn.open()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            conn.close()
            raise LabError(
                f"{self.label}: {connect_error(exc, self.host.ssh, CONNECT_TIMEOUT_S)}"
            ) from None
        return conn

    def run(
        self, root: Path, lab_args: list[str], run_id: str, extra: dict[str, Path], into: Path
    ) -> dict[str, Any] | None:
        """Copy the checkout, run `python -m lab.cli <lab_args> --reports ... --plain` there,
        fetch results.json and guests/ into `into`; the remote results (None if none came)."""
        path = self.host.path.rstrip("/")
        q = shlex.quote
        there = path if not path.startswith("~") else "$HOME" + q(path[1:])
        reports = f"{there}/reports-remote"
        conn = self.connection()
        try:
            data = checkout_tarball(root, {f"{REMOTE_EXTRA}/{k}": v for k, v in extra.items()})
            conn.run(
                f"mkdir -p {there} && rm -rf {there}/{REMOTE_EXTRA}", hide=True, in_stream=False
            )
            conn.put(io.BytesIO(data), remote=f"{self._sftp_path(conn, path)}/.entrylab-sync.tgz")
            conn.run(
                f"cd {there} && tar -xzf .entrylab-sync.tgz && rm -f .entrylab-sync.tgz",
                hide=True,
                in_stream=False,
            )
            self.log(f"synced {len(data) >> 10} KiB of the checkout to {path}")
            args = " ".join(q(a) for a in lab_args)
            command = (
                f"cd {there} && echo ENTRYLAB-PID $$ && exec {q(self.host.python)} -m lab.cli "
                f"{args} --reports {reports} --run-id {q(run_id)} --plain"
            )
            out = _Lines(self._line)
            result = conn.run(
                command, warn=True, hide=False, in_stream=False, out_stream=out, err_stream=out
            )
            self.exit_code = result.exited
            self.output_tail = out.tail
            archive = f"{reports}/{q(run_id)}.tgz"
            fetched = conn.run(
                f"cd {reports}/{q(run_id)} && tar -czf {archive} results.json "
                "$(test -d guests && echo guests)",
                warn=True,
                hide=True,
                in_stream=False,
            )
            if fetched.exited != 0:
                return None
            buf = io.BytesIO()
            remote_reports = self._sftp_path(conn, path) + "/reports-remote"
            conn.get(f"{remote_reports}/{run_id}.tgz", local=buf)
            conn.run(f"rm -f {archive}", hide=True, warn=True, in_stream=False)
        finally:
            conn.close()
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r:gz") as tar:
            tar.extractall(into, filter="data")
        loaded: dict[str, Any] = json.loads((into / "results.json").read_text())
        return loaded

    def _sftp_path(self, conn: Any, path: str) -> str:
        """SFTP does not expand ~: make it absolute from the remote home."""
        if not path.startswith("~"):
            return path
        home = str(conn.run('printf %s "$HOME"', hide=True, in_stream=False).stdout)
        return home.rstrip("/") + path[1:]

    def _line(self, line: str) -> None:
        if line.startswith("ENTRYLAB-PID ") and line.split()[-1].isdigit():
            self.remote_pid = int(line.split()[-1])
            return
        self.log(line)

    def cancel(self) -> None:
        """Stop the remote lab (SIGTERM: it stops its guests and writes its report)."""
        if self.remote_pid is None:
            return
        with contextlib.suppress(Exception):
            conn = self.connection()
            try:
                conn.run(f"kill -TERM {self.remote_pid}", hide=True, warn=True, in_stream=False)
            finally:
                conn.close()


def parse_hosts(specs: list[str], defined: dict[str, LabHost]) -> list[LabHost]:
    """--hosts: names of the `hosts:` section of vendors.yaml, or user@host[:port] (key
    ~/.ssh/id_ed25519, host key pinned from ~/.ssh/known_hosts, checkout in ~/entrylab)."""
    hosts = []
    for spec in specs:
        if spec in defined:
            hosts.append(defined[spec])
            continue
        if "@" not in spec:
            known = ", ".join(defined) or "none defined"
            raise LabError(
                f"--hosts {spec}: not a lab host of vendors.yaml ({known}) nor user@host[:port]"
            )
        user, _, rest = spec.partition("@")
        host, _, port_text = rest.partition(":")
        if not port_text.isdigit() and port_text:
            raise LabError(f"--hosts {spec}: the port must be a number")
        port = int(port_text or 22)
        host_keys = paramiko.HostKeys()
        with contextlib.suppress(OSError):
            host_keys.load(str(Path.home() / ".ssh" / "known_hosts"))
        entry = host_keys.lookup(known_hosts_name(host, port))
        if not entry:
            raise LabError(
                f"--hosts {spec}: its host key is not in ~/.ssh/known_hosts; the lab pins host "
                "keys, so add it there (ssh-keyscan, checked) or define the host in vendors.yaml"
            )
        kind = next(iter(entry.keys()))
        pinned = entry[kind]
        name = f"{host}-{port}".replace(":", "-")
        hosts.append(
            LabHost(
                name=name,
                ssh=SshTarget(
                    host,
                    port,
                    user,
                    Path.home() / ".ssh" / "id_ed25519",
                    f"{pinned.get_name()} {pinned.get_base64()}",
                ),
                path="~/entrylab",
                python="~/entrylab/.venv/bin/python",
                source="--hosts",
            )
        )
    return hosts


# -- the engine's side: a share of the cells run on one lab host ---------------------------------


class HostRunner:
    """A share of the QEMU cells run by `lab run` on a lab host (LabHostRun); its verdicts,
    guest records and logs join this run's report. A host that cannot be reached costs its own
    cells' verdicts (errors naming the host), never the run."""

    def __init__(self, host: LabHost, cells: list[Cell], plan: RunPlan, ctx: RunContext) -> None:
        self.host = host
        self.cells = cells
        self.plan = plan
        self.ctx = ctx
        self.remote = LabHostRun(host, self._log)

    def _log(self, line: str) -> None:
        self.ctx.emit(Event(Kind.NOTE, None, f"[{self.host.name}] {line}"[:400]))

    def lab_args(self) -> list[str]:
        """The remote `lab run`: this share's profiles and every scenario of the plan."""
        names = ",".join(c.profile.name for c in self.cells)
        scenarios = ",".join(dict.fromkeys(s.name for s in self.plan.scenarios))
        extra = ["--vendors", f"{REMOTE_EXTRA}/vendors.yaml"] if self.plan.vendors else []
        args = [*extra, "run", "--profiles", names, "--scenarios", scenarios]
        if self.plan.scenario_dir is not None:
            args += ["--scenario-dir", f"{REMOTE_EXTRA}/scenarios"]
        if self.plan.transport:
            args += ["--transport", str(self.plan.transport)]
        if self.plan.accel is not Accel.AUTO:
            args += ["--accel", str(self.plan.accel)]
        if self.host.jobs:
            args += ["--jobs", str(self.host.jobs)]
        # re-runs happen where the guest runs; evidence runs here, over every host's verdicts
        args += ["--reruns", str(self.plan.reruns), "--no-attribution"]
        return args

    def run(self, root: Path) -> None:
        for c in self.cells:
            self.ctx.emit(Event(Kind.BOOTING, c.name, f"on {self.remote.label}"))
        extra = {}
        if self.plan.vendors is not None:
            extra["vendors.yaml"] = self.plan.vendors
        if self.plan.scenario_dir is not None:
            extra["scenarios"] = self.plan.scenario_dir
        into = self.ctx.report.dir / "lab-hosts" / self.host.name
        run_id = f"{self.ctx.report.run_id}-{self.host.name}"
        why = ""
        try:
            data = self.remote.run(root, self.lab_args(), run_id, extra, into)
        except LabError as exc:
            data, why = None, str(exc)
        except Exception as exc:  # fabric/invoke raise their own kinds: one error per verdict
            data, why = None, f"{self.remote.label}: {type(exc).__name__}: {exc}"
        if data is not None:
            self._merge(upgrade(data), into)
        tail = ""
        if not why:
            tail = "\n".join(self.remote.output_tail[-20:])
            why = f"{self.remote.label}: no verdict (remote lab exit {self.remote.exit_code})"
        have = {(v.cell, v.scenario) for v in self.ctx.report.verdicts}
        missing = [
            Verdict(
                c.profile.name,
                s.name,
                Status.ERROR,
                why,
                excerpt=tail,
                suite=s.suite,
                cell=c.name,
                error_kind=ErrorKind.CONNECTION.value,
            )
            for c in self.cells
            for s in c.scenarios
            if (c.name, s.name) not in have
        ]
        self._add(missing)
        for c in self.cells:
            self.ctx.emit(Event(Kind.DONE, c.name, f"finished on {self.remote.label}"))

    def _merge(self, data: dict[str, Any], into: Path) -> None:
        ours = {c.name for c in self.cells}
        verdicts = [Verdict.from_json(v) for v in data.get("verdicts", [])]
        where = {"lab_host": self.host.name, "lab_host_ssh": self.host.ssh.where}
        for info in data.get("guests", {}).values():
            if info.get("cell") in ours:
                extra = {k: v for k, v in info.items() if k not in ("cell", "variant")}
                self.ctx.report.record_guest(
                    info["cell"], {**extra, **where}, str(info.get("variant", ""))
                )
        for name in ours:
            mine = self.ctx.report.guest_dir(name)
            src = into / "guests" / mine.name
            if src.is_dir():
                shutil.copytree(src, mine, dirs_exist_ok=True)
        self._add([v for v in verdicts if v.cell in ours])

    def _add(self, verdicts: list[Verdict]) -> None:
        self.ctx.report.add_all(verdicts)
        for v in verdicts:
            self.ctx.emit(Event(Kind.VERDICT, v.cell, scenario=v.scenario, verdict=v))


def spread(cells: list[Cell], hosts: tuple[LabHost, ...]) -> dict[str, list[Cell]]:
    """QEMU cells over this machine ("") and the lab hosts, round robin in plan order; real
    machines stay here (they are reached over SSH from here anyway)."""
    slots = ["", *(h.name for h in hosts)]
    out: dict[str, list[Cell]] = {slot: [] for slot in slots}
    qemu = [c for c in cells if c.kind is TargetKind.QEMU]
    for i, c in enumerate(qemu):
        out[slots[i % len(slots)]].append(c)
    out[""].extend(c for c in cells if c.kind is not TargetKind.QEMU)
    return out

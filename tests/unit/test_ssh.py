"""SSH transport pieces that need no guest: config, host-key pinning, transport choice, spreading
the matrix over lab hosts, the guest's READY with SSH, the SSH part of the image builder.

Real SSH (a real sshd, real guests) is tested in tests/integration/test_ssh.py.
"""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import paramiko
import pytest

from lab import cli
from lab.config.profiles import LabHost, Profile, SshTarget, load_hosts, load_profiles
from lab.engine.cell import Cell
from lab.engine.hosts import checkout_files, parse_hosts, spread
from lab.engine.plan import RunPlan, choose_transport
from lab.errors import BootError, ConfigError, ConfigErrors, LabError
from lab.images.builder import Images, ImageSet
from lab.images.sshpart import GUEST_HOST_KEY, SshPart, host_key, module_depends, ssh_string
from lab.targets.base import TargetKind, Transport
from lab.targets.identity import GuestIdentity
from lab.targets.qemuargs import kernel_cmdline, net_args, networked, qemu_command
from lab.targets.ssh import client_key, connect_error, fingerprint, public_key

DATA = Path(__file__).resolve().parent.parent / "data" / "ssh"
HOST_KEY = (DATA / "example_host_key.pub").read_text().strip()


def vendors(tmp_path: Path, extra: str, top: str = "") -> Path:
    """intel-sep, then `extra` profiles (indented under profiles:), then `top` sections."""
    path = tmp_path / "vendors.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            profiles:
              intel-sep:
                kernel: cloud-amd64
                qemu: qemu-system-x86_64
                cpu: Skylake-Client
                expect: {vendor: GenuineIntel, kernel_bits: 64}
            """
        )
        + textwrap.indent(textwrap.dedent(extra), "  ")
        + textwrap.dedent(top)
    )
    return path


# -- configuration -----------------------------------------------------------------------------


def test_real_machine_profile(tmp_path: Path) -> None:
    path = vendors(
        tmp_path,
        f"""\
          box:
            kind: ssh
            host: 192.0.2.7
            port: 2200
            user: lab
            key: keys/box
            host_key: "{HOST_KEY}"
            tags: [silicon]
        """,
    )
    box = load_profiles(path)["box"]
    assert box.is_remote and box.kind == "ssh" and box.transport == "ssh"
    assert box.ssh == SshTarget("192.0.2.7", 2200, "lab", tmp_path / "keys" / "box", HOST_KEY)
    assert box.ssh.where == "lab@192.0.2.7:2200"
    assert box.expect.vendor == "" and box.expect.kernel_bits == 0  # the machine says
    assert box.source == "vendors.yaml:7" and box.workdir == "/tmp"
    assert not load_profiles(path)["intel-sep"].is_remote


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("host: h\n    user: u\n    key: k\n", "'host_key' is a required property"),
        (f'host: h\n    user: u\n    key: k\n    host_key: "{HOST_KEY}"\n    cpu: x\n', "'cpu'"),
        ('host: h\n    user: u\n    key: k\n    host_key: "ssh-dss AAAA"\n', "does not match"),
    ],
)
def test_real_machine_profile_errors_name_the_line(tmp_path: Path, body: str, says: str) -> None:
    path = vendors(tmp_path, "box:\n  kind: ssh\n  " + body.replace("\n    ", "\n  "))
    with pytest.raises((ConfigError, ConfigErrors)) as exc:
        load_profiles(path)
    assert says in str(exc.value) and "vendors.yaml:" in str(exc.value)


def test_transport_field_is_validated(tmp_path: Path) -> None:
    path = vendors(tmp_path, "")
    text = path.read_text().replace(
        "cpu: Skylake-Client", "cpu: Skylake-Client\n    transport: ssh"
    )
    path.write_text(text)
    assert load_profiles(path)["intel-sep"].transport == "ssh"
    path.write_text(text.replace("transport: ssh", "transport: telnet"))
    with pytest.raises(ConfigError) as exc:
        load_profiles(path)
    assert "vendors.yaml:6" in str(exc.value) and "telnet" in str(exc.value)


def test_lab_hosts_section(tmp_path: Path) -> None:
    path = vendors(
        tmp_path,
        "",
        f"""\
        hosts:
          big:
            host: big.example
            user: lab
            key: ~/.ssh/lab
            host_key: "{HOST_KEY}"
            path: /srv/entrylab
            jobs: 8
        """,
    )
    big = load_hosts(path)["big"]
    assert big.python == "/srv/entrylab/.venv/bin/python" and big.jobs == 8
    assert big.ssh.port == 22 and big.ssh.key == Path.home() / ".ssh" / "lab"
    assert parse_hosts(["big"], {"big": big}) == [big]
    with pytest.raises(LabError, match=r"not a lab host of vendors\.yaml"):
        parse_hosts(["small"], {"big": big})
    with pytest.raises(LabError, match="port must be a number"):
        parse_hosts(["lab@x:ssh"], {})


def test_ad_hoc_lab_host_needs_a_known_host_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(LabError, match=r"not in ~/\.ssh/known_hosts"):
        parse_hosts(["lab@192.0.2.9:2222"], {})
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text(f"[192.0.2.9]:2222 {HOST_KEY}\n")
    (host,) = parse_hosts(["lab@192.0.2.9:2222"], {})
    assert (
        host.ssh.where == "lab@192.0.2.9:2222" and host.ssh.host_key == HOST_KEY.rsplit(" ", 1)[0]
    )
    assert host.path == "~/entrylab"


# -- keys --------------------------------------------------------------------------------------


def test_fingerprint_is_what_ssh_keygen_prints() -> None:
    expected = (DATA / "example_host_key.fingerprint").read_text().strip()
    assert fingerprint(public_key(HOST_KEY)) == expected


def test_client_key_is_private_and_made_once(tmp_path: Path) -> None:
    key, public = client_key(tmp_path)
    assert stat.S_IMODE((tmp_path / "client_key").stat().st_mode) == 0o600
    assert public.startswith("ssh-ed25519 ") and public_key(public).asbytes() == key.asbytes()
    again, _ = client_key(tmp_path)
    assert again.asbytes() == key.asbytes()


def test_connect_errors_say_what_and_where() -> None:
    target = SshTarget("127.0.0.1", 2222, "root", Path("k"), HOST_KEY)
    wrong = public_key(HOST_KEY)
    refused = paramiko.ssh_exception.NoValidConnectionsError(
        {("127.0.0.1", 2222): ConnectionRefusedError(111, "Connection refused")}
    )
    assert connect_error(refused, target, 5) == "SSH to root@127.0.0.1:2222: connection refused"
    bad = paramiko.BadHostKeyException("h", wrong, wrong)
    assert "not the pinned SHA256:" in connect_error(bad, target, 5)
    assert "timed out after 5 s" in connect_error(TimeoutError(), target, 5)
    denied = connect_error(paramiko.AuthenticationException("no"), target, 5)
    assert "refused the lab's key for root" in denied


# -- transport choice, spreading over lab hosts ------------------------------------------------


def _profile(name: str, **kw: object) -> Profile:
    base = load_profiles(Path(__file__).resolve().parent.parent.parent / "vendors.yaml")
    return Profile(**{**base["intel-sep"].__dict__, "name": name, **kw})  # type: ignore[arg-type]


def _images(ssh: dict[str, SshPart], why: str = "") -> ImageSet:
    return ImageSet(Path("i"), {}, {}, {}, ssh, why)


def test_transport_choice() -> None:
    part = SshPart("cloud-amd64", Path("c"), HOST_KEY, ("virtio",))
    p = _profile("p")
    plan = RunPlan([p], [], transport=None)
    assert choose_transport(plan, p, _images({"cloud-amd64": part})) == (Transport.SSH, part)
    assert choose_transport(plan, p, _images({}, "no pins"))[0] is Transport.CONSOLE
    console = _profile("c", transport="console")
    assert choose_transport(plan, console, _images({"cloud-amd64": part}))[0] is Transport.CONSOLE
    forced = RunPlan([p], [], transport=Transport.SSH)
    assert choose_transport(forced, p, _images({}, "no pins")) == (Transport.SSH, "no pins")


def _cell(profile: Profile) -> Cell:
    kind = TargetKind.MACHINE if profile.is_remote else TargetKind.QEMU
    return Cell(profile, kind, Transport.CONSOLE, ())


def test_spread_round_robin_real_machines_stay_here() -> None:
    hosts = (
        LabHost("a", SshTarget("a", 22, "u", Path("k"), HOST_KEY), "/p", "py"),
        LabHost("b", SshTarget("b", 22, "u", Path("k"), HOST_KEY), "/p", "py"),
    )
    cells = [_cell(_profile(f"p{i}")) for i in range(4)]
    box = _cell(_profile("box", kind="ssh"))
    shares = spread([*cells, box], hosts)
    assert [c.profile.name for c in shares[""]] == ["p0", "p3", "box"]
    assert [c.profile.name for c in shares["a"]] == ["p1"]
    assert [c.profile.name for c in shares["b"]] == ["p2"]
    assert spread(cells, ()) == {"": cells}


def test_cli_run_and_nightly_take_transport_and_hosts() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["run", "--transport", "ssh", "--hosts", "a,b", "--hosts", "c"])
    assert args.func is cli.cmd_run and args.transport == "ssh"
    assert cli._split(args.hosts) == ["a", "b", "c"]
    assert parser.parse_args(["nightly", "--transport", "console"]).func is cli.cmd_nightly
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--transport", "telnet"])


# -- QEMU command line and the guest's READY ---------------------------------------------------


def test_networked_guest_command_line(tmp_path: Path) -> None:
    p = networked(_profile("p"))
    assert p.machine == "pc"  # microvm cannot find virtio-mmio NICs with Debian's kernels
    assert networked(_profile("q", machine="q35")).machine == "q35"
    assert net_args(p, 4022) == [
        "-netdev",
        "user,id=n0,hostfwd=tcp:127.0.0.1:4022-:22",
        "-device",
        "virtio-net-pci,netdev=n0",
    ]
    assert "virtio-net-device" in net_args(_profile("m"), 1)[3]
    assert "entrylab.net=1" in kernel_cmdline(p, "n", net=True)
    assert "entrylab.net=1" not in kernel_cmdline(p, "n")
    from lab.images.kernels import BuiltKernel

    k = BuiltKernel("k", tmp_path / "vmlinux", 64, "vmlinux", "", "", {})
    cmd = qemu_command(p, k, tmp_path / "i", "tcg", "n", tmp_path / "q", 4022)
    assert cmd[cmd.index("-M") + 1] == "pc" and "hostfwd=tcp:127.0.0.1:4022-:22" in " ".join(cmd)
    assert "-netdev" not in qemu_command(p, k, tmp_path / "i", "tcg", "n", tmp_path / "q")


def test_ready_line_of_a_networked_guest() -> None:
    body = (DATA / "ready-i386-int80-net.txt").read_text().strip().removeprefix("READY ")
    ident = GuestIdentity.parse(body)
    assert ident.raw["ssh"] is True and ident.raw["ssh_error"] == ""
    assert ident.machine == "i686" and ident.vendor == "GenuineIntel"


def test_agent_info_of_a_real_machine_and_open_expectations() -> None:
    """`agent info` on this lab's x86_64 host (an AMD EPYC VM), captured; a real machine's
    profile may leave vendor and bitness open."""
    ident = GuestIdentity.parse((DATA / "agent-info-amd-epyc-host.json").read_text())
    assert ident.vendor == "AuthenticAMD" and ident.kernel_bits == 64
    assert "ssh" not in ident.raw  # not a networked guest: no SSH fields
    box = _profile("box", kind="ssh")
    open_box = Profile(**{**box.__dict__, "expect": type(box.expect)("", 0)})
    assert ident.mismatches(open_box) == []
    assert "profile expects 'GenuineIntel'" in ident.mismatches(box)[0]


# -- the SSH part of the image builder ---------------------------------------------------------


def _newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """name -> (mode, data) of a newc cpio (what the kernel unpacks)."""
    out, pos = {}, 0
    while True:
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110 : pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[pos : pos + size])
        pos = (pos + size + 3) & ~3


def test_guest_host_key_is_dropbear_format_and_pinned(tmp_path: Path) -> None:
    images = Images(tmp_path)
    with images.artefacts() as artefacts:
        cpio, public = host_key("686", images.build_dir, artefacts)
    mode, blob = _newc(cpio.read_bytes())[GUEST_HOST_KEY]
    assert stat.S_IMODE(mode) == 0o600 and stat.S_IMODE(cpio.stat().st_mode) == 0o600
    raw = public_key(public).asbytes()  # string "ssh-ed25519", string pub
    assert blob.startswith(ssh_string(b"ssh-ed25519") + (64).to_bytes(4, "big"))
    assert blob[-32:] == raw[-32:], "dropbear's key holds seed || public"
    assert (tmp_path / "images" / "build" / "ssh" / "686" / "host_key.pub").read_text() == (
        public + "\n"
    )
    with images.artefacts() as artefacts:
        _, same = host_key("686", images.build_dir, artefacts)
    assert same == public, "made once, then kept: the pin does not move on rebuilds"
    assert json.dumps(images.manifest()["artefacts"]["ssh/host-key/686"])  # in the manifest


def test_module_depends_reads_modinfo(tmp_path: Path) -> None:
    """A minimal ELF with a .modinfo section, as kbuild writes it."""
    modinfo = b"license=GPL\0depends=virtio,virtio_ring\0name=virtio_net\0"
    assert module_depends(_elf_with_section(".modinfo", modinfo)) == ["virtio", "virtio_ring"]
    assert module_depends(_elf_with_section(".modinfo", b"depends=\0")) == []
    with pytest.raises(LabError, match="not a kernel module"):
        module_depends(b"not an elf")


def _elf_with_section(name: str, data: bytes) -> bytes:
    """ELF32 header + one named section + .shstrtab (enough for pyelftools)."""
    import struct

    shstr = b"\0" + name.encode() + b"\0.shstrtab\0"
    data_off = 52
    shstr_off = data_off + len(data)
    sh_off = (shstr_off + len(shstr) + 3) & ~3
    header = b"\x7fELF\x01\x01\x01" + b"\0" * 9
    header += struct.pack("<HHIIIIIHHHHHH", 1, 3, 1, 0, 0, sh_off, 0, 52, 0, 0, 40, 3, 2)
    body = header + data + shstr
    body += b"\0" * (sh_off - len(body))
    null = b"\0" * 40
    sec = struct.pack("<IIIIIIIIII", 1, 1, 0, 0, data_off, len(data), 0, 0, 1, 0)
    strtab = struct.pack("<IIIIIIIIII", 2 + len(name), 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    return body + null + sec + strtab


def test_checkout_files_skip_builds_and_reports(root: Path) -> None:
    files = checkout_files(root)
    assert (
        "lab/engine/hosts.py" in files and "vendors.yaml" in files and "images/lock.yaml" in files
    )
    assert not [f for f in files if f.startswith(("images/build/", "reports/", ".git/"))]


def test_a_connection_closed_before_the_banner_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """QEMU's user network accepts on the forwarded port before the guest's server listens:
    the first tries end in EOF (seen once per nightly under -icount); later ones succeed."""
    from lab.targets import ssh

    tries: list[int] = []

    def fake_connect(self: paramiko.SSHClient, *args: object, **kw: object) -> None:
        tries.append(1)
        if len(tries) < 3:
            raise EOFError()

    monkeypatch.setattr(paramiko.SSHClient, "connect", fake_connect)
    monkeypatch.setattr(ssh, "CONNECT_RETRY_S", 0.01)
    monkeypatch.setattr(ssh, "pin_host_key", lambda client, target: None)
    target = SshTarget("127.0.0.1", 2222, "root", Path("/dev/null"), "")
    key, _ = client_key(tmp_path)
    ssh.connect("intel-sep", target, key, timeout=5).close()
    assert len(tries) == 3

    tries.clear()
    monkeypatch.setattr(
        paramiko.SSHClient, "connect", lambda *a, **k: (_ for _ in ()).throw(EOFError())
    )
    with pytest.raises(BootError, match="intel-sep"):
        ssh.connect("intel-sep", target, key, timeout=0.05)

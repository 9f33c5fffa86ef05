"""lab kernel build's pure parts: fragments and their errors, the option check after the
merge, the cache key, the error excerpt of a failed build, and the CLI's one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.kbuild import build as kb
from lab.kbuild.fragment import (
    FragmentError,
    dot_config,
    lost_options,
    parse_fragment,
    read_fragment,
)
from lab.kbuild.make import error_excerpt, step_of
from lab.kbuild.tree import KernelTree, can_build_i386, check_tree, user_tree
from tests.conftest import lab_cli

F = Path("my.config")


def test_a_fragment_gives_its_options() -> None:
    text = (
        "# a comment\n\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=n\n"
        'CONFIG_D="ttyS0,115200"\nCONFIG_E=250\nCONFIG_F=0x1000\n# CONFIG_G is not set\n'
    )
    assert parse_fragment(text, F) == {
        "CONFIG_A": "y",
        "CONFIG_B": "m",
        "CONFIG_C": "n",
        "CONFIG_D": '"ttyS0,115200"',
        "CONFIG_E": "250",
        "CONFIG_F": "0x1000",
        "CONFIG_G": "n",
    }


@pytest.mark.parametrize(
    "line",
    ["CONFIG_A=yes", "A=y", "CONFIG_A y", 'CONFIG_A="unterminated', "export CONFIG_A=y"],
)
def test_a_line_that_is_not_an_option_is_an_error_at_its_line(line: str) -> None:
    with pytest.raises(FragmentError) as err:
        parse_fragment(f"CONFIG_OK=y\n{line}\n", F)
    assert str(err.value).startswith("my.config:2: not a kernel config line")
    assert "\n" not in str(err.value)


def test_an_unreadable_fragment_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(FragmentError, match="cannot read the config fragment"):
        read_fragment(tmp_path / "absent.config")


def test_the_lab_fragments_parse() -> None:
    for arch in kb.ARCHES.values():
        wanted, _ = kb.wanted_options(kb.lab_fragments(arch))
        assert wanted["CONFIG_PVH"] == "y" and wanted["CONFIG_BLK_DEV_INITRD"] == "y"
    x86_64, _ = kb.wanted_options(kb.lab_fragments(kb.ARCHES["x86_64"]))
    assert x86_64["CONFIG_IA32_EMULATION"] == "y"
    assert x86_64["CONFIG_IA32_EMULATION_DEFAULT_DISABLED"] == "n"


def test_options_lost_in_the_merge_are_named() -> None:
    config = dot_config('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_S="x"\n')
    wanted = {
        "CONFIG_A": "y",
        "CONFIG_B": "y",
        "CONFIG_C": "y",
        "CONFIG_S": '"x"',
        "CONFIG_ABSENT": "n",  # not in .config: off and invisible is n
        "CONFIG_GONE": "y",
    }
    assert lost_options(wanted, config) == [
        "CONFIG_B=y (is n)",
        "CONFIG_C=y (is m)",
        "CONFIG_GONE=y (is n)",
    ]


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    for name in ("Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig/merge_config.sh"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("")
    (tree / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 13\n")
    (tree / "arch/x86/Kconfig").write_text("\nconfig X86_32\n\tdef_bool y\n")
    return tree


def test_a_path_that_is_not_a_kernel_tree_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not an x86 kernel tree") as err:
        check_tree(tmp_path)
    assert "\n" not in str(err.value)


def test_a_tree_built_in_tree_is_refused(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    (tree / ".config").write_text("CONFIG_X=y\n")
    with pytest.raises(LabError, match="source tree is not clean"):
        check_tree(tree)


def test_i386_needs_x86_32_in_the_tree(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert can_build_i386(tree)
    (tree / "arch/x86/Kconfig").write_text("config X86_64\n\tdef_bool y\n")
    assert not can_build_i386(tree)
    t = KernelTree(tree, "tree:x", "0" * 64, "7.2.13")
    with pytest.raises(LabError, match="cannot build i386"):
        kb.build(t, "i386", tmp_path / "cache")


def _git(tree: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True)


def test_a_git_tree_is_identified_by_head_and_its_changes(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _git(tree, "init", "-q")
    _git(tree, "add", ".")
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    clean = user_tree(tree)
    assert clean.origin.startswith("git:") and not clean.origin.endswith("+dirty")
    assert clean.version == "7.2.13"
    assert user_tree(tree).identity == clean.identity
    (tree / "Kconfig").write_text("# edited\n")
    edited = user_tree(tree)
    assert edited.origin.endswith("+dirty") and edited.identity != clean.identity
    (tree / "new.c").write_text("int x;\n")
    assert user_tree(tree).identity not in (clean.identity, edited.identity)


def test_a_plain_tree_changes_identity_when_a_file_does(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    first = user_tree(tree)
    assert first.origin == f"tree:{tree.resolve()}"
    (tree / "Kconfig").write_text("# longer now\n")
    assert user_tree(tree).identity != first.identity


def test_the_key_changes_with_tree_config_compiler_and_arch(tmp_path: Path) -> None:
    frag = tmp_path / "user.config"
    frag.write_text("CONFIG_A=y\n")
    tree = KernelTree(tmp_path, "git:abc", "1" * 64, "7.2.13")
    x86_64 = kb.ARCHES["x86_64"]
    frags = [*kb.lab_fragments(x86_64), frag]
    base = kb.key_hash(kb.build_key(tree, x86_64, frags, "gcc 12.2.0"))
    assert kb.key_hash(kb.build_key(tree, x86_64, frags, "gcc 12.2.0")) == base
    other_tree = KernelTree(tmp_path, "git:abc+dirty", "2" * 64, "7.2.13")
    keys = {
        kb.key_hash(kb.build_key(other_tree, x86_64, frags, "gcc 12.2.0")),
        kb.key_hash(kb.build_key(tree, x86_64, frags, "gcc 13.1.0")),
        kb.key_hash(kb.build_key(tree, kb.ARCHES["i386"], frags, "gcc 12.2.0")),
        kb.key_hash(kb.build_key(tree, x86_64, frags[:2], "gcc 12.2.0")),
    }
    frag.write_text("CONFIG_A=n\n")
    keys.add(kb.key_hash(kb.build_key(tree, x86_64, frags, "gcc 12.2.0")))
    assert base not in keys and len(keys) == 5


def test_the_object_directory_is_per_tree_and_arch(tmp_path: Path) -> None:
    a = kb.obj_dir(tmp_path, Path("/src/linux"), kb.ARCHES["x86_64"])
    assert a == kb.obj_dir(tmp_path, Path("/src/linux"), kb.ARCHES["x86_64"])
    assert a != kb.obj_dir(tmp_path, Path("/src/linux"), kb.ARCHES["i386"])
    assert a != kb.obj_dir(tmp_path, Path("/home/linux"), kb.ARCHES["x86_64"])


def test_a_cached_build_needs_its_key_and_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert kb.cached_build(out, "k") is None
    (out / "manifest.json").write_text(json.dumps({"key": "k", "kernel": "vmlinux"}))
    assert kb.cached_build(out, "k") is None  # no kernel file
    (out / "vmlinux").write_bytes(b"\x7fELF")
    (out / "config").write_text("CONFIG_X=y\n")
    found = kb.cached_build(out, "k")
    assert found is not None and found.cached and found.kernel == out / "vmlinux"
    assert kb.cached_build(out, "other") is None


def test_an_unchanged_build_runs_no_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = KernelTree(_tree(tmp_path), "tree:x", "3" * 64, "7.2.13")
    monkeypatch.setattr(kb, "compiler_version", lambda: "gcc 12.2.0")
    arch = kb.ARCHES["x86_64"]
    key = kb.key_hash(kb.build_key(tree, arch, kb.lab_fragments(arch), "gcc 12.2.0"))
    out = tmp_path / "cache" / "out" / f"x86_64-{key[:20]}"
    out.mkdir(parents=True)
    (out / "vmlinux").write_bytes(b"\x7fELF")
    (out / "config").write_text("")
    (out / "manifest.json").write_text(json.dumps({"key": key, "kernel": "vmlinux"}))

    def no_make(*_a: object, **_k: object) -> None:
        raise AssertionError("make ran")

    monkeypatch.setattr(kb, "run_make", no_make)
    built = kb.build(tree, "x86_64", tmp_path / "cache")
    assert built.cached and built.kernel == out / "vmlinux"


LOG = """\
  CC      kernel/fork.o
  CC      arch/x86/entry/vdso/vdso32/system_call.o
arch/x86/entry/vdso/vdso32/system_call.S: Assembler messages:
arch/x86/entry/vdso/vdso32/system_call.S:42: Error: no such instruction: `sysenterx'
kernel/fork.c: In function 'copy_process':
kernel/fork.c:123:9: error: 'foo' undeclared (first use in this function)
kernel/fork.c:124:9: error: expected ';' before 'return'
make[4]: *** [scripts/Makefile.build:229: kernel/fork.o] Error 1
"""


def test_the_error_excerpt_is_the_first_error_lines() -> None:
    excerpt = error_excerpt(LOG)
    assert excerpt[0] == "arch/x86/entry/vdso/vdso32/system_call.S: Assembler messages:"
    assert excerpt[1].endswith("Error: no such instruction: `sysenterx'")
    assert excerpt[2] == "kernel/fork.c: In function 'copy_process':"
    assert excerpt[3].startswith("kernel/fork.c:123:9: error: 'foo' undeclared")
    assert excerpt[4].startswith("kernel/fork.c:124:9: error:")
    assert len(excerpt) == 6 and "  CC      kernel/fork.o" not in excerpt
    assert excerpt[-1].startswith("make[4]: *** ")
    assert error_excerpt("a\nb\nc\n", limit=2) == ["b", "c"]  # no error line: the last ones


def test_step_lines_feed_the_status() -> None:
    assert step_of("  CC      kernel/fork.o\n") == "CC kernel/fork.o"
    assert step_of("  LD      vmlinux") == "LD vmlinux"
    assert step_of("kernel/fork.c:1: error: x") is None


def test_cli_bad_input_is_one_line(root: Path, tmp_path: Path) -> None:
    result = lab_cli("kernel", "build", "--tree", str(tmp_path), "--arch", "x86_64", cwd=root)
    assert result.returncode == 2 and result.stderr.startswith("lab: --tree ")
    assert "not an x86 kernel tree" in result.stderr and result.stderr.count("\n") == 1
    tree = _tree(tmp_path)
    bad = tmp_path / "bad.config"
    bad.write_text("CONFIG_PVH=yes\n")
    result = lab_cli(
        "kernel", "build", "--tree", str(tree), "--arch", "x86_64", "--config", str(bad), cwd=root
    )
    assert result.returncode == 2, result.stderr
    assert f"{bad}:1: not a kernel config line" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_unknown_series_names_the_recipes(root: Path) -> None:
    result = lab_cli("kernel", "build", "--source", "9.9", "--arch", "i386", cwd=root)
    assert result.returncode == 2
    assert "--source 9.9: not a kernel series of images/recipe.yaml" in result.stderr
    assert "6.1, 6.12, 7.2, 7.3-rc" in result.stderr and result.stderr.count("\n") == 1


def _source_deb(tmp_path: Path, link: str) -> Path:
    """A linux-source-shaped .deb whose tarball has a file and a symlink to `link`."""
    import io
    import tarfile

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:xz") as tar:
        data = b"VERSION = 9\n"
        info = tarfile.TarInfo("linux-source-9.9/Makefile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        sym = tarfile.TarInfo("linux-source-9.9/scripts/dtc/include-prefixes/arm")
        sym.type, sym.linkname = tarfile.SYMTYPE, link
        tar.addfile(sym)
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: linux-source-9.9\nVersion: 9.9.1-1\nArchitecture: all\n"
        "Maintainer: t <t@t>\nDescription: t\n"
    )
    (pkg / "usr/src").mkdir(parents=True)
    (pkg / "usr/src/linux-source-9.9.tar.xz").write_bytes(inner.getvalue())
    deb = tmp_path / "t.deb"
    subprocess.run(["dpkg-deb", "-b", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


def test_the_whole_source_tree_is_unpacked_with_its_symlinks(tmp_path: Path) -> None:
    from lab.suites.kselftest.source import extract_subset

    deb = _source_deb(tmp_path, "../../../Makefile")
    out = tmp_path / "out"
    out.mkdir()
    assert sorted(extract_subset(deb, out, subset=None)) == ["Makefile"]
    link = out / "scripts/dtc/include-prefixes/arm"
    assert link.is_symlink() and link.read_text() == "VERSION = 9\n"


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../../etc/passwd"])
def test_a_symlink_out_of_the_tree_is_refused(tmp_path: Path, target: str) -> None:
    from lab.errors import ImageError
    from lab.suites.kselftest.source import extract_subset

    deb = _source_deb(tmp_path, target)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ImageError, match="symlink outside the tree"):
        extract_subset(deb, out, subset=None)

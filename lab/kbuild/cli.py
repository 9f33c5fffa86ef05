"""`lab kernel build (--tree PATH | --source SERIES) --arch {x86_64,i386} [--config FRAGMENT]
[--jobs N]`: its arguments and handler (lab/cli.py only adds the parser). Prints the built
kernel's path last, the path `lab run --kernel` takes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from lab.dirs import cache_dir, project_root
from lab.errors import LabError
from lab.images.builder import Images
from lab.images.kernels import kbuild_name
from lab.kbuild.axis import TreeKernels, tree_kernels
from lab.kbuild.build import ARCHES, KernelBuild, build
from lab.kbuild.make import Status
from lab.kbuild.source import debian_tree
from lab.kbuild.tree import KernelTree, can_build_i386, user_tree


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`lab kernel build` under the top-level subcommands."""
    kernel = sub.add_parser("kernel", help="kernels built from source")
    ksub = kernel.add_subparsers(dest="kernel_command", required=True, metavar="ACTION")
    b = ksub.add_parser(
        "build",
        help="build a kernel with the tree's own build system, out of tree, cached",
    )
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--tree", metavar="PATH", help="your kernel tree (never written to)")
    where.add_argument(
        "--source", metavar="SERIES", help="Debian's linux-source of a recipe series (7.2)"
    )
    b.add_argument("--arch", required=True, choices=list(ARCHES))
    b.add_argument("--config", metavar="FRAGMENT", help="your config fragment, merged last")
    b.add_argument("--jobs", type=int, help="make -j (default: number of cores)")
    b.set_defaults(func=cmd_kernel_build)


def kbuild_cache() -> Path:
    """Where built kernels, their object directories and unpacked sources live."""
    return cache_dir() / "kbuild"


def resolve_tree(args: argparse.Namespace, say: Status) -> KernelTree:
    """--tree or --source as a KernelTree."""
    if args.tree:
        return user_tree(Path(args.tree))
    root = Path(args.root).resolve() if args.root else project_root()
    return debian_tree(Images(root), args.source, kbuild_cache() / "src", say)


@contextmanager
def progress(console: Console) -> Iterator[Status]:
    """A rich status line with the latest build step on a terminal; nothing otherwise."""
    if not console.is_terminal:
        yield lambda _s: None
        return
    with console.status("kernel build") as line:
        yield lambda step: line.update(f"kernel build: {escape(step)}")


def cmd_kernel_build(args: argparse.Namespace) -> int:
    console = Console()

    def say(msg: str) -> None:
        console.print(escape(msg), highlight=False, soft_wrap=True)

    if args.jobs is not None and args.jobs < 1:
        raise LabError(f"--jobs {args.jobs}: must be at least 1")
    fragment = Path(args.config).expanduser().resolve() if args.config else None
    if fragment is not None and not fragment.is_file():
        raise LabError(f"--config {args.config}: no such file")
    tree = resolve_tree(args, say)
    with progress(console) as status:
        built: KernelBuild = build(
            tree, args.arch, kbuild_cache(), fragment, args.jobs, say, status
        )
    m = built.manifest
    how = "cached, nothing to do" if built.cached else f"built in {m['build_seconds']} s"
    say(f"kernel {m['release']} ({m['arch']}, {tree.origin}): {how}")
    print(built.kernel, flush=True)
    return 0


def tree_axis(
    kernels: Iterable[str], bits_needed: Iterable[int], say: Callable[[str], None]
) -> TreeKernels:
    """The tree choices of a run's kernel axis, built (cached) for the bitnesses needed."""

    def one(path: Path, arch: str) -> tuple[Path, str]:
        tree = user_tree(path)
        built = build(tree, arch, kbuild_cache(), log=say)
        how = "cached" if built.cached else f"built in {built.manifest['build_seconds']} s"
        say(f"kernel {built.manifest['release']} ({arch}, {tree.origin}): {how}")
        return built.kernel, kbuild_name(built.manifest)

    return tree_kernels(kernels, bits_needed, one, can_build_i386)

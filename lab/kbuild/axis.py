"""A kernel tree on the kernel axis: `lab run --kernels tree:~/linux,7.2` (or `--tree ~/linux`)
builds the tree for each bitness the chosen profiles need (x86_64 for 64-bit profiles, i386 for
32-bit ones) and puts its kernels beside the recipe's; each profile boots the build of its
bitness, in a cell named after the tree (intel-sep@tree-1a2b3c4d5e6f). A tree that cannot build
i386 leaves the 32-bit cells standing with their scenarios skipped and the reason, as a series
without a 686 kernel does; any other build failure stops the run with the build's error."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

TREE = "tree:"  # the prefix of a tree on --kernels
ARCH_OF_BITS = {64: "x86_64", 32: "i386"}


@dataclass(frozen=True)
class TreeKernel:
    """One bitness of a tree choice: the built kernel's path and its cell name, or why there
    is none (path "" then)."""

    name: str
    path: str = ""
    why: str = ""


TreeKernels = Mapping[str, Mapping[int, TreeKernel]]  # choice ("tree:/abs") -> bits -> kernel
# (tree path, arch) -> (the built kernel's path, its name); raises LabError
Builder = Callable[[Path, str], tuple[Path, str]]


def is_tree(choice: str) -> bool:
    return choice.startswith(TREE)


def tree_choice(spec: str) -> str:
    """A --kernels entry `tree:PATH` (or --tree's PATH) as its canonical choice, tree:/abs;
    an empty path is an error."""
    path = spec[len(TREE) :] if is_tree(spec) else spec
    if not path:
        raise LabError(f"--kernels {spec}: give the tree's path (tree:~/linux)")
    return TREE + str(Path(path).expanduser().resolve())


def with_tree(kernels: list[str], tree: str | None, kernel: str | None) -> list[str]:
    """--kernels with --tree added (its canonical tree: choice); --tree with --kernel is an
    error (one replaces each profile's kernel, so does the other)."""
    if tree is None:
        return [tree_choice(k) if is_tree(k) else k for k in kernels]
    if kernel:
        raise LabError("--tree and --kernel both name the kernel: give one (or --kernels)")
    return [*(tree_choice(k) if is_tree(k) else k for k in kernels), tree_choice(tree)]


def tree_kernels(
    choices: Iterable[str],
    bits_needed: Iterable[int],
    build: Builder,
    can_i386: Callable[[Path], bool],
) -> dict[str, dict[int, TreeKernel]]:
    """Each tree choice built for each bitness needed; an i386 build of a tree without
    X86_32 is a reason (its cells are skipped), every other failure the build's error."""
    out: dict[str, dict[int, TreeKernel]] = {}
    for choice in dict.fromkeys(c for c in choices if is_tree(c)):
        path = Path(choice[len(TREE) :])
        per_bits: dict[int, TreeKernel] = {}
        for bits in sorted(set(bits_needed), reverse=True):
            arch = ARCH_OF_BITS[bits]
            if bits == 32 and not can_i386(path):
                why = (
                    f"tree {path} cannot build i386 (its arch/x86/Kconfig has no X86_32): "
                    "no 32-bit kernel for the 32-bit profiles"
                )
                per_bits[bits] = TreeKernel(f"tree-{path.name}", why=why)
                continue
            kernel, name = build(path, arch)
            per_bits[bits] = TreeKernel(name, str(kernel))
        named = next((k.name for k in per_bits.values() if k.path), "")
        out[choice] = {b: TreeKernel(named or k.name, k.path, k.why) for b, k in per_bits.items()}
    return out


def choice_for(profile_bits: int, choice: str, trees: TreeKernels) -> tuple[str, str] | None:
    """The kernel (path, or the cell's name when it cannot exist) a profile of this bitness
    boots for a tree choice, and why not; None when the choice is not a tree."""
    per_bits = trees.get(choice)
    if per_bits is None:
        return None
    kernel = per_bits.get(profile_bits)
    if kernel is None:
        return (
            f"tree-{Path(choice[len(TREE) :]).name}",
            f"{choice} was not built for {profile_bits}-bit",
        )
    return (kernel.path, "") if kernel.path else (kernel.name, kernel.why)

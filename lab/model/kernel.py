"""Which kernel the model is predicting for: version, feature numbers, config, command line.

The entry model was written for Linux 6.1; issue 14 makes the kernel a matrix axis. A
``KernelFacts`` says which series' C rules apply (6.1, 6.12, 7.2 or 7.3, see
docs/kernel-versions.md), the X86_FEATURE_* numbers the stub's alternatives test (parsed from
that kernel's own arch/x86/include/asm/cpufeatures.h, or the defaults below, which a unit test
checks against trimmed copies of Debian's headers in tests/data/kernel-headers/), the config
options that change the entry paths, and the boot command-line words that do.

A version the model has no rules for uses the rules of the nearest known series not newer than
it (or the oldest one), and says so: ``assumed_rules`` and ``assumed_reason`` are set, so every
prediction made from it can be marked assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lab.errors import LabError

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_FEATURES",
    "KNOWN_SERIES",
    "CmdlineEffects",
    "CpuFeature",
    "KernelFacts",
    "KernelFactsError",
    "KernelVersion",
    "kernel_facts",
    "parse_cmdline",
    "parse_cpufeatures",
    "parse_kconfig",
    "parse_kernel_version",
]

# The series whose entry code was read (docs/kernel-versions.md §1): Debian 6.1.176-1,
# 6.12.117-1, 7.2.13-1, 7.3~rc7-1~exp1.
KNOWN_SERIES: tuple[tuple[int, int], ...] = ((6, 1), (6, 12), (7, 2), (7, 3))
SOURCE_PACKAGES: dict[str, str] = {
    "6.1": "linux-source-6.1 6.1.176-1",
    "6.12": "linux-source-6.12 6.12.117-1",
    "7.2": "linux-source-7.2 7.2.13-1",
    "7.3": "linux-source-7.3 7.3~rc7-1~exp1",
}

# The X86_FEATURE_* the entry model reads, per series, as cpufeatures.h defines them
# (tests/unit/test_model_kernel.py checks these against tests/data/kernel-headers/<series>/).
_ENTRY_FEATURES_6 = {
    "X86_FEATURE_SEP": 0 * 32 + 11,
    "X86_FEATURE_SYSCALL32": 3 * 32 + 14,
    "X86_FEATURE_SYSENTER32": 3 * 32 + 15,
    "X86_FEATURE_PTI": 7 * 32 + 11,
    "X86_FEATURE_XENPV": 8 * 32 + 16,
}
_ENTRY_FEATURES_7 = {
    "X86_FEATURE_SEP": 0 * 32 + 11,
    "X86_FEATURE_SYSCALL32": 3 * 32 + 14,
    "X86_FEATURE_SYSFAST32": 3 * 32 + 15,
    "X86_FEATURE_PTI": 7 * 32 + 11,
    "X86_FEATURE_XENPV": 8 * 32 + 16,
    "X86_FEATURE_FRED": 12 * 32 + 17,
}
DEFAULT_FEATURES: dict[str, dict[str, int]] = {
    "6.1": dict(_ENTRY_FEATURES_6),
    "6.12": {**_ENTRY_FEATURES_6, "X86_FEATURE_FRED": 12 * 32 + 17},
    "7.2": dict(_ENTRY_FEATURES_7),
    "7.3": dict(_ENTRY_FEATURES_7),
}
# cpuinfo names (x86_cap_flags[]) clearcpuid= accepts for the entry features, per series.
_CPUINFO_NAMES: dict[str, dict[str, str]] = {
    "6.1": {"sep": "X86_FEATURE_SEP", "pti": "X86_FEATURE_PTI"},
    "6.12": {"sep": "X86_FEATURE_SEP", "pti": "X86_FEATURE_PTI", "fred": "X86_FEATURE_FRED"},
    "7.2": {"sep": "X86_FEATURE_SEP", "pti": "X86_FEATURE_PTI", "fred": "X86_FEATURE_FRED"},
    "7.3": {"sep": "X86_FEATURE_SEP", "pti": "X86_FEATURE_PTI", "fred": "X86_FEATURE_FRED"},
}
# Debian cloud-amd64 config (docs/kernel-versions.md §1).
DEFAULT_CONFIG: dict[str, dict[str, bool]] = {
    "6.1": {
        "X86_FRED": False,
        "PAGE_TABLE_ISOLATION": True,
        "IA32_EMULATION": True,
        "IA32_EMULATION_DEFAULT_DISABLED": False,
    },
    "6.12": {
        "X86_FRED": False,
        "PAGE_TABLE_ISOLATION": True,
        "IA32_EMULATION": True,
        "IA32_EMULATION_DEFAULT_DISABLED": False,
    },
    "7.2": {
        "X86_FRED": True,
        "PAGE_TABLE_ISOLATION": True,
        "IA32_EMULATION": True,
        "IA32_EMULATION_DEFAULT_DISABLED": False,
    },
    "7.3": {
        "X86_FRED": True,
        "PAGE_TABLE_ISOLATION": True,
        "IA32_EMULATION": True,
        "IA32_EMULATION_DEFAULT_DISABLED": False,
    },
}
# 6.12 and later spell PTI MITIGATION_PAGE_TABLE_ISOLATION; both spellings are accepted.
_CONFIG_ALIASES = {"MITIGATION_PAGE_TABLE_ISOLATION": "PAGE_TABLE_ISOLATION"}


class KernelFactsError(LabError):
    """A kernel version, header or command line the model cannot read."""


@dataclass(frozen=True, order=True)
class KernelVersion:
    """``major.minor.patch`` and the -rc number (None for a release)."""

    major: int
    minor: int
    patch: int = 0
    rc: int | None = None

    @property
    def series(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        rc = f"-rc{self.rc}" if self.rc is not None else ""
        return f"{self.major}.{self.minor}.{self.patch}{rc}"


_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:[-~.+]?rc(\d+))?(?=$|[-~+._\s])")


def parse_kernel_version(text: str) -> KernelVersion:
    """Parse ``uname -r`` ("6.1.0-50-cloud-amd64", "7.3.0-rc7-cloud-amd64", "7.3-cloud-amd64")
    or a Debian package version ("6.12.117-1", "7.3~rc7-1~exp1")."""
    m = _VERSION_RE.match(text)
    if m is None:
        raise KernelFactsError(f"not a kernel version: {text!r}")
    return KernelVersion(
        int(m[1]), int(m[2]), int(m[3] or 0), int(m[4]) if m[4] is not None else None
    )


def _rules_for(version: KernelVersion) -> tuple[str, str | None, str]:
    """(rules series, assumed series or None, reason)."""
    known = [f"{a}.{b}" for a, b in KNOWN_SERIES]
    if version.series in KNOWN_SERIES:
        s = f"{version.major}.{version.minor}"
        return s, None, f"{version} is series {s}, read from {SOURCE_PACKAGES[s]}"
    older = [s for s in KNOWN_SERIES if s <= version.series]
    if older:
        a, b = older[-1]
        s = f"{a}.{b}"
        why = (
            f"no rules for {version}: using those of {s}, the newest known series "
            f"({', '.join(known)}) not newer than it; not checked against its source"
        )
    else:
        a, b = KNOWN_SERIES[0]
        s = f"{a}.{b}"
        why = (
            f"no rules for {version}: it is older than every known series ({', '.join(known)}), "
            f"so the oldest ({s}) is used; not checked against its source"
        )
    return s, s, why


@dataclass(frozen=True)
class CpuFeature:
    """One ``#define X86_FEATURE_NAME ( W*32+ B) /* comment */`` line of cpufeatures.h."""

    name: str
    number: int
    cpuinfo: str | None  # the /proc/cpuinfo name (x86_cap_flags[]), None if hidden
    line: int  # line in the original header


_DEFINE_RE = re.compile(
    r"^#define\s+(X86_FEATURE_[A-Z0-9_]+)\s+\(\s*(\d+)\s*\*\s*32\s*\+\s*(\d+)\s*\)"
    r"\s*(?:/\*(.*?)\*/)?\s*(?://\s*line\s+(\d+))?"
)
_QUOTED_RE = re.compile(r'^\s*"([^"]*)"')


def parse_cpufeatures(text: str) -> dict[str, CpuFeature]:
    """The X86_FEATURE_* defines of an arch/x86/include/asm/cpufeatures.h, by macro name.

    Only ``( W*32+ B)`` defines are read (aliases like ``X86_FEATURE_IBRS_ENHANCED`` to another
    macro and X86_BUG() are not features the stub tests). The cpuinfo name follows
    arch/x86/kernel/cpu/mkcapflags.sh: a leading ``"name"`` in the comment; ``""`` hides it; with
    no quoted name, headers that still use ``""`` (6.1 style) name the flag after the macro in
    lower case, newer ones (6.12+, every visible flag quoted) hide it. A trailing
    ``// line N`` (the trimmed test copies) gives the original line number.
    """
    lines = text.splitlines()
    old_style = any(re.search(r'/\*\s*""', ln) for ln in lines if ln.startswith("#define"))
    out: dict[str, CpuFeature] = {}
    for no, ln in enumerate(lines, 1):
        m = _DEFINE_RE.match(ln)
        if m is None:
            continue
        name, word, bit, comment, orig = m[1], int(m[2]), int(m[3]), m[4] or "", m[5]
        q = _QUOTED_RE.match(comment)
        if q is not None:
            cpuinfo: str | None = q[1] or None
        elif old_style:
            cpuinfo = name.removeprefix("X86_FEATURE_").lower()
        else:
            cpuinfo = None
        out[name] = CpuFeature(name, word * 32 + bit, cpuinfo, int(orig) if orig else no)
    if not out:
        raise KernelFactsError("no '#define X86_FEATURE_NAME ( W*32+ B)' line in the header")
    return out


@dataclass(frozen=True)
class CmdlineEffects:
    """What the boot command line changes in the entry paths (None: the word is absent)."""

    clear_features: frozenset[int] = frozenset()  # clearcpuid=, numbers resolved
    fred: bool | None = None  # fred=on / fred=off as the series reads it
    ia32_emulation: bool | None = None  # ia32_emulation=<bool> (6.12+)
    pti: bool | None = None  # pti=on/off, nopti; mitigations=off turns PTI off
    mitigations_off: bool = False
    ignored: tuple[str, ...] = ()  # words this series does not know, with why
    citations: tuple[str, ...] = ()


_TRUE = {"1", "y", "yes", "on", "true"}
_FALSE = {"0", "n", "no", "off", "false"}


def _kstrtobool(value: str) -> bool | None:
    """lib/kstrtox.c kstrtobool(): first character y/Y/1/t/T or n/N/0/f/F, or on/off."""
    v = value.lower()
    if v in _TRUE or (v[:1] in ("y", "1", "t") and v not in _FALSE):
        return True
    if v in _FALSE or v[:1] in ("n", "0", "f"):
        return False
    return None


_CLEARCPUID_LINE = {"6.1": 1607, "6.12": 1605, "7.2": 1770, "7.3": 1771}
_FRED_LINE = {"6.12": 1601, "7.2": 1766, "7.3": 1767}
_IA32_LINE = {
    "6.12": "arch/x86/entry/common.c:138-144",
    "7.2": "arch/x86/entry/syscall_32.c:61-67",
    "7.3": "arch/x86/entry/syscall_32.c:63-69",
}


def parse_cmdline(cmdline: str, rules: str, features: Mapping[str, int]) -> CmdlineEffects:
    """The entry-relevant words of a kernel command line, read the way series ``rules`` reads them.

    ``features`` (name -> number) resolves clearcpuid= names; numbers are taken as they are.
    """
    clear: set[int] = set()
    fred: bool | None = None
    ia32: bool | None = None
    pti: bool | None = None
    mit_off = False
    ignored: list[str] = []
    cites: list[str] = []
    names = {c: features[m] for c, m in _CPUINFO_NAMES.get(rules, {}).items() if m in features}
    for word in cmdline.split():
        key, _, value = word.partition("=")
        if key == "clearcpuid":
            cites.append(
                f"clearcpuid=: arch/x86/kernel/cpu/common.c:{_CLEARCPUID_LINE[rules]} "
                f"cpu_parse_early_param() ({rules}): numbers and cpuinfo names"
            )
            for item in filter(None, value.split(",")):
                if item.isdigit():
                    clear.add(int(item))
                elif item in names:
                    clear.add(names[item])
                else:
                    ignored.append(
                        f"clearcpuid item {item!r}: not an entry feature the model knows"
                    )
        elif key == "fred":
            if rules == "6.1":
                ignored.append("fred=: 6.1 has no FRED code")
                continue
            # 6.12 clears FRED unless fred=on; 7.x clears it only for fred=off.
            fred = value == "on" if rules == "6.12" else value != "off"
            cites.append(f"fred=: arch/x86/kernel/cpu/common.c:{_FRED_LINE[rules]} ({rules})")
        elif key == "ia32_emulation":
            if rules == "6.1":
                ignored.append("ia32_emulation=: not in 6.1 (__ia32_enabled is never read)")
                continue
            ia32 = _kstrtobool(value)
            cites.append(f"ia32_emulation=: {_IA32_LINE[rules]} ({rules})")
        elif key == "nopti" and not value:
            pti = False
            cites.append("nopti: arch/x86/mm/pti.c pti_parse_cmdline_nopti()")
        elif key == "pti":
            pti = {"on": True, "off": False}.get(value)
            cites.append("pti=: arch/x86/mm/pti.c pti_parse_cmdline()")
        elif key == "mitigations" and value == "off":
            mit_off = True
            cites.append("mitigations=off: pti_check_boottime_disable() (arch/x86/mm/pti.c)")
    if mit_off and pti is None:
        pti = False
    return CmdlineEffects(frozenset(clear), fred, ia32, pti, mit_off, tuple(ignored), tuple(cites))


@dataclass(frozen=True)
class KernelFacts:
    """Everything the model needs to know about the kernel under test."""

    release: str  # as given: uname -r or a Debian version
    version: KernelVersion
    rules: str  # the series whose C rules are used: "6.1", "6.12", "7.2" or "7.3"
    assumed_rules: str | None  # == rules when the version is not a known series, else None
    reason: str
    features: Mapping[str, int] = field(hash=False, compare=False)
    config: Mapping[str, bool] = field(hash=False, compare=False)
    cmdline: str = ""
    effects: CmdlineEffects = CmdlineEffects()

    @property
    def assumed(self) -> bool:
        """True when the rules are borrowed from another series."""
        return self.assumed_rules is not None

    @property
    def series7(self) -> bool:
        """Rules of 7.2 or later (SYSFAST32, FRED by default)."""
        return self.rules in ("7.2", "7.3")

    @property
    def fast_feature_name(self) -> str:
        """The synthetic bit the stub's fast-path alternative tests (D1)."""
        return "X86_FEATURE_SYSFAST32" if self.series7 else "X86_FEATURE_SYSENTER32"

    def feature(self, name: str) -> int:
        """The number of X86_FEATURE_``name`` in this kernel (KernelFactsError if it has none)."""
        try:
            return self.features[name]
        except KeyError:
            raise KernelFactsError(
                f"{self.release}: no {name} in its cpufeatures.h (rules {self.rules})"
            ) from None

    def config_on(self, name: str) -> bool:
        return bool(self.config.get(_CONFIG_ALIASES.get(name, name), False))

    @property
    def ia32_enabled(self) -> bool:
        """ia32_emulation= if given, else !IA32_EMULATION_DEFAULT_DISABLED (6.12+; 6.1 always)."""
        if not self.config_on("IA32_EMULATION"):
            return False
        if self.rules == "6.1":
            return True
        if self.effects.ia32_emulation is not None:
            return self.effects.ia32_emulation
        return not self.config_on("IA32_EMULATION_DEFAULT_DISABLED")

    def fred_enabled(self, cpu_has_fred: bool) -> bool:
        """FRED is in use: CONFIG_X86_FRED, the CPU has it, and the command line allows it.

        6.12: off unless fred=on (cpu/common.c:1601-1603); 7.x: on unless fred=off
        (:1766-1768 in 7.2). clearcpuid= of the FRED bit clears it too.
        """
        if self.rules == "6.1" or not cpu_has_fred or not self.config_on("X86_FRED"):
            return False
        fred_bit = self.features.get("X86_FEATURE_FRED")
        if fred_bit is not None and fred_bit in self.effects.clear_features:
            return False
        if self.effects.fred is not None:
            return self.effects.fred
        return self.series7

    def pti_enabled(self, cpu_flag_pti: bool) -> bool:
        """PTI as the command line leaves it; without a word, what the CPU's flags say."""
        if not self.config_on("PAGE_TABLE_ISOLATION"):
            return False
        if self.effects.pti is not None:
            return self.effects.pti
        return cpu_flag_pti

    def cite(self, where: str) -> str:
        """``where`` followed by the version it was read in (and "assumed" when borrowed)."""
        tag = f"{self.rules}, assumed for {self.version}" if self.assumed else self.rules
        return f"{where} ({tag})"


_KCONFIG_RE = re.compile(r"^(?:CONFIG_([A-Z0-9_]+)=(.*)|# CONFIG_([A-Z0-9_]+) is not set)\s*$")


def parse_kconfig(text: str) -> dict[str, bool]:
    """The entry-relevant options of a kernel .config (/boot/config-*, the linux-base package's
    config): ``CONFIG_X=y`` -> True, ``# CONFIG_X is not set`` -> False. Only the options in
    DEFAULT_CONFIG (and MITIGATION_PAGE_TABLE_ISOLATION, the 6.12+ name for PTI) are returned."""
    wanted = set(DEFAULT_CONFIG["7.3"]) | set(_CONFIG_ALIASES)
    out: dict[str, bool] = {}
    for line in text.splitlines():
        m = _KCONFIG_RE.match(line)
        if m is None:
            continue
        name = m[1] or m[3]
        if name in wanted:
            out[_CONFIG_ALIASES.get(name, name)] = m[1] is not None and m[2] in ("y", "m")
    return out


def kernel_facts(
    release: str,
    *,
    features: Mapping[str, int] | None = None,
    config: Mapping[str, bool] | None = None,
    cmdline: str = "",
) -> KernelFacts:
    """Facts for kernel ``release``; ``features`` (name -> number, e.g. from
    parse_cpufeatures() on the booted kernel's source) and ``config`` override the defaults of
    the series whose rules apply."""
    version = parse_kernel_version(release)
    rules, assumed, reason = _rules_for(version)
    if assumed is not None and features is not None:
        # The kernel's own header says which stub generation it has (D1): SYSFAST32 exists from
        # 7.2 on (of the known series), SYSENTER32 up to 6.12.
        if "X86_FEATURE_SYSFAST32" in features and rules not in ("7.2", "7.3"):
            rules = assumed = "7.2"
            reason += (
                "; but its cpufeatures.h defines X86_FEATURE_SYSFAST32, so the rules of 7.2 "
                "(the oldest known series with it) are used instead"
            )
        elif "X86_FEATURE_SYSENTER32" in features and rules in ("7.2", "7.3"):
            rules = assumed = "6.12"
            reason += (
                "; but its cpufeatures.h still defines X86_FEATURE_SYSENTER32, so the rules of "
                "6.12 (the newest known series with it) are used instead"
            )
    feats = dict(DEFAULT_FEATURES[rules]) if features is None else dict(features)
    conf = dict(DEFAULT_CONFIG[rules])
    for k, v in (config or {}).items():
        conf[_CONFIG_ALIASES.get(k, k)] = bool(v)
    effects = parse_cmdline(cmdline, rules, feats)
    return KernelFacts(release, version, rules, assumed, reason, feats, conf, cmdline, effects)

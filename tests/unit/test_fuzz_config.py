"""Hostile configuration: a corpus of nasty files and hypothesis-generated documents.

Every one must end in a ConfigError naming the file (and a line where there is one) — never
another exception, never a hang, never unbounded memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.config.profiles import load_profiles
from lab.config.scenarios import load_all
from lab.errors import ConfigError, ConfigErrors
from lab.suites import load_catalog

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nasty-yaml"


def check_located(exc: ConfigError | ConfigErrors, path: Path) -> None:
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for e in errors:
        assert str(e).startswith(str(path)), str(e)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_corpus_as_vendors_file(name: str) -> None:
    path = CORPUS / name
    with pytest.raises((ConfigError, ConfigErrors)) as exc:
        load_profiles(path)
    check_located(exc.value, path)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_corpus_as_scenario_file(name: str, tmp_path: Path, root: Path) -> None:
    (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    profiles = load_profiles(root / "vendors.yaml")
    with pytest.raises((ConfigError, ConfigErrors)) as exc:
        load_all(tmp_path, load_catalog().known(), profiles)
    check_located(exc.value, tmp_path / name)


yaml_text = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.sampled_from(
            [
                "profiles:",
                "  p:",
                "    kernel: k",
                "    cpu: EPYC",
                "    qemu: qemu-system-i386",
                "    expect: {vendor: AuthenticAMD, kernel_bits: 64}",
                "  - x",
                "&a",
                "*a",
                "{",
                "]",
                "suite: s",
                "scenarios:",
                "  s:",
                "    check: vdso-entry",
                "    timeout_s: -1",
                "\t",
                "!!binary AAAA",
                "? k",
                ": v",
                "'",
                '"',
                "%YAML 1.2",
                "---",
                "...",
            ]
        ),
        max_size=30,
    ).map("\n".join),
)


@settings(
    max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=yaml_text)
def test_generated_documents_never_escape_as_other_errors(text: str, tmp_path: Path) -> None:
    path = tmp_path / "vendors.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        profiles = load_profiles(path)
    except (ConfigError, ConfigErrors) as exc:
        check_located(exc, path)
        return
    assert all(p.name and p.expect.vendor for p in profiles.values())

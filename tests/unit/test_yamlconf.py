"""The YAML front door: every error names file, line and column; hostile input stays bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config.profiles import load_profiles
from lab.config.yamlconf import load_yaml
from lab.errors import ConfigError, ConfigErrors

GOOD_PROFILE = """\
profiles:
  p1:
    kernel: cloud-amd64
    qemu: qemu-system-x86_64
    cpu: EPYC
    expect: {vendor: AuthenticAMD, kernel_bits: 64}
"""


def write(tmp_path: Path, text: str, name: str = "vendors.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "profiles:\n  p1: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(path)
    assert str(exc.value).startswith(f"{path}:3:")
    assert "YAML syntax error" in str(exc.value)


def test_unknown_key_suggests_the_near_miss(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_PROFILE.replace("    cpu: EPYC", "    cpu: EPYC\n    kernal: x"))
    with pytest.raises(ConfigError) as exc:
        load_profiles(path)
    assert f"{path}:6:5" in str(exc.value)
    assert "unknown key 'kernal'; did you mean 'kernel'?" in str(exc.value)


def test_wrong_type_names_the_value_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_PROFILE.replace("kernel_bits: 64", "kernel_bits: sixty-four"))
    with pytest.raises(ConfigError) as exc:
        load_profiles(path)
    assert f"{path}:6:" in str(exc.value)
    assert "kernel_bits" in str(exc.value)


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    text = GOOD_PROFILE.replace("cpu: EPYC", "cpu: 'bad model!'").replace("64}", "64, x: 1}")
    with pytest.raises(ConfigErrors) as exc:
        load_profiles(write(tmp_path, text))
    assert len(exc.value.errors) == 2


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    text = GOOD_PROFILE + GOOD_PROFILE.split("\n", 1)[1]
    with pytest.raises(ConfigError) as exc:
        load_yaml(write(tmp_path, text))
    assert "duplicate key 'p1'" in str(exc.value)
    assert ":7:" in str(exc.value)


def test_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(ConfigError) as exc:
        load_yaml(write(tmp_path, laughs))
    assert "anchors and aliases" in str(exc.value)


def test_huge_documents_are_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, "x: [" + ", ".join(["1"] * 60_000) + "]\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(path)
    assert "too large" in str(exc.value)
    deep = write(tmp_path, "x: " + "[" * 100 + "]" * 100 + "\n", "deep.yaml")
    with pytest.raises(ConfigError):
        load_yaml(deep)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml(tmp_path / "nope.yaml")
    assert "file not found" in str(exc.value)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError) as exc:
        load_yaml(binary)
    assert "not UTF-8" in str(exc.value)


def test_marks_map_values_to_lines(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, GOOD_PROFILE))
    assert doc.location(("profiles", "p1", "cpu")).line == 5
    assert doc.location(("profiles", "p1", "nonexistent")).line == 2

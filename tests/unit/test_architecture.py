"""The layout's contracts, checked: the entry model is pure (it imports nothing of the lab but
lab.errors), data flows one way (config and the model never import the engine, targets or
reports), and no module of lab/ grows past ~600 lines without saying why."""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent.parent / "lab"


def lab_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lab")}
    return found


def test_the_model_imports_only_itself_and_errors() -> None:
    for path in (LAB / "model").glob("*.py"):
        outside = {m for m in lab_imports(path) if not m.startswith("lab.model")} - {"lab.errors"}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_config_does_not_depend_on_what_runs_it() -> None:
    for path in (LAB / "config").glob("*.py"):
        later = {
            m
            for m in lab_imports(path)
            if m.split(".")[1] in ("engine", "targets", "report", "suites", "images", "cli")
        }
        assert not later, f"config/{path.name} imports {sorted(later)}"


def test_the_engine_never_prints() -> None:
    for path in (LAB / "engine").glob("*.py"):
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"engine/{path.name} prints: events go to the sink"


def test_modules_stay_small() -> None:
    big = [
        (path.relative_to(LAB), n)
        for path in LAB.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 620
    ]
    assert not big, f"over ~600 lines: {big}"


def test_every_module_is_named_in_a_readme() -> None:
    top = (LAB.parent / "README.md").read_text()
    for path in LAB.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        local = path.parent / "README.md"
        text = top + (local.read_text() if local.exists() else "")
        rel = path.relative_to(LAB.parent).as_posix()
        assert f"`{path.name}`" in text or rel in text, f"{rel} is in no README"

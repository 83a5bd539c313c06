"""The engine decides, the command line shows (issue 15): nothing under reconciler/engine/
imports a renderer or the command line, or writes to the terminal itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "reconciler" / "engine"
FORBIDDEN_MODULES = ("reconciler.render", "reconciler.cli", "reconciler.commands", "click")
FORBIDDEN_NAMES = {"print", "input", "breakpoint"}
FORBIDDEN_ATTRIBUTES = {("sys", "stdout"), ("sys", "stderr"), ("sys", "stdin")}


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for module in modules:
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN_MODULES):
                found.append(f"{path.name}:{getattr(node, 'lineno', 0)}: imports {module}")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{path.name}:{getattr(node, 'lineno', 0)}: uses {node.id}()")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES
        ):
            found.append(
                f"{path.name}:{getattr(node, 'lineno', 0)}: touches {node.value.id}.{node.attr}"
            )
        if isinstance(node, ast.ImportFrom) and node.module == "sys":
            names = {a.name for a in node.names}
            if names & {"stdout", "stderr", "stdin"}:
                found.append(
                    f"{path.name}:{getattr(node, 'lineno', 0)}: imports sys.{'/'.join(sorted(names))}"
                )
    return found


MODULES = sorted(ENGINE.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_an_engine_module_neither_renders_nor_prints(path: Path) -> None:
    assert _problems(path) == []


def test_the_walk_finds_what_it_forbids(tmp_path: Path) -> None:
    """The check itself can fail: each forbidden form is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\nimport click\nfrom reconciler.render.plan import render_plan\n"
        "from reconciler import render\nfrom sys import stderr\n"
        "print('x')\nsys.stdout.write('x')\n",
        encoding="utf-8",
    )
    problems = _problems(bad)
    lines = {int(p.split(":")[1]) for p in problems}
    assert lines == {2, 3, 4, 5, 6, 7}, problems
    assert len(MODULES) > 20  # the walk sees the engine's modules

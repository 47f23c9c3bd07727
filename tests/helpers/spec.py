"""build.spec read without building it: its named assignments, for the tests that guard what ships."""

from __future__ import annotations

import ast
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "build.spec"


def spec_value(name: str) -> ast.expr:
    """The expression first assigned to ``name`` at the top of build.spec."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
    raise AssertionError(f"{name} not assigned in build.spec")


def spec_list(name: str) -> list[str]:
    """``name``'s value, a literal list."""
    return list(ast.literal_eval(spec_value(name)))


def spec_excludes_literal() -> list[str]:
    """The literal list that ``EXCLUDES = [...] + [f"PySide6.{m}" ...]`` starts with (the
    ``UNREACHED`` list joins it in a statement of its own)."""
    first = spec_value("EXCLUDES")
    while isinstance(first, ast.BinOp):
        first = first.left
    return list(ast.literal_eval(first))

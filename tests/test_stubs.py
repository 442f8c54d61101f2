"""The generated .pyi stubs (tools/generate_stubs.py) match the live op table."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tapegrad.ops import FUNCTIONS, METHODS

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ".venv/bin/python tools/generate_stubs.py"


def _fresh_stubs() -> dict[str, str]:
    # A fresh interpreter: what this test session imported or registered must not leak in.
    completed = subprocess.run([sys.executable, str(ROOT / "tools" / "generate_stubs.py"),
                                "--stdout"], capture_output=True, text=True, cwd=ROOT,
                               check=True)
    return json.loads(completed.stdout)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_stubs_are_up_to_date():
    stale = []
    for path, text in _fresh_stubs().items():
        committed = ROOT / path
        if not committed.exists() or committed.read_text() != text:
            stale.append(path)
    assert not stale, f"stale stubs {stale}: regenerate with `{COMMAND}`"


def test_every_generated_method_is_in_the_tensor_stub():
    tree = ast.parse((ROOT / "src/tapegrad/_tensor.pyi").read_text())
    tensor = next(node for node in tree.body
                  if isinstance(node, ast.ClassDef) and node.name == "Tensor")
    declared = {node.name for node in tensor.body if isinstance(node, ast.FunctionDef)}
    missing = sorted(set(METHODS) - declared)
    assert not missing, f"Tensor stub lacks {missing}: regenerate with `{COMMAND}`"


def test_every_generated_function_is_in_the_namespace_stub():
    tree = ast.parse((ROOT / "src/tapegrad/__init__.pyi").read_text())
    missing = sorted(set(FUNCTIONS) - _top_level_names(tree))
    assert not missing, f"tapegrad stub lacks {missing}: regenerate with `{COMMAND}`"

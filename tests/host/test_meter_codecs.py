"""The firmware meter-bus codec tests again, in CPython: one codec, the same vectors.

tests/firmware/test_cjt188.py, test_dlt645.py and test_meterbus_link.py run in MicroPython via
the firmware runner; here each of their ``test_*`` functions runs in CPython against the very
same files (``nbkit.sense.*`` from firmware/), as the host tools use them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import host_tools.meterbus  # noqa: F401  (puts firmware/ on sys.path when needed)
from host_tools import REPO_ROOT

FIRMWARE_TESTS = REPO_ROOT / "tests" / "firmware"
SHARED = ("test_cjt188", "test_dlt645", "test_meterbus_link")


def _load(name: str) -> ModuleType:
    if str(FIRMWARE_TESTS) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_TESTS))
    spec = importlib.util.spec_from_file_location(f"cpython_{name}", FIRMWARE_TESTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases() -> list[tuple[str, str]]:
    cases = []
    for name in SHARED:
        source = (FIRMWARE_TESTS / f"{name}.py").read_text()
        for line in source.splitlines():
            if line.startswith("def test_"):
                cases.append((name, line[4 : line.index("(")]))
    return cases


@pytest.mark.parametrize(("module", "test"), _cases())
def test_firmware_codec_test_passes_in_cpython(module: str, test: str) -> None:
    func: Callable[[], None] = getattr(_load(module), test)
    func()


def test_the_host_imports_the_firmware_files() -> None:
    from nbkit.sense import cjt188

    assert Path(cjt188.__file__).resolve().parent == REPO_ROOT / "firmware" / "nbkit" / "sense"

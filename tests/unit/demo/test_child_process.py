"""The demo's and benchmarks' children import the installed package, whatever folder they start in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flexvpp.child_process import python_module


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_child_started_beside_a_flexvpp_folder_imports_the_installed_package(tmp_path: Path) -> None:
    (tmp_path / "flexvpp").mkdir()  # e.g. the user's clone of this repository, ~/flexvpp
    shadowed = _run([sys.executable, "-m", "flexvpp", "--version"], tmp_path)
    assert shadowed.returncode != 0, "the folder no longer shadows the package: this test proves nothing"

    child = _run(python_module("flexvpp", "--version"), tmp_path)

    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("flexvpp ")

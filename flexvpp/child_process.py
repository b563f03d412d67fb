"""The command line that runs one of our modules in a child Python process."""

from __future__ import annotations

import sys


def python_module(module: str, *args: str) -> list[str]:
    """`python -P -m module args...` with this interpreter.

    -P keeps the working directory off sys.path: run from a folder that holds a clone of this
    repository (`~/flexvpp`) or any `flexvpp`, `vtn` or `ven` folder, a bare `-m` would import
    that folder instead of the installed package and the child would die on its first import."""
    return [sys.executable, "-P", "-m", module, *args]

"""Run in a clean venv holding one extra: can every module of these packages be imported, and is
every third-party module they import anywhere (also inside functions) installed?

    python .ci/venv_imports.py PACKAGE... [--absent-ok MODULE...]

Importing each module catches a missing dependency at module level; reading each module's
imports catches the ones a command imports only when it runs (tqdm, matplotlib, psutil, ...).
--absent-ok names top-level modules this extra leaves out on purpose. Exit 1 with one line per
problem.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

OURS = {"flexmodel", "aggregator", "vtn", "ven", "flexvpp", "oadrsign", "migrations"}


def third_party_imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS and n != "__future__"}


def check(packages: list[str], absent_ok: set[str]) -> list[str]:
    problems: list[str] = []
    for package in packages:
        root = importlib.import_module(package)
        names = [package] + [
            m.name
            for m in pkgutil.walk_packages(root.__path__, f"{package}.")
            if not m.name.endswith("__main__")
        ]
        for name in names:
            try:
                module = importlib.import_module(name)
            except Exception as exc:
                problems.append(f"import {name}: {type(exc).__name__}: {exc}")
                continue
            path = Path(module.__file__ or "")
            for dependency in sorted(third_party_imports(path.read_text())):
                if dependency not in absent_ok and importlib.util.find_spec(dependency) is None:
                    problems.append(f"{name} imports {dependency}, which this install lacks")
    return problems


def main(argv: list[str]) -> int:
    split = argv.index("--absent-ok") if "--absent-ok" in argv else len(argv)
    packages, absent_ok = argv[:split], set(argv[split + 1 :])
    problems = check(packages, absent_ok)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"every module of {', '.join(packages)} imports; every third-party import is installed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

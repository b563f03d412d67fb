"""A virtualenv with the real 3.1 peer, python-oa3-client (its BlClient and VenClient), made once and cached.

Why a venv of its own: python-oa3-client needs openadr3, whose openapi-core pins
openapi-spec-validator<0.9, jsonschema-path<0.5 and pathable<0.6, older than what our `dev` tools
(schemathesis, openapi-spec-validator 0.9) run with; installed beside them it would downgrade them.
The venv lives under ~/.cache/flexvpp (or FLEXVPP_OA3_PEER_VENV), is made by the first test
session that needs it (about 20 s, from PyPI) and reused by later ones; a file lock keeps two
xdist workers from making it at once.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import venv
from pathlib import Path

PEER_REQUIREMENT = "python-oa3-client[mqtt]==0.5.0"
MARKER = "flexvpp-peer-ready.txt"


def venv_dir() -> Path:
    configured = os.environ.get("FLEXVPP_OA3_PEER_VENV")
    if configured:
        return Path(configured)
    tag = PEER_REQUIREMENT.replace("[", "-").replace("]", "").replace("==", "-")
    return (
        Path.home() / ".cache" / "flexvpp" / f"venv-{tag}-py{sys.version_info.major}{sys.version_info.minor}"
    )


def peer_python() -> Path:
    """The venv's interpreter, the venv made first if it is not there (RuntimeError naming why not)."""
    where = venv_dir()
    python = where / "bin" / "python"
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"{where.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = where / MARKER
        if marker.exists() and marker.read_text() == PEER_REQUIREMENT and python.exists():
            return python
        venv.EnvBuilder(clear=True, with_pip=True).create(where)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", PEER_REQUIREMENT],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install {PEER_REQUIREMENT} failed:\n{result.stderr[-2000:]}")
        marker.write_text(PEER_REQUIREMENT)
    return python

"""The images' health check (HEALTHCHECK in docker/Dockerfile.*): exit 0 when healthy, else 1 and
one line saying why (`docker inspect` shows it). Standard library only: it runs in a fresh
interpreter every interval, and it is all the stand-in services of docker/compose.ci.yml need.

    healthcheck.py vtn            the VTN answers GET /api/v1/health (plain HTTP on FLEXVPP_PORT;
                                  with TLS configured it accepts connections: a health request
                                  would need a client certificate)
    healthcheck.py ven            `ven run`: the agent stored telemetry in its buffer lately;
                                  `ven simulate`: the simulators' broker accepts connections
    healthcheck.py tcp HOST:PORT  something accepts connections there
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

CONNECT_TIMEOUT_S = 3.0
# The simulated devices report every 60 s by default; five missed reports mean the agent lost them.
TELEMETRY_MAX_AGE_S = float(os.environ.get("FLEXVPP_HEALTH_TELEMETRY_MAX_AGE_S", "300"))


def accepts(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        return f"{host}:{port} refuses connections: {exc}"
    return None


def vtn() -> str | None:
    port = int(os.environ.get("FLEXVPP_PORT", "8080"))
    if os.environ.get("FLEXVPP_TLS_CERT_FILE"):
        return accepts("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/api/v1/health"
    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as reply:
            reply.read()
    except OSError as exc:  # HTTPError (503: the database is unreachable or unwritable) included
        return f"GET {url}: {exc}"
    return None


def option(argv: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in a command line."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def flexvpp_command() -> tuple[list[str], Path]:
    """The container's `flexvpp ven ...` process: its arguments and working directory."""
    for proc in sorted(Path("/proc").glob("[0-9]*"), key=lambda p: int(p.name)):
        try:
            argv = proc.joinpath("cmdline").read_bytes().decode().split("\0")
            cwd = proc.joinpath("cwd").resolve()
        except OSError:  # gone, or not ours
            continue
        if "ven" in argv and any(a.endswith("flexvpp") for a in argv):
            return argv, cwd
    return [], Path.cwd()


def ven() -> str | None:
    argv, cwd = flexvpp_command()
    if "simulate" in argv:
        host, _, port = (option(argv, "--broker") or "").removeprefix("mqtt://").partition(":")
        return accepts(host or "127.0.0.1", int(port or 1883))
    if "run" not in argv:
        return "no `flexvpp ven run|simulate` process in this container"
    site = option(argv, "--site") or os.environ.get("FLEXVPP_VEN_SITE_ID", "")
    buffer = Path(os.environ.get("FLEXVPP_VEN_BUFFER_PATH") or f"ven-{site}.db")
    buffer = buffer if buffer.is_absolute() else cwd / buffer
    files = [f for f in (buffer, Path(f"{buffer}-wal")) if f.exists()]
    if not files:
        return f"no telemetry buffer at {buffer} yet"
    age_s = time.time() - max(f.stat().st_mtime for f in files)
    if age_s > TELEMETRY_MAX_AGE_S:
        return f"no telemetry stored for {age_s:.0f} s (more than {TELEMETRY_MAX_AGE_S:.0f} s)"
    return None


def main(argv: list[str]) -> int:
    if argv[:1] == ["vtn"]:
        problem = vtn()
    elif argv[:1] == ["ven"]:
        problem = ven()
    elif argv[:1] == ["tcp"] and len(argv) == 2:
        host, _, port = argv[1].rpartition(":")
        problem = accepts(host, int(port))
    else:
        problem = f"usage: {Path(sys.argv[0]).name} vtn | ven | tcp HOST:PORT"
    print(problem or "healthy")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

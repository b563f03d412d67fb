"""Run `flexvpp vtn serve` as a real subprocess, and talk to its REST API, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from cli_in_process import CliResult, run_flexvpp
from openleadr import OpenADRClient

T = TypeVar("T")
_RESPONSE_CODE = re.compile(r"responseCode>(\d+)<")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flexvpp(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """A command line other than the server's, in this process (tests/cli_in_process.py)."""
    return run_flexvpp(*args, env=env)


def create_operator_token(db_url: str) -> str:
    """`flexvpp token create --role operator`; the token is alone on the last line."""
    result = flexvpp("token", "create", "--role", "operator", "--name", "e2e", "--db", db_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("fvp_") and " " not in token
    return token


class VtnProcess:
    """`flexvpp vtn serve --db URL --port P --migrate` with its output in a log file."""

    def __init__(self, db_url: str, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.db_url = db_url
        self.port = port
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openadr_url(self) -> str:
        return f"{self.base_url}/OpenADR2/Simple/2.0b"

    async def start(self, timeout_s: float = 60) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start #{self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flexvpp",
                "-v",
                "vtn",
                "serve",
                "--db",
                self.db_url,
                "--port",
                str(self.port),
                "--migrate",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        log.close()
        await self._wait_healthy(timeout_s)

    async def _wait_healthy(self, timeout_s: float) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"vtn serve exited with {self.process.returncode}:\n{self.log()}")
                try:
                    async with session.get(f"{self.base_url}/api/v1/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"vtn serve did not answer /api/v1/health in {timeout_s}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or power loss."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:]


class RestApi:
    """The operator REST API of a running VTN."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base = f"{base_url}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        async with self.session.request(method, self.base + path, headers=self.headers, **kwargs) as resp:
            body = await resp.json()
            assert resp.status == expect, f"{method} {path}: {resp.status} {body}"
            return body


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str, timeout_s: float = 60
) -> T:
    """Probe until `accept` holds; fail naming `what` and the last value seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    value = await probe()
    while not accept(value):
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last seen: {value!r}")
        await asyncio.sleep(0.25)
        value = await probe()
    return value


@dataclass
class Ven:
    """An unmodified openleadr client plus what its callbacks saw."""

    client: OpenADRClient
    ven_id: str
    events: list[dict[str, Any]] = field(default_factory=list)  # every on_event / on_update_event call
    sent: list[str] = field(default_factory=list)  # every XML message the client sent
    received: list[str] = field(default_factory=list)  # every XML answer the client received
    reported: list[float] = field(default_factory=list)  # every value its report callback produced

    def sent_count(self, message_type: str) -> int:
        return sum(f"<oadr:{message_type} " in xml or f"<oadr:{message_type}>" in xml for xml in self.sent)

    def error_codes(self) -> list[str]:
        """Every OpenADR responseCode other than 200 in what the VTN sent the client."""
        return [code for xml in self.received for code in _RESPONSE_CODE.findall(xml) if code != "200"]

    def seen(self, event_id: str) -> list[tuple[int, str]]:
        """(modificationNumber, eventStatus) of each delivery of `event_id` to a handler."""
        return [
            (e["event_descriptor"]["modification_number"], e["event_descriptor"]["event_status"])
            for e in self.events
            if e["event_descriptor"]["event_id"] == event_id
        ]


def event_body(ven_id: str, start: datetime | None = None) -> dict[str, Any]:
    start = start or (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    return {
        "ven_ids": [ven_id],
        "signal_name": "SIMPLE",
        "signal_type": "level",
        "intervals": [
            {"start": start.isoformat(), "duration_seconds": 900, "value": 1},
            {"start": (start + timedelta(seconds=900)).isoformat(), "duration_seconds": 900, "value": 2},
        ],
        "priority": 1,
    }

"""The agent's side of the device tests: a DeviceRouter with adapters and the agent's registry."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from ven.agent.registry import DeviceRegistry, DeviceView
from ven.agent.runner import HomeAgent
from ven.clock import Clock, WallClock
from ven.devices.bus import DeviceAdapter, DeviceRouter
from ven.devices.ocpp_central import OcppCentralSystem
from ven.messages import SetCommand, TopicKind, dumps, topic
from ven.settings import AgentSettings


async def until(predicate: Any, timeout_s: float = 5.0, what: str = "condition") -> Any:
    """Poll `predicate` (the bound only stops a hang; speed is not what is tested)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def charger_and_pv_settings(tmp_path: Path, pv_port: int, *, poll_s: float, **settings: Any) -> AgentSettings:
    """An agent without MQTT: an OCPP central system on a free port and the SunSpec PV inverter
    `pv-1` at 127.0.0.1:`pv_port`, a 1 kW export limit (`settings`: vtn_url, names and more)."""
    return AgentSettings(
        devices=[
            {"kind": "ocpp", "listen": "127.0.0.1:0"},
            {"kind": "sunspec", "address": f"127.0.0.1:{pv_port}/1", "device_id": "pv-1", "poll_s": poll_s},
        ],
        export_limit_kw=1.0,
        dispatch_period_s=0.5,
        command_ttl_s=30,
        buffer_path=tmp_path / "buffer.db",
        discovery_wait_s=0,
        **settings,
    )


def ocpp_adapter(agent: HomeAgent) -> OcppCentralSystem:
    assert isinstance(agent.bus, DeviceRouter)
    return next(a for a in agent.bus.adapters if isinstance(a, OcppCentralSystem))


class AgentSide:
    """What the agent sees through the router, and a way to send it `set` commands."""

    def __init__(self, adapters: list[DeviceAdapter], clock: Clock | None = None) -> None:
        self.site = f"dev-{uuid.uuid4().hex[:8]}"
        self.clock = clock or WallClock()
        self.router = DeviceRouter(self.site, None, adapters)
        self.registry = DeviceRegistry(self.site)
        self.router.subscribe(f"flexvpp/{self.site}/+/+", self.registry.handle)

    async def __aenter__(self) -> AgentSide:
        await self.router.open()
        self.router.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.router.stop()
        await self.router.close()

    def device(self, device_id: str) -> DeviceView | None:
        return self.registry.snapshot(self.clock.now()).devices.get(device_id)

    def send(self, device_id: str, ttl_s: float = 60.0, **control: Any) -> str:
        now = self.clock.now()
        command = SetCommand.model_validate(
            {"command_id": uuid.uuid4().hex, "ts": now, "valid_until": now + ttl_s, **control}
        )
        self.router.publish(topic(self.site, device_id, TopicKind.SET), dumps(command))
        return command.command_id

    async def ack(self, command_id: str) -> Any:
        return await until(lambda: self.registry.acks.get(command_id), what=f"the ack of {command_id}")

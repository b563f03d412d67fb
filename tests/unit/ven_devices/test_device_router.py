"""The DeviceRouter: adapters' messages reach the agent as MQTT ones would; `set` goes to its owner."""

from __future__ import annotations

from ven.device_bus import FakeBroker, FakeBus
from ven.devices.bus import DeviceLink, DeviceRouter
from ven.messages import Ack, DeviceConfig, DeviceType

SITE = "router"


class Adapter:
    """An adapter with one device that records the `set` payloads it gets."""

    name = "test adapter"

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.commands: list[tuple[str, bytes]] = []
        self.link: DeviceLink | None = None

    def owns(self, device_id: str) -> bool:
        return device_id == self.device_id

    def command(self, device_id: str, payload: bytes) -> None:
        self.commands.append((device_id, payload))

    async def open(self, link: DeviceLink) -> None:
        self.link = link
        link.config(DeviceConfig(device_id=self.device_id, device_type=DeviceType.BATTERY))
        link.state(self.device_id, {"ts": 1.0, "online": True})

    async def close(self) -> None:
        pass


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]


async def test_adapter_messages_are_delivered_retained_ones_also_later() -> None:
    adapter = Adapter("bat-1")
    router = DeviceRouter(SITE, None, [adapter])
    early = Inbox()
    router.subscribe(f"flexvpp/{SITE}/+/+", early)
    await router.open()
    assert early.topics() == [f"flexvpp/{SITE}/bat-1/config", f"flexvpp/{SITE}/bat-1/state"]
    late = Inbox()
    router.subscribe(f"flexvpp/{SITE}/+/config", late)  # retained: replayed on subscribe
    assert late.topics() == [f"flexvpp/{SITE}/bat-1/config"]
    assert adapter.link is not None
    adapter.link.telemetry("bat-1", 2.0, [("power", "W", 100.0)])
    adapter.link.ack("bat-1", Ack(command_id="c1", accepted=True))
    assert early.topics()[2:] == [f"flexvpp/{SITE}/bat-1/telemetry", f"flexvpp/{SITE}/bat-1/ack"]
    adapter.link.remove("bat-1")  # gone: the retained config is cleared
    again = Inbox()
    router.subscribe(f"flexvpp/{SITE}/+/+", again)
    assert again.messages == []


async def test_set_goes_to_the_owning_adapter_everything_else_to_mqtt() -> None:
    broker = FakeBroker()
    adapter = Adapter("bat-1")
    router = DeviceRouter(SITE, FakeBus(broker), [adapter])
    hooks: list[str] = []
    router.on_connect(lambda: hooks.append("connected"))
    await router.open()
    router.start()
    assert hooks == ["connected"] and router.connected
    router.publish(f"flexvpp/{SITE}/bat-1/set", '{"x": 1}')
    router.publish(f"flexvpp/{SITE}/evse-1/set", '{"y": 2}')
    router.publish(f"flexvpp/{SITE}/agent/status", '{"online": true}', retain=True)
    assert adapter.commands == [("bat-1", b'{"x": 1}')]
    assert [t for t, _, _ in broker.log] == [f"flexvpp/{SITE}/evse-1/set", f"flexvpp/{SITE}/agent/status"]
    # MQTT devices reach the same subscribers
    inbox = Inbox()
    router.subscribe(f"flexvpp/{SITE}/+/+", inbox)
    broker.route(f"flexvpp/{SITE}/meter-1/telemetry", "[]", retain=False)
    assert f"flexvpp/{SITE}/meter-1/telemetry" in inbox.topics()
    assert f"flexvpp/{SITE}/bat-1/config" in inbox.topics()


async def test_without_mqtt_the_router_is_connected_once_started_and_drops_agent_topics() -> None:
    router = DeviceRouter(SITE, None, [])
    hooks: list[str] = []
    router.on_connect(lambda: hooks.append("connected"))
    assert not router.connected
    router.start()
    assert router.connected and hooks == ["connected"]
    router.publish(f"flexvpp/{SITE}/agent/status", "{}")  # nowhere to go, no error
    router.stop()
    assert not router.connected


def test_a_failing_handler_does_not_stop_delivery() -> None:
    router = DeviceRouter(SITE, None, [])
    inbox = Inbox()

    def broken(_t: str, _p: bytes) -> None:
        raise RuntimeError("boom")

    router.subscribe("flexvpp/#", broken)
    router.subscribe("flexvpp/#", inbox)
    router.deliver(f"flexvpp/{SITE}/x/telemetry", "[]", retain=False)
    assert inbox.topics() == [f"flexvpp/{SITE}/x/telemetry"]

"""`flexvpp ven simulate`: run one simulated home on a broker until interrupted."""

from __future__ import annotations

import logging
import signal
import threading

from ven.clock import AcceleratedClock, Clock
from ven.device_bus import BrokerAddress, MqttBus
from ven.simulators.home import HomeSpec, SimulatedHome

log = logging.getLogger(__name__)


def mqtt_home(spec: HomeSpec, broker: BrokerAddress, clock: Clock) -> SimulatedHome:
    return SimulatedHome(
        spec, clock, lambda device_id: MqttBus(broker, client_id=f"sim-{spec.site_id}-{device_id}")
    )


def simulate(spec: HomeSpec, broker_url: str, speed: float, stop: threading.Event | None = None) -> int:
    broker = BrokerAddress.parse(broker_url)
    clock = AcceleratedClock(speed)
    home = mqtt_home(spec, broker, clock)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    home.start()
    log.info(
        "simulated home %s on %s:%d with %s at %gx",
        spec.site_id,
        broker.host,
        broker.port,
        ", ".join(home.devices),
        speed,
    )
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        home.stop()
    return 0

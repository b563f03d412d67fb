"""The home's devices behind the agent's one device interface (the `DeviceBus`).

Each protocol adapter (OCPP 1.6J chargers, Modbus TCP SunSpec inverters and batteries) shows
its devices exactly as an MQTT device would (../shared/spec/mqtt-devices.md): a retained
`config`, SenML `telemetry`, a retained `state`, and it executes `set` commands and answers
`ack`. `bus.DeviceRouter` joins them with the MQTT bus, so the agent's policy, safety clip and
reporting see one kind of device whatever it speaks.
"""

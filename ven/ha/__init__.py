"""Home Assistant MQTT discovery (docs/devices.md)."""

"""The home agent (VEN): OpenADR 2.0b client, MQTT device bus, device simulators. Imports flexmodel only."""

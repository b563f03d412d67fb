"""The pure domain: devices, tariffs, scenarios, planners. No I/O, no DB, no HTTP."""

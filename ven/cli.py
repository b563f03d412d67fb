"""Subcommands `ven run` and `ven simulate`. Standard library only at import."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    ven = subparsers.add_parser(
        "ven",
        help="the home agent (VEN) and device simulators",
        description="The home agent (OpenADR 2.0b VEN + MQTT device bus).",
    )
    ven_sub = ven.add_subparsers(dest="ven_command", metavar="COMMAND", required=True)

    run = ven_sub.add_parser(
        "run",
        help="run the home agent",
        description="Register with the VTN, find the home's devices (MQTT devices on --broker, OCPP "
        "chargers on --ocpp-listen, S2 resource managers on --s2-listen, SunSpec devices at --sunspec; "
        "with none of these, the [ven] devices of --config or the MQTT broker at 127.0.0.1:1883), report "
        "telemetry and flexibility, and turn events into device commands. Device options on the command "
        "line replace the configured device list.",
    )
    run.add_argument("--vtn-url", required=True, metavar="URL", help="the VTN's OpenADR base URL")
    run.add_argument("--ven-name", required=True, metavar="NAME", help="this VEN's name at the VTN")
    run.add_argument("--site", dest="site_id", required=True, metavar="ID", help="the site id (topic prefix)")
    run.add_argument("--broker", metavar="URL", help="MQTT broker of the MQTT devices, mqtt://host[:port]")
    run.add_argument(
        "--ocpp-listen",
        metavar="HOST:PORT",
        help="serve OCPP 1.6J chargers at ws://HOST:PORT/{chargePointId} (subprotocol ocpp1.6)",
    )
    run.add_argument(
        "--s2-listen",
        metavar="HOST:PORT",
        help="serve the S2 CEM for resource managers at ws://HOST:PORT/ (each RM is a device named by its "
        "resource id)",
    )
    run.add_argument(
        "--sunspec",
        action="append",
        metavar="HOST:PORT[/UNIT]",
        help="poll a Modbus TCP SunSpec inverter or battery (repeatable; unit 1 by default)",
    )
    run.add_argument(
        "--home-assistant-broker",
        metavar="URL",
        help="announce the home to Home Assistant (MQTT discovery) on this broker, mqtt://host[:port] "
        "(default: the MQTT devices' broker)",
    )
    run.add_argument(
        "--no-home-assistant",
        dest="home_assistant",
        action="store_false",
        default=None,
        help="do not announce the home to Home Assistant",
    )
    run.add_argument("--config", type=Path, metavar="FILE", help="agent settings file (TOML or JSON)")
    run.add_argument("--speed", type=float, default=1.0, help="clock speed (match `ven simulate --speed`)")
    run.add_argument("--tls-cert", type=Path, metavar="FILE", help="client certificate for mutual TLS (PEM)")
    run.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    run.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA of the VTN's certificate (PEM)")
    run.add_argument(
        "--sign", action="store_true", default=None, help="sign OpenADR messages with the --tls-key"
    )
    run.add_argument("--vtn-fingerprint", metavar="FP", help="accept only replies signed by this certificate")
    run.set_defaults(handler=_run)

    sim = ven_sub.add_parser(
        "simulate",
        help="run a simulated home",
        description="Run a simulated home (meter, EV charger, battery, PV inverter, heat pump, smart plug) "
        "as MQTT clients on the broker until interrupted.",
    )
    sim.add_argument("--site", dest="site_id", required=True, metavar="ID", help="the site id (topic prefix)")
    sim.add_argument("--broker", required=True, metavar="URL", help="MQTT broker, mqtt://host[:port]")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the profiles and car sessions (default 0)")
    sim.add_argument("--import-limit-kw", type=float, default=9.2, help="the connection's import limit [kW]")
    sim.add_argument("--telemetry-s", type=float, default=60.0, help="telemetry period, simulated seconds")
    sim.add_argument(
        "--plug-in-now",
        metavar="ENERGY_KWH[@HOURS]",
        help="a car on the charger at start wanting ENERGY_KWH, leaving after HOURS (default 10)",
    )
    sim.set_defaults(handler=_simulate)


def _check(args: argparse.Namespace) -> None:
    from flexmodel.usage_error import UsageError

    if getattr(args, "speed", 1.0) <= 0:
        raise UsageError(f"--speed {args.speed} must be positive")
    if not args.site_id or "/" in args.site_id or "+" in args.site_id or "#" in args.site_id:
        raise UsageError(f"--site {args.site_id!r} must be non-empty without '/', '+' or '#'")
    from ven.device_bus import BadBrokerUrl, BrokerAddress

    if args.broker is None:
        return
    try:
        BrokerAddress.parse(args.broker)
    except BadBrokerUrl as exc:
        raise UsageError(str(exc)) from None


def _device_flags(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The device sources named on the command line (None: take the configured ones)."""
    devices: list[dict[str, Any]] = []
    if args.broker is not None:
        devices.append({"kind": "mqtt", "broker_url": args.broker})
    if args.ocpp_listen is not None:
        devices.append({"kind": "ocpp", "listen": args.ocpp_listen})
    if args.s2_listen is not None:
        devices.append({"kind": "s2", "listen": args.s2_listen})
    devices += [{"kind": "sunspec", "address": address} for address in args.sunspec or []]
    return devices or None


def _simulate(args: argparse.Namespace) -> int:
    _check(args)
    from flexmodel.usage_error import UsageError

    if args.telemetry_s <= 0 or args.import_limit_kw <= 0:
        raise UsageError("--telemetry-s and --import-limit-kw must be positive")
    from ven.simulators.ev_charger import PlugIn
    from ven.simulators.home import HomeSpec
    from ven.simulators.run import simulate

    plug_in = None
    if args.plug_in_now is not None:
        try:
            plug_in = PlugIn.parse(args.plug_in_now)
        except ValueError as exc:
            raise UsageError(f"--plug-in-now: {exc}") from None
    spec = HomeSpec(
        site_id=args.site_id,
        seed=args.seed,
        import_limit_kw=args.import_limit_kw,
        telemetry_interval_s=args.telemetry_s,
        plug_in_now=plug_in,
    )
    return simulate(spec, args.broker, args.speed)


def _run(args: argparse.Namespace) -> int:
    _check(args)
    from flexmodel.usage_error import UsageError
    from ven.settings import SettingsError, load_agent_settings

    try:
        settings = load_agent_settings(
            args.config,
            vtn_url=args.vtn_url,
            ven_name=args.ven_name,
            site_id=args.site_id,
            broker_url=args.broker,
            devices=_device_flags(args),
            home_assistant=args.home_assistant,
            home_assistant_broker_url=args.home_assistant_broker,
            speed=args.speed,
            tls_cert_file=args.tls_cert,
            tls_key_file=args.tls_key,
            tls_ca_file=args.tls_ca,
            sign_messages=args.sign,
            vtn_fingerprint=args.vtn_fingerprint,
        )
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    from ven.agent.runner import run_agent
    from ven.devices.factory import DeviceSetupError

    try:
        return run_agent(settings)
    except DeviceSetupError as exc:
        raise UsageError(str(exc)) from None

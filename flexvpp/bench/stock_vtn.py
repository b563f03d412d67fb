"""The stock in-memory openleadr.OpenADRServer that `flexvpp bench vtn` compares ours with.

Run as `python -m flexvpp.bench.stock_vtn --port P`. It registers any VEN that asks (venID derived
from its venName), and its `ven_lookup` answers from the same in-memory dict, which is how
openleadr's documentation wires a server. Nothing here is used by the product.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from datetime import timedelta
from typing import Any

VTN_ID = "stock-openleadr-vtn"


def build_server(port: int, poll_seconds: int) -> Any:
    from openleadr import OpenADRServer

    vens: dict[str, dict[str, Any]] = {}

    def ven_lookup(ven_id: str) -> dict[str, Any]:
        return vens.get(ven_id, {})

    async def on_create_party_registration(payload: dict[str, Any]) -> tuple[str, str] | bool:
        name = payload.get("ven_name")
        if not name:
            return False
        ven_id = f"ven-{name}"
        info = vens.setdefault(
            ven_id,
            {"ven_id": ven_id, "ven_name": name, "fingerprint": None, "registration_id": f"reg-{name}"},
        )
        return ven_id, info["registration_id"]

    server = OpenADRServer(
        vtn_id=VTN_ID,
        http_port=port,
        http_host="127.0.0.1",
        ven_lookup=ven_lookup,
        requested_poll_freq=timedelta(seconds=poll_seconds),
    )
    server.add_handler("on_create_party_registration", on_create_party_registration)
    return server


async def serve(port: int, poll_seconds: int) -> None:
    server = build_server(port, poll_seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.run()
    await stop.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A stock openleadr OpenADRServer for benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--poll-seconds", type=int, default=10)
    args = parser.parse_args()
    # Same log level as `flexvpp vtn serve` (INFO, access log on), so both pay the same logging cost.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.port, args.poll_seconds))


if __name__ == "__main__":
    main()

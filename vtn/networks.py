"""IP addresses and networks from settings (trusted proxies). Standard library only.

Its own module because both the settings (validation) and their users (vtn/tls.py,
vtn/api/ratelimit.py) need it, and vtn/tls.py reads the settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(addresses: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks; ValueError naming the bad entry."""
    networks = []
    for address in addresses:
        try:
            networks.append(ipaddress.ip_network(address.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{address!r} is not an IP address or network") from exc
    return tuple(networks)

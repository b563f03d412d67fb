"""Failed REST authentication is rate-limited per client address (token guessing gets 429).

Every 401 (no, unknown, expired or revoked token) counts as a failure of the client's address.
An address with `auth_failure_limit` failures within `auth_failure_window_seconds` is locked out
until its oldest failure leaves the window: every request of it that fails authentication gets
429 with Retry-After instead of 401. A request with a valid token is still served: the lockout
refuses the failing credentials, not the address, so that a guesser behind the same NAT or proxy
cannot lock the operators out (issue 17's probe). That costs nothing in secrecy: a token holds
256 random bits, far beyond what any rate of guessing reaches; what the lockout buys is quiet
logs and a guesser told to go away. A successful authentication does not clear the count (a
valid token must not let a guesser reset it).
Behind a trusted proxy (settings.trusted_proxy_addresses) the client is the rightmost
X-Forwarded-For address the proxy added; otherwise the TCP peer. Counts live in memory, per
process; the number of tracked addresses is bounded.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from vtn.networks import parse_networks
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

MAX_TRACKED_ADDRESSES = 100_000
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FailedAuthLimiter:
    """Sliding-window count of failed authentications per client address."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def retry_after_s(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None if it may now."""
        failures = self._recent(address)
        if failures is None or len(failures) < self.limit:
            return None
        return failures[-self.limit] + self.window_s - self.clock()

    def record_failure(self, address: str) -> None:
        failures = self._recent(address)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self.limit)
            if len(self._failures) > MAX_TRACKED_ADDRESSES:
                self._failures.popitem(last=False)  # the address tracked longest
        failures.append(self.clock())


LIMITER = web.AppKey("failed_auth_limiter", FailedAuthLimiter)
_PROXIES = web.AppKey("rate_limit_proxies", tuple)


def install(app: web.Application, settings: VtnSettings) -> None:
    """Put the limiter (and the trusted proxies) on the REST app; add `middleware` to it too."""
    app[LIMITER] = FailedAuthLimiter(settings.auth_failure_limit, settings.auth_failure_window_seconds)
    app[_PROXIES] = parse_networks(settings.trusted_proxy_addresses)


def client_address(request: web.Request) -> str:
    peer = request.remote or "unknown"
    proxies = request.app.get(_PROXIES, ())
    forwarded = request.headers.get("X-Forwarded-For")
    if not proxies or not forwarded:
        return peer
    try:
        from_proxy = any(ipaddress.ip_address(peer) in network for network in proxies)
    except ValueError:
        return peer
    if not from_proxy:
        return peer
    return forwarded.split(",")[-1].strip() or peer


@web.middleware
async def middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    limiter = request.app.get(LIMITER)
    if limiter is None or not _secured(request):  # public routes are never refused
        return await handler(request)
    address = client_address(request)
    response = await handler(request)
    if response.status != 401:
        return response  # a valid token is served even while its address is locked out
    was_locked = limiter.retry_after_s(address) is not None
    limiter.record_failure(address)  # a guesser that goes on stays locked out
    wait_s = limiter.retry_after_s(address)
    if not was_locked:
        if wait_s is not None:
            log.warning(
                "REST authentication from %s failed %d times; refusing it for a while", address, limiter.limit
            )
        return response
    from vtn.api.middleware import error_response

    return error_response(
        429,
        "too_many_requests",
        "too many failed authentications from this address; try again later",
        headers={"Retry-After": str(max(1, math.ceil(wait_s or 1.0)))},
    )


def _secured(request: web.Request) -> bool:
    from vtn.api.endpoints import endpoint_of

    endpoint = endpoint_of(request)
    return endpoint is not None and bool(endpoint.roles)

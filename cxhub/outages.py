"""Circuit breakers for the Redis-backed services: the cache (cxhub.caching, the API
throttle) and the Celery broker (cxhub.queue).

After a failure a service is left alone for RETRY_AFTER seconds in this process, so a
Redis that stopped answering costs one request its socket timeout per window, not
every request. When the cache and the broker live on the same server (the default:
both come from REDIS_URL), an outage met by one (refused connection, timeout) also
opens the other's breaker: the request that meets a silent Redis pays one timeout,
not one per service. Other errors (a value that does not pickle, say) only open the
breaker of the service that raised them.
"""

import functools
import time
from urllib.parse import urlsplit

import redis.exceptions
from kombu.exceptions import OperationalError

RETRY_AFTER = 30.0
# What a server that is down, unreachable or silent raises (redis-py's own connection
# errors are not OSError subclasses; kombu wraps them in OperationalError).
OUTAGES = (
    OSError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,
)


class Breaker:
    """Open (skip the service) for RETRY_AFTER seconds after trip()."""

    def __init__(self) -> None:
        self._until = 0.0

    def closed(self) -> bool:
        return time.monotonic() >= self._until

    def trip(self) -> None:
        self._until = time.monotonic() + RETRY_AFTER

    def reset(self) -> None:
        self._until = 0.0


_breakers: dict[str, Breaker] = {}


@functools.lru_cache(maxsize=64)
def server_of(url: str) -> str:
    """Where a service URL points ("host:port" for redis://, rediss://, amqp://, ...),
    so that the cache's and the broker's URLs (different databases, schemes or
    passwords) name the same server."""
    first = url.split(",")[0].split(";")[0].strip()
    try:
        parts = urlsplit(first)
        host, port = parts.hostname, parts.port
    except ValueError:
        return first
    if not host:
        return first
    return f"{host.lower()}:{port or ''}"


def breaker(name: str) -> Breaker:
    """The breaker called `name` (a service, or a server as server_of() names it)."""
    found = _breakers.get(name)
    if found is None:
        found = _breakers[name] = Breaker()
    return found


def available(service: str, url: str) -> bool:
    """False while `service`'s own breaker or its server's is open."""
    return breaker(service).closed() and breaker(server_of(url)).closed()


def failed(service: str, url: str, error: BaseException) -> None:
    """Record `service`'s failure: an outage opens its server's breaker (every service
    on that server is skipped), any other error only the service's own."""
    if isinstance(error, OUTAGES):
        breaker(server_of(url)).trip()
    else:
        breaker(service).trip()


def reset() -> None:
    """Forget every past failure (tests, and after a configuration change)."""
    for found in _breakers.values():
        found.reset()

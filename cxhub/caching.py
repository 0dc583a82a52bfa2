"""Figures shared by every viewer for a short while (the home dashboard's organisation-
wide panels), kept in the cache: Redis in production, process memory elsewhere.

It also keeps fixed-window counters (`count`, `over_rate`): the API throttle's
(cxhub.api) and the public survey links' (surveys.views).

A cache that fails never fails a request: a figure is computed and served uncached,
and after a failure this process leaves the cache alone for a while (cxhub.outages:
a Redis that stopped answering costs one request its socket timeout per window, not
every request, and the broker on the same Redis is skipped too). The API throttle,
cxhub.api, goes by the same breaker.
"""

import functools
import logging
import sys
import time

from django.conf import settings
from django.core.cache import cache

from cxhub import outages

logger = logging.getLogger(__name__)

SHARED_SECONDS = 60


def _location() -> str:
    location = settings.CACHES["default"].get("LOCATION", "")
    return ",".join(location) if isinstance(location, list | tuple) else location


def available() -> bool:
    """False for a while (outages.RETRY_AFTER seconds) after a cache failure in this
    process, or after the broker met an outage of the same server."""
    return outages.available("cache", _location())


def failed(doing: str) -> None:
    """Record a cache failure (call it from the `except`): the cache is skipped for a while."""
    outages.failed("cache", _location(), sys.exc_info()[1])
    logger.warning(
        "cache unavailable (%s); skipped for %.0f s", doing, outages.RETRY_AFTER, exc_info=True
    )


def shared(key: str, compute, seconds: int = SHARED_SECONDS):
    """The cached value for `key`, or `compute()` stored for `seconds`."""
    if not available():
        return compute()
    try:
        value = cache.get(key)
    except Exception:
        failed(f"reading {key}")
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, seconds)
        except Exception:
            failed(f"storing {key}")
    return value


def forget(*keys: str) -> None:
    """Drop cached figures that a write just made stale (call it after the commit).
    While the cache is unavailable they expire on their own (SHARED_SECONDS)."""
    if not available():
        return
    try:
        cache.delete_many(keys)
    except Exception:
        failed(f"forgetting {', '.join(keys)}")


# --- fixed-window counters ------------------------------------------------------------

RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@functools.lru_cache(maxsize=32)
def parse_rate(rate: str) -> tuple[int, int]:
    """'30/min' → (30, 60): requests allowed per window of that many seconds. The period
    by its first letter (s, m, h, d), as DRF reads its throttle rates."""
    number, _, period = rate.partition("/")
    return int(number), RATE_PERIODS[period.strip().lower()[:1]]


def count(key: str, seconds: int, doing: str) -> int | None:
    """Add one to the counter `key`, kept `seconds` from its first count: its new value.
    None while the cache is unavailable: the caller lets the request through uncounted
    (`doing` says so in the warning logged)."""
    if not available():
        return None
    try:
        return _incr_with_ttl(cache, key, seconds)
    except Exception:
        failed(doing)
        return None


def over_rate(key: str, rate: str, *, doing: str) -> float:
    """Count one request on `key` (what is limited and whose: an address, an API key)
    against `rate` ('30/min'): 0 if it is allowed (or the cache is down: `doing` says
    so in the warning), else the seconds, at least 1, until the window (aligned to the
    clock) ends."""
    allowed, seconds = parse_rate(rate)
    now = time.time()
    window = int(now // seconds)
    counted = count(f"{key}:{window}", seconds + 1, doing)
    if counted is None or counted <= allowed:
        return 0.0
    return max(1.0, seconds - now % seconds)


# INCR, and EXPIRE on the first count: one command, one round trip (EVALSHA; redis-py
# loads the script again if the server lost it). A pipeline of INCR + EXPIRE NX costs
# the client two replies to parse, and this runs on every public survey answer.
_COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _redis_client(backend):
    """The write client of Django's RedisCache and the counting script, built once per
    cache and process.

    Django builds a new client object (and its ~170 response callbacks) on every call,
    which costs more than the round trip itself; the client is a thin, thread-safe
    wrapper around the shared connection pool, so it is kept on the cache backend.
    """
    inner = getattr(backend, "_cache", None)
    if inner is None or not hasattr(inner, "get_client"):
        return None
    client = getattr(inner, "_cxhub_write_client", None)
    if client is None:
        client = inner.get_client(write=True)
        client.cxhub_count = client.register_script(_COUNT_SCRIPT)
        inner._cxhub_write_client = client
    return client


def _incr_with_ttl(backend, key: str, ttl: int) -> int:
    client = _redis_client(backend)
    if client is not None:  # Django's RedisCache: one round trip
        return int(client.cxhub_count(keys=[backend.make_key(key)], args=[ttl]))
    if backend.add(key, 1, ttl):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.set(key, 1, ttl)
        return 1

"""Figures shared by every viewer for a short while (the home dashboard's organisation-
wide panels), kept in the cache: Redis in production, process memory elsewhere.

A cache that fails never fails a request: a figure is computed and served uncached,
and after a failure this process leaves the cache alone for a while (cxhub.outages:
a Redis that stopped answering costs one request its socket timeout per window, not
every request, and the broker on the same Redis is skipped too). The API throttle,
cxhub.api, goes by the same breaker.
"""

import logging
import sys

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

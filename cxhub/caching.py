"""Figures shared by every viewer for a short while (the home dashboard's organisation-
wide panels), kept in the cache: Redis in production, process memory elsewhere.

A cache that fails never fails a request: a figure is computed and served uncached,
and after a failure this process leaves the cache alone for RETRY_AFTER seconds, so
that a Redis that stopped answering costs one request its socket timeout per window,
not every request (the API throttle, cxhub.api, goes by the same breaker).
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

SHARED_SECONDS = 60
RETRY_AFTER = 30.0
_skip_until = 0.0


def available() -> bool:
    """False for RETRY_AFTER seconds after a cache failure in this process."""
    return time.monotonic() >= _skip_until


def failed(doing: str) -> None:
    """Record a cache failure (call it from the `except`): the cache is skipped for a while."""
    global _skip_until
    _skip_until = time.monotonic() + RETRY_AFTER
    logger.warning("cache unavailable (%s); skipped for %.0f s", doing, RETRY_AFTER, exc_info=True)


def reset() -> None:
    """Forget a past failure (tests)."""
    global _skip_until
    _skip_until = 0.0


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

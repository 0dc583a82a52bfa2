"""Figures shared by every viewer for a short while (the home dashboard's organisation-
wide panels), kept in the cache: Redis in production, process memory elsewhere.

A cache that fails never fails a page: the figure is computed and served uncached.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

SHARED_SECONDS = 60


def shared(key: str, compute, seconds: int = SHARED_SECONDS):
    """The cached value for `key`, or `compute()` stored for `seconds`."""
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("cache unavailable; computing %s", key)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, seconds)
        except Exception:
            logger.warning("cache unavailable; not storing %s", key)
    return value


def forget(*keys: str) -> None:
    """Drop cached figures that a write just made stale (call it after the commit)."""
    try:
        cache.delete_many(keys)
    except Exception:
        logger.warning("cache unavailable; %s expire on their own", ", ".join(keys))

"""Rate limits on the ``limits`` library: fixed windows kept in ``RATELIMIT_STORAGE_URI``
(``memory://`` counts per process; ``redis://…`` shares the count between workers).

Used where a view asks (the create limit, per project). Flask-Limiter was dropped: its hooks ran
before, after and at the teardown of every request of every endpoint, about a sixth of the CPU of
a detail read, for one limit.
"""

from __future__ import annotations

import functools
import math
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError as StorageConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from config import ConfigurationError
from webapp.errors import FrameworkError


class Throttled(FrameworkError):
    """429 with Attendee's message and ``Retry-After``."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            f"Request was throttled. Expected available in {wait} seconds.", 429, {"Retry-After": str(wait)}
        )


def init_app(app: Flask) -> None:
    """:raises ConfigurationError: the create limit or the storage URI cannot be used."""
    try:
        _parsed(app.config["API_CREATE_RATE_LIMIT"])
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    except (ValueError, StorageConfigurationError) as exc:
        raise ConfigurationError(f"Rate limit settings: {exc}") from None
    app.extensions["throttle"] = FixedWindowRateLimiter(storage)


@functools.lru_cache(maxsize=32)
def _parsed(rate: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rate))


def hit(scope: str, key: str, rate: str) -> None:
    """Count one request of *key* against *rate* (e.g. ``"3000 per minute"``, ``"10/second;100/hour"``).

    :raises Throttled: a window is full; the wait is until that window resets (at least 1 s).
    """
    limiter: FixedWindowRateLimiter = current_app.extensions["throttle"]
    for item in _parsed(rate):
        if not limiter.hit(item, scope, key):
            reset_at, _ = limiter.get_window_stats(item, scope, key)
            raise Throttled(max(1, math.ceil(reset_at - time.time())))


def reset() -> None:
    """Forget every count (tests)."""
    limiter: FixedWindowRateLimiter = current_app.extensions["throttle"]
    storage: Storage = limiter.storage
    storage.reset()

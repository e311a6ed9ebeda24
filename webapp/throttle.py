"""Fixed-window rate limits, counted in ``RATELIMIT_STORAGE_URI``: ``memory://`` (per process) or
Redis (``redis://``, ``rediss://``, ``redis+unix://``), which shares the count between workers.

Used where a view asks (the create limit, per project). Its own code rather than a library: the
one counter it needs is a few lines, where Flask-Limiter ran hooks around every request (a sixth
of a detail read's CPU) and ``limits`` loaded every storage backend and async bridge it supports
into each worker (about 2 MB) and started a timer thread for its memory storage every few
milliseconds under steady creates.

A window starts at its first hit and lasts its period; a request counts against every window of
the rate. If Redis cannot be reached the request is let through and a warning logged: a broken
counter store should not take calendar creation down with it.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app

from config import ConfigurationError
from webapp.errors import FrameworkError

log = logging.getLogger(__name__)

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 30 * 86400, "year": 360 * 86400}
_RATE = re.compile(r"\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day|month|year)s?\s*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[;,|]")
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")
KEY_PREFIX = "throttle/"


class Throttled(FrameworkError):
    """429 with Attendee's message and ``Retry-After``."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            f"Request was throttled. Expected available in {wait} seconds.", 429, {"Retry-After": str(wait)}
        )


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@functools.lru_cache(maxsize=32)
def parse_rates(text: str) -> tuple[Rate, ...]:
    """``"3000 per minute"``, ``"10/second;1000/hour"``, ``"5 per 10 minutes"`` (``;``, ``,`` or ``|``
    between windows). :raises ValueError: anything else, or a count or period of zero."""
    rates = []
    for part in _SEPARATORS.split(text):
        match = _RATE.fullmatch(part)
        if match is None:
            raise ValueError(f"cannot read the rate {part.strip()!r} (use e.g. '3000 per minute')")
        count, multiple, period = int(match[1]), int(match[2] or 1), match[3].lower()
        if count == 0 or multiple == 0:
            raise ValueError(f"the rate {part.strip()!r} allows nothing")
        rates.append(Rate(count, multiple * PERIODS[period]))
    return tuple(rates)


class StorageUnavailable(Exception):
    """The counter store could not be reached."""


class Counters(Protocol):
    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        """Count one hit in *key*'s window (started now if none is running): (hits so far, seconds left)."""

    def reset(self) -> None: ...


class MemoryCounters:
    """This process's counters; expired windows are dropped as the table grows."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._prune_at = 1024

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            count, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + seconds
            self._windows[key] = (count + 1, ends)
            if len(self._windows) >= self._prune_at:
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
                self._prune_at = max(1024, 2 * len(self._windows))
        return count + 1, ends - now

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class RedisCounters:
    """Counters shared through Redis: one MULTI round trip per window (start it, count, read its TTL)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri.replace("redis+unix://", "unix://", 1)
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:  # built on first use: workers that never count do not import redis
            import redis

            self._client = redis.Redis.from_url(self._uri, socket_timeout=1, socket_connect_timeout=1)
        return self._client

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        from redis.exceptions import RedisError

        name = KEY_PREFIX + key
        pipe = self._redis().pipeline(transaction=True)
        pipe.set(name, 0, ex=seconds, nx=True)
        pipe.incr(name)
        pipe.pttl(name)
        try:
            _, count, left_ms = pipe.execute()
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(type(exc).__name__) from None
        return int(count), max(int(left_ms), 0) / 1000

    def reset(self) -> None:
        client = self._redis()
        for name in client.scan_iter(match=KEY_PREFIX + "*", count=1000):
            client.delete(name)


def counters_for(uri: str) -> Counters:
    """:raises ValueError: a URI this module cannot count in."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "memory":
        return MemoryCounters()
    if scheme in REDIS_SCHEMES:
        return RedisCounters(uri)
    raise ValueError(f"unsupported storage {scheme or uri!r}: use memory:// or redis://")


def init_app(app: Flask) -> None:
    """:raises ConfigurationError: the create limit or the storage URI cannot be used."""
    try:
        parse_rates(app.config["API_CREATE_RATE_LIMIT"])
        app.extensions["throttle"] = counters_for(app.config["RATELIMIT_STORAGE_URI"])
    except ValueError as exc:
        raise ConfigurationError(f"Rate limit settings: {exc}") from None


def hit(scope: str, key: str, rate: str) -> None:
    """Count one request of *key* against each window of *rate* (e.g. ``"3000 per minute"``).

    :raises Throttled: a window is full; the wait is until that window ends (at least 1 s).
    """
    counters: Counters = current_app.extensions["throttle"]
    for window in parse_rates(rate):
        try:
            count, left = counters.hit(f"{scope}/{key}/{window.count}/{window.seconds}", window.seconds)
        except StorageUnavailable as exc:  # let the request through (module docstring)
            log.warning("throttle storage unavailable, request not counted: %s", exc)
            return
        if count > window.count:
            raise Throttled(max(1, math.ceil(left)))


def reset() -> None:
    """Forget every count (tests)."""
    counters: Counters = current_app.extensions["throttle"]
    counters.reset()

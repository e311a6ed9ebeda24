"""Request rate limits (Flask-Limiter), per project, counted in ``RATELIMIT_STORAGE_URI``.

A limited view is decorated with ``@per_project("<SETTING>")``: one fixed window counter per
project (all its API keys share it) for each window of the setting's rate (``"3000 per minute"``,
``"10/second;1000/hour"``). Counters live in this process (``memory://``) or in Redis
(``redis://``, ``rediss://``, ``redis+unix://``), which shares them between workers and
machines; any other storage, or an unreadable rate, stops the start.

If Redis cannot be reached, each worker counts in its own memory until Redis answers again
(Flask-Limiter's in-memory fallback, checked again after 1, 2, 4 … 32 s) and logs one warning.
A limit then still holds per worker (at most workers × the limit in total) instead of not at
all, and nothing that is limited goes down with the counter store. Should counting fail even
so, the request is let through and the error logged (``swallow_errors``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import MemoryStorage

from config import ConfigurationError
from webapp.errors import FrameworkError

REDIS_SCHEMES = ("redis", "rediss", "redis+unix")
# Each limited operation's setting (README, "Configuration"); the views name them.
SETTINGS = (
    "API_CREATE_RATE_LIMIT",
    "CONNECT_SESSION_RATE_LIMIT",
    "WEBHOOK_TEST_RATE_LIMIT",
    "WEBHOOK_REDELIVER_RATE_LIMIT",
)
# A counter store that does not answer within this many seconds counts as down.
REDIS_TIMEOUT_SECONDS = 1

P = ParamSpec("P")
R = TypeVar("R")


class SweptMemoryStorage(MemoryStorage):
    """``memory://`` counters (limits' ``MemoryStorage``), swept of expired counters once a second.

    The library starts a fresh 10 ms timer thread whenever none is alive, so under load every
    counted request started a thread: about a seventh of a create's CPU (``bench/api.py``). A
    counter's expiry is checked whenever it is read (``get``), so the sweep only frees memory and
    once a second is enough. Registered for the ``memory`` scheme in place of the library's class
    (its storage registry maps a scheme to the last class that names it), so ``memory://`` and
    Flask-Limiter's in-memory fallback both use it.
    """

    STORAGE_SCHEME = ["memory"]
    SWEEP_SECONDS = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the library's private scheduler
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True  # a pending sweep never holds up the process's exit
            self.timer.start()


class Throttled(FrameworkError):
    """429 with Attendee's message and ``Retry-After``."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            f"Request was throttled. Expected available in {wait} seconds.", 429, {"Retry-After": str(wait)}
        )


def _project_key() -> str:
    return str(g.project.object_id)  # limited views are API views: authentication has set g.project


limiter = Limiter(
    key_func=_project_key,
    strategy="fixed-window",
    headers_enabled=False,
    swallow_errors=True,
)


# The views decorated with ``per_project`` (the only limits there are: no default, no blueprint ones).
limited_views: set[Callable[..., Any]] = set()


def per_project(setting: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Limit the decorated view to the rate in the setting *setting*, counted per project."""
    if setting not in SETTINGS:
        raise ValueError(f"{setting} is not a rate limit setting")
    route_limit = limiter.limit(lambda: str(current_app.config[setting]))

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        limited = route_limit(view)
        limited_views.add(limited)
        return limited

    return decorate


def init_app(app: Flask) -> None:
    """:raises ConfigurationError: a rate or the storage URI cannot be used."""
    uri = str(app.config["RATELIMIT_STORAGE_URI"])
    scheme = urlsplit(uri).scheme.lower()
    if scheme != "memory" and scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"Rate limit settings: unsupported storage {scheme or uri!r}: use memory:// or redis://"
        )
    for setting in SETTINGS:
        _check_rate(setting, str(app.config[setting]))
    if scheme in REDIS_SCHEMES:
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS},
        )
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    # Flask-Limiter checks a decorated view when the view is called (its decorator's wrapper), and
    # adds three app-wide hooks that every request pays for, limited or not (about 45 µs of CPU for
    # the first, a twentieth of a detail read), none of which this service needs:
    # - before_request: checks default and blueprint limits, which this service has none of;
    # - after_request: adds the X-RateLimit headers (``headers_enabled=False``) and makes the
    #   deductions of ``deduct_when`` limits (none here);
    # - teardown_request: empties the request's limiter state, which lives on the request context
    #   and goes with it anyway.
    # Without them only the limited views pay for their limits (tests/test_rate_limits.py).
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.after_request_funcs[None] = [f for f in app.after_request_funcs[None] if not _is_limiter_hook(f)]
    app.teardown_request_funcs[None] = [f for f in app.teardown_request_funcs[None] if not _is_limiter_hook(f)]


def _is_limiter_hook(function: Any) -> bool:
    """Flask-Limiter's after_request (a ``partial`` of the class's function) or teardown (a bound method)."""
    bound = getattr(function, "func", None) or getattr(function, "__func__", None)
    return getattr(bound, "__qualname__", "").startswith("Limiter.")


def _check_rate(setting: str, text: str) -> None:
    try:
        rates = parse_many(text)
    except ValueError:
        raise ConfigurationError(
            f"Rate limit settings: cannot read {setting}={text!r} (use e.g. '3000 per minute')"
        ) from None
    if not rates or any(rate.amount == 0 for rate in rates):
        raise ConfigurationError(f"Rate limit settings: {setting}={text!r} allows nothing")


def throttled() -> Throttled:
    """The refusal of the request that just broke a limit: wait until that limit's window ends (≥ 1 s)."""
    current = limiter.current_limit
    if current is None:  # pragma: no cover - Flask-Limiter records the breached limit before raising
        return Throttled(1)
    try:
        reset_at = current.window[0]
    except Exception:  # the counter store went away since the count: wait a whole window
        reset_at = time.time() + current.limit.get_expiry()
    return Throttled(max(1, math.ceil(reset_at - time.time())))

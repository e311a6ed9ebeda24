"""The throttle's counters and rate grammar (the API behaviour is in tests/api/test_throttling.py)."""

from __future__ import annotations

import logging
import os
import socket
import threading

import pytest
import redis
from flask import Flask

from config import ConfigurationError, TestConfig
from webapp import create_app, throttle
from webapp.throttle import MemoryCounters, Rate, RedisCounters, Throttled, counters_for, parse_rates

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("3000 per minute", (Rate(3000, 60),)),
        ("10/second", (Rate(10, 1),)),
        ("5 per 10 minutes", (Rate(5, 600),)),
        ("2 PER HOUR", (Rate(2, 3600),)),
        ("1 per day", (Rate(1, 86400),)),
        ("7 per month", (Rate(7, 30 * 86400),)),
        ("10/second;1000/hour", (Rate(10, 1), Rate(1000, 3600))),
        (" 5 per hour , 2 per minute ", (Rate(5, 3600), Rate(2, 60))),
        ("5 per hour|2 per minute", (Rate(5, 3600), Rate(2, 60))),
    ],
)
def test_rates_are_read(text: str, rates: tuple[Rate, ...]) -> None:
    assert parse_rates(text) == rates


@pytest.mark.parametrize("text", ["lots", "", "per minute", "10 per fortnight", "0 per minute", "5 per 0 hours", "5;"])
def test_unreadable_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rates(text)


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "mongodb://x", "nosuch://x", "127.0.0.1:6379"])
def test_unsupported_storage_is_refused_at_start(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="Rate limit settings: unsupported storage"):
        create_app(TestConfig, RATELIMIT_STORAGE_URI=uri)


@pytest.mark.parametrize(
    "uri", ["memory://", "redis://127.0.0.1:6379/1", "rediss://h:6380/0", "redis+unix:///tmp/r.sock"]
)
def test_supported_storage_is_accepted(uri: str) -> None:
    assert counters_for(uri) is not None


def test_memory_window_ends_after_its_period(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: clock[0])
    counters = MemoryCounters()
    assert counters.hit("k", 60) == (1, 60.0)
    clock[0] += 45
    assert counters.hit("k", 60) == (2, 15.0)
    clock[0] += 15  # the window started at the first hit has ended
    assert counters.hit("k", 60) == (1, 60.0)
    assert counters.hit("other", 60) == (1, 60.0)


def test_memory_drops_ended_windows_as_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: clock[0])
    counters = MemoryCounters()
    for n in range(1000):
        counters.hit(f"old{n}", 10)
    clock[0] = 11.0
    for n in range(100):
        counters.hit(f"new{n}", 10)
    assert len(counters._windows) < 200
    assert counters.hit("new0", 10) == (2, 10.0)


def test_memory_counts_every_hit_of_concurrent_threads() -> None:
    counters = MemoryCounters()

    def hammer() -> None:
        for _ in range(500):
            counters.hit("shared", 60)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.hit("shared", 60)[0] == 2001


@pytest.fixture
def redis_counters() -> RedisCounters:
    """Counters in the test Redis; CI always has one (.ci/run starts it), elsewhere its absence skips."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        message = f"needs Redis at {REDIS_URL} (TEST_REDIS_URL)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    counters = RedisCounters(REDIS_URL)
    counters.reset()
    return counters


def test_redis_counts_are_shared_between_workers(redis_counters: RedisCounters) -> None:
    other_worker = RedisCounters(REDIS_URL)
    assert redis_counters.hit("k", 60)[0] == 1
    assert other_worker.hit("k", 60)[0] == 2
    count, left = redis_counters.hit("k", 60)
    assert count == 3 and 59 < left <= 60
    redis_counters.reset()
    assert other_worker.hit("k", 60)[0] == 1


def test_redis_window_expires(redis_counters: RedisCounters) -> None:
    assert redis_counters.hit("brief", 1)[0] == 1
    client = redis.Redis.from_url(REDIS_URL)
    assert 0 < client.pttl(throttle.KEY_PREFIX + "brief") <= 1000  # the window always carries its end


def test_redis_limit_throttles_through_the_api(
    app: Flask, redis_counters: RedisCounters, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.extensions, "throttle", redis_counters)
    with app.app_context():
        throttle.hit("create_calendar", "prj_x", "2 per minute")
        throttle.hit("create_calendar", "prj_x", "2 per minute")
        with pytest.raises(Throttled) as caught:
            throttle.hit("create_calendar", "prj_x", "2 per minute")
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60


def test_unreachable_redis_lets_requests_through(
    app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(app.extensions, "throttle", counters_for(f"redis://127.0.0.1:{port}/0"))
    with app.app_context(), caplog.at_level(logging.WARNING, logger="webapp.throttle"):
        for _ in range(3):
            throttle.hit("create_calendar", "prj_x", "1 per minute")
    assert "throttle storage unavailable" in caplog.text

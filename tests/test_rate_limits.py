"""Rate limits (Flask-Limiter): settings, storages, each limited operation, Redis shared and down.

``POST /calendars``'s contract (message, ``Retry-After``, per project) is in tests/api/test_throttling.py.
The Redis tests run each "worker" as its own process: one limiter per process, as in production.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from config import PROJECT_ROOT, ConfigurationError, TestConfig
from tests.api.contract import PREFIX, json_body
from webapp import create_app, rate_limits

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
THROTTLED_PREFIX = "Request was throttled. Expected available in "


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "mongodb://x", "nosuch://x", "127.0.0.1:6379"])
def test_unsupported_storage_is_refused_at_start(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="Rate limit settings: unsupported storage"):
        create_app(TestConfig, RATELIMIT_STORAGE_URI=uri)


@pytest.mark.parametrize(
    "uri", ["memory://", "redis://127.0.0.1:6379/1", "rediss://h:6380/0", "redis+unix:///tmp/r.sock"]
)
def test_supported_storage_is_accepted(uri: str) -> None:
    assert create_app(TestConfig, RATELIMIT_STORAGE_URI=uri) is not None


@pytest.mark.parametrize(
    "setting",
    ["API_CREATE_RATE_LIMIT", "CONNECT_SESSION_RATE_LIMIT", "WEBHOOK_TEST_RATE_LIMIT", "WEBHOOK_REDELIVER_RATE_LIMIT"],
)
@pytest.mark.parametrize("rate", ["lots", "", "per minute", "10 per fortnight", "0 per minute"])
def test_an_unreadable_rate_stops_the_start(setting: str, rate: str) -> None:
    with pytest.raises(ConfigurationError, match=f"Rate limit settings: .*{setting}"):
        create_app(TestConfig, **{setting: rate})


def test_defaults(app: Flask) -> None:
    assert app.config["CONNECT_SESSION_RATE_LIMIT"] == "600 per minute"
    assert app.config["WEBHOOK_TEST_RATE_LIMIT"] == "60 per minute"
    assert app.config["WEBHOOK_REDELIVER_RATE_LIMIT"] == "600 per minute"


def _assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    body = json_body(response)
    assert list(body) == ["detail"] and body["detail"].startswith(THROTTLED_PREFIX)
    wait = body["detail"][len(THROTTLED_PREFIX) :].removesuffix(" seconds.")
    assert 1 <= int(wait) <= 60 and response.headers["Retry-After"] == wait


@pytest.mark.parametrize(
    ("setting", "path", "allowed_status"),
    [
        ("CONNECT_SESSION_RATE_LIMIT", "/connect_sessions", 201),
        ("WEBHOOK_TEST_RATE_LIMIT", "/webhooks/wh_AAAAAAAAAAAAAAAA/test", 404),
        ("WEBHOOK_REDELIVER_RATE_LIMIT", "/webhook_deliveries/whd_AAAAAAAAAAAAAAAA/redeliver", 404),
    ],
)
def test_each_limited_operation_counts_per_project(
    app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    other_auth: dict[str, str],
    setting: str,
    path: str,
    allowed_status: int,
) -> None:
    app.config[setting] = "2 per minute"
    mine = [client.post(PREFIX + path, json={}, headers=auth) for _ in range(2)]
    assert [r.status_code for r in mine] == [allowed_status] * 2  # every attempt counts, found or not
    _assert_throttled(client.post(PREFIX + path, json={}, headers=auth))
    theirs = [client.post(PREFIX + path, json={}, headers=other_auth).status_code for _ in range(3)]
    assert theirs == [allowed_status, allowed_status, 429]


def test_reads_of_the_same_objects_are_not_limited(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    app.config["CONNECT_SESSION_RATE_LIMIT"] = "1 per minute"
    created = client.post(f"{PREFIX}/connect_sessions", json={}, headers=auth).get_json()
    assert client.post(f"{PREFIX}/connect_sessions", json={}, headers=auth).status_code == 429
    for _ in range(3):
        assert client.get(f"{PREFIX}/connect_sessions/{created['id']}", headers=auth).status_code == 200


# --- Redis: counts shared between worker processes, and a Redis that is down ----------------------

WORKER = """
import json, sys
from config import TestConfig
from webapp import create_app, rate_limits
from webapp.extensions import db
from webapp.projects import service as projects

database, storage, rate, creates, key = sys.argv[1:6]
settings = {"SQLALCHEMY_DATABASE_URI": database, "RATELIMIT_STORAGE_URI": storage, "API_CREATE_RATE_LIMIT": rate}
app = create_app(TestConfig, **settings)
with app.app_context():
    if key == "-":
        db.create_all()
        _, key = projects.create_project(name="Workers")
client = app.test_client()
statuses = []
for n in range(int(creates)):
    body = {"platform": "google", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    statuses.append(client.post("/api/v1/calendars", json=body, headers={"Authorization": f"Token {key}"}).status_code)
print(json.dumps({"key": key, "statuses": statuses}))
"""


def _worker(tmp_path: Path, storage: str, rate: str, creates: int, key: str = "-") -> tuple[str, list[int], str]:
    """One worker process making *creates* calendar creates; (its key, their statuses, its log)."""
    database = f"sqlite:///{tmp_path / 'workers.db'}"
    done = subprocess.run(
        [sys.executable, "-c", WORKER, database, storage, rate, str(creates), key],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["key"], result["statuses"], done.stderr


@pytest.fixture
def redis_url() -> str:
    """The test Redis, emptied; CI always has one (.ci/run starts it), elsewhere its absence skips."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        message = f"needs Redis at {REDIS_URL} (TEST_REDIS_URL)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


def test_redis_counts_are_shared_between_worker_processes(tmp_path: Path, redis_url: str) -> None:
    key, first, _ = _worker(tmp_path, redis_url, "3 per minute", 2)
    _, second, _ = _worker(tmp_path, redis_url, "3 per minute", 2, key)
    assert first == [201, 201] and second == [201, 429]
    redis.Redis.from_url(redis_url).flushdb()  # the counts lived in Redis, not in the workers
    assert _worker(tmp_path, redis_url, "3 per minute", 1, key)[1] == [201]


def test_when_redis_is_down_each_worker_counts_in_memory(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        down = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    _, statuses, log = _worker(tmp_path, down, "2 per minute", 3)
    assert statuses == [201, 201, 429]  # still limited, per process, and never a 500
    assert log.count("Rate limit storage unreachable - falling back to in-memory storage") == 1


def test_every_limited_operation_documents_its_429(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    limited = []
    for rule in app.url_map.iter_rules():
        if app.view_functions[rule.endpoint] in rate_limits.limited_views:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                limited.append((path, method.lower()))
    assert sorted(limited) == [
        ("/calendars", "post"),
        ("/connect_sessions", "post"),
        ("/webhook_deliveries/{object_id}/redeliver", "post"),
        ("/webhooks/{object_id}/test", "post"),
    ]
    for path, method in limited:
        throttled = document["paths"][path][method]["responses"]["429"]
        assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
        schema = throttled["content"]["application/json"]["schema"]
    app.config["WEBHOOK_TEST_RATE_LIMIT"] = "1 per minute"
    client.post(f"{PREFIX}/webhooks/wh_AAAAAAAAAAAAAAAA/test", headers=auth)
    body = client.post(f"{PREFIX}/webhooks/wh_AAAAAAAAAAAAAAAA/test", headers=auth).get_json()
    Draft202012Validator({"components": document["components"], **schema}).validate(body)


def test_memory_counters_start_no_thread_per_request(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """limits' own memory storage started a timer thread for nearly every counted request."""
    storage = rate_limits.limiter.storage
    assert isinstance(storage, rate_limits.SweptMemoryStorage)
    started: list[object] = []
    real_start = threading.Timer.start

    def counting_start(timer: threading.Timer) -> None:
        started.append(timer)
        real_start(timer)

    monkeypatch.setattr(threading.Timer, "start", counting_start)
    for n in range(500):
        storage.incr(f"project-{n % 5}", expiry=60)
    assert len(started) <= 1
    assert storage.get("project-0") == 100


def test_memory_counters_still_expire_and_are_swept(app: Flask) -> None:
    storage = rate_limits.SweptMemoryStorage("memory://")
    storage.incr("short", expiry=0.05)
    assert storage.get("short") == 1
    time.sleep(0.1)
    assert storage.get("short") == 0  # an expired counter reads as zero at once
    storage.incr("swept", expiry=0.05)
    deadline = time.monotonic() + 5
    while "swept" in storage.storage and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "swept" not in storage.storage  # and the sweep frees it without a read

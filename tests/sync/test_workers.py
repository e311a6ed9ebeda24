"""Real Celery workers on PostgreSQL and Redis: a hundred calendars, two workers, no double sync."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import redis
from celery import Celery
from flask import Flask
from sqlalchemy import func, select

from config import PROJECT_ROOT, TestConfig
from emulator.servers import RunningEmulators
from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.emulation import ALICE, Provider
from tests.sync.conftest import MakeCalendar, at, google_refresh_token, seed_events
from webapp.extensions import db
from webapp.models import Calendar, Platform, SyncAttempt

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CALENDARS = 100


def _redis_available() -> bool:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def _start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--concurrency", "4",
        "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


@requires_postgres
def test_two_workers_sync_a_hundred_calendars_once_at_a_time(
    emulated_app: Flask, emulators: RunningEmulators, google: Provider, connect: MakeCalendar, tmp_path: Path
) -> None:
    if not _redis_available():
        pytest.fail(f"Redis is needed for this test and is not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    seed_events(google, [{"user": ALICE, "summary": f"E{i}", "start": at(i + 1), "end": at(i + 2)} for i in range(5)])
    token = google_refresh_token(google)
    # Slow every listing down so that duplicate tasks really do meet on the same calendar.
    google.control("fail", {"route": "events_list", "latency_ms": 40, "times": 100000})
    ids = [connect(Platform.GOOGLE, token, deduplication_key=f"k{i}").id for i in range(CALENDARS)]

    env = {
        **os.environ,
        **emulators.settings(),
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "SECRET_KEY": str(TestConfig.SECRET_KEY),
        "CREDENTIALS_ENCRYPTION_KEYS": ",".join(TestConfig.CREDENTIALS_ENCRYPTION_KEYS),
        "INSTANCE_PATH": str(tmp_path),
    }
    workers = [_start_worker(env, f"w{n}", tmp_path / f"w{n}.log") for n in (1, 2)]
    sender = Celery(broker=REDIS_URL)
    try:
        for _ in range(2):  # every calendar queued twice: the lease must keep the two apart
            for calendar_id in ids:
                sender.send_task("sync.calendar", args=[calendar_id])
        deadline = time.monotonic() + 90
        synced = 0
        while time.monotonic() < deadline:
            db.session.expire_all()
            synced = db.session.scalar(
                select(func.count()).select_from(Calendar).where(Calendar.last_successful_sync_at.is_not(None))
            )
            if synced == CALENDARS:
                break
            time.sleep(0.5)
        assert synced == CALENDARS, (tmp_path / "w1.log").read_text()[-3000:]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        sender.close()

    attempts = db.session.scalars(select(SyncAttempt).order_by(SyncAttempt.started_at)).all()
    by_calendar: dict[int, list[SyncAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_calendar[attempt.calendar_id].append(attempt)
    assert set(by_calendar) == set(ids)
    for calendar_attempts in by_calendar.values():
        assert all(a.outcome == "success" for a in calendar_attempts)
        for earlier, later in zip(calendar_attempts, calendar_attempts[1:], strict=False):
            assert later.started_at >= earlier.finished_at, "one calendar was synced twice at once"
    logs = "".join((tmp_path / f"w{n}.log").read_text() for n in (1, 2))
    assert "w1@" in logs and "w2@" in logs

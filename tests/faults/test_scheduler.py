"""One scheduler at a time: beats share a database lease, and only its holder sends periodic work."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import redis
from flask import Flask

from config import PROJECT_ROOT
from tests.faults.conftest import wait_for
from webapp.extensions import db, utcnow
from webapp.models import ServiceLease
from webapp.runtime.scheduler import LEASE_SECONDS, RENEW_SECONDS, hold_lease, release_lease


def _sent_by(env: dict[str, str], instance: Path) -> Counter[int]:
    """Messages waiting in the broker (no worker runs here), by the pid of the process that sent them."""
    if env.get("CELERY_BROKER_URL"):
        client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
        try:
            payloads = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
        finally:
            client.close()
    else:
        with sqlite3.connect(instance / "broker.sqlite") as broker:
            payloads = [json.loads(row[0]) for row in broker.execute("SELECT payload FROM kombu_message")]
    origins = [p["headers"]["origin"] for p in payloads]  # "gen<pid>@<host>"
    return Counter(int(origin.split("@")[0].removeprefix("gen")) for origin in origins)


def test_the_lease_has_one_holder_until_it_expires_or_is_released(app: Flask) -> None:
    now = utcnow()
    assert hold_lease("scheduler", "a", now, 15)
    assert not hold_lease("scheduler", "b", now + timedelta(seconds=5), 15)
    assert hold_lease("scheduler", "a", now + timedelta(seconds=10), 15)  # renewed until +25 s
    assert not hold_lease("scheduler", "b", now + timedelta(seconds=24), 15)
    assert hold_lease("scheduler", "b", now + timedelta(seconds=26), 15)  # a stopped renewing: b takes over
    assert not hold_lease("scheduler", "a", now + timedelta(seconds=27), 15)
    release_lease("scheduler", "b")
    assert hold_lease("scheduler", "a", now + timedelta(seconds=28), 15)
    lease = db.session.get(ServiceLease, "scheduler")
    assert lease is not None and lease.holder == "a" and lease.renewed_at == now + timedelta(seconds=28)


def _beat(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "beat", "--loglevel", "INFO"],
            cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_two_beats_dispatch_once_and_the_standby_takes_over(fault_env: dict[str, str], instance: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"], cwd=PROJECT_ROOT, env=fault_env, check=True,
        capture_output=True,
    )  # fmt: skip
    logs = [instance / "beat-1.log", instance / "beat-2.log"]
    beats = [_beat(fault_env, logs[0])]
    try:
        assert wait_for(lambda: "took the scheduler lease" in logs[0].read_text(), 30), logs[0].read_text()
        beats.append(_beat(fault_env, logs[1]))
        assert wait_for(lambda: "stands by" in logs[1].read_text(), 30), logs[1].read_text()
        time.sleep(3 * RENEW_SECONDS)
        sent = _sent_by(fault_env, instance)
        # The sweeps a new holder runs at once (the dispatcher runs inside the beat and queues only due syncs).
        assert sent[beats[0].pid] >= 1
        assert sent[beats[1].pid] == 0  # the standby sent nothing while the holder lived

        beats[0].send_signal(signal.SIGKILL)
        beats[0].wait()
        killed_at = time.monotonic()
        took_over = wait_for(
            lambda: "took the scheduler lease" in logs[1].read_text(), LEASE_SECONDS + 2 * RENEW_SECONDS
        )
        assert took_over, logs[1].read_text()
        assert time.monotonic() - killed_at <= LEASE_SECONDS + 2 * RENEW_SECONDS
        assert wait_for(lambda: _sent_by(fault_env, instance)[beats[1].pid] > 0, 5)
    finally:
        for beat in beats:
            if beat.poll() is None:
                os.kill(beat.pid, signal.SIGTERM)
                beat.wait(timeout=30)

"""A real Celery worker with its embedded beat, as ``flask serve`` runs it: heartbeats, metrics across
processes, JSON logs, and readiness noticing the worker is gone within ``WORKER_STALE_SECONDS``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from config import PROJECT_ROOT, TestConfig
from emulator.servers import RunningEmulators
from tests.conftest import TEST_DATABASE_URL, using_postgres
from tests.emulation import ALICE, CLIENT_ID, CLIENT_SECRET, Provider, http
from tests.observability.scraping import BEARER, TOKEN, sample, scrape
from tests.sync.conftest import at, google_refresh_token, seed_events
from tests.webhooks.conftest import Receiver
from webapp import create_app
from webapp.extensions import db
from webapp.models import Calendar, WebhookDelivery
from webapp.projects import service as projects
from webapp.webhooks import service as webhooks

STALE_SECONDS = 3


@pytest.fixture
def shared(app: Flask, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """An app and the database URL a worker process can share with it (a SQLite file on the SQLite pass)."""
    if using_postgres():
        yield app, TEST_DATABASE_URL
        return
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    file_app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with file_app.app_context():
        upgrade()  # the real migrations, 0011_heartbeats included
        yield file_app, url
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--beat", "--pool", "threads",
        "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log.open("wb") as handle:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(condition: Any, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail("timed out; worker log:\n" + log.read_text()[-4000:])


def test_worker_heartbeats_metrics_logs_and_staleness(
    shared: tuple[Flask, str],
    emulators: RunningEmulators,
    google: Provider,
    webhook_receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, url = shared
    client = target.test_client()
    seed_events(google, [{"user": ALICE, "summary": "Standup", "start": at(2), "end": at(3)}])
    refresh_token = google_refresh_token(google)
    project, api_key = projects.create_project(name="Ops")
    webhooks.create_endpoint(project=project, url=webhook_receiver.url())
    created = client.post(
        "/api/v1/calendars",
        json={
            "platform": "google",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
        headers={"Authorization": f"Token {api_key}"},
    )
    assert created.status_code == 201, created.get_json()

    metrics_port = _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("CELERY_BROKER_URL", "APP_ENV")}
    env.update(emulators.settings())
    env.update(
        DATABASE_URL=url,
        INSTANCE_PATH=str(tmp_path / "instance"),
        SECRET_KEY=str(TestConfig.SECRET_KEY),
        CREDENTIALS_ENCRYPTION_KEYS=",".join(TestConfig.CREDENTIALS_ENCRYPTION_KEYS),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_FORMAT="json",
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
        # As on a scale-out's worker machine: its own metrics port, behind the token.
        WORKER_METRICS_PORT=str(metrics_port),
        WORKER_METRICS_HOST="127.0.0.1",
        METRICS_TOKEN=TOKEN,
    )
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    try:

        def synced_and_delivered() -> bool:
            db.session.expire_all()
            calendar = db.session.scalar(select(Calendar))
            delivered = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.status == "delivered"))
            return calendar is not None and calendar.last_successful_sync_at is not None and delivered is not None

        _wait_for(synced_and_delivered, 60, log)
        _wait_for(lambda: client.get("/readyz").get_json()["checks"]["scheduler"]["ok"], 30, log)
        checks = client.get("/readyz").get_json()["checks"]
        assert checks["worker"]["ok"] is True and checks["scheduler"]["ok"] is True

        # The web's /metrics adds up what every process of the family wrote to the shared folder.
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        families = scrape(target, client)
        assert sample(families, "calendar_sync_attempts_total", {"platform": "google", "outcome": "success"}) == 1
        assert sample(families, "calendar_sync_duration_seconds_count", {"platform": "google"}) == 1
        assert sample(families, "token_refreshes_total", {"platform": "google", "outcome": "success"}) == 1
        assert sample(families, "webhook_deliveries_total", {"outcome": "delivered"}) == 1
        assert sample(families, "worker_heartbeat_age_seconds") < STALE_SECONDS + 5

        # The worker's own port serves the same counters (and only to the token).
        worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        assert http("GET", worker_metrics).status_code == 401
        scraped = http("GET", worker_metrics, headers=BEARER)
        assert scraped.status_code == 200
        own = {f.name: f for f in text_string_to_metric_families(scraped.text)}
        assert sample(own, "calendar_sync_attempts_total", {"platform": "google", "outcome": "success"}) == 1
        assert sample(own, "webhook_deliveries_total", {"outcome": "delivered"}) == 1
        assert "calendars" not in own  # database gauges are the web's to serve, once
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    # Stopped: readiness reports the worker stale within WORKER_STALE_SECONDS (and stays ready).
    target.config["WORKER_STALE_SECONDS"] = STALE_SECONDS
    stopped = time.monotonic()
    _wait_for(lambda: client.get("/readyz").get_json()["checks"]["worker"]["ok"] is False, STALE_SECONDS + 2, log)
    assert time.monotonic() - stopped <= STALE_SECONDS + 1
    assert client.get("/readyz").status_code == 200

    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert entries, lines[-20:]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    attempts = [e for e in entries if e["message"].startswith("sync attempt")]
    assert len(attempts) == 1
    assert attempts[0]["task"] == "sync.calendar" and attempts[0]["calendar_id"] == created.get_json()["id"]
    assert any(e["message"].startswith("webhook attempt") and e.get("task") == "webhooks.deliver" for e in entries)
    text = log.read_text()
    # The idle dispatcher says nothing; the start-up warning about the broker's host name is fixed.
    assert not [e for e in entries if "dispatch_due" in e["message"] or "Sending due task" in e["message"]]
    assert "No hostname was supplied" not in text
    for secret in (refresh_token, CLIENT_SECRET, api_key):
        assert secret not in text

"""Work accepted by the API is done after a crash: SIGKILLed worker, killed database connections, worker down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from config import PROJECT_ROOT
from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.emulation import ALICE, Provider
from tests.faults.conftest import APPLICATION_NAME, Service, start_service, wait_for, wait_until_ready
from tests.sync.conftest import at, google_refresh_token, seed_events
from tests.webhooks.conftest import Receiver, Reply

PAGE = {"page_size": "100"}


def _project_key(service: Service) -> str:
    return str(json.loads(service.flask("projects", "create", "Faults"))["api_key"])


def _calendars(service: Service, key: str) -> list[dict[str, Any]]:
    response = service.api("GET", "/api/v1/calendars", key, params=PAGE)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def _create(service: Service, key: str, refresh_token: str, count: int, prefix: str) -> set[str]:
    ids = set()
    for n in range(count):
        body = {
            "platform": "google", "client_id": "client-1.apps.example", "client_secret": "s3cret/with+chars",
            "refresh_token": refresh_token, "deduplication_key": f"{prefix}-{n}",
        }  # fmt: skip
        response = service.api("POST", "/api/v1/calendars", key, json=body)
        assert response.status_code == 201, response.text
        ids.add(response.json()["id"])
    return ids


def _synced(service: Service, key: str) -> set[str]:
    """Calendars with a successful sync; a web worker's 500 (its connection was just killed) reads as none."""
    response = service.api("GET", "/api/v1/calendars", key, params=PAGE)
    if response.status_code != 200:
        return set()
    return {c["id"] for c in response.json()["results"] if c["last_successful_sync_at"]}


def _deliveries(service: Service, key: str, webhook_id: str) -> list[dict[str, Any]]:
    response = service.api("GET", f"/api/v1/webhooks/{webhook_id}/deliveries", key, params=PAGE)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def _report(name: str, seconds: float) -> None:
    sys.stderr.write(f"\n[faults] {name}: {seconds:.1f} s\n")


def test_worker_sigkill_with_syncs_and_deliveries_in_flight(
    service: Service, google: Provider, receiver: Receiver
) -> None:
    """The issue's scenario: 20 syncs (slowed by the emulator) and 4 deliveries in flight, SIGKILL of the
    worker. A new worker within 30 s, every interrupted sync done within 90 s, every delivery received."""
    key = _project_key(service)
    seed_events(google, [{"user": ALICE, "summary": f"E{i}", "start": at(i + 1), "end": at(i + 2)} for i in range(3)])
    token = google_refresh_token(google)
    hook = service.api("POST", "/api/v1/webhooks", key, json={"url": receiver.url()})
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["id"]
    receiver.planned = [Reply(delay=25) for _ in range(4)]  # the first deliveries hang while the worker dies

    first_wave = _create(service, key, token, 4, "first")
    assert wait_for(lambda: len(receiver.requests) >= 4, 60), service.log()[-3000:]
    google.control("fail", {"route": "events_list", "latency_ms": 8000, "times": 100000})
    in_flight = _create(service, key, token, 20, "second")
    started = wait_for(
        lambda: (
            {c["id"] for c in _calendars(service, key) if c["id"] in in_flight and c["last_attempted_sync_at"]}
            == in_flight
        ),
        30,
    )
    assert started, "the 20 syncs did not all start"
    assert not in_flight & _synced(service, key)  # all 20 are still running

    victim = service.worker_pid()
    assert victim is not None
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    replacement = wait_for(lambda: (p := service.worker_pid()) and p != victim and p, 30)
    assert replacement, f"no new worker within 30 s:\n{service.log()[-3000:]}"
    _report("new worker after SIGKILL", time.monotonic() - killed_at)

    everyone = first_wave | in_flight

    def all_synced() -> bool:
        calendars = _calendars(service, key)
        synced = {c["id"] for c in calendars if c["last_successful_sync_at"] and c["state"] == "connected"}
        return everyone <= synced

    assert wait_for(all_synced, 90 - (time.monotonic() - killed_at), interval=1), service.log()[-4000:]
    _report("every interrupted sync completed after SIGKILL", time.monotonic() - killed_at)
    assert all(c["state"] == "connected" and c["connection_failure_data"] is None for c in _calendars(service, key))

    # Every delivery is received, the interrupted ones again with the same idempotency key.
    assert wait_for(
        lambda: (d := _deliveries(service, key, webhook_id)) and all(x["status"] == "delivered" for x in d), 90, 1
    ), _deliveries(service, key, webhook_id)
    deliveries = _deliveries(service, key, webhook_id)
    assert len(deliveries) == len(everyone)  # one events_update per calendar's first sync
    received = Counter(r.headers["X-Webhook-Idempotency-Key"] for r in receiver.requests)
    assert set(received) == {d["idempotency_key"] for d in deliveries}
    assert sum(n - 1 for n in received.values()) <= 4  # only the four that hung during the kill came twice
    _report("every delivery received after SIGKILL", time.monotonic() - killed_at)


def test_a_sync_requested_while_no_worker_runs_is_done_when_one_starts(
    fault_env: dict[str, str], instance: Path, google: Provider
) -> None:
    """The API's 201 promise: the request waits in the database, not in a process that is not there."""
    web = start_service(fault_env, instance, "--without-worker")
    worker: list[subprocess.Popen[bytes]] = []
    try:
        wait_until_ready(web)
        key = _project_key(web)
        ids = _create(web, key, google_refresh_token(google), 3, "waiting")
        time.sleep(3)
        assert not any(c["last_attempted_sync_at"] for c in _calendars(web, key))
        for role in ("worker", "beat"):
            log = (instance / f"{role}.log").open("wb")
            worker.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "wsgi:celery_app", role, "--loglevel", "INFO"],
                    cwd=PROJECT_ROOT,
                    env=fault_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
            log.close()
        assert wait_for(lambda: ids <= _synced(web, key), 60), (instance / "worker.log").read_text()[-3000:]
    finally:
        for process in worker:
            process.terminate()
        for process in worker:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        web.stop()


@requires_postgres
def test_killed_database_connections_during_syncs(service: Service, google: Provider) -> None:
    """Every connection of the service is terminated while syncs run: the worker lives on, no lease
    stays held, and every calendar is synced within about a minute."""
    key = _project_key(service)
    token = google_refresh_token(google)
    google.control("fail", {"route": "events_list", "latency_ms": 3000, "times": 100000})
    ids = _create(service, key, token, 10, "conn")
    assert wait_for(lambda: all(c["last_attempted_sync_at"] for c in _calendars(service, key)), 30)
    worker = service.worker_pid()
    url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    killed_at = time.monotonic()
    with psycopg.connect(url, autocommit=True) as admin:
        for _ in range(3):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            )
            time.sleep(1)
    assert wait_for(lambda: ids <= _synced(service, key), 90, 1), service.log()[-4000:]
    _report("every sync completed after killed connections", time.monotonic() - killed_at)
    assert service.worker_pid() == worker  # the worker survived, nothing was restarted
    with psycopg.connect(url, autocommit=True) as admin:
        held = admin.execute("SELECT count(*) FROM calendar WHERE lease_token IS NOT NULL").fetchone()
    assert held == (0,)

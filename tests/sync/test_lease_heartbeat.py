"""A sync longer than its lease keeps it: the heartbeat renews it from another thread (its own connection)."""

from __future__ import annotations

import threading
import time

from flask import Flask

from tests.conftest import requires_postgres
from tests.emulation import Provider
from tests.sync.conftest import MakeCalendar, google_refresh_token
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Platform
from webapp.sync import jobs


@requires_postgres  # in-memory SQLite gives each thread its own database; the fault tests cover a SQLite file
def test_a_long_sync_keeps_its_lease_while_alive(
    emulated_app: Flask, google: Provider, connect: MakeCalendar, monkeypatch: object
) -> None:
    emulated_app.config["SYNC_LEASE_SECONDS"] = 2  # renewed every 0.5 s
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("fail", {"route": "events_list", "latency_ms": 3500, "times": 1})
    results = []

    def sync() -> None:
        with emulated_app.app_context():
            results.append(jobs.sync_calendar(calendar.id, now=utcnow()).outcome)

    runner = threading.Thread(target=sync)
    runner.start()
    time.sleep(3)  # past the lease's first expiry: still held, by the renewals
    assert jobs._acquire_lease(calendar.id, utcnow()) is None
    runner.join(timeout=30)
    assert results == ["success"]
    db.session.expire_all()
    row = db.session.get(Calendar, calendar.id)
    assert row is not None and row.lease_token is None and row.lease_expires_at is None

"""History is pruned after its retention, in batches, oldest first; work and recent rows stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from webapp.extensions import Model, db, utcnow
from webapp.models import (
    Calendar,
    CalendarStateChange,
    DeliveryStatus,
    LoginThrottle,
    Project,
    SyncAttempt,
    WebhookAttempt,
    WebhookDelivery,
)
from webapp.retention import prune
from webapp.runtime.celery_app import celery_for
from webapp.webhooks import service as webhooks


def _count(model: type[Model]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def calendar(app: Flask, make_calendar: Any) -> Calendar:
    found = db.session.scalar(select(Calendar).where(Calendar.object_id == make_calendar()["id"]))
    assert found is not None
    return found


def _attempts(calendar: Calendar, ages_in_days: list[float]) -> None:
    now = utcnow()
    for age in ages_in_days:
        started = now - timedelta(days=age)
        db.session.add(
            SyncAttempt(
                calendar_id=calendar.id, started_at=started, finished_at=started, duration_ms=1, outcome="success"
            )
        )
    db.session.commit()


def test_attempts_and_state_changes_older_than_their_retention_go(app: Flask, calendar: Calendar) -> None:
    _attempts(calendar, [30, 20, 15, 13, 1])  # written in time order, as the sync engine does
    now = utcnow()
    for age in (100, 91, 10):
        db.session.add(
            CalendarStateChange(
                calendar_id=calendar.id, from_state="connected", to_state="disconnected",
                created_at=now - timedelta(days=age),
            )
        )  # fmt: skip
    db.session.commit()
    deleted = prune.prune(now)
    assert deleted["sync_attempt"] == 3 and deleted["calendar_state_change"] == 2
    assert _count(SyncAttempt) == 2 and _count(CalendarStateChange) == 1


def test_pruning_goes_in_batches_and_stops_at_recent_rows(
    app: Flask, calendar: Calendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prune, "BATCH", 3)
    monkeypatch.setattr(prune, "MAX_BATCHES", 3)
    _attempts(calendar, [20.0 - i * 0.01 for i in range(11)] + [1, 1])  # 11 old rows, 2 recent
    assert prune.prune(utcnow())["sync_attempt"] == 9  # three batches of three: the rest waits a minute
    assert prune.prune(utcnow())["sync_attempt"] == 2
    assert prune.prune(utcnow()).get("sync_attempt") == 0
    assert _count(SyncAttempt) == 2


def test_only_finished_webhook_deliveries_go_with_their_attempts(
    app: Flask, calendar: Calendar, project: Project
) -> None:
    webhooks.create_endpoint(project=project, url="https://hooks.example.com/x")
    old = utcnow() - timedelta(days=40)
    deliveries = webhooks.record(calendar, "calendar.state_change") + webhooks.record(calendar, "calendar.state_change")
    db.session.commit()
    done, pending = deliveries
    done.status, done.updated_at = DeliveryStatus.DELIVERED.value, old
    done.attempts.append(WebhookAttempt(attempted_at=old, status_code=200, latency_ms=5))
    pending.updated_at = old  # an endpoint paused for weeks: still work to do
    db.session.commit()
    assert prune.prune(utcnow())["webhook_delivery"] == 1
    assert [d.id for d in db.session.scalars(select(WebhookDelivery))] == [pending.id]
    assert _count(WebhookAttempt) == 0


def test_zero_days_keeps_everything_and_stale_login_throttles_go(app: Flask, calendar: Calendar) -> None:
    app.config["SYNC_ATTEMPT_RETENTION_DAYS"] = 0
    _attempts(calendar, [400])
    now = utcnow()
    db.session.add(LoginThrottle(client_key="ip:old", failure_count=3, window_start=now - timedelta(days=2)))
    db.session.add(LoginThrottle(client_key="ip:new", failure_count=3, window_start=now - timedelta(minutes=5)))
    db.session.commit()
    deleted = prune.prune(now)
    assert "sync_attempt" not in deleted and _count(SyncAttempt) == 1
    assert deleted["login_throttle"] == 1
    assert [t.client_key for t in db.session.scalars(select(LoginThrottle))] == ["ip:new"]


def test_the_scheduler_prunes_every_minute(app: Flask) -> None:
    entry = celery_for(app).conf.beat_schedule["prune-history"]
    assert entry == {"task": "retention.prune", "schedule": 60.0, "options": {"expires": 60}}

"""Requested syncs are recorded in the database and queued by the worker's dispatcher, once each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from webapp.celery_app import celery_for
from webapp.extensions import db, utcnow
from webapp.models import Calendar
from webapp.sync import dispatch, jobs
from webapp.sync.dispatch import REDISPATCH_AFTER


def _row(object_id: str) -> Calendar:
    db.session.expire_all()
    calendar = db.session.scalar(db.select(Calendar).where(Calendar.object_id == object_id))
    assert calendar is not None
    return calendar


def test_a_created_calendar_is_dispatched_once(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_requested(now) == [calendar.id]
    assert _row(calendar.object_id).sync_dispatched_at == now
    assert dispatch.claim_requested(now + timedelta(seconds=1)) == []  # queued already


def test_creating_a_calendar_queues_nothing_from_the_web_process(
    app: Flask, client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    """The request is the row; the web process does not even build its Celery app."""
    app.extensions.pop("celery", None)
    make_calendar()
    calendar_id = client.get("/api/v1/calendars", headers=auth).get_json()["results"][0]["id"]
    client.post(f"/api/v1/calendars/{calendar_id}/sync", headers=auth)
    client.patch(f"/api/v1/calendars/{calendar_id}", json={"metadata": {"a": "b"}}, headers=auth)
    client.delete(f"/api/v1/calendars/{calendar_id}", headers=auth)
    assert "celery" not in app.extensions


def test_oldest_request_first_and_only_due_ones(app: Flask, make_calendar: Any) -> None:
    first, second, later = (_row(make_calendar(deduplication_key=k)["id"]) for k in ("a", "b", "c"))
    now = utcnow()
    first.sync_requested_at = now - timedelta(seconds=5)
    second.sync_requested_at = now - timedelta(seconds=10)
    later.sync_requested_at = now + timedelta(seconds=2)  # a push notification's debounce
    db.session.commit()
    assert dispatch.claim_requested(now) == [second.id, first.id]
    assert dispatch.claim_requested(now + timedelta(seconds=2)) == [later.id]


def test_busy_or_backing_off_calendars_wait(app: Flask, make_calendar: Any) -> None:
    busy, backing_off = (_row(make_calendar(deduplication_key=k)["id"]) for k in ("busy", "backoff"))
    now = utcnow()
    assert jobs._acquire_lease(busy.id, now) is not None
    backing_off = _row(backing_off.object_id)
    backing_off.next_attempt_at = now + timedelta(seconds=30)
    db.session.commit()
    assert dispatch.claim_requested(now) == []
    assert dispatch.claim_requested(now + timedelta(seconds=31)) == [backing_off.id]


def test_a_sync_answers_the_request_and_a_new_request_is_dispatched_again(
    app: Flask, make_calendar: Any, monkeypatch: Any
) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_requested(now) == [calendar.id]
    # The sync clears both marks as it starts (the provider is not reachable here: it fails, retried later).
    monkeypatch.setitem(app.config, "GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token")
    jobs.sync_calendar(calendar.id, now=now)
    row = _row(calendar.object_id)
    assert row.sync_dispatched_at is None
    row.sync_requested_at, row.next_attempt_at = now + timedelta(seconds=1), None  # asked for again
    db.session.commit()
    assert dispatch.claim_requested(now + timedelta(seconds=1)) == [calendar.id]


def test_a_sync_that_finds_the_calendar_busy_leaves_the_request_for_later(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_requested(now) == [calendar.id]
    assert jobs._acquire_lease(calendar.id, now) is not None  # another sync runs
    assert jobs.sync_calendar(calendar.id, now=now).outcome == "skipped"
    row = _row(calendar.object_id)
    assert row.sync_requested_at is not None and row.sync_dispatched_at is None
    row.lease_token, row.lease_expires_at = None, None  # that sync ends
    db.session.commit()
    assert dispatch.claim_requested(now) == [calendar.id]


def test_a_lost_dispatch_is_repeated(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_requested(now) == [calendar.id]
    assert dispatch.claim_requested(now + REDISPATCH_AFTER - timedelta(seconds=1)) == []
    assert dispatch.claim_requested(now + REDISPATCH_AFTER + timedelta(seconds=1)) == [calendar.id]


def test_the_beat_dispatches_every_second(app: Flask) -> None:
    entry = celery_for(app).conf.beat_schedule["sync-requested-calendars"]
    assert entry["task"] == "sync.dispatch_requested" and entry["schedule"] == 1.0


def test_the_minute_sweep_leaves_just_dispatched_calendars_alone(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert calendar.id in jobs.due_calendar_ids(now)
    assert dispatch.claim_requested(now) == [calendar.id]
    assert calendar.id not in jobs.due_calendar_ids(now)
    assert calendar.id in jobs.due_calendar_ids(now + REDISPATCH_AFTER + timedelta(seconds=1))


def test_a_sync_that_died_leaves_its_request_and_is_dispatched_when_its_lease_runs_out(
    app: Flask, make_calendar: Any
) -> None:
    """A worker killed mid-sync: its calendar is queued again as soon as the lease expires, not after
    REDISPATCH_AFTER, and without waiting for the interval."""
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_requested(now) == [calendar.id]
    assert jobs._acquire_lease(calendar.id, now + timedelta(seconds=1)) is not None  # the sync starts … and dies
    lease_ends = now + timedelta(seconds=1 + app.config["SYNC_LEASE_SECONDS"])
    assert _row(calendar.object_id).sync_requested_at is not None
    assert dispatch.claim_requested(lease_ends - timedelta(seconds=1)) == []
    assert lease_ends < now + REDISPATCH_AFTER + timedelta(seconds=2)
    assert dispatch.claim_requested(lease_ends + timedelta(seconds=1)) == [calendar.id]
    row = _row(calendar.object_id)
    assert row.lease_token is None  # the dead lease went with the claim: the next tick does not claim it again
    assert dispatch.claim_requested(lease_ends + timedelta(seconds=2)) == []


def test_a_finished_sync_answers_only_older_requests(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    started = utcnow()
    for requested, remains in ((started - timedelta(seconds=1), False), (started + timedelta(seconds=1), True)):
        row = _row(calendar.object_id)
        row.sync_requested_at, row.sync_dispatched_at = requested, started
        db.session.commit()
        dispatch.answer_request(calendar.id, started)
        db.session.commit()
        row = _row(calendar.object_id)
        assert (row.sync_requested_at is not None) is remains and row.sync_dispatched_at is None

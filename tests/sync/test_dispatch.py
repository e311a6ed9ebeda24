"""Due syncs are recorded in the database (next_sync_at) and queued by the worker's dispatcher, once each."""

from __future__ import annotations

import heapq
import random
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.emulation import Provider
from tests.sync.conftest import MakeCalendar, google_refresh_token
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Platform
from webapp.runtime.celery_app import celery_for
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
    assert dispatch.claim_due(now) == [calendar.id]
    assert _row(calendar.object_id).sync_dispatched_at == now
    assert dispatch.claim_due(now + timedelta(seconds=1)) == []  # queued already


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


def test_earliest_due_first_and_only_due_ones(app: Flask, make_calendar: Any) -> None:
    first, second, later = (_row(make_calendar(deduplication_key=k)["id"]) for k in ("a", "b", "c"))
    now = utcnow()
    first.next_sync_at = now - timedelta(seconds=5)
    second.next_sync_at = now - timedelta(seconds=10)
    later.next_sync_at = now + timedelta(seconds=2)  # a push notification's debounce
    db.session.commit()
    assert dispatch.claim_due(now) == [second.id, first.id]
    assert dispatch.claim_due(now + timedelta(seconds=2)) == [later.id]


def test_busy_or_backing_off_calendars_wait(app: Flask, make_calendar: Any) -> None:
    busy, backing_off = (_row(make_calendar(deduplication_key=k)["id"]) for k in ("busy", "backoff"))
    now = utcnow()
    assert jobs._acquire_lease(busy.id, now) is not None
    backing_off = _row(backing_off.object_id)
    backing_off.next_attempt_at = now + timedelta(seconds=30)
    db.session.commit()
    assert dispatch.claim_due(now) == []
    assert dispatch.claim_due(now + timedelta(seconds=31)) == [backing_off.id]


def test_a_sync_answers_the_request_and_a_new_request_is_dispatched_again(
    app: Flask, make_calendar: Any, monkeypatch: Any
) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_due(now) == [calendar.id]
    # The sync clears both marks as it starts (the provider is not reachable here: it fails, retried later).
    monkeypatch.setitem(app.config, "GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token")
    jobs.sync_calendar(calendar.id, now=now)
    row = _row(calendar.object_id)
    assert row.sync_dispatched_at is None
    row.next_sync_at, row.next_attempt_at = now + timedelta(seconds=1), None  # asked for again
    db.session.commit()
    assert dispatch.claim_due(now + timedelta(seconds=1)) == [calendar.id]


def test_a_sync_that_finds_the_calendar_busy_leaves_the_request_for_later(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_due(now) == [calendar.id]
    assert jobs._acquire_lease(calendar.id, now) is not None  # another sync runs
    assert jobs.sync_calendar(calendar.id, now=now).outcome == "skipped"
    row = _row(calendar.object_id)
    assert row.next_sync_at is not None and row.sync_dispatched_at is None
    row.lease_token, row.lease_expires_at = None, None  # that sync ends
    db.session.commit()
    assert dispatch.claim_due(now) == [calendar.id]


def test_a_lost_dispatch_is_repeated(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_due(now) == [calendar.id]
    assert dispatch.claim_due(now + REDISPATCH_AFTER - timedelta(seconds=1)) == []
    assert dispatch.claim_due(now + REDISPATCH_AFTER + timedelta(seconds=1)) == [calendar.id]


def test_the_beat_dispatches_every_second_and_nothing_else_queues_syncs(app: Flask) -> None:
    schedule = celery_for(app).conf.beat_schedule
    assert schedule["sync-due-calendars"] == {
        "task": "sync.dispatch_due",
        "schedule": 1.0,
        "options": {"expires": 10, "run_in_scheduler": True},
    }
    assert not [e for e in schedule.values() if e["task"] == "sync.calendar"]


def test_the_beat_runs_the_dispatcher_itself_and_queues_only_the_syncs(
    app: Flask, make_calendar: Any, monkeypatch: Any
) -> None:
    """Queued, the dispatcher's tick waited behind the syncs it had queued, and workers ran dry."""
    from webapp.runtime.scheduler import LeasedScheduler

    calendar = _row(make_calendar()["id"])
    celery = celery_for(app)
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        celery.tasks["sync.calendar"], "apply_async", lambda args=(), **options: sent.append(("sync.calendar", args))
    )
    monkeypatch.setattr(
        celery.tasks["sync.dispatch_due"], "apply_async", lambda *a, **k: sent.append(("sync.dispatch_due", a))
    )
    scheduler = LeasedScheduler(app=celery, lazy=True)
    entry = scheduler.Entry(name="sync-due-calendars", app=celery, **celery.conf.beat_schedule["sync-due-calendars"])
    scheduler.apply_async(entry, advance=False)
    assert sent == [("sync.calendar", (calendar.id,))]
    assert _row(calendar.object_id).sync_dispatched_at is not None


def test_a_sync_that_died_leaves_its_request_and_is_dispatched_when_its_lease_runs_out(
    app: Flask, make_calendar: Any
) -> None:
    """A worker killed mid-sync: its calendar is queued again as soon as the lease expires, not after
    REDISPATCH_AFTER, and without waiting for the interval."""
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    assert dispatch.claim_due(now) == [calendar.id]
    assert jobs._acquire_lease(calendar.id, now + timedelta(seconds=1)) is not None  # the sync starts … and dies
    lease_ends = now + timedelta(seconds=1 + app.config["SYNC_LEASE_SECONDS"])
    assert _row(calendar.object_id).next_sync_at is not None
    assert dispatch.claim_due(lease_ends - timedelta(seconds=1)) == []
    assert lease_ends < now + REDISPATCH_AFTER + timedelta(seconds=2)
    assert dispatch.claim_due(lease_ends + timedelta(seconds=1)) == [calendar.id]
    row = _row(calendar.object_id)
    assert row.lease_token is None  # the dead lease went with the claim: the next tick does not claim it again
    assert dispatch.claim_due(lease_ends + timedelta(seconds=2)) == []


def test_a_finished_sync_keeps_a_request_made_during_it_and_else_sets_the_next_interval(
    app: Flask, make_calendar: Any
) -> None:
    calendar = _row(make_calendar()["id"])
    started = utcnow()
    interval = timedelta(minutes=app.config["SYNC_INTERVAL_MINUTES"])
    for due, expected in ((started - timedelta(seconds=1), None), (started + timedelta(seconds=1), "kept")):
        row = _row(calendar.object_id)  # the sync's copy, loaded as it starts
        # Meanwhile (another process), a request asks for a sync, or not: only the database knows.
        db.session.execute(
            update(Calendar).where(Calendar.id == row.id).values(next_sync_at=due, sync_dispatched_at=started)
        )
        dispatch.finish(row, started, dispatch.next_interval(started, started))
        db.session.commit()
        row = _row(calendar.object_id)
        assert row.sync_dispatched_at is None
        if expected == "kept":
            assert row.next_sync_at == due
        else:
            assert row.next_sync_at is not None
            assert started + interval * (1 - dispatch.INTERVAL_JITTER) <= row.next_sync_at <= started + interval


def test_no_calendar_is_queued_twice_by_concurrent_dispatchers(app: Flask, make_calendar: Any) -> None:
    """Two beats (or an orphan) tick at once: each calendar goes to exactly one of them."""
    ids = [_row(make_calendar(deduplication_key=f"k{i}")["id"]).id for i in range(30)]
    now = utcnow()
    results: list[list[int]] = []

    def tick() -> None:
        with app.app_context():
            results.append(dispatch.claim_due(now))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    if db.engine.url.get_backend_name() == "sqlite":  # in-memory SQLite: one database per thread
        threads = []
        results = [dispatch.claim_due(now) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [c for result in results for c in result]
    assert sorted(claimed) == sorted(ids)


def test_the_queue_never_holds_more_than_its_limit(app: Flask, make_calendar: Any) -> None:
    """A backlog stays in the database, due-time ordered, instead of growing the broker's queue."""
    app.config["SYNC_QUEUE_LIMIT"] = 5
    for i in range(12):
        make_calendar(deduplication_key=f"k{i}")
    now = utcnow()
    assert len(dispatch.claim_due(now)) == 5
    assert dispatch.claim_due(now) == []  # five queued, none started
    started = db.session.scalars(db.select(Calendar.id).where(Calendar.sync_dispatched_at.is_not(None))).all()
    for calendar_id in started[:3]:
        jobs._acquire_lease(calendar_id, now)  # three start: room for three more
    assert len(dispatch.claim_due(now)) == 3
    # Lost messages do not hold the queue forever.
    assert len(dispatch.claim_due(now + REDISPATCH_AFTER + timedelta(seconds=1))) == 5


def test_a_duplicate_message_finds_nothing_to_do(app: Flask, make_calendar: Any, monkeypatch: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    monkeypatch.setitem(app.config, "GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token")
    assert jobs.sync_if_due(calendar.id, now=now).outcome == "failure"  # retried after a backoff
    assert jobs.sync_if_due(calendar.id, now=now).outcome == "skipped"  # not due until then


def test_a_request_during_a_sync_and_push_debounce_share_one_clock(app: Flask, make_calendar: Any) -> None:
    calendar = _row(make_calendar()["id"])
    now = utcnow()
    row = _row(calendar.object_id)
    row.next_sync_at, row.last_attempted_sync_at = now + timedelta(minutes=30), now
    db.session.commit()
    assert dispatch.want_sync_at([calendar.id], now + timedelta(seconds=2)) == 1  # brought forward
    assert dispatch.want_sync_at([calendar.id], now + timedelta(seconds=3)) == 0  # one due sooner already
    row = _row(calendar.object_id)
    row.next_sync_at = now - timedelta(seconds=1)  # taken up by the sync that started at *now*
    db.session.commit()
    assert dispatch.want_sync_at([calendar.id], now + timedelta(seconds=2)) == 1  # a sync of its own
    assert _row(calendar.object_id).next_sync_at == now + timedelta(seconds=2)


def test_redis_carries_messages_without_ack_emulation(app: Flask) -> None:
    """The database, not kombu's unacked hash, queues again what a dead worker held (see celery_app)."""
    from webapp.runtime.celery_app import broker_settings

    for url in ("redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1"):
        app.config["CELERY_BROKER_URL"] = url
        assert broker_settings(app) == {"broker_url": url, "broker_transport_options": {"ack_emulation": False}}
    app.config["CELERY_BROKER_URL"] = "amqp://guest@127.0.0.1//"
    assert broker_settings(app) == {"broker_url": "amqp://guest@127.0.0.1//"}


# The next due time counts from when the calendar was due, not from when its (late) sync ran.
# Rows: minutes the sync ran after it was due -> minutes after the due time that the next one is due
# (jitter off, interval 30, MIN_GAP 3 minutes).
PHASE_ROWS = [
    (0, 30),  # on time: one interval
    (10, 30),  # late: still one interval after it was due, so 20 minutes after it ran
    (26.5, 30),  # due again 3.5 minutes after it ran: above the floor
    (28, 60),  # would be due 2 minutes after it ran: skips to the next turn of its cycle
    (5 * 60 + 1, 5 * 60 + 30),  # back after a five-hour outage: keeps its place, no sync in a row
]


@pytest.mark.parametrize(("late", "expected"), PHASE_ROWS)
def test_the_next_sync_keeps_the_calendars_place_in_the_cycle(
    app: Flask, monkeypatch: pytest.MonkeyPatch, late: float, expected: float
) -> None:
    monkeypatch.setattr(dispatch, "INTERVAL_JITTER", 0)
    due = utcnow()
    following = dispatch.next_interval(due + timedelta(minutes=late), due)
    assert following == due + timedelta(minutes=expected)


def test_the_next_sync_of_one_requested_ahead_of_time_counts_from_the_sync(app: Flask) -> None:
    """A sync run before its due time (``flask sync``, the dashboard's Sync now) is a new start."""
    now = utcnow()
    following = dispatch.next_interval(now, now + timedelta(minutes=20))
    interval = timedelta(minutes=app.config["SYNC_INTERVAL_MINUTES"])
    assert now + interval * (1 - dispatch.INTERVAL_JITTER) <= following <= now + interval


def test_jitter_only_ever_brings_the_next_sync_forward(app: Flask) -> None:
    due = utcnow()
    interval = timedelta(minutes=app.config["SYNC_INTERVAL_MINUTES"])
    for _ in range(200):
        following = dispatch.next_interval(due + timedelta(minutes=7), due)
        assert due + interval * (1 - dispatch.INTERVAL_JITTER) <= following <= due + interval


def test_a_late_sync_through_the_worker_is_due_one_interval_after_it_was_due(
    app: Flask, google: Provider, connect: MakeCalendar
) -> None:
    """End to end through real syncs (the emulator): a first sync starts the cycle when it runs
    (however long the calendar waited); a later one counts from when it was due."""
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    interval = timedelta(minutes=app.config["SYNC_INTERVAL_MINUTES"])
    created_due = utcnow() - timedelta(minutes=12)
    db.session.execute(update(Calendar).where(Calendar.id == calendar.id).values(next_sync_at=created_due))
    db.session.commit()
    now = utcnow()
    assert jobs.sync_if_due(calendar.id, now=now).outcome == "success"
    following = _row(calendar.object_id).next_sync_at
    assert following is not None
    assert now + interval * (1 - dispatch.INTERVAL_JITTER) <= following <= now + interval

    due = utcnow() - timedelta(minutes=12)
    db.session.execute(update(Calendar).where(Calendar.id == calendar.id).values(next_sync_at=due))
    db.session.commit()
    assert jobs.sync_if_due(calendar.id, now=utcnow()).outcome == "success"
    following = _row(calendar.object_id).next_sync_at
    assert following is not None
    assert due + interval * (1 - dispatch.INTERVAL_JITTER) <= following <= due + interval


def _simulate(app: Flask, phase_keeping: bool) -> tuple[float, float]:
    """A machine that does 3 syncs a second keeps 3,000 calendars at a 30-minute interval (demand
    1.7 a second), but their first syncs cost three times as much, so onboarding outlasts the
    interval (the shape of issue 19's 100,000-calendar run). Returns the largest gap between two
    syncs of a calendar in the last interval watched, and the largest number of calendars due in
    any one minute of it, in seconds and calendars."""
    interval_seconds, capacity, first_cost, calendars = 1800, 3, 3, 3000
    start = datetime(2026, 1, 1, tzinfo=utcnow().tzinfo)
    due: list[tuple[float, int]] = [(i / 5, i) for i in range(calendars)]  # created 5 a second
    heapq.heapify(due)
    synced: dict[int, list[float]] = {}
    horizon = 4 * interval_seconds + 600
    for second in range(horizon):
        budget = capacity
        while due and due[0][0] <= second and budget > 0:
            when, calendar = heapq.heappop(due)
            first = calendar not in synced
            budget -= first_cost if first else 1
            synced.setdefault(calendar, []).append(second)
            now = start + timedelta(seconds=second)
            base = start + timedelta(seconds=when) if phase_keeping and not first else None
            following = dispatch.next_interval(now, base)
            heapq.heappush(due, ((following - start).total_seconds(), calendar))
    watched_from = horizon - interval_seconds - 180
    gaps = []
    for times in synced.values():
        points = [t for t in times if t < watched_from][-1:] + [t for t in times if t >= watched_from] + [horizon]
        gaps.append(max(b - a for a, b in zip(points, points[1:], strict=False)))
    per_minute: dict[int, int] = {}
    for when, _ in due:
        per_minute[int(when // 60)] = per_minute.get(int(when // 60), 0) + 1
    return max(gaps), max(per_minute.values())


def test_a_backlog_drains_without_coming_due_again_all_together(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: with the next due time counted from when a sync ran, the re-syncs an onboarding
    leaves overdue, drained together at full speed, came due again together one interval later,
    more in a minute than the machine does. Counted from when each was due, no minute has more due
    than the machine does, and every gap stays within the interval plus two minutes."""
    monkeypatch.setattr(dispatch.random, "uniform", random.Random(19).uniform)
    app.config["SYNC_INTERVAL_MINUTES"] = 30
    largest_gap, busiest_minute = _simulate(app, phase_keeping=True)
    assert largest_gap <= 1800 + 120
    assert busiest_minute <= 3 * 60  # never more due in a minute than the machine does
    old_gap, old_busiest = _simulate(app, phase_keeping=False)  # the old rule, to show the test can fail
    assert old_busiest > 3 * 60  # (its gaps stay close to the bound here: the wave is only just too big)

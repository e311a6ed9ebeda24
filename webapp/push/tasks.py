"""Push tasks: the debounced sync a notification asks for, channel renewal and stops."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from flask import current_app
from sqlalchemy import select

from webapp.celery_app import enqueue
from webapp.extensions import db, utcnow
from webapp.models import Calendar
from webapp.models.push import PushChannel

# A push sync that finds the calendar busy (another sync holds its lease) tries again this often.
BUSY_RETRY_SECONDS = 5
BUSY_RETRIES = 24

BEAT_SCHEDULE = {
    "push-renew-expiring-channels": {"task": "push.renew_due", "schedule": 600.0},
    "push-stop-channels-of-deleted-calendars": {"task": "push.stop_channels", "schedule": 300.0},
}


# The job modules (providers, HTTP) are imported when a task runs: the web process registers
# these tasks only to queue them, and stays smaller without that code.
def register(celery: Celery) -> None:
    @celery.task(name="sync.calendar_push", shared=False)  # type: ignore[untyped-decorator]
    def sync_calendar_push(calendar_id: int, retries: int) -> None:
        from webapp.sync import jobs

        result = jobs.sync_calendar(calendar_id, now=utcnow())
        if result.outcome == "skipped" and retries < BUSY_RETRIES:
            calendar = db.session.get(Calendar, calendar_id)
            if calendar is not None and calendar.sync_requested_at is not None:
                enqueue("sync.calendar_push", calendar_id, retries + 1, countdown=BUSY_RETRY_SECONDS)

    @celery.task(name="push.renew_due", shared=False)  # type: ignore[untyped-decorator]
    def renew_due() -> None:
        """Channels close to expiry get a sync now; the sync renews them."""
        limit = utcnow() + timedelta(hours=current_app.config["PUSH_RENEW_BEFORE_HOURS"])
        ids = db.session.scalars(select(PushChannel.calendar_id).where(PushChannel.expires_at < limit).distinct())
        for calendar_id in ids:
            enqueue("sync.calendar", calendar_id)

    @celery.task(name="push.stop_channels", shared=False)  # type: ignore[untyped-decorator]
    def stop_channels() -> None:
        from webapp.push import service

        service.process_pending_stops()

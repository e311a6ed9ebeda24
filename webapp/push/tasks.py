"""Push tasks: channel renewal and stops (the syncs they ask for are dispatched by webapp.sync.dispatch)."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from flask import current_app
from sqlalchemy import select

from webapp.extensions import db, utcnow
from webapp.models.push import PushChannel
from webapp.sync import dispatch

BEAT_SCHEDULE = {
    "push-renew-expiring-channels": {"task": "push.renew_due", "schedule": 600.0},
    "push-stop-channels-of-deleted-calendars": {"task": "push.stop_channels", "schedule": 60.0},
}


# The job modules (providers, HTTP) are imported when a task runs: the web process registers
# these tasks only to queue them, and stays smaller without that code.
def register(celery: Celery) -> None:
    @celery.task(name="push.renew_due", shared=False)  # type: ignore[untyped-decorator]
    def renew_due() -> None:
        """Channels close to expiry get a sync now (through the dispatcher); the sync renews them."""
        now = utcnow()
        limit = now + timedelta(hours=current_app.config["PUSH_RENEW_BEFORE_HOURS"])
        ids = db.session.scalars(select(PushChannel.calendar_id).where(PushChannel.expires_at < limit).distinct())
        dispatch.want_sync_at(list(ids), now)

    @celery.task(name="push.stop_channels", shared=False)  # type: ignore[untyped-decorator]
    def stop_channels() -> None:
        from webapp.push import service

        service.process_pending_stops()

"""Thin Celery tasks: ids in, nothing out; the work lives in ``webapp.sync.jobs``."""

from __future__ import annotations

from celery import Celery

from webapp.celery_app import enqueue
from webapp.extensions import utcnow
from webapp.sync import dispatch

# How often requested syncs are looked for (webapp.sync.dispatch): the most a request waits.
DISPATCH_SECONDS = 1.0

# Every periodic job in one place.
BEAT_SCHEDULE = {
    # A tick still queued after 10 s (workers busy) is dropped: a later tick does the same work.
    "sync-requested-calendars": {
        "task": "sync.dispatch_requested",
        "schedule": DISPATCH_SECONDS,
        "options": {"expires": 10},
    },
    "sync-due-calendars": {"task": "sync.enqueue_due", "schedule": 60.0},
}


# The job modules (providers, HTTP) are imported when a task runs: the web process registers
# these tasks only to queue them, and stays smaller without that code.
def register(celery: Celery) -> None:
    @celery.task(name="sync.calendar", shared=False)  # type: ignore[untyped-decorator]
    def sync_calendar(calendar_id: int) -> None:
        from webapp.sync import jobs

        jobs.sync_calendar(calendar_id, now=utcnow())

    @celery.task(name="sync.enqueue_due", shared=False)  # type: ignore[untyped-decorator]
    def enqueue_due() -> None:
        from webapp.sync import jobs

        for calendar_id in jobs.due_calendar_ids(utcnow()):
            enqueue("sync.calendar", calendar_id)

    @celery.task(name="sync.dispatch_requested", shared=False)  # type: ignore[untyped-decorator]
    def dispatch_requested() -> None:
        for calendar_id in dispatch.claim_requested(utcnow()):
            enqueue("sync.calendar", calendar_id)

"""Thin Celery tasks: ids in, nothing out; the work lives in ``webapp.sync.jobs``."""

from __future__ import annotations

from celery import Celery

from webapp.extensions import utcnow
from webapp.runtime.celery_app import enqueue
from webapp.sync import dispatch

# How often due syncs are looked for (webapp.sync.dispatch): the most a request waits.
DISPATCH_SECONDS = 1.0

# Every periodic job in one place.
BEAT_SCHEDULE = {
    # Run by the beat itself (webapp.runtime.scheduler), never behind the syncs it queues; under another
    # scheduler, a tick still queued after 10 s (workers busy) is dropped: a later tick does the same.
    "sync-due-calendars": {
        "task": "sync.dispatch_due",
        "schedule": DISPATCH_SECONDS,
        "options": {"expires": 10, "run_in_scheduler": True},
    },
}


# The job modules (providers, HTTP) are imported when a task runs: the web process registers
# these tasks only to queue them, and stays smaller without that code.
def register(celery: Celery) -> None:
    @celery.task(name="sync.calendar", shared=False)  # type: ignore[untyped-decorator]
    def sync_calendar(calendar_id: int) -> None:
        from webapp.sync import jobs

        jobs.sync_if_due(calendar_id, now=utcnow())

    @celery.task(name="sync.dispatch_due", shared=False)  # type: ignore[untyped-decorator]
    def dispatch_due() -> None:
        for calendar_id in dispatch.claim_due(utcnow()):
            enqueue("sync.calendar", calendar_id)

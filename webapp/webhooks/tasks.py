"""Thin Celery tasks: ids in, nothing out; the work lives in ``webapp.webhooks.delivery``."""

from __future__ import annotations

from celery import Celery

from webapp.extensions import utcnow
from webapp.runtime.celery_app import enqueue

# Merged into ``celery.conf.beat_schedule`` when the Celery app is built (``celery_app.celery_for``).
BEAT_SCHEDULE = {
    # Sends what is due and was never queued, or whose attempt died with its worker; expires like
    # every periodic tick so that ticks do not pile up behind a backlog.
    "webhooks-sweep": {"task": "webhooks.sweep", "schedule": 15.0, "options": {"expires": 15}},
}


# The job modules (providers, HTTP) are imported when a task runs: the web process registers
# these tasks only to queue them, and stays smaller without that code.
def register(celery: Celery) -> None:
    @celery.task(name="webhooks.deliver", shared=False)  # type: ignore[untyped-decorator]
    def deliver(delivery_id: int) -> None:
        from webapp.webhooks import delivery

        delivery.deliver(delivery_id, now=utcnow())

    @celery.task(name="webhooks.sweep", shared=False)  # type: ignore[untyped-decorator]
    def sweep() -> None:
        """Re-enqueue due pending deliveries: a crash between commit and send only delays them."""
        from webapp.webhooks import delivery

        for delivery_id in delivery.due_delivery_ids(utcnow()):
            enqueue("webhooks.deliver", delivery_id)

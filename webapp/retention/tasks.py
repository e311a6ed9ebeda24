"""The pruning task, run by the beat every minute (the work lives in ``webapp.retention.prune``)."""

from __future__ import annotations

from celery import Celery

from webapp.extensions import utcnow

BEAT_SCHEDULE = {
    "prune-history": {"task": "retention.prune", "schedule": 60.0, "options": {"expires": 60}},
}


def register(celery: Celery) -> None:
    @celery.task(name="retention.prune", shared=False)  # type: ignore[untyped-decorator]
    def prune() -> None:
        from webapp.retention import prune

        prune.prune(utcnow())

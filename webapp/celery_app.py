"""Celery inside the app factory: every task runs in an app context; work is enqueued by task name."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


def broker_settings(app: Flask) -> dict[str, Any]:
    """``CELERY_BROKER_URL`` when set; otherwise an embedded broker on files under ``instance/``."""
    url = app.config.get("CELERY_BROKER_URL")
    if url:
        return {"broker_url": url}
    folder = Path(app.instance_path) / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://localhost//",  # a host name, or kombu warns at every start
        "broker_transport_options": {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.2,  # seconds between looks at the queue folder (latency of push syncs)
        },
    }


_building = threading.Lock()


def celery_for(app: Flask) -> Celery:
    """The app's Celery, built on first use. Web workers queue nothing (requested syncs are
    dispatched from the database, webapp.sync.dispatch), so most never load Celery at all."""
    celery: Celery | None = app.extensions.get("celery")
    if celery is None:
        with _building:
            celery = app.extensions.get("celery")
            if celery is None:
                celery = _build(app)
                app.extensions["celery"] = celery
    return celery


def _build(app: Flask) -> Celery:
    from celery import Celery, Task

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        task_ignore_result=True,
        task_acks_late=True,  # a worker that dies mid-task leaves the message for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_publish_retry=False,
        broker_connection_timeout=3,
        beat_schedule_filename=str(Path(app.instance_path) / "celerybeat-schedule"),
        timezone="UTC",
        **broker_settings(app),
    )
    celery.conf.update(app.config.get("CELERY", {}))
    celery.set_default()
    from webapp.push import tasks as push_tasks
    from webapp.sync import tasks as sync_tasks
    from webapp.webhooks import tasks as webhook_tasks

    schedule: dict[str, Any] = {}
    for module in (sync_tasks, webhook_tasks, push_tasks):
        module.register(celery)
        schedule.update(module.BEAT_SCHEDULE)
    celery.conf.beat_schedule = schedule
    from webapp.observability import worker

    worker.install(app)  # heartbeats, log format, task names on log lines, WORKER_METRICS_PORT
    return celery


def enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue task *name*; call only after the commit that makes its arguments exist.

    The intent is already in the database (``sync_requested_at``, pending rows), so a broker that is
    down only delays the work until the periodic sweep: it is logged, never raised to the caller.
    """
    celery = celery_for(current_app)
    try:
        celery.tasks[name].apply_async(args=args, countdown=countdown)
    except Exception:
        log.warning("could not queue %s%s; the periodic sweep will pick it up", name, args, exc_info=True)

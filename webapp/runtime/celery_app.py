"""Celery inside the app factory: every task runs in an app context; work is enqueued by task name."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


def broker_settings(app: Flask) -> dict[str, Any]:
    """``CELERY_BROKER_URL`` when set; otherwise the embedded broker (``webapp.runtime.embedded_broker``)."""
    url = app.config.get("CELERY_BROKER_URL")
    if url:
        settings: dict[str, Any] = {"broker_url": url}
        if str(url).startswith(("redis://", "rediss://", "redis+socket://")):
            settings["broker_transport_options"] = REDIS_TRANSPORT_OPTIONS
        return settings
    return embedded_broker_settings(Path(app.instance_path))


# kombu's Redis transport emulates acknowledgements: every message taken is copied to an "unacked"
# hash and index, and removed again when acked, from the worker's one consumer thread. That took
# as much of the worker's interpreter as the syncs themselves (bench/scale.py, py-spy), and buys
# nothing here: a message is restored only after its visibility timeout (an hour), while every
# sync and delivery a dead worker held is already queued again from the database within a minute
# (webapp.sync.dispatch, the webhook sweep), and a duplicate does nothing (leases, claims).
REDIS_TRANSPORT_OPTIONS = {"ack_emulation": False}


def embedded_broker_settings(instance_path: Path) -> dict[str, Any]:
    """Celery settings for the embedded broker: a SQLite file beside the app's own data."""
    instance_path.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": f"sqlite:///{instance_path / 'broker.sqlite'}",
        "broker_transport": "webapp.runtime.embedded_broker:Transport",
        # Seconds between looks at an empty queue: the most a queued task waits before it starts.
        "broker_transport_options": {"polling_interval": 0.2},
    }


# The service's Celery settings, whatever the broker (the broker torture test uses them too).
CELERY_SETTINGS: dict[str, Any] = {
    "task_ignore_result": True,
    "task_acks_late": True,  # a worker that dies mid-task leaves the message for another (where the broker can)
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
    "task_publish_retry": False,
    "broker_connection_timeout": 3,
    "timezone": "UTC",
    # Syncs and deliveries mostly wait on the network: threads give cheap concurrency (SYNC_CONCURRENCY).
    "worker_pool": "threads",
    # The beat keeps its schedule in memory (webapp.runtime.scheduler): every job is a short interval, and
    # no file is shared by two beats that start by mistake.
    "beat_scheduler": "webapp.runtime.scheduler:LeasedScheduler",
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
    celery.conf.update(CELERY_SETTINGS, worker_concurrency=app.config["SYNC_CONCURRENCY"], **broker_settings(app))
    celery.conf.update(app.config.get("CELERY", {}))
    celery.flask_app = app  # the beat's scheduler (webapp.runtime.scheduler) reaches the database through it
    celery.set_default()
    # The tasks come from the composition root (``webapp.register_tasks``, given by ``create_app``):
    # the task modules import this one to queue work, so it must not import them.
    register_tasks: Callable[[Celery], None] = app.extensions["celery_tasks"]
    register_tasks(celery)
    from webapp.observability import worker

    worker.install(app)  # heartbeats, log format, task names on log lines, WORKER_METRICS_PORT
    return celery


def enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue task *name*; call only after the commit that makes its arguments exist.

    The intent is already in the database (``next_sync_at``, pending rows), so a broker that is
    down only delays the work until the periodic sweep: it is logged, never raised to the caller.
    """
    celery = celery_for(current_app)
    try:
        celery.tasks[name].apply_async(args=args, countdown=countdown)
    except Exception:
        log.warning("could not queue %s%s; the periodic sweep will pick it up", name, args, exc_info=True)

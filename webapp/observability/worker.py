"""The Celery side: heartbeats, our log format, the task name on log lines, a metrics port in a scale-out.

A scale-out worker's ``PROMETHEUS_MULTIPROC_DIR`` is not emptied here (under ``flask serve`` the
folder is shared with gunicorn, which may already write to it; ``flask serve`` empties it before
starting either): files left by earlier processes keep their final counts, so counters stay
monotonic across restarts, as Prometheus expects.

``install`` connects Celery's signals once per process (``celery_app`` calls it when it builds the
Celery app). The worker writes the ``worker`` heartbeat from a daemon thread started when it is
ready; the ``scheduler`` heartbeat is written by the beat that holds the scheduler lease
(``webapp.runtime.scheduler``), also when it is embedded in the worker with ``--beat``.
"""

from __future__ import annotations

import hmac
import logging
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask

from webapp.extensions import db
from webapp.models import HeartbeatKind
from webapp.observability import logs, metrics
from webapp.observability.heartbeats import start_heartbeat

log = logging.getLogger("webapp.observability")

_installed = threading.Lock()
_state: dict[str, Any] = {}


def install(app: Flask) -> None:
    """Connect the signal receivers (idempotent: Celery's signals are process-wide)."""
    from celery import signals

    with _installed:
        if _state.get("app") is not None:
            _state["app"] = app
            return
        _state["app"] = app

    def setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
        # Connected at all, this replaces Celery's own logging set-up: one format for every process.
        level = logging.getLevelName(loglevel.upper()) if isinstance(loglevel, str) else loglevel
        logs.configure(str(_state["app"].config.get("LOG_FORMAT") or "text"), level or logging.INFO)

    def worker_ready(**_: Any) -> None:
        app = _state["app"]
        _state["worker_heartbeat"] = start_heartbeat(app, HeartbeatKind.WORKER)
        port = int(app.config.get("WORKER_METRICS_PORT") or 0)
        if port:
            _state["metrics_server"] = serve_worker_metrics(app, str(app.config["WORKER_METRICS_HOST"]), port)

    def worker_shutdown(**_: Any) -> None:
        for name in ("worker_heartbeat",):
            stop = _state.pop(name, None)
            if stop is not None:
                stop.set()
        server = _state.pop("metrics_server", None)
        if server is not None:
            server.shutdown()

    def beat_init(**_: Any) -> None:
        # An embedded beat is a forked process: connections of the parent must not be shared.
        app = _state["app"]
        with app.app_context():
            db.engine.dispose(close=False)
        # The scheduler's heartbeat is written by the beat that holds the scheduler lease, at each
        # renewal (webapp.runtime.scheduler): a standby beat is alive but schedules nothing.

    def task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        context = logs.bind(task=getattr(task, "name", None))
        context.__enter__()
        _state.setdefault("tasks", {})[task_id] = context

    def task_postrun(task_id: str | None = None, **_: Any) -> None:
        context = _state.setdefault("tasks", {}).pop(task_id, None)
        if context is not None:
            context.__exit__(None, None, None)

    receivers: list[tuple[Any, Callable[..., None]]] = [
        (signals.setup_logging, setup_logging),
        (signals.worker_ready, worker_ready),
        (signals.worker_shutdown, worker_shutdown),
        (signals.beat_init, beat_init),
        (signals.task_prerun, task_prerun),
        (signals.task_postrun, task_postrun),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False)


def clear_multiprocess_dir(folder: Path) -> None:
    """Multi-process mode's files are per process id: a new process family starts from an empty folder."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return  # scrapes every few seconds are not news


def metrics_wsgi_app(token: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """This process family's counters, behind the same bearer token as the web's ``/metrics``."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or not token:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        scheme, _, credential = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')]
            )
            return [b"Unauthorized\n"]
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE)])
        return [metrics.exposition(None)]

    return application


def serve_worker_metrics(app: Flask, host: str, port: int) -> WSGIServer:
    """Serve ``/metrics`` on ``WORKER_METRICS_PORT`` from a daemon thread (a scale-out's worker machine)."""
    token = str(app.config.get("METRICS_TOKEN") or "")
    if not token:
        log.warning("WORKER_METRICS_PORT is set but METRICS_TOKEN is not: the metrics port answers 404")
    server = make_server(host, port, metrics_wsgi_app(token), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    log.info("worker metrics on http://%s:%s/metrics", host, server.server_port)
    return server

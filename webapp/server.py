"""Serve an already-built app with gunicorn's production server (used by ``flask serve``)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from config import PROJECT_ROOT


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run_gunicorn(app: Flask, *, host: str, port: int, workers: int) -> None:
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "accesslog": "-",
            "timeout": 30,
            "graceful_timeout": 10,
        },
    ).run()


def start_celery_worker(concurrency: int) -> subprocess.Popen[bytes]:
    """A Celery worker with embedded beat, for one machine (scale-out runs them separately).

    Syncs and deliveries mostly wait on the network, so threads give cheap concurrency.
    """
    command = [
        sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--beat",
        "--loglevel", "INFO", "--pool", "threads", "--concurrency", str(concurrency),
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT)

"""What ``flask serve`` gives its children (gunicorn, the Celery worker) for metrics and logs.

One function for the environment (gunicorn reads its own settings from gunicorn.conf.py), so that
whoever starts the processes (``webapp.runtime.supervisor``) needs one call.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import current_app

from webapp.observability.worker import clear_multiprocess_dir


def metrics_dir() -> Path:
    """``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else ``instance/metrics``."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(configured) if configured else Path(current_app.instance_path) / "metrics"


def prepare_metrics_dir() -> None:
    """Empty the multi-process folder: counters start at zero with the new process family."""
    clear_multiprocess_dir(metrics_dir())


def child_environment() -> dict[str, str]:
    """The environment of every child: the shared metrics folder, so the web's /metrics adds up all of them."""
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir())}

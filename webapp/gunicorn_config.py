"""gunicorn's settings under ``flask serve`` (``--config python:webapp.gunicorn_config``)."""

from typing import Any

from webapp.server import die_with_parent

accesslog = "-"
timeout = 30
graceful_timeout = 10


def post_fork(server: Any, worker: Any) -> None:
    """A web worker dies with its master, even one killed with SIGKILL: no orphan keeps the port."""
    die_with_parent(server.pid)

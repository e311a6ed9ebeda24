"""gunicorn's settings, read from the project folder by ``flask serve`` and by a plain ``gunicorn wsgi:app``
(a scale-out's web machines).

- The access log goes through the logger that redacts connect tokens and OAuth values, in
  LOG_FORMAT (``webapp.observability.gunicorn``).
- Each web worker dies with its master, even one killed with SIGKILL: no orphan keeps the port.
"""

from typing import Any

from webapp.runtime.supervisor import die_with_parent

logger_class = "webapp.observability.gunicorn.Logger"
accesslog = "-"
timeout = 30
graceful_timeout = 10


def post_fork(server: Any, worker: Any) -> None:
    die_with_parent(server.pid)

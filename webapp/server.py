"""The processes ``flask serve`` runs on one machine: gunicorn for the web, a Celery worker with beat."""

from __future__ import annotations

import subprocess
import sys

from config import PROJECT_ROOT
from webapp.observability.processes import GUNICORN_ARGUMENTS, child_environment


def run_gunicorn(*, host: str, port: int, workers: int) -> None:
    """Serve ``wsgi:app`` with gunicorn in a child process, until it exits or Ctrl-C.

    A fresh process rather than a fork of this command: the web workers then import only what
    serving needs (no Alembic), and keep no state from the command line.
    """
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
        "--access-logfile", "-", "--timeout", "30", "--graceful-timeout", "10", *GUNICORN_ARGUMENTS, "wsgi:app",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_environment())
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a child to finish (SIGTERM), and kill it if it has not within 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_celery_worker(concurrency: int) -> subprocess.Popen[bytes]:
    """A Celery worker with embedded beat, for one machine (scale-out runs them separately).

    Syncs and deliveries mostly wait on the network, so threads give cheap concurrency.
    """
    command = [
        sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--beat",
        "--loglevel", "INFO", "--pool", "threads", "--concurrency", str(concurrency),
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_environment())

"""``flask serve`` on one machine: gunicorn, a Celery worker and a Celery beat, supervised.

- The listening socket is bound here, before anything starts, and handed to gunicorn
  (``fd://``): a port already taken is refused at once, with a clear message, and nothing runs.
- A worker or beat that exits is started again (after 1 s, doubling up to a minute while it keeps
  failing within a minute of its start), and every exit is logged with its status.
- If gunicorn exits, everything else is stopped and ``flask serve`` exits non-zero.
- No orphans: every child, and every gunicorn worker, gets a parent-death signal (Linux
  ``PR_SET_PDEATHSIG``), so even a SIGKILL of ``flask serve`` takes them all down at once. A
  SIGTERM or SIGINT stops them in order (SIGTERM, then SIGKILL after ``STOP_SECONDS``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config import PROJECT_ROOT
from webapp.observability.processes import child_environment

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_SECONDS = 10.0
POLL_SECONDS = 0.5
FIRST_RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 60.0
STABLE_SECONDS = 60.0  # a child that ran this long has recovered: its next exit restarts it quickly again


class PortInUse(RuntimeError):
    """The address ``flask serve`` was asked to listen on cannot be bound."""


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere a no-op).

    Called in a child between fork and exec (the setting survives exec), and in each gunicorn worker.
    If the parent already died before the call, exit now.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket gunicorn will serve on; PortInUse names the problem if it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise PortInUse(f"cannot serve on {host}:{port}: {exc.strerror}") from exc
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        hint = " (is another `flask serve` running? choose another --port)" if exc.errno == 98 else ""
        raise PortInUse(f"cannot serve on {host}:{port}: {exc.strerror}{hint}") from exc
    listener.set_inheritable(True)
    return listener


@dataclass
class Child:
    """One supervised process: how to start it, and its restart bookkeeping."""

    name: str
    command: list[str]
    restart: bool
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    failures: int = 0  # exits in a row, each within STABLE_SECONDS of its start
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        parent = os.getpid()
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            pass_fds=self.pass_fds,
            process_group=0,  # Ctrl-C reaches only `flask serve`, which stops the children in order
            preexec_fn=lambda: die_with_parent(parent),
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %s)", self.name, self.process.pid)

    def exited(self) -> int | None:
        """The exit status, once, when the process has just exited; None while it runs."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def schedule_restart(self, now: float) -> float:
        self.failures = self.failures + 1 if now - self.started_at < STABLE_SECONDS else 1
        delay = min(MAX_RESTART_SECONDS, FIRST_RESTART_SECONDS * 2.0 ** (self.failures - 1))
        self.restart_at = now + delay
        return delay


def describe(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def _stop_all(children: list[Child]) -> None:
    """SIGTERM to each running child, then SIGKILL to any still running after STOP_SECONDS."""
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn(listener: socket.socket, workers: int) -> Child:
    command = [  # its settings come from gunicorn.conf.py in the project folder
        sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}", "--workers", str(workers), "wsgi:app",
    ]  # fmt: skip
    return Child("gunicorn", command, restart=False, pass_fds=(listener.fileno(),))


def celery_worker(concurrency: int | None) -> Child:
    """A thread pool of SYNC_CONCURRENCY threads (webapp.runtime.celery_app), unless *concurrency* says otherwise."""
    command = [
        sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return Child("celery worker", command, restart=True)


def celery_beat() -> Child:
    """The scheduler; it sends periodic work only while it holds the database lease (webapp.runtime.scheduler)."""
    command = [sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "beat", "--loglevel", "INFO"]
    return Child("celery beat", command, restart=True)


def supervise(children: list[Child], *, should_stop: Callable[[], bool]) -> int:
    """Run until asked to stop (exit 0) or until a child that is not restarted exits (exit 1)."""
    for child in children:
        child.start()
    try:
        while not should_stop():
            now = time.monotonic()
            for child in children:
                status = child.exited()
                if status is not None:
                    if not child.restart:
                        log.error("%s (pid %s) exited (%s): stopping everything", child.name, _pid(child),
                                  describe(status))  # fmt: skip
                        return 1
                    delay = child.schedule_restart(now)
                    log.error("%s (pid %s) exited (%s); restarting it in %.0f s (%s exit%s in a row)", child.name,
                              _pid(child), describe(status), delay, child.failures,
                              "" if child.failures == 1 else "s")  # fmt: skip
                elif child.restart_at is not None and now >= child.restart_at:
                    child.start()
            time.sleep(POLL_SECONDS)
        return 0
    finally:
        _stop_all(children)


def _pid(child: Child) -> int | None:
    return child.process.pid if child.process is not None else None


def serve(listener: socket.socket, *, workers: int, with_worker: bool, worker_concurrency: int | None) -> int:
    """Start gunicorn on *listener* (and the worker and beat), supervise them; returns the exit status."""
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        if not stop_requested:
            log.info("received %s: stopping", signal.Signals(signum).name)
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    children = [gunicorn(listener, workers)]
    if with_worker:
        children += [celery_worker(worker_concurrency), celery_beat()]
    for child in children:  # the shared metrics folder: the web's /metrics adds up every process
        child.env = child_environment()
    try:
        return supervise(children, should_stop=lambda: bool(stop_requested))
    finally:
        listener.close()

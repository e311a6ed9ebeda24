"""``flask serve`` supervises what it starts: restarts, a taken port, and no survivors whatever kills it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.faults.conftest import APPLICATION_NAME, Service, processes_of, start_service, wait_for
from webapp.runtime import supervisor


def test_a_taken_port_is_refused_before_anything_starts(fault_env: dict[str, str], instance: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        started = time.monotonic()
        busy = start_service(fault_env, instance, port=taken.getsockname()[1])
        status = busy.process.wait(timeout=30)
    assert status != 0
    assert time.monotonic() - started < 15
    assert "Address already in use" in busy.log(), busy.log()
    assert "started" not in busy.log()  # neither gunicorn nor a worker nor a beat
    assert processes_of(instance) == {}


def test_a_killed_worker_or_beat_is_restarted_and_said_so(service: Service) -> None:
    for needle, name in (("wsgi:celery_app worker", "celery worker"), ("wsgi:celery_app beat", "celery beat")):
        [victim] = wait_for(lambda needle=needle: service.pids(needle), 30)
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda needle=needle, victim=victim: [p for p in service.pids(needle) if p != victim], 5)
        assert replaced, f"no new {name} within 5 s:\n{service.log()[-2000:]}"
        assert f"{name} (pid {victim}) exited (killed by SIGKILL); restarting it in 1 s" in service.log()
    assert service.process.poll() is None


def test_sigkill_of_serve_leaves_no_process_behind(service: Service, instance: Path) -> None:
    assert wait_for(lambda: len(service.pids("gunicorn")) >= 2 and service.worker_pid(), 30)  # master + worker
    service.process.kill()
    service.process.wait()
    assert wait_for(lambda: not processes_of(instance), 10) is True, processes_of(instance)


def test_sigterm_of_serve_stops_everything(service: Service, instance: Path) -> None:
    assert wait_for(lambda: service.worker_pid(), 30)
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=30) == 0
    assert processes_of(instance) == {}


def test_when_gunicorn_dies_serve_stops_everything_and_fails(service: Service, instance: Path) -> None:
    [master] = [pid for pid, cmd in processes_of(instance).items() if "gunicorn" in cmd and _is_master(pid)]
    os.kill(master, signal.SIGKILL)
    assert service.process.wait(timeout=30) == 1
    assert "gunicorn (pid" in service.log() and "stopping everything" in service.log()
    assert wait_for(lambda: not processes_of(instance), 10) is True, processes_of(instance)


def _is_master(pid: int) -> bool:
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return "flask" in Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace")


def test_a_child_that_keeps_failing_is_restarted_with_growing_delays(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A real process that exits at once: restarted after 1 s, then 2 s, then 4 s; never a tight loop."""
    starts = tmp_path / "starts"
    crasher = supervisor.Child(
        "crasher",
        [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"],
        restart=True,
    )
    deadline = time.monotonic() + 6.5
    with caplog.at_level(logging.INFO, logger="webapp.runtime.supervisor"):
        assert supervisor.supervise([crasher], should_stop=lambda: time.monotonic() > deadline) == 0
    assert starts.read_text() == "xxx"  # at 0 s, ~1.5 s and ~4 s; the next would be at ~8 s
    exits = [r.getMessage() for r in caplog.records if "exited" in r.getMessage()]
    assert exits[:3] == [
        f"crasher (pid {pid}) exited (exit status 3); restarting it in {delay} s ({n} exit{'s' * (n > 1)} in a row)"
        for pid, delay, n in zip(_pids(exits), (1, 2, 4), (1, 2, 3), strict=False)
    ]


def _pids(lines: list[str]) -> list[str]:
    return [line.split("(pid ")[1].split(")")[0] for line in lines]


def test_restart_delays_double_to_a_minute_and_reset_after_a_stable_run() -> None:
    child = supervisor.Child("c", ["true"], restart=True)
    delays = [child.schedule_restart(now=child.started_at) for _ in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    child.started_at = 0.0
    assert child.schedule_restart(now=supervisor.STABLE_SECONDS + 1) == 1


@requires_postgres
def test_no_process_of_the_service_leaves_a_transaction_open(service: Service) -> None:
    """An open transaction keeps PostgreSQL from vacuuming every row updated after it began: the
    supervisor's start-up checks once held one for its whole life (bench/scale.py: 89 % dead rows)."""
    import psycopg

    time.sleep(4)  # the worker and the beat have started, run their first ticks and heartbeats
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        stuck = connection.execute(
            "SELECT pid, state, now() - xact_start, left(query, 120) FROM pg_stat_activity"
            " WHERE application_name = %s AND xact_start < now() - interval '3 seconds'",
            (APPLICATION_NAME,),
        ).fetchall()
    assert stuck == []

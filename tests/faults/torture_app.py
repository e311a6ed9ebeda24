"""A Celery app for the broker torture test: the service's Celery settings and broker, one task.

``TORTURE_BROKER`` picks the broker: ``embedded`` (the service's default, under
``TORTURE_FOLDER``), ``filesystem`` (kombu's stock transport, for comparison) or a broker URL.
``record(n)`` appends ``n`` to ``TORTURE_LOG``: the test reads that file to see which tasks ran.

Run as a producer: ``python -m tests.faults.torture_app produce FIRST COUNT THREADS``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery

from config import PROJECT_ROOT
from webapp.runtime.celery_app import CELERY_SETTINGS, embedded_broker_settings


def broker(kind: str, folder: Path) -> dict[str, Any]:
    if kind == "embedded":
        return embedded_broker_settings(folder)
    if kind == "filesystem":
        queue = folder / "queue"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "broker_url": "filesystem://",
            "broker_transport_options": {
                "data_folder_in": str(queue),
                "data_folder_out": str(queue),
                "processed_folder": str(folder / "processed"),
                "control_folder": str(folder / "control"),
                "store_processed": False,
                "polling_interval": 0.2,
            },
        }
    return {"broker_url": kind}


app = Celery("torture")
app.conf.update(
    {k: v for k, v in CELERY_SETTINGS.items() if not k.startswith("beat_")},
    **broker(os.environ.get("TORTURE_BROKER", "embedded"), Path(os.environ.get("TORTURE_FOLDER", "."))),
)


@app.task(name="torture.record")  # type: ignore[untyped-decorator]
def record(n: int) -> None:
    with open(os.environ["TORTURE_LOG"], "a") as handle:  # one short O_APPEND write: atomic
        handle.write(f"{n}\n")


def produce(first: int, count: int, threads: int, pause_us: int) -> None:
    """Send tasks first … first+count-1 from *threads* threads at once, each pausing *pause_us*
    microseconds between two sends (so that a fast consumer meets messages just being written);
    exit non-zero on any error."""
    errors: list[BaseException] = []
    per_thread = -(-count // threads)

    def send(start: int, stop: int) -> None:
        try:
            for n in range(start, stop):
                record.apply_async(args=(n,))
                time.sleep(pause_us / 1e6)
        except BaseException as exc:  # reported below: a producer must not fail silently
            errors.append(exc)

    workers = [
        threading.Thread(target=send, args=(s, min(s + per_thread, first + count)))
        for s in range(first, first + count, per_thread)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        print(f"producer errors: {errors[:3]!r}", file=sys.stderr)  # noqa: T201
        sys.exit(1)


@dataclass
class Result:
    sent: int
    ran: set[int]
    runs: int
    producers_failed: int
    worker_exit: int | None  # None: still running at the end, as it must be
    seconds: float
    worker_log: str

    @property
    def lost(self) -> int:
        return self.sent - len(self.ran)


def run(
    kind: str, folder: Path, *, producers: int, per_producer: int, threads: int, timeout: float, pause: float = 0.0
) -> Result:
    """Start a worker, then *producers* processes sending at once; wait until every task ran or *timeout*."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "ran.log"
    env = {**os.environ, "TORTURE_BROKER": kind, "TORTURE_FOLDER": str(folder), "TORTURE_LOG": str(log)}
    worker_log = folder / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "tests.faults.torture_app", "worker", "--pool", "threads",
        "--concurrency", "4", "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ]  # fmt: skip
    started = time.monotonic()
    with worker_log.open("wb") as handle:
        worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        senders = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.faults.torture_app",
                    "produce",
                    str(p * per_producer),
                    str(per_producer),
                    str(threads),
                    str(int(pause * 1e6)),
                ],
                cwd=PROJECT_ROOT,
                env=env,
            )  # fmt: skip
            for p in range(producers)
        ]
        failed = sum(1 for sender in senders if sender.wait(timeout=timeout) != 0)
        sent = producers * per_producer
        deadline = started + timeout
        lines: list[str] = []
        while time.monotonic() < deadline and worker.poll() is None:
            lines = log.read_text().split() if log.exists() else []
            if len(set(lines)) >= sent:
                break
            time.sleep(0.5)
        lines = log.read_text().split() if log.exists() else []
        exit_code = worker.poll()
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    return Result(
        sent=sent,
        ran={int(n) for n in lines},
        runs=len(lines),
        producers_failed=failed,
        worker_exit=exit_code,
        seconds=time.monotonic() - started,
        worker_log=worker_log.read_text(errors="replace"),
    )


if __name__ == "__main__" and sys.argv[1:2] == ["produce"]:
    produce(*(int(a) for a in sys.argv[2:6]))

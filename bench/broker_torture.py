"""Broker torture (issue 14): several producer processes and one worker, each broker in turn.

    .venv/bin/python bench/broker_torture.py [--producers 4] [--per-producer 750] [--threads 3]
                                             [--brokers embedded,filesystem] [--timeout 180]

Each producer process sends its share of ``torture.record(n)`` tasks from several threads at once
while a real Celery worker (threads pool, the service's Celery settings) consumes them; the task
appends ``n`` to a file. Reported per broker: tasks sent, tasks that never ran, duplicate runs,
failed producers, whether the worker was still running at the end, and the time until the last
task ran. The same harness is the test ``tests/faults/test_broker_torture.py`` (embedded broker).
``redis://127.0.0.1:6379/15`` (or any broker URL) can be named in ``--brokers`` too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _venv  # noqa: F401, I001  (first: re-runs this script under .venv when needed)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults import torture_app  # noqa: E402


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--per-producer", type=int, default=750)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--brokers", default="embedded,filesystem")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--pause", type=float, default=0.002, help="seconds between two sends of a thread")
    args = parser.parse_args()
    say("| broker | sent | never ran | duplicate runs | failed producers | worker at the end | seconds |")
    say("|---|---:|---:|---:|---:|---|---:|")
    ok = True
    for kind in args.brokers.split(","):
        with tempfile.TemporaryDirectory() as folder:
            r = torture_app.run(
                kind, Path(folder), producers=args.producers, per_producer=args.per_producer,
                threads=args.threads, timeout=args.timeout, pause=args.pause,
            )  # fmt: skip
        worker = "running" if r.worker_exit is None else f"exited ({r.worker_exit})"
        duplicates = r.runs - len(r.ran)
        say(f"| {kind} | {r.sent} | {r.lost} | {duplicates} | {r.producers_failed} | {worker} | {r.seconds:.1f} |")
        if kind == "embedded":
            ok = ok and r.lost == 0 and r.worker_exit is None and r.producers_failed == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

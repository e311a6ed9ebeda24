"""What the observability hooks cost one request, measured A/B in one process. Not run in CI.

    python bench/metrics_overhead.py [--requests 20000] [--rounds 5]

The same app serves ``GET /healthz`` through its WSGI callable, alternately with the request-id and
metrics hooks (``webapp.observability``) and with them removed, in prometheus-client's
multi-process mode (as under ``flask serve``). Interleaving the two in rounds cancels most of a
shared machine's noise; the difference of the medians is the hooks' cost per request (CPU time of
this process, ``time.process_time``).
"""

from __future__ import annotations

import _venv  # noqa: F401  (first: re-runs this script under .venv when needed)

# isort: split
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(line: str) -> None:
    """print() for a command-line tool (the project's lint forbids print in library code)."""
    sys.stdout.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics_overhead_")
    sys.path.insert(0, str(ROOT))
    from config import TestConfig
    from webapp import create_app, observability

    app = create_app(TestConfig)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": sys.stderr,
    }  # fmt: skip
    before = list(app.before_request_funcs[None])
    after = list(app.after_request_funcs[None])
    hooks_before = [f for f in before if f is observability._start_request]
    hooks_after = [f for f in after if f is observability._finish_request]
    assert hooks_before and hooks_after

    def run(with_hooks: bool) -> float:
        app.before_request_funcs[None] = before if with_hooks else [f for f in before if f not in hooks_before]
        app.after_request_funcs[None] = after if with_hooks else [f for f in after if f not in hooks_after]
        started = time.process_time()
        for _ in range(args.requests):
            for _chunk in app.wsgi_app(dict(environ), lambda status, headers, exc_info=None: None):
                pass
        return (time.process_time() - started) / args.requests * 1e6

    run(True), run(False)  # warm-up
    on, off = [], []
    for _ in range(args.rounds):
        on.append(run(True))
        off.append(run(False))
    median_on, median_off = statistics.median(on), statistics.median(off)
    say(f"GET /healthz through the WSGI app, {args.rounds} rounds of {args.requests} requests, multi-process mode")
    say(f"  without the hooks: {median_off:6.1f} µs CPU per request (rounds: {', '.join(f'{v:.1f}' for v in off)})")
    say(f"  with the hooks:    {median_on:6.1f} µs CPU per request (rounds: {', '.join(f'{v:.1f}' for v in on)})")
    say(f"  cost of the hooks: {median_on - median_off:6.1f} µs per request")


if __name__ == "__main__":
    main()

"""The CPU one API request costs in the web process, in-process and without a server. Not run in CI.

    python bench/request_cost.py [--requests 2000] [--profile] [--scenario detail]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/request_cost.py --requests N

Where ``bench/api.py`` measures the service under gunicorn and ``wrk`` (its figures move with the
machine's load), this calls the WSGI app directly with prepared environs, on a fresh PostgreSQL
database (``bench_cost_<pid>`` on 127.0.0.1:5432), and reports CPU time per request of each
scenario (``time.process_time``), or with ``--profile`` the functions that take it (cProfile,
sorted by cumulative time). Under ``valgrind --tool=callgrind`` instruction counts do not depend
on the load at all: run it twice with two ``--requests`` and divide the difference in ``Collected``
by the difference in requests (``--scenario`` picks one).
"""

from __future__ import annotations

import _venv  # noqa: F401  (first: re-runs this script under .venv when needed)

# isort: split
import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = f"bench_cost_{os.getpid()}"
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(statement)


def _environ(method: str, path: str, token: str, body: bytes = b"") -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative or tottime")
    parser.add_argument("--scenario", action="append", help="detail, dedup, page, create, events (default: all)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench_cost_"))
    (workdir / "metrics").mkdir()
    from cryptography.fernet import Fernet

    os.environ.pop("APP_ENV", None)
    os.environ.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{DATABASE}",
        INSTANCE_PATH=str(workdir),
        SECRET_KEY="bench-secret-key",
        CREDENTIALS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        API_CREATE_RATE_LIMIT="100000000 per minute",
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"),
    )
    sys.path.insert(0, str(ROOT))
    _admin(f'CREATE DATABASE "{DATABASE}"')
    try:
        return _run(args)
    finally:
        from webapp.extensions import db

        try:
            db.engine.dispose()
        except Exception:  # no app context left: the engine was never made
            pass
        _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _run(args: argparse.Namespace) -> int:
    from webapp import create_app
    from webapp.extensions import db
    from webapp.projects import service as projects

    app = create_app(migrations=False)
    with app.app_context():
        db.create_all()
        _, token = projects.create_project(name="bench")
    call: Callable[[dict[str, Any]], tuple[str, bytes]]

    def call(environ: dict[str, Any]) -> tuple[str, bytes]:
        status: list[str] = []
        body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        return status[0], body

    created = [json.loads(call(_environ("POST", "/api/v1/calendars", token, _body(i)))[1]) for i in range(30)]
    detail, dedup = created[0]["id"], created[1]["deduplication_key"]
    counter = iter(range(100, 10**9))
    scenarios: dict[str, Callable[[], dict[str, Any]]] = {
        "detail": lambda: _environ("GET", f"/api/v1/calendars/{detail}", token),
        "dedup": lambda: _environ("GET", f"/api/v1/calendars?deduplication_key={dedup}", token),
        "page": lambda: _environ("GET", "/api/v1/calendars", token),
        "create": lambda: _environ("POST", "/api/v1/calendars", token, _body(next(counter))),
        "events": lambda: _environ("GET", f"/api/v1/calendar_events?calendar_id={detail}", token),
    }
    chosen = args.scenario or list(scenarios)
    for name in chosen:
        make = scenarios[name]
        for _ in range(50):  # warm: statement caches, pools, lazily built things
            status, body = call(make())
            assert status[:3] in ("200", "201"), (name, status, body[:200])
        environs = [make() for _ in range(args.requests)]
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        for environ in environs:
            call(environ)
        if profiler:
            profiler.disable()
        spent = time.process_time() - started
        sys.stdout.write(f"{name:8} {spent / args.requests * 1e6:8.1f} µs CPU per request ({args.requests} requests)\n")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(60)
            sys.stdout.write(out.getvalue())
    return 0


def _body(number: int) -> bytes:
    return json.dumps(
        {
            "platform": "google",
            "client_id": "123456789-abc.apps.googleusercontent.com",
            "client_secret": "GOCSPX-secret",
            "refresh_token": "1//04refresh-token-value",
            "deduplication_key": f"bench-{number}",
            "metadata": {"tenant": str(number)},
        }
    ).encode()


if __name__ == "__main__":
    sys.exit(main())

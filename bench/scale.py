"""Scale benchmark (issue 19): N calendars kept fresh by the real service against a slow provider.

    .venv/bin/python bench/scale.py [--calendars 1000] [--latency-ms 100] [--events 20]
                                    [--interval-minutes 30] [--observe-minutes 33]
                                    [--backend embedded|postgres] [--worker-processes 1] [--concurrency N]

1. The emulator runs in its own process (``flask emulator run``), seeded with N Google users, each
   with ``--events`` events in the sync window; a refresh token per user comes from the
   (auto-approved) consent flow. Every provider call then gets ``--latency-ms`` of added latency.
2. The service runs as documented: ``--backend embedded`` is ``flask serve`` on its defaults (SQLite
   and the embedded broker in a temporary instance folder); ``--backend postgres`` is the scale-out
   layout on this machine: ``flask serve --without-worker`` (web), ``--worker-processes`` ×
   ``celery worker`` and one ``celery beat``, on a fresh PostgreSQL database ``bench_scale_<pid>`` and
   Redis database 13.
3. N calendars are created through the API (8 client threads). Reported for the onboarding: the
   time until every calendar has had its first successful sync, and syncs run per calendar until then.
4. Then, with ``--settle-minutes`` (0 by default), the script first waits until the backlog an
   onboarding longer than the interval leaves has drained (no sync waiting more than 30 s since it
   came due, by the service's own backlog figure; a steady-state measurement should not count the
   backlog), then that many minutes; the service is
   watched for ``--observe-minutes`` (by default the interval plus three minutes). Reported: the
   steady re-sync rate, each calendar's largest gap between two successful syncs over the window
   (p50, p99, max; a calendar not synced in the window counts the whole window),
   failures, CPU seconds per sync of each process (from /proc), and the database size per calendar.

The numbers are of this machine only; the README quotes them with its size. Exit status 1 when a
sync failed or a calendar was never synced.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import _venv  # noqa: F401, I001  (first: re-runs this script under .venv when needed)
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
REDIRECT_URI = "http://127.0.0.1:9/callback"
SCOPES = "openid email https://www.googleapis.com/auth/calendar.readonly"
REDIS_URL = "redis://127.0.0.1:6379/13"
OVERDUE = timedelta(seconds=30)  # "the backlog has drained": no sync waiting longer than this since it came due


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes(marker: str) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


def role(cmdline: str) -> str:
    for needle, name in (("gunicorn", "web (gunicorn)"), (" worker", "celery worker"), (" beat", "celery beat")):
        if needle in cmdline:
            return name
    return "flask serve" if "serve" in cmdline else "other"


def postgres_backends() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "postgres"]


def _comm(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return ""


class Emulator:
    def __init__(self, folder: Path) -> None:
        self.google_port, self.microsoft_port = free_port(), free_port()
        self.base = f"http://127.0.0.2:{self.google_port}"
        command = [
            sys.executable, "-m", "flask", "emulator", "run", "--auto-approve",
            "--google-port", str(self.google_port), "--microsoft-port", str(self.microsoft_port),
        ]  # fmt: skip
        with (folder / "emulator.log").open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        wait_until(lambda: requests.get(self.base + "/.well-known/openid-configuration", timeout=2).ok, 60, "emulator")
        self.session = requests.Session()

    def control(self, name: str, payload: dict[str, Any]) -> Any:
        response = self.session.post(f"{self.base}/__emulator__/{name}", json=payload, timeout=600)
        response.raise_for_status()
        return response.json()

    def settings(self) -> dict[str, str]:
        from emulator.servers import service_settings

        return service_settings(self.base, f"http://127.0.0.3:{self.microsoft_port}")

    def refresh_token(self, email: str) -> str:
        with requests.Session() as session:
            authorize = session.get(
                f"{self.base}/o/oauth2/v2/auth",
                params={
                    "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPES,
                    "access_type": "offline", "prompt": "consent", "state": "s", "login_hint": email,
                },
                allow_redirects=False, timeout=60,
            )  # fmt: skip
            code = parse_qs(urlparse(authorize.headers["Location"]).query)["code"][0]
            token = session.post(
                f"{self.base}/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                      "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                timeout=60,
            )  # fmt: skip
            return str(token.json()["refresh_token"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def seed(emulator: Emulator, calendars: int, events: int) -> list[str]:
    emulator.control("seed", {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                           "redirect_uris": [REDIRECT_URI]}]})  # fmt: skip
    emails = [f"user{n}@bench.example" for n in range(calendars)]
    now = datetime.now(UTC)
    for first in range(0, calendars, 500):
        batch = emails[first : first + 500]
        items = [
            {"user": email, "summary": f"Meeting {i}", "start": _at(now, i), "end": _at(now, i, 0.5)}
            for email in batch
            for i in range(events)
        ]
        emulator.control("seed", {"users": [{"email": e} for e in batch], "events": items})
    return emails


def _at(now: datetime, i: int, extra_hours: float = 0.0) -> str:
    return (now + timedelta(hours=2 + i * 7 + extra_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calendars", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval-minutes", type=int, default=30)
    parser.add_argument("--observe-minutes", type=float, default=None)
    parser.add_argument(
        "--settle-minutes", type=float, default=0, help="wait this long after onboarding before observing"
    )
    parser.add_argument("--backend", choices=("embedded", "postgres"), default="embedded")
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=None, help="threads per worker (default SYNC_CONCURRENCY)")
    parser.add_argument("--onboarding-timeout-minutes", type=float, default=60)
    args = parser.parse_args()
    observe = timedelta(minutes=args.observe_minutes or args.interval_minutes + 3)
    folder = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    instance = folder / "instance"
    instance.mkdir()
    database = f"bench_scale_{os.getpid()}"
    children: list[subprocess.Popen[bytes]] = []
    emulator = Emulator(folder)
    try:
        started = time.monotonic()
        emails = seed(emulator, args.calendars, args.events)
        with ThreadPoolExecutor(16) as pool:
            tokens = list(pool.map(emulator.refresh_token, emails))
        say(f"seeded {len(emails)} users with {args.events} events each and got their tokens "
            f"in {time.monotonic() - started:.0f} s")  # fmt: skip

        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "APP_ENV")},
            **emulator.settings(),
            "INSTANCE_PATH": str(instance),
            "SYNC_INTERVAL_MINUTES": str(args.interval_minutes),
            "API_CREATE_RATE_LIMIT": "100000 per minute",
        }
        if args.concurrency:
            env["SYNC_CONCURRENCY"] = str(args.concurrency)
        port = free_port()
        if args.backend == "postgres":
            import psycopg
            import redis

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{database}"')
            env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
            env["CELERY_BROKER_URL"] = REDIS_URL
            redis.Redis.from_url(REDIS_URL).flushdb()
            subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                           capture_output=True)  # fmt: skip
            commands = [[sys.executable, "-m", "flask", "serve", "--port", str(port), "--without-worker"]]
            commands += [[sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--loglevel", "WARNING",
                          "--without-gossip", "--without-mingle", "--hostname", f"w{n}@%h"]
                         for n in range(args.worker_processes)]  # fmt: skip
            commands += [[sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "beat", "--loglevel", "WARNING"]]
        else:
            commands = [[sys.executable, "-m", "flask", "serve", "--port", str(port)]]
        for n, command in enumerate(commands):
            with (folder / f"process-{n}.log").open("wb") as log:
                children.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(base + "/api/v1/openapi.json", timeout=2).ok, 120, "the service")
        created = subprocess.run([sys.executable, "-m", "flask", "projects", "create", "Scale"], cwd=ROOT, env=env,
                                 check=True, capture_output=True, text=True)  # fmt: skip
        key = json.loads(created.stdout)["api_key"]
        emulator.control("fail", {"route": "*", "latency_ms": args.latency_ms, "times": 10**9})

        from config import normalize_database_url
        from webapp import create_app
        from webapp.extensions import db

        app = create_app(
            migrations=False,
            SQLALCHEMY_DATABASE_URI=normalize_database_url(env["DATABASE_URL"])
            if "DATABASE_URL" in env
            else f"sqlite:///{instance / 'app.db'}",
        )
        cpu_before = _cpu(str(instance), args.backend == "postgres")

        onboarding_started = datetime.now(UTC)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {key}"

        def create(n: int) -> None:
            body = {"platform": "google", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                    "refresh_token": tokens[n], "deduplication_key": f"user-{n}"}  # fmt: skip
            response = session.post(base + "/api/v1/calendars", json=body, timeout=60)
            if response.status_code != 201:
                raise SystemExit(f"create failed: {response.status_code} {response.text[:300]}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(args.calendars)))
        created_in = (datetime.now(UTC) - onboarding_started).total_seconds()
        say(f"created {args.calendars} calendars through the API in {created_in:.0f} s")

        with app.app_context():
            deadline = time.monotonic() + args.onboarding_timeout_minutes * 60
            synced = 0
            while time.monotonic() < deadline:
                synced = _scalar(db, "SELECT count(*) FROM calendar WHERE last_successful_sync_at IS NOT NULL")
                if synced >= args.calendars:
                    break
                time.sleep(5)
            onboarded = datetime.now(UTC)
            onboarding_attempts = _scalar(db, "SELECT count(*) FROM sync_attempt")
            took = (onboarded - onboarding_started).total_seconds()
            say(f"onboarding: {synced}/{args.calendars} synced after {took:.0f} s, "
                f"{onboarding_attempts / args.calendars:.3f} syncs per calendar")  # fmt: skip
            window_start = onboarded
            if args.settle_minutes:  # an onboarding longer than the interval leaves a backlog to drain first
                drained = _drain(db, timeout=args.onboarding_timeout_minutes * 60)
                say(f"backlog: nothing more than {OVERDUE.total_seconds():.0f} s overdue "
                    f"{(drained - onboarded).total_seconds():.0f} s after onboarding")  # fmt: skip
                time.sleep(args.settle_minutes * 60)
                window_start = datetime.now(UTC)
            cpu_onboarded = _cpu(str(instance), args.backend == "postgres")
            time.sleep(observe.total_seconds())
            window_end = datetime.now(UTC)
            cpu_end = _cpu(str(instance), args.backend == "postgres")
            report = _steady(db, window_start, window_end, args.calendars)
            size = _database_size(db, env, instance)
            tables = _table_health(db) if args.backend == "postgres" else []
        ok = synced == args.calendars and report["failures"] == 0
        _print(args, created_in, onboarding_started, onboarded, onboarding_attempts, report, size,
               cpu_before, cpu_onboarded, cpu_end, observe)  # fmt: skip
        for line in tables:
            say(line)
        return 0 if ok else 1
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        emulator.stop()
        if args.backend == "postgres":
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        say(f"logs kept in {folder}")


def _drain(db: Any, timeout: float) -> datetime:
    """Wait until no sync has waited more than OVERDUE since it came due (the service's own backlog
    figure, as ``/readyz`` and ``/metrics`` report it): the re-syncs that came due while first syncs
    still ran (an onboarding longer than the interval) have been done."""
    from webapp.observability.status import sync_backlog

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        oldest = sync_backlog(datetime.now(UTC)).oldest_seconds
        db.session.commit()
        if oldest is None or oldest <= OVERDUE.total_seconds():
            break
        time.sleep(5)
    return datetime.now(UTC)


def _scalar(db: Any, sql: str, **params: Any) -> int:
    from sqlalchemy import text

    value = db.session.execute(text(sql), params).scalar()
    db.session.commit()
    return int(value or 0)


def _cpu(marker: str, with_postgres: bool) -> dict[str, float]:
    """CPU seconds so far per role of the service's processes, and of all PostgreSQL backends."""
    totals: dict[str, float] = {}
    for pid, cmdline in processes(f"INSTANCE_PATH={marker}").items():
        try:
            totals[role(cmdline)] = totals.get(role(cmdline), 0.0) + cpu_seconds(pid)
        except OSError:
            continue
    for pid in postgres_backends() if with_postgres else []:
        try:
            totals["postgresql"] = totals.get("postgresql", 0.0) + cpu_seconds(pid)
        except OSError:
            continue
    return totals


def _steady(db: Any, start: datetime, end: datetime, calendars: int) -> dict[str, Any]:
    from sqlalchemy import select

    from webapp.models import SyncAttempt

    rows = db.session.execute(
        select(SyncAttempt.calendar_id, SyncAttempt.started_at, SyncAttempt.outcome).order_by(
            SyncAttempt.calendar_id, SyncAttempt.started_at
        )
    ).all()
    db.session.commit()
    failures = sum(1 for r in rows if r.outcome != "success")
    by_calendar: dict[int, list[datetime]] = {}
    for calendar_id, started_at, outcome in rows:
        if outcome == "success":
            by_calendar.setdefault(calendar_id, []).append(started_at)
    gaps = []
    in_window = 0
    for times in by_calendar.values():
        before = [t for t in times if t < start]
        inside = [t for t in times if start <= t <= end]
        in_window += len(inside)
        points = ([before[-1]] if before else [start]) + inside + [end]
        gaps.append(max((b - a).total_seconds() for a, b in zip(points, points[1:], strict=False)))
    gaps += [(end - start).total_seconds()] * (calendars - len(by_calendar))
    gaps.sort()
    pick = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))] if gaps else 0.0  # noqa: E731
    seconds = (end - start).total_seconds()
    return {"failures": failures, "rate": in_window / seconds, "syncs": in_window,
            "p50": pick(0.5), "p99": pick(0.99), "max": gaps[-1] if gaps else 0.0}  # fmt: skip


def _database_size(db: Any, env: dict[str, str], instance: Path) -> float:
    if "DATABASE_URL" in env:
        return float(_scalar(db, "SELECT pg_database_size(current_database())"))
    return float(sum(p.stat().st_size for p in instance.glob("app.db*")))


def _table_health(db: Any) -> list[str]:
    """How close the busiest tables are to their live size (pgstattuple: exact, it reads every page),
    and how many of their updates PostgreSQL did in place (HOT: no index entry, no new page)."""
    from sqlalchemy import text

    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
    lines = [
        "",
        "| table | size | live tuples | dead tuples | free space | updates in place (HOT) |",
        "|---|---|---|---|---|---|",
    ]
    for table in ("calendar", "sync_attempt", "calendar_event"):
        row = db.session.execute(text(f"SELECT * FROM pgstattuple('{table}')")).mappings().one()
        stat = db.session.execute(
            text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
        ).one()
        hot = (
            f"{100 * stat.n_tup_hot_upd / stat.n_tup_upd:.0f} % of {stat.n_tup_upd}" if stat.n_tup_upd else "no updates"
        )
        lines.append(
            f"| {table} | {row['table_len'] / 2**20:.1f} MiB | {row['tuple_percent']:.0f} % | "
            f"{row['dead_tuple_percent']:.0f} % | {row['free_percent']:.0f} % | {hot} |"
        )
    db.session.commit()
    return lines


def _print(args: Any, created_in: float, onboarding_started: datetime, onboarded: datetime, attempts: int,
           report: dict[str, Any], size: float, cpu0: dict[str, float], cpu1: dict[str, float],
           cpu2: dict[str, float], observe: timedelta) -> None:  # fmt: skip
    n = args.calendars
    say("")
    say(f"| bench/scale.py | {args.backend}, {n} calendars, latency {args.latency_ms} ms, interval "
        f"{args.interval_minutes} min, {args.worker_processes} worker process(es) |")  # fmt: skip
    say("|---|---|")
    say(f"| creates through the API | {created_in:.0f} s ({n / max(created_in, 1e-9):.0f}/s) |")
    say(f"| every calendar synced once after | {(onboarded - onboarding_started).total_seconds():.0f} s |")
    say(f"| syncs per calendar during onboarding | {attempts / n:.3f} |")
    minutes = observe.total_seconds() / 60
    say(f"| re-syncs per second over the {minutes:.0f} min after onboarding | {report['rate']:.1f} "
        f"(steady demand: {n / (args.interval_minutes * 60):.1f}/s) |")  # fmt: skip
    target = args.interval_minutes * 60 + 120
    say(f"| largest gap between two syncs per calendar: p50 / p99 / max | {report['p50']:.0f} / "
        f"{report['p99']:.0f} / {report['max']:.0f} s (target p99 ≤ {target} s) |")  # fmt: skip
    say(f"| failures | {report['failures']} |")
    say(f"| database size per calendar | {size / n / 1024:.1f} KiB |")
    steady_syncs = max(report["syncs"], 1)
    for name in sorted(set(cpu2) | set(cpu0)):
        onboarding = cpu1.get(name, 0.0) - cpu0.get(name, 0.0)
        steady = cpu2.get(name, 0.0) - cpu1.get(name, 0.0)
        say(f"| CPU of {name}: onboarding / steady, per sync | {onboarding:.0f} s / {steady:.0f} s, "
            f"{1000 * steady / steady_syncs:.1f} ms |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

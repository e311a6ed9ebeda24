"""Sync engine benchmark (issue 4, item 7): throughput under provider latency, and the no-change resync cost.

    .venv/bin/python bench/sync.py [--postgres] [--calendars 48] [--threads 1,8,32] [--latency-ms 50]
                                   [--sizes 10,1000,10000]

Everything runs in this process, on loopback:

* the emulated providers start in threads (Google on 127.0.0.2, Microsoft on 127.0.0.3, free ports);
* the app is ``create_app(TestConfig, ...)`` on a fresh SQLite file in a temporary folder, or with
  ``--postgres`` on a fresh PostgreSQL database ``bench_sync_<pid>`` on 127.0.0.1:5432 (user
  ``postgres``); the migrations create the schema. The connection pool is sized to the largest
  thread count, so that threads wait on the database, not on the pool.

Part 1, throughput: for each concurrency level, ``--calendars`` fresh emulated Google users (one
primary calendar and three events each) get a refresh token through the auto-approved consent flow
and a calendar through ``webapp.calendars.service.create_calendar``. Then every provider call gets
``--latency-ms`` of added latency (``POST /__emulator__/fail`` on route ``*``) and the calendars are
synced by a ``ThreadPoolExecutor`` of that many threads, each thread in its own app context around
``jobs.sync_calendar``: once (first sync: full listing) and once more (incremental resync by
syncToken). Reported: calendars per second, failures (any outcome but ``success``, or an exception,
e.g. SQLite's "database is locked"), provider calls per calendar (from the emulator's request log)
and the per-calendar latency.

SQLite keeps one writer at a time in one file; the 8- and 32-thread figures are meant to be read
from ``--postgres`` (the documented way to get them). The SQLite run still reports what it sees.

Part 2, no-change resync: without added latency, one calendar per size with that many events spread
over the sync window (seeded in batches through ``POST /__emulator__/seed``); a first sync, then a
second with nothing changed. For the second sync: provider calls (``SyncResult.provider_calls`` and
the emulator's request log), SQL statements (a ``before_cursor_execute`` listener on ``db.engine``)
and wall time. Both counts must be the same for every size.

Exit status 1 when a sync failed or the resync cost is not flat. The temporary folder, the
PostgreSQL database and the emulators are removed on exit, Ctrl-C included.
"""

from __future__ import annotations

import _venv  # noqa: F401  (first: re-runs this script under .venv when needed)

# isort: split
import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
CLIENT_ID = "bench-sync-client.apps.example"
CLIENT_SECRET = "bench-sync-secret"
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
GOOGLE_SCOPES = "openid email https://www.googleapis.com/auth/calendar.readonly"
EVENTS_PER_THROUGHPUT_CALENDAR = 3
SEED_BATCH = 1000
HTTP_TIMEOUT = 60.0
MAX_CALENDARS = 256
MAX_THREADS = 64
MAX_EVENTS = 20_000


def say(*parts: object, file: Any = None) -> None:
    """print() for a command-line tool (the project's lint forbids print in library code)."""
    stream = file or sys.stdout
    stream.write(" ".join(str(p) for p in parts) + "\n")
    stream.flush()


# --------------------------------------------------------------------------- database


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # cleanup must not hide the original error
        say(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


class StatementCounter:
    """Counts SQL statements sent on one engine while ``active``."""

    def __init__(self) -> None:
        self.count = 0
        self.seen: list[str] = []
        self.active = False
        self.lock = threading.Lock()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active:
            with self.lock:
                self.count += 1
                self.seen.append(" ".join(statement.split())[:70])

    def start(self) -> None:
        with self.lock:
            self.count = 0
            self.seen = []
        self.active = True

    def stop(self) -> int:
        self.active = False
        return self.count


# --------------------------------------------------------------------------- emulator


class Emulated:
    """The emulated Google provider, through its public endpoints and its control API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def control(self, name: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.base}/__emulator__/{name}", json=payload or {}, timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            raise RuntimeError(f"emulator {name}: {response.status_code} {response.text[:500]}")
        return response.json()

    def last_call_id(self) -> int:
        calls = self.calls_since(0)
        return int(calls[-1]["id"]) if calls else 0

    def calls_since(self, since: int) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base}/__emulator__/calls", params={"since": since}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return list(response.json()["calls"])

    def refresh_token(self, email: str) -> str:
        """Consent (auto-approved) and code exchange, as the browser flow would do."""
        authorize = self.http.get(
            f"{self.base}/o/oauth2/v2/auth",
            params={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": GOOGLE_SCOPES,
                "access_type": "offline",
                "prompt": "consent",
                "state": "s",
                "login_hint": email,
            },
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
        location = authorize.headers.get("Location", "")
        code = parse_qs(urlparse(location).query).get("code", [""])[0]
        if not code:
            raise RuntimeError(f"consent for {email} gave no code: {authorize.status_code} {location!r}")
        token = self.http.post(
            f"{self.base}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            timeout=HTTP_TIMEOUT,
        )
        if token.status_code != 200:
            raise RuntimeError(f"code exchange for {email}: {token.status_code} {token.text[:500]}")
        return str(token.json()["refresh_token"])

    def seed_user_with_events(self, email: str, count: int, now: datetime, window: tuple[datetime, datetime]) -> None:
        """One user (its primary calendar) and *count* 30-minute events spread evenly over the window."""
        self.control("seed", {"users": [{"email": email, "name": email.split("@")[0]}]})
        start, end = window
        # Keep clear of the window edges so that no event straddles them.
        first = max(start, now) + timedelta(hours=1)
        span = (end - timedelta(hours=2)) - first
        step = span / max(count, 1)
        for batch_start in range(0, count, SEED_BATCH):
            events = []
            for i in range(batch_start, min(batch_start + SEED_BATCH, count)):
                begins = first + step * i
                events.append(
                    {
                        "user": email,
                        "summary": f"Bench event {i}",
                        "start": _z(begins),
                        "end": _z(begins + timedelta(minutes=30)),
                        "attendees": [{"email": email}, {"email": f"guest{i % 7}@example.com"}],
                    }
                )
            self.control("seed", {"events": events})


def _z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- measurements


@dataclass
class SyncRun:
    threads: int
    label: str
    calendars: int
    seconds: float
    successes: int
    failures: int
    provider_calls: int
    latencies_ms: list[float]
    cpu_seconds: float
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.calendars / self.seconds if self.seconds else 0.0


@dataclass
class ResyncCost:
    events: int
    first_created: int
    first_calls: int
    first_statements: int
    first_seconds: float
    outcome: str
    result_calls: int
    logged_calls: int
    logged_routes: list[str]
    statements: int
    statement_texts: list[str]
    seconds: float
    changed: int


def sync_one(app: Any, calendar_id: int) -> tuple[Any, float]:
    """One sync in this thread's own app context; an exception is returned, not raised."""
    from webapp.extensions import utcnow
    from webapp.sync import jobs

    started = time.perf_counter()
    try:
        with app.app_context():
            outcome: Any = jobs.sync_calendar(calendar_id, now=utcnow())
    except Exception as exc:  # reported as a failure
        outcome = exc
    return outcome, (time.perf_counter() - started) * 1000


def sync_many(app: Any, google: Emulated, calendar_ids: list[int], threads: int, label: str) -> SyncRun:
    before = google.last_call_id()
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"sync{threads}")
    try:
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = list(executor.map(lambda cid: sync_one(app, cid), calendar_ids))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    errors: Counter[str] = Counter()
    successes = 0
    for outcome, _ in outcomes:
        if isinstance(outcome, Exception):
            errors[f"{type(outcome).__name__}: {str(outcome).splitlines()[0][:160]}"] += 1
        elif outcome.outcome == "success":
            successes += 1
        else:
            errors[f"outcome {outcome.outcome}: {outcome.error_code}"] += 1
    logged = len(google.calls_since(before))
    return SyncRun(
        threads=threads,
        label=label,
        calendars=len(calendar_ids),
        seconds=seconds,
        successes=successes,
        failures=len(calendar_ids) - successes,
        provider_calls=logged,
        latencies_ms=[ms for _, ms in outcomes],
        cpu_seconds=cpu,
        errors=errors,
    )


def make_calendars(app: Any, google: Emulated, project_id: int, emails: list[str]) -> list[int]:
    from webapp.calendars.service import create_calendar
    from webapp.extensions import db
    from webapp.models import Platform, Project

    tokens = [google.refresh_token(email) for email in emails]
    ids = []
    with app.app_context():
        project = db.session.get(Project, project_id)
        assert project is not None
        for email, token in zip(emails, tokens, strict=True):
            calendar = create_calendar(
                project=project,
                platform=Platform.GOOGLE,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                refresh_token=token,
                deduplication_key=email,
            )
            ids.append(calendar.id)
    return ids


def throughput(app: Any, google: Emulated, project_id: int, args: argparse.Namespace) -> list[SyncRun]:
    from webapp.extensions import utcnow
    from webapp.sync.jobs import sync_window

    with app.app_context():
        now = utcnow()
        window = sync_window(now)
    batches: dict[int, list[int]] = {}
    for threads in args.threads:
        emails = [f"tp{threads}-u{i}@bench.example" for i in range(args.calendars)]
        for email in emails:
            google.seed_user_with_events(email, EVENTS_PER_THROUGHPUT_CALENDAR, now, (window.start, window.end))
        batches[threads] = make_calendars(app, google, project_id, emails)
    say(
        f"part 1: {len(args.threads)} x {args.calendars} calendars ready; adding {args.latency_ms} ms per provider call"
    )
    google.control("fail", {"route": "*", "latency_ms": args.latency_ms, "times": 1_000_000})
    runs = []
    try:
        for threads in args.threads:
            for label in ("first sync", "resync"):
                run = sync_many(app, google, batches[threads], threads, label)
                runs.append(run)
                say(
                    f"  {threads:>2} threads, {label:<10}: {run.rate:7.2f} calendars/s, "
                    f"{run.failures}/{run.calendars} failed"
                )
    finally:
        google.control("fail/clear")
    return runs


def resync_cost(app: Any, google: Emulated, project_id: int, sizes: list[int], counter: StatementCounter) -> list[Any]:
    from webapp.extensions import utcnow
    from webapp.sync.jobs import sync_window

    with app.app_context():
        now = utcnow()
        window = sync_window(now)
    costs = []
    for size in sizes:
        email = f"size{size}@bench.example"
        seeding = time.perf_counter()
        google.seed_user_with_events(email, size, now, (window.start, window.end))
        (calendar_id,) = make_calendars(app, google, project_id, [email])
        say(f"  {size:,} events seeded in {time.perf_counter() - seeding:.1f} s")
        measured = []
        for _ in ("first", "no-change"):
            before = google.last_call_id()
            counter.start()
            result, ms = sync_one(app, calendar_id)
            statements = counter.stop()
            logged = google.calls_since(before)
            if isinstance(result, Exception) or result.outcome != "success":
                raise RuntimeError(f"sync of the {size}-event calendar did not succeed: {result!r}")
            measured.append((result, ms, statements, logged, list(counter.seen)))
        (first, first_ms, first_sql, first_log, _), (second, ms, sql, log, texts) = measured
        costs.append(
            ResyncCost(
                events=size,
                first_created=first.created,
                first_calls=len(first_log),
                first_statements=first_sql,
                first_seconds=first_ms / 1000,
                outcome=second.outcome,
                result_calls=second.provider_calls,
                logged_calls=len(log),
                logged_routes=[str(c["route"]) for c in log],
                statements=sql,
                statement_texts=texts,
                seconds=ms / 1000,
                changed=second.created + second.updated + second.deleted,
            )
        )
    return costs


# --------------------------------------------------------------------------- tables


def markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join(lines)


def throughput_table(runs: list[SyncRun]) -> str:
    header = [
        "threads",
        "run",
        "calendars",
        "wall s",
        "calendars/s",
        "failures",
        "calls/calendar",
        "p50 ms",
        "max ms",
        "process CPU",
    ]
    rows = [
        [
            str(r.threads),
            r.label,
            str(r.calendars),
            f"{r.seconds:.2f}",
            f"{r.rate:.2f}",
            f"{r.failures} ({r.failures / r.calendars:.0%})",
            f"{r.provider_calls / r.calendars:.2f}",
            f"{statistics.median(r.latencies_ms):.0f}",
            f"{max(r.latencies_ms):.0f}",
            f"{r.cpu_seconds / r.seconds:.0%}",
        ]
        for r in runs
    ]
    return markdown(header, rows)


def resync_table(costs: list[ResyncCost]) -> str:
    header = [
        "events",
        "first: created",
        "first: calls",
        "first: SQL",
        "first: s",
        "resync: calls (result)",
        "resync: calls (log)",
        "resync: SQL",
        "resync: ms",
        "resync: changed",
    ]
    rows = [
        [
            f"{c.events:,}",
            f"{c.first_created:,}",
            str(c.first_calls),
            str(c.first_statements),
            f"{c.first_seconds:.2f}",
            str(c.result_calls),
            str(c.logged_calls),
            str(c.statements),
            f"{c.seconds * 1000:.0f}",
            str(c.changed),
        ]
        for c in costs
    ]
    return markdown(header, rows)


# --------------------------------------------------------------------------- main


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers")
    return values


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--calendars", type=int, default=48, help="calendars per concurrency level (default 48)")
    parser.add_argument("--threads", type=int_list, default=[1, 8, 32], help="concurrency levels (default 1,8,32)")
    parser.add_argument("--latency-ms", type=int, default=50, help="added latency per provider call (default 50)")
    parser.add_argument("--sizes", type=int_list, default=[10, 1000, 10000], help="events per calendar, part 2")
    args = parser.parse_args()
    if not 1 <= args.calendars <= MAX_CALENDARS:
        parser.error(f"--calendars must be between 1 and {MAX_CALENDARS}")
    if max(args.threads) > MAX_THREADS:
        parser.error(f"--threads must be at most {MAX_THREADS}")
    if max(args.sizes) > MAX_EVENTS:
        parser.error(f"--sizes must be at most {MAX_EVENTS}")
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    return args


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="bench_sync_"))
    database = f"bench_sync_{os.getpid()}"
    created = False
    emulators = None
    app = None
    try:
        (workdir / "instance").mkdir()
        os.environ["INSTANCE_PATH"] = str(workdir / "instance")
        sys.path.insert(0, str(ROOT))
        from flask_migrate import upgrade
        from sqlalchemy import event

        from config import TestConfig
        from emulator.servers import start_emulators
        from webapp import create_app
        from webapp.extensions import db
        from webapp.projects.service import create_project

        if args.postgres:
            create_database(database)
            created = True
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        else:
            url = f"sqlite:///{workdir / 'bench.db'}"
        emulators = start_emulators()
        app = create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=url,
            SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": max(args.threads), "max_overflow": 8},
        )
        app.config.update(emulators.settings())
        import logging

        logging.getLogger().setLevel(logging.WARNING)  # create_app sets INFO; keep warnings and errors
        counter = StatementCounter()
        with app.app_context():
            upgrade()
            project, _ = create_project(name="bench-sync")
            project_id = project.id
            event.listen(db.engine, "before_cursor_execute", counter)
        google = Emulated(emulators.google_url)
        google.control(
            "seed",
            {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}]},
        )
        google.control("settings", {"auto_approve": True})
        backend = "PostgreSQL" if args.postgres else "SQLite (one file)"
        say(f"database: {backend}; emulator: Google at {emulators.google_url}")

        runs = throughput(app, google, project_id, args)
        say(f"part 2: no-change resync for {', '.join(f'{s:,}' for s in args.sizes)} events (no added latency)")
        costs = resync_cost(app, google, project_id, args.sizes, counter)

        say()
        say(
            f"Throughput ({backend}; {args.latency_ms} ms added to every provider call; "
            f"{args.calendars} Google calendars per level, {EVENTS_PER_THROUGHPUT_CALENDAR} events each)"
        )
        say()
        say(throughput_table(runs))
        say()
        for run in runs:
            for message, count in run.errors.most_common(5):
                say(f"  {run.threads} threads, {run.label}: {count} x {message}")
        failed = sum(r.failures for r in runs)
        say(f"{'OK  ' if failed == 0 else 'FAIL'} failures: {failed} of {sum(r.calendars for r in runs)} syncs")
        say()
        say(f"No-change resync cost ({backend}; second sync of an unchanged calendar, no added latency)")
        say()
        say(resync_table(costs))
        say()
        routes = {c.events: Counter(c.logged_routes) for c in costs}
        for size, counted in routes.items():
            say(f"  {size:,} events, resync provider calls by route: {dict(counted)}")
        say(f"  statements of the {costs[-1].events:,}-event resync:")
        for text in costs[-1].statement_texts:
            say(f"    {text}")
        flat_sql = len({c.statements for c in costs}) == 1
        flat_calls = len({(c.result_calls, c.logged_calls) for c in costs}) == 1
        unchanged = all(c.changed == 0 for c in costs)
        say(
            f"{'OK  ' if flat_sql else 'FAIL'} SQL statements per no-change resync flat: "
            f"{[c.statements for c in costs]}"
        )
        say(
            f"{'OK  ' if flat_calls else 'FAIL'} provider calls per no-change resync flat: "
            f"{[c.logged_calls for c in costs]} (log), {[c.result_calls for c in costs]} (SyncResult)"
        )
        say(f"{'OK  ' if unchanged else 'FAIL'} no-change resync changed nothing: {[c.changed for c in costs]}")
        return 0 if failed == 0 and flat_sql and flat_calls and unchanged else 1
    except KeyboardInterrupt:
        say("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if app is not None:
            try:
                with app.app_context():
                    from webapp.extensions import db

                    db.session.remove()
                    db.engine.dispose()
            except Exception as exc:  # cleanup must not hide the original error
                say(f"warning: could not close the database engine: {exc}", file=sys.stderr)
        if emulators is not None:
            emulators.stop()
        if created:
            drop_database(database)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

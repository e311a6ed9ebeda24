"""Push latency benchmark (issue 8, item 6): event change in the emulator -> ``calendar.events_update`` webhook.

    .venv/bin/python bench/push_latency.py [--calendars 50] [--changes 200] [--broker URL] [--database URL]
                                           [--debounce SECONDS] [--change-timeout 60] [--ready-timeout 120]

What it does, all on loopback:

1. starts the emulated providers in this process (Google on 127.0.0.2, Microsoft on 127.0.0.3) and a
   webhook receiver (``ThreadingHTTPServer`` on 127.0.0.1, free port) that records the arrival time,
   ``calendar_id`` and ``trigger`` of every delivery and checks its ``X-Webhook-Signature``;
2. starts the service as ``flask serve --workers 2`` (gunicorn, a Celery worker and a beat) in a
   fresh ``INSTANCE_PATH`` with ``PUBLIC_BASE_URL`` set, so every sync opens a Google watch channel;
   ``flask projects create`` runs first in the same environment for an API key;
3. seeds one emulated Google user (one calendar, one event) per calendar, gets a refresh token for
   each through the auto-approved consent flow, creates the webhook endpoint and the calendars
   through the API, and waits until every calendar has synced, has a live push channel and has had
   its first ``calendar.events_update`` (the initial sync's) delivered;
4. moves one event per calendar per wave (``POST /__emulator__/change-event``); the emulator posts the
   push notification to the service, which debounces (``PUSH_DEBOUNCE_SECONDS``), syncs and sends
   the webhook. Latency is from just before the control call to the arrival of the first
   ``calendar.events_update`` for that calendar after it; a change without one within
   ``--change-timeout`` seconds is lost. Each wave waits for its webhooks before the next starts;
5. measures the trivial baseline in the same run: the median round trip of a plain ``requests.post``
   from this process (the emulator side) to the receiver;
6. prints one table and exits 1 if more than 1 % of the changes were lost.

Broker: the default is the embedded broker (a SQLite file) under ``INSTANCE_PATH``; a Redis broker
(``--broker redis://127.0.0.1:6379/14``, a database kept for this benchmark) gives lower latency because
the embedded broker is polled. Database: SQLite in the temporary folder unless ``--database`` is given.
The service's output goes to ``service.log`` in the temporary folder; its tail is printed on failure.
The service (its whole process group), the emulators, the receiver and the temporary folder are
removed on exit, Ctrl-C included.
"""

from __future__ import annotations

import _venv  # noqa: F401  (first: re-runs this script under .venv when needed)

# isort: split
import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
CLIENT_ID = "bench-push-client"
CLIENT_SECRET = "bench-push-secret"
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
GOOGLE_SCOPES = "openid email https://www.googleapis.com/auth/calendar.readonly"
EVENTS_UPDATE = "calendar.events_update"
BASELINE_REQUESTS = 200
LOST_SHARE_LIMIT = 0.01
HTTP_TIMEOUT = 15.0


def say(*parts: object, file: Any = None) -> None:
    """print() for a command-line tool (the project's lint forbids print in library code)."""
    stream = file or sys.stdout
    stream.write(" ".join(str(p) for p in parts) + "\n")
    stream.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _signature_checker() -> Callable[[bytes, bytes, str], bool]:
    """``webapp.webhooks.signing.verify`` when importable, else the same base64 HMAC-SHA256 check."""
    try:
        from webapp.webhooks.signing import verify
    except ImportError:

        def verify(secret: bytes, body: bytes, signature: str) -> bool:
            expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")
            return hmac.compare_digest(expected, signature.strip())

    return verify


# --------------------------------------------------------------------------- webhook receiver


@dataclass
class Arrival:
    at: float  # time.monotonic() when the body had been read
    calendar_id: str | None
    trigger: str | None
    signature_ok: bool


@dataclass
class Receiver:
    """Records every webhook; ``/baseline`` requests are answered and not recorded."""

    verify: Callable[[bytes, bytes, str], bool]
    secret: bytes = b""
    arrivals: list[Arrival] = field(default_factory=list)
    bad_bodies: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                now = time.monotonic()
                if self.path != "/baseline":
                    receiver.record(now, body, self.headers.get("X-Webhook-Signature") or "")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, now: float, body: bytes, signature: str) -> None:
        try:
            payload = json.loads(body)
            calendar_id, trigger = payload.get("calendar_id"), payload.get("trigger")
        except (ValueError, AttributeError):
            calendar_id = trigger = None
        with self.cond:
            ok = bool(self.secret) and self.verify(self.secret, body, signature)
            if calendar_id is None:
                self.bad_bodies += 1
            self.arrivals.append(Arrival(now, calendar_id, trigger, ok))
            self.cond.notify_all()

    def first_update_after(self, calendar_id: str, since: float) -> Arrival | None:
        """The first ``calendar.events_update`` for *calendar_id* that arrived after *since* (hold cond)."""
        for arrival in self.arrivals:
            if arrival.calendar_id == calendar_id and arrival.trigger == EVENTS_UPDATE and arrival.at > since:
                return arrival
        return None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


# --------------------------------------------------------------------------- the service


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def start_service(env: dict[str, str], port: int, log_path: Path) -> Service:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "flask"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # gunicorn and the Celery worker join this group: killed together
        )
    return Service(process, port, log_path)


def wait_ready(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"the service exited with code {service.process.returncode}")
        try:
            with requests.get(f"{service.url}/api/v1/openapi.json", timeout=2) as response:
                if response.status_code == 200:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the service did not answer within {timeout:.0f} s")


def stop_service(service: Service) -> None:
    """SIGTERM to the whole process group, then SIGKILL to whatever is left of it."""
    pgid = service.process.pid  # start_new_session: the leader's pid is the group id
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        service.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # give the Celery worker a moment to follow its parent
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if service.process.poll() is None:
        service.process.wait(timeout=5)


def create_project(env: dict[str, str], log_path: Path) -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "flask"), "projects", "create", "bench-push"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with open(log_path, "a") as log:
        log.write(completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"flask projects create failed:\n{completed.stdout}\n{completed.stderr}")
    line = [x for x in completed.stdout.splitlines() if x.strip().startswith("{")][-1]
    return str(json.loads(line)["api_key"])


# --------------------------------------------------------------------------- HTTP helpers


def call(method: str, url: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    with requests.request(method, url, **kwargs) as response:
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:500]}")
        if response.status_code in (301, 302, 303, 307):
            return response.headers["Location"]
        return response.json() if response.content else None


def refresh_token(google: str, email: str) -> str:
    """Consent (auto-approved) and code exchange, as the browser flow would do."""
    location = call(
        "GET",
        f"{google}/o/oauth2/v2/auth",
        expect=(302, 303),
        allow_redirects=False,
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
    )
    code = parse_qs(urlparse(location).query)["code"][0]
    token = call(
        "POST",
        f"{google}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    return str(token["refresh_token"])


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the run


@dataclass
class Bench:
    args: argparse.Namespace
    receiver: Receiver
    service: Service
    google: str
    google_state: Any
    api_key: str
    emails: list[str] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)  # email -> event id
    calendars: dict[str, str] = field(default_factory=dict)  # email -> cal_ id
    base_time: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Token {self.api_key}"}
        return call(method, f"{self.service.url}/api/v1{path}", headers=headers, **kwargs)

    def seed(self) -> None:
        n = self.args.calendars
        self.emails = [f"bench{i:03d}@example.com" for i in range(n)]
        start = self.base_time + timedelta(hours=2)
        result = call(
            "POST",
            f"{self.google}/__emulator__/seed",
            json={
                "users": [{"email": e, "name": f"Bench {i}"} for i, e in enumerate(self.emails)],
                "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}],
                "events": [
                    {"user": e, "summary": f"Meeting {i}", "start": iso(start), "end": iso(start + timedelta(hours=1))}
                    for i, e in enumerate(self.emails)
                ],
            },
        )
        self.events = dict(zip(self.emails, result["events"], strict=True))
        call("POST", f"{self.google}/__emulator__/settings", json={"auto_approve": True})
        tokens = {email: refresh_token(self.google, email) for email in self.emails}
        endpoint = self.api(
            "POST",
            "/webhooks",
            expect=(201,),
            json={"url": f"{self.receiver.url}/hooks", "triggers": [EVENTS_UPDATE]},
        )
        with self.receiver.cond:
            self.receiver.secret = base64.b64decode(endpoint["signing_secret"])
        for email in self.emails:
            created = self.api(
                "POST",
                "/calendars",
                expect=(201,),
                json={
                    "platform": "google",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "refresh_token": tokens[email],
                    "deduplication_key": email,
                },
            )
            self.calendars[email] = created["id"]
        say(f"seeded {n} users and events, created the webhook endpoint and {n} calendars")

    def live_channel_owners(self) -> set[str]:
        state = self.google_state
        now = state.now()
        with state.lock:
            return {c.calendar_id for c in state.channels.values() if not c.stopped and c.expiration > now}

    def synced(self) -> set[str]:
        page = self.api("GET", "/calendars", params={"page_size": 100})
        return {c["id"] for c in page["results"] if c.get("last_successful_sync_at")}

    def wait_until_ready(self) -> None:
        """Every calendar synced, with a live channel and its initial events_update delivered (bounded)."""
        deadline = time.monotonic() + self.args.ready_timeout
        wanted = set(self.calendars.values())
        synced: set[str] = set()
        channels: set[str] = set()
        initial: set[str] = set()
        while time.monotonic() < deadline:
            if self.service.process.poll() is not None:
                raise RuntimeError("the service exited while the calendars were syncing")
            synced = self.synced() & wanted
            channels = self.live_channel_owners() & set(self.emails)
            with self.receiver.cond:
                initial = {a.calendar_id for a in self.receiver.arrivals if a.trigger == EVENTS_UPDATE} & wanted
            if len(synced) == len(wanted) and len(channels) == len(self.emails) and len(initial) == len(wanted):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(
                f"not ready after {self.args.ready_timeout:.0f} s: {len(synced)}/{len(wanted)} synced, "
                f"{len(channels)}/{len(self.emails)} with a live push channel, "
                f"{len(initial)}/{len(wanted)} initial events_update webhooks received"
            )
        time.sleep(self.args.settle)  # let stragglers (a second initial webhook, a beat sync) pass
        say(
            f"ready: {len(synced)} calendars synced, {len(channels)} live channels, "
            f"{len(initial)} initial webhooks received"
        )

    def wave(self, number: int, emails: list[str]) -> tuple[list[float], int]:
        """Move one event per calendar; return the latencies and the number of lost changes."""
        starts: dict[str, float] = {}
        for email in emails:
            minutes = 15 * (number + 1)
            start = self.base_time + timedelta(hours=2, minutes=minutes)
            before = time.monotonic()
            call(
                "POST",
                f"{self.google}/__emulator__/change-event",
                json={"id": self.events[email], "start": iso(start), "end": iso(start + timedelta(hours=1))},
            )
            starts[email] = before
        deadline = time.monotonic() + self.args.change_timeout
        found: dict[str, float] = {}
        with self.receiver.cond:
            while True:
                for email, before in starts.items():
                    if email not in found:
                        arrival = self.receiver.first_update_after(self.calendars[email], before)
                        if arrival is not None:
                            found[email] = arrival.at - before
                remaining = deadline - time.monotonic()
                if len(found) == len(starts) or remaining <= 0:
                    break
                self.receiver.cond.wait(timeout=min(remaining, 1.0))
        return list(found.values()), len(starts) - len(found)

    def measure(self) -> tuple[list[float], int]:
        latencies: list[float] = []
        lost = 0
        total = self.args.changes
        per_wave = len(self.emails)
        number = 0
        while total > 0:
            emails = self.emails[: min(per_wave, total)]
            got, missing = self.wave(number, emails)
            latencies += got
            lost += missing
            total -= len(emails)
            median = f"{statistics.median(got):.2f} s" if got else "-"
            say(f"  wave {number + 1}: {len(got)}/{len(emails)} delivered, median {median}, {missing} lost")
            if self.service.process.poll() is not None:
                raise RuntimeError("the service exited during the measurement")
            number += 1
            time.sleep(self.args.settle)
        return latencies, lost


def baseline(url: str) -> float:
    """Median round trip of a plain POST from this process (the emulator side) to the receiver."""
    times = []
    body = {"calendar_id": None, "trigger": "baseline"}
    for _ in range(BASELINE_REQUESTS):
        before = time.monotonic()
        with requests.post(f"{url}/baseline", json=body, timeout=HTTP_TIMEOUT) as response:
            response.raise_for_status()
        times.append(time.monotonic() - before)
    return statistics.median(times)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def table(args: argparse.Namespace, latencies: list[float], lost: int, base: float, debounce: str, bad: int) -> str:
    changes = len(latencies) + lost
    median = statistics.median(latencies) if latencies else float("nan")
    rows = [
        ("changes", f"{changes}"),
        ("delivered", f"{len(latencies)}"),
        ("lost", f"{lost} ({lost / changes:.1%})" if changes else "0"),
        ("median latency (s)", f"{median:.3f}"),
        ("p90 latency (s)", f"{percentile(latencies, 0.90):.3f}"),
        ("p99 latency (s)", f"{percentile(latencies, 0.99):.3f}"),
        ("max latency (s)", f"{max(latencies) if latencies else float('nan'):.3f}"),
        ("calendars", f"{args.calendars}"),
        ("PUSH_DEBOUNCE_SECONDS", debounce),
        ("broker", args.broker or "embedded broker"),
        ("database", args.database or "SQLite (temporary folder)"),
        ("webhooks with a bad signature", f"{bad}"),
        ("baseline: direct POST round trip, median (s)", f"{base:.4f}"),
        ("median latency / baseline", f"{median / base:,.0f}x" if base and latencies else "-"),
    ]
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [f"| {'measure':<{width}} | {'value':>{value_width}} |", f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|"]
    lines += [f"| {name:<{width}} | {value:>{value_width}} |" for name, value in rows]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calendars", type=int, default=50, help="calendars (one emulated user each; default 50)")
    parser.add_argument("--changes", type=int, default=200, help="event changes in total (default 200)")
    parser.add_argument("--broker", default="", help="CELERY_BROKER_URL (default: the embedded broker)")
    parser.add_argument("--database", default="", help="DATABASE_URL (default: SQLite in the temporary folder)")
    parser.add_argument("--debounce", type=int, default=None, help="PUSH_DEBOUNCE_SECONDS (default: the service's)")
    parser.add_argument("--change-timeout", type=float, default=60.0, help="seconds before a change is lost")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds for the initial syncs")
    parser.add_argument("--settle", type=float, default=3.0, help="quiet seconds before each wave (default 3)")
    args = parser.parse_args()
    if not 1 <= args.calendars <= 100 or args.changes < 1:
        parser.error("--calendars must be 1..100 (one page of the list) and --changes at least 1")
    if args.change_timeout <= 0 or args.ready_timeout <= 0 or args.settle < 0:
        parser.error("timeouts must be positive and --settle not negative")
    return args


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.path.insert(0, str(ROOT))
    from emulator.servers import start_emulators

    workdir = Path(tempfile.mkdtemp(prefix="bench_push_"))
    instance = workdir / "instance"
    instance.mkdir()
    log_path = workdir / "service.log"
    emulators = None
    receiver = Receiver(_signature_checker())
    service: Service | None = None
    failed = True
    try:
        emulators = start_emulators()
        receiver.start()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "DATABASE_URL", "CELERY_BROKER_URL")}
        env.update(emulators.settings())
        env.update(
            INSTANCE_PATH=str(instance),
            DATABASE_URL=args.database or f"sqlite:///{workdir / 'bench.db'}",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
            PYTHONUNBUFFERED="1",
        )
        if args.broker:
            env["CELERY_BROKER_URL"] = args.broker
        if args.debounce is not None:
            env["PUSH_DEBOUNCE_SECONDS"] = str(args.debounce)
        debounce = str(args.debounce) if args.debounce is not None else "2 (default)"
        say(f"temporary folder {workdir}; service on 127.0.0.1:{port}; receiver on {receiver.url}")
        api_key = create_project(env, log_path)
        service = start_service(env, port, log_path)
        wait_ready(service, timeout=90)
        bench = Bench(args, receiver, service, emulators.google_url, emulators.google_state, api_key)
        bench.seed()
        bench.wait_until_ready()
        say(f"measuring {args.changes} changes on {args.calendars} calendars, debounce {debounce}")
        latencies, lost = bench.measure()
        base = baseline(receiver.url)
        with receiver.cond:
            bad = sum(1 for a in receiver.arrivals if not a.signature_ok)
        say()
        say(table(args, latencies, lost, base, debounce, bad))
        changes = len(latencies) + lost
        failed = lost > LOST_SHARE_LIMIT * changes or bad > 0
        if lost > LOST_SHARE_LIMIT * changes:
            say(f"FAIL: {lost} of {changes} changes lost (limit {LOST_SHARE_LIMIT:.0%})", file=sys.stderr)
        if bad:
            say(f"FAIL: {bad} webhooks with a signature that does not verify", file=sys.stderr)
        return 1 if failed else 0
    except KeyboardInterrupt:
        say("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, requests.RequestException, KeyError, ValueError) as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if failed and log_path.exists():
            say(f"--- tail of {log_path} ---", file=sys.stderr)
            say(log_path.read_text(errors="replace")[-6000:], file=sys.stderr)
        if service is not None:
            stop_service(service)
        receiver.stop()
        if emulators is not None:
            emulators.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

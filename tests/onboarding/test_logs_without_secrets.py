"""No secret in any log line of a full run: onboarding (both providers), the API, syncs and webhooks.

Every log record of the process is captured at DEBUG (stricter than production's INFO) and
formatted both as text and as JSON, and every request the test client makes is also written by
gunicorn's own access-log code (``webapp.observability.gunicorn.Logger``, with gunicorn's default
format and with a format that asks for every risky atom). Then every line is searched for every
secret the run used: connect tokens, OAuth codes, ``state``, ``session_state``, the API key, refresh
tokens (as issued and as rotated), client secrets and the webhook signing secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import Config as GunicornConfig

from tests.emulation import ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, query_of
from tests.onboarding.conftest import APP_CLIENT_SECRET, Providers, calendars, connect, new_session, token_of
from tests.sync.conftest import at, google_refresh_token, seed_events
from tests.webhooks.conftest import Receiver
from webapp import crypto
from webapp.extensions import db, utcnow
from webapp.models import WebhookDelivery
from webapp.observability.gunicorn import Logger as AccessLogger
from webapp.observability.logs import ContextFilter, JsonFormatter, TextFormatter
from webapp.sync import jobs
from webapp.webhooks import delivery

GUNICORN_DEFAULT = GunicornConfig().access_log_format
RISKY_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(U)s %(q)s %({authorization}i)s '
    "%({cookie}i)s %({referer}i)s %({raw_uri}e)s %({query_string}e)s %({path_info}e)s %({x-request-id}o)s"
)
SESSION_STATE = "f3c9a1e2-7b44-4d1a-9c0e-5be0d2a6a7f1"  # Microsoft adds it to its callbacks


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.lines: list[str] = []
        self.text, self.json = TextFormatter(), JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(self.text.format(record).splitlines())
        self.lines.append(self.json.format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def gunicorn_logger(path: Path) -> AccessLogger:
    cfg = GunicornConfig()
    cfg.set("accesslog", str(path))
    return AccessLogger(cfg)


def access_logged(app: Flask, logger: AccessLogger) -> Callable[[], None]:
    """Write every request to gunicorn's access log code as gunicorn would (RAW_URI as sent)."""
    inner = app.wsgi_app

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            answered.update(status=status, headers=headers)
            return start_response(status, headers, *args)

        body = b"".join(inner(environ, capture))
        query = environ.get("QUERY_STRING", "")
        environ = {**environ, "RAW_URI": quote(environ["PATH_INFO"]) + (f"?{query}" if query else "")}
        request_headers = [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_")]
        response = SimpleNamespace(status=answered["status"], headers=answered["headers"], sent=len(body))
        elapsed = timedelta(seconds=time.monotonic() - started)
        for access_format in (GUNICORN_DEFAULT, RISKY_FORMAT):
            logger.cfg.set("access_log_format", access_format)
            logger.access(response, SimpleNamespace(headers=request_headers), environ, elapsed)
        return [body]

    app.wsgi_app = middleware  # type: ignore[method-assign]

    def restore() -> None:
        app.wsgi_app = inner  # type: ignore[method-assign]

    return restore


def test_no_secret_in_any_log_line_of_onboarding_api_sync_and_webhooks(
    flow_app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    api_key: str,
    providers: Providers,
    captured: Capture,
    tmp_path: Path,
) -> None:
    secrets: set[str] = {api_key, APP_CLIENT_SECRET, CLIENT_SECRET, SESSION_STATE}
    access_log = tmp_path / "access.log"
    logger = gunicorn_logger(access_log)
    restore = access_logged(flow_app, logger)
    # The API flow's refresh tokens come from the emulator's usual OAuth client.
    providers.google.control(
        "seed", {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}]}
    )
    receiver = Receiver()
    receiver.thread.start()
    try:
        # Webhooks: an endpoint (its signing secret is shown once, in this response).
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url()}, headers=auth)
        assert hook.status_code == 201, hook.get_json()
        secrets.add(hook.get_json()["signing_secret"])

        # Onboarding: both providers, the status page, a reload of the callback with session_state.
        for platform in ("google", "microsoft"):
            _, path = new_session(client, auth, platform=platform, deduplication_key=f"user-{platform}")
            secrets.add(token_of(path))
            hop = connect(client, path)
            assert hop.response.status_code == 303
            params = query_of(hop.callback)
            secrets.update({params["code"], params["state"]})
            assert client.get(hop.response.headers["Location"]).status_code == 200  # /connect/<token>/done
            assert client.get(f"{hop.callback}&session_state={SESSION_STATE}").status_code == 303
        # A link opened twice, a link that does not exist, and a choice page.
        _, path = new_session(client, auth)
        secrets.add(token_of(path))
        assert client.get(path).status_code == 200
        assert client.get("/connect/not-a-real-token-Zx81").status_code in (404, 410)

        # The API: create (with a real refresh token), read, list, patch, validate, a bad key.
        issued = google_refresh_token(providers.google)
        secrets.add(issued)
        body = {"platform": "google", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": issued}
        created = client.post("/api/v1/calendars", json=body, headers={**auth, "X-Request-ID": "trace-1"})
        assert created.status_code == 201, created.get_json()
        calendar_id = created.get_json()["id"]
        assert client.get(f"/api/v1/calendars/{calendar_id}", headers=auth).status_code == 200
        assert client.get("/api/v1/calendars?deduplication_key=user-google", headers=auth).status_code == 200
        rejected = client.post(
            "/api/v1/calendars?validate=true", json={**body, "refresh_token": "1//04not-a-real-token-91"}, headers=auth
        )
        assert rejected.status_code == 400
        secrets.add("1//04not-a-real-token-91")
        assert client.get("/api/v1/calendars", headers={"Authorization": f"Token {api_key}x"}).status_code == 401
        assert client.get(f"/api/v1/calendars?api_key={api_key}", headers=auth).status_code == 200

        # Syncs (Microsoft rotates its refresh token) and the webhooks they cause.
        for provider in (providers.google, providers.microsoft):
            seed_events(provider, [{"user": ALICE, "summary": "Standup", "start": at(2), "end": at(3)}])
        for calendar in calendars():
            secrets.add(crypto.decrypt(calendar.refresh_token_ciphertext))
            assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
        for calendar in calendars():
            secrets.add(crypto.decrypt(calendar.refresh_token_ciphertext))  # as rotated
        patched = client.patch(
            f"/api/v1/calendars/{calendar_id}", json={"refresh_token": "1//04patched-token-value-77"}, headers=auth
        )
        assert patched.status_code == 200
        secrets.add("1//04patched-token-value-77")
        pending = db.session.scalars(db.select(WebhookDelivery.id)).all()
        assert pending
        for delivery_id in pending:
            delivery.deliver(delivery_id, now=utcnow())
        assert receiver.requests
    finally:
        restore()
        receiver.server.shutdown()
        receiver.server.server_close()
        for handler in list(logger.access_log.handlers) + list(logger.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                handler.close()
                logger.access_log.removeHandler(handler)
                logger.error_log.removeHandler(handler)

    access_lines = access_log.read_text().splitlines()
    lines = captured.lines + access_lines
    # The capture really saw the run (so that a silent logger cannot make this test pass).
    assert any("/connect/<redacted>/done" in line for line in access_lines)
    assert any("code=<redacted>" in line and "state=<redacted>" in line for line in access_lines)
    assert any("session_state=<redacted>" in line for line in access_lines)
    assert any("request_id=trace-1" in line for line in access_lines)
    assert any(line.count("sync attempt") for line in captured.lines)
    assert any("webhook attempt" in line for line in captured.lines)
    secrets.discard("")
    leaks = [(secret, line) for line in lines for secret in secrets if secret in line]
    assert leaks == []

"""/healthz, /readyz and /metrics: shapes, status codes, authentication, and what they must not reveal."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text

from config import TestConfig
from tests.conftest import VALID_CALENDAR
from webapp import create_app
from webapp.extensions import db, utcnow
from webapp.models import HeartbeatKind
from webapp.observability import heartbeats, status

TOKEN = "metrics-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement run on the app's engine inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def scrape(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}


def sample(families: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample (``name`` is the sample name, e.g. ``x_total``), or None when absent."""
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(s.value)
    return None


# --- /healthz --------------------------------------------------------------------------------------


def test_healthz_answers_ok_without_touching_the_database(client: FlaskClient) -> None:
    with statements() as seen:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert seen == []


def test_healthz_needs_no_authentication_and_is_not_throttled(client: FlaskClient) -> None:
    # Far beyond any per-route limit; the create limit is per project and never applies here.
    assert {client.get("/healthz").status_code for _ in range(300)} == {200}


# --- request ids ----------------------------------------------------------------------------------


def test_a_sane_incoming_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize("bad", ["has space", "x" * 200, 'quote"d', "new\nline", "<script>", ""])
def test_an_insane_request_id_is_replaced_by_a_new_one(client: FlaskClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad} if "\n" not in bad else {})
    answered = response.headers["X-Request-ID"]
    assert answered != bad and len(answered) == 32 and answered.isalnum()


def test_every_response_gets_a_request_id_even_an_error(client: FlaskClient) -> None:
    assert client.get("/api/v1/calendars").headers["X-Request-ID"]  # 401
    assert client.get("/no/such/page").headers["X-Request-ID"]  # 404


# --- /readyz ---------------------------------------------------------------------------------------


def test_readyz_shape_when_ready_with_a_fresh_worker_and_scheduler(client: FlaskClient) -> None:
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, "w1")
    heartbeats.record_heartbeat(HeartbeatKind.SCHEDULER, "b1")
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "migrations", "worker", "scheduler", "sync_backlog", "webhook_backlog"}
    assert checks["database"] == {"ok": True}
    assert checks["migrations"]["ok"] is True
    assert checks["migrations"]["current"] == checks["migrations"]["head"] == sorted(status.head_revisions())
    for kind in ("worker", "scheduler"):
        assert checks[kind]["ok"] is True
        assert 0 <= checks[kind]["age_seconds"] < 5
        assert checks[kind]["stale_after_seconds"] == 60
    assert checks["sync_backlog"] == {"count": 0, "oldest_seconds": None}
    assert checks["webhook_backlog"] == {"count": 0, "oldest_seconds": None}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_reports_a_stale_worker_but_stays_ready(app: Flask, client: FlaskClient) -> None:
    app.config["WORKER_STALE_SECONDS"] = 30
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, "w1", utcnow() - timedelta(seconds=95))
    heartbeats.record_heartbeat(HeartbeatKind.SCHEDULER, "b1")
    response = client.get("/readyz")
    assert response.status_code == 200  # the web tier can serve without the worker
    checks = response.get_json()["checks"]
    assert checks["worker"]["ok"] is False
    assert 95 <= checks["worker"]["age_seconds"] < 100
    assert checks["worker"]["stale_after_seconds"] == 30
    assert checks["scheduler"]["ok"] is True


def test_readyz_reports_a_worker_never_seen(client: FlaskClient) -> None:
    checks = client.get("/readyz").get_json()["checks"]
    assert checks["worker"] == {"ok": False, "age_seconds": None, "stale_after_seconds": 60}
    assert checks["scheduler"]["ok"] is False


def test_the_newest_heartbeat_of_a_kind_counts(client: FlaskClient) -> None:
    now = utcnow()
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, "old-machine:1", now - timedelta(hours=2))
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, "new-machine:2", now)
    assert client.get("/readyz").get_json()["checks"]["worker"]["ok"] is True


def test_readyz_reports_the_sync_backlog(client: FlaskClient, make_calendar: Any) -> None:
    make_calendar()  # a new calendar requests its first sync
    make_calendar(deduplication_key="second")
    backlog = client.get("/readyz").get_json()["checks"]["sync_backlog"]
    assert backlog["count"] == 2
    assert 0 <= backlog["oldest_seconds"] < 5


def test_readyz_is_unavailable_when_the_schema_is_behind(app: Flask, client: FlaskClient) -> None:
    with db.engine.begin() as conn:
        (current,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_initial'"))
    try:
        response = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["migrations"]["current"] == ["0001_initial"]


def test_readyz_is_unavailable_without_a_database_and_names_no_host_or_dsn() -> None:
    # A real PostgreSQL URL on a port where nothing listens (the driver is installed on every pass).
    dsn = "postgresql+psycopg://calendars:s3cret-password@127.0.0.1:9/calendars?connect_timeout=2"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=dsn)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": {"ok": False, "error": "the database did not answer"}},
    }
    raw = response.get_data(as_text=True)
    for leak in ("127.0.0.1", "calendars", "s3cret", "psycopg", socket.gethostname()):
        assert leak not in raw
    with app.app_context():
        db.engine.dispose()


def test_metrics_without_a_database_still_serves_the_counters() -> None:
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://x@127.0.0.1:9/x?connect_timeout=2")
    app.config["METRICS_TOKEN"] = TOKEN
    response = app.test_client().get("/metrics", headers=BEARER)
    assert response.status_code == 200
    families = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert "http_requests" in families and "calendars" not in families
    with app.app_context():
        db.engine.dispose()


def test_readyz_body_holds_no_host_name(client: FlaskClient) -> None:
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, heartbeats.instance_id())
    assert socket.gethostname() not in client.get("/readyz").get_data(as_text=True)


# --- /metrics ---------------------------------------------------------------------------------------


def test_metrics_is_off_without_a_token(app: Flask, client: FlaskClient) -> None:
    app.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", f"Token {TOKEN}", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer"],
)
def test_metrics_refuses_anything_but_the_bearer_token(app: Flask, client: FlaskClient, header: str | None) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.get_data(as_text=True)


def test_metrics_families_names_and_labels(app: Flask, client: FlaskClient, make_calendar: Any) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    created = make_calendar()
    rule = "/api/v1/calendars/<object_id>"
    refused = {"method": "GET", "endpoint": rule, "status": "401"}
    before = sample(scrape(client), "http_requests_total", refused) or 0.0  # counters live as long as the process
    client.get(f"/api/v1/calendars/{created['id']}", headers={"Authorization": "Token wrong"})
    heartbeats.record_heartbeat(HeartbeatKind.WORKER, "w1", utcnow() - timedelta(seconds=10))
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = scrape(client)
    expected = {
        "http_requests": ("counter", {"method", "endpoint", "status"}),
        "http_request_duration_seconds": ("histogram", {"method", "endpoint"}),
        "calendar_sync_attempts": ("counter", set()),
        "calendar_sync_duration_seconds": ("histogram", set()),
        "calendars": ("gauge", {"platform", "state"}),
        "calendar_sync_backlog": ("gauge", set()),
        "calendar_sync_backlog_oldest_seconds": ("gauge", set()),
        "webhook_deliveries": ("counter", set()),
        "webhook_backlog": ("gauge", set()),
        "webhook_backlog_oldest_seconds": ("gauge", set()),
        "token_refreshes": ("counter", set()),
        "push_notifications": ("counter", set()),
        "worker_heartbeat_age_seconds": ("gauge", set()),
        "scheduler_heartbeat_age_seconds": ("gauge", set()),
    }
    for name, (kind, labels) in expected.items():
        assert name in families, name
        assert families[name].type == kind, name
        for s in families[name].samples:
            assert labels <= set(s.labels), (name, s)
    # The route rule, never the raw path (which would hold an id per calendar).
    assert sample(families, "http_requests_total", refused) == before + 1
    assert not any(created["id"] in str(s.labels) for f in families.values() for s in f.samples)
    assert sample(families, "calendars", {"platform": "google", "state": "connected"}) == 1
    assert sample(families, "calendar_sync_backlog") == 1
    age = sample(families, "worker_heartbeat_age_seconds")
    assert age is not None and 10 <= age < 15
    assert sample(families, "scheduler_heartbeat_age_seconds") == float("inf")


def test_unmatched_paths_share_one_endpoint_label(app: Flask, client: FlaskClient) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    for path in ("/nope/1", "/nope/2", "/connect-ish/secret"):
        client.get(path)
    families = scrape(client)
    assert sample(families, "http_requests_total", {"endpoint": "unmatched", "status": "404"}) is not None
    assert not any("/nope" in str(s.labels) for f in families.values() for s in f.samples)


def test_invented_methods_share_one_method_label(app: Flask, client: FlaskClient) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    for method in ("FROB", "XYZZY1", "XYZZY2"):
        client.open("/healthz", method=method)
    families = scrape(client)
    methods = {s.labels["method"] for s in families["http_requests"].samples if "method" in s.labels}
    assert "other" in methods and not methods & {"FROB", "XYZZY1", "XYZZY2"}


def test_metrics_counts_calendars_by_platform_and_state(app: Flask, client: FlaskClient, make_calendar: Any) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    make_calendar()
    make_calendar(deduplication_key="b")
    make_calendar(deduplication_key="c", platform="microsoft")
    from tests.dashboard.conftest import disconnect

    disconnect(make_calendar(deduplication_key="d")["id"])
    families = scrape(client)
    assert sample(families, "calendars", {"platform": "google", "state": "connected"}) == 2
    assert sample(families, "calendars", {"platform": "google", "state": "disconnected"}) == 1
    assert sample(families, "calendars", {"platform": "microsoft", "state": "connected"}) == 1


def test_metrics_scrape_costs_one_query_per_figure(app: Flask, client: FlaskClient) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    with statements() as seen:
        scrape(client)
    # calendars, sync backlog, webhook backlog, heartbeats
    assert len(seen) == 4, seen


def test_secrets_are_not_in_the_metrics(app: Flask, client: FlaskClient, make_calendar: Any, api_key: str) -> None:
    app.config["METRICS_TOKEN"] = TOKEN
    make_calendar()
    raw = client.get("/metrics", headers=BEARER).get_data(as_text=True)
    for secret in (api_key, VALID_CALENDAR["refresh_token"], VALID_CALENDAR["client_secret"], TOKEN):
        assert secret not in raw

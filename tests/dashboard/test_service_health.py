"""The dashboard shows the service's own health: a banner when the worker or the beat is stale, backlogs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from webapp.extensions import utcnow
from webapp.models import HeartbeatKind, Project
from webapp.observability.heartbeats import record_heartbeat


def _fresh() -> None:
    record_heartbeat(HeartbeatKind.WORKER, "w")
    record_heartbeat(HeartbeatKind.SCHEDULER, "b")


def test_no_banner_while_the_worker_and_scheduler_are_fresh(dash: FlaskClient, project: Project) -> None:
    _fresh()
    for path in (
        "/dashboard/",
        f"/dashboard/projects/{project.object_id}/",
        f"/dashboard/projects/{project.object_id}/calendars",
    ):
        html = dash.get(path).get_data(as_text=True)
        assert "service-banner" not in html and "not running" not in html


def test_a_stale_worker_puts_a_banner_on_every_page(dash: FlaskClient, project: Project) -> None:
    record_heartbeat(HeartbeatKind.WORKER, "w", utcnow() - timedelta(minutes=3))
    record_heartbeat(HeartbeatKind.SCHEDULER, "b")
    pages = (
        "/dashboard/",
        f"/dashboard/projects/{project.object_id}/",
        f"/dashboard/projects/{project.object_id}/failures",
    )
    for path in pages:
        response = dash.get(path)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "Syncs and webhooks are not running: the worker was last seen 3 minutes ago." in html
        assert "the scheduler" not in html


def test_a_scheduler_never_seen_is_named(app: Flask, dash: FlaskClient) -> None:
    record_heartbeat(HeartbeatKind.WORKER, "w")
    html = dash.get("/dashboard/").get_data(as_text=True)
    assert "Syncs and webhooks are not running: the scheduler has never reported." in html


def test_the_stale_limit_is_worker_stale_seconds(app: Flask, dash: FlaskClient) -> None:
    app.config["WORKER_STALE_SECONDS"] = 10
    record_heartbeat(HeartbeatKind.WORKER, "w", utcnow() - timedelta(seconds=20))
    record_heartbeat(HeartbeatKind.SCHEDULER, "b")
    assert "the worker was last seen 20 seconds ago" in dash.get("/dashboard/").get_data(as_text=True)


def test_the_login_page_shows_no_banner(client: FlaskClient) -> None:
    html = client.get("/dashboard/login").get_data(as_text=True)
    assert "not running" not in html


def test_the_overview_shows_the_project_backlogs(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    _fresh()
    make_calendar()
    make_calendar(deduplication_key="two")
    html = dash.get(f"/dashboard/projects/{project.object_id}/").get_data(as_text=True)
    assert '<span id="sync-backlog">2</span> requested' in html
    assert '<span id="webhook-backlog">0</span> webhook' in html

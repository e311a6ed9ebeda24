"""Dashboard fixtures: an admin of the test project, a logged-in client, calendars in known states."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from webapp.dashboard import accounts
from webapp.extensions import db, utcnow
from webapp.models import AdminUser, Calendar, CalendarState, CalendarStateChange, Project, SyncAttempt
from webapp.providers.failures import failure_data, failure_for

PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@example.com"


@pytest.fixture
def admin(project: Project) -> AdminUser:
    return accounts.create_admin(email=ADMIN_EMAIL, password=PASSWORD, project_ids=[project.object_id])


def log_in(client: FlaskClient, email: str = ADMIN_EMAIL, password: str = PASSWORD, **environ: Any) -> Any:
    return client.post("/dashboard/login", data={"email": email, "password": password}, environ_base=environ)


@pytest.fixture
def dash(client: FlaskClient, admin: AdminUser) -> FlaskClient:
    """A client logged in as the project's admin."""
    response = log_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def calendar_row(object_id: str) -> Calendar:
    db.session.expire_all()
    row = db.session.scalar(db.select(Calendar).where(Calendar.object_id == object_id))
    assert row is not None
    return row


def disconnect(object_id: str, code: str = "token_revoked", *, at: datetime | None = None) -> Calendar:
    """Mark a calendar disconnected the way the sync engine does (failure data + a state change)."""
    calendar = calendar_row(object_id)
    now = at or utcnow()
    failure = failure_for(code, calendar.platform)
    data = failure_data(failure, now=now, attempts=1, first_failed_at=None)
    data["provider_error"] = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    db.session.add(
        CalendarStateChange(
            calendar_id=calendar.id, from_state=calendar.state, to_state="disconnected", code=code, created_at=now
        )
    )
    db.session.add(
        SyncAttempt(
            calendar_id=calendar.id,
            started_at=now - timedelta(seconds=2),
            finished_at=now,
            duration_ms=2000,
            outcome="failure",
            error_code=code,
            error_message=failure.message,
        )
    )
    calendar.state = CalendarState.DISCONNECTED.value
    calendar.connection_failure_data = data
    calendar.last_failure_code = code
    db.session.commit()
    return calendar


def synced(object_id: str, at: datetime) -> Calendar:
    calendar = calendar_row(object_id)
    calendar.last_successful_sync_at = at
    calendar.last_attempted_sync_at = at
    db.session.add(
        SyncAttempt(
            calendar_id=calendar.id,
            started_at=at - timedelta(milliseconds=850),
            finished_at=at,
            duration_ms=850,
            outcome="success",
            created_count=3,
            updated_count=1,
            deleted_count=0,
        )
    )
    db.session.commit()
    return calendar

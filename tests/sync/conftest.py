"""Sync tests run the real sync use case against the emulated providers, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from emulator.servers import RunningEmulators
from tests.emulation import ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Provider, http, query_of
from webapp.calendars import service
from webapp.extensions import db, utcnow
from webapp.models import Calendar, CalendarEvent, Platform, Project
from webapp.sync import jobs
from webapp.sync.result import SyncResult

GOOGLE_SCOPES = "openid email https://www.googleapis.com/auth/calendar.readonly"
MICROSOFT_SCOPES = "openid email offline_access User.Read Calendars.Read"


@pytest.fixture
def emulated_app(app: Flask, emulators: RunningEmulators) -> Flask:
    """The test app with every provider endpoint pointed at the emulators."""
    app.config.update(emulators.settings())
    return app


def google_refresh_token(google: Provider, email: str = ALICE) -> str:
    """Consent (auto-approved) and code exchange, as the browser flow would do."""
    google.settings(auto_approve=True)
    authorize = http(
        "GET",
        f"{google.base}/o/oauth2/v2/auth",
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
    code = query_of(authorize.headers["Location"])["code"]
    token = http(
        "POST",
        f"{google.base}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert token.status_code == 200, token.text
    return str(token.json()["refresh_token"])


def microsoft_refresh_token(microsoft: Provider, email: str = ALICE) -> str:
    microsoft.settings(auto_approve=True)
    authorize = http(
        "GET",
        f"{microsoft.base}/common/oauth2/v2.0/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": MICROSOFT_SCOPES,
            "state": "s",
            "login_hint": email,
        },
    )
    code = query_of(authorize.headers["Location"])["code"]
    token = http(
        "POST",
        f"{microsoft.base}/common/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": MICROSOFT_SCOPES,
        },
    )
    assert token.status_code == 200, token.text
    return str(token.json()["refresh_token"])


def at(hours: float, now: datetime | None = None) -> str:
    """An event time *hours* from now, as the emulator's seed expects."""
    return ((now or utcnow()) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_events(provider: Provider, events: list[dict[str, Any]]) -> list[str]:
    return list(provider.control("seed", {"events": events})["events"])


MakeCalendar = Callable[..., Calendar]


@pytest.fixture
def connect(emulated_app: Flask, project: Project) -> MakeCalendar:
    """Register a calendar through the service with a fresh refresh token from the emulator."""

    def make(platform: Platform, refresh_token: str, **fields: Any) -> Calendar:
        calendar = service.create_calendar(
            project=project,
            platform=platform,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=refresh_token,
            **fields,
        )
        db.session.expire_all()
        return calendar

    return make


def stored_events(calendar: Calendar) -> dict[str, CalendarEvent]:
    """The calendar's stored events by name, read afresh."""
    db.session.expire_all()
    rows = db.session.scalars(select(CalendarEvent).where(CalendarEvent.calendar_id == calendar.id))
    return {e.name or e.platform_uuid: e for e in rows}


def sync_now(calendar: Calendar) -> SyncResult:
    """Run the sync use case now and forget cached rows, as a new worker task would."""
    result = jobs.sync_calendar(calendar.id, now=utcnow())
    db.session.expire_all()
    return result

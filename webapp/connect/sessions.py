"""Connect-session use cases: create (API, dashboard, Reconnect button), look up, expire."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.connect import apps
from webapp.errors import FieldErrors, NotFound
from webapp.extensions import db, utcnow
from webapp.i18n import N_
from webapp.models import Calendar, ConnectSession, ConnectStatus, Platform, ProjectScope

REDIRECT_URL_NOT_ALLOWED = "Must be an absolute http(s) URL on one of the project's allowed redirect origins."
CALENDAR_NOT_FOUND = "No calendar with this id in this project."


def create_session(
    *,
    project: ProjectScope,
    platform: Platform | None = None,
    calendar_object_id: str | None = None,
    deduplication_key: str | None = None,
    metadata: dict[str, str] | None = None,
    redirect_url: str | None = None,
    locale: str | None = None,
) -> tuple[ConnectSession, str]:
    """A pending session and its URL token (returned once; only its hash is stored).

    :raises FieldErrors: unknown or foreign calendar, a platform other than the calendar's, or a
        redirect URL outside the project's allowed origins (no open redirects).
    """
    errors: dict[str, list[str]] = {}
    calendar: Calendar | None = None
    if calendar_object_id is not None:
        calendar = db.session.scalar(
            select(Calendar).where(Calendar.object_id == calendar_object_id, Calendar.project_id == project.id)
        )
        if calendar is None:
            errors["calendar_id"] = [CALENDAR_NOT_FOUND]
        elif platform is not None and platform != calendar.platform:
            errors["platform"] = [f'Must be "{calendar.platform}", the platform of the calendar to reconnect.']
    if redirect_url is not None and not apps.redirect_allowed(project, redirect_url):
        errors["redirect_url"] = [REDIRECT_URL_NOT_ALLOWED]
    if errors:
        raise FieldErrors(errors)
    return _new_session(
        project=project,
        platform=calendar.platform if calendar is not None else (platform if platform else None),
        calendar=calendar,
        deduplication_key=deduplication_key,
        metadata=metadata,
        redirect_url=redirect_url,
        locale=locale,
    )


def reconnect_session(*, previous: ConnectSession) -> tuple[ConnectSession, str]:
    """A new session that reconnects the calendar *previous* produced (the status page's Reconnect)."""
    calendar = previous.result_calendar
    if calendar is None:
        raise NotFound(N_("This calendar no longer exists."))
    return _new_session(
        project=previous.project,
        platform=calendar.platform,
        calendar=calendar,
        deduplication_key=None,
        metadata=None,
        redirect_url=previous.redirect_url,
        locale=previous.locale,
    )


def _new_session(
    *,
    project: ProjectScope,
    platform: str | None,
    calendar: Calendar | None,
    deduplication_key: str | None,
    metadata: dict[str, str] | None,
    redirect_url: str | None,
    locale: str | None,
) -> tuple[ConnectSession, str]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    ttl = int(current_app.config.get("CONNECT_SESSION_TTL_SECONDS") or 3600)
    connect = ConnectSession(
        project_id=project.id,
        token_hash=ConnectSession.hash_token(token),
        platform=platform,
        calendar_id=calendar.id if calendar is not None else None,
        deduplication_key=deduplication_key,
        meta=metadata,
        redirect_url=redirect_url,
        locale=locale,
        status=ConnectStatus.PENDING,
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
        updated_at=now,
    )
    db.session.add(connect)
    db.session.commit()
    return connect, token


def get_session(*, project: ProjectScope, object_id: str) -> ConnectSession:
    """:raises NotFound: unknown id, or one of another project."""
    connect = db.session.scalar(
        select(ConnectSession).where(ConnectSession.object_id == object_id, ConnectSession.project_id == project.id)
    )
    if connect is None:
        raise NotFound("Connect session not found")
    return connect


def by_token(token: str) -> ConnectSession | None:
    if not token or len(token) > 128:
        return None
    return db.session.scalar(
        select(ConnectSession).where(ConnectSession.token_hash == ConnectSession.hash_token(token))
    )


def by_state(state: str) -> ConnectSession | None:
    if not state or len(state) > 128:
        return None
    return db.session.scalar(select(ConnectSession).where(ConnectSession.oauth_state == state))


def effective_status(connect: ConnectSession, now: datetime | None = None) -> str:
    """The stored status, or ``expired`` once an unfinished session is past its time."""
    if connect.status in (ConnectStatus.PENDING, ConnectStatus.FAILED):
        if (now or utcnow()) >= connect.expires_at:
            return ConnectStatus.EXPIRED
    return connect.status


def expire_if_due(connect: ConnectSession) -> bool:
    """Store ``expired`` on an unfinished session past its time; True when it is expired."""
    if effective_status(connect) == ConnectStatus.EXPIRED:
        if connect.status != ConnectStatus.EXPIRED:
            connect.status = ConnectStatus.EXPIRED
            connect.updated_at = utcnow()
            db.session.commit()
        return True
    return False

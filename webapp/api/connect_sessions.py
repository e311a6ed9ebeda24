"""Connect sessions: links that let an end user connect (or reconnect) a calendar in the browser."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.typing import ResponseReturnValue

from webapp.api import parsing
from webapp.api.blueprint import bp
from webapp.api.serializers import iso
from webapp.models import ConnectSession
from webapp.onboarding import sessions, urls
from webapp.rate_limits import per_project


@bp.post("/connect_sessions")
@per_project("CONNECT_SESSION_RATE_LIMIT")
def create_connect_session() -> ResponseReturnValue:
    data = parsing.parse_create_connect_session(parsing.json_object())
    connect, token = sessions.create_session(
        project=g.project,
        platform=data.platform,
        calendar_object_id=data.calendar_id,
        deduplication_key=data.deduplication_key,
        metadata=data.metadata,
        redirect_url=data.redirect_url,
        locale=data.locale,
    )
    body = {"id": connect.object_id, "url": urls.connect_url(token), "expires_at": iso(connect.expires_at)}
    return _with_locale(body, connect), 201


@bp.get("/connect_sessions/<object_id>")
def get_connect_session(object_id: str) -> ResponseReturnValue:
    return connect_session_json(sessions.get_session(project=g.project, object_id=object_id))


def connect_session_json(connect: ConnectSession) -> dict[str, Any]:
    """The session's public state; ``calendar_id`` is the calendar it produced, else the one it reconnects."""
    calendar = connect.result_calendar or connect.calendar
    return _with_locale(
        {
            "id": connect.object_id,
            "status": sessions.effective_status(connect),
            "platform": connect.platform or connect.attempt_platform,
            "calendar_id": calendar.object_id if calendar is not None else None,
            "deduplication_key": connect.deduplication_key,
            "metadata": connect.meta,
            "redirect_url": connect.redirect_url,
            "expires_at": iso(connect.expires_at),
            "created_at": iso(connect.created_at),
            "used_at": iso(connect.used_at),
            "error_code": connect.error_code,
        },
        connect,
    )


def _with_locale(body: dict[str, Any], connect: ConnectSession) -> dict[str, Any]:
    """``locale`` is echoed when the session has one (absent otherwise: the shape of sessions made
    without it does not change)."""
    if connect.locale is not None:
        body["locale"] = connect.locale
    return body

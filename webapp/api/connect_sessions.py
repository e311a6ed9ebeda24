"""Connect sessions: links that let an end user connect (or reconnect) a calendar in the browser."""

from __future__ import annotations

from flask import g
from flask.typing import ResponseReturnValue

from webapp.api import parsing
from webapp.api.blueprint import bp
from webapp.api.objects import CONNECT_SESSION, CONNECT_SESSION_CREATE, CONNECT_SESSION_CREATED, CreatedSession
from webapp.connect import sessions, urls
from webapp.rate_limits import per_project


@bp.post("/connect_sessions")
@per_project("CONNECT_SESSION_RATE_LIMIT")
def create_connect_session() -> ResponseReturnValue:
    data = CONNECT_SESSION_CREATE.parse(parsing.json_object())
    connect, token = sessions.create_session(
        project=g.project,
        platform=data.get("platform"),
        calendar_object_id=data.get("calendar_id"),
        deduplication_key=data.get("deduplication_key"),
        metadata=data.get("metadata"),
        redirect_url=data.get("redirect_url"),
        locale=data.get("locale"),
    )
    created = CreatedSession(connect.object_id, urls.connect_url(token), connect.expires_at)
    return CONNECT_SESSION_CREATED.serialize(created), 201


@bp.get("/connect_sessions/<object_id>")
def get_connect_session(object_id: str) -> ResponseReturnValue:
    return CONNECT_SESSION.serialize(sessions.get_session(project=g.project, object_id=object_id))

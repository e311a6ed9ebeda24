"""The calendars endpoints: parse, call one service function, serialize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from webapp.api import pagination, parsing
from webapp.api.blueprint import bp
from webapp.api.objects import CALENDAR_CREATE, CALENDAR_PATCH
from webapp.api.serializers import calendar_json
from webapp.calendars import queries, service
from webapp.errors import BadQuery
from webapp.models import CalendarState, Platform
from webapp.rate_limits import per_project

CALENDARS_PAGE_SIZE = 25
STATES = list(CalendarState)
PLATFORMS = list(Platform)


@bp.post("/calendars")
@per_project("API_CREATE_RATE_LIMIT")
def create_calendar() -> ResponseReturnValue:
    values = CALENDAR_CREATE.parse(parsing.json_object())
    calendar = service.create_calendar(project=g.project, validate=_validate_requested(), **values)
    return calendar_json(calendar), 201


@bp.get("/calendars")
def list_calendars() -> ResponseReturnValue:
    page = queries.list_calendars(
        project=g.project,
        cursor=pagination.decode_cursor(request.args.get("cursor")),
        page_size=pagination.page_size(CALENDARS_PAGE_SIZE),
        deduplication_key=request.args.get("deduplication_key"),
        state=_choice("state", STATES),
        platform=_choice("platform", PLATFORMS),
    )
    return pagination.raw_page_response(page, _documents)


@bp.get("/calendars/<object_id>")
def get_calendar(object_id: str) -> ResponseReturnValue:
    document = queries.get_calendar_document(project=g.project, object_id=object_id)
    return Response(document, mimetype="application/json")


@bp.patch("/calendars/<object_id>")
def patch_calendar(object_id: str) -> ResponseReturnValue:
    calendar = queries.get_calendar(project=g.project, object_id=object_id)
    changes = CALENDAR_PATCH.parse(parsing.json_object())
    return calendar_json(service.update_calendar(calendar=calendar, validate=_validate_requested(), **changes))


@bp.post("/calendars/<object_id>/sync")
def sync_calendar(object_id: str) -> ResponseReturnValue:
    calendar = queries.get_calendar(project=g.project, object_id=object_id)
    return calendar_json(service.request_sync(calendar=calendar)), 202


@bp.delete("/calendars/<object_id>")
def delete_calendar(object_id: str) -> ResponseReturnValue:
    service.delete_calendar(calendar=queries.get_calendar(project=g.project, object_id=object_id))
    return Response(b"", status=200, content_type="application/json")


def _documents(rows: list[Any]) -> list[str]:
    return [row[1] for row in rows]  # (id, document): by position, a lookup by name costs ten times more


def _validate_requested() -> bool:
    """The ``?validate=true`` extension: check credentials with the provider before storing them."""
    return request.args.get("validate", "").lower() in ("true", "1")


def _choice(name: str, allowed: Sequence[str]) -> str | None:
    """An optional enumerated filter. :raises BadQuery: a value outside *allowed*."""
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise BadQuery(f"Invalid {name}. Allowed values: {', '.join(allowed)}")
    return value

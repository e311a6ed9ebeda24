"""The calendar events endpoints (read-only; events come from sync)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from webapp.api import pagination
from webapp.api.blueprint import bp
from webapp.errors import BadQuery
from webapp.events import queries
from webapp.events.queries import ORDERINGS, EventFilters

EVENTS_PAGE_SIZE = 100

# The date-times the filters take, declared once for the parser and the OpenAPI document: RFC 3339
# with an offset (or "Z"), or without one (read as UTC). Years 0002-9998, so that no offset takes a
# time out of what both databases store once in UTC. ASCII digits only ([0-9], not \d).
_YEAR = "(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])"
_TIME = "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATETIME_WITH_OFFSET = f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]){_TIME}{_OFFSET}$"
# Without an offset: days written per month, so that every value the pattern allows exists
# (February stops at 28; a 29th without an offset is read when it exists but not documented).
NAIVE_DATETIME = (
    f"^{_YEAR}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    f"|02-(0[1-9]|1[0-9]|2[0-8])){_TIME}$"
)
_DATETIME = re.compile(f"{DATETIME_WITH_OFFSET[:-1]}?$")
_EXAMPLES = {
    "updated_at_gte": "2025-01-13T10:30:00Z",
    "start_time_gte": "2025-01-13T10:30:00Z",
    "end_time_lte": "2025-01-13T18:00:00Z",
}


@bp.get("/calendar_events")
def list_calendar_events() -> ResponseReturnValue:
    filters = _filters()
    page = queries.list_events(
        project=g.project,
        filters=filters,
        cursor=pagination.decode_cursor(request.args.get("cursor"), kind=datetime),
        page_size=pagination.page_size(EVENTS_PAGE_SIZE),
    )
    return pagination.raw_page_response(page, queries.api_texts)


@bp.get("/calendar_events/<object_id>")
def get_calendar_event(object_id: str) -> ResponseReturnValue:
    event = queries.get_event(project=g.project, object_id=object_id)
    return Response(queries.api_texts([event])[0], mimetype="application/json")


def _filters() -> EventFilters:
    """Query parameters in the contract's order, each with its exact error message."""
    args = request.args
    updated = args.get("updated_at_gte", args.get("updated_after"))
    filters = EventFilters(
        calendar_id=args.get("calendar_id"),
        calendar_deduplication_key=args.get("calendar_deduplication_key"),
        updated_at_gte=_datetime("updated_at_gte", updated),
        event_id=args.get("event_id"),
        start_time_gte=_datetime("start_time_gte", args.get("start_time_gte")),
        end_time_lte=_datetime("end_time_lte", args.get("end_time_lte")),
        ordering=args.get("ordering", "-updated_at"),
        is_deleted=_boolean("is_deleted", args.get("is_deleted")),
    )
    if filters.ordering not in ORDERINGS:
        raise BadQuery(f"Invalid ordering. Allowed values: {', '.join(ORDERINGS)}")
    return filters


def _datetime(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    value = value.replace(" ", "+")  # an unencoded "+" in a query string arrives as a space
    try:
        if not _DATETIME.fullmatch(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC, as stored; a time that falls outside years 1-9999 there (OverflowError) exists in
        # neither database, so it is refused like a malformed one.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadQuery(f"Invalid {name} format. Use ISO 8601 format (e.g., {_EXAMPLES[name]})") from None


def _boolean(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadQuery(f"Invalid {name}. Use true or false.")

"""Reads of calendar events, always scoped to one project."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from webapp.db import autocommit
from webapp.db.keyset import Cursor, HeldTo, KeysetQuery, Page, keyset_query, read_page
from webapp.errors import NotFound
from webapp.events.documents import api_document
from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent, ProjectScope
from webapp.models.ids import is_object_id, storable

ORDERINGS = {
    "-updated_at": (CalendarEvent.updated_at, True),
    "updated_at": (CalendarEvent.updated_at, False),
    "start_time": (CalendarEvent.start_time, False),
    "-start_time": (CalendarEvent.start_time, True),
    "end_time": (CalendarEvent.end_time, False),
    "-end_time": (CalendarEvent.end_time, True),
    "created_at": (CalendarEvent.created_at, False),
    "-created_at": (CalendarEvent.created_at, True),
}


@dataclass(frozen=True)
class EventFilters:
    calendar_id: str | None = None
    calendar_deduplication_key: str | None = None
    updated_at_gte: datetime | None = None
    event_id: str | None = None
    start_time_gte: datetime | None = None
    end_time_lte: datetime | None = None
    is_deleted: bool | None = None
    ordering: str = "-updated_at"


def list_events(*, project: ProjectScope, filters: EventFilters, cursor: Cursor | None, page_size: int) -> Page[Any]:
    """One page in the requested order, walking the index that matches it."""
    texts = (filters.calendar_id, filters.calendar_deduplication_key, filters.event_id)
    if not all(storable(value) for value in texts):
        return Page([], None, None)  # nothing stored can match a NUL character
    given = {name: value for name, value in vars(filters).items() if name != "ordering" and value is not None}
    statements = _list_statements(frozenset(given), filters.ordering)
    return read_page(statements, {"project_id": project.id, **given}, cursor=cursor, page_size=page_size)


# Each filter's condition, on a bound parameter of the filter's name.
_CALENDARS = select(Calendar.id).where(Calendar.project_id == bindparam("project_id"))
# One calendar's events lead their ordering with calendar_id, held to the one calendar (``HeldTo``):
# only the per-calendar index then fits, whatever the planner guesses about the project's rows.
_ONE_CALENDAR = ("calendar_id", "calendar_deduplication_key")
_CONDITIONS: dict[str, Any] = {
    "calendar_id": HeldTo(
        CalendarEvent.calendar_id, _CALENDARS.where(Calendar.object_id == bindparam("calendar_id")).scalar_subquery()
    ),
    "calendar_deduplication_key": HeldTo(
        CalendarEvent.calendar_id,
        _CALENDARS.where(Calendar.deduplication_key == bindparam("calendar_deduplication_key")).scalar_subquery(),
    ),
    "updated_at_gte": CalendarEvent.updated_at >= bindparam("updated_at_gte"),
    "event_id": CalendarEvent.object_id == bindparam("event_id"),
    "start_time_gte": CalendarEvent.start_time >= bindparam("start_time_gte"),
    "end_time_lte": CalendarEvent.end_time <= bindparam("end_time_lte"),
    "is_deleted": CalendarEvent.is_deleted == bindparam("is_deleted"),
}


@functools.lru_cache(maxsize=256)
def _list_statements(filters: frozenset[str], ordering: str) -> KeysetQuery:
    """The list's statements for one combination of filters and ordering, built on first use."""
    sort, descending = ORDERINGS[ordering]
    # Plain rows of the stored API document and what the cursor needs: nothing is decoded per row.
    query = select(CalendarEvent.id, sort, CalendarEvent.api_json).where(
        CalendarEvent.project_id == bindparam("project_id"), *(_CONDITIONS[name] for name in sorted(filters))
    )
    leading = (CalendarEvent.calendar_id,) if filters & set(_ONE_CALENDAR) else ()
    return keyset_query(query, sort=sort, id_column=CalendarEvent.id, descending=descending, leading=leading)


def api_texts(rows: list[Any]) -> list[str]:
    """The rows' API documents as JSON text; rows written before documents were stored are built
    here, all in one query.

    Rows hold the event's id first and its stored document last, and are read by position: looking
    a column up by name on a row costs ten times as much, more than the rest of a page's work here.
    """
    texts: list[str | None] = [row[-1] for row in rows]
    if None not in texts:
        return texts  # type: ignore[return-value]
    missing = [row[0] for row, text in zip(rows, texts, strict=True) if text is None]
    query = (
        select(CalendarEvent, Calendar.object_id)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .where(CalendarEvent.id.in_(missing))
    )
    built = {
        event.id: json.dumps(api_document(event, calendar_object_id), separators=(",", ":"))
        for event, calendar_object_id in db.session.execute(query)
    }
    return [text if text is not None else built[row[0]] for row, text in zip(rows, texts, strict=True)]


# Built once: constructing a statement costs more CPU than running this indexed lookup.
_EVENT_DOCUMENT = select(CalendarEvent.id, CalendarEvent.api_json).where(
    CalendarEvent.object_id == bindparam("object_id"), CalendarEvent.project_id == bindparam("project_id")
)


def get_event(*, project: ProjectScope, object_id: str) -> Any:
    """The event's row for ``api_texts``. :raises NotFound: unknown id, or one of another project."""
    row = (
        autocommit.first(_EVENT_DOCUMENT, {"object_id": object_id, "project_id": project.id})
        if is_object_id(object_id, "evt_")
        else None
    )
    if row is None:
        raise NotFound("Calendar event not found")
    return row

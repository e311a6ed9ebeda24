"""Reads of calendar events, always scoped to one project."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.keyset import Cursor, Page, keyset_page
from webapp.models import Calendar, CalendarEvent, Project
from webapp.models.event import api_document
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


def list_events(*, project: Project, filters: EventFilters, cursor: Cursor | None, page_size: int) -> Page[Any]:
    """One page in the requested order, walking the index that matches it."""
    texts = (filters.calendar_id, filters.calendar_deduplication_key, filters.event_id)
    if not all(storable(value) for value in texts):
        return Page([], None, None)  # nothing stored can match a NUL character
    sort, descending = ORDERINGS[filters.ordering]
    # Plain rows of the stored API document and what the cursor needs: nothing is decoded per row.
    query = select(CalendarEvent.id, sort, CalendarEvent.api_json).where(CalendarEvent.project_id == project.id)
    calendars = select(Calendar.id).where(Calendar.project_id == project.id)
    if filters.calendar_id is not None:
        query = query.where(
            CalendarEvent.calendar_id == calendars.where(Calendar.object_id == filters.calendar_id).scalar_subquery()
        )
    if filters.calendar_deduplication_key is not None:
        keyed = calendars.where(Calendar.deduplication_key == filters.calendar_deduplication_key)
        query = query.where(CalendarEvent.calendar_id == keyed.scalar_subquery())
    if filters.updated_at_gte is not None:
        query = query.where(CalendarEvent.updated_at >= filters.updated_at_gte)
    if filters.event_id is not None:
        query = query.where(CalendarEvent.object_id == filters.event_id)
    if filters.start_time_gte is not None:
        query = query.where(CalendarEvent.start_time >= filters.start_time_gte)
    if filters.end_time_lte is not None:
        query = query.where(CalendarEvent.end_time <= filters.end_time_lte)
    if filters.is_deleted is not None:
        query = query.where(CalendarEvent.is_deleted.is_(filters.is_deleted))
    return keyset_page(
        query,
        sort=sort,
        id_column=CalendarEvent.id,
        descending=descending,
        cursor=cursor,
        page_size=page_size,
        plain_rows=True,
    )


def api_texts(rows: list[Any]) -> list[str]:
    """The rows' API documents as JSON text; rows written before documents were stored are built
    here, all in one query."""
    missing = [row.id for row in rows if row.api_json is None]
    built: dict[int, str] = {}
    if missing:
        query = (
            select(CalendarEvent, Calendar.object_id)
            .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
            .where(CalendarEvent.id.in_(missing))
        )
        for event, calendar_object_id in db.session.execute(query):
            built[event.id] = json.dumps(api_document(event, calendar_object_id), separators=(",", ":"))
    return [row.api_json if row.api_json is not None else built[row.id] for row in rows]


def get_event(*, project: Project, object_id: str) -> CalendarEvent:
    """:raises NotFound: unknown id, or one of another project."""
    if not is_object_id(object_id, "evt_"):
        raise NotFound("Calendar event not found")
    event = db.session.scalar(
        select(CalendarEvent)
        .where(CalendarEvent.object_id == object_id, CalendarEvent.project_id == project.id)
        .options(load_only(CalendarEvent.id, CalendarEvent.api_json))
    )
    if event is None:
        raise NotFound("Calendar event not found")
    return event

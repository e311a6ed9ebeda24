"""Reads of calendars, always scoped to one project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.keyset import Cursor, Page, keyset_page
from webapp.models import Calendar, Project
from webapp.models.ids import is_object_id, storable

# What the API object shows. Reads for the API select just these, as plain rows: no ORM objects
# to build, and the ciphertexts, sync state and bookkeeping stay in the database.
API_COLUMNS = (
    Calendar.id,
    Calendar.object_id,
    Calendar.platform,
    Calendar.client_id,
    Calendar.platform_uuid,
    Calendar.state,
    Calendar.meta,
    Calendar.deduplication_key,
    Calendar.connection_failure_data,
    Calendar.created_at,
    Calendar.updated_at,
    Calendar.last_successful_sync_at,
    Calendar.last_attempted_sync_at,
)

# Built once: constructing a statement costs more CPU than running these indexed lookups.
_BY_PUBLIC_ID = (Calendar.object_id == bindparam("object_id"), Calendar.project_id == bindparam("project_id"))
_CALENDAR = select(Calendar).where(*_BY_PUBLIC_ID)
_CALENDAR_ROW = select(*API_COLUMNS).where(*_BY_PUBLIC_ID)


def get_calendar(*, project: Project, object_id: str) -> Calendar:
    """The calendar, to change it. :raises NotFound: unknown id, or one of another project."""
    calendar = db.session.scalar(_CALENDAR, _params(project, object_id)) if is_object_id(object_id, "cal_") else None
    if calendar is None:
        raise NotFound("Calendar not found")
    return calendar


def get_calendar_row(*, project: Project, object_id: str) -> Any:
    """The API's columns of a calendar, to show it. :raises NotFound: as ``get_calendar``."""
    row = (
        db.session.execute(_CALENDAR_ROW, _params(project, object_id)).first()
        if is_object_id(object_id, "cal_")
        else None
    )
    if row is None:
        raise NotFound("Calendar not found")
    return row


def _params(project: Project, object_id: str) -> dict[str, Any]:
    return {"object_id": object_id, "project_id": project.id}


def list_calendars(
    *,
    project: Project,
    cursor: Cursor | None,
    page_size: int,
    deduplication_key: str | None = None,
    state: str | None = None,
    platform: str | None = None,
) -> Page[Any]:
    """One page of rows, newest first, walking the (project_id, id) index: cost does not grow with the table."""
    if not storable(deduplication_key):
        return Page([], None, None)
    query = select(*API_COLUMNS).where(Calendar.project_id == project.id)
    if deduplication_key is not None:
        query = query.where(Calendar.deduplication_key == deduplication_key)
    if state is not None:
        query = query.where(Calendar.state == state)
    if platform is not None:
        query = query.where(Calendar.platform == platform)
    return keyset_page(
        query,
        sort=Calendar.id,
        id_column=Calendar.id,
        descending=True,
        cursor=cursor,
        page_size=page_size,
        plain_rows=True,
    )

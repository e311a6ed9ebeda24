"""Reads of calendars, always scoped to one project."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import load_only

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.keyset import Cursor, Page, keyset_page
from webapp.models import Calendar, Project
from webapp.models.ids import is_object_id, storable

_CALENDAR_BY_ID = select(Calendar).where(
    Calendar.object_id == bindparam("object_id"), Calendar.project_id == bindparam("project_id")
)


def get_calendar(*, project: Project, object_id: str) -> Calendar:
    """:raises NotFound: unknown id, or one of another project."""
    if not is_object_id(object_id, "cal_"):
        raise NotFound("Calendar not found")  # no query for what cannot exist
    calendar = db.session.scalar(_CALENDAR_BY_ID, {"object_id": object_id, "project_id": project.id})
    if calendar is None:
        raise NotFound("Calendar not found")
    return calendar


# What the API object shows: lists leave ciphertexts, sync state and bookkeeping in the database.
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


def list_calendars(
    *,
    project: Project,
    cursor: Cursor | None,
    page_size: int,
    deduplication_key: str | None = None,
    state: str | None = None,
    platform: str | None = None,
) -> Page[Calendar]:
    """One page, newest first, walking the (project_id, id) index: cost does not grow with the table."""
    if not storable(deduplication_key):
        return Page([], None, None)
    query = select(Calendar).where(Calendar.project_id == project.id).options(load_only(*API_COLUMNS))
    if deduplication_key is not None:
        query = query.where(Calendar.deduplication_key == deduplication_key)
    if state is not None:
        query = query.where(Calendar.state == state)
    if platform is not None:
        query = query.where(Calendar.platform == platform)
    return keyset_page(
        query, sort=Calendar.id, id_column=Calendar.id, descending=True, cursor=cursor, page_size=page_size
    )

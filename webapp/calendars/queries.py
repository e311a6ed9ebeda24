"""Reads of calendars, always scoped to one project."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, select

from webapp.api.objects import CALENDAR
from webapp.db import autocommit
from webapp.db.keyset import Cursor, HeldTo, KeysetQuery, Page, keyset_query, read_page
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import Calendar, ProjectScope
from webapp.models.ids import is_object_id, storable

# API reads select the row's id (for cursors) and its document, as plain rows (webapp.db.autocommit).
# The document is the API's calendar object (``webapp.api.objects.CALENDAR``), rendered by the database.
DOCUMENT_COLUMNS = (Calendar.id, CALENDAR.document().label("document"))

# Built once: constructing a statement costs more CPU than running these indexed lookups.
_BY_PUBLIC_ID = (Calendar.object_id == bindparam("object_id"), Calendar.project_id == bindparam("project_id"))
_CALENDAR = select(Calendar).where(*_BY_PUBLIC_ID)
_CALENDAR_DOCUMENT = select(*DOCUMENT_COLUMNS).where(*_BY_PUBLIC_ID)


def get_calendar(*, project: ProjectScope, object_id: str) -> Calendar:
    """The calendar, to change it. :raises NotFound: unknown id, or one of another project."""
    calendar = db.session.scalar(_CALENDAR, _params(project, object_id)) if is_object_id(object_id, "cal_") else None
    if calendar is None:
        raise NotFound("Calendar not found")
    return calendar


def get_calendar_document(*, project: ProjectScope, object_id: str) -> str:
    """The calendar's API object as JSON text, to show it. :raises NotFound: as ``get_calendar``."""
    row = autocommit.first(_CALENDAR_DOCUMENT, _params(project, object_id)) if is_object_id(object_id, "cal_") else None
    if row is None:
        raise NotFound("Calendar not found")
    return str(row.document)


def _params(project: ProjectScope, object_id: str) -> dict[str, Any]:
    return {"object_id": object_id, "project_id": project.id}


def list_calendars(
    *,
    project: ProjectScope,
    cursor: Cursor | None,
    page_size: int,
    deduplication_key: str | None = None,
    state: str | None = None,
    platform: str | None = None,
) -> Page[Any]:
    """One page of rows (``id``, ``document``), newest first, walking the (project_id, id) index:
    cost does not grow with the table."""
    if not storable(deduplication_key):
        return Page([], None, None)
    filters = {"deduplication_key": deduplication_key, "state": state, "platform": platform}
    given = {name: value for name, value in filters.items() if value is not None}
    statements = _list_statements(frozenset(given), page_size)
    return read_page(statements, {"project_id": project.id, **given}, cursor=cursor, page_size=page_size)


@functools.lru_cache(maxsize=128)
def _list_statements(filters: frozenset[str], page_size: int) -> KeysetQuery:
    """The list's statements for one combination of filters and page size, built on first use."""
    if "deduplication_key" in filters:  # one row at most, found through the unique index
        query = select(*DOCUMENT_COLUMNS).where(Calendar.project_id == bindparam("project_id"))
        leading: tuple[Any, ...] = ()
    else:
        # Only the (project_id, id) index yields this order: walking the primary key backwards
        # instead would skip every newer row of other projects on each page.
        query = select(*DOCUMENT_COLUMNS).where(HeldTo(Calendar.project_id, "project_id"))
        leading = (Calendar.project_id,)
    for name in sorted(filters):
        query = query.where(getattr(Calendar, name) == bindparam(name))
    return keyset_query(
        query, sort=Calendar.id, id_column=Calendar.id, descending=True, leading=leading, page_size=page_size
    )

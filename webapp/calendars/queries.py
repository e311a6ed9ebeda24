"""Reads of calendars, always scoped to one project."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import Calendar, Project


def get_calendar(*, project: Project, object_id: str) -> Calendar:
    """:raises NotFound: unknown id, or one of another project."""
    calendar = db.session.scalar(
        select(Calendar).where(Calendar.object_id == object_id, Calendar.project_id == project.id)
    )
    if calendar is None:
        raise NotFound("Calendar not found")
    return calendar


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order: rows older (``reverse=False``) or newer than ``position``."""

    position: int
    reverse: bool = False


@dataclass(frozen=True)
class Page:
    items: list[Calendar]
    next: Cursor | None
    previous: Cursor | None


def list_calendars(
    *,
    project: Project,
    cursor: Cursor | None,
    page_size: int,
    deduplication_key: str | None = None,
    state: str | None = None,
    platform: str | None = None,
) -> Page:
    """One page, newest first, walking the (project_id, id) index: cost does not grow with the table."""
    query = select(Calendar).where(Calendar.project_id == project.id)
    if deduplication_key is not None:
        query = query.where(Calendar.deduplication_key == deduplication_key)
    if state is not None:
        query = query.where(Calendar.state == state)
    if platform is not None:
        query = query.where(Calendar.platform == platform)
    if cursor is not None and cursor.reverse:
        query = query.where(Calendar.id > cursor.position).order_by(Calendar.id.asc())
    else:
        if cursor is not None:
            query = query.where(Calendar.id < cursor.position)
        query = query.order_by(Calendar.id.desc())
    rows = list(db.session.scalars(query.limit(page_size + 1)))
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if cursor is not None and cursor.reverse:
        rows.reverse()
        previous = Cursor(rows[0].id, reverse=True) if has_more and rows else None
        following = Cursor(rows[-1].id) if rows else None
        return Page(rows, following, previous)
    following = Cursor(rows[-1].id) if has_more else None
    previous = Cursor(rows[0].id, reverse=True) if cursor is not None and rows else None
    return Page(rows, following, previous)

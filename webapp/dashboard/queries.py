"""Reads for the dashboard, always scoped to a project the admin belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select

from webapp.db import keyset
from webapp.db.keyset import Cursor, Page, keyset_page
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import (
    AdminUser,
    ApiKey,
    Calendar,
    CalendarEvent,
    CalendarState,
    CalendarStateChange,
    ConnectRedirectOrigin,
    OAuthApp,
    Platform,
    Project,
    ProjectMembership,
    SyncAttempt,
    WebhookEndpoint,
)
from webapp.projects.scoped import one_of_project

PAGE_SIZE = 25
SORTS = ("-created", "created", "-last_sync", "last_sync")
UNKNOWN_CODE = "unknown_error"


# --- projects -------------------------------------------------------------------------------------


def projects_of(admin: AdminUser) -> list[Project]:
    """The admin's projects, oldest first."""
    return list(
        db.session.scalars(
            select(Project)
            .join(ProjectMembership, ProjectMembership.project_id == Project.id)
            .where(ProjectMembership.admin_id == admin.id)
            .order_by(Project.id)
        )
    )


def project_for(admin: AdminUser, object_id: str) -> Project:
    """:raises NotFound: unknown project, or one the admin is not a member of."""
    project = db.session.scalar(
        select(Project)
        .join(ProjectMembership, ProjectMembership.project_id == Project.id)
        .where(ProjectMembership.admin_id == admin.id, Project.object_id == object_id)
    )
    if project is None:
        raise NotFound("Project not found")
    return project


def calendar_of(project: Project, object_id: str) -> Calendar:
    """:raises NotFound: unknown calendar, or one of another project."""
    return one_of_project(Calendar, project=project, object_id=object_id, not_found="Calendar not found", prefix="cal_")


# --- overview -------------------------------------------------------------------------------------


def _stale(cutoff: datetime) -> ColumnElement[bool]:
    """Connected, and no successful sync since *cutoff* (never synced: created before it)."""
    return and_(
        Calendar.state == CalendarState.CONNECTED,
        or_(
            Calendar.last_successful_sync_at < cutoff,
            and_(Calendar.last_successful_sync_at.is_(None), Calendar.created_at < cutoff),
        ),
    )


@dataclass(frozen=True)
class PlatformCounts:
    platform: str
    connected: int
    disconnected: int


@dataclass(frozen=True)
class Overview:
    platforms: list[PlatformCounts]
    connected: int
    disconnected: int
    stale: int
    latest_failures: list[tuple[SyncAttempt, Calendar]]


def overview(project: Project, *, now: datetime, stale_hours: int) -> Overview:
    """Counts by platform and state, the stale count, and the latest failed sync attempts."""
    rows = db.session.execute(
        select(Calendar.platform, Calendar.state, func.count())
        .where(Calendar.project_id == project.id)
        .group_by(Calendar.platform, Calendar.state)
    ).all()
    counts: dict[tuple[str, str], int] = {(p, s): n for p, s, n in rows}
    platforms = list(Platform) + sorted({p for p, _ in counts} - set(Platform))
    per_platform = [
        PlatformCounts(
            p,
            counts.get((p, CalendarState.CONNECTED), 0),
            counts.get((p, CalendarState.DISCONNECTED), 0),
        )
        for p in platforms
    ]
    stale = db.session.scalar(
        select(func.count())
        .select_from(Calendar)
        .where(Calendar.project_id == project.id, _stale(now - timedelta(hours=stale_hours)))
    )
    failures = db.session.execute(
        select(SyncAttempt, Calendar)
        .join(Calendar, Calendar.id == SyncAttempt.calendar_id)
        .where(Calendar.project_id == project.id, SyncAttempt.outcome != "success")
        .order_by(SyncAttempt.started_at.desc(), SyncAttempt.id.desc())
        .limit(10)
    ).all()
    return Overview(
        platforms=per_platform,
        connected=sum(c.connected for c in per_platform),
        disconnected=sum(c.disconnected for c in per_platform),
        stale=stale or 0,
        latest_failures=[(a, c) for a, c in failures],
    )


# --- calendars list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarFilters:
    state: CalendarState | None = None
    platform: Platform | None = None
    stale: bool = False
    q: str | None = None
    sort: str = "-created"


def decode_cursor(value: str | None) -> Cursor | None:
    """A cursor made by ``encode_cursor``; anything else means the first page."""
    if not value:
        return None
    try:
        return keyset.decode_cursor(value, kinds=(type(None), int, datetime))
    except ValueError:
        return None


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _metadata_value_matches(pattern: str) -> ColumnElement[bool]:
    """Any metadata *value* contains the term (keys are not searched).

    Only an object is expanded: metadata may be absent (JSON ``null``), and PostgreSQL's
    ``json_each_text`` fails on a scalar ("cannot deconstruct a scalar") instead of yielding nothing.
    """
    postgres = db.session.get_bind().dialect.name == "postgresql"
    kind = func.json_typeof(Calendar.meta) if postgres else func.json_type(Calendar.meta)
    document = case((kind == "object", Calendar.meta), else_=literal({}, Calendar.meta.type))
    name = "json_each_text" if postgres else "json_each"
    pairs = getattr(func, name)(document).table_valued("key", "value")
    return exists(select(literal(1)).select_from(pairs).where(pairs.c.value.ilike(pattern, escape="\\")))


def list_calendars(
    project: Project, filters: CalendarFilters, *, cursor: Cursor | None, now: datetime, stale_hours: int
) -> Page[Calendar]:
    """One page in the chosen order; keyset pagination, so no page reads the rows before it."""
    query = select(Calendar).where(Calendar.project_id == project.id)
    if filters.state:
        query = query.where(Calendar.state == filters.state)
    if filters.platform:
        query = query.where(Calendar.platform == filters.platform)
    if filters.stale:
        query = query.where(_stale(now - timedelta(hours=stale_hours)))
    if filters.q:  # never with a NUL character: webapp.guards refuses those first
        pattern = _like(filters.q.strip())
        query = query.where(
            or_(
                Calendar.deduplication_key.ilike(pattern, escape="\\"),
                Calendar.platform_uuid.ilike(pattern, escape="\\"),
                Calendar.object_id == filters.q.strip(),
                _metadata_value_matches(pattern),
            )
        )
    descending = filters.sort.startswith("-")
    if filters.sort.endswith("last_sync"):
        return _last_sync_page(query, descending=descending, cursor=cursor, page_size=PAGE_SIZE)
    # Creation order is id order: a walk of the (project_id, id) index.
    return keyset_page(
        query, sort=Calendar.id, id_column=Calendar.id, descending=descending, cursor=cursor, page_size=PAGE_SIZE
    )


def _after_last_sync(cursor: Cursor, descending: bool) -> ColumnElement[bool]:
    """Rows after *cursor* in (last sync, id) order, where "never synced" sorts below every time."""
    col, value, row_id = Calendar.last_successful_sync_at, cursor.value, cursor.id
    if not descending:
        if value is None:
            return or_(and_(col.is_(None), Calendar.id > row_id), col.is_not(None))
        return and_(col.is_not(None), or_(col > value, and_(col == value, Calendar.id > row_id)))
    if value is None:
        return and_(col.is_(None), Calendar.id < row_id)
    return or_(col.is_(None), col < value, and_(col == value, Calendar.id < row_id))


def _last_sync_page(
    query: Select[tuple[Calendar]], *, descending: bool, cursor: Cursor | None, page_size: int
) -> Page[Calendar]:
    towards_end = cursor is None or not cursor.reverse
    read_descending = descending if towards_end else not descending
    if cursor is not None:
        query = query.where(_after_last_sync(cursor, read_descending))
    col = Calendar.last_successful_sync_at
    order: list[Any] = (
        [col.desc().nulls_last(), Calendar.id.desc()]
        if read_descending
        else [col.asc().nulls_first(), Calendar.id.asc()]
    )
    rows = list(db.session.scalars(query.order_by(*order).limit(page_size + 1)))
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not towards_end:
        rows.reverse()

    def at(row: Calendar, reverse: bool) -> Cursor:
        return Cursor(row.last_successful_sync_at, row.id, reverse)

    if towards_end:
        following = at(rows[-1], False) if has_more else None
        previous = at(rows[0], True) if cursor is not None and rows else None
    else:
        following = at(rows[-1], False) if rows else None
        previous = at(rows[0], True) if has_more and rows else None
    return Page(rows, following, previous)


# --- one calendar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarHistory:
    state_changes: list[CalendarStateChange]
    sync_attempts: list[SyncAttempt]
    events: list[CalendarEvent]
    more_events: bool


def history(calendar: Calendar, *, limit: int = 20, events: int = PAGE_SIZE) -> CalendarHistory:
    """The latest state changes and sync attempts, and the first page of events by start time."""
    changes = db.session.scalars(
        select(CalendarStateChange)
        .where(CalendarStateChange.calendar_id == calendar.id)
        .order_by(CalendarStateChange.created_at.desc(), CalendarStateChange.id.desc())
        .limit(limit)
    )
    attempts = db.session.scalars(
        select(SyncAttempt)
        .where(SyncAttempt.calendar_id == calendar.id)
        .order_by(SyncAttempt.started_at.desc(), SyncAttempt.id.desc())
        .limit(limit)
    )
    rows = list(
        db.session.scalars(
            select(CalendarEvent)
            .where(CalendarEvent.calendar_id == calendar.id)
            .order_by(CalendarEvent.start_time, CalendarEvent.id)
            .limit(events + 1)
        )
    )
    return CalendarHistory(list(changes), list(attempts), rows[:events], len(rows) > events)


# --- failures -------------------------------------------------------------------------------------

_CODE = func.coalesce(Calendar.connection_failure_data["code"].as_string(), UNKNOWN_CODE)


def failure_groups(project: Project) -> list[tuple[str, int]]:
    """(code, count) of the project's disconnected calendars, largest group first."""
    rows = db.session.execute(
        select(_CODE.label("code"), func.count())
        .where(Calendar.project_id == project.id, Calendar.state == CalendarState.DISCONNECTED)
        .group_by(_CODE)
        .order_by(func.count().desc(), _CODE)
    ).all()
    return [(code, count) for code, count in rows]


def failure_platforms(project: Project) -> dict[str, list[str]]:
    """For each failure code of the project's disconnected calendars, the platforms it occurs on."""
    rows = db.session.execute(
        select(_CODE.label("code"), Calendar.platform)
        .where(Calendar.project_id == project.id, Calendar.state == CalendarState.DISCONNECTED)
        .group_by(_CODE, Calendar.platform)
        .order_by(_CODE, Calendar.platform)
    ).all()
    platforms: dict[str, list[str]] = {}
    for code, platform in rows:
        platforms.setdefault(code, []).append(platform)
    return platforms


def disconnected_with_code(project: Project, code: str, *, after_id: int = 0, limit: int = 200) -> list[Calendar]:
    """A batch of the project's disconnected calendars whose failure code is *code*, in id order."""
    return list(
        db.session.scalars(
            select(Calendar)
            .where(
                Calendar.project_id == project.id,
                Calendar.state == CalendarState.DISCONNECTED,
                _CODE == code,
                Calendar.id > after_id,
            )
            .order_by(Calendar.id)
            .limit(limit)
        )
    )


# --- settings -------------------------------------------------------------------------------------


def api_keys(project: Project) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.id)))


def api_key_of(project: Project, object_id: str) -> ApiKey:
    """:raises NotFound: unknown key, or one of another project."""
    return one_of_project(ApiKey, project=project, object_id=object_id, not_found="API key not found")


def oauth_apps(project: Project) -> dict[str, OAuthApp]:
    rows = db.session.scalars(select(OAuthApp).where(OAuthApp.project_id == project.id))
    return {row.platform: row for row in rows}


def redirect_origins(project: Project) -> list[ConnectRedirectOrigin]:
    return list(
        db.session.scalars(
            select(ConnectRedirectOrigin)
            .where(ConnectRedirectOrigin.project_id == project.id)
            .order_by(ConnectRedirectOrigin.origin)
        )
    )


def redirect_origin_of(project: Project, origin_id: int) -> ConnectRedirectOrigin:
    """:raises NotFound: unknown origin, or one of another project."""
    row = db.session.scalar(
        select(ConnectRedirectOrigin).where(
            ConnectRedirectOrigin.id == origin_id, ConnectRedirectOrigin.project_id == project.id
        )
    )
    if row is None:
        raise NotFound("Redirect origin not found")
    return row


def webhook_endpoints(project: Project) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.project_id == project.id).order_by(WebhookEndpoint.id)
        )
    )


def webhook_endpoint_of(project: Project, object_id: str) -> WebhookEndpoint:
    """:raises NotFound: unknown endpoint, or one of another project."""
    return one_of_project(WebhookEndpoint, project=project, object_id=object_id, not_found="Webhook endpoint not found")

"""Calendar events as synced from the provider, plus the history the dashboard and webhooks read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Connection, ForeignKey, Index, String, Text, UniqueConstraint, event, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship
from sqlalchemy.orm.util import identity_key

from webapp.extensions import Model, utcnow
from webapp.models.calendar import CalendarState
from webapp.models.ids import new_object_id
from webapp.models.types import str_enum

if TYPE_CHECKING:
    from webapp.models.calendar import Calendar


class CalendarEvent(Model):
    """One event instance; upserted by (calendar, provider event id), never hard-deleted by sync."""

    __tablename__ = "calendar_event"
    __table_args__ = (
        UniqueConstraint("calendar_id", "platform_uuid"),
        # One index per list ordering, so every page is an index walk (project-wide and per calendar).
        Index("ix_calendar_event_project_updated", "project_id", "updated_at", "id"),
        Index("ix_calendar_event_project_start", "project_id", "start_time", "id"),
        Index("ix_calendar_event_project_end", "project_id", "end_time", "id"),
        Index("ix_calendar_event_project_created", "project_id", "created_at", "id"),
        Index("ix_calendar_event_calendar_updated", "calendar_id", "updated_at", "id"),
        Index("ix_calendar_event_calendar_start", "calendar_id", "start_time", "id"),
        Index("ix_calendar_event_calendar_end", "calendar_id", "end_time", "id"),
        Index("ix_calendar_event_calendar_created", "calendar_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("evt_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    platform_uuid: Mapped[str] = mapped_column(String(1024))
    ical_uid: Mapped[str | None] = mapped_column(String(1024))
    name: Mapped[str | None] = mapped_column(Text)
    meeting_url: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime]
    end_time: Mapped[datetime]
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Digest of the fields above; updated_at moves only when it changes.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The API object, serialized whenever the row is written: lists send it as it is, without
    # decoding and re-encoding provider payloads (kept current by the flush hooks below).
    api_json: Mapped[str | None] = mapped_column(Text)

    # The API shows the calendar's public id with every event.
    calendar: Mapped[Calendar] = relationship(lazy="select", viewonly=True)


class SyncAttempt(Model):
    """One run of the sync use case for one calendar."""

    __tablename__ = "sync_attempt"
    __table_args__ = (Index("ix_sync_attempt_calendar_started", "calendar_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure
    full_resync: Mapped[bool] = mapped_column(Boolean, default=False)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    deleted_count: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)


class CalendarStateChange(Model):
    """A transition of ``calendar.state`` (both directions), with the failure code that caused it."""

    __tablename__ = "calendar_state_change"
    __table_args__ = (Index("ix_calendar_state_change_calendar_at", "calendar_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    from_state: Mapped[CalendarState] = mapped_column(str_enum(CalendarState))
    to_state: Mapped[CalendarState] = mapped_column(str_enum(CalendarState))
    code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and ``Z``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def api_document(event: CalendarEvent, calendar_object_id: str) -> dict[str, Any]:
    """The calendar event object of the API contract, in its key order."""
    return {
        "id": event.object_id,
        "calendar_id": calendar_object_id,
        "platform_uuid": event.platform_uuid,
        "meeting_url": event.meeting_url,
        "start_time": iso(event.start_time),
        "end_time": iso(event.end_time),
        "is_deleted": event.is_deleted,
        "attendees": event.attendees,
        "ical_uid": event.ical_uid,
        "name": event.name,
        "raw": event.raw,
        "bots": [],  # Attendee clients read it; this service schedules no bots
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


@event.listens_for(CalendarEvent, "before_insert")
@event.listens_for(CalendarEvent, "before_update")
def _serialize_for_the_api(mapper: Any, connection: Connection, target: CalendarEvent) -> None:
    # Column defaults are applied after this hook, so the ones the document shows are set here.
    now = utcnow()
    target.object_id = target.object_id or new_object_id("evt_")
    target.created_at = target.created_at or now
    target.updated_at = target.updated_at or now
    target.is_deleted = bool(target.is_deleted)
    target.attendees = target.attendees if target.attendees is not None else []
    target.raw = target.raw if target.raw is not None else {}
    target.api_json = json.dumps(api_document(target, _calendar_object_id(connection, target)), separators=(",", ":"))


def _calendar_object_id(connection: Connection, target: CalendarEvent) -> str:
    """From the session when the calendar is loaded there (a sync), else one small query."""
    from webapp.models.calendar import Calendar

    session = object_session(target)
    loaded = session.identity_map.get(identity_key(Calendar, target.calendar_id)) if session else None
    if loaded is not None:
        return str(loaded.object_id)
    return str(connection.execute(select(Calendar.object_id).where(Calendar.id == target.calendar_id)).scalar_one())
